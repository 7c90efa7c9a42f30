/**
 * The front cache of a concurrent heap's arenas (docs/workers.md, "How it works"): a thread's
 * small frees kept for its next mallocs of the same size, counted free by mallinfo() and
 * check(), refused a second time from any thread, never handing out a block it did not
 * cache, given back when the arena runs out of room, and recounted when a copy is opened.
 */
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, HeapCorruptionError, LinearMemory } from "../../src/index.js";

/** A concurrent heap and a handle on it as thread 77 (which keeps its arena's lock between calls, as a worker does). */
function two(maxBytes = 64 << 20): { heap: Heap; t77: Heap; buf: SharedArrayBuffer; m: Int32Array; u8: Uint8Array } {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes }), concurrent: true });
  const buf = (heap.memory as LinearMemory).buffer as SharedArrayBuffer;
  return { heap, t77: Heap.attach(buf, { threadId: 77 }), buf, m: new Int32Array(buf), u8: new Uint8Array(buf) };
}

describe("a concurrent heap's front cache", () => {
  it("a thread's next malloc of a size takes the block it freed last; mallinfo and check count cached blocks free", () => {
    const { heap, t77 } = two();
    t77.free(t77.malloc(8)); // (the arena open)
    const base = heap.mallinfo().uordblks;
    const ps = [8, 24, 25, 100, 500, 1000, 1024, 1025, 5000].map((n) => t77.malloc(n));
    const q = ps[3]!;
    t77.free(q);
    expect(t77.malloc(100)).toBe(q); // taken back from the cache
    expect(t77.malloc(97)).not.toBe(q); // (the same chunk size: 112 bytes; the list is empty now)
    for (const p of ps) t77.free(p);
    heap.check();
    expect(heap.mallinfo().uordblks).toBeGreaterThan(base); // the 97 bytes
    t77.check();
  });

  it("every block freed, through the cache or not: mallinfo counts the arena as it was", () => {
    const { heap, t77 } = two();
    const round = (): void => {
      const ps: number[] = [];
      for (let i = 0; i < 400; i++) ps.push(t77.malloc(8 + ((i * 37) % 1100)));
      for (const p of ps) t77.free(p);
    };
    round(); // (the segment's heap grows, and its chunk map with it)
    const base = heap.mallinfo();
    round();
    const after = heap.mallinfo();
    expect(after.uordblks).toBe(base.uordblks);
    expect(after.arena).toBe(base.arena);
    heap.check();
  });

  it("a cached block freed again, from its thread or another: DoubleFreeError; realloc refuses it, mallocUsableSize says 0", () => {
    const { heap, t77 } = two();
    const p = t77.malloc(40);
    const keep = t77.malloc(40);
    t77.free(p);
    expect(() => t77.free(p)).toThrow(DoubleFreeError);
    expect(() => t77.realloc(p, 100)).toThrow(DoubleFreeError);
    expect(t77.mallocUsableSize(p)).toBe(0);
    expect(heap.mallocUsableSize(p)).toBe(0);
    expect(() => heap.free(p)).toThrow(DoubleFreeError);
    expect(() => heap.realloc(p, 10)).toThrow(DoubleFreeError);
    expect(t77.malloc(40)).toBe(p); // still cached, once
    expect(t77.malloc(40)).not.toBe(p);
    t77.free(keep);
    heap.check();
  });

  it("a list's link rewritten in a freed block: malloc refuses what the cache did not hold, and the heap goes on", () => {
    const { heap, t77, m, u8 } = two();
    const a = t77.malloc(200);
    const b = t77.malloc(200);
    const live = t77.malloc(200);
    u8.fill(0x5a, live, live + 200);
    t77.free(a);
    t77.free(b); // the list: b, a
    m[(b + 8) >>> 2] = live; // a use after free: b's link now leads to a live block
    expect(t77.malloc(200)).toBe(b);
    expect(() => t77.malloc(200)).toThrow(HeapCorruptionError);
    expect(u8.subarray(live, live + 200).every((x) => x === 0x5a)).toBe(true);
    const c = t77.malloc(200);
    expect(c).not.toBe(live);
    for (const link of [live + 8, 3, -16, 0x7fff_fff0]) {
      const x = t77.malloc(300);
      const y = t77.malloc(300);
      t77.free(x);
      t77.free(y);
      m[(y + 8) >>> 2] = link;
      expect(t77.malloc(300)).toBe(y);
      expect(() => t77.malloc(300)).toThrow(HeapCorruptionError);
    }
    t77.free(b);
    t77.free(c);
    t77.free(live);
    heap.check();
  });

  it("a cached block whose header was smashed is not handed out; a block with a smashed header is not cached", () => {
    const { heap, t77, m } = two();
    const a = t77.malloc(100);
    const b = t77.malloc(100);
    t77.free(a);
    m[(a - 8) >>> 2] = m[(a - 8) >>> 2]! + 16; // a's size enlarged over b
    expect(() => t77.malloc(100)).toThrow(HeapCorruptionError);
    const c = t77.malloc(600);
    const d = t77.malloc(600);
    m[(c - 8) >>> 2] = m[(c - 8) >>> 2]! + 64; // c's size enlarged over d
    expect(() => t77.free(c)).toThrow(HeapCorruptionError); // the heap's free names it
    m[(c - 8) >>> 2] = m[(c - 8) >>> 2]! - 64;
    t77.free(c);
    t77.free(d);
    t77.free(b);
    m[(a - 8) >>> 2] = m[(a - 8) >>> 2]! - 16; // (a stays allocated: the cache dropped it)
    heap.check();
  });

  it("an arena out of room gives its cached blocks back before it takes a new segment", () => {
    // Room for the first segment (1 MiB) and little more: a second one cannot be made.
    const { heap, t77 } = two(3 << 20);
    const ps: number[] = [];
    const first = t77.malloc(1000);
    const seg = first >>> 20;
    ps.push(first);
    for (;;) {
      const p = t77.malloc(1000);
      ps.push(p);
      if (p >>> 20 !== seg) break; // the segment is full
    }
    const run = ps.slice(-12, -2); // ten neighbours in the segment
    for (const p of run) t77.free(p); // 7 cached, 3 freed
    const q = t77.malloc(6000); // more than the 3 freed ones merge to
    expect(q >>> 20).toBe(seg);
    expect(q).toBeGreaterThanOrEqual(run[0]! - 16);
    t77.free(q);
    for (const p of ps) if (!run.includes(p)) t77.free(p);
    heap.check();
  });

  it("a copy opened with { snapshot: true } keeps the cache of a thread that held its arena, counted again", () => {
    const { t77, buf, m } = two();
    const a = t77.malloc(100);
    const b = t77.malloc(100);
    const c = t77.malloc(300);
    t77.free(a);
    t77.free(b); // the list of 112-byte chunks: b, a
    t77.free(c);
    const copy = buf.slice(0);
    const snap = Heap.attach(copy, { snapshot: true });
    snap.check(); // the cached blocks given back
    const info = snap.mallinfo();
    expect(info.uordblks + info.fordblks).toBe(info.arena);

    // A copy whose cache is damaged: b's link leads nowhere. The list ends there (a stays
    // allocated), and the arena is sound.
    const bad = buf.slice(0);
    new Int32Array(bad)[(b + 8) >>> 2] = 12345;
    const s2 = Heap.attach(bad, { snapshot: true });
    expect(s2.malloc(5000)).toBeGreaterThan(0); // (the arena opens: the recovered thread's)
    const x = s2.malloc(100);
    expect(x).toBe(b);
    expect(s2.malloc(100)).not.toBe(a);
    s2.check();
    void m;
  });
});
