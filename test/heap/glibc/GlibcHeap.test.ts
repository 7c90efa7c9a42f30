/**
 * The glibc model's rules one by one (the traces in fixtures.test.ts compare it with real
 * glibc as a whole): the first call, tcache and fastbins, glibc's integrity checks and their
 * messages, calloc's clearing, realloc of mapped chunks, malloc_trim's MADV_DONTNEED,
 * mallopt, fork, introspection.
 */
import { describe, expect, it } from "vitest";
import {
  ArgumentError,
  DoubleFreeError,
  Errno,
  HeapCorruptionError,
  InvalidPointerError,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
  GlibcHeap,
  Heap,
  LinearMemory,
  PhysicalMemory,
  Process,
  SegmentationFault,
  heapMap,
} from "../../../src/index.js";
import { heapSvg } from "../../../src/viz/index.js";

const spawn = (heap: Record<string, unknown> = {}, frames = 16384) =>
  Process.spawn({ memory: new PhysicalMemory({ frames }), heap: { allocator: "glibc", ...heap } });
const word = (proc: Process, a: number): number => proc.as.read32(a) + proc.as.read32(a + 4) * 2 ** 32;

describe("glibc model: the first call", () => {
  it("takes the 0x290-byte tcache chunk, then the request; the break moves once by request + M_TOP_PAD, page-aligned", () => {
    const proc = spawn();
    const start = proc.currentBreak;
    const p = proc.heap.malloc(100);
    expect(p - start).toBe(0x2a0);
    expect(word(proc, p - 8)).toBe(0x71);
    expect(word(proc, start + 8)).toBe(0x291);
    expect(proc.currentBreak - start).toBe(0x21000);
    expect(proc.heap.mallocUsableSize(p)).toBe(104);
    expect(proc.heap.base).toBe(start);
    expect(proc.heap.alignment).toBe(16);
  });

  it("a heap that was never used reports nothing and passes check()", () => {
    const h = spawn().heap;
    expect(h.chunks()).toEqual([]);
    h.check();
    expect(h.mallinfo().arena).toBe(0);
  });
});

describe("glibc model: tcache, fastbins, consolidation", () => {
  it("a freed block comes back from the tcache, last in first out", () => {
    const h = spawn().heap;
    const a = h.malloc(40);
    const b = h.malloc(40);
    h.free(a);
    h.free(b);
    expect(h.malloc(40)).toBe(b);
    expect(h.malloc(40)).toBe(a);
  });

  it("freeing many small blocks gives nothing back: 7 in the tcache, the rest in fastbins", () => {
    const proc = spawn();
    const h = proc.heap;
    const ps = Array.from({ length: 1000 }, () => h.malloc(100));
    const brk = proc.currentBreak;
    for (const p of ps) h.free(p);
    expect(proc.currentBreak).toBe(brk);
    const mi = h.mallinfo();
    expect(mi.smblks).toBe(993);
    expect(mi.fsmblks).toBe(993 * 0x70);
    expect(mi.uordblks).toBe(0x290 + 7 * 0x70);
    expect(mi.uordblks + mi.fordblks).toBe(mi.arena);
    const kinds = h.chunks().filter((c) => c.kind === "free");
    expect(kinds.filter((c) => c.bin === "tcache")).toHaveLength(7);
    expect(kinds.filter((c) => c.bin === "fastbin")).toHaveLength(993);
    h.check();
  });

  it("a large request consolidates the fastbins (malloc_consolidate), merging them into one chunk or the top", () => {
    const h = spawn().heap;
    const ps = Array.from({ length: 30 }, () => h.malloc(100));
    const guard = h.malloc(16);
    for (const p of ps) h.free(p);
    expect(h.mallinfo().smblks).toBe(23);
    const big = h.malloc(2000);
    expect(h.mallinfo().smblks).toBe(0);
    // The 23 fastbin chunks (and nothing else) merged into one free chunk that served the request.
    expect(big).toBe(ps[7]);
    h.free(guard);
    h.check();
  });

  it("mallopt(M_MXFAST, 0) turns fastbins off; over 160 is refused", () => {
    const h = spawn().heap;
    expect(h.mallopt(1, 0)).toBe(1);
    const ps = Array.from({ length: 10 }, () => h.malloc(24));
    h.malloc(24);
    for (const p of ps) h.free(p);
    expect(h.mallinfo().smblks).toBe(0);
    expect(h.mallopt(1, 161)).toBe(0);
    expect(h.mallopt(1, -1)).toBe(0);
    expect(h.mallopt(1, 160)).toBe(1);
  });
});

