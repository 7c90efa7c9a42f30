// Checks written from spec/heap.md, one `it` per testable sentence, through the package root.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  Brk,
  DoubleFreeError,
  Errno,
  errnoName,
  Heap,
  HeapCorruptionError,
  InvalidPointerError,
  LinearMemory,
  PhysicalMemory,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
  Process,
  SegmentationFault,
} from "../../src/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;

function heap(): Heap<LinearMemory> {
  return new Heap({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * MiB }) });
}

describe("malloc", () => {
  it("malloc(0) returns a unique, freeable, non-NULL pointer", () => {
    const h = heap();
    const a = h.malloc(0), b = h.malloc(0);
    expect(a).not.toBe(0);
    expect(b).not.toBe(0);
    expect(a).not.toBe(b);
    h.free(a);
    h.free(b);
    h.check();
  });

  it("every result is 16-byte aligned; mallocUsableSize(p) >= size", () => {
    const h = heap();
    for (const n of [0, 1, 7, 8, 15, 16, 17, 24, 25, 31, 32, 33, 100, 1000, 4095, 70000, 200000]) {
      const p = h.malloc(n);
      expect(p % 16).toBe(0);
      expect(h.mallocUsableSize(p)).toBeGreaterThanOrEqual(n);
    }
    h.check();
  });

  it("failure returns 0 and sets errno = ENOMEM; nothing already allocated is disturbed", () => {
    const h = heap();
    const p = h.malloc(100);
    h.memory.u8.fill(0xab, p, p + 100);
    for (const n of [2 ** 53, 2 ** 40, 128 * MiB, Number.MAX_SAFE_INTEGER]) {
      h.errno = 0;
      expect(h.malloc(n)).toBe(0);
      expect(h.errno).toBe(Errno.ENOMEM);
    }
    expect([...h.memory.u8.subarray(p, p + 100)].every((b) => b === 0xab)).toBe(true);
    h.free(p);
    h.check();
  });

  it("requests at or over the mmap threshold get their own mapping in a Process; freeing unmaps at once", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 1024 }) });
    const h = proc.heap;
    const before = proc.as.status().vmSize;
    const p = h.malloc(128 * KiB);
    expect(p).not.toBe(0);
    expect(h.mallinfo().hblks).toBe(1);
    expect(h.mallinfo().hblkhd).toBeGreaterThanOrEqual(128 * KiB);
    expect(proc.as.status().vmSize).toBeGreaterThan(before);
    h.free(p);
    expect(h.mallinfo().hblks).toBe(0);
    expect(h.mallinfo().hblkhd).toBe(0);
    expect(proc.as.status().vmSize).toBe(before);
    // just under the threshold comes from brk
    const q = h.malloc(128 * KiB - 64);
    expect(h.mallinfo().hblks).toBe(0);
    h.free(q);
  });
});

