/**
 * Unit tests of `Heap`: one or more tests per rule of docs/spec heap.md, in its order.
 * Sizes and usable sizes are computed with glibc's `request2size` written out in
 * helpers/heapKit.ts, not taken from the implementation.
 */
import { describe, expect, it } from "vitest";
import {
  ArgumentError,
  DoubleFreeError,
  Errno,
  Heap,
  HeapCorruptionError,
  HeapError,
  InvalidPointerError,
  LinearMemory,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
  VmError,
} from "../../src/index.js";
import {
  ILP32,
  KiB,
  LP64,
  MiB,
  chunkFor,
  copyMem,
  expectDisjoint,
  expectPattern,
  expectUnchanged,
  fillMem,
  fillPattern,
  firstNonZero,
  memoryEnd,
  newHeap,
  processOf,
  read64,
  rng,
  shuffled,
  snapshot,
  PROCESS,
  TARGETS,
  thrown,
  usableFor,
  write32,
  write64,
  type AnyHeap,
  type TargetOptions,
} from "./helpers/heapKit.js";
import { runIsolated } from "./helpers/isolated.js";

const SIZES_SMALL = Array.from({ length: 300 }, (_, i) => i);
const SIZES_EDGES = [511, 512, 513, 1000, 1008, 1009, 1023, 1024, 1025, 4095, 4096, 4097, 65_535, 65_536, 65_537, 131_071, 131_072, 200_000];
const ALL_MALLINFO_FIELDS = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"];

/** Allocates a block of `size` bytes and fills its whole usable area with the pattern of `seed`. */
function filled(heap: AnyHeap, size: number, seed: number): number {
  const p = heap.malloc(size);
  expect(p).not.toBe(0);
  fillPattern(heap, p, heap.mallocUsableSize(p), seed);
  return p;
}

/**
 * A block of `n` bytes carved from the top chunk (so it sits right before the new top): blocks
 * served from free chunks instead are kept (leaked) until one comes from the top.
 */
function fromTop(heap: AnyHeap, n: number): number {
  for (let i = 0; i < 100; i++) {
    const k = heap.mallinfo().keepcost;
    const p = heap.malloc(n);
    if (heap.mallinfo().keepcost === k - chunkFor(LP64, n)) return p;
  }
  throw new Error("no block came from the top");
}

/** Asserts that `fn` throws an error of class `cls` whose message contains `words`, and returns it. */
function expectHeapError(fn: () => unknown, cls: abstract new (...args: never[]) => HeapError, words: string): HeapError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(cls);
  expect(e).toBeInstanceOf(HeapError);
  expect(e).toBeInstanceOf(VmError);
  expect(e).toBeInstanceOf(Error);
  expect((e as Error).name).toBe(cls.name);
  expect((e as Error).message).toContain(words);
  return e as HeapError;
}

