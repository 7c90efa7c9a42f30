// spec/heap.md's rules for the default allocator, checked on a Process's heap (blocks in the
// process's pages: "A Process has a heap: Heap whose memory is the process's virtual address
// space"). test/spec/heap.spec.test.ts checks them on new Heap(); this is the same contract
// through the paged engine.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Errno, HeapCorruptionError, InvalidPointerError, PhysicalMemory, Process } from "../../src/index.js";

const KiB = 1024;

function proc() {
  const p = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }) });
  return { p, h: p.heap, as: p.as };
}
const bytes = (as: Process["as"], a: number, n: number) => [...as.readBytes(a, n)];

describe("malloc and free on a process heap", () => {
  it("'malloc(0) returns a unique, freeable, non-NULL pointer'; 'Every result is 16-byte aligned; mallocUsableSize(p) >= size'", () => {
    const { h } = proc();
    const a = h.malloc(0), b = h.malloc(0);
    expect([a !== 0, b !== 0, a !== b]).toEqual([true, true, true]);
    for (const n of [0, 1, 15, 16, 17, 100, 4095, 70000, 200000]) {
      const q = h.malloc(n);
      expect(q % 16).toBe(0);
      expect(h.mallocUsableSize(q)).toBeGreaterThanOrEqual(n);
    }
    h.free(a);
    h.free(b);
    h.check();
  });

  it("'Failure ... returns 0 and sets errno = ENOMEM; nothing already allocated is disturbed'", () => {
    const { h, as } = proc();
    const q = h.malloc(100);
    as.writeBytes(q, new Uint8Array(100).fill(0xab));
    for (const n of [2 ** 53, 2 ** 47, Number.MAX_SAFE_INTEGER]) {
      h.errno = 0;
      expect(h.malloc(n)).toBe(0);
      expect(h.errno).toBe(Errno.ENOMEM);
    }
    expect(bytes(as, q, 100).every((x) => x === 0xab)).toBe(true);
    h.check();
  });

  it("'free(0) does nothing. free never changes errno'", () => {
    const { h } = proc();
    const before = h.mallinfo();
    h.errno = 1234;
    h.free(0);
    h.free(h.malloc(40));
    expect(h.errno).toBe(1234);
    expect(h.mallinfo()).toEqual(before);
  });

  it("double free, a pointer never returned, an interior or misaligned pointer: typed errors in glibc's words, before any state changes", () => {
    const { h } = proc();
    const a = h.malloc(64), b = h.malloc(64);
    h.free(a);
    const snap = h.mallinfo();
    expect(() => h.free(a)).toThrow(DoubleFreeError);
    expect(() => h.free(a)).toThrow(/free\(\): double free detected/);
    for (const bad of [b + 1, b + 8, b + 16, b - 16, 0x1000]) {
      expect(() => h.free(bad), `free(${bad})`).toThrow(InvalidPointerError);
      expect(() => h.free(bad)).toThrow(/free\(\): invalid pointer/);
    }
    expect(h.mallinfo()).toEqual(snap);
    h.check();
    h.free(b);
    h.check();
  });

  it("'Freed neighbours coalesce at once (no two adjacent free chunks)'", () => {
    const { h } = proc();
    const ps = Array.from({ length: 6 }, () => h.malloc(200));
    const guard = h.malloc(200);
    const before = h.mallinfo().ordblks; // the top counts as one, as in glibc
    h.free(ps[0]!);
    h.free(ps[2]!);
    h.free(ps[4]!);
    expect(h.mallinfo().ordblks).toBe(before + 3);
    h.free(ps[1]!);
    h.free(ps[3]!);
    h.free(ps[5]!);
    expect(h.mallinfo().ordblks).toBe(before + 1); // one chunk of six
    h.check();
    h.free(guard);
  });
});

