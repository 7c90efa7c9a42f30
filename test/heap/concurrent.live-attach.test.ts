/**
 * Attaching a live concurrent heap while other threads change it: the words attach checks are
 * written by those threads in an order that keeps every moment of it sound, and attach takes
 * none of those moments for damage. Two moments that it took for damage (the second also sent
 * recover to slot -1):
 * - a thread adding its arena's first segment has written the log's word, not yet the list's;
 * - a thread freeing another thread's block, on its first push, had written the block's word,
 *   not yet the arena's.
 * A crafted buffer that only imitates the first moment is still refused. And recover, undoing
 * a dead thread's stores newest first, passes through moments that no call's order makes (the
 * list's word read, then the table's gone): attach reads a slot again while its words move.
 */
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, LinearMemory } from "../../src/index.js";
import { spyStores } from "./helpers/storeSpy.js";

// The shared area's layout (arenas.ts): slots of 16 words from word 4112 of the area; in a
// slot, the first segment at word 3, the current one at 4, the log at 9; a segment's header is
// 64 bytes, the log right past the first one's.
const A_SLOTS = 4112;
const SLOT_WORDS = 16;
const S_SEGS = 3;
const S_CUR = 4;
const S_LOG = 9;
const SEG_HEADER = 64;
const A_TABLE = A_SLOTS + 64 * SLOT_WORDS;

interface Shared {
  v: Int32Array;
  slot: number;
  area: number;
}
const sharedOf = (h: Heap): Shared => (h as unknown as { shared: Shared }).shared;

function heapWithArena(): { heap: Heap; t77: Heap; buf: SharedArrayBuffer; v: Int32Array; sa: number } {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 16 << 20 }), concurrent: true });
  const buf = (heap.memory as LinearMemory).buffer as SharedArrayBuffer;
  const t77 = Heap.attach(buf, { threadId: 77 });
  t77.free(t77.malloc(100)); // its arena, with its first segment
  const sh = sharedOf(t77);
  const v = new Int32Array(buf);
  const sa = sh.area + A_SLOTS + sh.slot * SLOT_WORDS;
  expect(v[sa + S_LOG], "the slot's layout as this test reads it").toBe(v[sa + S_SEGS]! + SEG_HEADER);
  return { heap, t77, buf, v, sa };
}

describe("attaching a live concurrent heap", () => {
  it("while a thread adds its arena's first segment: the log's word written, the list's not yet", () => {
    const { heap, buf, v, sa } = heapWithArena();
    const segs = v[sa + S_SEGS]!;
    const cur = v[sa + S_CUR]!;
    // The moment between newSegment's store of the log's word and its store of the list's.
    v[sa + S_SEGS] = 0;
    v[sa + S_CUR] = 0;
    expect(() => Heap.attach(buf)).not.toThrow();
    v[sa + S_SEGS] = segs;
    v[sa + S_CUR] = cur;
    heap.check();
  });

  it("while recover undoes a dead thread's first segment: the list's word read before the undo, the rest after", () => {
    // A thread that died in the middle of adding its arena's first segment (holding the main
    // heap's lock) has its stores undone by Heap.recover, newest first: the current segment,
    // the list, the log, the table. An attach in another thread that read the list's word just
    // before sees the others gone.
    const { heap, buf, v, sa } = heapWithArena();
    const segs = v[sa + S_SEGS]!;
    const table = sharedOf(heap).area + A_TABLE;
    const undo = (): void => {
      v[sa + S_CUR] = 0;
      v[sa + S_SEGS] = 0;
      v[sa + S_LOG] = 0;
      const t = v[table + (segs >>> 20)];
      for (let i = segs >>> 20; v[table + i] === t; i++) v[table + i] = 0;
    };
    const load = Atomics.load;
    let undone = false;
    (Atomics as unknown as { load: (a: Int32Array, i: number) => number }).load = (a, i) => {
      const x = load(a, i);
      if (!undone && a.buffer === buf && i === sa + S_SEGS) {
        undone = true;
        undo();
      }
      return x;
    };
    try {
      expect(() => Heap.attach(buf)).not.toThrow();
    } finally {
      Atomics.load = load;
    }
    expect(undone).toBe(true);
    expect(v[sa + S_SEGS]).toBe(0);
    heap.check();
  });

  it("a log's word with no list, past what is not a segment of that arena: refused", () => {
    const { buf, v, sa } = heapWithArena();
    const segs = v[sa + S_SEGS]!;
    v[sa + S_SEGS] = 0;
    v[sa + S_CUR] = 0;
    for (const bad of [segs + SEG_HEADER + 16, segs + SEG_HEADER + (1 << 20), SEG_HEADER, 8]) {
      v[sa + S_LOG] = bad;
      expect(() => Heap.attach(buf), `log at 0x${bad.toString(16)}`).toThrow(HeapCorruptionError);
      expect(() => Heap.attach(buf)).toThrow(/log \(word at 0x[0-9a-f]+\) holds 0x[0-9a-f]+, which is not sound/);
    }
  });

  it("at every store of a thread's first free of another thread's block", () => {
    const { heap, t77, buf } = heapWithArena();
    const p = t77.malloc(200); // t77 keeps its arena's lock between calls: t78's free goes on its list
    const t78 = Heap.attach(buf, { threadId: 78 });
    t78.free(t78.malloc(100)); // (t78's own arena, whose words say what it is pushing)
    const sh = sharedOf(t78);
    const seen: string[] = [];
    const stores = spyStores(
      sh,
      (i, x) => {
        try {
          Heap.attach(buf);
        } catch (e) {
          seen.push(`before the store of ${x} at word ${i}: ${(e as Error).message}`);
        }
      },
      () => t78.free(p),
    );
    expect(stores).toBeGreaterThanOrEqual(3); // the arena's word, the block's, the block's again (0), the block's link
    expect(seen).toEqual([]);
    expect(() => Heap.attach(buf)).not.toThrow();
    heap.check();
  });
});
