/**
 * Scenarios on a concurrent heap's remote frees (a block of another thread's arena freed while
 * that thread holds its arena's lock is pushed on the arena's list, linked through the block's
 * first word, and freed by the owner at its next call). Between the push and the drain the
 * block is freed memory: a program may write into it (a use after free). They run in a worker
 * (deadline.ts), so nothing here may use vitest; each returns plain data.
 */
import { Heap, HeapError, LinearMemory } from "../../../src/index.js";

/** What a scenario saw. */
export interface RemoteOutcome {
  /** The error the owner's next calls threw (name: message), or null. */
  threw: string | null;
  /** Blocks the owner's next mallocs returned. */
  got: number[];
  /** The live block the forged link named. */
  live: number;
  /** Whether the live block's bytes are as the program left them. */
  intact: boolean;
}

/** A concurrent heap, a second handle (thread 21) holding its arena's lock, and a block of it freed by the first handle (pushed). */
function pushed(): { a: Heap; b: Heap; w: Int32Array; u8: Uint8Array; live: number; p: number } {
  const a = new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }), concurrent: true });
  const buf = (a.memory as LinearMemory).buffer;
  const b = Heap.attach(buf, { threadId: 21 });
  a.malloc(8); // a's own arena
  const live = b.malloc(100);
  const p = b.malloc(100);
  b.malloc(100);
  const u8 = new Uint8Array(buf);
  for (let i = 0; i < 100; i++) u8[live + i] = (i * 7 + 3) & 0xff;
  a.free(p); // b keeps its arena's lock between calls: p goes on b's remote frees
  return { a, b, w: new Int32Array(buf), u8, live, p };
}

/**
 * The pushed block's link (its first word, freed memory) is overwritten with the address of a
 * live block of the same arena; then the owner allocates twice.
 */
export function linkToLiveBlock(): RemoteOutcome {
  const { b, w, u8, live, p } = pushed();
  w[live >>> 2] = 0; // (the live block's own first word: a program's null pointer)
  u8[live] = 0;
  const keep = u8.slice(live, live + 100);
  w[p >>> 2] = live;
  const got: number[] = [];
  let threw: string | null = null;
  try {
    for (let i = 0; i < 2; i++) {
      const q = b.malloc(100);
      got.push(q);
      if (q !== 0) u8.fill(0xee, q, q + 100);
    }
  } catch (e) {
    threw = e instanceof HeapError ? `${e.name}: ${e.message}` : String(e);
  }
  return { threw, got, live, intact: u8.slice(live, live + 100).every((x, i) => x === keep[i]) };
}

/**
 * The pushed block's link is overwritten with an interior pointer to its own data, where the
 * program wrote that same pointer: a list that runs in a circle through an address no block
 * starts at. Returns when the owner's next malloc returns or throws.
 */
export function linkInACircle(): RemoteOutcome {
  const { b, w, live, p } = pushed();
  w[p >>> 2] = p + 16;
  w[(p + 16) >>> 2] = p + 16;
  let threw: string | null = null;
  const got: number[] = [];
  try {
    got.push(b.malloc(100));
  } catch (e) {
    threw = e instanceof HeapError ? `${e.name}: ${e.message}` : String(e);
  }
  return { threw, got, live, intact: true };
}

/** Word offsets of an arena's slot in the shared area (src/heap/arenas.ts). */
const SLOTS_AT = (4 + 1 + 4096 + 15) & ~15;
const S_OWNER = 1;
const S_DETACHED = 5;
const S_PUSH = 7;
const S_PUSH_TO = 8;

/**
 * A copy of a concurrent heap taken while thread 21 held its arena (between two calls), one
 * word of thread 21's slot crafted by `craft`, opened with `Heap.attach(copy, { snapshot: true })`.
 * `bigWord`: a word index inside a live block of the main heap, at a slot's lock word offset.
 */
function craftedSlot(craft: (w: Int32Array, sa: number, ctx: { p: number; bigWord: number; area: number }) => void): { threw: string | null; ms: number; bigBefore: number; bigAfter: number } {
  const a = new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }), concurrent: true });
  const buf = (a.memory as LinearMemory).buffer;
  const b = Heap.attach(buf, { threadId: 21 });
  a.malloc(8);
  b.malloc(100);
  const p = b.malloc(100);
  const big = a.malloc(200_000); // a live block of the main heap
  const copy = buf.slice(0);
  const w = new Int32Array(copy);
  const area = (a as unknown as { shared: { area: number } }).shared.area;
  let sa = -1;
  for (let s = 0; s < 64; s++) if (w[area + SLOTS_AT + s * 16 + S_OWNER] === 22) sa = area + SLOTS_AT + s * 16;
  if (sa < 0) throw new Error("thread 21's slot not found");
  let bigWord = (big >>> 2) + 16;
  while ((bigWord - area - SLOTS_AT) % 16 !== 0) bigWord++;
  craft(w, sa, { p, bigWord, area });
  const bigBefore = w[bigWord]!;
  const t0 = Date.now();
  let threw: string | null = null;
  try {
    const h = Heap.attach(copy, { snapshot: true, threadId: 5 });
    h.free(h.malloc(100));
  } catch (e) {
    threw = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  return { threw, ms: Date.now() - t0, bigBefore, bigAfter: w[bigWord]! };
}

/** The slot's list of remote frees being freed (S_DETACHED) names a block whose link names itself. */
export function detachedInACircle(): ReturnType<typeof craftedSlot> {
  return craftedSlot((w, sa, { p }) => {
    w[sa + S_DETACHED] = p;
    w[p >>> 2] = p;
  });
}

/** The slot's "block being pushed to arena k" names an arena index far past the 64 arenas. */
export function pushToFarArena(): ReturnType<typeof craftedSlot> {
  return craftedSlot((w, sa, { p }) => {
    w[sa + S_PUSH] = p;
    w[sa + S_PUSH_TO] = 2_000_000_000;
  });
}

/**
 * The slot's "block being pushed to arena k" names an arena index whose lock word would be a
 * word of a live block of the main heap, holding `value` (the program's data).
 */
export function pushToArenaInLiveBlock(value: number): ReturnType<typeof craftedSlot> {
  return craftedSlot((w, sa, { p, bigWord, area }) => {
    w[sa + S_PUSH] = p;
    w[sa + S_PUSH_TO] = (bigWord - area - SLOTS_AT) / 16 + 1;
    w[bigWord] = value;
  });
}
