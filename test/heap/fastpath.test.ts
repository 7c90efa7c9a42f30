/**
 * The LP64 fast paths of `malloc` and `free` (allocChunk, takeFree, carveTop and freeChunk
 * written out with literal layout numbers) must make exactly the choices of the general path
 * and throw the same errors before changing anything.
 *
 * - A differential property: the same random calls on a heap that takes the fast paths and on
 *   one that cannot (its `malloc` and `free` call the general path directly) return the same
 *   pointers and leave the same chunks; also for a heap on a wasm memory and a concurrent heap,
 *   which take the fast paths after a sync or under their lock.
 * - Each check of the fast paths, by damage it must catch, on both kinds of heap.
 *
 * Reproduce a failure with FC_SEED=<printed seed>.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, M_TRIM_THRESHOLD, type DataModel, type HeapOptions, type LinearMemory } from "../../src/index.js";
import { FastPathHeap } from "../../src/heap/FastPathHeap.js";
import { TARGETS, read32, write32, type AnyHeap } from "./helpers/heapKit.js";
import { fcSeed } from "../helpers/common.js";

const RUNS = Number(process.env.FC_RUNS ?? 150);
const SEED = fcSeed("fastpath");

/** A heap whose malloc and free skip the fast paths: mallocImpl and freeImpl, as the 32-bit model runs them. */
class GeneralHeap extends Heap {
  override malloc(size: number): number {
    return this.mallocImpl(size);
  }
  override free(ptr: number): void {
    if (ptr !== 0) this.freeImpl(ptr);
  }
}

type Op =
  | { kind: "malloc"; size: number }
  | { kind: "calloc"; n: number; size: number }
  | { kind: "free"; pick: number }
  | { kind: "realloc"; pick: number; size: number }
  | { kind: "memalign"; align: number; size: number };

// Sizes around the boundaries of the fast paths: exact small bins, the largest small bin,
// large classes, sizes that grow the heap, and requests the top cannot hold at once.
const size = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 6, arbitrary: fc.integer({ min: 65, max: 1100 }) },
  { weight: 1, arbitrary: fc.integer({ min: 990, max: 1040 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1100, max: 20_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 300_000 }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: size.map((s) => ({ kind: "malloc" as const, size: s })) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 200 })).map(([n, s]) => ({ kind: "calloc" as const, n, size: s })) },
  { weight: 5, arbitrary: fc.nat().map((i) => ({ kind: "free" as const, pick: i })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), size).map(([i, s]) => ({ kind: "realloc" as const, pick: i, size: s })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(32, 64, 256, 4096), size).map(([a, s]) => ({ kind: "memalign" as const, align: a, size: s })) },
);

/** Runs `ops` on `heap`; returns every pointer it got. */
function run(heap: Heap<LinearMemory>, ops: readonly Op[]): number[] {
  const live: number[] = [];
  const out: number[] = [];
  for (const o of ops) {
    if (o.kind === "free") {
      if (live.length === 0) continue;
      const [p] = live.splice(o.pick % live.length, 1);
      heap.free(p!);
      out.push(-p!);
    } else {
      let p: number;
      if (o.kind === "malloc") p = heap.malloc(o.size);
      else if (o.kind === "calloc") {
        // dirty memory first, so the zeroing is seen
        const q = heap.malloc(o.n * o.size);
        if (q !== 0) heap.memory.u8.fill(0xee, q, q + heap.mallocUsableSize(q));
        heap.free(q);
        p = heap.calloc(o.n, o.size);
        if (p !== 0 && heap.memory.u8.subarray(p, p + o.n * o.size).some((b) => b !== 0)) throw new Error(`calloc(${o.n}, ${o.size}) = ${p} is not zeroed`);
      }
      else if (o.kind === "memalign") p = heap.memalign(o.align, o.size);
      else if (live.length === 0) p = heap.malloc(o.size);
      else {
        const i = o.pick % live.length;
        p = heap.realloc(live[i]!, o.size);
        // realloc(p, 0) frees p; a failed realloc leaves it live
        if (p !== 0 || o.size === 0) live.splice(i, 1);
      }
      out.push(p);
      if (p !== 0) live.push(p);
    }
  }
  return out;
}

