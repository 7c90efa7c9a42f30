#!/usr/bin/env node
// Virtual-memory benchmark: the cost of the model's MMU, of fork, and of a heap running inside a process.
//
//   npm run bench                      # builds vmheap (dist/), runs bench/run.mjs, then this script
//   node bench/vm.mjs [--quick] [--json out.json] [--parts read,fork,heap]
//
// Three parts, each a ratio measured in this one run:
//   read  translated `as.read32(va)` (and `as.mmu.read32(va)`) on resident pages vs a raw
//         `DataView.getUint32` over an ArrayBuffer of the same size; TLB hit rate.
//   fork  `as.fork()` + `child.close()` for a sparse 1 GiB mapping vs small and dense mappings:
//         µs per fork and per touched page.
//   heap  run.mjs's churn workload replayed on `process.heap` (a Heap inside a Process) and on
//         the linear-memory `Heap` (and, for comparison, on a heap over a wasm memory, a
//         concurrent heap and a 32-bit one); skipped when this build has no `process.heap`.
//   glibc the 50,001-operation trace of test/fixtures/glibc/ and the wee_alloc dogfood trace
//         (46,076 ops) replayed on the glibc model in a fresh process (`replayGlibcTrace`,
//         every line formatted as the C driver prints it): seconds per replay (target < 2 s),
//         and the same calls on `process.heap` with the default allocator, for a ratio.
// Every operation stream is generated from a seeded mulberry32 before any timing. Subjects are
// warmed up, then timed in interleaved rounds; the best sample counts. See docs/benchmarks.md.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { genChurn, mulberry32, optionValue } from "./common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");

// ───────────────────────────── command line ─────────────────────────────

const PARTS = ["read", "fork", "heap", "glibc"];

function parseArgs(argv) {
  const o = { quick: false, json: null, parts: PARTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const [v, last] = optionValue(argv, i, die);
      i = last;
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--json" || a.startsWith("--json=")) o.json = val();
    else if (a === "--parts" || a.startsWith("--parts=")) {
      o.parts = val().split(",").filter(Boolean);
      for (const p of o.parts) if (!PARTS.includes(p)) die(`unknown part: ${p} (known: ${PARTS.join(", ")})`);
    } else if (a === "--help" || a === "-h") {
      console.log(
        "usage: node bench/vm.mjs [--quick] [--json out.json] [--parts read,fork,heap,glibc]\n" +
          "  --quick      short smoke run (shorter timings, shorter churn stream)\n" +
          "  --json FILE  also write the raw figures as JSON\n" +
          "  --parts LIST run only these parts (default: all)",
      );
      process.exit(0);
    } else die(`unknown argument: ${a}`);
  }
  return o;
}

function die(msg) {
  console.error(`bench/vm: ${msg}`);
  process.exit(2);
}

const ARGS = parseArgs(process.argv.slice(2));
const QUICK = ARGS.quick;

// Timing parameters (milliseconds). A "sample" is one timed measurement; the best sample counts.
const CFG = QUICK
  ? { warmMs: 30, targetMs: 20, samples: 2, forkTargetMs: 10, churnStream: 1 << 18 }
  : { warmMs: 300, targetMs: 250, samples: 7, forkTargetMs: 120, churnStream: 1 << 22 };

const now = () => performance.now();

// ───────────────────────────── the package ─────────────────────────────

let V;
try {
  V = await import("../dist/index.js");
} catch (e) {
  die(`cannot import ../dist/index.js (run \`npm run build\` first): ${e.message}`);
}
const { AddressSpace, PhysicalMemory, Process, Heap, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FAILED } = V;

// ───────────────────────────── measurement driver ─────────────────────────────

/**
 * Lets the current job end, between warm-up chunks and between samples (never inside a
 * sample), so that timers and finalizers of the runtime run outside the timed parts. (Builds
 * before the address spaces' registry held strong references needed it badly: a `WeakRef`
 * keeps its target alive until the job ends, and a synchronous loop of forks piled up every
 * closed child.)
 */
const endJob = () => new Promise((resolve) => setImmediate(resolve));

/**
 * `unit(n)` runs n units and returns { ms, ops }. Warms up for CFG.warmMs, then sizes a sample
 * to ≈ targetMs.
 */