// The rules of heap.md hold for both kinds of heap: on linear memory and inside a process
// (process.heap). Where a process legitimately differs (blocks at or over the mmap threshold
// get mappings of their own; the break's limit instead of maxBytes), the test says so.
describe.each(TARGETS)("$name heap", (target) => {
  /** A fresh heap of this target (16 MiB maxBytes on linear memory, as newHeap). */
  const make = (opts: TargetOptions = {}): AnyHeap => target.make(opts);
  /**
   * A heap that can grow to `maxBytes` and no further: on linear memory its maxBytes; in a
   * process the break's limit, with mappings turned off (`M_MMAP_MAX` 0), since a heap whose
   * break cannot grow serves a request from a mapping of its own (glibc's sysmalloc does too).
   */
  const limited = (maxBytes: number): AnyHeap => {
    const heap = make({ maxBytes });
    if (target.mapsBigBlocks) expect(heap.mallopt(M_MMAP_MAX, 0)).toBe(1);
    return heap;
  };
  /**
   * Options that keep big blocks in the brk heap, for tests of the break itself (growth,
   * trimming): in a process, an mmap threshold over every size they use.
   */
  const brkOnly: TargetOptions = target.mapsBigBlocks ? { mmapThreshold: 32 * MiB } : {};
  /** Whether `p` is a block with a mapping of its own (outside the brk heap). */
  const isMapped = (heap: AnyHeap, p: number): boolean => target.mapsBigBlocks && !(p >= heap.base && p < processOf(heap).sbrk(0));
  describe("malloc", () => {
    it("malloc(0) returns unique, non-NULL, aligned, freeable pointers", () => {
      const heap = make();
      const ps = Array.from({ length: 64 }, () => heap.malloc(0));
      for (const p of ps) {
        expect(p).not.toBe(0);
        expect(p % 16).toBe(0);
        expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(0);
      }
      expect(new Set(ps).size).toBe(ps.length);
      expectDisjoint(heap, ps);
      for (const p of ps) heap.free(p);
      heap.check();
      expect(heap.errno).toBe(0);
    });

    it("every result is 16-byte aligned and mallocUsableSize(p) >= size (blocks kept live, none overlapping)", () => {
      const heap = make({ maxBytes: 64 * MiB });
      const ps: number[] = [];
      for (const n of [...SIZES_SMALL, ...SIZES_EDGES]) {
        const p = heap.malloc(n);
        expect(p, `malloc(${n})`).not.toBe(0);
        expect(p % 16, `malloc(${n}) = 0x${p.toString(16)}`).toBe(0);
        expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(n);
        ps.push(p);
      }
      expectDisjoint(heap, ps);
      heap.check();
      for (const p of ps) heap.free(p);
      heap.check();
    });

    it("usable size follows glibc's request2size: malloc(24) is 24 usable in a 32-byte chunk", () => {
      const heap = make();
      const p = heap.malloc(24);
      expect(heap.mallocUsableSize(p)).toBe(24);
      expect(chunkFor(LP64, 24)).toBe(32);
      // A table from glibc x86-64: chunk = max(32, (n + 8 + 15) & ~15), usable = chunk - 8.
      const table: [number, number][] = [[0, 24], [1, 24], [24, 24], [25, 40], [40, 40], [41, 56], [100, 104], [1000, 1000], [1001, 1016], [4096, 4104]];
      for (const [n, usable] of table) expect(heap.mallocUsableSize(heap.malloc(n)), `malloc(${n})`).toBe(usable);
      for (let n = 0; n <= 2100; n++) {
        const q = heap.malloc(n);
        expect(heap.mallocUsableSize(q), `malloc(${n})`).toBe(usableFor(LP64, n));
        heap.free(q);
      }
      heap.check();
    });

    it("the whole usable size can be written: filling every block to its usable size breaks nothing", () => {
      const heap = make();
      const rand = rng(7);
      const ps = Array.from({ length: 200 }, (_, i) => filled(heap, Math.floor(rand() * 300), i));
      heap.check();
      for (const [i, p] of ps.entries()) expectPattern(heap, p, heap.mallocUsableSize(p), i);
      for (const p of shuffled(ps, rand)) heap.free(p);
      heap.check();
    });

    it("out of memory: 0 with ENOMEM, and nothing already allocated is disturbed", () => {
      const heap = limited(1 * MiB);
      const ps: number[] = [];
      for (;;) {
        const p = heap.malloc(4000);
        if (p === 0) break;
        fillPattern(heap, p, heap.mallocUsableSize(p), ps.length);
        ps.push(p);
        expect(ps.length).toBeLessThan(1000);
      }
      expect(heap.errno).toBe(Errno.ENOMEM);
      expect(ps.length).toBeGreaterThan(100);
      for (const n of [4000, 64 * KiB, 1 * MiB, 2 ** 30, 0x7fff_0000, 2 ** 31 - 1]) {
        heap.errno = 0;
        const info = heap.mallinfo();
        expect(heap.malloc(n), `malloc(${n})`).toBe(0);
        expect(heap.errno).toBe(Errno.ENOMEM);
        expect(heap.mallinfo()).toEqual(info);
      }
      for (const [i, p] of ps.entries()) expectPattern(heap, p, heap.mallocUsableSize(p), i);
      heap.check();
      // Still fully usable: free one block and the same request succeeds.
      heap.free(ps.pop()!);
      expect(heap.malloc(4000)).not.toBe(0);
      heap.check();
    });

    it("a huge request on a heap with room left fails cleanly and the heap goes on", () => {
      const heap = make();
      const ps = [0, 1, 2, 3].map((i) => filled(heap, 100 * (i + 1), i));
      for (const n of [2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
        heap.errno = 0;
        const before = snapshot(heap);
        expect(heap.malloc(n), `malloc(${n})`).toBe(0);
        expect(heap.errno).toBe(Errno.ENOMEM);
        before.errno = Errno.ENOMEM;
        expectUnchanged(heap, before);
      }
      for (const [i, p] of ps.entries()) expectPattern(heap, p, heap.mallocUsableSize(p), i);
      heap.check();
      expect(heap.malloc(100)).not.toBe(0);
    });

    const badSizes: [string, unknown][] = [
      ["-1", -1],
      ["-16", -16],
      ["-0.5", -0.5],
      ["NaN", NaN],
      ["Infinity", Infinity],
      ["-Infinity", -Infinity],
      ["1.5", 1.5],
      ["0.5", 0.5],
      ["2**53", 2 ** 53],
      ["2**53 + 2", 2 ** 53 + 2],
      ["Number.MAX_VALUE", Number.MAX_VALUE],
    ];
    // Not numbers: C would not compile these, so there is no C result; a typed error, the heap intact.
    const notSizes: [string, unknown, string][] = [
      ['"16" (string)', "16", 'got "16"'],
      ['"abc" (string)', "abc", 'got "abc"'],
      ["16n (bigint)", 16n, "got 16n"],
      ["undefined", undefined, "got undefined"],
      ["null", null, "got null"],
      ["{} (object)", {}, "got an Object"],
      ["[16] (array)", [16], "got an Array"],
    ];
    it.each(badSizes)("a size no heap could hold (%s) returns 0 with ENOMEM and leaves the heap intact", (_, size) => {
      const heap = make();
      const ps = [0, 1, 2].map((i) => filled(heap, 50 + i * 70, i));
      heap.free(ps[1]!);
      heap.errno = 0;
      const before = snapshot(heap);
      expect(heap.malloc(size as number)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
      before.errno = Errno.ENOMEM;
      expectUnchanged(heap, before);
      heap.check();
      expectPattern(heap, ps[0]!, heap.mallocUsableSize(ps[0]!), 0);
      expectPattern(heap, ps[2]!, heap.mallocUsableSize(ps[2]!), 2);
      expect(heap.malloc(16)).not.toBe(0);
    });

    it.each(notSizes)("a size that is not a number (%s) throws ArgumentError naming it, and leaves the heap and errno intact", (_, size, shown) => {
      const heap = make();
      const ps = [0, 1, 2].map((i) => filled(heap, 50 + i * 70, i));
      heap.free(ps[1]!);
      heap.errno = 0;
      const before = snapshot(heap);
      const e = thrown(() => heap.malloc(size as number));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toBe(`malloc(): size must be a number, ${shown}`);
      expect(heap.errno).toBe(0);
      expectUnchanged(heap, before);
      heap.check();
      expectPattern(heap, ps[0]!, heap.mallocUsableSize(ps[0]!), 0);
      expect(heap.malloc(16)).not.toBe(0);
    });

    it("check() passes after one malloc of any size on a fresh heap (sizes swept up to 2 MiB)", () => {
      const bad: number[] = [];
      // Sizes found by the model test, then a sweep (a fresh heap each: growth from the start).
      for (const n of [126_622, 255_945, 256_232, 257_229, ...Array.from({ length: 300 }, (_, i) => 1000 + i * 6991)]) {
        const heap = make({ maxBytes: 8 * MiB });
        const p = heap.malloc(n);
        expect(p).not.toBe(0);
        if (thrown(() => heap.check()) !== undefined) bad.push(n);
      }
      expect(bad, "sizes after which check() fails").toEqual([]);
    });

    it.runIf(target.name === "linear")("on linear memory there is no mapping source: blocks over the mmap threshold come from the break", () => {
      const heap = make();
      const arena0 = heap.mallinfo().arena;
      const p = filled(heap, 200 * KiB, 1);
      const info = heap.mallinfo();
      expect(info.hblks).toBe(0);
      expect(info.hblkhd).toBe(0);
      expect(info.arena).toBeGreaterThanOrEqual(arena0 + 200 * KiB);
      expect(heap.mallocFootprint()).toBe(info.arena);
      expect(p).toBeLessThan(memoryEnd(heap));
      expectPattern(heap, p, 200 * KiB, 1);
      heap.free(p);
      heap.check();
    });

    it.runIf(target.name === "process")("in a process, a block at or over the mmap threshold gets a mapping of its own, unmapped by free at once", () => {
      const heap = make();
      const proc = processOf(heap);
      const arena0 = heap.mallinfo().arena;
      const brk0 = proc.sbrk(0);
      const small = filled(heap, 100, 2);
      const p = filled(heap, 200 * KiB, 1);
      const info = heap.mallinfo();
      expect(info.hblks).toBe(1);
      expect(info.hblkhd % 4096).toBe(0);
      expect(info.hblkhd).toBeGreaterThanOrEqual(200 * KiB + 16);
      expect(info.hblkhd).toBeLessThan(200 * KiB + 16 + 4096);
      expect(info.arena).toBe(arena0); // the brk heap did not grow
      expect(proc.sbrk(0)).toBe(brk0);
      expect(heap.mallocFootprint()).toBe(info.arena + info.hblkhd);
      expect(isMapped(heap, p)).toBe(true);
      expect(p % 16).toBe(0);
      expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(200 * KiB);
      expect(heap.chunks().some((c) => c.ptr === p)).toBe(false);
      const region = heap.memory instanceof LinearMemory ? null : heap.memory.regionAt(p);
      expect(region).not.toBeNull();
      expect(p + heap.mallocUsableSize(p)).toBe(region!.end);
      expectPattern(heap, p, 200 * KiB, 1);
      heap.check();
      // exactly at the threshold: mapped too; one byte under: from the brk heap
      const at = heap.malloc(128 * KiB);
      const under = heap.malloc(128 * KiB - 1);
      expect(isMapped(heap, at)).toBe(true);
      expect(isMapped(heap, under)).toBe(false);
      expect(heap.mallinfo().hblks).toBe(2);
      heap.free(at);
      heap.free(under);
      heap.free(p);
      const after = heap.mallinfo();
      expect(after.hblks).toBe(0);
      expect(after.hblkhd).toBe(0);
      expect(heap.memory instanceof LinearMemory ? null : heap.memory.regionAt(p)).toBeNull(); // unmapped at once
      expect(() => heap.free(p)).toThrow(DoubleFreeError);
      expectPattern(heap, small, heap.mallocUsableSize(small), 2);
      heap.check();
    });

    it.runIf(target.name === "process")("in a process, when the break is at its limit a request gets a mapping of its own (glibc's sysmalloc falls back to mmap)", () => {
      const heap = make({ maxBytes: 256 * KiB });
      const ps: number[] = [];
      while (heap.mallinfo().hblks === 0) {
        ps.push(filled(heap, 4000, ps.length));
        expect(ps.length).toBeLessThan(100);
      }
      const last = ps[ps.length - 1]!;
      expect(isMapped(heap, last)).toBe(true);
      expect(heap.mallocUsableSize(last)).toBeGreaterThanOrEqual(4000);
      expect(heap.errno).toBe(0);
      heap.check();
      for (const [i, p] of ps.entries()) expectPattern(heap, p, heap.mallocUsableSize(p), i);
      for (const p of ps) heap.free(p);
      expect(heap.mallinfo().hblks).toBe(0);
      heap.check();
    });
  });

  describe("free", () => {
    it("free(0) does nothing (not one byte changes) and leaves errno alone", () => {
      const heap = make();
      filled(heap, 100, 1);
      heap.errno = Errno.EINVAL;
      const before = snapshot(heap);
      heap.free(0);
      expectUnchanged(heap, before);
      heap.check();
    });

    it("free never changes errno (after success, after a failed malloc, after a throwing free)", () => {
      const heap = make();
      const a = heap.malloc(100);
      const b = heap.malloc(200);
      heap.errno = 1234;
      heap.free(a);
      expect(heap.errno).toBe(1234);
      expect(heap.malloc(-1)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
      heap.free(b);
      expect(heap.errno).toBe(Errno.ENOMEM);
      heap.errno = Errno.EINVAL;
      expect(() => heap.free(b)).toThrow(DoubleFreeError);
      expect(heap.errno).toBe(Errno.EINVAL);
      expect(() => heap.free(b + 1)).toThrow(InvalidPointerError);
      expect(heap.errno).toBe(Errno.EINVAL);
      heap.errno = 0;
      heap.free(heap.malloc(1 * MiB)); // a free that trims
      expect(heap.errno).toBe(0);
    });

    /** Double-free scenarios: what is around the block when it is freed the second time. */
    const doubleFrees: [string, (heap: AnyHeap) => number][] = [
      [
        "a block alone in its bin",
        (heap) => {
          const a = heap.malloc(40);
          heap.malloc(40);
          heap.free(a);
          return a;
        },
      ],
      [
        "a block deep in its bin's list",
        (heap) => {
          const ps = Array.from({ length: 8 }, () => heap.malloc(64));
          heap.malloc(8);
          for (let i = 0; i < 8; i += 2) heap.free(ps[i]!);
          return ps[2]!;
        },
      ],
      [
        "a block merged into the free chunk before it",
        (heap) => {
          const a = heap.malloc(100);
          const b = heap.malloc(100);
          heap.malloc(100);
          heap.free(a);
          heap.free(b);
          return b;
        },
      ],
      [
        "a block merged into the top",
        (heap) => {
          heap.malloc(100);
          const b = heap.malloc(300);
          heap.free(b);
          return b;
        },
      ],
      [
        "a large block (TLSF bins)",
        (heap) => {
          const a = heap.malloc(50_000);
          heap.malloc(16);
          heap.free(a);
          return a;
        },
      ],
      [
        "a block given back to the system by trimming",
        (heap) => {
          heap.malloc(16);
          const b = heap.malloc(400 * KiB);
          heap.free(b);
          return b;
        },
      ],
    ];
    it.each(doubleFrees)("double free of %s throws DoubleFreeError ('free(): double free detected') before any change", (_, setup) => {
      const heap = make();
      const live = [filled(heap, 72, 1), filled(heap, 300, 2)];
      const p = setup(heap);
      heap.errno = 0;
      const before = snapshot(heap);
      const e = expectHeapError(() => heap.free(p), DoubleFreeError, "free(): double free detected");
      expect(e.address).toBe(p);
      expectUnchanged(heap, before);
      heap.check();
      for (const [i, q] of live.entries()) expectPattern(heap, q, heap.mallocUsableSize(q), i + 1);
      // Still fully usable.
      const q = filled(heap, 100, 9);
      heap.free(q);
      heap.free(live[0]!);
      heap.check();
    });

    it("a pointer that was freed and then handed out again is live again (free succeeds once)", () => {
      const heap = make();
      const a = heap.malloc(48);
      heap.malloc(48);
      heap.free(a);
      const b = heap.malloc(48);
      expect(b).toBe(a);
      heap.free(b);
      expect(() => heap.free(b)).toThrow(DoubleFreeError);
    });

    /** Bad pointers relative to a live block `p` of 256 bytes (usable 264) on a heap with other blocks. */
    const invalid: [string, (p: number, heap: AnyHeap) => number][] = [
      ["interior p + 1", (p) => p + 1],
      ["interior p + 16", (p) => p + 16],
      ["interior p + 32", (p) => p + 32],
      ["interior p + 128 (16-aligned)", (p) => p + 128],
      ["misaligned p + 8", (p) => p + 8],
      ["misaligned p + 4", (p) => p + 4],
      ["misaligned p - 8", (p) => p - 8],
      ["p - 16 (the chunk header)", (p) => p - 16],
      ["16 (inside the heap's own header)", () => 16],
      ["64 (inside the heap's own header)", () => 64],
      ["past the end of memory", (_, heap) => memoryEnd(heap) + 4096],
      ["2**31 - 16", () => 2 ** 31 - 16],
      ["2**32 + p (wraps to p in 32 bits)", (p) => 2 ** 32 + p],
      ["2**40", () => 2 ** 40],
      ["-16", () => -16],
      ["-p", (p) => -p],
      ["1.5", () => 1.5],
      ["p + 0.5", (p) => p + 0.5],
      ["NaN", () => NaN],
      ["Infinity", () => Infinity],
    ];
    it.each(invalid)("free(%s) throws InvalidPointerError ('free(): invalid pointer') before any change", (_, bad) => {
      const heap = make();
      const before0 = filled(heap, 100, 1);
      const p = filled(heap, 256, 2);
      const after0 = filled(heap, 100, 3);
      const freed = heap.malloc(80);
      heap.malloc(8);
      heap.free(freed);
      const x = bad(p, heap);
      heap.errno = 0;
      const before = snapshot(heap);
      expectHeapError(() => heap.free(x), InvalidPointerError, "free(): invalid pointer");
      expectUnchanged(heap, before);
      heap.check();
      expectPattern(heap, p, heap.mallocUsableSize(p), 2);
      heap.free(p);
      heap.free(before0);
      heap.free(after0);
      heap.check();
    });

    it("free() of a live pointer as a string throws ArgumentError showing the value ('free(): invalid pointer (\"…\")'), before any change", () => {
      const heap = make();
      const p = filled(heap, 256, 2);
      heap.errno = 0;
      const before = snapshot(heap);
      const e = thrown(() => heap.free(String(p) as unknown as number));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toContain(`free(): invalid pointer ("${p}")`);
      expectUnchanged(heap, before);
      expectPattern(heap, p, heap.mallocUsableSize(p), 2);
      heap.free(p);
      heap.check();
    });

    it("a never-returned, aligned pointer into the untouched top of a fresh heap throws InvalidPointerError", () => {
      const heap = make();
      const p = heap.malloc(32);
      const x = p + 1024; // nothing was ever returned there
      const before = snapshot(heap);
      expectHeapError(() => heap.free(x), InvalidPointerError, "free(): invalid pointer");
      expectUnchanged(heap, before);
      heap.check();
    });

    it("a forged in-use header (a copy of a real one) inside a block does not make its address freeable", () => {
      const heap = make();
      const real = filled(heap, 100, 1);
      const big = heap.malloc(4096);
      heap.malloc(16);
      const mid = big + 2048; // 16-aligned, like a real block
      copyMem(heap, mid - 16, real - 16, 16); // the 16 bytes before a real block's pointer
      heap.errno = 0;
      const before = snapshot(heap);
      expectHeapError(() => heap.free(mid), InvalidPointerError, "free(): invalid pointer");
      expectUnchanged(heap, before);
      expect(() => heap.realloc(mid, 10)).toThrow(InvalidPointerError);
      expectUnchanged(heap, before);
      heap.check();
      heap.free(big);
      heap.free(real);
      heap.check();
    });

    it("a forged header of a free chunk inside a block is not mistaken for one (invalid, not double free)", () => {
      const heap = make();
      const big = heap.malloc(4096);
      heap.malloc(16);
      const mid = big + 1024;
      // prev_size, then size 64 with PINUSE and without CINUSE, then fd/bk = 0.
      write64(heap, mid - 16, 0n);
      write64(heap, mid - 8, 64n | 2n);
      write64(heap, mid, 0n);
      write64(heap, mid + 8, 0n);
      write64(heap, mid + 64 - 8, 0x41n | 2n | 1n); // a "next chunk" in use
      const before = snapshot(heap);
      expectHeapError(() => heap.free(mid), InvalidPointerError, "free(): invalid pointer");
      expectUnchanged(heap, before);
      heap.check();
    });

    it("detection is reliable: a block full of metadata-like bytes is freed normally", () => {
      const heap = make();
      const a = heap.malloc(200);
      const b = heap.malloc(500);
      const c = heap.malloc(200);
      heap.malloc(16);
      heap.free(a);
      // b holds copies of real headers and free-list links: of a (now free) and of c (in use).
      for (let off = 0; off + 48 <= heap.mallocUsableSize(b); off += 48) {
        copyMem(heap, b + off, off % 96 === 0 ? a - 16 : c - 16, 48);
      }
      heap.check();
      heap.free(b);
      heap.free(c);
      heap.check();
      expect(heap.mallinfo().ordblks).toBe(1 + 1); // a, b, c merged into one free chunk, plus the top
    });

    describe("freed neighbours coalesce at once", () => {
      for (const order of [["a", "b"], ["b", "a"]] as const) {
        it(`a and b adjacent, freed ${order.join(" then ")}: one free chunk (+ top), and malloc of their combined size returns a`, () => {
          const heap = make();
          const blocks = { a: heap.malloc(100), b: heap.malloc(200) };
          const c = heap.malloc(50); // keeps b away from the top
          const { a, b } = blocks;
          expect(b).toBe(a + chunkFor(LP64, 100));
          const base = heap.mallinfo().ordblks;
          for (const k of order) heap.free(blocks[k]);
          expect(heap.mallinfo().ordblks).toBe(base + 1);
          heap.check();
          const combined = chunkFor(LP64, 100) + chunkFor(LP64, 200);
          const q = heap.malloc(combined - LP64.W);
          expect(q).toBe(a);
          expect(heap.mallocUsableSize(q)).toBe(combined - LP64.W);
          expect(heap.mallinfo().ordblks).toBe(base);
          heap.free(q);
          heap.free(c);
          heap.check();
        });
      }

      it("a, b, c adjacent: free a, c, then b merges all three", () => {
        const heap = make();
        const [a, b, c] = [heap.malloc(100), heap.malloc(100), heap.malloc(100)];
        heap.malloc(100);
        const base = heap.mallinfo().ordblks;
        heap.free(a);
        heap.free(c);
        expect(heap.mallinfo().ordblks).toBe(base + 2);
        heap.free(b);
        expect(heap.mallinfo().ordblks).toBe(base + 1);
        heap.check();
        expect(heap.malloc(3 * chunkFor(LP64, 100) - LP64.W)).toBe(a);
      });

      it("freeing the block before the top merges it into the top (keepcost grows by its chunk)", () => {
        const heap = make();
        heap.malloc(100);
        const b = heap.malloc(1000);
        const info = heap.mallinfo();
        heap.free(b);
        const after = heap.mallinfo();
        expect(after.keepcost).toBe(info.keepcost + chunkFor(LP64, 1000));
        expect(after.ordblks).toBe(info.ordblks);
        heap.check();
      });

      it("a free chunk before the block before the top merges into the top too", () => {
        const heap = make();
        heap.malloc(100);
        const b = heap.malloc(500);
        const c = heap.malloc(700);
        heap.free(b);
        const info = heap.mallinfo();
        heap.free(c);
        const after = heap.mallinfo();
        expect(after.keepcost).toBe(info.keepcost + chunkFor(LP64, 500) + chunkFor(LP64, 700));
        expect(after.ordblks).toBe(info.ordblks - 1);
        heap.check();
      });
    });

    // In a process, with an mmap threshold over these sizes (brkOnly): what is trimmed is the break.
    describe("trimming", () => {
      it("with the default threshold (128 KiB), freeing a big top block gives the memory back", () => {
        const heap = make(brkOnly);
        heap.malloc(100);
        const f0 = heap.mallocFootprint();
        const p = heap.malloc(300 * KiB);
        const f1 = heap.mallocFootprint();
        expect(f1).toBeGreaterThanOrEqual(f0 + 300 * KiB);
        heap.free(p);
        const f2 = heap.mallocFootprint();
        expect(f2).toBeLessThan(f1 - 256 * KiB);
        expect(heap.mallinfo().keepcost).toBeLessThanOrEqual(128 * KiB);
        expect(heap.mallinfo().arena).toBe(f2);
        expect(heap.mallocMaxFootprint()).toBe(f1);
        heap.check();
      });

      it("top space at or under the threshold is kept", () => {
        const heap = make(brkOnly);
        heap.malloc(100);
        const p = heap.malloc(100 * KiB);
        const f1 = heap.mallocFootprint();
        heap.free(p);
        expect(heap.mallocFootprint()).toBe(f1);
        heap.check();
      });

      it("the trimThreshold option raises the threshold", () => {
        const heap = make({ ...brkOnly, trimThreshold: 1 * MiB });
        heap.malloc(100);
        const p = heap.malloc(300 * KiB);
        const f1 = heap.mallocFootprint();
        heap.free(p);
        expect(heap.mallocFootprint()).toBe(f1);
        heap.check();
      });

      it("trimming keeps topPad at the top", () => {
        const pad = 64 * KiB;
        const heap = make({ ...brkOnly, topPad: pad });
        heap.malloc(100);
        const p = heap.malloc(400 * KiB);
        const f1 = heap.mallocFootprint();
        heap.free(p);
        expect(heap.mallocFootprint()).toBeLessThan(f1 - 256 * KiB);
        expect(heap.mallinfo().keepcost).toBeGreaterThanOrEqual(pad);
        heap.check();
      });

      it("mallocTrim(pad) returns 1 when it released memory and 0 otherwise, keeping pad", () => {
        const heap = make(brkOnly);
        expect(heap.mallopt(M_TRIM_THRESHOLD, 64 * MiB)).toBe(1);
        heap.malloc(100);
        expect(heap.mallocTrim(0)).toBe(0); // nothing worth a page to give back
        const p = heap.malloc(600 * KiB);
        const f1 = heap.mallocFootprint();
        heap.free(p);
        expect(heap.mallocFootprint()).toBe(f1); // over the trim threshold no more
        const pad = 100 * KiB;
        expect(heap.mallocTrim(pad)).toBe(1);
        const f2 = heap.mallocFootprint();
        expect(f2).toBeLessThan(f1);
        expect(heap.mallinfo().keepcost).toBeGreaterThanOrEqual(pad);
        expect(heap.mallocTrim(pad)).toBe(0);
        expect(heap.mallocFootprint()).toBe(f2);
        expect(heap.mallocTrim()).toBe(1);
        expect(heap.mallocFootprint()).toBeLessThan(f2);
        expect(heap.mallocTrim()).toBe(0);
        heap.check();
        expect(heap.mallocMaxFootprint()).toBe(f1);
      });

      it.each([
        ["in the order they came", (ps: number[]) => ps],
        ["in reverse", (ps: number[]) => [...ps].reverse()],
        ["from the middle out", (ps: number[]) => [...ps].sort((a, b) => Math.abs(a - ps[25]!) - Math.abs(b - ps[25]!))],
      ])("freeing every block %s gives the memory back whenever the free space at the end passes the threshold", (_, order) => {
        // 50 × 4000 bytes: the in-use bitmap is moved (carved from the top) on the way, so it
        // sits between free space and the top at the end; it must not keep that space from the system.
        const heap = make(brkOnly);
        const f0 = heap.mallocFootprint();
        const ps = Array.from({ length: 50 }, () => heap.malloc(4000));
        const peak = heap.mallocFootprint();
        expect(peak).toBeGreaterThan(f0 + 190 * KiB);
        for (const p of order(ps)) heap.free(p);
        // At least one trim, and at most the threshold (and a page) of free space kept at the end.
        expect(heap.mallocFootprint()).toBeLessThan(peak - 64 * KiB);
        expect(heap.mallocFootprint() - f0).toBeLessThanOrEqual(128 * KiB + 4 * KiB);
        // The header (about 1.8 KiB) and the chunk map: two bits per 16 bytes of the 256 KiB it covers.
        expect(heap.mallinfo().uordblks).toBeLessThan(2 * KiB + (256 * KiB) / 64 + 64);
        heap.check();
        // And under the threshold nothing is given back: 30 blocks leave ~120 KiB free.
        const qs = Array.from({ length: 30 }, () => heap.malloc(4000));
        const f1 = heap.mallocFootprint();
        for (const q of order(qs)) heap.free(q);
        expect(heap.mallocFootprint()).toBe(f1);
        heap.check();
      });

      it("trimming never touches live blocks", () => {
        const heap = make(brkOnly);
        const ps = [0, 1, 2, 3, 4].map((i) => filled(heap, 1000 * (i + 1), i));
        const big = heap.malloc(500 * KiB);
        heap.free(big);
        heap.mallocTrim(0);
        for (const [i, p] of ps.entries()) expectPattern(heap, p, heap.mallocUsableSize(p), i);
        heap.check();
      });
    });
  });

  describe("calloc", () => {
    const overflows: [number, number][] = [
      [2 ** 32, 2 ** 32],
      [2 ** 31, 2],
      [2, 2 ** 31],
      [2 ** 26, 2 ** 26],
      [Number.MAX_SAFE_INTEGER, 2],
      [2 ** 53, 1],
      [0x1_0000_0001, 0x1_0000_0001],
      [-1, 8],
      [8, -1],
      [NaN, 1],
      [1, Infinity],
      [1.5, 2],
    ];
    it.each(overflows)("calloc(%d, %d): overflow or bad size → 0, ENOMEM, nothing allocated", (n, s) => {
      const heap = make();
      filled(heap, 64, 1);
      heap.errno = 0;
      const before = snapshot(heap);
      expect(heap.calloc(n, s)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
      before.errno = Errno.ENOMEM;
      expectUnchanged(heap, before);
    });

    it("reads as zero when it reuses freed, dirty memory (bins, merged chunks, the top)", () => {
      const heap = make();
      // A dirty freed block of the same size.
      for (const n of [1, 24, 100, 1000, 5000, 40_000]) {
        const p = heap.malloc(n);
        heap.malloc(8);
        fillMem(heap, p, heap.mallocUsableSize(p), 0xa5);
        heap.free(p);
        const q = heap.calloc(1, n);
        expect(q).toBe(p);
        expect(firstNonZero(heap, q, n), `calloc(1, ${n})`).toBe(-1);
        expect(firstNonZero(heap, q, heap.mallocUsableSize(q))).toBe(-1);
      }
      // Two merged dirty chunks: their old headers sit inside the new block.
      const a = heap.malloc(300);
      const b = heap.malloc(300);
      heap.malloc(8);
      fillMem(heap, a, heap.mallocUsableSize(a), 0x5a);
      fillMem(heap, b, heap.mallocUsableSize(b), 0x5a);
      heap.free(a);
      heap.free(b);
      const c = heap.calloc(2, 300);
      expect(c).toBe(a);
      expect(firstNonZero(heap, c, 600)).toBe(-1);
      // A dirty block that went back into the top (not trimmed).
      const t = heap.malloc(60_000);
      fillMem(heap, t, 60_000, 0xff);
      heap.free(t);
      const z = heap.calloc(60, 1000);
      expect(z).toBe(t);
      expect(firstNonZero(heap, z, 60_000)).toBe(-1);
      heap.check();
    });

    it("calloc(0, n) and calloc(n, 0) return unique, freeable pointers", () => {
      const heap = make();
      const ps = [heap.calloc(0, 10), heap.calloc(10, 0), heap.calloc(0, 0), heap.calloc(0, 10), heap.calloc(10, 0)];
      for (const p of ps) {
        expect(p).not.toBe(0);
        expect(p % 16).toBe(0);
      }
      expect(new Set(ps).size).toBe(ps.length);
      for (const p of ps) heap.free(p);
      heap.check();
    });

    it("calloc(n, size) returns n * size aligned zeroed bytes", () => {
      const heap = make();
      const p = heap.calloc(7, 13);
      expect(p % 16).toBe(0);
      expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(91);
      expect(firstNonZero(heap, p, 91)).toBe(-1);
    });
  });

  describe("realloc / reallocarray", () => {
    it("realloc(0, n) is malloc(n), also for n = 0", () => {
      const heap = make();
      const p = heap.realloc(0, 100);
      expect(p).not.toBe(0);
      expect(p % 16).toBe(0);
      expect(heap.mallocUsableSize(p)).toBe(usableFor(LP64, 100));
      const z1 = heap.realloc(0, 0);
      const z2 = heap.realloc(0, 0);
      expect(z1).not.toBe(0);
      expect(z2).not.toBe(0);
      expect(z1).not.toBe(z2);
      heap.errno = 0;
      expect(heap.realloc(0, -1)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
      for (const q of [p, z1, z2]) heap.free(q);
      heap.check();
    });

    it("realloc(p, 0) frees p and returns 0, leaving errno untouched", () => {
      const heap = make();
      heap.malloc(10);
      const p = heap.malloc(100);
      heap.malloc(10);
      const used = heap.mallinfo().uordblks;
      heap.errno = 4321;
      expect(heap.realloc(p, 0)).toBe(0);
      expect(heap.errno).toBe(4321);
      expect(heap.mallinfo().uordblks).toBe(used - chunkFor(LP64, 100));
      expect(() => heap.free(p)).toThrow(DoubleFreeError);
      heap.check();
    });

    it("the first min(old, new) bytes survive a move (growing and with a blocker after the block)", () => {
      const heap = make();
      for (const [from, to] of [[100, 5000], [24, 25], [1, 1000], [5000, 60_000], [300, 200_000]] as const) {
        const p = heap.malloc(from);
        fillPattern(heap, p, from, from);
        const blocker = heap.malloc(16);
        const q = heap.realloc(p, to);
        expect(q).not.toBe(0);
        expect(q).not.toBe(p);
        expect(q % 16).toBe(0);
        expect(heap.mallocUsableSize(q)).toBeGreaterThanOrEqual(to);
        expectPattern(heap, q, Math.min(from, to), from, `realloc(${from} -> ${to})`);
        expect(() => heap.free(p)).toThrow(DoubleFreeError); // the old block was freed
        heap.free(q);
        heap.free(blocker);
        heap.check();
      }
    });

    it("growing within mallocUsableSize(p) returns p unchanged", () => {
      const heap = make();
      const p = heap.malloc(20);
      heap.malloc(10);
      fillPattern(heap, p, 20, 3);
      expect(heap.mallocUsableSize(p)).toBe(24);
      expect(heap.realloc(p, 24)).toBe(p);
      expect(heap.realloc(p, 21)).toBe(p);
      expectPattern(heap, p, 20, 3);
      const q = heap.malloc(1000);
      heap.malloc(10);
      expect(heap.realloc(q, heap.mallocUsableSize(q))).toBe(q);
      heap.check();
    });

    it("shrinking happens in place and gives the tail back", () => {
      const heap = make();
      const p = heap.malloc(4000);
      heap.malloc(10);
      fillPattern(heap, p, 4000, 4);
      const info = heap.mallinfo();
      expect(heap.realloc(p, 100)).toBe(p);
      expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(100);
      expect(heap.mallocUsableSize(p)).toBeLessThan(4000);
      expectPattern(heap, p, 100, 4);
      const after = heap.mallinfo();
      expect(after.uordblks).toBe(info.uordblks - (chunkFor(LP64, 4000) - chunkFor(LP64, 100)));
      expect(after.ordblks).toBe(info.ordblks + 1);
      expect(heap.realloc(p, 1)).toBe(p);
      expectPattern(heap, p, 1, 4);
      heap.check();
    });

    it("growing into a free neighbour happens in place", () => {
      const heap = make();
      const a = heap.malloc(100);
      const b = heap.malloc(1000);
      const guard = heap.malloc(10);
      fillPattern(heap, a, 100, 5);
      heap.free(b);
      expect(heap.realloc(a, 500)).toBe(a); // part of the neighbour
      expectPattern(heap, a, 100, 5);
      const all = chunkFor(LP64, 100) + chunkFor(LP64, 1000) - LP64.W;
      expect(heap.realloc(a, all)).toBe(a); // all of it
      expect(heap.mallocUsableSize(a)).toBe(all);
      expectPattern(heap, a, 100, 5);
      heap.check();
      heap.free(guard);
      heap.free(a);
      heap.check();
    });

    it("growing into the top happens in place (within the current top)", () => {
      const heap = make();
      heap.free(heap.malloc(100 * KiB)); // make the top large, and the heap warm
      const a = fromTop(heap, 100);
      fillPattern(heap, a, 100, 6);
      const room = heap.mallinfo().keepcost;
      expect(heap.realloc(a, 5000)).toBe(a);
      expect(heap.realloc(a, 50_000)).toBe(a);
      expect(heap.realloc(a, 100 + room - 64)).toBe(a);
      expectPattern(heap, a, 100, 6);
      heap.check();
    });

    it("growing into the top happens in place also when the top must be extended", () => {
      const heap = make();
      const a = heap.malloc(100);
      fillPattern(heap, a, 100, 7);
      for (const n of [8 * KiB, 64 * KiB, 512 * KiB, 2 * MiB]) {
        expect(heap.realloc(a, n), `realloc(a, ${n})`).toBe(a);
        expectPattern(heap, a, 100, 7);
        heap.check();
      }
    });

    it("failure returns 0 with ENOMEM and leaves the old block intact and owned", () => {
      const heap = limited(1 * MiB);
      const a = filled(heap, 100, 8);
      const blocker = heap.malloc(16);
      const b = filled(heap, 200, 9); // next to the top
      for (const p of [a, b]) {
        for (const n of [2 * MiB, 0x7fff_0000, 2 ** 31, 2 ** 40, -1, NaN, 1.5]) {
          heap.errno = 0;
          const before = snapshot(heap);
          expect(heap.realloc(p, n), `realloc(p, ${n})`).toBe(0);
          expect(heap.errno).toBe(Errno.ENOMEM);
          before.errno = Errno.ENOMEM;
          expectUnchanged(heap, before);
        }
      }
      expectPattern(heap, a, heap.mallocUsableSize(a), 8);
      expectPattern(heap, b, heap.mallocUsableSize(b), 9);
      heap.check();
      heap.free(a);
      heap.free(b);
      heap.free(blocker);
      heap.check();
    });

    it("realloc of a freed or never-returned pointer throws, changing nothing", () => {
      const heap = make();
      const a = heap.malloc(100);
      heap.malloc(100);
      heap.free(a);
      const p = heap.malloc(300);
      heap.malloc(8);
      const before = snapshot(heap);
      expect(() => heap.realloc(p + 1, 10)).toThrow(InvalidPointerError);
      expect(() => heap.realloc(p + 16, 1000)).toThrow(InvalidPointerError);
      expect(() => heap.realloc(p - 8, 0)).toThrow(InvalidPointerError);
      expectUnchanged(heap, before);
      const freed = heap.malloc(500);
      heap.malloc(8);
      heap.free(freed);
      const before2 = snapshot(heap);
      expect(() => heap.realloc(freed, 10)).toThrow(DoubleFreeError);
      expect(() => heap.realloc(freed, 0)).toThrow(DoubleFreeError);
      expectUnchanged(heap, before2);
      heap.check();
    });

    it("reallocarray checks nmemb * size for overflow: 0, ENOMEM, p intact", () => {
      const heap = make();
      const p = filled(heap, 100, 10);
      heap.malloc(8);
      for (const [n, s] of [[2 ** 32, 2 ** 32], [2 ** 40, 2 ** 40], [Number.MAX_SAFE_INTEGER, 3], [2 ** 31, 2], [-1, 4], [NaN, 1]] as const) {
        heap.errno = 0;
        const before = snapshot(heap);
        expect(heap.reallocarray(p, n, s)).toBe(0);
        expect(heap.errno).toBe(Errno.ENOMEM);
        before.errno = Errno.ENOMEM;
        expectUnchanged(heap, before);
      }
      const q = heap.reallocarray(p, 50, 20);
      expect(q).not.toBe(0);
      expect(heap.mallocUsableSize(q)).toBeGreaterThanOrEqual(1000);
      expectPattern(heap, q, 100, 10);
      const r = heap.reallocarray(0, 4, 8);
      expect(r).not.toBe(0);
      expect(heap.mallocUsableSize(r)).toBeGreaterThanOrEqual(32);
      heap.free(q);
      heap.free(r);
      heap.check();
    });
  });

  describe("aligned allocation", () => {
    const vectors: [number, number, number][] = [
      [0x300, 10, Errno.EINVAL],
      [0, 10, Errno.EINVAL],
      [4, 10, Errno.EINVAL],
      [0x100, 10, 0],
      [8, 2 ** 53, Errno.ENOMEM],
    ];
    it.each(vectors)("posixMemalign(%d, %d) → err %d (heap.md vectors), errno untouched", (a, n, err) => {
      const heap = make();
      heap.errno = 777;
      const before = snapshot(heap);
      const r = heap.posixMemalign(a, n);
      expect(r.err).toBe(err);
      expect(heap.errno).toBe(777);
      if (err === 0) {
        expect(r.ptr).not.toBe(0);
        expect(r.ptr % 256).toBe(0);
        expect(heap.mallocUsableSize(r.ptr)).toBeGreaterThanOrEqual(n);
        heap.free(r.ptr);
      } else {
        expect(r.ptr).toBe(0);
        expectUnchanged(heap, before); // nothing allocated
      }
      heap.check();
    });

    it("posixMemalign fails with EINVAL for a non-power-of-two or a non-multiple of 8, and ENOMEM when out of memory, allocating nothing", () => {
      const heap = limited(1 * MiB);
      filled(heap, 100, 1);
      heap.errno = 5;
      const before = snapshot(heap);
      for (const a of [1, 2, 4, 12, 24, 48, 100, 3 * 4096, -8, -16, NaN, 8.5, Infinity]) {
        expect(heap.posixMemalign(a, 16), `alignment ${a}`).toEqual({ err: Errno.EINVAL, ptr: 0 });
      }
      for (const [a, n] of [[16, 2 * MiB], [4096, 2 * MiB], [2 ** 20, 100], [2 ** 30, 1], [2 ** 31, 1], [64, -1], [64, NaN], [64, 2 ** 53]] as const) {
        expect(heap.posixMemalign(a, n), `posixMemalign(${a}, ${n})`).toEqual({ err: Errno.ENOMEM, ptr: 0 });
      }
      expectUnchanged(heap, before);
      heap.check();
    });

    it("posixMemalign with size 0 succeeds", () => {
      const heap = make();
      for (const a of [8, 16, 64, 4096]) {
        const r = heap.posixMemalign(a, 0);
        expect(r.err).toBe(0);
        expect(r.ptr).not.toBe(0);
        expect(r.ptr % a).toBe(0);
        heap.free(r.ptr);
      }
      heap.check();
    });

    it("posixMemalign honours every power-of-two alignment from 8 to 64 KiB", () => {
      const heap = make({ maxBytes: 64 * MiB });
      const ps: number[] = [];
      for (let a = 8; a <= 65_536; a *= 2) {
        for (const n of [0, 1, 15, 16, 17, 100, 4096, 10_000]) {
          const { err, ptr } = heap.posixMemalign(a, n);
          expect(err).toBe(0);
          expect(ptr % Math.max(a, 16), `posixMemalign(${a}, ${n}) = 0x${ptr.toString(16)}`).toBe(0);
          expect(heap.mallocUsableSize(ptr)).toBeGreaterThanOrEqual(n);
          fillPattern(heap, ptr, n, a + n);
          ps.push(ptr);
        }
      }
      expectDisjoint(heap, ps);
      heap.check();
      let i = 0;
      for (let a = 8; a <= 65_536; a *= 2) {
        for (const n of [0, 1, 15, 16, 17, 100, 4096, 10_000]) expectPattern(heap, ps[i++]!, n, a + n);
      }
      for (const p of ps) heap.free(p);
      heap.check();
    });

    it("alignedAlloc: alignment 0 or not a power of two → 0 with EINVAL", () => {
      const heap = make();
      for (const a of [0, 3, 6, 24, 48, 100, 0x300, -16, NaN, 1.5]) {
        heap.errno = 0;
        const before = snapshot(heap);
        expect(heap.alignedAlloc(a, 64), `alignedAlloc(${a}, 64)`).toBe(0);
        expect(heap.errno).toBe(Errno.EINVAL);
        before.errno = Errno.EINVAL;
        expectUnchanged(heap, before);
      }
    });

    it("alignedAlloc accepts any size (not only multiples of the alignment)", () => {
      const heap = make();
      for (const [a, n] of [[64, 100], [64, 1], [4096, 1], [1, 10], [2, 3], [8, 3], [16, 0], [256, 257], [32, 12_345]] as const) {
        const p = heap.alignedAlloc(a, n);
        expect(p, `alignedAlloc(${a}, ${n})`).not.toBe(0);
        expect(p % Math.max(a, 16)).toBe(0);
        expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(n);
      }
      heap.check();
    });

    it("memalign with an alignment ≤ 16 behaves as malloc", () => {
      const heap = make();
      for (const a of [0, 1, 2, 4, 8, 16]) {
        for (const n of [0, 1, 24, 25, 100]) {
          const p = heap.memalign(a, n);
          expect(p).not.toBe(0);
          expect(p % 16).toBe(0);
          expect(heap.mallocUsableSize(p), `memalign(${a}, ${n})`).toBe(usableFor(LP64, n));
        }
      }
      heap.check();
    });

    it("memalign rounds a non-power-of-two alignment up to the next power of two", () => {
      const heap = make();
      for (const [a, want] of [[48, 64], [100, 128], [24, 32], [3000, 4096], [65, 128], [513, 1024]] as const) {
        for (let k = 0; k < 8; k++) {
          heap.malloc(16 * (k + 1)); // shift the heap around so alignment is not by luck
          const p = heap.memalign(a, 40);
          expect(p).not.toBe(0);
          expect(p % want, `memalign(${a}, 40) = 0x${p.toString(16)}`).toBe(0);
        }
      }
      heap.check();
    });

    it("alignments no heap can give are ENOMEM, like sizes: memalign, alignedAlloc, posixMemalign", () => {
      const heap = make();
      const before = heap.mallinfo();
      for (const a of [2 ** 31, 2 ** 30 + 1, 2 ** 40]) {
        heap.errno = 0;
        expect(heap.memalign(a, 10), `memalign(${a})`).toBe(0);
        expect(heap.errno).toBe(Errno.ENOMEM);
      }
      heap.errno = 0;
      expect(heap.alignedAlloc(2 ** 31, 10)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
      expect(heap.posixMemalign(2 ** 31, 10).err).toBe(Errno.ENOMEM);
      heap.errno = 0;
      expect(heap.memalign(-16, 10)).toBe(0); // a negative size_t is past SIZE_MAX / 2 + 1
      expect(heap.errno).toBe(Errno.EINVAL);
      expect(heap.mallinfo()).toEqual(before);
    });

    it("aligned blocks can be freed and realloc'ed like any other", () => {
      const heap = make();
      for (const a of [32, 64, 256, 4096]) {
        const p1 = heap.posixMemalign(a, 100).ptr;
        const p2 = heap.alignedAlloc(a, 100);
        const p3 = heap.memalign(a, 100);
        for (const [i, p] of [p1, p2, p3].entries()) {
          expect(p % a).toBe(0);
          fillPattern(heap, p, 100, a + i);
        }
        const q1 = heap.realloc(p1, 3000);
        expectPattern(heap, q1, 100, a);
        const q2 = heap.realloc(p2, 50);
        expectPattern(heap, q2, 50, a + 1);
        heap.free(p3);
        heap.free(q1);
        heap.free(q2);
        heap.check();
      }
    });

    it("the alignment padding returns to the free lists (not counted as in use)", () => {
      const heap = make();
      const p0 = heap.malloc(100);
      const info = heap.mallinfo();
      const { err, ptr } = heap.posixMemalign(4096, 100);
      expect(err).toBe(0);
      expect(ptr % 4096).toBe(0);
      const after = heap.mallinfo();
      heap.check();
      // In use grew by about one 112-byte chunk, not by the ~4 KiB of padding.
      expect(after.uordblks - info.uordblks).toBeLessThan(512);
      expect(after.uordblks - info.uordblks).toBeGreaterThanOrEqual(chunkFor(LP64, 100));
      // The padding before the block is a free chunk of its own.
      expect(after.ordblks).toBeGreaterThan(info.ordblks);
      expect(after.fordblks - after.keepcost).toBeGreaterThan(0);
      // And it is used: a small block fits in it, below the aligned one.
      const q = heap.malloc(32);
      expect(q).toBeGreaterThan(p0);
      expect(q).toBeLessThan(ptr);
      heap.check();
    });
  });

  describe("introspection", () => {
    it("mallinfo has all of glibc's mallinfo2 fields, non-negative integers, uordblks + fordblks == arena", () => {
      const heap = make();
      /** Sizes of the live blocks. */
      const sizes: number[] = [];
      const check = (): void => {
        const info = heap.mallinfo();
        expect(Object.keys(info).sort()).toEqual(expect.arrayContaining(ALL_MALLINFO_FIELDS.slice().sort()));
        for (const k of ALL_MALLINFO_FIELDS) {
          const v = (info as unknown as Record<string, number>)[k]!;
          expect(Number.isSafeInteger(v) && v >= 0, `${k} = ${v}`).toBe(true);
        }
        expect(info.uordblks + info.fordblks).toBe(info.arena);
        // On linear memory no block is mapped; in a process, exactly those at or over the threshold.
        const big = sizes.filter((n) => target.mapsBigBlocks && n >= 128 * KiB);
        expect(info.hblks).toBe(big.length);
        if (big.length === 0) expect(info.hblkhd).toBe(0);
        else expect(info.hblkhd).toBeGreaterThanOrEqual(big.reduce((a, n) => a + n, 0));
        expect(heap.mallocFootprint()).toBe(info.arena + info.hblkhd);
        expect(info.ordblks).toBeGreaterThanOrEqual(1); // the top counts as a free chunk, as in glibc
        expect(info.keepcost).toBeLessThanOrEqual(info.fordblks);
      };
      check();
      const rand = rng(3);
      const ps: number[] = [];
      for (let i = 0; i < 500; i++) {
        if (ps.length > 0 && rand() < 0.4) {
          const k = Math.floor(rand() * ps.length);
          heap.free(ps.splice(k, 1)[0]!);
          sizes.splice(k, 1);
        } else {
          const n = Math.floor(rand() * (rand() < 0.05 ? 300_000 : 2000));
          ps.push(heap.malloc(n));
          sizes.push(n);
        }
        if (i % 25 === 0) check();
      }
      check();
    });

    it("arena is what the break holds and grows with the heap; it equals the footprint on linear memory", () => {
      const heap = make();
      const a0 = heap.mallinfo().arena;
      expect(a0).toBe(heap.mallocFootprint());
      heap.malloc(50_000);
      const a1 = heap.mallinfo().arena;
      expect(a1).toBeGreaterThan(a0);
      expect(a1).toBeGreaterThanOrEqual(heap.mallinfo().uordblks + heap.mallinfo().keepcost);
      expect(heap.mallinfo().uordblks).toBeGreaterThanOrEqual(chunkFor(LP64, 50_000));
      expect(a1).toBe(heap.mallocFootprint());
      // In a process, the brk heap is [base, break).
      if (target.mapsBigBlocks) expect(processOf(heap).sbrk(0) - heap.base).toBe(a1);
    });

    it("uordblks counts the chunks in use, fordblks the free ones", () => {
      const heap = make();
      const info = heap.mallinfo();
      const p = heap.malloc(1000);
      const q = heap.malloc(100);
      heap.malloc(16);
      const after = heap.mallinfo();
      expect(after.uordblks - info.uordblks).toBe(chunkFor(LP64, 1000) + chunkFor(LP64, 100) + chunkFor(LP64, 16));
      heap.free(p);
      const freed = heap.mallinfo();
      expect(freed.uordblks).toBe(after.uordblks - chunkFor(LP64, 1000));
      expect(freed.fordblks).toBe(after.fordblks + chunkFor(LP64, 1000));
      expect(freed.ordblks).toBe(after.ordblks + 1);
      heap.free(q);
      expect(heap.mallinfo().ordblks).toBe(after.ordblks + 1); // merged with p's chunk
    });

    it("keepcost is the size of the top chunk (read from its header)", () => {
      const heap = make();
      // A fresh heap has no free chunks: the first blocks come from the top.
      const k0 = heap.mallinfo().keepcost;
      const p0 = heap.malloc(64);
      expect(heap.mallinfo().keepcost).toBe(k0 - chunkFor(LP64, 64));
      heap.free(p0);
      expect(heap.mallinfo().keepcost).toBe(k0);
      for (const n of [100, 2000, 30_000]) {
        const p = heap.malloc(n);
        // The top starts right after the block just carved from it; its size field follows prev_size.
        const top = p - 2 * LP64.W + chunkFor(LP64, n);
        const topSize = Number(read64(heap, top + LP64.W) & ~7n);
        expect(heap.mallinfo().keepcost).toBe(topSize);
      }
    });

    it("mallocMaxFootprint is at least the footprint and never decreases", () => {
      const heap = make();
      let max = heap.mallocMaxFootprint();
      expect(max).toBeGreaterThanOrEqual(heap.mallocFootprint());
      const rand = rng(11);
      const ps: number[] = [];
      for (let i = 0; i < 300; i++) {
        if (ps.length > 0 && rand() < 0.45) heap.free(ps.splice(Math.floor(rand() * ps.length), 1)[0]!);
        else ps.push(heap.malloc(Math.floor(rand() * (rand() < 0.1 ? 400_000 : 3000))));
        if (i % 50 === 0) heap.mallocTrim(0);
        const m = heap.mallocMaxFootprint();
        expect(m).toBeGreaterThanOrEqual(max);
        expect(m).toBeGreaterThanOrEqual(heap.mallocFootprint());
        max = m;
      }
      for (const p of ps) heap.free(p);
      heap.mallocTrim(0);
      expect(heap.mallocMaxFootprint()).toBe(max);
      expect(heap.mallocFootprint()).toBeLessThan(max);
    });

    it("mallopt: the four parameters return 1, an unknown one 0, M_MMAP_THRESHOLD past C's int 0", () => {
      const heap = make();
      expect(heap.mallopt(M_TRIM_THRESHOLD, 256 * KiB)).toBe(1);
      expect(heap.mallopt(M_TOP_PAD, 4096)).toBe(1);
      expect(heap.mallopt(M_MMAP_THRESHOLD, 256 * KiB)).toBe(1);
      expect(heap.mallopt(M_MMAP_THRESHOLD, 32 * MiB)).toBe(1);
      expect(heap.mallopt(M_MMAP_THRESHOLD, 64 * MiB)).toBe(1); // glibc 2.36 has no 32 MiB cap any more
      expect(heap.mallopt(M_MMAP_THRESHOLD, 2 ** 31)).toBe(0);
      expect(heap.mallopt(M_MMAP_MAX, 0)).toBe(1);
      expect(heap.mallopt(M_MMAP_MAX, 100)).toBe(1);
      expect(heap.mallopt(12_345, 1)).toBe(0);
      expect(heap.mallopt(0, 1)).toBe(0);
      heap.check();
    });

    it("mallopt(M_TRIM_THRESHOLD) changes when freeing trims", () => {
      const heap = make(brkOnly);
      heap.malloc(100);
      expect(heap.mallopt(M_TRIM_THRESHOLD, 2 * MiB)).toBe(1);
      const p = heap.malloc(1 * MiB);
      const f1 = heap.mallocFootprint();
      heap.free(p);
      expect(heap.mallocFootprint()).toBe(f1);
      expect(heap.mallopt(M_TRIM_THRESHOLD, 16 * KiB)).toBe(1);
      const q = fromTop(heap, 100);
      heap.free(q); // merges into the top, which now exceeds the new threshold
      expect(heap.mallocFootprint()).toBeLessThan(f1 - 512 * KiB);
      heap.check();
    });

    it("mallopt(M_TRIM_THRESHOLD, -1) turns trimming off (mallopt(3)); mallocTrim still trims", () => {
      const heap = make(brkOnly);
      heap.malloc(100);
      expect(heap.mallopt(M_TRIM_THRESHOLD, -1)).toBe(1);
      const p = heap.malloc(4 * MiB);
      const f1 = heap.mallocFootprint();
      heap.free(p);
      expect(heap.mallocFootprint()).toBe(f1);
      expect(heap.mallopt(M_TRIM_THRESHOLD, -2)).toBe(0);
      expect(heap.mallocTrim(0)).toBe(1);
      expect(heap.mallocFootprint()).toBeLessThan(f1 - 3 * MiB);
      heap.check();
    });

    it("mallopt(M_TOP_PAD) leaves at least that much free at the top after the heap grows", () => {
      const heap = make();
      expect(heap.mallopt(M_TOP_PAD, 256 * KiB)).toBe(1);
      heap.malloc(100 * KiB);
      expect(heap.mallinfo().keepcost).toBeGreaterThanOrEqual(256 * KiB);
      heap.check();
    });

    it("check() passes on a fresh heap and on a busy one", () => {
      const heap = make();
      heap.check();
      const rand = rng(5);
      const ps: number[] = [];
      for (let i = 0; i < 2000; i++) {
        const r = rand();
        if (ps.length > 0 && r < 0.35) heap.free(ps.splice(Math.floor(rand() * ps.length), 1)[0]!);
        else if (ps.length > 0 && r < 0.5) {
          const j = Math.floor(rand() * ps.length);
          ps[j] = heap.realloc(ps[j]!, Math.floor(rand() * 5000) + 1);
        } else if (r < 0.55) ps.push(heap.posixMemalign(2 ** (4 + Math.floor(rand() * 8)), Math.floor(rand() * 500)).ptr);
        else if (r < 0.6) ps.push(heap.calloc(Math.floor(rand() * 20), Math.floor(rand() * 50)));
        else ps.push(heap.malloc(Math.floor(rand() * (rand() < 0.02 ? 200_000 : 1000))));
        if (i % 100 === 0) heap.check();
      }
      heap.check();
      expectDisjoint(heap, ps);
    });

    it("check() throws HeapCorruptionError naming a broken invariant", () => {
      const heap = make();
      const p = heap.malloc(100);
      heap.malloc(100);
      write32(heap, p - 8, 0x12345); // the block's own size field
      const e = thrown(() => heap.check());
      expect(e).toBeInstanceOf(HeapCorruptionError);
      expect((e as Error).message).toMatch(/^check\(\): /);
    });
  });

  describe("the 32-bit data model (ilp32)", () => {
    it("8-byte alignment, 4-byte fields, a 16-byte minimum chunk", () => {
      const heap = make({ dataModel: "ilp32" });
      const ps: number[] = [];
      for (let n = 0; n <= 600; n++) {
        const p = heap.malloc(n);
        expect(p).not.toBe(0);
        expect(p % 8, `malloc(${n})`).toBe(0);
        expect(heap.mallocUsableSize(p), `malloc(${n})`).toBeGreaterThanOrEqual(n);
        ps.push(p);
      }
      expectDisjoint(heap, ps);
      for (const p of ps) heap.free(p);
      heap.check();
    });

    it("usable size follows request2size with 4-byte fields: max(16, (n + 4 + 7) & ~7) - 4", () => {
      const heap = make({ dataModel: "ilp32" });
      for (const [n, usable] of [[0, 12], [12, 12], [13, 20], [20, 20], [21, 28], [100, 100]] as const) {
        const p = heap.malloc(n);
        expect(heap.mallocUsableSize(p), `malloc(${n})`).toBe(usable);
        heap.free(p);
      }
      for (let n = 0; n <= 1200; n++) {
        const p = heap.malloc(n);
        expect(heap.mallocUsableSize(p), `malloc(${n})`).toBe(usableFor(ILP32, n));
        heap.free(p);
      }
      heap.check();
    });

    it("malloc results are 8-aligned, not all 16-aligned", () => {
      const heap = make({ dataModel: "ilp32" });
      const ps = Array.from({ length: 100 }, (_, i) => heap.malloc(i % 30));
      // Not everything is 16-aligned: the model really uses 8-byte granules.
      expect(ps.some((p) => p % 16 === 8)).toBe(true);
      expectDisjoint(heap, ps);
      for (const p of ps) heap.free(p);
      heap.check();
    });

    it("posixMemalign needs a multiple of the 4-byte pointer size", () => {
      const heap = make({ dataModel: "ilp32" });
      const r4 = heap.posixMemalign(4, 10);
      expect(r4.err).toBe(0);
      expect(r4.ptr % 8).toBe(0);
      expect(heap.posixMemalign(2, 10).err).toBe(Errno.EINVAL);
      expect(heap.posixMemalign(12, 10).err).toBe(Errno.EINVAL);
      const r = heap.posixMemalign(0x100, 10);
      expect(r.err).toBe(0);
      expect(r.ptr % 256).toBe(0);
      heap.check();
    });

    it("double free, misaligned and interior pointers are detected; neighbours coalesce", () => {
      const heap = make({ dataModel: "ilp32" });
      const a = heap.malloc(20);
      const b = heap.malloc(20);
      heap.malloc(20);
      expect(b - a).toBe(chunkFor(ILP32, 20));
      const base = heap.mallinfo().ordblks;
      heap.free(a);
      const before = snapshot(heap);
      expectHeapError(() => heap.free(a), DoubleFreeError, "free(): double free detected");
      expectHeapError(() => heap.free(b + 4), InvalidPointerError, "free(): invalid pointer");
      expectHeapError(() => heap.free(b + 8), InvalidPointerError, "free(): invalid pointer");
      expectUnchanged(heap, before);
      heap.free(b);
      expect(heap.mallinfo().ordblks).toBe(base + 1);
      expect(heap.malloc(2 * chunkFor(ILP32, 20) - ILP32.W)).toBe(a);
      heap.check();
    });

    it.runIf(target.name === "linear")("an attached heap keeps the data model", () => {
      const heap = newHeap({ dataModel: "ilp32" });
      const p = heap.malloc(12);
      const other = Heap.attach(heap.memory);
      expect(other.mallocUsableSize(p)).toBe(12);
      expect(other.mallocUsableSize(other.malloc(13))).toBe(20);
      other.free(p);
      other.check();
      heap.check();
    });
  });
});


describe("a heap whose arena passes 1 GiB", () => {
  // In a worker with a deadline (helpers/isolated.ts): a growth that loops forever is reported
  // as hung instead of hanging the run.
  it("fills up to its limit and fails with ENOMEM (the in-use bitmap covers 2 GiB), then frees everything", { timeout: 180_000 }, async () => {
    const results = await runIsolated([{ id: "fill", name: "fillPastOneGiB", params: {}, timeoutMs: 90_000 }]);
    const r = results.get("fill");
    expect(r?.status).toBe("done");
    const done = (r as { result: { blocks: number; errno: number; checked: boolean; arenaAfter: number } }).result;
    expect(done.errno).toBe(Errno.ENOMEM);
    expect(done.blocks * (8 << 20)).toBeGreaterThan(1.5 * 2 ** 30);
    expect(done.checked).toBe(true);
    // Trimmed back to the header and the chunk map (32 MiB for 2 GiB: it does not shrink).
    expect(done.arenaAfter).toBeLessThan(33 << 20);
  });
});

describe("base: the heap never touches memory below it", () => {
  const fillBelow = (u8: Uint8Array, base: number): void => {
    for (let i = 0; i < base; i++) u8[i] = (i * 37 + 11) & 0xff;
  };
  const intactBelow = (u8: Uint8Array, base: number): number => {
    for (let i = 0; i < base; i++) if (u8[i] !== ((i * 37 + 11) & 0xff)) return i;
    return -1;
  };
  const churn = (heap: Heap<LinearMemory>, base: number): void => {
    const rand = rng(base);
    const ps: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const r = rand();
      if (ps.length > 0 && r < 0.4) heap.free(ps.splice(Math.floor(rand() * ps.length), 1)[0]!);
      else if (ps.length > 0 && r < 0.5) {
        const j = Math.floor(rand() * ps.length);
        ps[j] = heap.realloc(ps[j]!, Math.floor(rand() * 3000) + 1);
      } else if (r < 0.55) ps.push(heap.posixMemalign(64, 100).ptr);
      else if (r < 0.6) ps.push(heap.calloc(10, 30));
      else ps.push(heap.malloc(Math.floor(rand() * (rand() < 0.02 ? 300_000 : 800))));
    }
    for (const p of ps) {
      expect(p).toBeGreaterThanOrEqual(base);
      heap.memory.u8.fill(0xee, p, p + heap.mallocUsableSize(p));
    }
    heap.check();
    for (const p of ps) heap.free(p);
    heap.mallocTrim(0);
    heap.check();
  };

  for (const base of [1000, 4096, 10_000]) {
    it(`on a LinearMemory, base ${base}`, () => {
      const memory = new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 16 * MiB });
      fillBelow(memory.u8, base);
      const heap = new Heap({ memory, base });
      expect(intactBelow(memory.u8, base)).toBe(-1);
      churn(heap, base);
      expect(intactBelow(memory.u8, base)).toBe(-1);
      // And through an attached heap.
      const other = Heap.attach(memory, { base });
      const p = other.malloc(100);
      expect(p).toBeGreaterThanOrEqual(base);
      other.free(p);
      expect(intactBelow(memory.u8, base)).toBe(-1);
    });
  }

  it("on a WebAssembly.Memory, a malloc that must grow the memory leaves a consistent heap", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const heap = new Heap({ memory: wasm });
    const p = heap.malloc(100_000);
    expect(p).not.toBe(0);
    expect(wasm.buffer.byteLength).toBeGreaterThanOrEqual(p + 100_000);
    heap.check();
    fillPattern(heap, p, 100_000, 1);
    heap.free(p);
    heap.check();
  });

  it("on a WebAssembly.Memory (like a module's __heap_base), growing it with memory.grow", () => {
    const wasm = new WebAssembly.Memory({ initial: 2, maximum: 256 });
    const base = 70_000;
    fillBelow(new Uint8Array(wasm.buffer), base);
    const heap = new Heap({ memory: wasm, base });
    churn(heap, base);
    expect(wasm.buffer.byteLength).toBeGreaterThan(2 * 65_536);
    expect(intactBelow(new Uint8Array(wasm.buffer), base)).toBe(-1);
  });
});

/** ES2024 buffer constructors that take a maximum length (not in the ES2022 lib types). */
type Growable<B> = new (length: number, options: { maxByteLength: number }) => B;

describe("state lives in the memory", () => {
  it("Heap.attach(heap.memory) sees the same blocks: frees and allocations alternate between both", () => {
    const heap = newHeap();
    const a = filled(heap, 100, 1);
    const b = filled(heap, 5000, 2);
    const other = Heap.attach(heap.memory);
    expect(other.mallocUsableSize(a)).toBe(heap.mallocUsableSize(a));
    expect(other.mallinfo()).toEqual(heap.mallinfo());
    other.free(a);
    expect(() => heap.free(a)).toThrow(DoubleFreeError);
    const c = heap.malloc(100);
    expect(c).toBe(a); // the first heap reuses what the other freed
    const d = other.malloc(200_000); // grows the heap through the other
    expect(heap.mallocUsableSize(d)).toBeGreaterThanOrEqual(200_000);
    fillPattern(other, d, 200_000, 3);
    expectPattern(heap, d, 200_000, 3);
    heap.free(d); // trims through the first
    expect(other.mallocFootprint()).toBe(heap.mallocFootprint());
    expect(() => other.free(d)).toThrow(DoubleFreeError);
    const ps: number[] = [];
    for (let i = 0; i < 200; i++) ps.push((i % 2 === 0 ? heap : other).malloc(i * 7));
    for (let i = 0; i < 200; i++) (i % 3 === 0 ? heap : other).free(ps[i]!);
    expectPattern(heap, b, 5000, 2);
    heap.check();
    other.check();
    expect(other.mallinfo()).toEqual(heap.mallinfo());
    // errno belongs to each Heap object (like a thread's errno).
    other.malloc(-1);
    expect(other.errno).toBe(Errno.ENOMEM);
  });

  for (const kind of ["SharedArrayBuffer", "ArrayBuffer"] as const) {
    it(`a copy of the bytes (${kind}) is a snapshot that continues independently`, () => {
      const heap = newHeap({ maxBytes: 2 * MiB });
      const a = filled(heap, 100, 1);
      const b = filled(heap, 3000, 2);
      const c = heap.malloc(50);
      heap.free(c);
      const src = new Uint8Array(heap.memory.buffer);
      const copy = kind === "SharedArrayBuffer" ? new SharedArrayBuffer(src.length) : new ArrayBuffer(src.length);
      new Uint8Array(copy).set(src);
      const snap = Heap.attach(copy);
      snap.check();
      expect(snap.mallinfo()).toEqual(heap.mallinfo());
      expectPattern(snap, a, 100, 1);
      expectPattern(snap, b, 3000, 2);
      // Diverge: the same call sequence on both gives the same answers, but changes stay apart.
      snap.free(a);
      expect(() => snap.free(c)).toThrow(DoubleFreeError);
      fillPattern(heap, b, 3000, 9);
      expectPattern(snap, b, 3000, 2);
      expect(heap.mallocUsableSize(a)).toBe(usableFor(LP64, 100));
      expect(snap.mallocUsableSize(a)).toBe(0);
      const x = heap.malloc(500_000);
      const y = snap.malloc(500_000);
      expect(x).not.toBe(0);
      expect(y).not.toBe(0);
      fillPattern(snap, y, 1000, 4);
      heap.check();
      snap.check();
      heap.free(a);
      heap.free(x);
      snap.free(y);
      snap.free(b);
      heap.check();
      snap.check();
      expectPattern(heap, b, 3000, 9);
    });
  }

  for (const [label, make] of [
    ["resizable ArrayBuffer", () => new (ArrayBuffer as unknown as Growable<ArrayBuffer>)(64 * KiB, { maxByteLength: 16 * MiB })],
    ["growable SharedArrayBuffer", () => new (SharedArrayBuffer as unknown as Growable<SharedArrayBuffer>)(64 * KiB, { maxByteLength: 16 * MiB })],
  ] as const) {
    it.runIf((make() as unknown as { maxByteLength?: number }).maxByteLength === 16 * MiB)(`two heaps on one ${label}: each sees what the other grew`, () => {
      const buf = make();
      const a = new Heap({ memory: buf });
      const p = a.malloc(1 * MiB);
      const b = Heap.attach(buf);
      const q = b.malloc(2 * MiB); // b grows the buffer past a's views
      expect(p).not.toBe(0);
      expect(q).not.toBe(0);
      expect(a.mallocUsableSize(q)).toBeGreaterThanOrEqual(2 * MiB);
      a.check();
      const r = a.malloc(100); // a carves from the top b left, beyond its old views
      const s = a.malloc(2 * MiB); // and grows the buffer again
      expect(s).not.toBe(0);
      new Uint8Array(buf).fill(0x5a, s, s + 2 * MiB);
      b.check();
      expect(b.mallocUsableSize(r)).toBeGreaterThanOrEqual(100);
      expect(b.mallocUsableSize(s)).toBeGreaterThanOrEqual(2 * MiB);
      a.free(q);
      b.free(s);
      b.free(r);
      a.free(p);
      a.check();
      expect(b.mallinfo()).toEqual(a.mallinfo());
      expect(a.chunks().filter((c) => c.kind === "used")).toEqual([]);
    });
  }

  it("attach on memory without a heap throws HeapCorruptionError", () => {
    expect(() => Heap.attach(new ArrayBuffer(64 * KiB))).toThrow(HeapCorruptionError);
    expect(() => Heap.attach(new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 1 * MiB }))).toThrow(HeapCorruptionError);
    const heap = newHeap({ base: 4096 });
    expect(() => Heap.attach(heap.memory, { base: 8192 })).toThrow(HeapCorruptionError); // wrong base
    expect(Heap.attach(heap.memory, { base: 4096 }).mallinfo()).toEqual(heap.mallinfo());
  });

  it("attach without a base finds a heap made with one (a wasm module's __heap_base)", () => {
    for (const base of [4096, 70000, 1 << 20]) {
      const wasm = new WebAssembly.Memory({ initial: 20, maximum: 100 });
      const heap = new Heap({ memory: wasm, base });
      new Uint8Array(wasm.buffer).fill(0x5a, 0, base); // the module's own data below the heap
      const p = heap.malloc(100);
      const other = Heap.attach(wasm);
      expect(other.base).toBe(heap.base);
      expect(other.mallinfo()).toEqual(heap.mallinfo());
      other.free(p);
      expect(heap.malloc(100)).toBe(p);
      other.check();
    }
    // The heap at 0 is found first, without a scan.
    const at0 = newHeap();
    expect(Heap.attach(at0.memory).base).toBe(at0.base);
  });
});

