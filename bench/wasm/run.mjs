#!/usr/bin/env node
// C programs with vmheap as their malloc, against wasi-libc's own dlmalloc in the same module.
//
//   node bench/wasm/run.mjs [--runs N] [--only tree,mix] [--json out.json] [--quick] [--no-calls]
//
// Each program in this folder (tree.c, hashtab.c, strbuild.c, mix.c) is built four ways and run:
//   native        clang -O2 for this machine, glibc's malloc
//   dlmalloc      wasm32-wasi, wasi-libc's dlmalloc (the module's own malloc, direct calls)
//   vmheap-wasm   wasm32-wasi, malloc imported from vmheap's wasm engine (wasm-to-wasm calls)
//   vmheap-js     wasm32-wasi, malloc imported from vmheap's JavaScript engine (wasm → JS calls)
// in one Node process, each module compiled once, runs interleaved round-robin (the best run
// counts: the machine is shared), under Node's WASI with --no-turbo-fast-api-calls. Every
// variant of a program must print the same output. The time is what the program measures
// around its work (clock_gettime), so instantiation is not counted; the peak memory of a wasm
// run is the size of its memory at the end (a wasm memory never shrinks).
//
// Then the cost of one call (calls.c: loops of nothing but malloc and free), on glibc, on
// dlmalloc, on vmheap's wasm engine, and on an empty allocator in a module of its own (its
// malloc returns one fixed block, its free does nothing): what the call from the program's
// module into another instance costs by itself, the floor under any imported malloc.
//
// Then JavaScript callers: the same churn of malloc/free from JavaScript through the heap's
// JavaScript engine and through its wasm engine's exports, so that the faster one can be
// chosen for them.
//
// Needs, for this benchmark only: clang and wasm-ld with the wasm32 target, wasi-libc and the
// wasm32 compiler runtime (Debian/Ubuntu: apt-get install clang lld wasi-libc
// libclang-rt-14-dev-wasm32), llvm-ar, and a built package (npm run build).

import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WASI } from "node:wasi";
import { genChurn, optionValue } from "../common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const CACHE = path.join(REPO, "node_modules/.cache/vmheap-bench-wasm");
export const PROGRAMS = ["tree", "hashtab", "strbuild", "mix"];
const VARIANTS = ["native", "dlmalloc", "vmheap-wasm", "vmheap-js"];
/** The most a program's memory may grow to: 1 GiB. */
const MAX_PAGES = 16384;