describe("glibc model: glibc's checks, glibc's messages", () => {
  it("a double free of a tcache chunk: free(): double free detected in tcache 2", () => {
    const h = spawn().heap;
    const p = h.malloc(24);
    h.free(p);
    let err: unknown;
    try {
      h.free(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DoubleFreeError);
    expect((err as Error).message).toBe("free(): double free detected in tcache 2");
  });

  it("a double free at the top of a fastbin: double free or corruption (fasttop)", () => {
    const h = spawn().heap;
    const ps = Array.from({ length: 8 }, () => h.malloc(24));
    for (const p of ps) h.free(p);
    // ps[7] went to the fastbin; with the tcache full its key check finds nothing.
    expect(() => h.free(ps[7]!)).toThrow(/double free or corruption \(fasttop\)/);
  });

  it("what fools glibc fools the model: a fastbin double free with another chunk in between is accepted", () => {
    const h = spawn().heap;
    const ps = Array.from({ length: 9 }, () => h.malloc(24));
    for (const p of ps) h.free(p);
    h.free(ps[7]!); // fastbin: 8, 7 -> now 7 again at the head (7, 8, 7)
    for (let i = 0; i < 7; i++) h.malloc(24); // drain the tcache
    const a = h.malloc(24);
    // Taking from the fastbin stashes the rest in the tcache: the same chunk is handed out twice.
    const b = h.malloc(24);
    const c = h.malloc(24);
    expect(a).toBe(ps[7]);
    expect(new Set([a, b, c]).size).toBe(2);
  });

  it("a double free of a big chunk: double free or corruption (!prev); of the top: (top)", () => {
    const h = spawn().heap;
    const p = h.malloc(5000);
    h.malloc(16);
    h.free(p);
    expect(() => h.free(p)).toThrow(DoubleFreeError);
    expect(() => h.free(p)).toThrow(/double free or corruption \(!prev\)/);
    const q = spawn().heap;
    const r = q.malloc(5000);
    q.free(r); // merged into the top: the chunk is the top now
    expect(() => q.free(r)).toThrow(/double free or corruption \(top\)/);
  });

  it("a misaligned pointer: free(): invalid pointer; a smashed size: free(): invalid size", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(100);
    expect(() => h.free(p + 8)).toThrow(InvalidPointerError);
    expect(() => h.free(p + 8)).toThrow("free(): invalid pointer");
    proc.as.write32(p - 8, 0x11);
    expect(() => h.free(p)).toThrow("free(): invalid size");
  });

  it("a smashed next size: free(): invalid next size (fast) and (normal)", () => {
    const proc = spawn();
    const h = proc.heap;
    h.mallopt(M_MMAP_MAX, 0);
    const ps = Array.from({ length: 8 }, () => h.malloc(24));
    const q = h.malloc(24);
    for (let i = 0; i < 7; i++) h.free(ps[i]!);
    proc.as.write32(q - 8, 0);
    expect(() => h.free(ps[7]!)).toThrow(/free\(\): invalid next size \(fast\)/);
    const big = h.malloc(3000);
    const after = h.malloc(3000);
    proc.as.write32(after - 8, 9); // size 8, PREV_INUSE kept
    expect(() => h.free(big)).toThrow(HeapCorruptionError);
    expect(() => h.free(big)).toThrow("free(): invalid next size (normal)");
  });

  it("a corrupted top size: malloc(): corrupted top size (House of Force no longer works)", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(24);
    proc.as.write32(p + 24 + 4, 0xffffffff); // the top's size word, high half
    expect(() => h.malloc(5000)).toThrow("malloc(): corrupted top size");
  });

  it("a broken unsorted list: malloc(): unsorted double linked list corrupted", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(2000);
    h.malloc(16);
    h.free(p);
    proc.as.write32(p, 0x1230); // fd of the unsorted chunk
    expect(() => h.malloc(3000)).toThrow("malloc(): unsorted double linked list corrupted");
  });

  it("unlink's checks: corrupted size vs. prev_size, corrupted double-linked list", () => {
    const proc = spawn();
    const h = proc.heap;
    const a = h.malloc(2000);
    const b = h.malloc(2000);
    h.malloc(16);
    h.free(a);
    h.malloc(3000); // sorts a into its small/large bin
    proc.as.write32(a + 8, b - 16); // a->bk: a chunk whose fd is not a (b's user data)
    proc.as.write32(a + 12, 0);
    expect(() => h.free(b)).toThrow("corrupted double-linked list");
    const proc2 = spawn();
    const h2 = proc2.heap;
    const c = h2.malloc(2000);
    const d = h2.malloc(2000);
    h2.malloc(16);
    h2.free(c);
    proc2.as.write32(d - 16, 0x100); // d's prev_size no longer matches c's size
    expect(() => h2.free(d)).toThrow("corrupted size vs. prev_size while consolidating");
  });

  it("a chunk of the wrong size taken from a fastbin: malloc(): memory corruption (fast)", () => {
    const proc = spawn();
    const h = proc.heap;
    const ps = Array.from({ length: 8 }, () => h.malloc(24));
    h.malloc(16);
    for (const p of ps) h.free(p);
    for (let i = 0; i < 7; i++) h.malloc(24);
    proc.as.write32(ps[7]! - 8, 0x51);
    expect(() => h.malloc(24)).toThrow("malloc(): memory corruption (fast)");
  });

  it("free(NULL) does nothing; free keeps errno; bad arguments are typed errors", () => {
    const h = spawn().heap;
    h.errno = 99;
    h.free(0);
    const p = h.malloc(10);
    h.free(p);
    expect(h.errno).toBe(99);
    expect(() => h.malloc("100" as unknown as number)).toThrow(ArgumentError);
    expect(() => h.free("16" as unknown as number)).toThrow(ArgumentError);
    expect(() => h.free(-16)).toThrow(InvalidPointerError);
    expect(() => h.calloc(1, 16n as unknown as number)).toThrow(ArgumentError);
  });
});

