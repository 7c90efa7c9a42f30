import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, HeapError, LinearMemory } from "../../src/index.js";
import { H_LOCK } from "../../src/heap/header.js";
import { setLockPatience } from "../../src/heap/lock.js";

// Opening a concurrent heap from a copy of its bytes (Heap.attach): the copy may hold locks
// (a copy taken during a call, or between two calls of a thread that keeps its arena), or
// words that are no locks at all. Neither may make a call wait for ever.

/** The engine internals a cut needs (as in recover.test.ts). */
interface EngineProbe {
  lgCap: number;
  count: number;
  logAt: number;
}
interface HandleProbe {
  main: EngineProbe;
  segs: Map<number, { e: EngineProbe }>;
  area: number;
  slot: number;
}
const probe = (h: Heap): HandleProbe => (h as unknown as { shared: HandleProbe }).shared;
const A_SLOTS = 4112; // the arenas' slots in the shared area (arenas.ts: A_SLOTS)
const SLOT_WORDS = 16;

const pattern = (p: number, i: number): number => (p * 7 + i * 13) & 0xff;

/** A heap, a handle of thread 77 with blocks of its arena and one of the main heap, all filled. */
function setup(): { heap: Heap; victim: Heap; blocks: Array<[number, number]> } {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 32 << 20 }), concurrent: true });
  const victim = Heap.attach((heap.memory as LinearMemory).buffer, { threadId: 77 });
  const blocks: Array<[number, number]> = [];
  for (const n of [100, 3000, 40, 100_000, 700]) blocks.push([victim.malloc(n), n]);
  const u8 = (heap.memory as LinearMemory).u8;
  for (const [p, n] of blocks) for (let i = 0; i < n; i++) u8[p + i] = pattern(p, i);
  return { heap, victim, blocks };
}

const copyOf = (heap: Heap): SharedArrayBuffer => {
  const buf = (heap.memory as LinearMemory).buffer as SharedArrayBuffer;
  const copy = new SharedArrayBuffer(buf.byteLength);
  new Uint8Array(copy).set(new Uint8Array(buf));
  return copy;
};

/**
 * Runs `call` on the victim's handle and copies the heap's bytes after its `k`-th metadata
 * store, as a copy taken by another thread during the call would be; the call then stops
 * there (the original heap is left as it is: only the copy is used).
 */
function copyDuring(victim: Heap, heap: Heap, k: number, call: () => void): SharedArrayBuffer | null {
  const sh = probe(victim);
  const engines = [sh.main, ...[...sh.segs.values()].map((g) => g.e)];
  const proto = Object.getPrototypeOf(sh.main) as { full: (i: number) => void };
  const full = proto.full;
  const v = new Int32Array((heap.memory as LinearMemory).buffer);
  let copy: SharedArrayBuffer | null = null;
  let budget = k;
  class Cut extends Error {}
  for (const e of engines) e.lgCap = 0;
  proto.full = function (this: EngineProbe, i: number): void {
    const lg = this.logAt;
    const n = this.count;
    v[lg + 1 + n] = i;
    v[lg + 2 + n] = v[i]!;
    v[lg] = n + 2;
    this.count = n + 2;
    if (budget-- === 0) {
      copy = copyOf(heap);
      throw new Cut();
    }
  };
  try {
    call();
  } catch (err) {
    if (!(err instanceof Cut)) throw err;
  } finally {
    proto.full = full;
    for (const e of engines) e.lgCap = 4096;
  }
  return copy;
}

/** What a copy says of the heap: its totals, and the bytes of the blocks that must be intact. */
function picture(h: Heap, blocks: Array<[number, number]>): string {
  h.check();
  const u8 = (h.memory as LinearMemory).u8;
  const info = h.mallinfo();
  expect(info.uordblks + info.fordblks).toBe(info.arena);
  const bad = blocks.map(([p, n]) => {
    let x = 0;
    for (let i = 0; i < n; i++) if (u8[p + i] !== pattern(p, i)) x++;
    return x;
  });
  return JSON.stringify({ info, bad, chunks: h.chunks() });
}

