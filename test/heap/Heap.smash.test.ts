/**
 * A write past the end of a block that smashes the size of the chunk after it, where that
 * chunk is one the general corruption suites do not reach: the designated victim (the free
 * remainder of a split, kept out of the bins) and the heap's own in-use bitmap chunk. heap.md:
 * such a smash "is detected at the latest by the next free/realloc/check touching it — never
 * a silent wrong answer". Each case checks that the call throws HeapCorruptionError before
 * changing anything, that the live block beyond is intact, and that the heap works again once
 * the header is repaired.
 */
import { describe, expect, it } from "vitest";
import { HeapCorruptionError, type ChunkInfo } from "../../src/index.js";
import {
  LP64,
  ILP32,
  TARGETS,
  expectPattern,
  expectUnchanged,
  fillPattern,
  firstDifference,
  read32,
  snapshot,
  thrown,
  write32,
  type AnyHeap,
  type DataModelSpec,
  type HeapTarget,
} from "./helpers/heapKit.js";

/** The chunk after the one of block `p`, and the one after that. */
function after(heap: AnyHeap, p: number): [ChunkInfo, ChunkInfo] {
  const ch = heap.chunks();
  const i = ch.findIndex((c) => c.ptr === p);
  return [ch[i + 1]!, ch[i + 2]!];
}

/** Smashes the size word of `chunk` (the word right past block `p`'s usable bytes) to `size`. */
function smash(heap: AnyHeap, spec: DataModelSpec, chunk: ChunkInfo, size: number): () => void {
  const at = chunk.address + spec.W;
  const old = read32(heap, at);
  write32(heap, at, (old & (spec.align - 1)) | size);
  return () => write32(heap, at, old);
}

const cases: Array<[HeapTarget, DataModelSpec]> = TARGETS.flatMap((t) => [[t, LP64] as [HeapTarget, DataModelSpec], [t, ILP32] as [HeapTarget, DataModelSpec]]);