describe("glibc model: sizes that cannot be served", () => {
  it("malloc of more than PTRDIFF_MAX, negative or NaN: 0 with ENOMEM; calloc overflow too", () => {
    const h = spawn().heap;
    for (const n of [2 ** 64, -1, Number.NaN, 2 ** 62]) {
      h.errno = 0;
      expect(h.malloc(n)).toBe(0);
      expect(h.errno).toBe(Errno.ENOMEM);
    }
    h.errno = 0;
    expect(h.calloc(2 ** 40, 2 ** 40)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    h.errno = 0;
    expect(h.reallocarray(0, 2 ** 40, 2 ** 40)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    h.check();
  });

  it("posix_memalign: EINVAL for alignments that are not power-of-two multiples of 8; errno untouched", () => {
    const h = spawn().heap;
    h.errno = 7;
    for (const a of [0, 4, 24, 0x300]) expect(h.posixMemalign(a, 10)).toEqual({ err: Errno.EINVAL, ptr: 0 });
    const r = h.posixMemalign(0x100, 10);
    expect(r.err).toBe(0);
    expect(r.ptr % 0x100).toBe(0);
    expect(h.posixMemalign(8, 2 ** 62).err).toBe(Errno.ENOMEM);
    expect(h.errno).toBe(7);
  });

  it("memalign rounds a non-power-of-two alignment up; aligned_alloc is memalign in glibc 2.36", () => {
    const h = spawn().heap;
    const p = h.memalign(48, 10);
    expect(p % 64).toBe(0);
    const q = h.alignedAlloc(100, 10);
    expect(q % 128).toBe(0);
    expect(h.memalign(2 ** 64, 10)).toBe(0);
    expect(h.errno).toBe(Errno.EINVAL);
    h.free(p);
    h.free(q);
    h.check();
  });
});

describe("glibc model: calloc, realloc, mapped chunks", () => {
  it("calloc clears reused memory, and leaves memory fresh from sbrk alone", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(200);
    proc.as.writeBytes(p, new Uint8Array(200).fill(0xab));
    h.malloc(16);
    h.free(p);
    const q = h.calloc(1, 200); // calloc skips the tcache: p's chunk comes from... the top or a bin
    expect([...proc.as.readBytes(q, 200)].every((b) => b === 0)).toBe(true);
    const before = proc.status().minorFaults;
    const big = h.calloc(1, 100000); // needs a new top: the part beyond max_system_mem is not written
    const after = proc.status().minorFaults;
    expect(big).not.toBe(0);
    expect(after - before).toBeLessThan(100000 / 4096);
  });

  it("realloc keeps the contents, in place into the top, by moving otherwise", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(100);
    proc.as.writeBytes(p, Uint8Array.from({ length: 100 }, (_, i) => i));
    const q = h.realloc(p, 1000);
    expect(q).toBe(p);
    h.malloc(16);
    const r = h.realloc(q, 5000);
    expect(r).not.toBe(q);
    expect([...proc.as.readBytes(r, 100)]).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(h.realloc(r, 0)).toBe(0);
    expect(h.realloc(0, 10)).not.toBe(0);
    h.check();
  });

  it("a mapped chunk: IS_MMAPPED, usable size − 16, freed by munmap; freeing it raises the thresholds", () => {
    const proc = spawn();
    const h = proc.heap as GlibcHeap;
    const p = h.malloc(200 * 1024);
    expect(word(proc, p - 8) & 2).toBe(2);
    expect(h.mallocUsableSize(p)).toBe(0x33000 - 16);
    expect(h.mallinfo().hblks).toBe(1);
    expect(h.chunks().some((c) => c.ptr === p && c.kind === "used")).toBe(true);
    h.free(p);
    expect(h.state.mmapThreshold).toBe(0x33000);
    expect(h.state.trimThreshold).toBe(2 * 0x33000);
    const q = h.malloc(200 * 1024);
    expect(word(proc, q - 8) & 2).toBe(0); // from the break now
    h.check();
  });

  it("realloc of a mapped chunk uses mremap, and keeps the contents", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(300 * 1024);
    proc.as.writeBytes(p, new Uint8Array([1, 2, 3, 4]));
    const q = h.realloc(p, 600 * 1024);
    expect(q).not.toBe(0);
    expect(h.mallocUsableSize(q)).toBeGreaterThanOrEqual(600 * 1024);
    expect([...proc.as.readBytes(q, 4)]).toEqual([1, 2, 3, 4]);
    const r = h.realloc(q, 300 * 1024 + 1);
    expect(h.mallocUsableSize(r)).toBeLessThan(600 * 1024);
    expect(h.mallinfo().hblkhd).toBe(h.mallocUsableSize(r) + 16);
    h.free(r);
    expect(h.mallinfo().hblks).toBe(0);
  });

  it("M_MMAP_MAX 0 and a raised M_MMAP_THRESHOLD keep big blocks on the break", () => {
    const h = spawn().heap;
    expect(h.mallopt(M_MMAP_MAX, 0)).toBe(1);
    h.malloc(1 << 20);
    expect(h.mallinfo().hblks).toBe(0);
    const g = spawn().heap;
    expect(g.mallopt(M_MMAP_THRESHOLD, 1 << 21)).toBe(1);
    g.malloc(1 << 20);
    expect(g.mallinfo().hblks).toBe(0);
    expect(g.mallopt(-6, 0x55)).toBe(1); // M_PERTURB
    expect(g.mallopt(-7, 2)).toBe(1);
    expect(g.mallopt(-8, 2)).toBe(1);
    expect(g.mallopt(-5, 0)).toBe(1);
    expect(g.mallopt(12345, 0)).toBe(1);
  });
});

