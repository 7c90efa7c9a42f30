/**
 * The segment table is the authority on a concurrent heap's segments: each of its words names
 * the segment a MiB belongs to and that segment's arena (its slot, in the low bits). A
 * segment's own header lies in a block of the main heap, where an overflow of the block before
 * it reaches; so a handle takes nothing from it, it checks it against the table. And the words
 * that lead from one block to the next through freed memory (remote frees) are followed only
 * where they may lead.
 */
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, LinearMemory } from "../../src/index.js";

const A_SLOTS = (4 + 1 + 4096 + 15) & ~15; // arenas.ts: the slots, in the shared area
const A_TABLE = A_SLOTS + 64 * 16; // arenas.ts: the segment table
const S_REMOTE = 2;
const S_SEGS = 3;
const G_SLOT = 1;
const G_NEXT = 3;

interface Shared {
  area: number;
  slot: number;
}

/** A concurrent heap, and a second handle (thread 21) with an arena of its own holding `n` blocks of 100 bytes. */
function twoThreads(n = 3) {
  const a = new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }), concurrent: true });
  const buf = (a.memory as LinearMemory).buffer;
  const b = Heap.attach(buf, { threadId: 21 });
  a.malloc(8); // a's own arena
  const ps = Array.from({ length: n }, () => b.malloc(100));
  const w = new Int32Array(buf);
  const sb = (b as unknown as { shared: Shared }).shared;
  const sa = sb.area + A_SLOTS + sb.slot * 16;
  return { a, b, buf, w, ps, sb, sa, seg: ps[0]! & -(1 << 20) };
}

describe("the segment table", () => {
  it("names each segment's arena in its low bits", () => {
    const { w, sb, seg } = twoThreads();
    const t = w[sb.area + A_TABLE + (seg >>> 20)]!;
    expect(t & -(1 << 20)).toBe(seg);
    expect(t & 63).toBe(sb.slot);
    expect(w[(seg >>> 2) + G_SLOT]).toBe(sb.slot);
  });

  it("a segment header whose slot was overwritten is reported by the next handle that meets it, and nothing is freed", () => {
    const { b, buf, w, ps, seg } = twoThreads();
    w[(seg >>> 2) + G_SLOT] = 0; // (an overflow of the main-heap block before the segment)
    const x = Heap.attach(buf, { threadId: 5 });
    expect(() => x.free(ps[1]!)).toThrow(/segment header disagrees with the segment table/);
    expect(() => x.free(ps[1]!)).toThrow(HeapCorruptionError);
    expect(() => x.mallocUsableSize(ps[0]!)).toThrow(HeapCorruptionError);
    expect(b.mallocUsableSize(ps[1]!)).toBeGreaterThanOrEqual(100); // still live: its owner met the segment before
  });

  it("a segment list whose link was overwritten to another arena's segment is refused", () => {
    const { a, b, w, sb, sa } = twoThreads();
    const other = (a as unknown as { shared: Shared }).shared;
    const otherSeg = w[other.area + A_SLOTS + other.slot * 16 + S_SEGS]!;
    const first = w[sa + S_SEGS]!;
    w[(first >>> 2) + G_NEXT] = otherSeg;
    expect(sb.slot).not.toBe(other.slot);
    expect(() => b.mallinfo()).toThrow(/arena \d+'s list of segments is not sound/);
  });

  it("a heap of the earlier layout is refused by name on attach", () => {
    const { a, buf, w } = twoThreads();
    const area = (a as unknown as { shared: Shared }).shared.area;
    w[area] = 0x68736d76; // "vmsh"
    expect(() => Heap.attach(buf)).toThrow(/concurrent heap of an earlier layout/);
  });
});

describe("the remote frees, linked through freed memory", () => {
  it("a link overwritten with a live block's address ends the list: the live block is never freed, and check() reports the list", () => {
    const { a, b, w, ps } = twoThreads(4);
    const [live, p] = [ps[0]!, ps[1]!];
    a.free(p); // b keeps its arena's lock: p is pushed on b's remote frees
    w[p >>> 2] = live; // a use after free of p's link
    const got = [b.malloc(100), b.malloc(100), b.malloc(100)];
    for (const q of got) expect(q === 0 || q + 100 <= live || live + 100 <= q).toBe(true);
    expect(b.mallocUsableSize(live)).toBeGreaterThanOrEqual(100); // still a live block
    expect(() => b.check()).toThrow(/list of frees from other threads is broken/);
    b.check(); // reported once; the heap is sound (the rest of the list, if any, leaked)
  });

  it("a link into another arena's block ends the list there: that arena's block is not freed by a thread without its lock", () => {
    const { a, b, w, ps } = twoThreads();
    const theirs = a.malloc(100); // a block of a's arena
    a.free(ps[2]!);
    w[ps[2]! >>> 2] = theirs;
    b.malloc(100);
    expect(a.mallocUsableSize(theirs)).toBeGreaterThanOrEqual(100);
    expect(() => b.check()).toThrow(HeapCorruptionError);
  });

  it("a list whose head names memory outside every segment ends at once", () => {
    const { b, w, sa } = twoThreads();
    w[sa + S_REMOTE] = 0x10; // (not reachable by a program: a crafted buffer)
    expect(b.malloc(100)).not.toBe(0);
    expect(() => b.check()).toThrow(/list of frees from other threads is broken/);
  });
});