describe("free", () => {
  it("free(0) does nothing; free never changes errno", () => {
    const h = heap();
    const before = h.mallinfo();
    h.errno = 1234;
    h.free(0);
    expect(h.errno).toBe(1234);
    expect(h.mallinfo()).toEqual(before);
    h.errno = Errno.ENOMEM;
    const p = h.malloc(40);
    h.free(p);
    expect(h.errno).toBe(Errno.ENOMEM);
  });

  it("double free → DoubleFreeError 'free(): double free detected', before any state change", () => {
    const h = heap();
    const a = h.malloc(40), b = h.malloc(40);
    h.free(a);
    const snap = h.mallinfo();
    expect(() => h.free(a)).toThrow(DoubleFreeError);
    expect(() => h.free(a)).toThrow(/free\(\): double free detected/);
    expect(h.mallinfo()).toEqual(snap);
    h.check();
    const c = h.malloc(40);
    expect(c).not.toBe(0);
    h.free(b);
    h.free(c);
    h.check();
  });

  it("a pointer never returned, an interior pointer, a misaligned pointer → InvalidPointerError 'free(): invalid pointer'", () => {
    const h = heap();
    const p = h.malloc(64);
    const q = h.malloc(64);
    const snap = h.mallinfo();
    for (const bad of [p + 1, p + 8, p + 16, q + 32, p - 16, 8, 1, h.memory.byteLength - 16]) {
      let err: unknown;
      try { h.free(bad); } catch (e) { err = e; }
      expect(err, `free(${bad})`).toBeInstanceOf(InvalidPointerError);
      expect((err as Error).message).toMatch(/free\(\): invalid pointer/);
      expect(h.mallinfo()).toEqual(snap);
    }
    h.check();
    h.free(p);
    h.free(q);
    h.check();
  });

  it("detection is not fooled by a user block that contains metadata-like bytes", () => {
    const h = heap();
    // Fill blocks with copies of their own and their neighbours' header words, then free fake interior pointers.
    const ps = Array.from({ length: 8 }, () => h.malloc(256));
    const u8 = h.memory.u8;
    for (const p of ps) {
      // copy the 32 bytes before the block (its header) to many places inside it
      const hdr = u8.slice(p - 32, p);
      for (let off = 0; off + 32 <= 256; off += 32) u8.set(hdr, p + off);
    }
    for (const p of ps) {
      for (let off = 16; off < 256; off += 16) {
        expect(() => h.free(p + off), `free(p+${off})`).toThrow(InvalidPointerError);
      }
    }
    h.check();
    for (const p of ps) h.free(p);
    h.check();
  });

  it("freed neighbours coalesce at once (no two adjacent free chunks)", () => {
    const h = heap();
    const a = h.malloc(100), b = h.malloc(100), c = h.malloc(100), guard = h.malloc(100);
    h.free(a);
    h.free(c);
    const two = h.mallinfo().ordblks;
    h.free(b);
    expect(h.mallinfo().ordblks).toBe(two - 1);
    h.check();
    // the merged run serves a request as big as all three
    const big = h.malloc(300);
    expect(big).toBe(a);
    h.free(big);
    h.free(guard);
  });

  it("top free space over the trim threshold goes back with a negative sbrk, keeping topPad", () => {
    const h = new Heap({
      memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * MiB }),
      mmapThreshold: 16 * MiB,
    });
    const p = h.malloc(1 * MiB);
    const grown = h.mallocFootprint();
    h.free(p);
    const after = h.mallocFootprint();
    expect(after).toBeLessThan(grown);
    expect(h.mallinfo().keepcost).toBeLessThanOrEqual(128 * KiB + 4096);
    h.check();
  });

  it("mallocTrim(pad) trims on demand and returns 1 if it released anything", () => {
    const h = new Heap({
      memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * MiB }),
      mmapThreshold: 16 * MiB,
      trimThreshold: 8 * MiB,
    });
    const p = h.malloc(1 * MiB);
    h.free(p);
    const before = h.mallocFootprint();
    expect(before).toBeGreaterThan(1 * MiB);
    expect(h.mallocTrim(0)).toBe(1);
    expect(h.mallocFootprint()).toBeLessThan(before);
    expect(h.mallocTrim(0)).toBe(0);
    h.check();
  });
});