describe("wasmImports", () => {
  const NAMES = ["aligned_alloc", "calloc", "free", "malloc", "malloc_usable_size", "posix_memalign", "realloc"];

  it("returns the seven C-ABI functions", () => {
    const imports = newHeap().wasmImports();
    for (const n of NAMES) expect(typeof (imports as unknown as Record<string, unknown>)[n], n).toBe("function");
    expect(Object.keys(imports).filter((k) => NAMES.includes(k)).sort()).toEqual(NAMES);
  });

  it("the functions work on the heap, and posix_memalign writes the pointer at memptr (u32, little-endian)", () => {
    const wasm = new WebAssembly.Memory({ initial: 2, maximum: 64 });
    const base = 8192; // below: the module's data, where its memptr variable lives
    const heap = new Heap({ memory: wasm, base });
    const env = heap.wasmImports();
    const p = env.malloc(100);
    expect(p).toBeGreaterThanOrEqual(base);
    expect(p % 16).toBe(0);
    expect(env.malloc_usable_size(p)).toBe(usableFor(LP64, 100));
    const z = env.calloc(10, 10);
    expect(firstNonZero(heap, z, 100)).toBe(-1);
    fillPattern(heap, p, 100, 1);
    const q = env.realloc(p, 10_000);
    expectPattern(heap, q, 100, 1);
    const memptr = 1024;
    const dv = new DataView(wasm.buffer);
    dv.setUint32(memptr, 0xdeadbeef, true);
    expect(env.posix_memalign(memptr, 4096, 100)).toBe(0);
    const r = new DataView(wasm.buffer).getUint32(memptr, true);
    expect(r % 4096).toBe(0);
    expect(r).toBeGreaterThanOrEqual(base);
    expect(env.malloc_usable_size(r)).toBeGreaterThanOrEqual(100);
    // On failure: the error code in the module's libc's numbers (WASI's by default: EINVAL 28,
    // ENOMEM 48; heap.md), memptr untouched.
    new DataView(wasm.buffer).setUint32(memptr + 4, 0x12345678, true);
    expect(env.posix_memalign(memptr + 4, 24, 100)).toBe(28);
    expect(env.posix_memalign(memptr + 4, 16, 0x7fff_fff0)).toBe(48);
    expect(heap.wasmImports({ errno: "linux" }).posix_memalign(memptr + 4, 24, 100)).toBe(Errno.EINVAL);
    expect(new DataView(wasm.buffer).getUint32(memptr + 4, true)).toBe(0x12345678);
    const al = env.aligned_alloc(256, 10);
    expect(al % 256).toBe(0);
    // i32 arguments arrive signed: -1 is 0xffffffff bytes, a size no heap holds.
    expect(env.malloc(-1)).toBe(0);
    expect(heap.errno).toBe(Errno.ENOMEM);
    for (const x of [q, z, r, al]) env.free(x);
    env.free(0);
    expect(() => env.free(r)).toThrow(DoubleFreeError);
    expect(env.realloc(0, 0)).not.toBe(0);
    heap.check();
  });
});