async function warmUp(unit, targetMs, minWarmOps = 0) {
  let n = 1;
  let warmOps = 0;
  let msPerUnit = Infinity;
  const t0 = now();
  for (;;) {
    const r = unit(n);
    await endJob();
    warmOps += r.ops;
    if (r.ms > 0) msPerUnit = r.ms / n;
    if (now() - t0 >= CFG.warmMs && warmOps >= minWarmOps) break;
    if (r.ms < 30) n *= 2;
  }
  const units = Math.max(1, Math.round(targetMs / msPerUnit));
  return { unit, units, warmOps, samples: [], best: 0, bestSample: null };
}

/** Interleaved timing rounds over `subjects` (each with a `st` from warmUp); the best rate wins. */
async function timeRounds(subjects) {
  for (let round = 0; round < CFG.samples; round++) {
    for (const s of subjects) {
      await endJob();
      const r = s.st.unit(s.st.units);
      s.st.samples.push({ ops: r.ops, ms: +r.ms.toFixed(3), ...(r.extra ?? {}) });
      const rate = r.ops / r.ms;
      if (rate > s.st.best) { s.st.best = rate; s.st.bestSample = r; }
    }
  }
}

// Separately compiled loops (like run.mjs's makeLoops): each call site sees one receiver, and
// no type feedback is shared between the subjects being compared.
let loopSerial = 0;
function compile(tag, params, body) {
  return new Function(...params, `"use strict"; /* ${tag} #${++loopSerial} */\n${body}`);
}

// ───────────────────────────── formatting ─────────────────────────────

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const fmtRate = (opsPerMs) => fmt(opsPerMs / 1000, 2); // ops per ms → Mops/s
const fmtPct = (x) => `${(100 * x).toFixed(2)}%`;
const out = [];
const say = (s = "") => { out.push(s); console.log(s); };
const RESULTS = { machine: null, config: { quick: QUICK, ...CFG }, read: null, fork: null, heap: null };
let SINK = 0; // checksums end up here and are printed: the timed loops cannot be dropped

// ───────────────────────────── part 1: translated reads ─────────────────────────────

