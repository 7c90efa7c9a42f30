/**
 * The forgery fuzzer (helpers/forgery.ts) against the default heap: between calls it writes
 * random and forged bytes into freed memory, into live blocks and just past them; the heap must
 * keep its promise (docs/heap.md, "What the heap guarantees"), and so must a heap attached to a
 * copy of the memory whose chunk map was forged. It runs in a worker with a
 * deadline, so a call that hangs fails the test instead of hanging the run.
 *
 *   FORGERY_OPS=1000000 FC_SEED=1 npx vitest run test/heap/forgery.fuzz.test.ts
 *
 * runs a long campaign (10^6 operations in the 64-bit model, a third of that in each 32-bit one);
 * the default is a short one.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ForgeryReport } from "./helpers/forgery.js";
import { fcSeed } from "./helpers/heapKit.js";
import { runIsolated, type JobResult } from "./helpers/isolated.js";

const OPS = Number(process.env.FORGERY_OPS ?? 15_000);
const seed = fcSeed("forgery fuzzer");
const deadline = Math.max(60_000, OPS * 5);

/**
 * The 64-bit model takes the written-out fast paths; the 32-bit ones the general path. Then the
 * wasm engine (the heap made with `engine`: every call runs on it), and FastPathHeap in
 * JavaScript (free's common cases written out for any data model, which the wasm engine runs).
 */
const MODELS = [
  ["lp64", OPS, "js"],
  ["wasm32", Math.ceil(OPS / 3), "js"],
  ["ilp32", Math.ceil(OPS / 3), "js"],
  ["wasm32", Math.ceil(OPS / 3), "wasm"],
  ["lp64", Math.ceil(OPS / 3), "wasm"],
  ["wasm32", Math.ceil(OPS / 3), "fastpath"],
  ["ilp32", Math.ceil(OPS / 3), "fastpath"],
] as const;

let results = new Map<string, JobResult>();
beforeAll(async () => {
  results = await runIsolated(MODELS.map(([dataModel, ops, engine]) => ({ id: `${dataModel} ${engine}`, name: "forgery" as const, params: { seed, ops, dataModel, engine }, timeoutMs: deadline })));
}, MODELS.length * deadline + 60_000);

describe(`forged bytes in free and live memory (seed ${seed})`, () => {
  it.each(MODELS)("%s, %d operations, %s engine: no block overlaps a live one or leaves the arena, no write below base or above the limit, every error a HeapCorruptionError thrown before anything changed, no hang", (dataModel, ops, engine) => {
    const result = results.get(`${dataModel} ${engine}`);
    if (result === undefined) return expect.fail("the fuzzer did not run");
    if (result.status === "hung") return expect.fail(`the fuzzer hung (no answer within ${result.timeoutMs} ms): rerun with FC_SEED=${seed}`);
    if (result.status === "error") return expect.fail(`the fuzzer failed: ${result.message}`);
    const r = result.result as ForgeryReport;
    console.log(`forgery fuzzer (${dataModel}, ${engine} engine, seed ${seed}): ${r.ops} operations, ${r.forgeries} forgeries, ${r.detected} detected (HeapCorruptionError), ${r.heaps} heaps, ${r.crafted} crafted copies attached (${r.refused} refused), ${r.violations.length} broken promises`);
    expect(r.violations, `FC_SEED=${seed}`).toEqual([]);
    expect(r.ops).toBe(ops);
    // The forgeries did reach the heap: some were detected.
    expect(r.detected).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
  });
});
