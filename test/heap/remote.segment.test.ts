import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, HeapError } from "../../src/index.js";
import { H_BITMAP } from "../../src/heap/header.js";

// A free of a block in another thread's arena runs that arena's segment's heap (under its
// lock). In a crafted buffer, that segment's heap is one this thread never checked: its chunk
// map moved (header word H_BITMAP) into a live block of the main heap, the map's words copied
// there so that the block to free looks live. The free must refuse, not write the map's bits
// into the main heap's live block.
describe("a free into another thread's arena checks that arena's segment first", () => {
  it("a segment whose chunk map was moved into a live block of the main heap", () => {
    const sab = new SharedArrayBuffer(32 << 20);
    const heap = new Heap({ memory: sab, concurrent: true });
    heap.malloc(100); // this handle's arena: slot 0
    const t9 = Heap.attach(sab, { threadId: 9 });
    const p2 = t9.malloc(100); // thread 9's arena: another slot, another segment
    const q = heap.malloc(256 << 10); // a big block: from the main heap, live
    expect(q).not.toBe(0);
    heap.recover(9); // thread 9 ended: its lock given back (its arena, with its block, stays)
    const copy = new SharedArrayBuffer(sab.byteLength);
    new Uint8Array(copy).set(new Uint8Array(sab));
    const w = new Int32Array(copy);
    const seg = p2 & ~0xf_ffff;
    expect(w[seg >>> 2]).toBe(0x67736d76); // "vmsg"
    const sub = w[(seg >>> 2) + 4]!; // the segment's heap's header
    const map = w[(sub >>> 2) + H_BITMAP]!;
    // the map's words, copied into q's block, and the header pointed there
    const u8 = new Uint8Array(copy);
    u8.copyWithin(q, map, map + (64 << 10));
    w[(sub >>> 2) + H_BITMAP] = q;
    const before = u8.slice(q, q + (64 << 10));
    const x = Heap.attach(copy, { threadId: 5 }); // a third thread, no arena yet
    let threw: unknown = null;
    try {
      x.free(p2);
    } catch (e) {
      threw = e;
    }
    expect(threw).toBeInstanceOf(HeapError);
    expect(threw).toBeInstanceOf(HeapCorruptionError);
    expect(u8.slice(q, q + (64 << 10))).toEqual(before); // the main heap's live block untouched
  });

  it("a sound segment of another arena: its blocks are freed there, checked once", () => {
    const sab = new SharedArrayBuffer(32 << 20);
    const heap = new Heap({ memory: sab, concurrent: true });
    heap.malloc(100);
    const t9 = Heap.attach(sab, { threadId: 9 });
    const ps = [t9.malloc(100), t9.malloc(200), t9.malloc(300)];
    t9.free(t9.malloc(8)); // (thread 9 keeps its arena's lock between calls: a worker ends its task)
    heap.recover(9); // as if thread 9 had ended: its lock given back, its arena kept
    for (const p of ps) heap.free(p);
    heap.check();
    expect(heap.mallinfo().uordblks).toBeGreaterThan(0);
  });
});

describe("realloc of another thread's block while its owner moves its chunk map", () => {
  // The read of another arena's segment without its lock sees no live block while the owner
  // is moving its chunk map (liveNow false). realloc took that for an invalid pointer: it
  // freed the block (the free, under the arena's lock, found it live) and returned NULL, so the
  // program kept a pointer to a freed block. Seen as "realloc(…) failed" in the 4-worker stress
  // test under heavy load; here the moving map is a liveNow that says false once.
  it("is decided under the arena's lock: the block moves, its bytes with it", () => {
    const sab = new SharedArrayBuffer(32 << 20);
    const heap = new Heap({ memory: sab, concurrent: true });
    heap.malloc(100);
    const t9 = Heap.attach(sab, { threadId: 9 });
    const p = t9.malloc(100);
    const u8 = new Uint8Array(sab);
    for (let i = 0; i < 100; i++) u8[p + i] = i;
    heap.recover(9); // thread 9 ended: its lock given back, its block still live
    const seg = (heap as unknown as { shared: { seg(a: number): { e: { liveNow(p: number): boolean } } } }).shared.seg(p & ~0xf_ffff);
    const live = seg.e.liveNow;
    let moving = true;
    seg.e.liveNow = function (this: unknown, x: number): boolean {
      if (moving) {
        moving = false;
        return false;
      }
      return live.call(this, x);
    };
    const q = heap.realloc(p, 300);
    expect(moving).toBe(false); // the read without the lock happened
    expect(q).not.toBe(0);
    for (let i = 0; i < 100; i++) expect(u8[q + i]).toBe(i);
    heap.free(q);
    heap.check();
  });
});
