/**
 * Attacks on a concurrent heap's front cache (docs/workers.md, "Front cache"), the way glibc's
 * tcache is attacked: its lists link through freed blocks, and a cached block's header lies
 * where the block before it can overflow. docs/heap.md promises that whatever a program writes
 * into its freed or live blocks (and one word past them, over the next chunk's header), malloc
 * never returns memory that overlaps a live block.
 */
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, HeapError, InvalidPointerError, LinearMemory } from "../../src/index.js";

/** A concurrent heap and a handle on it as thread 77 (which keeps its arena's lock between calls, as a worker does). */
function two(maxBytes = 64 << 20): { heap: Heap; t77: Heap; buf: SharedArrayBuffer; m: Int32Array; u8: Uint8Array } {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes }), concurrent: true });
  const buf = (heap.memory as LinearMemory).buffer as SharedArrayBuffer;
  return { heap, t77: Heap.attach(buf, { threadId: 77 }), buf, m: new Int32Array(buf), u8: new Uint8Array(buf) };
}

/** malloc's result, or 0 when it threw the heap's typed error (anything else is rethrown). */
function tryMalloc(h: Heap, n: number): number {
  try {
    return h.malloc(n);
  } catch (e) {
    if (e instanceof HeapError) return 0;
    throw e;
  }
}

