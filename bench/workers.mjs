#!/usr/bin/env node
// Many workers on one heap: throughput of worker_threads churning on heaps, all measured in one
// run so that the ratios compare like with like on a busy machine.
//
//   npm run build && node bench/workers.mjs [--quick] [--rounds N] [--json out.json]
//
// Each worker replays the churn stream of bench/run.mjs (1024 slots; a slot is freed if taken,
// else malloc(size), sizes log-uniform 8..4096) from its own seed, `OPS` calls, between a start
// barrier and an end stamp; a configuration's figure is all its workers' calls divided by the
// time from the first start to the last end (Mops/s). Configurations:
//
//   plain ×N     N workers, each on a heap of its own (not concurrent): the reference
//   shared ×N    N workers on one concurrent heap (per-thread arenas, the default)
//   lock ×N      N workers on one concurrent heap with { arenas: false } (one lock for all calls)
//   handoff ×2   one worker allocates, the other frees what it allocated (passed through a ring
//                in a SharedArrayBuffer): every free is a free of another thread's block
//
// Two figures for each: wall-clock (all calls over the time from the first start to the last
// end: what an application sees) and CPU (all the workers' calls over all the CPU time their
// threads used; Linux's /proc/thread-self/schedstat). On a machine busy with
// other work the wall-clock figure measures the machine as much as the heap; the CPU figure
// is the cost of a call, contention included, but not the time a thread spends asleep waiting
// for a lock (the "lock" configurations; their wall-clock figure shows it).
//
// Rounds run the configurations in turn (interleaved), and each figure is the best of its
// rounds. After every shared run the heap is checked (check(), mallinfo: every block freed,
// also those freed by another thread).

import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { churner, genChurn, optionValue } from "./common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = pathToFileURL(path.resolve(HERE, "../dist/index.js")).href;

if (!isMainThread) await worker();
else await main();

// ───────────────────────────── worker side ─────────────────────────────

