#!/usr/bin/env node
// Allocator benchmark: vmheap vs AssemblyScript's TLSF (wasm) vs @thi.ng/malloc.
//
//   npm run bench                      # builds vmheap (dist/) first, then runs this script
//   node bench/run.mjs [--quick] [--json out.json] [--only vmheap,tlsf,thing] [--workloads pairs,churn,...]
//
// Every allocator replays the identical, pre-generated operation stream of each workload
// (seeded PRNG, typed arrays, generation is never timed). Each workload runs in its own child
// process (unless --inproc); in it, every allocator gets an untimed checked replay on a fresh
// instance (correctness checks + footprint), then a warm-up on another fresh instance, then
// timing rounds interleaved across the allocators; the best sample is reported.
// See docs/benchmarks.md.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { genChurn, mulberry32, optionValue } from "./common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");
const TRACE_DIR = path.resolve(REPO, "../shared/traces/wee_alloc");
const TLSF_SRC = path.join(HERE, "tlsf/assembly/index.ts");
const TLSF_WASM = path.join(HERE, "tlsf/build/tlsf.wasm");

// ───────────────────────────── command line ─────────────────────────────

function parseArgs(argv) {
  const o = { quick: false, json: null, only: null, workloads: null, inproc: false, worker: null, out: null, dist: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const [v, last] = optionValue(argv, i, die);
      i = last;
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--json" || a.startsWith("--json=")) o.json = val();
    else if (a === "--only" || a.startsWith("--only=")) o.only = val().split(",").filter(Boolean);
    else if (a === "--workloads" || a.startsWith("--workloads=")) o.workloads = val().split(",").filter(Boolean);
    else if (a === "--inproc") o.inproc = true;
    else if (a === "--worker" || a.startsWith("--worker=")) o.worker = val(); // internal
    else if (a === "--out" || a.startsWith("--out=")) o.out = val(); // internal
    else if (a === "--dist" || a.startsWith("--dist=")) o.dist = val(); // internal: snapshot of dist/
    else if (a === "--help" || a === "-h") {
      console.log(
        "usage: node bench/run.mjs [--quick] [--json out.json] [--only vmheap,tlsf,thing]\n" +
          "                         [--workloads pairs,churn,churn-big,realloc-grow,traces,trace:<name>] [--inproc]\n" +
          "  --quick      short smoke run (fewer ops, shorter timings)\n" +
          "  --json FILE  also write the raw figures as JSON\n" +
          "  --inproc     run every workload in this process (default: one child process per workload)",
      );
      process.exit(0);
    } else die(`unknown argument: ${a}`);
  }
  return o;
}

function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const ARGS = parseArgs(process.argv.slice(2));
const QUICK = ARGS.quick;

// Timing parameters (milliseconds). A "sample" is one timed measurement; the best sample counts.
const CFG = QUICK
  ? {
      warmMs: 30, warmCapMs: 3000, targetMs: 30, samples: 2, maxSampleMs: 1000, sampleBudgetMs: 3000,
      traceWarmMs: 50, traceSampleMs: 30,
      validateCapMs: 1000, churnStream: 1 << 18, pairsStream: 1 << 14, growBuffers: 200,
    }
  : {
      warmMs: 300, warmCapMs: 20000, targetMs: 300, samples: 7, maxSampleMs: 2000, sampleBudgetMs: 15000,
      traceWarmMs: 300, traceSampleMs: 350,
      validateCapMs: 5000, churnStream: 1 << 22, pairsStream: 1 << 16, growBuffers: 1000,
    };

const now = () => performance.now();

// ───────────────────────────── workload generation ─────────────────────────────

const K_MALLOC = 0;
const K_FREE = 1;
const K_REALLOC = 2;

/** pairs: malloc(size) then free immediately; a cyclic stream of sizes 16..512. */
function genPairs(len) {
  const rnd = mulberry32(0x5eed0001);
  const size = new Int32Array(len);
  for (let i = 0; i < len; i++) size[i] = 16 + Math.floor(rnd() * 497);
  return { size };
}

/** Explicit op sequence (used by realloc-grow, traces and by validation of the streams). */
function makeSeq(cap) {
  return { n: 0, kind: new Uint8Array(cap), id: new Int32Array(cap), size: new Int32Array(cap) };
}
function pushOp(seq, k, id, size) {
  if (seq.n === seq.kind.length) {
    const cap = seq.n * 2;
    const grow = (a, C) => { const b = new C(cap); b.set(a); return b; };
    seq.kind = grow(seq.kind, Uint8Array);
    seq.id = grow(seq.id, Int32Array);
    seq.size = grow(seq.size, Int32Array);
  }
  seq.kind[seq.n] = k;
  seq.id[seq.n] = id;
  seq.size[seq.n] = size;
  seq.n++;
}

/**
 * realloc-grow: `buffers` blocks; each starts with malloc(16..256) and is grown by realloc
 * (new = old + max(16, floor(old * u)), u uniform in [0,1): factor 1..2, mean 1.5) up to
 * 64 KiB; the buffer to grow is picked at random among the unfinished ones, so growth is
 * interleaved. Then all are freed in random order. The pass is balanced and is repeated.
 */
function genReallocGrow(buffers) {
  const rnd = mulberry32(0x5eed0004);
  const MAX = 64 * 1024;
  const seq = makeSeq(1 << 15);
  const cur = new Int32Array(buffers);
  const open = Array.from({ length: buffers }, (_, i) => i);
  while (open.length > 0) {
    const k = Math.floor(rnd() * open.length);
    const b = open[k];
    if (cur[b] === 0) {
      cur[b] = 16 + Math.floor(rnd() * 241);
      pushOp(seq, K_MALLOC, b, cur[b]);
    } else {
      cur[b] = Math.min(MAX, cur[b] + Math.max(16, Math.floor(cur[b] * rnd())));
      pushOp(seq, K_REALLOC, b, cur[b]);
      if (cur[b] === MAX) {
        open[k] = open[open.length - 1];
        open.pop();
      }
    }
  }
  const order = Array.from({ length: buffers }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const b of order) pushOp(seq, K_FREE, b, 0);
  seq.ids = buffers;
  return seq;
}