describe("the front cache under a program's writes", () => {
  it("a cached block's size enlarged by an overflow, then reached through a list of that size: malloc does not hand it out over its neighbour", () => {
    const { t77, m, u8 } = two();
    const b = t77.malloc(100); // a 112-byte chunk
    const x = t77.malloc(40); // a 48-byte chunk
    const y = t77.malloc(40); // x's neighbour, live
    expect(y).toBe(x + 48);
    u8.fill(0x5a, y, y + 40);
    t77.free(x); // cached, in the list of 48-byte chunks
    t77.free(b); // cached, in the list of 112-byte chunks
    m[(x - 8) >>> 2] = 112 | 1; // one word past the block before x: x's size says 112 (PINUSE kept)
    m[(b + 8) >>> 2] = x; // a use after free: b's link leads to x
    expect(t77.malloc(100)).toBe(b);
    const z = tryMalloc(t77, 100); // x is cached, but its chunk is 48 bytes, not 112
    expect(z === 0 || z + 100 <= y || y + 40 <= z, `malloc(100) = 0x${z.toString(16)} overlaps the live block at 0x${y.toString(16)}`).toBe(true);
    expect(u8.subarray(y, y + 40).every((c) => c === 0x5a)).toBe(true);
  });

  it("a cached block the heap refuses when the arena runs out of room is reported once, and the arena goes on growing", () => {
    const { t77, m } = two();
    const h = t77.malloc(100);
    const n = t77.malloc(2000); // too big for the cache: freed by the heap, into a bin
    t77.malloc(100); // (n does not merge with the top)
    t77.free(n);
    t77.free(h); // cached, next to n
    m[n >>> 2] = 0x41414140; // a use after free: n's forward link
    // The arena's segment fills: the malloc that finds no room gives the cache's blocks back
    // to the heap, whose free of h (merging it with n) finds the damage.
    const seg = h >>> 20;
    const errors: string[] = [];
    let grew = false;
    for (let i = 0; i < 200 && !grew; i++) {
      try {
        const p = t77.malloc(40000);
        grew = p !== 0 && p >>> 20 !== seg;
      } catch (e) {
        if (!(e instanceof HeapError)) throw e;
        errors.push((e as Error).message);
        if (errors.length > 3) break;
      }
    }
    expect(errors.length, errors.join("; ")).toBeLessThanOrEqual(1); // (a plain heap throws it once, at free(h))
    expect(grew).toBe(true);
  });

  it("a pointer inside a cached block, freed by the block's thread: an invalid pointer (as from any other thread), and the block stays cached", () => {
    const { heap, t77 } = two();
    const h = t77.malloc(100);
    t77.malloc(100);
    t77.free(h);
    for (const q of [h + 8, h + 4, h + 16]) {
      expect(() => t77.free(q)).toThrow(InvalidPointerError);
      expect(() => heap.free(q)).toThrow(InvalidPointerError);
    }
    expect(() => t77.free(h)).toThrow(DoubleFreeError);
    expect(t77.malloc(100)).toBe(h);
    t77.free(h);
    heap.check();
  });

  it("random rewritten links and overflowed headers of cached blocks: no malloc overlaps a live block, no live byte changes", () => {
    // A thread's program mallocs and frees blocks of the cache's sizes, and between its calls
    // rewrites cached blocks' links (to other freed blocks, to live ones) and, one word past
    // the block before, their headers (to other sizes the cache holds). Each malloc's result is
    // checked against every block the program holds, and those blocks' bytes against their fill.
    const sizes = [8, 24, 40, 56, 100, 120, 200, 500, 1000, 1024];
    for (let seed = 1; seed <= 40; seed++) {
      let s = seed;
      const rnd = (): number => {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        return (s >>> 0) / 2 ** 32;
      };
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const { t77, m, u8 } = two(8 << 20);
      const live = new Map<number, number>();
      const freed = new Set<number>();
      const over = (p: number, n: number): number => {
        for (const [q, k] of live) if (p < q + k && q < p + n) return q;
        return 0;
      };
      for (let step = 0; step < 800; step++) {
        const r = rnd();
        try {
          if (r < 0.4) {
            const n = pick(sizes);
            const p = t77.malloc(n);
            if (p === 0) continue;
            const o = over(p, n);
            expect(o, `seed ${seed} step ${step}: malloc(${n}) = 0x${p.toString(16)} overlaps the live block at 0x${o.toString(16)}`).toBe(0);
            live.set(p, n);
            freed.delete(p);
            u8.fill((p >>> 4) & 0xff, p, p + n);
          } else if (r < 0.7) {
            if (live.size === 0) continue;
            const p = pick([...live.keys()]);
            live.delete(p);
            freed.add(p);
            t77.free(p);
          } else if (freed.size > 0) {
            const fs = [...freed];
            const x = pick(fs);
            if (r < 0.85) {
              if (over(x + 8, 4) === 0) m[(x + 8) >>> 2] = rnd() < 0.7 || live.size === 0 ? pick(fs) : pick([...live.keys()]);
            } else if (over(x - 8, 8) === 0) {
              m[(x - 8) >>> 2] = Math.max(32, (pick(sizes) + 23) & ~15) | (m[(x - 8) >>> 2]! & 7);
            }
          }
        } catch (e) {
          if (!(e instanceof HeapError)) throw e;
        }
      }
      for (const [q, n] of live) expect(u8.subarray(q, q + n).every((c) => c === ((q >>> 4) & 0xff)), `seed ${seed}: the live block at 0x${q.toString(16)} changed`).toBe(true);
    }
  });
});

describe("a block another thread has queued to free", () => {
  it("a pointer inside it is an invalid pointer, from any thread (the block itself is a double free), and the block is freed once", () => {
    const { heap, t77 } = two();
    const p = t77.malloc(100); // t77 keeps its arena's lock until this task ends
    t77.malloc(100);
    heap.free(p); // t77's lock is held: p is marked pending and pushed on its arena's remote frees
    for (const q of [p + 8, p + 4]) {
      expect(() => heap.free(q)).toThrow(InvalidPointerError);
      expect(() => t77.free(q)).toThrow(InvalidPointerError);
    }
    expect(() => heap.free(p)).toThrow(DoubleFreeError);
    expect(() => t77.free(p)).toThrow(DoubleFreeError);
    const before = heap.mallinfo().uordblks; // (drains the remote frees: p is freed once)
    expect(() => t77.free(p)).toThrow(DoubleFreeError);
    expect(heap.mallinfo().uordblks).toBe(before);
    heap.check();
  });
});