async function benchRead() {
  const PAGES = 64;
  const FRAMES = 4096;
  const SEQ = 1 << 16; // addresses per pass
  const memory = new PhysicalMemory({ frames: FRAMES });
  const as = new AddressSpace({ memory });
  const ps = as.pageSize;
  const bytes = PAGES * ps;
  const base = as.mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (base === MAP_FAILED) throw new Error(`mmap failed, errno ${as.errno}`);

  // The same pseudo-random contents in the mapping and in the raw buffer; writing every page
  // makes it resident (a private anonymous frame each).
  const rnd = mulberry32(0x5eed0101);
  const content = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) content[i] = (rnd() * 256) | 0;
  as.writeBytes(base, content);
  if (as.residentPages !== PAGES) throw new Error(`expected ${PAGES} resident pages, got ${as.residentPages}`);
  const raw = new ArrayBuffer(bytes);
  new Uint8Array(raw).set(content);
  const dv = new DataView(raw);

  // Addresses: uniform over the mapping, 4-aligned. Both loops read a Float64Array (VAs of a
  // 48-bit space are not small integers; the offsets are stored the same way for parity).
  const va = new Float64Array(SEQ);
  const off = new Float64Array(SEQ);
  for (let i = 0; i < SEQ; i++) {
    const o = Math.floor(rnd() * (bytes / 4)) * 4;
    off[i] = o;
    va[i] = base + o;
  }

  const loopAs = compile("as.read32", ["as", "va", "passes"], `
    let sum = 0;
    for (let p = 0; p < passes; p++) for (let i = 0; i < va.length; i++) sum = (sum + as.read32(va[i])) | 0;
    return sum;`);
  const loopMmu = compile("mmu.read32", ["mmu", "va", "passes"], `
    let sum = 0;
    for (let p = 0; p < passes; p++) for (let i = 0; i < va.length; i++) sum = (sum + mmu.read32(va[i])) | 0;
    return sum;`);
  const loopRaw = compile("DataView.getUint32", ["dv", "off", "passes"], `
    let sum = 0;
    for (let p = 0; p < passes; p++) for (let i = 0; i < off.length; i++) sum = (sum + dv.getUint32(off[i], true)) | 0;
    return sum;`);

  // Reference checksum of one pass, computed independently of all three loops.
  let ref = 0;
  for (let i = 0; i < SEQ; i++) {
    const o = off[i];
    ref = (ref + (content[o] | (content[o + 1] << 8) | (content[o + 2] << 16) | (content[o + 3] << 24))) | 0;
  }
  const check = (name, sum, passes) => {
    if (sum !== Math.imul(ref, passes)) throw new Error(`${name}: checksum ${sum} over ${passes} passes, expected ${Math.imul(ref, passes)}`);
    SINK = (SINK + sum) | 0;
  };
  const mk = (name, fn, recv, arr) => (n) => {
    const t = now();
    const sum = fn(recv, arr, n);
    const ms = now() - t;
    check(name, sum, n);
    return { ms, ops: n * SEQ };
  };
  const subjects = [
    { key: "raw", label: "raw `DataView.getUint32` (ArrayBuffer)", unit: mk("raw", loopRaw, dv, off) },
    { key: "as", label: "`as.read32(va)`", unit: mk("as.read32", loopAs, as, va) },
    { key: "mmu", label: "`as.mmu.read32(va)`", unit: mk("mmu.read32", loopMmu, as.mmu, va) },
  ];
  for (const s of subjects) s.st = await warmUp(s.unit, CFG.targetMs);
  const walksBefore = as.mmu.walks;
  as.mmu.resetCounters();
  await timeRounds(subjects);
  const hits = as.mmu.hits;
  const misses = as.mmu.misses;
  const faults = as.mmu.faults;
  const best = Object.fromEntries(subjects.map((s) => [s.key, s.st.best]));
  const res = {
    pages: PAGES, frames: FRAMES, mappingBase: base, addressesPerPass: SEQ, sharedMemory: memory.shared,
    tlb: { entries: as.mmu.tlb.size, ways: as.mmu.tlb.ways, hits, misses, hitRate: hits / (hits + misses), faultsWhileTimed: faults, walksWhileTimed: as.mmu.walks, walksBefore },
    subjects: subjects.map((s) => ({ key: s.key, label: s.label, units: s.st.units, opsPerSec: s.st.best * 1000, nsPerOp: 1e6 / s.st.best, samples: s.st.samples })),
    ratioAs: best.as / best.raw,
    ratioMmu: best.mmu / best.raw,
  };
  RESULTS.read = res;

  say(`### Translated read32 vs raw DataView`);
  say();
  say(`${PAGES} resident pages (anonymous private RW mapping at 0x${base.toString(16)}, \`new AddressSpace({ memory: new PhysicalMemory({ frames: ${FRAMES} }) })\`, defaults), ` +
    `${SEQ.toLocaleString("en-US")} pseudo-random 4-aligned addresses per pass; best of ${CFG.samples} interleaved samples.`);
  say();
  say(`| loop | Mops/s | ns/read | ratio vs raw |`);
  say(`|---|---:|---:|---:|`);
  for (const s of subjects) say(`| ${s.label} | ${fmtRate(s.st.best)} | ${fmt(1e6 / s.st.best, 2)} | ${fmt(s.st.best / best.raw, 3)}× |`);
  say();
  say(`TLB while timed: ${hits.toLocaleString("en-US")} hits, ${misses.toLocaleString("en-US")} misses, hit rate ${fmtPct(res.tlb.hitRate)}; ` +
    `${faults} faults. Checksums of every sample verified against an independent computation.`);
  say();
}

// ───────────────────────────── part 2: fork ─────────────────────────────

