#!/usr/bin/env node
// A Rust program on the allocator Rust ships for wasm32 against vmheap's heap.
//
//   node bench/wasm/rust.mjs [--runs N] [--rounds R]
//
// scripts/wasm/rust/program.rs (std's Vec, String, BTreeMap, Box, zeroed and 64-byte-aligned
// blocks, formatting) is built for wasm32-unknown-unknown twice: as it is, with Rust's own
// allocator (its port of dlmalloc, inside the module, direct calls), and with the
// `#[global_allocator]` of docs/wasm.md, whose calls go to vmheap: its wasm engine
// (wasm-to-wasm calls into another instance) or its JavaScript engine (wasm → JS calls). Each
// variant runs `run(rounds)` in this process, interleaved round-robin, best of N runs (CPU time
// of this thread, which a shared machine disturbs less than wall time); all must return the same
// checksum. Peak memory is the module's memory at the end, in 64 KiB pages.
//
// Needs, for this benchmark only: Debian's rustc and the wasm32 standard library
// (apt-get install rustc libstd-rust-dev-wasm32), and a built package (npm run build).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rustSnippet } from "../../scripts/wasm/rust/snippet.mjs";
import { optionValue } from "../common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const RUSTC = process.env.RUSTC ?? "/usr/bin/rustc";

function die(msg) {
  console.error(`bench/wasm/rust: ${msg}`);
  process.exit(2);
}

const o = { runs: 9, rounds: 100 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const count = () => {
    const [v, last] = optionValue(argv, i, die);
    i = last;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) die(`${a} takes a whole number from 1, got ${v}`);
    return n;
  };
  if (a === "--runs" || a.startsWith("--runs=")) o.runs = count();
  else if (a === "--rounds" || a.startsWith("--rounds=")) o.rounds = count();
  else die(`unknown argument: ${a}`);
}
if (!fs.existsSync(RUSTC)) {
  console.log(`bench/wasm/rust: skipped, no ${RUSTC} (apt-get install rustc libstd-rust-dev-wasm32, or set RUSTC)`);
  process.exit(0);
}
if (!fs.existsSync(path.join(REPO, "dist/wasm.js"))) die("build the package first: npm run build");

const { Heap, exportedGlobal, memoryImport } = await import(pathToFileURL(path.join(REPO, "dist/index.js")).href);
const { wasmEngine } = await import(pathToFileURL(path.join(REPO, "dist/wasm.js")).href);

/** Builds program.rs for wasm32, with `allocator` pasted at its marker (or nothing: Rust's own). */
function build(tmp, name, allocator) {
  const src = fs.readFileSync(path.join(REPO, "scripts/wasm/rust/program.rs"), "utf8").replace("// -- allocator --\n", allocator);
  const rs = path.join(tmp, `${name}.rs`);
  const out = path.join(tmp, `${name}.wasm`);
  fs.writeFileSync(rs, src);
  const link = allocator === "" ? [] : ["-C", "link-arg=--import-memory", "-C", "link-arg=--export=__heap_base"];
  const r = spawnSync(RUSTC, ["--edition", "2021", "-O", "--crate-type", "cdylib", "--target", "wasm32-unknown-unknown", ...link, "-C", "strip=symbols", "-o", out, rs], { encoding: "utf8" });
  if (r.status !== 0) die(`rustc failed:\n${r.stderr}`);
  return fs.readFileSync(out);
}

const snippet = rustSnippet(REPO);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vmheap-rust-"));
const own = build(tmp, "own", "");
const vm = build(tmp, "vmheap", snippet);
fs.rmSync(tmp, { recursive: true });

function instantiate(variant) {
  if (variant === "rust-dlmalloc") {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(own), {});
    return { run: instance.exports.run, memory: instance.exports.memory };
  }
  const memory = new WebAssembly.Memory({ initial: memoryImport(vm).initial, maximum: 16384 });
  const heap = new Heap({ memory, base: exportedGlobal(vm, "__heap_base"), dataModel: "wasm32", ...(variant === "vmheap-wasm" ? { engine: wasmEngine } : {}) });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(vm), { env: { memory, ...heap.wasmImports() } });
  return { run: instance.exports.run, memory, heap };
}

const VARIANTS = ["rust-dlmalloc", "vmheap-wasm", "vmheap-js"];
const best = Object.fromEntries(VARIANTS.map((v) => [v, Infinity]));
const all = Object.fromEntries(VARIANTS.map((v) => [v, []]));
const pages = {};
let checksum = null;
for (let run = 0; run < o.runs; run++) {
  for (const v of VARIANTS) {
    // A fresh instance each run: the heap starts empty, as a program does.
    const m = instantiate(v);
    const t0 = process.cpuUsage();
    const sum = m.run(o.rounds);
    const d = process.cpuUsage(t0);
    const ms = (d.user + d.system) / 1000;
    if (checksum === null) checksum = sum;
    else if (sum !== checksum) die(`${v} computed ${sum}, not ${checksum}`);
    m.heap?.check();
    all[v].push(ms);
    best[v] = Math.min(best[v], ms);
    pages[v] = m.memory.buffer.byteLength / 65536;
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rustc = spawnSync(RUSTC, ["--version"], { encoding: "utf8" }).stdout.trim();
console.log(`Rust program (scripts/wasm/rust/program.rs, run(${o.rounds})), ${rustc}, best of ${o.runs} (median), CPU ms; checksum ${BigInt.asUintN(64, checksum)} on every variant`);
console.log(`machine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}, Node ${process.version}`);
console.log("| allocator | ms | ÷ Rust's dlmalloc | peak pages |");
console.log("|---|---:|---:|---:|");
for (const v of VARIANTS) {
  console.log(`| ${v} | ${best[v].toFixed(1)} (${median(all[v]).toFixed(1)}) | ${(best[v] / best["rust-dlmalloc"]).toFixed(2)}× | ${pages[v]} |`);
}
