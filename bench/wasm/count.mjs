#!/usr/bin/env node
// Machine instructions of the C programs of bench/wasm, counted by valgrind's callgrind: a
// figure that other work on the machine does not move, for comparing two builds of the wasm
// engine (times on a shared machine move by several percent from run to run).
//
//   npm run build && node bench/wasm/count.mjs [--only tree,mix] [--engine a.ts,b.ts] [--no-dlmalloc] [--engine-only]
//
// Each program runs once, under callgrind, in `node --no-turbo-fast-api-calls --single-threaded
// --no-liftoff` (V8 compiles every wasm function with its optimizing compiler at once, on the
// thread counted, the same way each run), less the same process that stops before the program
// runs (its instance made): millions of instructions for one run of the program, its own work
// included. Variants: the program on wasi-libc's dlmalloc, and on the engine of each `--engine`
// file (an engine.generated.ts, as `npm run gen` writes it; default: this checkout's), with the
// same program module and the package in dist/.
//
// With --engine-only: the instructions run in the engine's own functions, for each engine (one
// run each, no subtraction): V8 prints the machine code of every wasm function it compiles
// (--print-wasm-code), callgrind counts each instruction (--dump-instr=yes), and the counts
// that fall in the engine's functions are added up. The engine's binary has no name section
// (its functions print as wasm-function[i]); the C programs' functions have names.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { PROGRAMS, build, runWasm, toolchain } from "./run.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const ENGINE = path.join(REPO, "src/heap/wasm/engine.generated.ts");

function die(msg) {
  console.error(`bench/wasm/count: ${msg}`);
  process.exit(2);
}

/** The package in dist/, with the engine of `engineFile` as its wasmEngine. */
async function library(engineFile) {
  const dist = path.join(REPO, "dist");
  if (!fs.existsSync(path.join(dist, "index.js"))) die("no dist/: run `npm run build` first");
  const root = await import(pathToFileURL(path.join(dist, "index.js")).href);
  const sub = await import(pathToFileURL(path.join(dist, "wasm.js")).href);
  const js = ts.transpileModule(fs.readFileSync(engineFile, "utf8"), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const gen = await import(`data:text/javascript;base64,${Buffer.from(js).toString("base64")}`);
  const wasmEngine = { ...sub.wasmEngine, hash: gen.ENGINE_HASH, wasm: gen.ENGINE_WASM, ops: gen.ENGINE_OPS, messages: gen.ENGINE_MESSAGES };
  await root.compileWasmEngine(wasmEngine);
  return { ...root, wasmEngine };
}

/** In the process counted: one run of `program` on `variant` (or all but the run, with `stop`). */
async function child(program, variant, engineFile, stop) {
  const lib = await library(engineFile);
  const files = build([program]).files[program];
  const bytes = fs.readFileSync(variant === "dlmalloc" ? files.dlmalloc : files.vmheap);
  runWasm(lib, new WebAssembly.Module(bytes), bytes, variant, { start: !stop });
}

/**
 * Instructions callgrind counted in the engine's functions in one run of the child: { total,
 * [function]: count }.
 */
function countEngine(program, engineFile) {
  // The engine's functions are told by their having no name: the program's must have theirs.
  const mod = new WebAssembly.Module(fs.readFileSync(build([program]).files[program].vmheap));
  if (WebAssembly.Module.customSections(mod, "name").length === 0) die(`${program}'s module has no name section: its functions would be counted as the engine's`);
  const out = path.join(process.env.TMPDIR ?? "/tmp", `vmheap-count-${process.pid}.out`);
  const args = ["--tool=callgrind", "--smc-check=all-non-file", "--dump-instr=yes", `--callgrind-out-file=${out}`, process.execPath, "--no-turbo-fast-api-calls", "--single-threaded", "--no-liftoff", "--print-wasm-code"];
  const r = spawnSync("valgrind", [...args, fileURLToPath(import.meta.url), "--child", program, "vmheap-wasm", engineFile, "run"], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) die(`valgrind failed (is it installed?): ${r.error?.message ?? r.stderr.slice(-600)}`);
  // The address ranges of the engine's functions, from V8's listing of each function's code.
  const fns = [];
  let cur = null;
  for (const line of r.stdout.split("\n")) {
    const name = /^name: (.*)/.exec(line);
    if (name) {
      cur = /^wasm-function\[\d+\]$/.test(name[1]) ? { name: name[1], lo: Infinity, hi: 0 } : null;
      if (cur !== null) fns.push(cur);
      continue;
    }
    const ins = /^0x([0-9a-f]+)\s+[0-9a-f]+\s/.exec(line);
    if (ins && cur !== null) {
      const a = parseInt(ins[1], 16);
      cur.lo = Math.min(cur.lo, a);
      cur.hi = Math.max(cur.hi, a);
    }
  }
  fns.sort((a, b) => a.lo - b.lo);
  const find = (a) => {
    let lo = 0;
    let hi = fns.length - 1;
    let f = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (fns[mid].lo <= a) (f = fns[mid]), (lo = mid + 1);
      else hi = mid - 1;
    }
    return f !== null && a <= f.hi ? f : null;
  };
  // callgrind's per-instruction costs: "address cost" lines (addresses absolute, or relative to
  // the line before: +n, -n, *), the line after a calls= line being the call's inclusive cost.
  const res = { total: 0 };
  let addr = 0;
  let skip = false;
  for (const line of fs.readFileSync(out, "utf8").split("\n")) {
    if (line.startsWith("calls=")) {
      skip = true;
      continue;
    }
    const m = /^(0x[0-9a-f]+|\+\d+|-\d+|\*)\s+(?:\S+\s+)?(\d+)$/.exec(line);
    if (!m) continue;
    const at = m[1];
    if (at.startsWith("0x")) addr = parseInt(at, 16);
    else if (at[0] === "+") addr += Number(at.slice(1));
    else if (at[0] === "-") addr -= Number(at.slice(1));
    if (skip) {
      skip = false;
      continue;
    }
    const f = find(addr);
    if (f === null) continue;
    res.total += Number(m[2]);
    res[f.name] = (res[f.name] ?? 0) + Number(m[2]);
  }
  fs.rmSync(out, { force: true });
  return res;
}

