import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { ArgumentError, Heap, LinearMemory } from "../../src/index.js";

// The workers load the built package (dist/), as an application's workers would.
const dist = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const workerFile = fileURLToPath(new URL("./fixtures/concurrentWorker.mjs", import.meta.url));

function runWorker(buffer: SharedArrayBuffer, id: number, rounds: number): Promise<{ id: number; handled: number; mismatches: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerFile, { workerData: { distUrl: pathToFileURL(dist).href, buffer, id, rounds } });
    w.once("message", resolve);
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code !== 0) reject(new Error(`worker ${id} exited with ${code}`));
    });
  });
}

describe("a concurrent heap shared by workers", () => {
  it.skipIf(!existsSync(dist))("four workers allocating and freeing at once never hand out the same bytes twice", async () => {
    const heap = new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }), concurrent: true });
    const buffer = heap.memory.buffer as SharedArrayBuffer;
    const keep = heap.malloc(1000); // a block of the main thread's own, kept across the run
    heap.memory.u8.fill(0xee, keep, keep + 1000);
    // While they run, this thread keeps reading the heap: readers take the lock too, so every
    // walk sees a consistent heap.
    let reads = 0;
    const readerErrors: unknown[] = [];
    const reader = setInterval(() => {
      try {
        heap.check();
        const info = heap.mallinfo();
        if (info.uordblks + info.fordblks !== info.arena) throw new Error("mallinfo totals disagree");
        heap.chunks();
        reads++;
      } catch (e) {
        readerErrors.push(e);
      }
    }, 1);
    const results = await Promise.all([1, 2, 3, 4].map((id) => runWorker(buffer, id, 20_000))).finally(() => clearInterval(reader));
    expect(readerErrors).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    for (const r of results) {
      expect(r.handled).toBeGreaterThan(1000);
      expect(r.mismatches).toBe(0);
    }
    expect(heap.memory.u8.subarray(keep, keep + 1000).every((b) => b === 0xee)).toBe(true);
    heap.check();
    heap.free(keep);
    const info = heap.mallinfo();
    expect(info.uordblks + info.fordblks).toBe(info.arena);
    heap.check();
  }, 60_000);

  it("an attached heap honours the concurrent flag recorded in the heap", () => {
    const heap = new Heap({ concurrent: true });
    const other = Heap.attach(heap.memory);
    const p = other.malloc(64);
    heap.free(p);
    heap.check();
  });

  it("a concurrent heap needs shared memory", () => {
    expect(() => new Heap({ memory: new LinearMemory({ shared: false }), concurrent: true })).toThrow(ArgumentError);
  });
});