describe("calloc", () => {
  it("nmemb * size overflow → 0, ENOMEM", () => {
    const h = heap();
    for (const [n, s] of [[2 ** 32, 2 ** 32], [2 ** 53, 2], [2 ** 30, 2 ** 30], [Number.MAX_SAFE_INTEGER, 3]] as const) {
      h.errno = 0;
      expect(h.calloc(n, s)).toBe(0);
      expect(h.errno).toBe(Errno.ENOMEM);
    }
    h.check();
  });

  it("the block reads as zero even when it reuses freed memory", () => {
    const h = heap();
    const ps = Array.from({ length: 10 }, (_, i) => h.malloc(64 + i * 48));
    for (const [i, p] of ps.entries()) h.memory.u8.fill(0xff, p, p + 64 + i * 48);
    const guard = h.malloc(16);
    for (const p of ps) h.free(p);
    for (let i = 0; i < 10; i++) {
      const n = 64 + i * 48;
      const q = h.calloc(1, n);
      expect([...h.memory.u8.subarray(q, q + h.mallocUsableSize(q))].every((b) => b === 0)).toBe(true);
    }
    h.free(guard);
  });

  it("calloc(0, n) and calloc(n, 0) return a unique pointer", () => {
    const h = heap();
    // a zero factor makes any count 0, also a size_t past 2^53 (exact in a double)
    for (const n of [2 ** 53, 2 ** 60, 2 ** 64 - 2 ** 11]) {
      h.errno = 0;
      const x = h.calloc(n, 0), y = h.calloc(0, n);
      expect(x, `calloc(${n}, 0)`).not.toBe(0);
      expect(y, `calloc(0, ${n})`).not.toBe(0);
      expect(h.errno).toBe(0);
      h.free(x);
      h.free(y);
    }
    h.errno = 0;
    expect(h.calloc(2 ** 64, 0)).toBe(0); // not a size_t
    expect(h.errno).toBe(Errno.ENOMEM);
    const a = h.calloc(0, 8), b = h.calloc(8, 0), c = h.calloc(0, 0);
    expect(a).not.toBe(0);
    expect(b).not.toBe(0);
    expect(c).not.toBe(0);
    expect(new Set([a, b, c]).size).toBe(3);
    h.free(a); h.free(b); h.free(c);
    h.check();
  });
});