async function benchFork() {
  const ps = 4096;
  const MiB = 1 << 20;
  // name, mapped pages, which pages are touched
  const spread = (mapped, n) => Array.from({ length: n }, (_, i) => Math.floor((i * mapped) / n));
  const first = (n) => Array.from({ length: n }, (_, i) => i);
  const cases = [
    { key: "sparse-spread", label: "(a) 1 GiB mapped, 16 pages touched, spread (one per 64 MiB)", mapped: (1024 * MiB) / ps, touched: spread((1024 * MiB) / ps, 16) },
    { key: "sparse-64g", label: "(a″) 64 GiB mapped, 16 pages touched, spread (one per 4 GiB)", mapped: (64 * 1024 * MiB) / ps, touched: spread((64 * 1024 * MiB) / ps, 16) },
    { key: "sparse-packed", label: "(a′) 1 GiB mapped, 16 pages touched, contiguous", mapped: (1024 * MiB) / ps, touched: first(16) },
    { key: "small", label: "(b) 64 KiB mapped (16 pages), all touched", mapped: 16, touched: first(16) },
    { key: "dense-256", label: "(c) 1 MiB mapped (256 pages), all touched", mapped: 256, touched: first(256) },
    { key: "dense-1024", label: "(c) 4 MiB mapped (1024 pages), all touched", mapped: 1024, touched: first(1024) },
    { key: "dense-4096", label: "(c) 16 MiB mapped (4096 pages), all touched", mapped: 4096, touched: first(4096) },
  ];
  for (const c of cases) {
    const memory = new PhysicalMemory({ frames: c.touched.length + 64 });
    const as = new AddressSpace({ memory });
    const base = as.mmap(0, c.mapped * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (base === MAP_FAILED) throw new Error(`${c.key}: mmap failed, errno ${as.errno}`);
    for (const p of c.touched) as.write32(base + p * ps, (p * 2654435761) >>> 0);
    if (as.residentPages !== c.touched.length) throw new Error(`${c.key}: ${as.residentPages} resident pages, expected ${c.touched.length}`);
    // Untimed check: the child sees the parent's data, both spaces are consistent, and a write
    // in the child is copy-on-write (the parent keeps its value).
    {
      const child = as.fork();
      const p = c.touched[c.touched.length - 1];
      const want = (p * 2654435761) >>> 0;
      if (child.read32(base + p * ps) !== want) throw new Error(`${c.key}: child reads a wrong value`);
      child.write32(base + p * ps, ~want >>> 0);
      if (as.read32(base + p * ps) !== want) throw new Error(`${c.key}: write in the child reached the parent`);
      child.check();
      as.check();
      child.close();
    }
    c.memory = memory;
    c.as = as;
    c.tables = as.pageTable.tablePages;
    c.unit = (n) => {
      let forkMs = 0;
      let closeMs = 0;
      for (let i = 0; i < n; i++) {
        const t0 = now();
        const child = as.fork();
        const t1 = now();
        child.close();
        const t2 = now();
        forkMs += t1 - t0;
        closeMs += t2 - t1;
        SINK = (SINK + child.residentPages) | 0;
      }
      return { ms: forkMs + closeMs, ops: n, extra: { forkMs: +forkMs.toFixed(3), closeMs: +closeMs.toFixed(3) } };
    };
  }
  for (const c of cases) c.framesBefore = c.memory.frames - c.memory.freeFrames;
  for (const c of cases) c.st = await warmUp(c.unit, CFG.forkTargetMs);
  await timeRounds(cases);
  // Every child gave back what it took: the frames in use are the parent's, as before timing.
  for (const c of cases) {
    c.framesInUse = c.memory.frames - c.memory.freeFrames;
    if (c.framesInUse !== c.framesBefore) throw new Error(`${c.key}: ${c.framesInUse} frames in use after the forks, ${c.framesBefore} before`);
    c.as.check();
  }

  const rows = cases.map((c) => {
    const b = c.st.bestSample;
    const n = b.ops;
    const usFork = (1000 * b.extra.forkMs) / n;
    const usClose = (1000 * b.extra.closeMs) / n;
    const usTotal = (1000 * b.ms) / n;
    return { key: c.key, label: c.label, mappedPages: c.mapped, touchedPages: c.touched.length, pageTablePages: c.tables, forksPerSample: n, usFork, usClose, usTotal, usPerTouchedPage: usTotal / c.touched.length, framesInUseAfter: c.framesInUse, samples: c.st.samples };
  });
  const by = Object.fromEntries(rows.map((r) => [r.key, r]));
  // Least-squares line through the all-touched cases: µs = intercept + slope · pages.
  const lin = ["small", "dense-256", "dense-1024", "dense-4096"].map((k) => by[k]);
  const mx = lin.reduce((a, r) => a + r.touchedPages, 0) / lin.length;
  const my = lin.reduce((a, r) => a + r.usTotal, 0) / lin.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (const r of lin) { sxy += (r.touchedPages - mx) * (r.usTotal - my); sxx += (r.touchedPages - mx) ** 2; syy += (r.usTotal - my) ** 2; }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = (sxy * sxy) / (sxx * syy);
  const res = {
    rows,
    sparseOverSmall: by["sparse-spread"].usTotal / by.small.usTotal,
    sparsePackedOverSmall: by["sparse-packed"].usTotal / by.small.usTotal,
    sparse64gOverSparse1g: by["sparse-64g"].usTotal / by["sparse-spread"].usTotal,
    fit: { usPerPage: slope, usIntercept: intercept, r2 },
    dense4096Over1024: by["dense-4096"].usTotal / by["dense-1024"].usTotal,
  };
  RESULTS.fork = res;

  say(`### fork: cost by pages touched, not bytes mapped`);
  say();
  say(`Each row: one parent \`AddressSpace\` (own \`PhysicalMemory\`, no swap) with one private anonymous RW mapping, the touched pages written once; ` +
    `timed: \`child = as.fork(); child.close()\`, repeated; best of ${CFG.samples} interleaved samples (fork and close timed separately within it).`);
  say();
  say(`| case | mapped | touched pages | page-table pages | fork µs | close µs | fork+close µs | µs per touched page |`);
  say(`|---|---:|---:|---:|---:|---:|---:|---:|`);
  for (const r of rows) {
    const b = r.mappedPages * ps;
    const mapped = b >= 1024 * MiB ? `${b / (1024 * MiB)} GiB` : b >= MiB ? `${b / MiB} MiB` : `${b / 1024} KiB`;
    say(`| ${r.label} | ${mapped} | ${r.touchedPages} | ${r.pageTablePages} | ${fmt(r.usFork, 1)} | ${fmt(r.usClose, 1)} | ${fmt(r.usTotal, 1)} | ${fmt(r.usPerTouchedPage, 3)} |`);
  }
  say();
  say(`(a)/(b) = ${fmt(res.sparseOverSmall, 2)}×; (a′)/(b) = ${fmt(res.sparsePackedOverSmall, 2)}×; (a″)/(a) = ${fmt(res.sparse64gOverSparse1g, 2)}× for 64× the bytes mapped. ` +
    `Least-squares over (b) and (c): fork+close ≈ ${fmt(intercept, 1)} µs + ${fmt(slope, 3)} µs × touched pages (r² = ${fmt(r2, 4)}); 4096 vs 1024 pages: ${fmt(res.dense4096Over1024, 2)}× the time for 4× the pages.`);
  say(`\`fork\` (and \`close\`) visit, for each region, the page-table tables that exist under it (\`PageTable.forEach\` skips empty directory entries) ` +
    `and every entry of each leaf table present: the cost follows the populated leaf tables (512 entries, 2 MiB each) and the touched pages, not the bytes mapped. ` +
    `Touched pages scattered one per 2 MiB each bring a whole leaf table to scan, hence (a) > (b).`);
  say();
}

// ───────────────────────────── part 3: churn on process.heap ─────────────────────────────

async function benchHeap() {
  const FRAMES = 16384;
  let proc = null;
  let ph;
  try {
    proc = Process.spawn({ memory: new PhysicalMemory({ frames: FRAMES }) });
    ph = proc.heap;
  } catch (e) {
    ph = undefined;
    RESULTS.heap = { available: false, error: String(e) };
  }
  if (typeof ph?.malloc !== "function") {
    RESULTS.heap ??= { available: false };
    say(`### churn: process.heap vs linear-memory Heap`);
    say();
    say("process.heap: not available in this build");
    say();
    return;
  }
  // Untimed: a block of process.heap is memory of the process (a store and load through its
  // address space round-trip).
  let roundTrip = "not checked (no proc.as)";
  if (typeof proc.as?.write32 === "function") {
    try {
      const p = ph.malloc(64);
      proc.as.write32(p, 0x12345678);
      proc.as.write32(p + 60, 0x9abcdef0);
      roundTrip = p !== 0 && proc.as.read32(p) === 0x12345678 && proc.as.read32(p + 60) === 0x9abcdef0 ? "ok" : `failed (malloc(64) = ${p})`;
      ph.free(p);
    } catch (e) {
      roundTrip = `failed: ${e.message}`;
    }
  }
  const SLOTS = 10000;
  const ch = genChurn(SLOTS, CFG.churnStream, 0x5eed0002); // run.mjs's churn stream
  const lin = new Heap({ maxBytes: 1 << 30 });
  const subjects = [
    { key: "linear", label: "`new Heap({ maxBytes: 1 << 30 })`", A: lin },
    { key: "process", label: `\`Process.spawn({ memory: new PhysicalMemory({ frames: ${FRAMES} }) }).heap\``, A: ph },
    // The other kinds of linear heap, for comparison: a shared wasm memory (the heap checks its
    // view on every call), a concurrent heap (a lock around every call), the 32-bit model.
    { key: "wasm", label: "`new Heap({ memory: new WebAssembly.Memory({ initial: 16, maximum: 16384, shared: true }) })`", A: new Heap({ memory: new WebAssembly.Memory({ initial: 16, maximum: 16384, shared: true }) }) },
    { key: "concurrent", label: "`new Heap({ maxBytes: 1 << 30, concurrent: true })`", A: new Heap({ maxBytes: 1 << 30, concurrent: true }) },
    { key: "ilp32", label: "`new Heap({ maxBytes: 1 << 30, dataModel: \"ilp32\" })`", A: new Heap({ maxBytes: 1 << 30, dataModel: "ilp32" }) },
  ];
  for (const s of subjects) {
    const loop = compile(`churn ${s.key}`, ["A", "slot", "size", "ptrs", "L", "start", "n"], `
      let fails = 0, i = start;
      for (let k = 0; k < n; k++) {
        const j = slot[i];
        const p = ptrs[j];
        if (p !== 0) { A.free(p); ptrs[j] = 0; }
        else { const q = A.malloc(size[i]); if (q === 0) fails++; ptrs[j] = q; }
        if (++i === L) i = 0;
      }
      return fails;`);
    const ptrs = new Float64Array(SLOTS); // process.heap pointers are virtual addresses, maybe > 2^31
    let pos = 0;
    s.fails = 0;
    s.unit = (n) => {
      const ops = n * 1024;
      const t = now();
      const fails = loop(s.A, ch.slot, ch.size, ptrs, ch.slot.length, pos, ops);
      const ms = now() - t;
      pos = (pos + ops) % ch.slot.length;
      s.fails += fails;
      return { ms, ops };
    };
  }
  // Steady state (about half the slots live) is reached after a few × slots operations.
  for (const s of subjects) s.st = await warmUp(s.unit, CFG.targetMs, 3 * SLOTS);
  await timeRounds(subjects);
  for (const s of subjects) if (s.fails > 0) throw new Error(`${s.key}: ${s.fails} malloc calls returned 0`);
  const best = Object.fromEntries(subjects.map((s) => [s.key, s.st.best]));
  const ratio = best.process / best.linear;
  RESULTS.heap = {
    available: true, slots: SLOTS, stream: CFG.churnStream, frames: FRAMES,
    subjects: subjects.map((s) => ({ key: s.key, label: s.label, units: s.st.units, opsPerSec: s.st.best * 1000, nsPerOp: 1e6 / s.st.best, samples: s.st.samples })),
    ratio,
    roundTrip,
    processStatus: typeof proc.as?.status === "function" ? proc.as.status() : null,
  };
  say(`### churn: process.heap (and other kinds of heap) vs linear-memory Heap`);
  say();
  say(`run.mjs's churn (10,000 slots, free-if-occupied else malloc(log-uniform 8..4096), the same seeded stream of ${CFG.churnStream.toLocaleString("en-US")} ops), ` +
    `replayed identically on each; warm-up to steady state, best of ${CFG.samples} interleaved samples.`);
  say();
  say(`| heap | Mops/s | ns/op | ratio vs linear |`);
  say(`|---|---:|---:|---:|`);
  for (const s of subjects) say(`| ${s.label} | ${fmtRate(s.st.best)} | ${fmt(1e6 / s.st.best, 1)} | ${fmt(s.st.best / best.linear, 3)}× |`);
  say();
  say(`No malloc returned 0. process.heap block written and read back through \`proc.as\`: ${roundTrip}.`);
  say();
}

// ───────────────────────────── glibc model ─────────────────────────────

async function benchGlibc() {
  if (typeof V.replayGlibcTrace !== "function") {
    say("### glibc model: replaying a trace");
    say();
    say("replayGlibcTrace: not available in this build");
    say();
    return;
  }
  const traces = [
    ["speed-50001", path.join(REPO, "test/fixtures/glibc/traces/speed-50001.rep")],
    ["wee_alloc dogfood", path.join(REPO, "../shared/traces/wee_alloc/dogfood.rep")],
  ].filter(([, f]) => fs.existsSync(f));
  const rows = [];
  for (const [name, file] of traces) {
    const text = fs.readFileSync(file, "utf8");
    const ops = text.split("\n").slice(4).filter((l) => /^[afrcmApt] /.test(l)).map((l) => l.trim().split(/\s+/).map((x, i) => (i === 0 ? x : Number(x))));
    // The same malloc/free/realloc calls on the default allocator, without any formatting.
    const plain = () => {
      const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 262144 }) });
      const h = proc.heap;
      const ptr = new Map();
      for (const [k, id, n, z] of ops) {
        if (k === "a") ptr.set(id, h.malloc(n));
        else if (k === "c") ptr.set(id, h.calloc(n, z));
        else if (k === "m" || k === "A") ptr.set(id, h.memalign(n, z));
        else if (k === "p") ptr.set(id, h.posixMemalign(n, z).ptr);
        else if (k === "t") h.mallocTrim(id);
        else if (k === "f") {
          h.free(ptr.get(id) ?? 0);
          ptr.set(id, 0);
        } else ptr.set(id, h.realloc(ptr.get(id) ?? 0, n));
      }
      proc.exit();
    };
    const samples = QUICK ? 1 : 5;
    let best = Infinity;
    let bestPlain = Infinity;
    let lines = 0;
    for (let i = 0; i < samples; i++) {
      await endJob();
      let t = now();
      lines = V.replayGlibcTrace(text).length;
      best = Math.min(best, now() - t);
      await endJob();
      t = now();
      plain();
      bestPlain = Math.min(bestPlain, now() - t);
    }
    rows.push({ name, ops: ops.length, lines, seconds: best / 1000, vmheapSeconds: bestPlain / 1000 });
  }
  RESULTS.glibc = { traces: rows };
  say("### glibc model: replaying a trace in a process");
  say();
  say(`Each trace replayed on a fresh process with \`allocator: "glibc"\` by \`replayGlibcTrace\` (every line formatted as the C driver prints it, mallinfo2 every 200 calls), and the same calls on a fresh process with the default allocator; best of ${QUICK ? 1 : 5}.`);
  say();
  say("| trace | calls | glibc model (s) | default allocator (s) | glibc ÷ default (time) |");
  say("|---|---:|---:|---:|---:|");
  for (const r of rows) say(`| ${r.name} | ${r.ops.toLocaleString("en-US")} | ${fmt(r.seconds, 3)} | ${fmt(r.vmheapSeconds, 3)} | ${fmt(r.seconds / r.vmheapSeconds, 2)}× |`);
  say();
}