/** Parses a malloc-lab style .rep trace. */
function parseTrace(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const numIds = Number(lines[1]);
  const numOps = Number(lines[2]);
  const seq = makeSeq(Math.max(16, numOps));
  for (let i = 4; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t === "" || t.startsWith("#")) continue;
    const [op, idS, bytesS] = t.split(/\s+/);
    const id = Number(idS);
    if (!(id >= 0 && id < numIds)) throw new Error(`${file}:${i + 1}: bad id ${idS}`);
    if (op === "a") pushOp(seq, K_MALLOC, id, Number(bytesS));
    else if (op === "r") pushOp(seq, K_REALLOC, id, Number(bytesS));
    else if (op === "f") pushOp(seq, K_FREE, id, 0);
    else throw new Error(`${file}:${i + 1}: unknown op ${op}`);
  }
  if (seq.n !== numOps) console.warn(`bench: ${path.basename(file)}: header says ${numOps} ops, found ${seq.n}`);
  seq.ids = numIds;
  // Peak live payload (sum of requested bytes of live blocks; realloc counts its new size).
  const live = new Float64Array(numIds);
  let cur = 0;
  let peak = 0;
  for (let i = 0; i < seq.n; i++) {
    const j = seq.id[i];
    if (seq.kind[i] === K_FREE) { cur -= live[j]; live[j] = 0; }
    else { cur += seq.size[i] - live[j]; live[j] = seq.size[i]; }
    if (cur > peak) peak = cur;
  }
  seq.peakLive = peak;
  seq.headerPeak = Number(lines[3]);
  return seq;
}

/** Explicit a/f sequence of the first `n` ops of a churn stream (for validation). */
function churnToSeq(ch, n) {
  const seq = makeSeq(n);
  const occ = new Uint8Array(ch.slots);
  for (let i = 0; i < n; i++) {
    const j = ch.slot[i % ch.slot.length];
    if (occ[j]) { pushOp(seq, K_FREE, j, 0); occ[j] = 0; }
    else { pushOp(seq, K_MALLOC, j, ch.size[i % ch.size.length]); occ[j] = 1; }
  }
  seq.ids = ch.slots;
  return seq;
}
function pairsToSeq(pr, n) {
  const seq = makeSeq(2 * n);
  for (let i = 0; i < n; i++) {
    pushOp(seq, K_MALLOC, 0, pr.size[i % pr.size.length]);
    pushOp(seq, K_FREE, 0, 0);
  }
  seq.ids = 1;
  return seq;
}

// ───────────────────────────── timed loops ─────────────────────────────
// Compiled with `new Function` separately for every allocator instance, so each loop's call
// sites see exactly one allocator (monomorphic) and no feedback is shared between allocators.

let loopSerial = 0;
function makeLoops(names) {
  const tag = `${names.label} #${++loopSerial}`;
  const M = names.malloc;
  const F = names.free;
  const R = names.realloc;
  const pairs = new Function("A", "size", "L", "start", "n", `"use strict"; /* pairs ${tag} */
    let fails = 0, i = start;
    for (let k = 0; k < n; k++) {
      const p = A.${M}(size[i]);
      if (p === 0) fails++; else A.${F}(p);
      if (++i === L) i = 0;
    }
    return fails;`);
  const churn = new Function("A", "slot", "size", "ptrs", "L", "start", "n", `"use strict"; /* churn ${tag} */
    let fails = 0, i = start;
    for (let k = 0; k < n; k++) {
      const j = slot[i];
      const p = ptrs[j];
      if (p !== 0) { A.${F}(p); ptrs[j] = 0; }
      else { const q = A.${M}(size[i]); if (q === 0) fails++; ptrs[j] = q; }
      if (++i === L) i = 0;
    }
    return fails;`);
  const replay = new Function("A", "kind", "id", "size", "ptrs", "from", "to", `"use strict"; /* replay ${tag} */
    let fails = 0;
    for (let i = from; i < to; i++) {
      const j = id[i];
      const k = kind[i];
      if (k === 0) {
        const p = A.${M}(size[i]);
        if (p === 0 && size[i] !== 0) fails++;
        ptrs[j] = p;
      } else if (k === 1) {
        const p = ptrs[j];
        if (p !== 0) { A.${F}(p); ptrs[j] = 0; }
      } else {
        const p = ptrs[j];
        const q = p === 0 ? A.${M}(size[i]) : A.${R}(p, size[i]);
        if (q === 0) { if (size[i] !== 0) fails++; } else ptrs[j] = q;
      }
    }
    return fails;`);
  const freeAll = new Function("A", "ptrs", `"use strict"; /* freeAll ${tag} */
    for (let j = 0; j < ptrs.length; j++) { const p = ptrs[j]; if (p !== 0) { A.${F}(p); ptrs[j] = 0; } }`);
  return { pairs, churn, replay, freeAll };
}

// ───────────────────────────── allocators ─────────────────────────────

/**
 * Each allocator: load() (may throw → skipped), create(kind) → instance
 * { A, names, footprint(), observe(), u8(), alignment, dispose() }.
 * `kind` is "trace" (defaults / footprint measurement) or "synthetic".
 */