describe("realloc / reallocarray", () => {
  it("realloc(0, n) is malloc(n) (also for n = 0)", () => {
    const h = heap();
    const a = h.realloc(0, 100);
    expect(a).not.toBe(0);
    expect(h.mallocUsableSize(a)).toBeGreaterThanOrEqual(100);
    const b = h.realloc(0, 0);
    expect(b).not.toBe(0);
    expect(b).not.toBe(a);
    h.free(a);
    h.free(b);
    h.check();
  });

  it("realloc(p, 0) frees p and returns 0, errno untouched", () => {
    const h = heap();
    const p = h.malloc(100);
    h.errno = 77;
    expect(h.realloc(p, 0)).toBe(0);
    expect(h.errno).toBe(77);
    expect(() => h.free(p)).toThrow(DoubleFreeError);
    h.check();
  });

  it("the first min(old, new) bytes survive a move", () => {
    const h = heap();
    const p = h.malloc(100);
    for (let i = 0; i < 100; i++) h.memory.u8[p + i] = i;
    const blocker = h.malloc(16);
    const q = h.realloc(p, 5000);
    expect(q).not.toBe(p);
    for (let i = 0; i < 100; i++) expect(h.memory.u8[q + i]).toBe(i);
    const r = h.realloc(q, 50);
    for (let i = 0; i < 50; i++) expect(h.memory.u8[r + i]).toBe(i);
    h.free(r);
    h.free(blocker);
    h.check();
  });

  it("growing within mallocUsableSize(p) returns p unchanged", () => {
    const h = heap();
    const p = h.malloc(20);
    h.malloc(16);
    expect(h.realloc(p, h.mallocUsableSize(p))).toBe(p);
  });

  it("shrinking and growing into a free neighbour or the top happen in place", () => {
    const h = heap();
    const p = h.malloc(1000);
    const q = h.malloc(1000);
    const guard = h.malloc(16);
    expect(h.realloc(p, 100)).toBe(p);  // shrink
    h.free(q);
    expect(h.realloc(p, 1800)).toBe(p); // into the free neighbour
    h.free(guard);
    expect(h.realloc(p, 20000)).toBe(p); // into the top
    h.check();
  });

  it("failure returns 0 with ENOMEM and leaves the old block intact and owned", () => {
    const h = heap();
    const p = h.malloc(64);
    h.memory.u8.fill(0x5a, p, p + 64);
    h.errno = 0;
    expect(h.realloc(p, 2 ** 50)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    expect([...h.memory.u8.subarray(p, p + 64)].every((b) => b === 0x5a)).toBe(true);
    h.free(p);
    h.check();
  });

  it("reallocarray checks nmemb * size for overflow (→ 0, ENOMEM, p intact)", () => {
    const h = heap();
    const p = h.malloc(64);
    h.memory.u8.fill(0x33, p, p + 64);
    h.errno = 0;
    expect(h.reallocarray(p, 2 ** 32, 2 ** 32)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    expect([...h.memory.u8.subarray(p, p + 64)].every((b) => b === 0x33)).toBe(true);
    // a zero factor is no overflow, also beside a count past 2^53: realloc(p, 0), which frees
    const z = h.malloc(10);
    h.errno = 0;
    expect(h.reallocarray(z, 2 ** 60, 0)).toBe(0);
    expect(h.errno).toBe(0);
    expect(() => h.free(z)).toThrow(DoubleFreeError);
    const m0 = h.reallocarray(0, 0, 2 ** 60); // malloc(0)
    expect(m0).not.toBe(0);
    h.free(m0);
    const q = h.reallocarray(p, 10, 20);
    expect(q).not.toBe(0);
    expect(h.mallocUsableSize(q)).toBeGreaterThanOrEqual(200);
    for (let i = 0; i < 64; i++) expect(h.memory.u8[q + i]).toBe(0x33);
    h.free(q);
    h.check();
  });
});

describe("aligned allocation", () => {
  // glibc 2.36 at the edges of size_t, recorded by scripts/glibc/limits/record.sh: a power of
  // two up to 2^63 is a valid alignment (ENOMEM when it cannot be met), anything past it EINVAL.
  const limits = readFileSync(new URL("../fixtures/glibc/aligned-limits.txt", import.meta.url), "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [call, a, n, , result, err] = line.split(" ");
      const alignment = a === "-1" ? -1 : a!.startsWith("2^") ? 2 ** Number(a!.slice(2)) : Number(a);
      return { line, call: call!, a: a!, alignment, size: Number(n), result: result!, err: err! };
    })
    // 2^63 + 1 is no JavaScript number; aligned_alloc of a non-power of two is glibc's leniency
    // that the spec does not keep (EINVAL); a block aligned past 64 bytes is more than these
    // heaps of at most 2 GiB give, checked below.
    .filter((r) => r.a !== "9223372036854775809" && !(r.call === "aligned_alloc" && r.a === "24") && !(r.result === "ptr" && r.alignment > 64));
  const targets = {
    "a heap": () => heap(),
    "a concurrent heap": () => new Heap({ concurrent: true }),
    "process.heap": () => Process.spawn({ memory: new PhysicalMemory({ frames: 1024 }) }).heap,
  };
  it.each(Object.keys(targets))("posix_memalign, memalign and aligned_alloc answer as glibc 2.36 at the edges of size_t (%s)", (t) => {
    const h = targets[t as keyof typeof targets]();
    expect(limits.length).toBeGreaterThan(40);
    for (const r of limits) {
      h.errno = 0;
      let ptr: number;
      let err: number;
      if (r.call === "posix_memalign") ({ ptr, err } = h.posixMemalign(r.alignment, r.size));
      else {
        ptr = r.call === "memalign" ? h.memalign(r.alignment, r.size) : h.alignedAlloc(r.alignment, r.size);
        err = ptr === 0 ? h.errno : 0;
      }
      const got = `${ptr === 0 ? "0" : "ptr"} ${err === 0 ? "0" : errnoName(err)}`;
      expect(got, r.line).toBe(`${r.result} ${r.err}`);
      if (ptr !== 0) h.free(ptr);
    }
    // glibc gives 2^30 and 2^31 on a 64-bit machine; a heap of at most 2 GiB cannot: ENOMEM.
    expect(h.posixMemalign(2 ** 31, 10).err).toBe(Errno.ENOMEM);
    expect(h.memalign(2 ** 31, 10)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    h.check();
  });

  it("posixMemalign vectors: (0x300,10)→EINVAL, (0,10)→EINVAL, (4,10)→EINVAL, (0x100,10)→ok, (8,2^53)→ENOMEM", () => {
    const h = heap();
    h.errno = 99;
    const before = h.mallinfo();
    expect(h.posixMemalign(0x300, 10).err).toBe(Errno.EINVAL);
    expect(h.posixMemalign(0, 10).err).toBe(Errno.EINVAL);
    expect(h.posixMemalign(4, 10).err).toBe(Errno.EINVAL);
    expect(h.posixMemalign(8, 2 ** 53).err).toBe(Errno.ENOMEM);
    expect(h.mallinfo()).toEqual(before); // on failure nothing is allocated
    const ok = h.posixMemalign(0x100, 10);
    expect(ok.err).toBe(0);
    expect(ok.ptr % 256).toBe(0);
    expect(ok.ptr).not.toBe(0);
    expect(h.errno).toBe(99); // never touches errno
    const z = h.posixMemalign(64, 0);
    expect(z.err).toBe(0);
    expect(z.ptr % 64).toBe(0);
    h.free(ok.ptr);
    h.free(z.ptr);
    h.check();
  });

  it("alignedAlloc: a zero or non-power-of-two alignment → 0 with EINVAL; any size accepted", () => {
    const h = heap();
    for (const a of [0, 3, 24, 0x300]) {
      h.errno = 0;
      expect(h.alignedAlloc(a, 64)).toBe(0);
      expect(h.errno).toBe(Errno.EINVAL);
    }
    for (const n of [0, 1, 33, 100, 1000]) {
      const p = h.alignedAlloc(64, n);
      expect(p).not.toBe(0);
      expect(p % 64).toBe(0);
      h.free(p);
    }
    // size not a multiple of the alignment is accepted (C17)
    const p = h.alignedAlloc(256, 10);
    expect(p % 256).toBe(0);
    h.free(p);
    h.check();
  });

  it("memalign: alignments <= 16 behave as malloc; a non-power-of-two is rounded up", () => {
    const h = heap();
    for (const a of [0, 1, 2, 8, 16]) {
      const p = h.memalign(a, 40);
      expect(p).not.toBe(0);
      expect(p % 16).toBe(0);
      h.free(p);
    }
    for (const [a, want] of [[24, 32], [48, 64], [100, 128], [0x300, 0x400]]) {
      let allAligned = true;
      const ps = [];
      for (let i = 0; i < 8; i++) {
        const p = h.memalign(a, 40);
        expect(p).not.toBe(0);
        if (p % want !== 0) allAligned = false;
        ps.push(p);
      }
      expect(allAligned, `memalign(${a})`).toBe(true);
      for (const p of ps) h.free(p);
    }
    h.check();
  });

  it("every aligned block can be freed and realloc'ed; the alignment padding returns to the free lists", () => {
    const h = heap();
    const ps = [];
    for (let i = 0; i < 20; i++) {
      const p = h.memalign(4096, 100);
      expect(p % 4096).toBe(0);
      ps.push(p);
    }
    // the padding between the aligned blocks is free space that later requests use
    const arena = h.mallinfo().arena;
    const small = Array.from({ length: 19 }, () => h.malloc(2000));
    expect(h.mallinfo().arena).toBe(arena);
    for (const s of small) expect(ps.some((p) => s < p && s > p - 4096)).toBe(true);
    h.check();
    const q = h.realloc(ps[0]!, 9000);
    expect(q).not.toBe(0);
    h.free(q);
    for (const p of [...ps.slice(1), ...small]) h.free(p);
    h.check();
    expect(h.mallinfo().ordblks).toBeLessThanOrEqual(2);
  });
});

describe("introspection", () => {
  it("mallinfo: glibc mallinfo2 fields, uordblks + fordblks == arena", () => {
    const h = heap();
    const ps = [];
    for (let i = 0; i < 50; i++) ps.push(h.malloc((i * 37) % 500 + 1));
    for (let i = 0; i < 50; i += 3) h.free(ps[i]!);
    const m = h.mallinfo();
    for (const k of ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"]) {
      expect(typeof (m as unknown as Record<string, unknown>)[k], k).toBe("number");
    }
    expect(m.uordblks + m.fordblks).toBe(m.arena);
    expect(m.ordblks).toBeGreaterThan(0);
    expect(m.keepcost).toBeLessThanOrEqual(m.fordblks);
    expect(m.hblks).toBe(0);
  });

  it("mallocFootprint / mallocMaxFootprint: obtained bytes and their high-water mark", () => {
    const h = new Heap({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * MiB }), mmapThreshold: 16 * MiB });
    const p = h.malloc(2 * MiB);
    const peak = h.mallocFootprint();
    expect(peak).toBeGreaterThanOrEqual(2 * MiB);
    h.free(p);
    expect(h.mallocFootprint()).toBeLessThan(peak);
    expect(h.mallocMaxFootprint()).toBeGreaterThanOrEqual(peak);
  });

  it("check() throws HeapCorruptionError when a header is broken", () => {
    const h = heap();
    const a = h.malloc(64);
    h.malloc(64);
    h.check();
    // smash the size word of a's chunk
    h.memory.dv.setUint32(a - 8, 0x7777, true);
    h.memory.dv.setUint32(a - 4, 0x7777, true);
    expect(() => h.check()).toThrow(HeapCorruptionError);
  });

  it("an overflow that smashes the next header is detected by free/realloc/check, never silently", () => {
    for (const op of ["free", "realloc", "check"] as const) {
      const h = heap();
      const a = h.malloc(24);
      const b = h.malloc(24);
      h.malloc(24);
      const usable = h.mallocUsableSize(a);
      // write past the end of a: over b's header
      h.memory.u8.fill(0x41, a, a + usable + 16);
      expect(() => {
        if (op === "free") { h.free(b); h.free(a); }
        else if (op === "realloc") { h.realloc(b, 4000); h.realloc(a, 4000); }
        else h.check();
      }, op).toThrow(HeapCorruptionError);
    }
  });
});