/** `ops` on both heaps (trim threshold `trim`): the same pointers, chunks and totals, both sound. */
function expectSameChoices(fast: Heap<LinearMemory>, general: Heap<LinearMemory>, ops: readonly Op[], trim: number): void {
  fast.mallopt(M_TRIM_THRESHOLD, trim);
  general.mallopt(M_TRIM_THRESHOLD, trim);
  expect(run(fast, ops)).toEqual(run(general, ops));
  expect(fast.chunks()).toEqual(general.chunks());
  expect(fast.mallinfo()).toEqual(general.mallinfo());
  fast.check();
  general.check();
}

describe(`the fast paths choose as the general path does (seed ${SEED})`, () => {
  // Each kind of heap, made with Heap or with GeneralHeap.
  const kinds: Array<[string, (H: new (opts: HeapOptions) => Heap<LinearMemory>, base: number) => Heap<LinearMemory>]> = [
    ["a heap on linear memory", (H, base) => new H({ maxBytes: 64 << 20, base })],
    // (One lock: with arenas, small blocks come from per-thread segments, not where this test looks.)
    ["a concurrent heap", (H, base) => new H({ maxBytes: 64 << 20, base, concurrent: true, arenas: false })],
    ["a heap on a wasm memory", (H, base) => new H({ memory: new WebAssembly.Memory({ initial: 1, maximum: 1024 }), base })],
  ];
  for (const [trim, [kind, make]] of [128 * 1024, 0].flatMap((t) => kinds.map((k) => [t, k] as const))) {
    it(`${kind}: same pointers, chunks and totals after random calls (trim threshold ${trim})`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 50, maxLength: 400, size: "max" }), fc.constantFrom(0, 48, 5000), (ops, base) => {
          const fast = make(Heap, base);
          const general = make(GeneralHeap, base);
          expectSameChoices(fast, general, ops, trim);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }
});

describe(`FastPathHeap, the wasm engine's source, chooses as the general path does in every data model (seed ${SEED})`, () => {
  // FastPathHeap writes out free's and malloc's common cases for any data model; the wasm
  // engine is generated from it. Run here in JavaScript, in this process (the forgery fuzzer runs
  // it in isolated processes), against Heap, whose 32-bit models take the general path.
  const kinds: Array<[string, (H: new (opts: HeapOptions) => Heap<LinearMemory>, dataModel: DataModel, base: number) => Heap<LinearMemory>]> = [
    ["on linear memory", (H, dataModel, base) => new H({ maxBytes: 64 << 20, base, dataModel })],
    ["on a wasm memory", (H, dataModel, base) => new H({ memory: new WebAssembly.Memory({ initial: 1, maximum: 1024 }), base, dataModel })],
  ];
  for (const dataModel of ["wasm32", "ilp32", "lp64"] as const) {
    for (const [kind, make] of kinds) {
      it(`${dataModel} ${kind}: same pointers, chunks and totals after random calls`, () => {
        fc.assert(
          fc.property(fc.array(op, { minLength: 50, maxLength: 400, size: "max" }), fc.constantFrom(0, 48, 5000), fc.constantFrom(128 * 1024, 0), (ops, base, trim) => {
            const fast = make(FastPathHeap, dataModel, base);
            const general = make(GeneralHeap, dataModel, base);
            expectSameChoices(fast, general, ops, trim);
          }),
          { seed: SEED, numRuns: Math.ceil(RUNS / 3) },
        );
      });
    }
  }
});

/** Header of the chunk of block `p` in the 64-bit model: prev_size, size, fd, bk. */
const W = 8;
const chunk = (p: number): number => p - 2 * W;
const sizeAt = (h: AnyHeap, p: number): number => read32(h, chunk(p) + W) & ~7;

/**
 * Damages the heap with `smash`, expects `call` to throw a HeapCorruptionError matching
 * `message` before changing anything, repairs the damage and checks that the heap works on.
 */
