import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { ArgumentError, DoubleFreeError, Errno, Heap, InvalidPointerError, LinearMemory } from "../../src/index.js";
import { BIG, SEG_SHIFT, TC_CAP } from "../../src/heap/arenas.js";
import { MARK_USED, SIZE_TAG } from "../../src/heap/chunk.js";
import { WAITERS } from "../../src/heap/lock.js";

/** A concurrent heap and two more handles on it, as three threads would have (thread ids 21, 22). */
function three(maxBytes = 64 << 20): { a: Heap; b: Heap; c: Heap; u8: Uint8Array } {
  const a = new Heap({ memory: new LinearMemory({ maxBytes }), concurrent: true });
  const buffer = (a.memory as LinearMemory).buffer;
  return { a, b: Heap.attach(buffer, { threadId: 21 }), c: Heap.attach(buffer, { threadId: 22 }), u8: new Uint8Array(buffer) };
}

const segmentOf = (p: number): number => p >>> 20;

describe("a concurrent heap's arenas (one per Heap object)", () => {
  it("small blocks come from the caller's arena, big ones from the main heap, and any handle frees any block", () => {
    const { a, b, u8 } = three();
    const pa = a.malloc(100);
    const pb = b.malloc(100);
    expect(segmentOf(pa)).not.toBe(segmentOf(pb)); // two arenas, two segments
    const big = b.malloc(200_000);
    expect(big).toBeGreaterThan(0);
    expect(big < pa || segmentOf(big) !== segmentOf(pa)).toBe(true);
    u8.fill(3, pb, pb + 100);
    expect(a.mallocUsableSize(pb)).toBeGreaterThanOrEqual(100);
    a.free(pb); // b keeps its arena: pushed on its remote frees
    expect(() => a.free(pb)).toThrow(DoubleFreeError);
    expect(() => b.free(pb)).toThrow(DoubleFreeError); // its owner sees it freed too
    a.free(big);
    b.free(pa);
    a.check();
    const info = a.mallinfo();
    expect(info.uordblks + info.fordblks).toBe(info.arena);
  });

  it("a free from another handle is counted by mallinfo at once", () => {
    const { a, b } = three();
    const ps = Array.from({ length: 50 }, () => b.malloc(1000));
    const before = a.mallinfo();
    for (const p of ps) a.free(p);
    const after = a.mallinfo();
    expect(after.uordblks).toBeLessThanOrEqual(before.uordblks - 50 * 1000);
    expect(after.fordblks).toBe(before.fordblks + (before.uordblks - after.uordblks));
    b.check();
  });

  it("refuses invalid pointers into another handle's arena, and frees them nowhere", () => {
    const { a, b } = three();
    const p = b.malloc(64);
    expect(() => a.free(p + 16)).toThrow(InvalidPointerError);
    expect(() => a.free(p + 8)).toThrow(InvalidPointerError);
    expect(() => a.realloc(p + 16, 10)).toThrow(InvalidPointerError);
    expect(a.mallocUsableSize(p + 16)).toBe(0);
    b.free(p);
    expect(() => a.free(p)).toThrow(DoubleFreeError);
    a.check();
  });

  it("realloc keeps the bytes across arenas and to the main heap, and frees the old block wherever it was", () => {
    const { a, b, u8 } = three();
    const p = b.malloc(300);
    for (let i = 0; i < 300; i++) u8[p + i] = i & 0xff;
    const q = a.realloc(p, 600); // b's block, moved into a's arena
    expect(segmentOf(q)).not.toBe(segmentOf(p));
    for (let i = 0; i < 300; i++) expect(u8[q + i]).toBe(i & 0xff);
    const r = a.realloc(q, 100_000); // to the main heap
    for (let i = 0; i < 300; i++) expect(u8[r + i]).toBe(i & 0xff);
    const s = a.realloc(r, 50); // and back into a's arena (a new block: the main heap's shrinks in place)
    for (let i = 0; i < 50; i++) expect(u8[s + i]).toBe(i & 0xff);
    expect(a.realloc(s, 0)).toBe(0);
    expect(() => b.free(p)).toThrow(DoubleFreeError);
    const t = b.malloc(40);
    expect(a.realloc(t, 0)).toBe(0); // b's block freed by a
    a.check();
  });

  it("calloc, memalign and the rest, through arenas", () => {
    const { a, b, u8 } = three();
    const p = b.malloc(512);
    u8.fill(0xff, p, p + 512);
    b.free(p);
    const q = b.calloc(16, 32);
    expect(u8.subarray(q, q + 512).every((x) => x === 0)).toBe(true);
    const r = b.memalign(4096, 100);
    expect(r % 4096).toBe(0);
    const { err, ptr } = a.posixMemalign(256, 1000);
    expect(err).toBe(0);
    expect(ptr % 256).toBe(0);
    expect(a.alignedAlloc(64, 100_000) % 64).toBe(0); // a big one: the main heap's
    expect(b.calloc(2 ** 40, 2 ** 40)).toBe(0);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.malloc(-1)).toBe(0);
    expect(b.realloc(q, 2 ** 40)).toBe(0);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(() => b.malloc("8" as never)).toThrow(ArgumentError);
    expect(b.malloc(8)).not.toBe(0); // (a throw leaves nothing held)
    a.free(r);
    a.free(ptr);
    b.free(q);
    a.check();
  });

  it("an arena grows by segments, each twice the last, and its blocks are all found by address", () => {
    const { a, b } = three(128 << 20);
    const ps: number[] = [];
    for (let i = 0; i < 2000; i++) ps.push(b.malloc(3000)); // 6 MB: segments of 1, 2 and 4 MiB
    expect(new Set(ps.map(segmentOf)).size).toBeGreaterThan(3);
    for (const p of ps.filter((_, i) => i % 2 === 0)) a.free(p);
    for (const p of ps.filter((_, i) => i % 2 === 1)) b.free(p);
    a.check();
    expect(b.malloc(1000)).not.toBe(0);
  });

  it("on a shared WebAssembly.Memory, grown to its maximum at once so that every view reaches every block", () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 64, shared: true });
    const a = new Heap({ memory, concurrent: true });
    expect(memory.buffer.byteLength).toBe(64 * 65536); // its maximum, found by growing (JavaScript cannot read it)
    const b = Heap.attach(memory, { threadId: 23 });
    const u8 = new Uint8Array(memory.buffer);
    const blocks = Array.from({ length: 1200 }, (_, i) => {
      const h = i % 2 === 0 ? a : b;
      const n = 200 + (i % 50) * 40;
      const p = h.malloc(n);
      expect(p).toBeGreaterThan(0);
      u8.fill(i & 0xff, p, p + n);
      return { p, n, fill: i & 0xff };
    });
    expect(Math.max(...blocks.map((x) => x.p))).toBeGreaterThan(16 * 65536); // past the memory's initial size
    for (const { p, n, fill } of blocks) expect(u8.subarray(p, p + n).every((x) => x === fill)).toBe(true);
    a.check();
    blocks.forEach(({ p }, i) => (i % 3 === 0 ? b : a).free(p)); // frees from the other handle too
    a.check();
    expect(a.malloc(8 << 20)).toBe(0); // more than the memory's maximum: C's result
    expect(a.errno).toBe(Errno.ENOMEM);
  });

  it("a small memory that has no room for a segment serves everything from the main heap", () => {
    const heap = new Heap({ memory: new LinearMemory({ maxBytes: 1 << 20 }), concurrent: true });
    const ps = Array.from({ length: 100 }, () => heap.malloc(100));
    expect(ps.every((p) => p !== 0)).toBe(true);
    for (const p of ps) heap.free(p);
    heap.check();
  });

  it("64 arenas; a handle that finds none free uses the main heap; recover frees them", () => {
    const a = new Heap({ memory: new LinearMemory({ maxBytes: 256 << 20 }), concurrent: true });
    const buffer = (a.memory as LinearMemory).buffer;
    const handles = Array.from({ length: 64 }, (_, i) => Heap.attach(buffer, { threadId: 1000 + i }));
    const blocks = handles.map((h) => h.malloc(50));
    const extra = Heap.attach(buffer, { threadId: 5000 });
    const p = extra.malloc(50); // no arena left: from the main heap
    expect(new Set(blocks.map(segmentOf)).size).toBe(64);
    extra.free(p);
    for (const [i, h] of handles.entries()) h.free(blocks[i]!);
    for (let i = 0; i < 64; i++) a.recover(1000 + i);
    const later = Heap.attach(buffer, { threadId: 6000 });
    const q = later.malloc(50); // an arena again (one that was used: its segment)
    expect(blocks.map(segmentOf)).toContain(segmentOf(q));
    later.free(q);
    a.check();
  });

  it("gives out thread ids where the runtime has none, and honours one given", () => {
    const { a, b } = three();
    expect(b.threadId).toBe(21);
    expect(a.threadId).toBeGreaterThanOrEqual(0);
    expect(() => Heap.attach((a.memory as LinearMemory).buffer, { threadId: 2 ** 30 })).toThrow(ArgumentError);
  });

  it("arenas: false keeps one lock and the plain heap's layout", () => {
    const plain = new Heap();
    const one = new Heap({ concurrent: true, arenas: false });
    const other = Heap.attach((one.memory as LinearMemory).buffer, { threadId: 9 });
    const ps = [100, 2000, 30, 70_000].map((n) => plain.malloc(n));
    const qs = [100, 2000, 30, 70_000].map((n, i) => (i % 2 === 0 ? one : other).malloc(n));
    // (the concurrent heap's arena starts past its shared area: the same offsets from it)
    expect(qs.map((q) => q - qs[0]!)).toEqual(ps.map((p) => p - ps[0]!));
    // realloc too: the plain heap's choices (in place, moved), under the one lock
    const u8 = new Uint8Array((one.memory as LinearMemory).buffer);
    u8.fill(5, qs[1]!, qs[1]! + 2000);
    ps[1] = plain.realloc(ps[1]!, 5000);
    qs[1] = other.realloc(qs[1]!, 5000);
    ps[2] = plain.realloc(ps[2]!, 20);
    qs[2] = one.realloc(qs[2]!, 20);
    expect(qs.map((q) => q - qs[0]!)).toEqual(ps.map((p) => p - ps[0]!));
    expect(u8.subarray(qs[1]!, qs[1]! + 2000).every((b) => b === 5)).toBe(true);
    ps.push(plain.malloc(10));
    qs.push(one.realloc(0, 10)); // realloc(NULL, n) is malloc(n)
    expect(qs[4]! - qs[0]!).toBe(ps[4]! - ps[0]!);
    for (const q of qs) other.free(q);
    for (const p of ps) plain.free(p);
    one.check();
    expect(one.mallinfo().ordblks).toBe(plain.mallinfo().ordblks);
    expect(one.mallinfo().fordblks).toBe(plain.mallinfo().fordblks);
  });
  it("malloc and free are each handle's own, and take what Heap's take: views, null, 0, and calls made through Heap.prototype", () => {
    const { a, b } = three();
    for (const h of [a, b]) {
      expect(Object.prototype.hasOwnProperty.call(h, "malloc") && Object.prototype.hasOwnProperty.call(h, "free")).toBe(true);
      expect(a.malloc).toBe(h.malloc); // one function for every handle (one shape at a call site)
    }
    expect(Object.prototype.hasOwnProperty.call(new Heap(), "malloc")).toBe(false);
    const view = b.mallocArray(Float64Array, 10)!;
    view.fill(1.5);
    a.free(view); // a block of b's arena, freed through a view by another handle
    expect(() => b.free(view)).toThrow(DoubleFreeError);
    a.free(null as unknown as number); // (from JavaScript: nothing to free)
    a.free(0);
    const p = Heap.prototype.malloc.call(a, 200); // Heap's own method routes the call to the arena too
    expect(segmentOf(p)).toBe(segmentOf(a.malloc(8)));
    Heap.prototype.free.call(b, p);
    expect(() => a.free(p)).toThrow(DoubleFreeError);
    expect(() => a.free(p + 8)).toThrow(InvalidPointerError);
    expect(() => a.free(1.5)).toThrow(InvalidPointerError);
    a.check();
  });
  it("the numbers written out in the arena's malloc and free are the constants they stand for", () => {
    const src = readFileSync(new URL("../../src/heap/arenas.ts", import.meta.url), "utf8");
    const named: Record<string, number> = { BIG, WAITERS, SEG_SHIFT, TC_CAP, SIZE_TAG, MARK_USED };
    const uses = [...src.matchAll(/(0x[0-9a-f_]+|\d+)\)? \/\* (BIG|WAITERS|SEG_SHIFT|TC_CAP|SIZE_TAG|MARK_USED) \*\//g)];
    expect(uses.length).toBe(12); // (malloc checks a cached block in the chunk map as free does)
    for (const [, literal, name] of uses) expect(Number(literal!.replace(/_/g, "")), name).toBe(named[name!]);
  });
});
