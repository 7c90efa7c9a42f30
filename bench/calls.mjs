#!/usr/bin/env node
// Machine instructions per churn call, plain heap against concurrent heap, counted by valgrind's
// callgrind: a figure that other work on the machine does not move (bench/workers.mjs's times
// do), for comparing two builds of the concurrent heap's call path.
//
//   npm run build && node bench/calls.mjs [--warmup N] [--calls N]     (needs valgrind)
//
// For each heap, node runs (under callgrind, --single-threaded so that the JIT compiles on the
// thread counted and the same way every run) the churn stream of bench/run.mjs in one thread:
// N warm-up calls (blocks of 100,000 with a task boundary after each, as a program's tasks end),
// then the counted calls. It runs twice, with and without the counted calls; the difference
// over their number is the instructions of one call with the JIT settled (the warm-up's
// compilation cancels out).

import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { genChurn, optionValue } from "./common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = pathToFileURL(path.resolve(HERE, "../dist/index.js")).href;

if (process.argv[2] === "--child") await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else main();

async function child(kind, warm, calls) {
  const { Heap, LinearMemory } = await import(DIST);
  const heap = kind === "plain" ? new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }) }) : new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20, shared: true }), concurrent: true });
  const ch = genChurn(1024, 1 << 16, 7);
  const ptr = new Float64Array(ch.slots);
  let pos = 0;
  const run = (n) => {
    const { slot, size } = ch;
    const len = slot.length;
    for (let k = 0; k < n; k++, pos++) {
      const j = slot[pos % len];
      if (ptr[j] !== 0) {
        heap.free(ptr[j]);
        ptr[j] = 0;
      } else ptr[j] = heap.malloc(size[pos % len]);
    }
  };
  for (let done = 0; done < warm; done += 100_000) {
    run(100_000);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  run(calls);
}

/** Instructions callgrind counted in a run of the child. */
function count(kind, warm, calls) {
  const out = path.join(process.env.TMPDIR ?? "/tmp", `vmheap-calls-${process.pid}-${kind}-${calls}.out`);
  const r = spawnSync("valgrind", ["--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${out}`, process.execPath, "--single-threaded", fileURLToPath(import.meta.url), "--child", kind, String(warm), String(calls)], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`valgrind failed (is it installed?): ${r.error?.message ?? r.stderr.slice(-400)}`);
  const m = /==\d+== Collected : (\d+)/.exec(r.stderr);
  if (m === null) throw new Error("callgrind printed no total");
  return Number(m[1]);
}

function main() {
  let warm = 1_000_000;
  let calls = 2_000_000;
  const argv = process.argv.slice(2);
  const die = (msg) => {
    console.error(`bench/calls: ${msg}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--warmup")) [warm, i] = ((v) => [Number(v[0]), v[1]])(optionValue(argv, i, die));
    else if (a.startsWith("--calls")) [calls, i] = ((v) => [Number(v[0]), v[1]])(optionValue(argv, i, die));
    else die(`unknown argument: ${a} (usage: node bench/calls.mjs [--warmup N] [--calls N])`);
  }
  const per = {};
  for (const kind of ["plain", "shared"]) {
    per[kind] = (count(kind, warm, calls) - count(kind, warm, 0)) / calls;
    console.log(`${kind.padEnd(6)} ${per[kind].toFixed(0)} instructions per churn call`);
  }
  console.log(`plain / shared: ${(per.plain / per.shared).toFixed(2)}× (${warm.toLocaleString("en")} warm-up calls, ${calls.toLocaleString("en")} counted)`);
}