describe("program break (Brk)", () => {
  it("sbrk(0) returns the current break; sbrk(n) returns the previous break and moves it by exactly n", () => {
    const mem = new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 16 * MiB });
    const b = new Brk(mem);
    const start = b.sbrk(0);
    expect(start).toBe(b.start);
    expect(b.current).toBe(start);
    expect(b.sbrk(13)).toBe(start);
    expect(b.sbrk(0)).toBe(start + 13);
    expect(b.current).toBe(start + 13);
    expect(b.sbrk(-5)).toBe(start + 13);
    expect(b.sbrk(0)).toBe(start + 8);
    expect(b.brk(start + 100)).toBe(0);
    expect(b.current).toBe(start + 100);
  });

  it("below the start or over the limit: -1, ENOMEM, break unchanged", () => {
    const mem = new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 16 * MiB });
    const b = new Brk(mem, { start: 4096, limit: 65536 });
    b.sbrk(100);
    const cur = b.current;
    expect(b.sbrk(-200)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(cur);
    b.errno = 0;
    expect(b.brk(4095)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    b.errno = 0;
    expect(b.sbrk(65536)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.brk(65537)).toBe(-1);
    expect(b.current).toBe(cur);
    expect(b.brk(65536)).toBe(0);
  });

  it("on a WebAssembly.Memory growth is in 64 KiB pages and never shrinks, but the break moves both ways", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    const mem = new LinearMemory({ wasm });
    const b = new Brk(mem);
    const start = b.current;
    expect(b.sbrk(200 * KiB)).toBe(start);
    expect(wasm.buffer.byteLength % (64 * KiB)).toBe(0);
    expect(wasm.buffer.byteLength).toBeGreaterThanOrEqual(start + 200 * KiB);
    const size = wasm.buffer.byteLength;
    expect(b.sbrk(-150 * KiB)).toBe(start + 200 * KiB);
    expect(b.current).toBe(start + 50 * KiB);
    expect(wasm.buffer.byteLength).toBe(size);
  });

  it("LTP: 33 steps of +(2·page−1), 0, −(2·page−1) with sbrk(0) equal to the requested break", () => {
    for (const target of ["linear", "process"] as const) {
      const proc = target === "process" ? Process.spawn({ memory: new PhysicalMemory({ frames: 512 }) }) : undefined;
      const b = proc ? undefined : new Brk(new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * MiB }));
      const sbrk = (n: number) => (proc ? proc.sbrk(n) : b!.sbrk(n));
      const page = 4096;
      let expected = sbrk(0);
      for (let i = 0; i < 33; i++) {
        for (const inc of [2 * page - 1, 0, -(2 * page - 1)]) {
          expect(sbrk(inc)).toBe(expected);
          expected += inc;
          expect(sbrk(0)).toBe(expected);
        }
      }
    }
  });

  it("LTP: grow by 16 MiB steps until failure, then -1 with ENOMEM", () => {
    const b = new Brk(new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 100 * MiB }));
    let steps = 0;
    for (;;) {
      const prev = b.current;
      const r = b.sbrk(16 * MiB);
      if (r === -1) {
        expect(b.errno).toBe(Errno.ENOMEM);
        expect(b.current).toBe(prev);
        break;
      }
      expect(r).toBe(prev);
      steps++;
      expect(steps).toBeLessThan(100);
    }
    expect(steps).toBeGreaterThan(0);
  });
});