async function worker() {
  const { role, buffer, ops, warm, seed, sync, ring, maxBytes } = workerData;
  const { Heap, LinearMemory } = await import(DIST);
  const heap = buffer ? Heap.attach(buffer) : new Heap({ memory: new LinearMemory({ maxBytes }) });
  const s = new Int32Array(sync); // [0]: workers ready, [1]: go, [2]: errors
  const report = (t0, t1, cpu, extra = {}) => parentPort.postMessage({ t0, t1, cpu, ops, threadId: heap.threadId, ...extra });
  if (role === "churn") {
    const ch = genChurn(1024, 1 << 16, seed);
    const { run, ptr } = churner(heap, ch);
    // Warm-up, the same calls for every configuration: the JIT compiles (and recompiles) the
    // heap's code while it runs, and the arena takes its first segment. In blocks with a task
    // boundary after each, as a program's tasks end: one long warm-up loop is compiled on the
    // stack (OSR), and the timed call after it, entering the loop anew, ran the concurrent heap
    // at twice its settled cost for its first million calls (bench/warmup.mjs shows the JIT
    // settling).
    for (let done = 0; done < warm; done += 100_000) {
      run(Math.min(100_000, warm - done));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    Atomics.add(s, 0, 1);
    Atomics.notify(s, 0);
    while (Atomics.load(s, 1) === 0) Atomics.wait(s, 1, 0, 50);
    const c0 = cpuNs();
    const t0 = performance.now();
    run(ops);
    const t1 = performance.now();
    const cpu = cpuNs() - c0;
    for (let j = 0; j < ptr.length; j++) if (ptr[j] !== 0) heap.free(ptr[j]);
    report(t0, t1, cpu);
    return;
  }
  // handoff: a ring of pointers; the producer allocates (and writes a byte), the consumer checks and frees.
  const r = new Int32Array(ring); // [0]: head (written by producer), [1]: tail (consumer), then slots
  const slots = r.length - 2;
  const u8 = new Uint8Array(buffer);
  Atomics.add(s, 0, 1);
  Atomics.notify(s, 0);
  while (Atomics.load(s, 1) === 0) Atomics.wait(s, 1, 0, 50);
  const c0 = cpuNs();
  const t0 = performance.now();
  let bad = 0;
  if (role === "producer") {
    let x = seed >>> 0;
    for (let i = 0; i < ops; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const n = 8 + ((x >>> 0) % 1000);
      const p = heap.malloc(n);
      u8[p] = i & 0xff;
      while (Atomics.load(r, 0) - Atomics.load(r, 1) >= slots) Atomics.wait(r, 1, Atomics.load(r, 1), 1);
      const h = Atomics.load(r, 0);
      r[2 + (h % slots)] = p;
      Atomics.store(r, 0, h + 1);
      Atomics.notify(r, 0);
    }
  } else {
    for (let i = 0; i < ops; i++) {
      const t = Atomics.load(r, 1);
      while (Atomics.load(r, 0) === t) Atomics.wait(r, 0, t, 1);
      const p = r[2 + (t % slots)];
      if (u8[p] !== (i & 0xff)) bad++;
      heap.free(p);
      Atomics.store(r, 1, t + 1);
      Atomics.notify(r, 1);
    }
  }
  report(t0, performance.now(), cpuNs() - c0, { bad });
}

/** Nanoseconds this thread has run on a CPU (Linux), else NaN. */
function cpuNs() {
  try {
    return Number(fs.readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

// ───────────────────────────── main side ─────────────────────────────

function parseArgs(argv) {
  const o = { quick: false, rounds: 0, warmup: -1, json: null, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const [v, last] = optionValue(argv, i, die);
      i = last;
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--rounds" || a.startsWith("--rounds=")) o.rounds = Number(val());
    else if (a === "--warmup" || a.startsWith("--warmup=")) o.warmup = Number(val());
    else if (a === "--json" || a.startsWith("--json=")) o.json = val();
    else if (a === "--only" || a.startsWith("--only=")) o.only = val().split(",");
    else if (a === "--help" || a === "-h") {
      console.log("usage: node bench/workers.mjs [--quick] [--rounds N] [--json out.json] [--only 'plain ×1,shared ×1']   (after npm run build)");
      process.exit(0);
    } else die(`unknown argument: ${a}`);
  }
  return o;
}

function die(msg) {
  console.error(`bench/workers: ${msg}`);
  process.exit(2);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(fileURLToPath(DIST))) die("dist/index.js is missing: run `npm run build` first");
  const { Heap, LinearMemory } = await import(DIST);
  const OPS = args.quick ? 200_000 : 1_000_000;
  // Warm-up: twice the timed calls. A worker's first million calls run at 1.3-3 times the cost
  // of the later ones while V8 compiles and recompiles the heap's code (on its own threads, which
  // take the cores from the workers): the concurrent heap's code, larger, takes longer. Timed
  // after a shorter warm-up, a run measured that compiling as much as the heap.
  const WARM = args.warmup >= 0 ? args.warmup : OPS * 2;
  const ROUNDS = args.rounds || (args.quick ? 2 : 7);
  const configs = [
    { name: "plain ×1", kind: "plain", n: 1 },
    { name: "shared ×1", kind: "shared", n: 1 },
    { name: "lock ×1", kind: "lock", n: 1 },
    { name: "plain ×2", kind: "plain", n: 2 },
    { name: "shared ×2", kind: "shared", n: 2 },
    { name: "lock ×2", kind: "lock", n: 2 },
    { name: "shared ×4", kind: "shared", n: 4 },
    { name: "shared ×8", kind: "shared", n: 8 },
    { name: "handoff ×2", kind: "handoff", n: 2 },
  ].filter((c) => args.only === null || args.only.includes(c.name));
  const best = new Map(configs.map((c) => [c.name, 0]));
  const bestCpu = new Map(configs.map((c) => [c.name, 0]));
  const problems = [];
  const load0 = os.loadavg();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of configs) {
      const { mops, cpuMops } = await runConfig(c, { Heap, LinearMemory, OPS, WARM, problems });
      best.set(c.name, Math.max(best.get(c.name), mops));
      bestCpu.set(c.name, Math.max(bestCpu.get(c.name), cpuMops));
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${c.name}: ${mops.toFixed(2)} Mops/s, ${cpuMops.toFixed(2)} per CPU\n`);
    }
  }
  const load1 = os.loadavg();
  const b = (k) => best.get(k) ?? NaN;
  const bc = (k) => bestCpu.get(k) ?? NaN;
  const ratios = [
    ["one worker, shared heap / plain heap", "shared ×1", "plain ×1", "≥ 0.8"],
    ["two workers, one shared heap / two plain heaps", "shared ×2", "plain ×2", "≥ 0.85"],
    ["four workers / two workers, shared heap", "shared ×4", "shared ×2", "no collapse"],
    ["eight workers / two workers, shared heap", "shared ×8", "shared ×2", "no collapse"],
    ["two workers, one lock (arenas: false) / two plain heaps", "lock ×2", "plain ×2", "(one lock for all)"],
    ["handoff (every free of another thread's block) / two plain heaps", "handoff ×2", "plain ×2", ""],
  ].map(([what, a, z, target]) => ({ what, target, wall: b(a) / b(z), cpu: bc(a) / bc(z) }));
  const L = [];
  L.push(`# Many workers on one heap (bench/workers.mjs${args.quick ? " --quick" : ""})`);
  L.push("");
  L.push(`- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, node ${process.version}; load average ${load0[0].toFixed(1)} before, ${load1[0].toFixed(1)} after`);
  L.push(`- ${OPS.toLocaleString("en")} churn calls per worker, ${ROUNDS} rounds, best round of each`);
  L.push("");
  L.push("| configuration | Mops/s, wall clock (all workers) | Mops/s per CPU-second (all workers' calls / their CPU time) |");
  L.push("|---|---:|---:|");
  for (const c of configs) L.push(`| ${c.name} | ${b(c.name).toFixed(2)} | ${bc(c.name).toFixed(2)} |`);
  L.push("");
  L.push("| ratio | wall clock | per CPU | target |");
  L.push("|---|---:|---:|---|");
  for (const r of ratios) L.push(`| ${r.what} | ${r.wall.toFixed(2)}× | ${r.cpu.toFixed(2)}× | ${r.target} |`);
  L.push("");
  L.push(problems.length === 0 ? "Checks: every shared heap passed check() after its run, with every block freed (mallinfo), none lost or damaged." : `Problems:\n${problems.map((p) => `- ${p}`).join("\n")}`);
  console.log(L.join("\n"));
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ ops: OPS, rounds: ROUNDS, load: [load0, load1], wall: Object.fromEntries(best), cpu: Object.fromEntries(bestCpu), ratios, problems }, null, 2));
  if (problems.length > 0) process.exitCode = 1;
}

