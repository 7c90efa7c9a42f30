// heap.md, "the glibc allocator model": each sentence checked, quoted in the test's name. The
// model's addresses, chunk bytes and break moves are compared with the real glibc's trace by trace
// in test/heap/glibc/ (replay.test.ts and process.test.ts: the first malloc, the 10,000 frees,
// calloc's memset, the raised mmap threshold, malloc_trim's pages); this file adds the sentences
// those do not name.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, GlibcHeap, Heap, LinearMemory, PhysicalMemory, Process } from "../../src/index.js";
import { compareCApi } from "./helpers/cApi.js";

const KiB = 1024;

function glibcProcess(): Process {
  return Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }), heap: { allocator: "glibc" } });
}

/** The 8-byte size word of the chunk of `p`. */
function sizeWord(proc: Process, p: number): number {
  return proc.as.read32(p - 8) + proc.as.read32(p - 4) * 2 ** 32;
}

describe("heap.md: the glibc model 'returns the same ... mallopt results as glibc does' (test/fixtures/glibc/c-api.txt)", () => {
  it.each(["a process", "linear memory"])("every parameter of malloc.h, and numbers glibc does not know, at 12 values each: %s", (t) => {
    const h = t === "a process" ? glibcProcess().heap : GlibcHeap.linear(new LinearMemory({ initialBytes: 1 << 20, maxBytes: 64 << 20 }));
    const { want, got } = compareCApi(h, ["mallopt"]);
    expect(want.length).toBe(15 * 12);
    expect(got).toEqual(want);
  });
});

describe("heap.md: 'the first malloc takes the 0x290-byte tcache chunk, then the request; the break grows by the request plus M_TOP_PAD (128 KiB), page-aligned'", () => {
  it("malloc(100) at heap start + 0x2a0 behind the tcache's 0x291 size word; a request past the first growth grows the break by request + 128 KiB, in pages", () => {
    const proc = glibcProcess();
    const h = proc.heap;
    const start = proc.sbrk(0);
    const p = h.malloc(100);
    expect(p - start).toBe(0x2a0);
    expect(proc.as.read32(start + 8)).toBe(0x291);
    expect(proc.sbrk(0) - start).toBe(0x21000); // 0x290 + 128 KiB + MINSIZE, page-aligned
    // a request the top cannot serve (under the mmap threshold): the break grows by it plus the
    // pad, less the old top (the heap is contiguous), in whole pages
    const a = h.malloc(100 * KiB);
    expect(a - start).toBe(0x290 + 0x70 + 16);
    const before = proc.sbrk(0);
    const top = h.mallinfo().keepcost;
    const q = h.malloc(100 * KiB);
    const nb = 100 * KiB + 16;
    expect(q).toBe(a + nb);
    expect(proc.sbrk(0) - before).toBe(Math.ceil((nb + 128 * KiB + 32 - top) / 4096) * 4096);
  });
});

describe("heap.md: 'tcache: 64 bins, 7 chunks each, up to 1032-byte requests'", () => {
  it.each([24, 100, 1032])("freeing 8 blocks of %i bytes keeps 7 in the tcache (counted in use, as glibc's mallinfo2) and binned the 8th", (n) => {
    const h = glibcProcess().heap;
    const ps = Array.from({ length: 8 }, () => h.malloc(n));
    const guard = h.malloc(16);
    const before = h.mallinfo();
    for (const p of ps) h.free(p);
    const after = h.mallinfo();
    const chunk = Math.max(32, (n + 8 + 15) & ~15);
    expect(before.uordblks - after.uordblks).toBe(chunk); // one chunk left the tcache's keeping
    if (n <= 120) expect(after.smblks).toBe(1); // a fastbin chunk
    else expect(after.ordblks).toBe(before.ordblks + 1); // the unsorted bin
    // the 7 come back last in, first out
    for (const p of ps.slice(0, 7).reverse()) expect(h.malloc(n)).toBe(p);
    h.free(guard);
  });

  it("a 1033-byte request's chunk (0x420) is past the last of the 64 bins: no tcache, its frees coalesce", () => {
    const h = glibcProcess().heap;
    const ps = Array.from({ length: 3 }, () => h.malloc(1033));
    const guard = h.malloc(16);
    const used = h.mallinfo().uordblks;
    for (const p of ps) h.free(p);
    const m = h.mallinfo();
    expect(used - m.uordblks).toBe(3 * 0x420);
    expect(m.ordblks).toBe(2); // the three merged, and the top
    h.free(guard);
  });
});