describe.each(cases)("a smashed size after a block (%s heap, %s)", (target, spec) => {
  const make = (): AnyHeap => target.make({ dataModel: spec.name });

  for (const grow of [spec.align, "the live block's size"] as const) {
    for (const op of ["free", "realloc(p, 8)", "realloc(p, 1000)"] as const) {
      it(`of the designated victim, grown by ${String(grow)}: ${op} throws before any change`, () => {
        const heap = make();
        const big = heap.malloc(2000);
        const live = heap.malloc(100);
        heap.malloc(64);
        fillPattern(heap, live, 100, 5);
        heap.free(big);
        heap.malloc(40);
        const x = heap.malloc(40); // carved from the freed block: the rest after it is the victim
        const [dv, next] = after(heap, x);
        expect(dv.kind).toBe("free");
        expect(next.ptr).toBe(live);
        const repair = smash(heap, spec, dv, dv.size + (grow === spec.align ? spec.align : next.size));
        const before = snapshot(heap);
        const call = (): unknown => (op === "free" ? heap.free(x) : heap.realloc(x, op === "realloc(p, 8)" ? 8 : 1000));
        expect(thrown(call)).toBeInstanceOf(HeapCorruptionError);
        expectUnchanged(heap, before);
        expectPattern(heap, live, 100, 5, "the live block after the victim");
        repair();
        heap.check();
        heap.free(x);
        heap.check();
        expectPattern(heap, live, 100, 5, "the live block after the victim");
      });
    }
  }

  for (const grow of [spec.align, 2 * spec.align] as const) {
    it(`of a free chunk in a bin, grown by ${grow}: free throws HeapCorruptionError (not a fault) before any change`, () => {
      const heap = make();
      const x = heap.malloc(100);
      const y = heap.malloc(300);
      const z = heap.malloc(64);
      heap.malloc(1200); // keeps y's chunk out of the designated victim
      fillPattern(heap, z, 64, 3);
      heap.free(y);
      const [free] = after(heap, x);
      expect(free.kind).toBe("free");
      const repair = smash(heap, spec, free, free.size + grow);
      const before = snapshot(heap);
      const e = thrown(() => heap.free(x));
      expect(e).toBeInstanceOf(HeapCorruptionError);
      expectUnchanged(heap, before);
      repair();
      heap.free(x);
      heap.check();
      expectPattern(heap, z, 64, 3, "the live block after the free chunk");
    });
  }

  for (const link of ["fd", "bk"] as const) {
    for (const to of [0x10, 0x7fff0000]) {
      it(`of a free chunk's ${link} link, pointed outside the heap (0x${to.toString(16)}): free throws HeapCorruptionError, not a fault`, () => {
        const heap = make();
        const x = heap.malloc(100);
        const y = heap.malloc(300);
        heap.malloc(64);
        const w = heap.malloc(300); // a second chunk of y's bin: y gets a bk (it is not the head)
        heap.malloc(1200);
        heap.free(y);
        heap.free(w);
        const [free] = after(heap, x);
        expect(free.kind).toBe("free");
        const at = free.address + (link === "fd" ? 2 : 3) * spec.W;
        const old = read32(heap, at);
        write32(heap, at, to);
        // (mallinfo walks the bins: with a smashed link it reports it, so compare the bytes.)
        const before = target.regions(heap);
        expect(thrown(() => heap.free(x))).toBeInstanceOf(HeapCorruptionError);
        expect(target.regions(heap).map((r) => [r.start, firstDifference(r.bytes, before.find((b) => b.start === r.start)!.bytes)])).toEqual(before.map((r) => [r.start, -1]));
        if (link === "fd") expect(thrown(() => heap.mallinfo())).toBeInstanceOf(HeapCorruptionError);
        write32(heap, at, old);
        heap.free(x);
        heap.check();
        heap.mallinfo();
      });
    }
  }

  it("mallinfo reports a bin whose links run in a circle, and does not loop", () => {
    const heap = make();
    const x = heap.malloc(100);
    heap.malloc(300);
    heap.malloc(64);
    heap.free(x);
    const [free] = heap.chunks().filter((c) => c.kind === "free");
    const at = free!.address + 2 * spec.W;
    const old = read32(heap, at);
    write32(heap, at, free!.address); // fd: itself
    expect(thrown(() => heap.mallinfo())).toBeInstanceOf(HeapCorruptionError);
    write32(heap, at, old);
    expect(heap.mallinfo().ordblks).toBe(2);
  });

  for (const delta of ["+align", "-align", "+the live block's size"] as const) {
    for (const op of ["free", "realloc(p, more)"] as const) {
      it(`of the in-use bitmap's chunk (${delta}): ${op} throws before any change`, () => {
        const heap = make();
        // Grow until the bitmap has moved to a chunk of its own between two blocks.
        const seeds = new Map<number, number>();
        let x = 0;
        for (let i = 0; i < 4000 && x === 0; i++) {
          const p = heap.malloc(4000);
          fillPattern(heap, p, 4000, i);
          seeds.set(p, i);
          const ch = heap.chunks();
          const m = ch.findIndex((c) => c.kind === "meta");
          if (m > 0 && seeds.has(ch[m - 1]!.ptr) && seeds.has(ch[m + 1]?.ptr ?? -1)) x = ch[m - 1]!.ptr;
        }
        expect(x).not.toBe(0);
        const [meta, next] = after(heap, x);
        expect(meta.kind).toBe("meta");
        const y = next.ptr;
        const ySeed = seeds.get(y)!;
        const size = delta === "+align" ? meta.size + spec.align : delta === "-align" ? meta.size - spec.align : meta.size + next.size;
        const repair = smash(heap, spec, meta, size);
        const before = snapshot(heap);
        const call = (): unknown => (op === "free" ? heap.free(x) : heap.realloc(x, heap.mallocUsableSize(x) + 40));
        expect(thrown(call)).toBeInstanceOf(HeapCorruptionError);
        expectUnchanged(heap, before);
        expectPattern(heap, y, 4000, ySeed, "the live block after the bitmap");
        repair();
        heap.check();
        heap.free(x);
        heap.check();
        expectPattern(heap, y, 4000, ySeed, "the live block after the bitmap");
      });
    }
  }
});