describe("glibc model: trimming", () => {
  it("a free that leaves more than M_TRIM_THRESHOLD at the top gives it back, keeping M_TOP_PAD", () => {
    const proc = spawn();
    const h = proc.heap;
    const start = proc.currentBreak;
    const p = h.malloc(100);
    const a = h.malloc(100 * 1024);
    const b = h.malloc(100 * 1024);
    const grown = proc.currentBreak;
    expect(grown - start).toBeGreaterThan(0x21000);
    h.free(b);
    h.free(a);
    expect(proc.currentBreak).toBeLessThan(grown);
    const keep = h.mallinfo().keepcost;
    expect(keep).toBeGreaterThanOrEqual(128 * 1024);
    expect(keep).toBeLessThan(128 * 1024 + 4096 + 32);
    h.free(p);
    h.check();
  });

  it("malloc_trim(0) releases the whole free pages inside the heap (MADV_DONTNEED) and returns 1", () => {
    const proc = spawn();
    const h = proc.heap;
    const ps = Array.from({ length: 10 }, () => h.malloc(20480));
    for (const p of ps) proc.as.writeBytes(p, new Uint8Array(20480).fill(1));
    for (const p of ps.slice(0, 9)) h.free(p);
    const rss = proc.status().vmRss;
    const brk = proc.currentBreak;
    expect(h.mallocTrim(0)).toBe(1);
    expect(proc.status().vmRss).toBeLessThan(rss - 100 * 1024);
    expect(proc.currentBreak).toBeLessThan(brk);
    // The pages are gone but mapped: the next touch reads zeros.
    expect(proc.as.read32(ps[4]!)).toBe(0);
    h.check();
    // Whole free pages are released whatever the pad: the pad only limits the top's trim.
    const b2 = proc.currentBreak;
    expect(h.mallocTrim(1 << 30)).toBe(1);
    expect(proc.currentBreak).toBe(b2);
  });

  it("M_TRIM_THRESHOLD and M_TOP_PAD set by mallopt, and as start-up options", () => {
    const proc = spawn({ trimThreshold: 1 << 30, topPad: 0 });
    const h = proc.heap;
    const start = proc.currentBreak;
    const p = h.malloc(100);
    expect(proc.currentBreak - start).toBe(0x1000);
    const big = h.malloc(300 * 1024);
    h.free(big);
    expect(h.mallinfo().hblks).toBe(0); // mmapThreshold not set, but the dynamic threshold is off: big came from mmap…
    expect(h.mallopt(M_TRIM_THRESHOLD, 0)).toBe(1);
    expect(h.mallopt(M_TOP_PAD, 4096)).toBe(1);
    h.free(p);
    h.check();
  });
});