/** Instructions callgrind counted in one run of the child. */
function count(program, variant, engineFile, stop) {
  const out = path.join(process.env.TMPDIR ?? "/tmp", `vmheap-count-${process.pid}.out`);
  const args = ["--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${out}`, process.execPath, "--no-turbo-fast-api-calls", "--single-threaded", "--no-liftoff"];
  const r = spawnSync("valgrind", [...args, fileURLToPath(import.meta.url), "--child", program, variant, engineFile, stop ? "stop" : "run"], { encoding: "utf8", maxBuffer: 1 << 26 });
  fs.rmSync(out, { force: true });
  if (r.error || r.status !== 0) die(`valgrind failed (is it installed?): ${r.error?.message ?? r.stderr.slice(-600)}`);
  const m = /==\d+== Collected : (\d+)/.exec(r.stderr);
  if (m === null) die("callgrind printed no total");
  return Number(m[1]);
}

function main() {
  const argv = process.argv.slice(2);
  let only = PROGRAMS;
  let engines = [ENGINE];
  let dlmalloc = true;
  let engineOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i] ?? die(`${a} needs a value`));
    if (a === "--engine-only") engineOnly = true;
    else if (a.startsWith("--only")) only = val().split(",").filter(Boolean);
    else if (a.startsWith("--engine")) engines = val().split(",").filter(Boolean).map((f) => path.resolve(f));
    else if (a === "--no-dlmalloc") dlmalloc = false;
    else die(`unknown argument: ${a} (usage: node bench/wasm/count.mjs [--only tree,mix] [--engine a.ts,b.ts] [--no-dlmalloc])`);
  }
  const tc = toolchain();
  if (tc.missing !== undefined) die(`the C programs cannot be built: ${tc.missing}`);
  if (engineOnly) {
    console.log("millions of instructions run in the engine's functions (callgrind), one run of each program; the three largest functions in brackets:");
    console.log(`| program | ${engines.map((f) => path.relative(REPO, f)).join(" | ")} |`);
    console.log(`|---|${engines.map(() => "---:|").join("")}`);
    for (const p of only) {
      const cells = engines.map((f) => {
        const { total, ...per } = countEngine(p, f);
        const top = Object.entries(per).sort((x, y) => y[1] - x[1]).slice(0, 3);
        return `${(total / 1e6).toFixed(1)} (${top.map(([n, c]) => `${n} ${(c / 1e6).toFixed(1)}`).join(", ")})`;
      });
      console.log(`| ${p} | ${cells.join(" | ")} |`);
    }
    return;
  }
  const variants = [...(dlmalloc ? [["dlmalloc", "dlmalloc", ENGINE]] : []), ...engines.map((f) => [path.relative(REPO, f), "vmheap-wasm", f])];
  console.log(`millions of instructions per run (callgrind; the run less the same process stopped before the program):`);
  console.log(`| program | ${variants.map(([label]) => label).join(" | ")} |`);
  console.log(`|---|${variants.map(() => "---:|").join("")}`);
  for (const p of only) {
    const cells = variants.map(([, v, f]) => ((count(p, v, f, false) - count(p, v, f, true)) / 1e6).toFixed(1));
    console.log(`| ${p} | ${cells.join(" | ")} |`);
  }
}

if (process.argv[2] === "--child") await child(process.argv[3], process.argv[4], process.argv[5], process.argv[6] === "stop");
else main();
