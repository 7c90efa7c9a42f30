import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, M_TRIM_THRESHOLD } from "../../src/index.js";
import { TARGETS, read32, write32 } from "./helpers/heapKit.js";

// Regressions found in review: each case failed (silently) before its fix.

describe("views stay current", () => {
  it("a heap over a resizable ArrayBuffer keeps its metadata when the buffer grows", () => {
    // ES2024 resizable ArrayBuffer (Node 20 has it; the ES2022 typings do not)
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const buffer = new Resizable(65536, { maxByteLength: 16 << 20 });
    const heap = new Heap({ memory: buffer });
    for (let i = 0; i < 200; i++) expect(heap.malloc(1000)).not.toBe(0);
    expect(buffer.byteLength).toBeGreaterThan(65536);
    heap.check();
  });

  it("footprint and mallopt read and write the current buffer of a wasm memory", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    const heap = new Heap({ memory, base: 60000 }); // the heap's first sbrk grows the memory
    expect(heap.mallocFootprint()).toBeGreaterThan(0);
    expect(heap.mallocMaxFootprint()).toBeGreaterThanOrEqual(heap.mallocFootprint());
    memory.grow(1); // the module grows it too
    expect(heap.mallopt(M_TRIM_THRESHOLD, 12345)).toBe(1);
    expect(Number.isInteger(heap.mallocFootprint())).toBe(true);
    const other = Heap.attach(memory, { base: 60000 });
    // the setting reached the heap's memory: a 20 000-byte free at the top is now trimmed
    const p = other.malloc(20000);
    const before = other.mallocFootprint();
    other.free(p);
    expect(other.mallocFootprint()).toBeLessThan(before);
    heap.check();
  });
});

describe.each(TARGETS)("an overflow into a free chunk's size is caught, not turned into overlapping blocks ($name heap)", (target) => {
  it("the designated victim", () => {
    const heap = target.make();
    const a = heap.malloc(1000);
    heap.malloc(16);
    const victim = heap.malloc(200);
    heap.free(a);
    const p = heap.malloc(24); // the rest of a's chunk is now the designated victim, right after p
    write32(heap, p + 24, (victim + 64 - (p + 16)) | 2); // 8 bytes past p's usable size
    expect(() => {
      heap.malloc(24);
      heap.malloc(1000);
    }).toThrow(HeapCorruptionError);
  });

  it("a chunk in a large bin", () => {
    const heap = target.make();
    const b = heap.malloc(24);
    const a = heap.malloc(2030);
    heap.malloc(200);
    heap.malloc(16);
    heap.free(a);
    write32(heap, b + 24, (2048 + 112) | 2); // smash a's size, still its size class
    expect(() => heap.malloc(2140)).toThrow(HeapCorruptionError);
  });
});

describe.each(TARGETS)("realloc checks the block's neighbours before it changes anything ($name heap)", (target) => {
  it("shrinking next to a smashed header throws and leaves the block as it was", () => {
    const heap = target.make();
    const p = heap.malloc(200);
    const q = heap.malloc(100);
    heap.malloc(100);
    const usable = heap.mallocUsableSize(p);
    const saved = read32(heap, q - 8);
    write32(heap, q - 8, 0);
    expect(() => heap.realloc(p, 10)).toThrow(HeapCorruptionError);
    write32(heap, q - 8, saved);
    expect(heap.mallocUsableSize(p)).toBe(usable);
    heap.check();
  });

  it("moving next to a smashed header throws without leaking a new block", () => {
    const heap = target.make();
    const p = heap.malloc(24);
    const q = heap.malloc(24);
    heap.malloc(24);
    const used = heap.mallinfo().uordblks;
    const saved = read32(heap, q - 8);
    write32(heap, q - 8, 3);
    expect(() => heap.realloc(p, 2000)).toThrow(HeapCorruptionError);
    write32(heap, q - 8, saved);
    expect(heap.mallinfo().uordblks).toBe(used);
    heap.check();
  });
});

describe("the in-use bitmap does not pin freed memory", () => {
  it("after a large heap is freed, the bitmap moves down and the space is trimmed", () => {
    const heap = new Heap();
    const blocks: number[] = [];
    for (let i = 0; i < 10_000; i++) blocks.push(heap.malloc(1000));
    const peak = heap.mallocFootprint();
    for (const p of blocks) heap.free(p);
    heap.check();
    expect(heap.mallocFootprint()).toBeLessThan(peak / 16);
    heap.mallocTrim(0);
    heap.check();
  });

  it("a malloc that moves the bitmap is not disturbed by trimming (model-test counterexample)", () => {
    const heap = new Heap({ maxBytes: 64 << 20 });
    const a = heap.realloc(heap.malloc(0), 131072);
    const b = heap.malloc(513);
    heap.free(a);
    const c = heap.malloc(0);
    heap.free(b);
    const d = heap.realloc(c, 131225);
    expect(d).not.toBe(0);
    heap.memory.u8.fill(1, d, d + 131225);
    heap.check();
  });
});