describe("glibc model: fork and introspection", () => {
  it("a forked child has the same heap, copy-on-write; each goes its own way", () => {
    const proc = spawn();
    const h = proc.heap;
    const p = h.malloc(100);
    proc.as.writeBytes(p, new Uint8Array([7, 7, 7]));
    const child = proc.fork();
    expect(child.heap.mallocUsableSize(p)).toBe(104);
    expect([...child.as.readBytes(p, 3)]).toEqual([7, 7, 7]);
    const q = child.heap.malloc(100);
    expect(h.malloc(100)).toBe(q);
    child.heap.free(p);
    expect(h.mallocUsableSize(p)).toBe(104);
    child.heap.check();
    h.check();
  });

  it("chunks() lists the tcache chunk as meta, blocks, free chunks with their bins, the top", () => {
    const h = spawn().heap;
    const a = h.malloc(100);
    const b = h.malloc(2000);
    h.malloc(16);
    h.free(b);
    const cs = h.chunks();
    expect(cs[0]).toMatchObject({ kind: "meta", size: 0x290 });
    expect(cs[1]).toMatchObject({ kind: "used", ptr: a, usable: 104 });
    expect(cs[2]).toMatchObject({ kind: "free", bin: "unsorted" });
    expect(cs.at(-1)!.kind).toBe("top");
    expect(heapMap(h)).toContain("top");
    expect(h.mallocFootprint()).toBe(0x21000);
    expect(h.mallocMaxFootprint()).toBe(0x21000);
    expect(() => h.wasmImports()).toThrow(ArgumentError);
  });

  it("check() finds a broken chunk and a tcache count that lies", () => {
    const proc = spawn();
    const h = proc.heap as GlibcHeap;
    const a = h.malloc(100);
    h.malloc(100);
    h.free(a);
    h.check();
    proc.as.write16(h.state.tcache + 2 * 5, 3);
    expect(() => h.check()).toThrow(HeapCorruptionError);
    proc.as.write16(h.state.tcache + 2 * 5, 1);
    h.check();
    proc.as.write32(a - 8, 0x25);
    expect(() => h.check()).toThrow(HeapCorruptionError);
    proc.as.write32(a - 8, 0x71);
    h.check();
    const st = h.state as { systemMem: number };
    st.systemMem += 4096;
    expect(() => h.check()).toThrow(/system_mem says/);
    st.systemMem -= 4096;
    h.check();
  });

  it("rejects ilp32 and unknown allocators at spawn", () => {
    expect(() => spawn({ dataModel: "ilp32" })).toThrow(ArgumentError);
    expect(() => spawn({ allocator: "jemalloc" })).toThrow(ArgumentError);
  });
});