describe("heap.md: 'fastbins up to M_MXFAST (128 bytes by default) are not coalesced until malloc_consolidate (a large request ...); so freeing many small blocks gives nothing back'", () => {
  it("1,000 frees of 100-byte blocks: 993 fastbin chunks, the break unmoved; a large request consolidates them", () => {
    const proc = glibcProcess();
    const h = proc.heap;
    const ps = Array.from({ length: 1000 }, () => h.malloc(100));
    const brk = proc.sbrk(0);
    for (const p of ps) h.free(p);
    expect(proc.sbrk(0)).toBe(brk);
    expect(h.mallinfo().smblks).toBe(993);
    h.malloc(2000); // a large-bin request: malloc_consolidate
    expect(h.mallinfo().smblks).toBe(0);
  });

  it("a 128-byte request's chunk (0x90) is past M_MXFAST: once the tcache is full it is binned, not a fastbin chunk", () => {
    for (const [n, fast] of [[120, 1], [128, 0]] as const) {
      const h = glibcProcess().heap;
      const ps = Array.from({ length: 8 }, () => h.malloc(n));
      h.malloc(16);
      for (const p of ps) h.free(p);
      expect(h.mallinfo().smblks, `${n}`).toBe(fast);
    }
  });
});

describe("heap.md: 'freeing a mapped chunk bigger than the mmap threshold raises the threshold to its size (at most 32 MiB) and the trim threshold to twice that'", () => {
  it("after freeing a 200 KiB mapped block the same request comes from brk; after a 40 MiB one, 1 MiB is still mapped", () => {
    const h = glibcProcess().heap;
    const a = h.malloc(200 * KiB);
    expect(h.mallinfo().hblks).toBe(1);
    h.free(a);
    const b = h.malloc(200 * KiB);
    expect(h.mallinfo().hblks).toBe(0);
    h.free(b);
    // trim threshold twice 200 KiB: a free leaving a top under it is not trimmed
    expect(h.mallinfo().keepcost).toBeGreaterThan(200 * KiB);
    const h2 = glibcProcess().heap;
    h2.free(h2.malloc(40 << 20));
    h2.malloc(1 << 20);
    expect(h2.mallinfo().hblks).toBe(1);
  });
});

describe("heap.md: 'size-word flags: PREV_INUSE = 1, IS_MMAPPED = 2, NON_MAIN_ARENA = 4'", () => {
  it("a chunk after one in use has bit 1 set; a mapped chunk bit 2; none is ever of another arena", () => {
    const proc = glibcProcess();
    const h = proc.heap;
    const a = h.malloc(40), b = h.malloc(40);
    expect(sizeWord(proc, b)).toBe(0x30 | 1);
    const big = h.malloc(300 * KiB);
    expect(sizeWord(proc, big) & 7).toBe(2); // IS_MMAPPED (PREV_INUSE is clear on a mapped chunk)
    expect(sizeWord(proc, big) & ~7).toBe(300 * KiB + 4096);
    // a freed chunk that is binned (not kept by the tcache) clears the next one's PREV_INUSE
    const c = h.malloc(2000), d = h.malloc(40);
    h.free(c);
    expect(sizeWord(proc, d)).toBe(0x30);
    for (const p of [a, b, big]) expect(sizeWord(proc, p) & 4).toBe(0);
  });
});

describe("heap.md: 'glibc's integrity checks, with glibc's messages, and nothing more: what fools glibc fools the model. The default allocator is the hardened one.'", () => {
  it("a tcache double free: DoubleFreeError 'free(): double free detected in tcache 2'", () => {
    const h = glibcProcess().heap;
    const a = h.malloc(40);
    h.free(a);
    expect(() => h.free(a)).toThrow(DoubleFreeError);
    expect(() => h.free(a)).toThrow(/^free\(\): double free detected in tcache 2/);
  });

  it("fastbin dup (free a, free b, free a once the tcache is full) fools glibc and the model; the default allocator refuses the second free of a", () => {
    const g = glibcProcess().heap;
    const fill = Array.from({ length: 7 }, () => g.malloc(40));
    const [a, b] = [g.malloc(40), g.malloc(40)];
    for (const p of fill) g.free(p);
    g.free(a);
    g.free(b);
    expect(() => g.free(a)).not.toThrow();
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 1024 }) });
    expect(proc.heap).not.toBeInstanceOf(GlibcHeap);
    expect(new Heap()).not.toBeInstanceOf(GlibcHeap);
    for (const h of [proc.heap, new Heap()]) {
      const x = h.malloc(40), y = h.malloc(40);
      h.free(x);
      h.free(y);
      expect(() => h.free(x)).toThrow(DoubleFreeError);
    }
  });
});