function expectCaught(h: AnyHeap, smash: Array<[addr: number, value: number]>, call: () => unknown, message: RegExp, after: () => void): void {
  const saved = smash.map(([a]) => [a, read32(h, a)] as const);
  const before = h.chunks();
  for (const [a, v] of smash) write32(h, a, v);
  expect(call).toThrow(HeapCorruptionError);
  expect(call).toThrow(message);
  for (const [a, v] of saved) write32(h, a, v);
  expect(h.chunks()).toEqual(before);
  h.check();
  after();
  h.check();
}

describe.each(TARGETS)("the fast paths catch damage before changing anything ($name heap)", (target) => {
  it("free: the chunk's own size is impossible", () => {
    const h = target.make();
    const a = h.malloc(100);
    h.malloc(100);
    expectCaught(h, [[chunk(a) + W, 0x11]], () => h.free(a), /invalid size/, () => h.free(a));
  });

  it("free: the next chunk no longer says its predecessor is in use", () => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    h.malloc(100);
    const nh = chunk(b) + W;
    expectCaught(h, [[nh, read32(h, nh) & ~2]], () => h.free(a), /double free or corruption \(!prev\)/, () => h.free(a));
  });

  it("free: the high half of the next size field is set", () => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    h.malloc(100);
    expectCaught(h, [[chunk(b) + W + 4, 1]], () => h.free(a), /invalid next size \(normal\)/, () => h.free(a));
  });

  it("free: the next chunk's size runs past the top", () => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    h.malloc(100);
    const nh = chunk(b) + W;
    expectCaught(h, [[nh, (read32(h, nh) & 7) | 0x7fff_0000]], () => h.free(a), /invalid next size \(normal\)/, () => h.free(a));
  });

  it("free: the top's size disagrees with the end of the heap", () => {
    const h = target.make();
    const a = h.malloc(100);
    const top = chunk(a) + sizeAt(h, a);
    expectCaught(h, [[top + W, (read32(h, top + W) + 16) | 0]], () => h.free(a), /invalid next size \(top\)/, () => h.free(a));
  });

  for (const [label, smashTop] of [
    ["bigger", (v: number) => (v + 16) | 0],
    ["in use", (v: number) => v | 1],
    ["all ones", () => -1],
  ] as const) {
    it(`malloc, calloc and realloc from the top: a top size smashed (${label}) is 'corrupted top size'`, () => {
      const h = target.make();
      // A write past the last block lands on the top's header.
      const smash = (): Array<[number, number]> => {
        const top = h.chunks().at(-1)!.address;
        return [[top + W, smashTop(read32(h, top + W))]];
      };
      h.malloc(24);
      expectCaught(h, smash(), () => h.malloc(16), /malloc\(\): corrupted top size/, () => void h.malloc(16));
      expectCaught(h, smash(), () => h.malloc(4000), /malloc\(\): corrupted top size/, () => void h.malloc(4000));
      expectCaught(h, smash(), () => h.calloc(1, 20_000), /malloc\(\): corrupted top size/, () => void h.calloc(1, 16));
      const z = h.malloc(40);
      expectCaught(h, smash(), () => h.realloc(z, 3000), /realloc\(\): (corrupted top size|invalid next size \(top\))/, () => void h.realloc(z, 3000));
    });
  }

  for (const [sb, sc] of [[24, 40], [1000, 3000], [24, 9000], [500, 20], [100_000, 40], [40, 100_000]] as const) {
    it(`free and realloc: a size smashed bigger so that it covers a block in use (${sb} + ${sc} bytes)`, () => {
      const h = target.make();
      // b and c in use, c right after b: b's chunk must not swallow it. (The first pairs may
      // land in holes, such as the in-use bitmap's first chunk once it moved.)
      const warm = Array.from({ length: 30 }, () => h.malloc(100_000)); // the bitmap grows once, here
      for (const w of warm) h.free(w);
      let b = 0;
      let c = 0;
      for (let i = 0; i < 50 && (c === 0 || chunk(c) !== chunk(b) + sizeAt(h, b)); i++) {
        b = h.malloc(sb);
        c = h.malloc(sc);
      }
      expect(chunk(c)).toBe(chunk(b) + sizeAt(h, b));
      h.malloc(40);
      const smash: Array<[number, number]> = [[chunk(b) + W, (sizeAt(h, b) + sizeAt(h, c)) | (read32(h, chunk(b) + W) & 7)]];
      expectCaught(h, smash, () => h.free(b), /free\(\): invalid size \(over a block in use\)/, () => h.free(b));
      const b2 = h.malloc(sb);
      expect(b2).toBe(b);
      expectCaught(h, smash, () => h.realloc(b2, sb + sc), /realloc\(\): invalid size \(over a block in use\)/, () => h.free(c));
    });
  }

  for (const span of [6, 8, 9]) {
    it(`free: a smashed size over a free chunk and then a block in use, ${span} bitmap words on (fast and general paths agree)`, () => {
      const h = target.make();
      h.mallopt(M_TRIM_THRESHOLD, 1 << 30);
      h.free(h.malloc(100_000)); // the in-use bitmap grows once, here
      const arena = h.chunks()[0]!.address;
      const top = (): number => h.chunks().at(-1)!.address;
      const mk = (chunkSize: number): number => h.malloc(chunkSize - 8) - 16; // from the top
      while (h.chunks().some((c) => c.kind === "free")) h.malloc(16); // fill the holes first
      let pad = (32 - (((top() - arena) >>> 4) % 32)) % 32;
      if (pad < 2) pad += 32;
      mk(pad * 16);
      const x = mk(32); // at bit 0 of its bitmap word
      const f = mk((160 - 2) * 16); // freed below: words 0..4 after x's
      const live = mk((span * 32 + 10 - 160) * 16); // in use, from word 5
      const g = mk(32);
      mk(32);
      expect((x - arena) >>> 4).toBe((((x - arena) >>> 4) >>> 5) << 5);
      h.free(f + 16);
      const smash: Array<[number, number]> = [[x + W, (g - x) | (read32(h, x + W) & 7)]];
      expectCaught(h, smash, () => h.free(x + 16), /free\(\): invalid size \(over a block in use\)/, () => h.free(x + 16));
      h.free(live + 16);
      h.check();
    });
  }

  it("free: a free next chunk whose forward link is smashed", () => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    const c = h.malloc(100);
    h.malloc(100);
    h.free(b); // binned: a and c are in use
    expectCaught(h, [[b, c]], () => h.free(a), /corrupted double-linked list/, () => h.free(a));
  });

  it("free: a free next chunk whose back link is smashed, behind another in its bin", () => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    h.malloc(100);
    const d = h.malloc(100);
    h.malloc(100);
    h.free(b);
    h.free(d); // d is first in the bin, b after it: b's back link is checked
    expectCaught(h, [[b + W, chunk(a)]], () => h.free(a), /corrupted double-linked list/, () => h.free(a));
  });

  it.each([
    ["its footer (the next chunk's prev_size)", (_a: number, b: number): [number, number] => [chunk(b), 48]],
    ["its size", (a: number): [number, number] => [chunk(a) + W, 0x41]],
  ])("free: the free chunk before disagrees with %s", (_what, smash) => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    h.malloc(100);
    h.free(a);
    expectCaught(h, [smash(a, b)], () => h.free(b), /corrupted size vs. prev_size/, () => h.free(b));
  });

  it("free: the free chunk before has a smashed forward link", () => {
    const h = target.make();
    const a = h.malloc(100);
    const b = h.malloc(100);
    const c = h.malloc(100);
    h.malloc(100);
    h.free(a);
    expectCaught(h, [[a, chunk(c)]], () => h.free(b), /corrupted double-linked list/, () => h.free(b));
  });

  it("free: coalescing on both sides at once, and with the top, keeps the heap exact", () => {
    const h = target.make();
    const blocks = Array.from({ length: 12 }, (_, i) => h.malloc(40 + 90 * i));
    for (const i of [1, 3, 5, 7, 9]) h.free(blocks[i]!);
    for (const i of [2, 6, 4, 8]) h.free(blocks[i]!); // both neighbours free
    h.check();
    expect(h.chunks().filter((x) => x.kind === "free")).toHaveLength(1);
    h.free(blocks[11]!); // into the top
    h.free(blocks[10]!); // with the free chunk before and the top
    h.check();
    expect(h.chunks().filter((x) => x.kind === "free")).toHaveLength(0);
  });

  it("malloc: a chunk of a larger small bin that does not belong there", () => {
    const h = target.make();
    const a = h.malloc(500);
    h.malloc(16);
    h.free(a); // alone in its bin; no exact fit nor victim for 100 bytes
    const s = chunk(a) + W;
    expectCaught(h, [[s, (read32(h, s) + 16) | 0]], () => h.malloc(100), /memory corruption \(free list\)/, () => expect(h.malloc(100)).not.toBe(0));
  });

  it("malloc: a large free chunk with a misaligned forward link", () => {
    const h = target.make();
    const a = h.malloc(5000);
    h.malloc(16);
    h.free(a);
    expectCaught(h, [[a, chunk(a) + 1]], () => h.malloc(5000), /corrupted free list/, () => expect(h.malloc(5000)).toBe(a));
  });

  it("malloc: a large request served from a larger class, the rest binned", () => {
    const h = target.make();
    const a = h.malloc(9000);
    h.malloc(16);
    h.free(a);
    const p = h.malloc(3000);
    expect(p).toBe(a);
    const rest = h.chunks().find((x) => x.address === chunk(a) + sizeAt(h, a));
    expect(rest?.kind).toBe("free");
    h.check();
  });
});