function die(msg) {
  console.error(`bench/wasm: ${msg}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { runs: 7, only: PROGRAMS, json: null, quick: false, jsOps: 1 << 20, jsOnly: false, calls: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const [v, last] = optionValue(argv, i, die);
      i = last;
      return v;
    };
    if (a === "--runs" || a.startsWith("--runs=")) o.runs = Number(val());
    else if (a === "--only" || a.startsWith("--only=")) o.only = val().split(",").filter(Boolean);
    else if (a === "--json" || a.startsWith("--json=")) o.json = val();
    else if (a === "--js-only") o.jsOnly = true;
    else if (a === "--no-calls") o.calls = false;
    else if (a === "--quick") {
      o.quick = true;
      o.runs = 2;
      o.jsOps = 1 << 17;
    } else if (a === "--help" || a === "-h") {
      console.log("usage: node bench/wasm/run.mjs [--runs N] [--only tree,hashtab,strbuild,mix] [--json out.json] [--quick] [--no-calls]");
      process.exit(0);
    } else die(`unknown argument: ${a}`);
  }
  for (const p of o.only) if (!PROGRAMS.includes(p)) die(`unknown program ${p} (${PROGRAMS.join(", ")})`);
  if (!Number.isInteger(o.runs) || o.runs < 1) die("--runs needs a positive integer");
  return o;
}

// ───────────────────────────── building ─────────────────────────────

function tool(names) {
  for (const n of names) {
    const r = spawnSync(n, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return { name: n, version: r.stdout.split("\n")[0] };
  }
  return null;
}

/**
 * PATH without any node_modules/.bin: clang runs the first `wasm-opt` it finds on PATH after
 * linking a wasm program (and drops its name section), and `npm run` puts binaryen's there. The
 * programs are built as a user's clang builds them, whichever way the benchmark is started.
 */
const BUILD_ENV = { ...process.env, PATH: (process.env.PATH ?? "").split(path.delimiter).filter((d) => !d.split(path.sep).includes("node_modules")).join(path.delimiter) };

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: BUILD_ENV });
  if (r.status !== 0) die(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** clang, llvm-ar and wasi-libc's libc.a; or why the C programs cannot be built here. */
export function toolchain() {
  const clang = tool(["clang", "clang-14"]);
  const ar = tool(["llvm-ar", "llvm-ar-14"]);
  if (clang === null) return { missing: "clang not found" };
  if (ar === null) return { missing: "llvm-ar not found" };
  const r = spawnSync(clang.name, ["--target=wasm32-wasi", "-print-file-name=libc.a"], { encoding: "utf8" });
  const libc = r.status === 0 ? r.stdout.trim() : "";
  if (!fs.existsSync(libc)) return { missing: `wasi-libc not found (clang looked for ${libc || "libc.a"})` };
  return { clang, ar, libc };
}

/** Builds every program three ways (native, wasm with dlmalloc, wasm importing vmheap), cached by a hash of the inputs. */
export function build(programs) {
  const { clang, ar, libc } = toolchain();
  fs.mkdirSync(CACHE, { recursive: true });
  // wasi-libc's libc.a without its malloc: the program's malloc family becomes vmheap's imports.
  const nolib = path.join(CACHE, "libc-without-malloc");
  const nolibA = path.join(nolib, "libc.a");
  if (!fs.existsSync(nolibA) || fs.statSync(nolibA).mtimeMs < fs.statSync(libc).mtimeMs) {
    fs.mkdirSync(nolib, { recursive: true });
    fs.copyFileSync(libc, nolibA);
    run(ar.name, ["d", nolibA, "dlmalloc.o"]);
  }
  const header = path.join(REPO, "include/vmheap.h");
  const wasmFlags = ["--target=wasm32-wasi", "-O2", "-Wl,--import-memory", "-Wl,--export=__heap_base", "-Wl,--export-if-defined=errno"];
  const out = {};
  for (const p of programs) {
    const src = path.join(HERE, `${p}.c`);
    const h = crypto.createHash("sha256");
    for (const f of [src, path.join(HERE, "common.h"), header]) h.update(fs.readFileSync(f));
    h.update(`${clang.version}${wasmFlags.join(" ")} without wasm-opt`);
    const key = h.digest("hex").slice(0, 16);
    const files = { native: path.join(CACHE, `${p}-${key}`), dlmalloc: path.join(CACHE, `${p}-${key}-dlmalloc.wasm`), vmheap: path.join(CACHE, `${p}-${key}-vmheap.wasm`) };
    if (!fs.existsSync(files.native)) run(clang.name, ["-O2", src, "-o", files.native]);
    if (!fs.existsSync(files.dlmalloc)) run(clang.name, [...wasmFlags, src, "-o", files.dlmalloc]);
    if (!fs.existsSync(files.vmheap)) run(clang.name, [...wasmFlags, "-include", header, `-L${nolib}`, src, "-o", files.vmheap]);
    out[p] = files;
  }
  return { files: out, clang: clang.version };
}

// ───────────────────────────── running ─────────────────────────────

/** The program's own measurement: CPU time of its thread, and wall time, in ms. */
function parseTime(stderr) {
  const m = /time_ms ([\d.]+) wall_ms ([\d.]+)/.exec(stderr);
  if (!m) die(`no time_ms in the program's stderr:\n${stderr}`);
  return { ms: Number(m[1]), wallMs: Number(m[2]) };
}

function runNative(file) {
  const r = spawnSync(file, [], { encoding: "utf8" });
  if (r.status !== 0) die(`${file} exited with ${r.status}:\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr, ...parseTime(r.stderr), pages: null, footprint: null };
}

/**
 * One run of a wasm program under WASI: its output, the time it measured, its memory's final
 * size. With `start: false`, everything but the program itself (its instance made, not run).
 */
export function runWasm(lib, module, bytes, variant, { start = true } = {}) {
  const { Heap, memoryImport, exportedGlobal, wasmEngine } = lib;
  const lim = memoryImport(bytes);
  const memory = new WebAssembly.Memory({ initial: lim.initial, maximum: MAX_PAGES });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vmheap-wasm-"));
  const outFd = fs.openSync(path.join(tmp, "out"), "w+");
  const errFd = fs.openSync(path.join(tmp, "err"), "w+");
  const wasi = new WASI({ version: "preview1", args: ["prog"], env: {}, stdout: outFd, stderr: errFd, returnOnExit: true });
  const env = { memory };
  let heap = null;
  let instance;
  if (variant !== "dlmalloc") {
    heap = new Heap({ memory, base: exportedGlobal(bytes, "__heap_base"), dataModel: "wasm32" });
    Object.assign(env, heap.wasmImports({ ...(variant !== "vmheap-js" ? { engine: wasmEngine } : {}), instance: () => instance }));
    if (variant === "empty") {
      // malloc and free from an instance of their own that does nothing: one fixed block
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(emptyAllocator(heap.malloc(4096))), {});
      Object.assign(env, { malloc: exports.malloc, free: exports.free });
      heap = null;
    }
  }
  instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wasi.wasiImport, env });
  if (!start) {
    fs.closeSync(outFd);
    fs.closeSync(errFd);
    fs.rmSync(tmp, { recursive: true });
    return null;
  }
  const code = wasi.start({ exports: { memory, _start: instance.exports._start } });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  const stdout = fs.readFileSync(path.join(tmp, "out"), "utf8");
  const stderr = fs.readFileSync(path.join(tmp, "err"), "utf8");
  fs.rmSync(tmp, { recursive: true });
  if (code !== 0) die(`${variant} exited with ${code}:\n${stderr}`);
  let footprint = null;
  if (heap !== null) {
    heap.check(); // the program freed everything: the heap must be whole
    footprint = heap.mallocMaxFootprint();
  }
  return { stdout, stderr, ...parseTime(stderr), pages: memory.buffer.byteLength / 65536, footprint };
}

/**
 * The bytes of a module whose `malloc(n)` returns `block` whatever `n` is and whose `free(p)`
 * does nothing: the cost of calling an allocator in another instance, with no allocator.
 */
function emptyAllocator(block) {
  const sleb = (v) => {
    const out = [];
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return [...out, b];
      out.push(b | 0x80);
    }
  };
  const section = (id, body) => [id, body.length, ...body];
  const name = (t) => [t.length, ...Buffer.from(t)];
  const mallocBody = [0, 0x41, ...sleb(block | 0), 0x0b]; // no locals; i32.const block; end
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [2, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 1, 0x7f, 0]), // (i32) -> i32, (i32) -> ()
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...name("malloc"), 0, 0, ...name("free"), 0, 1]),
    ...section(10, [2, mallocBody.length, ...mallocBody, 2, 0, 0x0b]),
  ]);
}

const min = (a) => Math.min(...a);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};

// ───────────────────────────── the cost of one call ─────────────────────────────

const CALL_VARIANTS = ["native", "dlmalloc", "vmheap-wasm", "empty"];
const CALL_LABELS = { native: "native (glibc)", dlmalloc: "wasm, dlmalloc", "vmheap-wasm": "wasm, vmheap wasm engine", empty: "wasm, empty import" };

/** ns per call of each loop of calls.c, for each variant: the best of `runs` interleaved runs. */
function perCall(lib, files, runs) {
  const mods = {};
  for (const k of ["dlmalloc", "vmheap"]) {
    const bytes = fs.readFileSync(files[k]);
    mods[k] = { bytes, module: new WebAssembly.Module(bytes) };
  }
  const best = {};
  let stdout = null;
  for (let r = 0; r < runs; r++) {
    for (const v of CALL_VARIANTS) {
      const m = mods[v === "dlmalloc" ? "dlmalloc" : "vmheap"];
      const res = v === "native" ? runNative(files.native) : runWasm(lib, m.module, m.bytes, v);
      if (v !== "empty") {
        if (stdout !== null && res.stdout !== stdout) die(`calls ${v}: output differs`);
        stdout = res.stdout;
      }
      for (const [, loop, n, ms] of res.stderr.matchAll(/^calls (\w+) (\d+) ([\d.]+)$/gm)) {
        best[loop] ??= {};
        best[loop][v] = Math.min(best[loop][v] ?? Infinity, (Number(ms) * 1e6) / Number(n));
      }
    }
  }
  return best;
}

// ───────────────────────────── JavaScript callers ─────────────────────────────

/**
 * ns per malloc/free of a churn stream (4096 slots, sizes 8..4096 log-uniform) from JavaScript,
 * through `a.malloc` / `a.free`; the best of `rounds` timed passes after a warm-up.
 */
function jsChurn(make, stream, rounds) {
  const { slot, size } = stream;
  const L = slot.length;
  // One function per allocator (new Function), so that no call site is shared between them.
  const loop = new Function(
    "A",
    "slot",
    "size",
    "ptrs",
    `"use strict";
    let fails = 0;
    for (let i = 0; i < slot.length; i++) {
      const j = slot[i];
      const p = ptrs[j];
      if (p !== 0) { A.free(p); ptrs[j] = 0; }
      else { const q = A.malloc(size[i]); if (q === 0) fails++; ptrs[j] = q; }
    }
    for (let j = 0; j < ptrs.length; j++) if (ptrs[j] !== 0) { A.free(ptrs[j]); ptrs[j] = 0; }
    return fails;`,
  );
  const a = make();
  const ptrs = new Int32Array(stream.slots);
  loop(a, slot, size, ptrs); // warm-up
  // CPU time of the process (user + system): on a shared machine, wall time depends on who
  // else runs. After the warm-up there is little besides this thread to count.
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    if (loop(a, slot, size, ptrs) !== 0) die("a JavaScript churn run ran out of memory");
    const t = process.cpuUsage(t0);
    best = Math.min(best, (t.user + t.system) / 1e3);
  }
  return (best * 1e6) / L;
}

function jsCallers(lib, ops, rounds) {
  const { Heap, wasmEngine } = lib;
  const stream = genChurn(4096, ops, 0x5eed0002);
  const wasmMem = () => new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
  const kinds = [
    ["new Heap(): lp64 on a SharedArrayBuffer, JavaScript engine", () => new Heap({ maxBytes: 256 << 20 })],
    ["lp64 heap on a WebAssembly.Memory, JavaScript engine", () => new Heap({ memory: wasmMem(), base: 1024 })],
    ["lp64 heap on a WebAssembly.Memory, made with { engine: wasmEngine }", () => new Heap({ memory: wasmMem(), base: 1024, engine: wasmEngine })],
    ["wasm32 heap on a WebAssembly.Memory, JavaScript engine", () => new Heap({ memory: wasmMem(), base: 1024, dataModel: "wasm32" })],
    ["wasm32 heap on a WebAssembly.Memory, made with { engine: wasmEngine }", () => new Heap({ memory: wasmMem(), base: 1024, dataModel: "wasm32", engine: wasmEngine })],
    ["(the wasm engine's C-ABI exports called directly, wasm32)", () => new Heap({ memory: wasmMem(), base: 1024, dataModel: "wasm32" }).wasmImports({ engine: wasmEngine })],
  ];
  const results = kinds.map(([label]) => ({ label, ns: Infinity }));
  // Interleaved: each kind's best over several passes, the passes taken in turn.
  for (let pass = 0; pass < 3; pass++) {
    kinds.forEach(([, make], i) => {
      results[i].ns = Math.min(results[i].ns, jsChurn(make, stream, rounds));
    });
  }
  return results;
}

// ───────────────────────────── main ─────────────────────────────

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dist = path.join(REPO, "dist");
  if (!fs.existsSync(path.join(dist, "index.js")) || !fs.existsSync(path.join(dist, "wasm.js"))) die("no dist/: run `npm run build` first (or `npm run bench`)");
  const root = await import(pathToFileURL(path.join(dist, "index.js")).href);
  const sub = await import(pathToFileURL(path.join(dist, "wasm.js")).href);
  const lib = { ...root, wasmEngine: sub.wasmEngine };
  await root.compileWasmEngine(sub.wasmEngine);
  const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const L = [`Machine: ${machine}`];
  const R = {};
  const summary = {};
  let clang = null;
  const tc = o.jsOnly ? null : toolchain();
  if (tc !== null && tc.missing !== undefined) {
    L.push(`The C programs were not run: ${tc.missing}. They need clang and wasm-ld with the wasm32 target, wasi-libc and the wasm32 compiler runtime (Debian/Ubuntu: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32).`);
    L.push("");
  } else if (!o.jsOnly) {
    const built = build(o.calls ? [...o.only, "calls"] : o.only);
    clang = built.clang;
    const files = built.files;
    const modules = {};
    for (const p of o.only) {
      const load = (f) => {
        const bytes = fs.readFileSync(f);
        return { bytes, module: new WebAssembly.Module(bytes) };
      };
      modules[p] = { dlmalloc: load(files[p].dlmalloc), vmheap: load(files[p].vmheap) };
    }
    for (const p of o.only) R[p] = Object.fromEntries(VARIANTS.map((v) => [v, { ms: [], wallMs: [], stdout: null, pages: null, footprint: null }]));
    for (let r = 0; r < o.runs; r++) {
      for (const p of o.only) {
        for (const v of VARIANTS) {
          const m = modules[p][v === "dlmalloc" ? "dlmalloc" : "vmheap"];
          const res = v === "native" ? runNative(files[p].native) : runWasm(lib, m.module, m.bytes, v);
          const slot = R[p][v];
          if (slot.stdout !== null && slot.stdout !== res.stdout) die(`${p} ${v}: output differs between runs`);
          slot.stdout = res.stdout;
          slot.ms.push(res.ms);
          slot.wallMs.push(res.wallMs);
          slot.pages = res.pages;
          slot.footprint = res.footprint;
        }
        const outs = new Set(VARIANTS.map((v) => R[p][v].stdout));
        if (outs.size !== 1) die(`${p}: the variants printed different output:\n${VARIANTS.map((v) => `${v}: ${R[p][v].stdout}`).join("")}`);
      }
      process.stderr.write(`bench/wasm: round ${r + 1}/${o.runs} done\n`);
    }
    L[0] += `; ${clang}`;
    L.push(`Command: node --no-turbo-fast-api-calls bench/wasm/run.mjs --runs ${o.runs}. Time: CPU time of the program's thread around its work (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), in ms, best of ${o.runs} runs (median in brackets); every variant printed the same output. Peak pages: the wasm memory's size at the end, in 64 KiB pages.`);
    L.push("");
    L.push("| program | native (glibc) | wasm, dlmalloc | wasm, vmheap wasm engine | wasm, vmheap JS imports | vmheap wasm ÷ dlmalloc | vmheap JS ÷ dlmalloc | peak pages dlmalloc | peak pages vmheap | vmheap ÷ dlmalloc pages |");
    L.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const p of o.only) {
      const c = (v) => `${min(R[p][v].ms).toFixed(1)} (${median(R[p][v].ms).toFixed(1)})`;
      const ratio = (v) => min(R[p][v].ms) / min(R[p].dlmalloc.ms);
      const pages = R[p]["vmheap-wasm"].pages / R[p].dlmalloc.pages;
      summary[p] = { wasmRatio: ratio("vmheap-wasm"), jsRatio: ratio("vmheap-js"), pagesRatio: pages };
      L.push(
        `| ${p} | ${c("native")} | ${c("dlmalloc")} | ${c("vmheap-wasm")} | ${c("vmheap-js")} | ${ratio("vmheap-wasm").toFixed(2)}× | ${ratio("vmheap-js").toFixed(2)}× | ${R[p].dlmalloc.pages} | ${R[p]["vmheap-wasm"].pages} | ${pages.toFixed(3)} |`,
      );
    }
    const geo = (k) => Math.exp(o.only.reduce((sum, p) => sum + Math.log(summary[p][k]), 0) / o.only.length);
    L.push(`| geometric mean | | | | | ${geo("wasmRatio").toFixed(2)}× | ${geo("jsRatio").toFixed(2)}× | | | ${geo("pagesRatio").toFixed(3)} |`);
    L.push("");
  }
  if (tc !== null && tc.missing === undefined && o.calls) {
    const calls = perCall(lib, build(["calls"]).files.calls, o.runs);
    L.push(`The cost of one call: ns of CPU time per malloc or free in loops that do nothing else (calls.c), best of ${o.runs} runs; "empty import" is an allocator in an instance of its own that does nothing (its malloc returns one fixed block), the cost of calling into another instance by itself:`);
    L.push("");
    L.push(`| loop | ${CALL_VARIANTS.map((v) => CALL_LABELS[v]).join(" | ")} | vmheap wasm ÷ dlmalloc |`);
    L.push(`|---|${CALL_VARIANTS.map(() => "---:|").join("")}---:|`);
    for (const [loop, ns] of Object.entries(calls)) L.push(`| ${loop} | ${CALL_VARIANTS.map((v) => ns[v].toFixed(1)).join(" | ")} | ${(ns["vmheap-wasm"] / ns.dlmalloc).toFixed(2)}× |`);
    L.push("");
    summary.calls = calls;
  }
  const js = jsCallers(lib, o.jsOps, o.quick ? 2 : 5);
  L.push(`JavaScript callers: ns of CPU time per malloc or free, a churn of ${o.jsOps} calls (4096 slots, sizes 8..4096), best pass:`);
  L.push("");
  L.push("| engine | ns/op |");
  L.push("|---|---:|");
  for (const r of js) L.push(`| ${r.label} | ${r.ns.toFixed(1)} |`);
  console.log(L.join("\n"));
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ machine, clang, runs: o.runs, results: R, summary, js }, null, 2));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