describe("glibc model over a LinearMemory (GlibcHeap.linear)", () => {
  it("places blocks as in a process, relative to its base; big blocks come from the break (no mmap)", () => {
    const mem = new LinearMemory({ maxBytes: 1 << 26 });
    const h = GlibcHeap.linear(mem, { base: 0x10000 });
    expect(h.memory).toBe(mem);
    expect(h.base).toBe(0x10000);
    const p = h.malloc(100);
    expect(p).toBe(0x102a0);
    expect(mem.dv.getUint32(p - 8, true)).toBe(0x71);
    const big = h.malloc(1 << 20);
    expect(mem.dv.getUint32(big - 8, true) & 2).toBe(0);
    expect(h.mallinfo().hblks).toBe(0);
    mem.u8.fill(0xee, big, big + 64);
    h.free(big); // back into the top, then trimmed
    expect(h.mallinfo().arena).toBeLessThan(1 << 20);
    h.check();
  });

  it("gives the same offsets as a process heap for the same calls below the mmap threshold", () => {
    const proc = spawn();
    const start = proc.currentBreak;
    const lin = GlibcHeap.linear(new LinearMemory({ maxBytes: 1 << 26 }), { base: 0x20000 });
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const k = rnd(a.length + 1);
      if (k < a.length && rnd(2) === 0) {
        proc.heap.free(a[k]!);
        lin.free(b[k]!);
        a.splice(k, 1);
        b.splice(k, 1);
      } else {
        const n = 1 + rnd(rnd(2) === 0 ? 200 : 20000);
        const x = proc.heap.malloc(n);
        const y = lin.malloc(n);
        expect(x - start).toBe(y - 0x20000);
        a.push(x);
        b.push(y);
      }
    }
    expect(lin.mallinfo()).toEqual(proc.heap.mallinfo());
    lin.check();
  });

  it("malloc_trim zero-fills the released pages; bad arguments are refused", () => {
    const mem = new LinearMemory({ maxBytes: 1 << 24 });
    const h = GlibcHeap.linear(mem);
    const ps = Array.from({ length: 10 }, () => h.malloc(20480));
    for (const p of ps) mem.u8.fill(1, p, p + 20480);
    for (const p of ps.slice(0, 9)) h.free(p);
    expect(h.mallocTrim(0)).toBe(1);
    expect(mem.u8[ps[4]!]).toBe(0);
    expect(mem.u8[ps[9]!]).toBe(1);
    expect(() => GlibcHeap.linear({} as LinearMemory)).toThrow(ArgumentError);
    expect(() => GlibcHeap.linear(mem, { base: 0 })).toThrow(ArgumentError);
    expect(() => new Heap({ allocator: "glibc" })).toThrow(/GlibcHeap\.linear/);
    expect(() => new Heap({ allocator: "x" as "vmheap" })).toThrow(ArgumentError);
    expect(new Heap({ allocator: "vmheap" }).malloc(1)).not.toBe(0);
  });

  it("a wild pointer outside the memory is a segmentation fault, as in a process", () => {
    const mem = new LinearMemory({ maxBytes: 1 << 24 });
    const h = GlibcHeap.linear(mem);
    h.malloc(10);
    expect(() => h.free(mem.byteLength + 4096)).toThrow(SegmentationFault);
  });
});