describe("Heap.attach of a copy of a concurrent heap", () => {
  it("refuses a garbage lock word, naming it", () => {
    const { heap } = setup();
    const lockAt = (heap.base >>> 2) + H_LOCK;
    const slotLock = probe(heap).area + A_SLOTS + SLOT_WORDS * 5;
    for (const [at, bad, what] of [
      [lockAt, 0xdeadbeef, "the heap's lock"],
      [lockAt, 0x8000_0000, "the heap's lock"],
      [slotLock, 0x8000_0001, "arena 5's lock"],
      [slotLock + 1, -1, "arena 5's owner"],
      [slotLock + 3, 0x123, "arena 5's first segment"],
    ] as const) {
      const copy = copyOf(heap);
      new Int32Array(copy)[at] = bad;
      let err: unknown;
      try {
        Heap.attach(copy);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(HeapCorruptionError);
      expect((err as Error).message, what).toContain(what);
      expect((err as HeapCorruptionError).address, what).toBe(at * 4);
    }
  });

  it("a copy taken during a call opens with { snapshot: true } as the heap was before that call", () => {
    let cuts = 0;
    // Calls of thread 77: in its arena (a free, a malloc), on the main heap (a big malloc), and
    // a realloc that moves a block; each copied after a few of its stores.
    const calls: Array<(v: Heap, b: Array<[number, number]>) => void> = [
      (v, b) => v.free(b[1]![0]),
      (v) => v.malloc(200),
      (v) => v.malloc(150_000),
      (v, b) => v.realloc(b[0]![0], 5000),
      (v, b) => v.free(b[3]![0]),
    ];
    for (const [c, call] of calls.entries()) {
      for (const k of [0, 1, 3, 7]) {
        const { heap, victim, blocks } = setup();
        const before = Heap.attach(copyOf(heap), { snapshot: true });
        // (The blocks the call itself frees or moves are not compared.)
        const kept = blocks.filter((_, i) => !((c === 0 && i === 1) || (c === 3 && i === 0) || (c === 4 && i === 3)));
        const expected = picture(before, kept);
        const copy = copyDuring(victim, heap, k, () => call(victim, blocks));
        if (copy === null) continue; // the call made fewer stores
        cuts++;
        const v = new Int32Array(copy);
        const held = [(heap.base >>> 2) + H_LOCK, probe(heap).area + A_SLOTS + SLOT_WORDS * probe(victim).slot].some((i) => v[i] !== 0);
        expect(held, `call ${c}, cut ${k}`).toBe(true);
        const opened = Heap.attach(copy, { snapshot: true });
        expect(picture(opened, kept), `call ${c}, cut ${k}`).toBe(expected);
        // And the copy takes calls, from every handle on it.
        const other = Heap.attach(copy, { threadId: 99 });
        const p = other.malloc(300);
        const q = opened.malloc(70_000);
        expect(p * q).not.toBe(0);
        opened.free(p);
        other.free(q);
        opened.check();
      }
    }
    expect(cuts).toBeGreaterThan(12);
  });

  it("without { snapshot: true }, a call on a copy whose lock is held throws a HeapError naming the lock, instead of waiting for ever", () => {
    const { heap, victim } = setup();
    const copy = copyDuring(victim, heap, 2, () => victim.malloc(150_000)); // the main heap's lock, held by thread 77
    expect(copy).not.toBeNull();
    // As thread 77 itself (the same thread id): that thread is in no call, so the lock can never
    // be given back: at once.
    const self = Heap.attach(copy!, { threadId: 77 });
    expect(() => self.malloc(200_000)).toThrow(HeapError);
    // Any other thread: after waiting a while for the holder (LOCK_PATIENCE_MS, cut short here).
    const old = setLockPatience(50);
    try {
      const other = Heap.attach(copy!, { threadId: 5 });
      const t0 = Date.now();
      let err: unknown;
      try {
        other.malloc(200_000);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HeapError);
      expect((err as Error).message).toMatch(/held by thread 77.*recover\(77\).*snapshot: true/);
      expect(Date.now() - t0).toBeLessThan(5000);
      // Nothing changed: recover(77) then makes the copy usable, as snapshot would have.
      expect(other.recover(77)).toBe(true);
      const p = other.malloc(200_000);
      expect(p).not.toBe(0);
      other.free(p);
      other.check();
    } finally {
      setLockPatience(old);
    }
  });

  it("a copy taken between two calls of a thread (its arena's lock kept): check() throws at once in that thread, snapshot opens it", () => {
    const heap = new Heap({ memory: new LinearMemory({ maxBytes: 32 << 20 }), concurrent: true });
    const p = heap.malloc(100); // this thread keeps its arena's lock until the end of the task
    const copy = copyOf(heap);
    const plain = Heap.attach(copy);
    expect(() => plain.check()).toThrow(HeapError); // this thread would wait for itself
    const opened = Heap.attach(copy, { snapshot: true });
    opened.free(p);
    opened.check();
    expect(opened.mallinfo().uordblks).toBeLessThan(heap.mallinfo().uordblks);
  });
});