const ALLOCATORS = [
  {
    key: "vmheap",
    label: "vmheap",
    async load() {
      const own = path.join(REPO, "dist");
      let mod;
      try {
        mod = await import(pathToFileURL(path.join(ARGS.dist ?? own, "index.js")).href);
      } catch (e) {
        if (!ARGS.dist) throw e;
        // the snapshot could not be imported from its temporary place: use dist/ itself
        console.error(`bench: cannot import the dist/ snapshot (${errText(e)}); using dist/ directly`);
        ARGS.dist = null;
        mod = await import(pathToFileURL(path.join(own, "index.js")).href);
      }
      if (typeof mod.Heap !== "function") throw new Error("dist/index.js does not export Heap");
      this.Heap = mod.Heap;
      this.version = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version;
      this.build = describeBuild();
    },
    create(kind) {
      const h = kind === "trace" ? new this.Heap() : new this.Heap({ maxBytes: 1 << 30 });
      return {
        A: h,
        names: { label: "vmheap", malloc: "malloc", free: "free", realloc: "realloc" },
        footprint: () => h.mallocMaxFootprint(),
        observe() {},
        u8: () => h.memory.u8,
        dispose() {},
      };
    },
  },
  {
    key: "tlsf",
    label: "AS TLSF",
    async load() {
      buildTlsf();
      this.module = new WebAssembly.Module(fs.readFileSync(TLSF_WASM));
      const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/assemblyscript/package.json"), "utf8"));
      this.version = pkg.version;
    },
    create() {
      let exportsRef = null;
      const readStr = (ptr) => {
        if (!ptr || !exportsRef) return "";
        const buf = exportsRef.memory.buffer;
        const len = new Uint32Array(buf, ptr - 4, 1)[0] >>> 1;
        return String.fromCharCode(...new Uint16Array(buf, ptr, len));
      };
      const instance = new WebAssembly.Instance(this.module, {
        env: {
          abort(msg, file, line, col) {
            throw new Error(`AssemblyScript abort: ${readStr(msg)} at ${readStr(file)}:${line}:${col}`);
          },
        },
      });
      const ex = instance.exports;
      exportsRef = ex;
      const initialBytes = ex.memory.buffer.byteLength;
      let u8 = new Uint8Array(ex.memory.buffer);
      return {
        A: ex,
        names: { label: "tlsf", malloc: "alloc", free: "free", realloc: "realloc" },
        // Memory never shrinks, so the current byteLength is the high-water mark.
        footprint: () => ex.memory.buffer.byteLength,
        initialBytes,
        observe() {},
        u8() {
          if (u8.buffer !== ex.memory.buffer || u8.length === 0) u8 = new Uint8Array(ex.memory.buffer);
          return u8;
        },
        dispose() {},
      };
    },
  },
  {
    key: "thing",
    label: "thi.ng",
    async load() {
      const mod = await import("@thi.ng/malloc");
      this.MemPool = mod.MemPool;
      this.version = JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@thi.ng/malloc/package.json"), "utf8")).version;
    },
    create(kind, poolBytes) {
      const pool = new this.MemPool({ size: poolBytes ?? 64 * 1024 * 1024 });
      let hw = pool.top;
      return {
        A: pool,
        names: { label: "thing", malloc: "malloc", free: "free", realloc: "realloc" },
        // High-water of pool.top: one past the highest byte ever handed out (addresses start
        // at 0 of the pool's ArrayBuffer, so this includes its ~40-byte state header).
        footprint: () => Math.max(hw, pool.top),
        observe() {
          const t = pool.top;
          if (t > hw) hw = t;
        },
        u8: () => pool.u8,
        dispose() { pool.release(); },
      };
    },
  },
];