describe("glibc model: when sbrk fails", () => {
  it("mmap stands in for the break (at least 1 MiB), and the heap is no longer contiguous", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 16384 }), dataLimit: 4096, heap: { allocator: "glibc" } });
    const h = proc.heap as GlibcHeap;
    const start = proc.currentBreak;
    const p = h.malloc(100);
    expect(p).not.toBe(0);
    expect(proc.currentBreak).toBe(start); // the break could not move
    expect(h.state.noncontiguous).toBe(true);
    expect(h.mallinfo().arena).toBe(1 << 20);
    const q = h.malloc(200);
    h.free(p);
    h.free(q);
    // Past the first stand-in (blocks under the mmap threshold): another one, with fenceposts.
    for (let i = 0; i < 9; i++) expect(h.malloc(120 * 1024)).not.toBe(0);
    expect(h.mallinfo().arena).toBeGreaterThan(1 << 20);
    expect(h.chunks().filter((c) => c.kind === "meta").length).toBeGreaterThanOrEqual(3); // tcache + fenceposts
    h.check();
  });
});

describe("glibc model: binLists() for pictures", () => {
  it("lists the tcache, fastbin, unsorted and sorted bins with their chunks in list order", () => {
    const h = spawn().heap as GlibcHeap;
    const small = Array.from({ length: 9 }, () => h.malloc(40));
    const big = h.malloc(2000);
    h.malloc(16);
    for (const p of small) h.free(p);
    h.free(big);
    const bins = h.binLists();
    const byName = new Map(bins.map((b) => [b.name, b]));
    // tcache: the last freed first; its 8th and 9th chunks went to the fastbin.
    expect(byName.get("tcache[1]")!.chunks).toEqual(small.slice(0, 7).reverse().map((p) => p - 16));
    expect(byName.get("fastbin[1]")!.chunks).toEqual([small[8]! - 16, small[7]! - 16]);
    expect(byName.get("unsorted")!.chunks).toEqual([big - 16]);
    // A large request consolidates the fastbins first (the two fastbin chunks merge with the
    // big one after them), then sorts the unsorted chunk into its large bin.
    h.malloc(3000);
    const large = h.binLists().find((b) => b.name.startsWith("large["))!;
    expect(large.chunks).toEqual([small[7]! - 16]);
    expect(large.minSize).toBe(48 + 48 + 2016);
    expect(h.binLists().some((b) => b.name.startsWith("fastbin"))).toBe(false);
    expect(heapSvg(h)).toContain("tcache[1]: 48");
  });
});
