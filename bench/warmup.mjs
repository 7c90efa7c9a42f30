#!/usr/bin/env node
// How a fresh worker's calls speed up while V8 compiles the heap's code: the churn stream of
// bench/workers.mjs in one new worker, on a plain heap and on a concurrent heap (made by the
// main thread, attached by the worker, as bench/workers.mjs does), timed in chunks of calls.
//
//   npm run build && node bench/warmup.mjs [--chunks N] [--chunk CALLS] [--runs N]
//
// Prints, for each run, nanoseconds per call in each consecutive chunk. The first chunks are
// slow while the JIT compiles; bench/workers.mjs times its calls only after its warm-up.

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { churner, genChurn, optionValue } from "./common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = pathToFileURL(path.resolve(HERE, "../dist/index.js")).href;
const { Heap, LinearMemory } = await import(DIST);
const SEED = 0x5eed0002; // bench/workers.mjs's first worker's

if (isMainThread) await main();
else worker();

function worker() {
  const { buffer, chunks, chunk } = workerData;
  const heap = buffer ? Heap.attach(buffer) : new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }) });
  const ch = genChurn(1024, 1 << 16, SEED);
  const { run } = churner(heap, ch);
  const ns = [];
  for (let r = 0; r < chunks; r++) {
    const t = process.hrtime.bigint();
    run(chunk);
    ns.push(Number(process.hrtime.bigint() - t) / chunk);
  }
  parentPort.postMessage(ns);
}

async function main() {
  const o = { chunks: 8, chunk: 500_000, runs: 3 };
  const argv = process.argv.slice(2);
  const die = (msg) => {
    console.error(`bench/warmup: ${msg}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, "").split("=")[0];
    if (!(key in o)) die(`unknown argument: ${argv[i]} (usage: node bench/warmup.mjs [--chunks N] [--chunk CALLS] [--runs N])`);
    const [v, next] = optionValue(argv, i, die);
    o[key] = Number(v);
    if (!Number.isInteger(o[key]) || o[key] < 1) die(`--${key} needs a positive integer, got ${v}`);
    i = next;
  }
  console.log(`ns per churn call in a new worker, chunks of ${o.chunk.toLocaleString("en")} calls`);
  for (let r = 0; r < o.runs; r++) {
    for (const kind of ["plain", "concurrent"]) {
      const buffer = kind === "concurrent" ? new Heap({ memory: new LinearMemory({ maxBytes: 256 << 20 }), concurrent: true }).memory.buffer : undefined;
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { buffer, chunks: o.chunks, chunk: o.chunk } });
      const ns = await new Promise((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      });
      await w.terminate();
      console.log(`${kind.padEnd(10)} ${ns.map((x) => x.toFixed(0).padStart(4)).join(" ")}`);
    }
  }
}
