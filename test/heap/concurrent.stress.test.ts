import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { expect, it } from "vitest";
import { Heap, LinearMemory } from "../../src/index.js";

// The workers load the built package (dist/), as an application's workers would.
const dist = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const workerFile = fileURLToPath(new URL("./fixtures/stressWorker.mjs", import.meta.url));

interface Stats {
  id: number;
  allocated: number;
  sent: number;
  received: number;
  freedOthers: number;
  reallocOthers: number;
  broken: number;
  threadId: number;
}

it.skipIf(!existsSync(dist))("four workers hand blocks to one another: every block's bytes intact, every free counted, check() at the end", async () => {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 256 << 20 }), concurrent: true });
  const buffer = heap.memory.buffer as SharedArrayBuffer;
  const workers = 4;
  const ringSlots = 64;
  const rings = new SharedArrayBuffer(4 * (workers * workers * (2 + 2 * ringSlots) + workers));
  // This thread opens the heap and reads the whole of it while they run: every arena's lock in
  // turn, its remote frees freed first.
  let reads = 0;
  const readerErrors: unknown[] = [];
  const reader = setInterval(() => {
    try {
      // A handle opened while the workers hold and release locks: attach reads the lock words
      // of a live heap, and must not take a word changing under it for a bad one.
      Heap.attach(buffer).mallocUsableSize(0);
      heap.check();
      const info = heap.mallinfo();
      if (info.uordblks + info.fordblks !== info.arena) throw new Error("mallinfo totals disagree");
      reads++;
    } catch (e) {
      readerErrors.push(e);
    }
  }, 2);
  const results = await Promise.all(
    Array.from(
      { length: workers },
      (_, id) =>
        new Promise<Stats>((resolve, reject) => {
          const w = new Worker(workerFile, { workerData: { distUrl: pathToFileURL(dist).href, buffer, rings, id, workers, rounds: 30_000, ringSlots } });
          // (Its report, then its exit: a thread that ended has given back what it held.)
          let stats: Stats | undefined;
          w.once("message", (m: Stats) => (stats = m));
          w.once("exit", () => (stats === undefined ? reject(new Error(`worker ${id} ended without a report`)) : resolve(stats)));
          w.once("error", reject);
        }),
    ),
  ).finally(() => clearInterval(reader));
  expect(readerErrors).toEqual([]);
  expect(reads).toBeGreaterThan(0);
  for (const r of results) {
    expect(r.broken, `worker ${r.id}`).toBe(0);
    expect(r.allocated, `worker ${r.id}`).toBeGreaterThan(1000);
    expect(r.received, `worker ${r.id}`).toBeGreaterThan(50);
    expect(r.freedOthers, `worker ${r.id}`).toBeGreaterThan(10);
    expect(r.reallocOthers, `worker ${r.id}`).toBeGreaterThan(0);
  }
  expect(results.reduce((a, r) => a + r.sent, 0)).toBe(results.reduce((a, r) => a + r.received, 0));
  // The workers have ended: their arenas go back (none of them held a lock any more).
  for (const r of results) expect(heap.recover(r.threadId)).toBe(false);
  heap.check();
  // Every block was freed, by its own thread or another: no arena holds a block, and the main
  // heap holds nothing but the arenas' segments.
  const shared = (heap as unknown as { shared: { area: number; seg(a: number): { e: { chunks(): Array<{ kind: string }> } } } }).shared;
  const v = new Int32Array(buffer);
  const segs = new Set<number>();
  // (the segment table, arenas.ts's A_TABLE: a segment's address with its arena's slot in the low bits)
  for (let i = 0; i < 2048; i++) if (v[shared.area + 5136 + i] !== 0) segs.add(v[shared.area + 5136 + i]! & -(1 << 20));
  expect(segs.size).toBeGreaterThanOrEqual(workers);
  for (const a of segs) expect(shared.seg(a).e.chunks().filter((c) => c.kind === "used"), `segment 0x${a.toString(16)}`).toEqual([]);
  expect(heap.chunks().filter((c) => c.kind === "used" && !segs.has(c.ptr))).toEqual([]);
  const info = heap.mallinfo();
  expect(info.uordblks + info.fordblks).toBe(info.arena);
}, 60_000);
