/**
 * A concurrent heap in each data model, a block's chunk header smashed by the program (its size
 * enlarged over its live neighbour, or its in-use bit cleared) before another thread, or
 * recovery after its owner died, touches it. docs/heap.md: the damage is reported with
 * HeapCorruptionError (mallocUsableSize too, rather than a wrong size), the neighbour's bytes
 * stay as the program left them, and no block handed out afterwards overlaps a live one.
 */
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, LinearMemory, type DataModel } from "../../src/index.js";
import { CINUSE } from "../../src/heap/chunk.js";

const MODELS: Array<[DataModel, number]> = [
  ["lp64", 8],
  ["wasm32", 4],
  ["ilp32", 4],
];
type Smash = "enlarge" | "cinuse";

/**
 * Thread 77's arena holds a, b, c (neighbours, 40 bytes asked each); a's size field smashed;
 * b filled with 0xbb. Thread 77 keeps its arena's lock between calls, as a worker does.
 */
function smashed(model: DataModel, W: number, how: Smash) {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 16 << 20 }), concurrent: true, dataModel: model });
  const buf = (heap.memory as LinearMemory).buffer;
  const t77 = Heap.attach(buf, { threadId: 77 });
  const a = t77.malloc(40);
  const b = t77.malloc(40);
  const c = t77.malloc(40);
  const m = new Int32Array(buf);
  const u8 = new Uint8Array(buf);
  const chunk = b - a;
  expect(chunk).toBeGreaterThanOrEqual(44); // neighbours
  const sizeWord = (a - W) >>> 2;
  if (how === "enlarge") m[sizeWord] = m[sizeWord]! + chunk;
  else m[sizeWord] = m[sizeWord]! & ~CINUSE;
  u8.fill(0xbb, b, b + 40);
  return { heap, t77, a, b, c, u8 };
}

/** Runs `calls`, stopping at the first error; the error and the blocks the calls returned. */
function run(calls: Array<() => number | void>): { threw: unknown; got: number[] } {
  const got: number[] = [];
  try {
    for (const f of calls) {
      const q = f();
      if (typeof q === "number" && q !== 0) got.push(q);
    }
  } catch (e) {
    return { threw: e, got };
  }
  return { threw: null, got };
}

/**
 * An enlarged size is damage the call must report. A cleared in-use bit is not: the chunk map
 * says the block is in use, and the call may go through on it, leaving a sound heap.
 */
function expectVerdict(how: Smash, threw: unknown, heap: Heap): void {
  if (how === "enlarge" || threw !== null) expect(threw).toBeInstanceOf(HeapCorruptionError);
  else heap.check();
}

const outside = (q: number, b: number): boolean => q + 40 <= b || b + 40 <= q;

describe.each(MODELS)("a concurrent heap, %s model: a smashed chunk header of another thread's block", (model, W) => {
  for (const how of ["enlarge", "cinuse"] as const) {
    it(`(${how}) recover(threadId) refuses to adopt it; the neighbour's bytes survive`, () => {
      const { heap, a, b, u8 } = smashed(model, W, how);
      const { threw, got } = run([() => void heap.recover(77), () => heap.free(a), () => heap.malloc(80), () => heap.malloc(40)]);
      expect(threw).toBeInstanceOf(HeapCorruptionError);
      expect((threw as Error).message).toMatch(/chunk header disagrees with the chunk map/);
      for (const q of got) expect(outside(q, b)).toBe(true);
      expect(u8.subarray(b, b + 40).every((x) => x === 0xbb)).toBe(true);
    });

    it(`(${how}) mallocUsableSize and realloc from another thread, its owner holding its arena: the damage reported, the neighbour kept`, () => {
      const { heap, t77, a, b, u8 } = smashed(model, W, how);
      // The damage reported, or the block's true usable size (a cleared in-use bit is no wrong size).
      let usable = -1;
      try {
        usable = heap.mallocUsableSize(a);
      } catch (e) {
        expect(e).toBeInstanceOf(HeapCorruptionError);
      }
      if (how === "enlarge") expect(usable).toBe(-1);
      else if (usable !== -1) expect(usable).toBe(b - a - W);
      const { threw, got } = run([() => heap.realloc(a, 200), () => heap.malloc(40)]);
      expectVerdict(how, threw, heap);
      for (const q of got) expect(outside(q, b)).toBe(true);
      expect(u8.subarray(b, b + 40).every((x) => x === 0xbb)).toBe(true);
      expect(t77.mallocUsableSize(b)).toBeGreaterThanOrEqual(40); // b still a live block
    });

    it(`(${how}) a free from another thread once the owner gave its arena back: the damage reported, the neighbour kept`, async () => {
      const { heap, t77, a, b, u8 } = smashed(model, W, how);
      await new Promise((resolve) => setTimeout(resolve, 0)); // thread 77's task ends: it gives its arena's lock back
      const { threw, got } = run([() => heap.free(a), () => t77.malloc(40), () => t77.malloc(80)]);
      expectVerdict(how, threw, heap);
      for (const q of got) expect(outside(q, b)).toBe(true);
      expect(u8.subarray(b, b + 40).every((x) => x === 0xbb)).toBe(true);
    });
  }
});
