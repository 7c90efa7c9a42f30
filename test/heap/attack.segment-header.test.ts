/**
 * A segment of a concurrent heap's arena is a block of the main heap whose first words (the
 * segment's header: magic, slot, size, next, its heap's header, its pending bitmap, its granule
 * shift) lie in that block's payload, just past the chunk header. A program that overflows the
 * main-heap block right before a segment reaches them, writing the segment's chunk header back
 * as it was (so nothing the main heap checks is changed). A handle that meets the segment after
 * that (a worker that attaches later) takes the header as it finds it: a free of one of the
 * segment's blocks while the arena's owner holds its lock marks the block in the "pending
 * bitmap" the header names, with Atomics.or, wherever that is.
 *
 * docs/heap.md: whatever bytes a program writes into its own blocks or just past them, malloc
 * never returns memory that overlaps a live block, no metadata write lands inside a live
 * block's bytes, and damage is reported with HeapCorruptionError.
 */
import { describe, expect, it } from "vitest";
import { Heap, HeapError, LinearMemory } from "../../src/index.js";
import { H_ARENA, H_BITMAP } from "../../src/heap/header.js";

const G_PENDING = 5; // word offset of the pending bitmap's address in a segment's header

/**
 * Thread 21's arena (segment at `seg`) with a live block `L` and more blocks; a main-heap block
 * `A` that ends where the segment's chunk starts, overflowed by 32 bytes: the segment's chunk
 * size as it was, then its header with G_PENDING set to `pending`. Then thread 5 attaches.
 */
function overflowed(pending: (ctx: { seg: number; w: Int32Array; ps: number[]; L: number }) => number) {
  const a = new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }), concurrent: true });
  const buf = (a.memory as LinearMemory).buffer;
  const w = new Int32Array(buf);
  const u8 = new Uint8Array(buf);
  const b = Heap.attach(buf, { threadId: 21 }); // keeps its arena's lock between calls, as a worker does
  a.malloc(8);
  const L = b.malloc(100);
  b.malloc(40);
  const F = b.malloc(40);
  b.malloc(40);
  const ps = Array.from({ length: 40 }, () => b.malloc(40));
  const seg = L & ~0xf_ffff;
  // The free chunk the segment's alignment left before it, taken whole by a big block.
  const before = a.chunks().find((c) => c.address + c.size === seg - 16)!;
  expect(before.kind).toBe("free");
  const A = a.malloc(before.size - 8);
  expect(A + before.size - 8).toBe(seg - 8); // A's last usable byte is right before the segment's chunk size
  const tail = u8.slice(seg - 8, seg + 4 * (G_PENDING + 1));
  new DataView(tail.buffer).setInt32(8 + 4 * G_PENDING, pending({ seg, w, ps, L }), true);
  u8.set(tail, A + before.size - 8); // memcpy past A's end
  const x = Heap.attach(buf, { threadId: 5 });
  return { b, x, w, u8, L, F, ps, seg };
}

describe("an overflow of the main-heap block before a segment, into the segment's header", () => {
  it("the pending bitmap moved onto the segment's chunk map: with a use after free of a link, malloc returns memory inside a live block", () => {
    let P = 0;
    const { b, x, w, u8, L, F } = overflowed(({ seg, w, ps, L }) => {
      const sub = w[(seg >>> 2) + 4]!;
      const arena = w[(sub >>> 2) + H_ARENA]!;
      const map = w[(sub >>> 2) + H_BITMAP]!;
      const X = L + 48; // a chunk forged in the last 48 bytes of L's 112-byte chunk
      const mapWord = (map >>> 2) + ((X - arena) >>> 8);
      const pair = (((X - arena) >>> 4) & 15) * 2;
      P = ps.find((p) => (((p - seg) >>> 4) & 31) === pair)!; // the block whose pending bit is X's low mark bit
      return 4 * (mapWord - (((P - seg) >>> 4) >>> 5));
    });
    const X = L + 48;
    // The program's own data in L: a chunk header at X (48 bytes, PINUSE), fd 0, bk naming F's chunk.
    u8.fill(0x11, L, L + 100);
    w[(X + 8) >>> 2] = 48 | 2;
    w[(X + 12) >>> 2] = 0;
    w[(X + 16) >>> 2] = 0;
    w[(X + 20) >>> 2] = 0;
    w[(X + 24) >>> 2] = F - 16;
    w[(X + 28) >>> 2] = 0;
    const keep = u8.slice(L, L + 100);
    let threw: unknown = null;
    const got: number[] = [];
    try {
      x.free(P); // thread 21 holds its arena: P is pushed, marked "pending" where the header says
      b.free(F);
      w[F >>> 2] = X; // a use after free: F's forward link names X
      w[(F + 4) >>> 2] = 0;
      for (let i = 0; i < 2; i++) {
        const q = b.malloc(40);
        got.push(q);
        if (q !== 0) u8.fill(0xee, q, q + 40);
      }
    } catch (e) {
      threw = e;
    }
    if (threw !== null) expect(threw).toBeInstanceOf(HeapError);
    for (const q of got) expect(q === 0 || q + 40 <= L || L + 100 <= q, `malloc(40) = 0x${q.toString(16)}, inside live L 0x${L.toString(16)}+100`).toBe(true);
    expect(u8.slice(L, L + 100)).toEqual(keep);
  });

  it("the pending bitmap moved past the memory: a free from another thread throws HeapCorruptionError, not RangeError", () => {
    const { x, ps } = overflowed(() => 0x7fff_fff0);
    let threw: unknown = null;
    try {
      x.free(ps[0]!);
    } catch (e) {
      threw = e;
    }
    if (threw !== null) expect((threw as Error).name).toBe("HeapCorruptionError");
  });
});