describe("state and sharing", () => {
  it("a second Heap attached to the same buffer sees the same heap; a copy of the bytes is a snapshot", () => {
    const mem = new LinearMemory({ initialBytes: 256 * KiB, maxBytes: 256 * KiB, shared: false });
    const h = new Heap({ memory: mem });
    const p = h.malloc(100);
    h.memory.u8.fill(7, p, p + 100);
    const q = h.malloc(200);
    const snapshot = mem.u8.slice().buffer;
    const h2 = Heap.attach(mem);
    expect(h2.mallocUsableSize(p)).toBe(h.mallocUsableSize(p));
    h2.free(q);
    expect(() => h.free(q)).toThrow(DoubleFreeError);
    expect(h.mallinfo()).toEqual(h2.mallinfo());
    const snap = Heap.attach(snapshot);
    expect(() => snap.free(q)).not.toThrow(); // the snapshot still owns q
    expect(snap.memory.u8[p + 50]).toBe(7);
    snap.check();
  });
});

describe("data models", () => {
  it("64-bit default: 16-byte alignment, 8-byte size fields, 32-byte minimum chunk", () => {
    const h = heap();
    const a = h.malloc(0), b = h.malloc(0), c = h.malloc(24), d = h.malloc(25);
    expect(b - a).toBe(32);
    expect(h.mallocUsableSize(a)).toBe(24);
    expect(d - c).toBe(32);
    expect(h.mallocUsableSize(d)).toBe(40);
  });

  it("32-bit option: 8-byte alignment, 4-byte size fields, 16-byte minimum chunk", () => {
    const h = new Heap({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * MiB }), dataModel: "ilp32" });
    const ps = [0, 1, 12, 13, 20, 100].map((n) => h.malloc(n));
    for (const p of ps) expect(p % 8).toBe(0);
    expect(ps[1]! - ps[0]!).toBe(16);
    expect(h.mallocUsableSize(ps[0]!)).toBe(12);
    expect(h.mallocUsableSize(ps[3]!)).toBe(20);
    expect(ps.some((p) => p % 16 !== 0)).toBe(true); // not padded to 16
    for (const p of ps) h.free(p);
    h.check();
  });
});