describe("the fast paths on a wasm memory and under a lock", () => {
  it("a wasm memory grown by the module between calls: malloc and free pick up the new buffer", () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 64 });
    const heap = new Heap({ memory, base: 1024 });
    const a = heap.malloc(100);
    const b = heap.malloc(200);
    heap.memory.u8.fill(0xab, a, a + 100);
    memory.grow(1); // detaches the buffer the heap's views were made on
    heap.free(b); // next to the top: merges into it
    const c = heap.malloc(5000); // carved from the top
    expect(c).not.toBe(0);
    memory.grow(1);
    heap.free(a);
    expect(heap.malloc(100)).toBe(a); // the exact fit just freed
    memory.grow(1);
    heap.free(c);
    heap.check();
    expect(heap.mallinfo().uordblks).toBeGreaterThan(0);
  });

  it("a shared wasm memory grown by another Heap on it: this one's views catch up before the fast paths read past them", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 256, shared: true });
    const a = new Heap({ memory, base: 256 });
    const b = Heap.attach(memory);
    const p = a.malloc(100);
    // b grows the memory (and the heap) far past what a's views cover; the old buffer stays valid.
    const big = Array.from({ length: 40 }, () => b.malloc(8000));
    expect(memory.buffer.byteLength).toBeGreaterThan(4 * 65536);
    for (const q of big) a.free(q); // chunks beyond a's old view
    a.free(p);
    const r = a.malloc(300_000); // carved where only the grown memory reaches
    expect(r).not.toBe(0);
    a.memory.u8.fill(7, r, r + 300_000);
    a.free(r);
    a.check();
    b.check();
  });

  it("a concurrent heap's malloc and free leave the lock free after each call, also when they throw", () => {
    const heap = new Heap({ concurrent: true });
    const lockWord = (): number => new Int32Array(heap.memory.buffer)[heap.base / 4 + 2]!; // the header's lock word (H_LOCK)
    const p = heap.malloc(100);
    expect(lockWord()).toBe(0);
    heap.free(p);
    expect(lockWord()).toBe(0);
    expect(() => heap.free(p)).toThrow(/double free/);
    expect(lockWord()).toBe(0); // released by the throw
    expect(heap.malloc(100)).toBe(p);
    heap.check();
  });
});