async function runConfig(c, { Heap, LinearMemory, OPS, WARM, problems }) {
  const maxBytes = 256 << 20;
  const sync = new SharedArrayBuffer(16);
  const s = new Int32Array(sync);
  let heap = null;
  if (c.kind === "shared" || c.kind === "handoff") heap = new Heap({ memory: new LinearMemory({ maxBytes }), concurrent: true });
  if (c.kind === "lock") heap = new Heap({ memory: new LinearMemory({ maxBytes }), concurrent: true, arenas: false });
  const buffer = heap?.memory.buffer;
  const ring = c.kind === "handoff" ? new SharedArrayBuffer(4 * (2 + 1024)) : undefined;
  const workers = [];
  const done = [];
  for (let k = 0; k < c.n; k++) {
    const role = c.kind === "handoff" ? (k === 0 ? "producer" : "consumer") : "churn";
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { role, buffer, warm: WARM, ops: c.kind === "handoff" ? OPS >> 1 : OPS, seed: 0x5eed0002 + 7919 * k, sync, ring, maxBytes: 64 << 20 } });
    workers.push(w);
    done.push(
      new Promise((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      }),
    );
  }
  // (Waiting here without blocking: a worker's start-up needs this thread's event loop.)
  while (Atomics.load(s, 0) < c.n) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(s, 1, 1);
  Atomics.notify(s, 1);
  const results = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  // A worker that ended keeps its arena (and may hold its lock): recover gives both back.
  if (heap !== null) for (const r of results) heap.recover(r.threadId);
  const t0 = Math.min(...results.map((r) => r.t0));
  const t1 = Math.max(...results.map((r) => r.t1));
  const ops = results.reduce((a, r) => a + r.ops, 0);
  for (const r of results) if (r.bad) problems.push(`${c.name}: ${r.bad} blocks lost their first byte between the threads`);
  if (heap !== null) {
    try {
      heap.check();
      const info = heap.mallinfo();
      // Every block was freed: what is in use is the heap's own (header, arenas' headers, logs and bitmaps).
      const own = heap.mallinfo().uordblks;
      if (info.uordblks + info.fordblks !== info.arena) problems.push(`${c.name}: mallinfo totals disagree`);
      if (own > 1 << 20) problems.push(`${c.name}: ${own} bytes still in use after every block was freed`);
    } catch (e) {
      problems.push(`${c.name}: ${e.message}`);
    }
  }
  // All the workers' calls over all the CPU time their threads used: the cost of a call,
  // whatever the number of workers (with more workers than cores, wall clock cannot tell).
  const cpuMops = (ops / results.reduce((a, r) => a + r.cpu, 0)) * 1000;
  return { mops: ops / (t1 - t0) / 1000, cpuMops };
}