/** Which vmheap build is measured: git commit (+ "dirty" if src/ has changes) and dist/index.js time. */
function describeBuild() {
  const git = (...a) => {
    const r = spawnSync("git", a, { cwd: REPO, encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const head = git("rev-parse", "--short", "HEAD");
  const dirty = git("status", "--porcelain", "--", "src");
  let built = null;
  try {
    built = fs.statSync(path.join(REPO, "dist/index.js")).mtime.toISOString();
  } catch {}
  return { commit: head ? `${head}${dirty ? " + uncommitted src changes" : ""}` : "unknown", distBuilt: built };
}

function buildTlsf() {
  let stale = !fs.existsSync(TLSF_WASM);
  if (!stale) stale = fs.statSync(TLSF_SRC).mtimeMs > fs.statSync(TLSF_WASM).mtimeMs;
  if (!stale) return;
  const asc = path.join(REPO, "node_modules/assemblyscript/bin/asc.js");
  if (!fs.existsSync(asc)) throw new Error("assemblyscript is not installed (node_modules/assemblyscript/bin/asc.js missing)");
  const args = [asc, path.relative(REPO, TLSF_SRC), "--runtime", "minimal", "-O3", "--outFile", path.relative(REPO, TLSF_WASM)];
  console.error(`bench: building TLSF module: node ${args.map((a) => path.relative(REPO, a) || a).join(" ")}`);
  const r = spawnSync(process.execPath, args, { cwd: REPO, stdio: "inherit" });
  if (r.status !== 0 || !fs.existsSync(TLSF_WASM)) throw new Error(`asc failed (exit ${r.status})`);
}

// ───────────────────────────── measurement driver ─────────────────────────────

/**
 * Warm-up and calibration. `unit(n)` runs n units and returns { ms (timed part), ops, fails }.
 * Warms up until at least `minWarmOps` ops (steady state) and `warmMs` ms have run, then sizes
 * a sample to ≈ CFG.targetMs. Gives up (status "timeout") if the warm-up needs more than
 * CFG.warmCapMs. For traces (`perUnit`) a sample is one replay, timed on its own.
 */
function warmUp(unit, { minWarmOps = 0, perUnit = false, warmMs = CFG.warmMs } = {}) {
  let warmOps = 0;
  let fails = 0;
  let n = 1;
  let lastRate = 0; // ops per ms of the last warm-up chunk
  let lastMsPerUnit = Infinity;
  const t0 = now();
  for (;;) {
    const r = unit(n);
    warmOps += r.ops;
    fails += r.fails;
    if (r.ms > 0) { lastRate = r.ops / r.ms; lastMsPerUnit = r.ms / n; }
    const el = now() - t0;
    if (warmOps >= minWarmOps && el >= warmMs) break;
    if (el >= CFG.warmCapMs) {
      if (warmOps < minWarmOps) {
        const why = `warm-up to steady state (${minWarmOps} ops) not finished in ${(el / 1000).toFixed(0)} s, after ${warmOps} ops`;
        return { status: "timeout", why, warmOps, warmMs: el, approxOpsPerSec: lastRate * 1000, fails };
      }
      break;
    }
    if (r.ms < 50) n *= 2;
    else if (r.ms > 200 && n > 1) n = Math.max(1, n >> 1);
  }
  if (!perUnit && lastMsPerUnit > CFG.maxSampleMs) {
    // e.g. one realloc-grow pass: a single sample would take too long; keep the warm-up figure
    const why = `the smallest sample (one pass) takes ${(lastMsPerUnit / 1000).toFixed(1)} s, over the ${CFG.maxSampleMs / 1000} s limit`;
    return { status: "timeout", why, warmOps, warmMs: now() - t0, approxOpsPerSec: lastRate * 1000, fails };
  }
  const units = perUnit ? 1 : Math.max(1, Math.round(CFG.targetMs / lastMsPerUnit));
  return {
    status: "ok", unit, perUnit, units, warmOps, fails, approxWarmOpsPerSec: lastRate * 1000,
    samples: [], best: 0, opsPerSample: 0, timedMs: 0,
  };
}

/** One timing round: one sample (or, for traces, single replays for ≈ msBudget). */
function sampleRound(st, msBudget) {
  if (st.status !== "ok") return;
  if (st.perUnit) {
    let spent = 0;
    let k = 0;
    while (k < 2 || spent < msBudget) {
      const r = st.unit(1);
      st.fails += r.fails;
      spent += r.ms;
      st.samples.push(r.ms);
      const rate = r.ops / r.ms;
      if (rate > st.best) { st.best = rate; st.opsPerSample = r.ops; }
      if (++k >= 20000) break;
    }
    st.timedMs += spent;
    return;
  }
  const r = st.unit(st.units);
  st.fails += r.fails;
  st.timedMs += r.ms;
  st.samples.push({ ops: r.ops, ms: +r.ms.toFixed(3) });
  const rate = r.ops / r.ms;
  if (rate > st.best) { st.best = rate; st.opsPerSample = r.ops; }
  if (r.ms > CFG.maxSampleMs) st.units = Math.max(1, Math.floor(st.units / 2));
}

function finish(st) {
  const { unit, best, ...rest } = st;
  if (st.status !== "ok") return rest;
  const out = { ...rest, opsPerSec: best * 1000, nsPerOp: 1e6 / best };
  if (st.perUnit) {
    out.bestMs = st.opsPerSample / best;
    out.sampleCount = st.samples.length;
    delete out.samples; // too many to keep
  }
  return out;
}

// ───────────────────────────── validation (untimed) ─────────────────────────────

/** Sorted set of live intervals [start, end) to detect overlapping blocks. */
class IntervalSet {
  constructor() { this.n = 0; this.s = new Float64Array(1024); this.e = new Float64Array(1024); }
  lb(x) {
    let lo = 0, hi = this.n;
    while (lo < hi) { const m = (lo + hi) >>> 1; if (this.s[m] < x) lo = m + 1; else hi = m; }
    return lo;
  }
  /** Returns null, or a description of the overlap. */
  insert(a, b) {
    const i = this.lb(a);
    if (i > 0 && this.e[i - 1] > a) return `[${a}, ${b}) overlaps live [${this.s[i - 1]}, ${this.e[i - 1]})`;
    if (i < this.n && this.s[i] < b) return `[${a}, ${b}) overlaps live [${this.s[i]}, ${this.e[i]})`;
    if (this.n === this.s.length) {
      const s = new Float64Array(this.n * 2); s.set(this.s); this.s = s;
      const e = new Float64Array(this.n * 2); e.set(this.e); this.e = e;
    }
    this.s.copyWithin(i + 1, i, this.n);
    this.e.copyWithin(i + 1, i, this.n);
    this.s[i] = a; this.e[i] = b; this.n++;
    return null;
  }
  remove(a) {
    const i = this.lb(a);
    if (i >= this.n || this.s[i] !== a) return false;
    this.s.copyWithin(i, i + 1, this.n);
    this.e.copyWithin(i, i + 1, this.n);
    this.n--;
    return true;
  }
}

/**
 * Replays `seq` (first `seq.n` ops) on a fresh instance through the plain API, checking every
 * result: non-zero for non-zero sizes, alignment, in bounds, no overlap with a live block, and
 * that a tag byte written at the first and last byte of every block survives until its free
 * (and across realloc, for the bytes realloc must preserve). Returns the footprint too.
 */
function validate(inst, seq, capMs = Infinity) {
  const A = inst.A;
  const { malloc: M, free: F, realloc: R } = inst.names;
  const ptr = new Float64Array(seq.ids);
  const sz = new Float64Array(seq.ids);
  const tag = new Uint8Array(seq.ids);
  const iv = new IntervalSet();
  const errors = [];
  let errorCount = 0;
  let fails = 0;
  let zeroNull = 0;
  let orPtr = 0;
  const err = (i, msg) => { errorCount++; if (errors.length < 5) errors.push(`op ${i}: ${msg}`); };
  const t0 = now();
  let i = 0;
  const place = (op, j, p, size) => {
    const u8 = inst.u8();
    const len = Math.max(size, 1);
    orPtr |= p;
    if (p < 0 || p + size > u8.length) { err(op, `block [${p}, ${p + size}) outside memory (${u8.length} bytes)`); return false; }
    const o = iv.insert(p, p + len);
    if (o) err(op, o);
    return true;
  };
  for (; i < seq.n; i++) {
    if ((i & 1023) === 0 && now() - t0 > capMs) break;
    const k = seq.kind[i];
    const j = seq.id[i];
    const size = seq.size[i];
    inst.observe();
    if (k === K_MALLOC || (k === K_REALLOC && ptr[j] === 0)) {
      if (ptr[j] !== 0) { err(i, `id ${j} allocated twice in the sequence`); continue; }
      const p = A[M](size);
      inst.observe();
      if (p === 0) { if (size === 0) zeroNull++; else fails++; continue; }
      ptr[j] = p; sz[j] = size;
      if (!place(i, j, p, size)) continue;
      const t = (Math.imul(i + 1, 0x9e3779b1) >>> 24) | 1;
      tag[j] = t;
      if (size > 0) { const u8 = inst.u8(); u8[p] = t; u8[p + size - 1] = t; }
    } else if (k === K_FREE) {
      const p = ptr[j];
      if (p === 0) continue;
      const u8 = inst.u8();
      const s = sz[j];
      if (s > 0 && (u8[p] !== tag[j] || u8[p + s - 1] !== tag[j])) err(i, `contents of block ${p} (${s} B) changed before free`);
      if (!iv.remove(p)) err(i, `internal: ${p} not live`);
      A[F](p);
      inst.observe();
      ptr[j] = 0; sz[j] = 0;
    } else {
      const p = ptr[j];
      const old = sz[j];
      let u8 = inst.u8();
      if (old > 0 && (u8[p] !== tag[j] || u8[p + old - 1] !== tag[j])) err(i, `contents of block ${p} (${old} B) changed before realloc`);
      const q = A[R](p, size);
      inst.observe();
      if (q === 0) { if (size === 0) zeroNull++; else fails++; continue; } // C: old block stays valid
      iv.remove(p);
      ptr[j] = q; sz[j] = size;
      if (!place(i, j, q, size)) continue;
      u8 = inst.u8();
      const keep = Math.min(old, size);
      if (keep > 0 && (u8[q] !== tag[j] || (size >= old && u8[q + old - 1] !== tag[j]))) err(i, `realloc(${p}, ${size}) -> ${q} did not preserve the old contents`);
      if (size > 0) { u8[q] = tag[j]; u8[q + size - 1] = tag[j]; }
    }
  }
  let alignment = 0;
  if (orPtr !== 0) { alignment = orPtr & -orPtr; if (alignment > 4096) alignment = 4096; }
  return { opsChecked: i, complete: i === seq.n, errors, errorCount, fails, zeroNull, alignment, footprint: inst.footprint(), initialBytes: inst.initialBytes };
}

// ───────────────────────────── workloads ─────────────────────────────

function fmtBytes(b) {
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(2)} MiB`;
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${b} B`;
}

/**
 * A timing unit that replays `seq` n times on `inst`: only the replay is timed; freeing what a
 * replay leaves live (a trace's leftovers, or blocks of failed operations) is not.
 */
function replayUnit(inst, seq) {
  const L = makeLoops(inst.names);
  const ptrs = new Float64Array(seq.ids);
  return (n) => {
    let ms = 0;
    let fails = 0;
    for (let r = 0; r < n; r++) {
      const t = now();
      fails += L.replay(inst.A, seq.kind, seq.id, seq.size, ptrs, 0, seq.n);
      ms += now() - t;
      L.freeAll(inst.A, ptrs);
    }
    return { ms, ops: n * seq.n, fails };
  };
}

function buildWorkloads() {
  const list = [];
  const want = (name) => !ARGS.workloads || ARGS.workloads.includes(name) || (name.startsWith("trace:") && ARGS.workloads.includes("traces"));

  if (want("pairs")) {
    const pr = genPairs(CFG.pairsStream);
    list.push({
      name: "pairs",
      desc: "malloc(16..512) + immediate free",
      thingPool: 16 << 20,
      validateSeq: () => pairsToSeq(pr, QUICK ? 20000 : 200000),
      setup(inst) {
        const L = makeLoops(inst.names);
        let pos = 0;
        const unit = (n) => {
          const t = now();
          const fails = L.pairs(inst.A, pr.size, pr.size.length, pos, n);
          const ms = now() - t;
          pos = (pos + n) % pr.size.length;
          return { ms, ops: 2 * n, fails };
        };
        return { unit: (n) => unit(n * 4096), opts: {} };
      },
    });
  }

  for (const [name, slots, seed] of [["churn", 10000, 0x5eed0002], ["churn-big", 100000, 0x5eed0003]]) {
    if (!want(name)) continue;
    let ch = null;
    const get = () => (ch ??= genChurn(slots, CFG.churnStream, seed));
    list.push({
      name,
      desc: `${slots.toLocaleString("en-US")} slots, free-if-occupied else malloc(log-uniform 8..4096)`,
      slots,
      thingPool: slots > 10000 ? 512 << 20 : 64 << 20,
      validateSeq: () => churnToSeq(get(), Math.min(QUICK ? 50000 : 300000, 6 * slots)),
      validateCapMs: CFG.validateCapMs,
      setup(inst) {
        const c = get();
        const L = makeLoops(inst.names);
        const ptrs = new Float64Array(slots);
        let pos = 0;
        const unit = (n) => {
          const t = now();
          const fails = L.churn(inst.A, c.slot, c.size, ptrs, c.slot.length, pos, n);
          const ms = now() - t;
          pos = (pos + n) % c.slot.length;
          return { ms, ops: n, fails };
        };
        // Steady state (half the slots live) is reached after a few × slots operations.
        return { unit: (n) => unit(n * 1024), opts: { minWarmOps: 3 * slots }, cleanup: () => L.freeAll(inst.A, ptrs) };
      },
      release() { ch = null; },
    });
  }

  if (want("realloc-grow")) {
    const seq = genReallocGrow(CFG.growBuffers);
    list.push({
      name: "realloc-grow",
      desc: `${CFG.growBuffers} buffers grown by realloc (×1..2, interleaved) to 64 KiB, then freed`,
      thingPool: 1024 << 20,
      validateSeq: () => seq,
      validateCapMs: CFG.validateCapMs,
      setup: (inst) => ({ unit: replayUnit(inst, seq), opts: {} }),
    });
  }

  if (!ARGS.workloads || ARGS.workloads.some((x) => x === "traces" || x.startsWith("trace:"))) {
    let files = [];
    try {
      files = fs.readdirSync(TRACE_DIR).filter((f) => f.endsWith(".rep")).sort();
    } catch (e) {
      console.error(`bench: no traces: cannot read ${TRACE_DIR} (${e.code ?? e.message}); trace workloads skipped`);
    }
    for (const f of files) {
      const name = `trace:${f.replace(/\.rep$/, "")}`;
      if (!want(name)) continue;
      const seq = parseTrace(path.join(TRACE_DIR, f));
      list.push({
        name,
        trace: true,
        desc: `${f}: ${seq.n} ops, peak live ${fmtBytes(seq.peakLive)}`,
        seq,
        thingPool: 64 << 20,
        validateSeq: () => seq,
        setup: (inst) => ({ unit: replayUnit(inst, seq), opts: { perUnit: true, warmMs: CFG.traceWarmMs } }),
      });
    }
  }
  return list;
}

// ───────────────────────────── main ─────────────────────────────

const errText = (e) => String(e && e.message ? e.message : e).split("\n")[0];
const log = (s) => process.stderr.write(s);

async function loadAllocators(quiet) {
  const allocs = [];
  for (const a of ALLOCATORS) {
    if (ARGS.only && !ARGS.only.includes(a.key)) continue;
    try {
      await a.load();
      allocs.push(a);
    } catch (e) {
      if (!quiet) {
        console.error(`bench: SKIPPING ${a.label}: ${errText(e)}`);
        if (a.key === "vmheap") console.error("bench:   (run `npm run build` first, or use `npm run bench`)");
      }
    }
  }
  return allocs;
}

/** Runs one workload for every allocator: checked replay, warm-up, interleaved timing rounds. */
function runWorkload(w, allocs) {
  const R = {};
  const live = []; // { a, r, inst, setup, st }
  for (const a of allocs) {
    const r = (R[a.key] = {});
    // 1) untimed checked replay (and footprint) on a fresh instance
    try {
      const inst = a.create(w.trace ? "trace" : "synthetic", w.thingPool);
      r.validation = validate(inst, w.validateSeq(), w.validateCapMs ?? Infinity);
      inst.dispose();
    } catch (e) {
      r.validation = { threw: errText(e) };
    }
    if (w.trace && r.validation?.footprint) r.utilization = w.seq.peakLive / r.validation.footprint;
    // 2) warm-up and calibration on another fresh instance (instance creation is untimed)
    let inst = null;
    try {
      inst = a.create(w.trace ? "trace" : "synthetic", w.thingPool);
      const setup = w.setup(inst);
      const st = warmUp(setup.unit, setup.opts);
      live.push({ a, r, inst, setup, st });
    } catch (e) {
      r.status = "error";
      r.error = errText(e);
      try { inst?.dispose(); } catch {}
    }
  }
  // 3) timing: rounds interleaved across allocators, so slow phases of a noisy machine hit all alike
  for (let round = 0; round < CFG.samples; round++) {
    for (const x of live) {
      if (x.st.status !== "ok") continue;
      // very slow allocators: stop sampling once the budget is spent (at least one sample)
      if (x.st.samples.length > 0 && x.st.timedMs >= CFG.sampleBudgetMs) continue;
      try {
        sampleRound(x.st, CFG.traceSampleMs / CFG.samples);
      } catch (e) {
        x.st.status = "error";
        x.st.error = errText(e);
      }
    }
  }
  for (const x of live) {
    try { x.setup.cleanup?.(); } catch {}
    try { x.inst.dispose(); } catch {}
    Object.assign(x.r, finish(x.st));
  }
  w.release?.();
  return R;
}

function logResults(w, allocs, R) {
  for (const a of allocs) {
    const r = R[a.key];
    log(
      `bench: ${w.name.padEnd(24)} ${a.label.padEnd(8)} ` +
        (!r
          ? "not run\n"
          : r.status === "ok"
            ? `${(r.opsPerSec / 1e6).toFixed(2)} Mops/s${r.fails ? `  FAILURES: ${r.fails}` : ""}\n`
            : r.status === "timeout"
              ? `too slow: ${r.why} (~${(r.approxOpsPerSec / 1e6).toFixed(4)} Mops/s)\n`
              : `ERROR: ${r.error}\n`),
    );
  }
}

/** Child-process mode: one workload, results written as JSON to --out. */
async function worker() {
  const allocs = await loadAllocators(true);
  const [w] = buildWorkloads();
  if (!w) die(`worker: unknown workload ${ARGS.worker}`);
  const R = runWorkload(w, allocs);
  fs.writeFileSync(ARGS.out, JSON.stringify(R));
}

async function main() {
  if (ARGS.worker) {
    ARGS.workloads = [ARGS.worker];
    return worker();
  }
  const started = new Date();
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    loadAvgStart: os.loadavg().map((x) => +x.toFixed(2)),
  };

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vmheap-bench-"));
  try {
    // Snapshot dist/ so that every worker measures the same build even if it is rebuilt meanwhile.
    if (!ARGS.dist && fs.existsSync(path.join(REPO, "dist/index.js"))) {
      fs.cpSync(path.join(REPO, "dist"), path.join(tmp, "dist"), { recursive: true });
      ARGS.dist = path.join(tmp, "dist");
    }
    const allocs = await loadAllocators(false);
    if (allocs.length === 0) die("no allocator could be loaded");
    await runAll(started, machine, allocs, tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function runAll(started, machine, allocs, tmp) {
  const workloads = buildWorkloads();
  const results = {}; // results[workload][alloc] = {...}
  {
    for (const w of workloads) {
      let R;
      if (ARGS.inproc) {
        R = runWorkload(w, allocs);
      } else {
        // A fresh process per workload: the JIT feedback of one workload does not shape the next.
        const out = path.join(tmp, "result.json");
        const args = [fileURLToPath(import.meta.url), "--worker", w.name, "--out", out, "--only", allocs.map((a) => a.key).join(",")];
        if (ARGS.dist) args.push("--dist", ARGS.dist);
        if (QUICK) args.push("--quick");
        const r = spawnSync(process.execPath, [...process.execArgv, ...args], { stdio: ["ignore", "inherit", "inherit"], timeout: (QUICK ? 10 : 60) * 60e3 });
        if (r.status === 0 && fs.existsSync(out)) {
          R = JSON.parse(fs.readFileSync(out, "utf8"));
          fs.rmSync(out);
        } else {
          const why = r.error ? errText(r.error) : `worker exited with ${r.signal ?? `code ${r.status}`}`;
          R = {};
          for (const a of allocs) R[a.key] = { status: "error", error: why };
        }
      }
      results[w.name] = R;
      logResults(w, allocs, R);
    }
  }

  machine.loadAvgEnd = os.loadavg().map((x) => +x.toFixed(2));
  machine.wallSeconds = +((Date.now() - started.getTime()) / 1000).toFixed(1);
  const report = renderReport({ machine, started, allocs, workloads, results });
  console.log(report.text);
  if (ARGS.json) {
    const out = {
      timestamp: started.toISOString(),
      command: `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
      quick: QUICK,
      machine,
      config: CFG,
      allocators: allocs.map((a) => ({ key: a.key, label: a.label, version: a.version, build: a.build })),
      workloads: workloads.map((w) => ({ name: w.name, desc: w.desc, ops: w.seq?.n, peakLive: w.seq?.peakLive })),
      results,
      summary: report.summary,
    };
    fs.writeFileSync(path.resolve(ARGS.json), JSON.stringify(out, null, 2));
    console.error(`bench: wrote ${path.resolve(ARGS.json)}`);
  }
}

function renderReport({ machine, started, allocs, workloads, results }) {
  const has = (k) => allocs.some((a) => a.key === k);
  const mops = (r) => {
    if (!r) return "—";
    if (r.status === "ok") return (r.opsPerSec / 1e6).toFixed(r.opsPerSec < 1e5 ? 4 : 2) + (r.fails ? ` (${r.fails} failed)` : "");
    if (r.status === "timeout") return `too slow (~${(r.approxOpsPerSec / 1e6).toFixed(4)})`;
    return "error";
  };
  const ratio = (a, b) => (a?.status === "ok" && b?.status === "ok" ? a.opsPerSec / b.opsPerSec : null);
  const ratioCell = (a, b) => {
    const x = ratio(a, b);
    if (x != null) return `${x.toFixed(2)}×`;
    // b too slow to time: its warm-up rate was measured on a smaller/younger heap, so this is a lower bound
    if (a?.status === "ok" && b?.status === "timeout" && b.approxOpsPerSec > 0) return `> ${(a.opsPerSec / b.approxOpsPerSec).toFixed(0)}×`;
    return "—";
  };
  const L = [];
  L.push(`# Allocator benchmark${QUICK ? " (--quick)" : ""}`);
  L.push("");
  L.push(`- date: ${started.toISOString()}`);
  L.push(`- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.totalMemGiB} GiB, ${machine.os}`);
  L.push(`- node: ${machine.node}`);
  L.push(`- load average (1/5/15 min) at start ${machine.loadAvgStart.join(" / ")}, at end ${machine.loadAvgEnd.join(" / ")}; wall time ${machine.wallSeconds} s`);
  L.push(`- allocators: ${allocs.map((a) => `${a.label}${a.version ? ` ${a.version}` : ""}${a.build ? ` (git ${a.build.commit}; dist built ${a.build.distBuilt})` : ""}`).join(", ")}`);
  L.push(`- command: \`node bench/run.mjs${process.argv.length > 2 ? " " + process.argv.slice(2).join(" ") : ""}\``);
  L.push("");
  L.push("Workloads:");
  L.push("");
  for (const w of workloads) if (!w.trace) L.push(`- ${w.name}: ${w.desc}`);
  if (workloads.some((w) => w.trace)) L.push(`- trace:*: replay of a wee_alloc trace (${path.relative(REPO, TRACE_DIR)}), fastest single replay`);
  L.push("");
  L.push("Throughput in million allocator calls per second (malloc, free and realloc each count as one op); best sample.");
  L.push("");
  const cols = ["workload", ...allocs.map((a) => `${a.label} Mops/s`)];
  if (has("vmheap") && has("tlsf")) cols.push("vmheap/TLSF");
  if (has("vmheap") && has("thing")) cols.push("vmheap/thi.ng");
  L.push(`| ${cols.join(" | ")} |`);
  L.push(`|${cols.map((c, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const w of workloads) {
    const R = results[w.name];
    const row = [w.name, ...allocs.map((a) => mops(R[a.key]))];
    if (has("vmheap") && has("tlsf")) row.push(ratioCell(R.vmheap, R.tlsf));
    if (has("vmheap") && has("thing")) row.push(ratioCell(R.vmheap, R.thing));
    L.push(`| ${row.join(" | ")} |`);
  }
  L.push("");

  const summary = {};
  const traces = workloads.filter((w) => w.trace);
  if (traces.length) {
    L.push("Trace utilization: peak live payload / maximum footprint, each measured on a fresh instance.");
    L.push("Footprint: vmheap `mallocMaxFootprint()` (default `new Heap()`); AS TLSF: wasm `memory.buffer.byteLength` at the end");
    L.push("(never shrinks, so its high-water; includes the module's first 64 KiB page with static data and TLSF's root);");
    L.push("thi.ng: high-water of `pool.top` (byte offset one past the highest block handed out, including the pool's header).");
    L.push("");
    const ucols = ["trace", "ops", "peak live", ...allocs.flatMap((a) => [`${a.label} footprint`, `${a.label} util`])];
    L.push(`| ${ucols.join(" | ")} |`);
    L.push(`|${ucols.map((c, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
    for (const w of traces) {
      const R = results[w.name];
      const row = [w.name.slice(6), String(w.seq.n), fmtBytes(w.seq.peakLive)];
      for (const a of allocs) {
        const v = R[a.key]?.validation;
        row.push(v?.footprint ? fmtBytes(v.footprint) : "—");
        row.push(R[a.key]?.utilization != null ? `${(100 * R[a.key].utilization).toFixed(1)}%` : "—");
      }
      L.push(`| ${row.join(" | ")} |`);
    }
    L.push("");
    const geo = (key) => {
      const rs = traces.map((w) => ratio(results[w.name].vmheap, results[w.name][key])).filter((x) => x != null);
      return rs.length ? Math.exp(rs.reduce((s, x) => s + Math.log(x), 0) / rs.length) : null;
    };
    const meanUtil = (key) => {
      const us = traces.map((w) => results[w.name][key]?.utilization).filter((x) => x != null);
      return us.length ? us.reduce((s, x) => s + x, 0) / us.length : null;
    };
    if (has("vmheap")) {
      if (has("tlsf")) summary.tracesGeomeanVmheapOverTlsf = geo("tlsf");
      if (has("thing")) summary.tracesGeomeanVmheapOverThing = geo("thing");
    }
    for (const a of allocs) summary[`tracesMeanUtilization_${a.key}`] = meanUtil(a.key);
  }
  const scaling = {};
  for (const a of allocs) {
    const s = results["churn"]?.[a.key];
    const b = results["churn-big"]?.[a.key];
    if (s?.status === "ok" && b?.status === "ok") scaling[a.key] = b.nsPerOp / s.nsPerOp;
  }
  summary.scalingChurnBigOverChurn = scaling;

  const headAt = L.length;
  if (summary.tracesGeomeanVmheapOverTlsf != null) L.push(`- traces, geometric mean of vmheap/TLSF ops/s: ${summary.tracesGeomeanVmheapOverTlsf.toFixed(2)}×`);
  if (summary.tracesGeomeanVmheapOverThing != null) L.push(`- traces, geometric mean of vmheap/thi.ng ops/s: ${summary.tracesGeomeanVmheapOverThing.toFixed(2)}×`);
  for (const a of allocs) {
    const u = summary[`tracesMeanUtilization_${a.key}`];
    if (u != null) L.push(`- traces, mean utilization ${a.label}: ${(100 * u).toFixed(1)}%`);
  }
  for (const a of allocs) {
    const s = results["churn"]?.[a.key];
    const b = results["churn-big"]?.[a.key];
    if (scaling[a.key] != null) {
      L.push(`- scaling ${a.label}: ns/op churn-big / churn = ${b.nsPerOp.toFixed(1)} / ${s.nsPerOp.toFixed(1)} = ${scaling[a.key].toFixed(2)}`);
    } else if (s || b) {
      L.push(`- scaling ${a.label}: n/a (${s?.status ?? "not run"} / ${b?.status ?? "not run"})`);
    }
  }
  if (L.length > headAt) {
    L.splice(headAt, 0, "Summary:", "");
    L.push("");
  }

  // Validation and failures
  L.push("Checks (untimed replay on a fresh instance: non-null result, alignment, in bounds, no overlap with a live block, first/last byte of each block intact until free and across realloc):");
  L.push("");
  const problems = [];
  for (const a of allocs) {
    let partial = [];
    let aligns = new Set();
    for (const w of workloads) {
      const r = results[w.name][a.key];
      if (!r) continue;
      if (r.status === "error") problems.push(`${a.label} / ${w.name}: error in timed run: ${r.error}`);
      const v = r.validation;
      if (!v) continue;
      if (v.threw) { problems.push(`${a.label} / ${w.name}: threw during checked replay: ${v.threw}`); continue; }
      if (v.errorCount) problems.push(`${a.label} / ${w.name}: ${v.errorCount} check error(s), first: ${v.errors.join("; ")}`);
      if (v.fails) problems.push(`${a.label} / ${w.name}: ${v.fails} allocation(s) returned 0 in the checked replay`);
      if (v.zeroNull) problems.push(`${a.label} / ${w.name}: malloc(0) returned 0 ${v.zeroNull} time(s) (allowed by C; not counted as failure)`);
      if (!v.complete) partial.push(`${w.name} (${v.opsChecked} ops)`);
      if (v.alignment) aligns.add(v.alignment);
      if (r.fails) problems.push(`${a.label} / ${w.name}: ${r.fails} allocation failure(s) (returned 0) in timed runs`);
      if (r.status === "ok" && !w.trace && r.samples.length < CFG.samples) problems.push(`${a.label} / ${w.name}: only ${r.samples.length} timed sample(s) (sampling budget ${CFG.sampleBudgetMs / 1000} s reached; ${(r.samples[0].ms / 1000).toFixed(1)} s per sample)`);
      if (r.status === "timeout") problems.push(`${a.label} / ${w.name}: not timed: ${r.why}; ~${(r.approxOpsPerSec / 1e6).toFixed(4)} Mops/s measured during warm-up (shown as "too slow (~…)"; the ratio is a lower bound)`);
    }
    const al = aligns.size ? Math.min(...aligns) : null;
    L.push(`- ${a.label}: no check error unless listed below; observed pointer alignment ${al ?? "?"} bytes${partial.length ? `; checks time-capped for ${partial.join(", ")}` : ""}`);
  }
  L.push("");
  if (problems.length) {
    L.push("Problems:");
    L.push("");
    for (const p of problems) L.push(`- ${p}`);
  } else {
    L.push("Problems: none (no failures, no check errors).");
  }
  summary.problems = problems;
  return { text: L.join("\n"), summary };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