describe("the heap of a Process", () => {
  it("mallinfo counts mapped blocks in hblks/hblkhd, apart from arena; the footprint counts both", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }) });
    const h = proc.heap;
    const small = h.malloc(1000);
    const big = h.malloc(300 * KiB);
    const m = h.mallinfo();
    expect(m.hblks).toBe(1);
    expect(m.hblkhd).toBeGreaterThanOrEqual(300 * KiB);
    expect(m.hblkhd % 4096).toBe(0);
    expect(m.uordblks + m.fordblks).toBe(m.arena);
    expect(m.arena).toBeLessThan(300 * KiB);
    expect(h.mallocFootprint()).toBe(m.arena + m.hblkhd);
    expect(h.mallocUsableSize(big)).toBeGreaterThanOrEqual(300 * KiB);
    h.free(big);
    h.free(small);
    h.check();
  });

  it("a big free at the top gives memory back with a negative sbrk, keeping topPad", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }), heap: { topPad: 64 * KiB, trimThreshold: 128 * KiB } });
    const h = proc.heap;
    const a = h.malloc(100 * KiB), b = h.malloc(100 * KiB), c = h.malloc(100 * KiB);
    const grown = proc.sbrk(0);
    h.free(c);
    h.free(b);
    h.free(a);
    const after = proc.sbrk(0);
    expect(after).toBeLessThan(grown);
    const keep = h.mallinfo().keepcost;
    expect(keep).toBeGreaterThanOrEqual(64 * KiB);
    expect(keep).toBeLessThan(64 * KiB + 2 * 4096);
    // the pages above the new break are gone
    expect(() => proc.as.read8(Math.ceil(after / 4096) * 4096)).toThrow(SegmentationFault);
  });

  it("realloc of a mapped block that cannot grow: 0, ENOMEM, the block intact", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }) });
    const h = proc.heap;
    const p = h.malloc(200 * KiB);
    proc.as.writeBytes(p, new Uint8Array(100).fill(9));
    h.errno = 0;
    expect(h.realloc(p, 2 ** 50)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    expect([...proc.as.readBytes(p, 100)].every((x) => x === 9)).toBe(true);
    expect(h.mallocUsableSize(p)).toBeGreaterThanOrEqual(200 * KiB);
    h.errno = 0;
    expect(h.realloc(p, 0)).toBe(0); // frees, errno untouched
    expect(h.errno).toBe(0);
    expect(h.mallinfo().hblks).toBe(0);
  });
});

describe("mallopt, as glibc 2.36 answers it (test/fixtures/glibc/out/mallopt-params.out)", () => {
  // "o PARAM VALUE -> RESULT" lines of the real glibc's replay; the hardened heap refuses
  // negative values (documented), so those are left out.
  const known = new Set([M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX]);
  const rows = readFileSync(new URL("../fixtures/glibc/out/mallopt-params.out", import.meta.url), "utf8")
    .split("\n")
    .map((l) => /^\d+ o (-?\d+) (-?\d+) -> (\d)/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ param: Number(m[1]), value: Number(m[2]), result: Number(m[3]) }))
    .filter((r) => known.has(r.param) && r.value >= 0);
  it("every non-negative setting glibc accepts is accepted", () => {
    expect(rows.length).toBeGreaterThanOrEqual(8);
    const h = heap();
    for (const r of rows) expect(h.mallopt(r.param, r.value), `mallopt(${r.param}, ${r.value})`).toBe(r.result);
  });
});