describe("calloc and realloc on a process heap", () => {
  it("calloc: overflow → 0, ENOMEM; the block reads as zero even when it reuses freed memory; calloc(0, n) and calloc(n, 0) are unique pointers", () => {
    const { h, as } = proc();
    h.errno = 0;
    expect(h.calloc(2 ** 32, 2 ** 32)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    const a = h.malloc(512);
    as.writeBytes(a, new Uint8Array(512).fill(0xcd));
    h.free(a);
    const z = h.calloc(16, 32);
    expect(bytes(as, z, 512).every((x) => x === 0)).toBe(true);
    const u = h.calloc(0, 8), v = h.calloc(8, 0);
    expect([u !== 0, v !== 0, u !== v]).toEqual([true, true, true]);
    h.check();
  });

  it("realloc: (0, n) is malloc; (p, 0) frees and returns 0 with errno untouched; the first bytes survive a move; growth within the usable size keeps p", () => {
    const { h, as } = proc();
    const a = h.realloc(0, 0);
    expect(a).not.toBe(0);
    h.errno = 77;
    expect(h.realloc(a, 0)).toBe(0);
    expect(h.errno).toBe(77);
    expect(() => h.free(a)).toThrow(DoubleFreeError);
    const p = h.malloc(100);
    const data = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    as.writeBytes(p, data);
    expect(h.realloc(p, h.mallocUsableSize(p))).toBe(p);
    const blocker = h.malloc(100);
    const q = h.realloc(p, 5000);
    expect(bytes(as, q, 100)).toEqual([...data]);
    h.free(blocker);
    h.free(q);
    h.check();
  });

  it("realloc and reallocarray failures: 0 with ENOMEM, the old block intact and owned", () => {
    const { h, as } = proc();
    const p = h.malloc(64);
    as.writeBytes(p, new Uint8Array(64).fill(9));
    h.errno = 0;
    expect(h.realloc(p, 2 ** 53)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    h.errno = 0;
    expect(h.reallocarray(p, 2 ** 32, 2 ** 32)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    expect(bytes(as, p, 64).every((x) => x === 9)).toBe(true);
    h.free(p);
    h.check();
  });
});

describe("aligned allocation on a process heap", () => {
  it("posixMemalign vectors: (0x300,10)→EINVAL, (0,10)→EINVAL, (4,10)→EINVAL, (0x100,10)→ok with ptr % 256 = 0, (8, 2^53)→ENOMEM; n = 0 succeeds; errno untouched", () => {
    const { h } = proc();
    h.errno = 55;
    expect(h.posixMemalign(0x300, 10)).toEqual({ err: Errno.EINVAL, ptr: 0 });
    expect(h.posixMemalign(0, 10)).toEqual({ err: Errno.EINVAL, ptr: 0 });
    expect(h.posixMemalign(4, 10)).toEqual({ err: Errno.EINVAL, ptr: 0 });
    const ok = h.posixMemalign(0x100, 10);
    expect(ok.err).toBe(0);
    expect(ok.ptr % 256).toBe(0);
    expect(h.posixMemalign(8, 2 ** 53)).toEqual({ err: Errno.ENOMEM, ptr: 0 });
    expect(h.posixMemalign(64, 0).err).toBe(0);
    expect(h.errno).toBe(55);
    h.free(ok.ptr);
    h.check();
  });

  it("alignedAlloc: zero or not a power of two → 0 with EINVAL; memalign rounds a non-power-of-two up; aligned blocks free and realloc like others", () => {
    const { h } = proc();
    for (const a of [0, 24, 100]) {
      h.errno = 0;
      expect(h.alignedAlloc(a, 10)).toBe(0);
      expect(h.errno).toBe(Errno.EINVAL);
    }
    const m = h.memalign(48, 10);
    expect(m % 64).toBe(0);
    const big = h.alignedAlloc(4096, 3);
    expect(big % 4096).toBe(0);
    const r = h.realloc(big, 10000);
    expect(r).not.toBe(0);
    h.free(m);
    h.free(r);
    h.check();
  });
});

describe("introspection and trimming on a process heap", () => {
  it("'uordblks + fordblks == arena'; mmapped blocks in hblks / hblkhd", () => {
    const { h } = proc();
    const ps = [h.malloc(100), h.malloc(3000), h.malloc(200 * KiB)];
    h.free(ps[0]!);
    const m = h.mallinfo();
    expect(m.uordblks + m.fordblks).toBe(m.arena);
    expect(m.hblks).toBe(1);
    expect(m.hblkhd).toBeGreaterThanOrEqual(200 * KiB);
  });

  it("'When the free space at the top of the heap exceeds the trim threshold (default 128 KiB), the heap gives it back with a negative sbrk'", () => {
    const { p, h } = proc();
    const small = h.malloc(100);
    const blocks = Array.from({ length: 40 }, () => h.malloc(8 * KiB));
    const high = p.sbrk(0);
    for (const b of blocks) h.free(b);
    expect(p.sbrk(0)).toBeLessThan(high);
    expect(h.mallinfo().keepcost).toBeLessThanOrEqual(128 * KiB + 4 * KiB);
    h.free(small);
    h.check();
  });
});

describe("integrity on a process heap", () => {
  it("'A user write past the end of a block that smashes the next header is detected at the latest by the next free/realloc/check touching it'", () => {
    for (const op of ["free", "realloc", "check"] as const) {
      const { h, as } = proc();
      const a = h.malloc(24);
      const b = h.malloc(24);
      h.malloc(24);
      as.writeBytes(a, new Uint8Array(h.mallocUsableSize(a) + 16).fill(0x41)); // over b's header
      expect(() => {
        if (op === "free") { h.free(b); h.free(a); }
        else if (op === "realloc") { h.realloc(b, 4000); h.realloc(a, 4000); }
        else h.check();
      }, op).toThrow(HeapCorruptionError);
    }
  });
});