// ───────────────────────────── main ─────────────────────────────

/** Which build is measured (as in run.mjs): git commit (+ uncommitted src/ changes) and dist/index.js time. */
function describeBuild() {
  const git = (...a) => {
    const r = spawnSync("git", a, { cwd: REPO, encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const head = git("rev-parse", "--short", "HEAD");
  const dirty = git("status", "--porcelain", "--", "src");
  let built = null;
  try { built = fs.statSync(path.join(REPO, "dist/index.js")).mtime.toISOString(); } catch {}
  return { commit: head ? `${head}${dirty ? " + uncommitted src changes" : ""}` : "unknown", distBuilt: built };
}

const cpus = os.cpus();
const build = describeBuild();
RESULTS.machine = {
  cpu: cpus[0]?.model ?? "unknown", cores: cpus.length, node: process.version,
  os: `${os.type()} ${os.release()} ${os.arch()}`, date: new Date().toISOString(), build, loadavgStart: os.loadavg(),
};
const t0 = now();
say(`## Virtual-memory benchmark${QUICK ? " (--quick: smoke run, figures not meaningful)" : ""}`);
say();
say(`- machine: ${RESULTS.machine.cpu}, ${RESULTS.machine.cores} cores, ${RESULTS.machine.os}`);
say(`- node: ${process.version}`);
say(`- build: vmheap git ${build.commit}; dist built ${build.distBuilt ?? "?"}`);
say(`- date: ${RESULTS.machine.date}; load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(" / ")}`);
say();

if (ARGS.parts.includes("read")) await benchRead();
if (ARGS.parts.includes("fork")) await benchFork();
if (ARGS.parts.includes("heap")) await benchHeap();
if (ARGS.parts.includes("glibc")) await benchGlibc();

// Summary against the targets of the spec.
const summary = [];
if (RESULTS.read) {
  summary.push(["translated `as.read32` ÷ raw DataView (ops/s)", `${fmt(RESULTS.read.ratioAs, 3)}×`, "≥ 0.15×", RESULTS.read.ratioAs >= 0.15]);
  summary.push(["translated `as.mmu.read32` ÷ raw DataView (ops/s)", `${fmt(RESULTS.read.ratioMmu, 3)}×`, "≥ 0.15×", RESULTS.read.ratioMmu >= 0.15]);
  summary.push(["TLB hit rate (read loop)", fmtPct(RESULTS.read.tlb.hitRate), "—", null]);
}
if (RESULTS.fork) {
  const f = RESULTS.fork;
  summary.push(["fork+close, 1 GiB sparse (16 pages spread) ÷ 64 KiB (16 pages)", `${fmt(f.sparseOverSmall, 2)}×`, "≈ 1×", null]);
  summary.push(["fork+close, 1 GiB sparse (16 pages contiguous) ÷ 64 KiB (16 pages)", `${fmt(f.sparsePackedOverSmall, 2)}×`, "≈ 1×", null]);
  summary.push(["fork+close, 64 GiB sparse ÷ 1 GiB sparse (16 pages spread each)", `${fmt(f.sparse64gOverSparse1g, 2)}×`, "≈ 1×", null]);
  summary.push(["fork+close per touched page (slope of the fit)", `${fmt(f.fit.usPerPage, 3)} µs (r² ${fmt(f.fit.r2, 4)})`, "linear", null]);
}
if (RESULTS.heap?.available) summary.push(["churn `process.heap` ÷ `Heap` (ops/s)", `${fmt(RESULTS.heap.ratio, 3)}×`, "≥ 0.33×", RESULTS.heap.ratio >= 0.33]);
else if (RESULTS.heap) summary.push(["churn `process.heap` ÷ `Heap` (ops/s)", "not available in this build", "≥ 0.33×", null]);
for (const r of RESULTS.glibc?.traces ?? []) summary.push([`glibc model: replay of ${r.name} (${r.ops.toLocaleString("en-US")} calls) in a process`, `${fmt(r.seconds, 2)} s`, "< 2 s", r.seconds < 2]);
say(`### Summary`);
say();
say(`| measure | this run | target | met |`);
say(`|---|---:|---|---|`);
for (const [m, v, t, ok] of summary) say(`| ${m} | ${v} | ${t} | ${ok === null ? "—" : ok ? "yes" : "**no**"} |`);
say();
const wall = (now() - t0) / 1000;
say(`Wall time ${wall.toFixed(1)} s; load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(" / ")}; checksum ${SINK >>> 0}.`);

RESULTS.machine.loadavgEnd = os.loadavg();
RESULTS.wallSeconds = wall;
RESULTS.checksum = SINK >>> 0;
if (ARGS.json) {
  fs.writeFileSync(ARGS.json, JSON.stringify(RESULTS, null, 2) + "\n");
  console.error(`bench/vm: wrote ${ARGS.json}`);
}