describe("concurrent option (single thread)", () => {
  it("a concurrent heap on shared memory behaves the same", () => {
    const heap = newHeap({ concurrent: true });
    const a = filled(heap, 100, 1);
    const b = heap.calloc(4, 100);
    const c = heap.realloc(a, 1000);
    expectPattern(heap, c, 100, 1);
    expect(heap.posixMemalign(64, 10).err).toBe(0);
    heap.free(b);
    expect(() => heap.free(b)).toThrow(DoubleFreeError);
    const other = Heap.attach(heap.memory);
    other.free(c);
    other.check();
    heap.check();
  });
});

// ───────────── process.heap: regressions of bugs found by running this suite on it ─────────────

describe("process.heap: regressions", () => {
  it("free/realloc of a pointer into no mapping throws InvalidPointerError (not SegmentationFault), as on linear memory", () => {
    // badPointer() once read the would-be chunk's size field before checking that the chunk
    // lies in the heap: in a process that read faulted on the unmapped page.
    const heap = PROCESS.make();
    heap.malloc(100);
    const end = processOf(heap).sbrk(0);
    for (const x of [16, 64, end + 4096, 2 ** 31 - 16]) {
      expect(thrown(() => heap.free(x)), `free(0x${x.toString(16)})`).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => heap.realloc(x, 10)), `realloc(0x${x.toString(16)}, 10)`).toBeInstanceOf(InvalidPointerError);
    }
    heap.check();
  });

  it("mapped-block totals do not overflow: two mapped blocks of 1.5 GiB keep hblkhd, the footprint and check() right", () => {
    // The mapped bytes were once a 32-bit header word: past 2 GiB, mallinfo().hblkhd and
    // mallocFootprint() turned negative and check() reported "mapped block totals disagree".
    // (A 48-bit process maps both lazily, so they succeed, as with Linux overcommit.)
    const heap = PROCESS.make();
    const a = heap.malloc(1.5 * 1024 * MiB);
    const b = heap.malloc(1.5 * 1024 * MiB);
    expect(a).not.toBe(0);
    expect(b).not.toBe(0);
    expect(heap.mallinfo().hblkhd).toBeGreaterThanOrEqual(3 * 1024 * MiB);
    expect(heap.mallocFootprint()).toBeGreaterThanOrEqual(3 * 1024 * MiB);
    heap.check();
  });

  it("out of RAM while growing the break: malloc returns 0 with ENOMEM and the heap stays consistent", () => {
    // With 256 frames (1 MiB of RAM) and no data limit, the break grows until a page of the
    // heap cannot get a frame: the page fault threw OutOfMemoryError in the middle of malloc,
    // and check() then failed. heap.md: failure returns 0 with ENOMEM, nothing disturbed.
    const heap = PROCESS.make({ frames: 256 });
    const ps: number[] = [];
    let failed = false;
    for (let i = 0; i < 1000 && !failed; i++) {
      const p = heap.malloc(4000);
      if (p === 0) failed = true;
      else ps.push(p);
    }
    expect(failed).toBe(true);
    expect(heap.errno).toBe(Errno.ENOMEM);
    heap.check();
    for (const p of ps) heap.free(p);
    heap.check();
  });
});
