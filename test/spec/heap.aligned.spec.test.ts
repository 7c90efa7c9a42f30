// heap.md, "aligned allocation": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { AddressSpace, type Heap } from "../../src/index.js";
import { C_API_TARGETS, compareCApi } from "./helpers/cApi.js";

const targets = C_API_TARGETS;

describe("heap.md: aligned allocation, as glibc 2.36 answers (test/fixtures/glibc/c-api.txt, scripts/glibc/c-api/)", () => {
  it.each(Object.keys(targets))(
    "posixMemalign's vectors '(0x300,10)→EINVAL, (0,10)→EINVAL, (4,10)→EINVAL, (0x100,10)→ok with ptr % 256 = 0, (8, 2^53)→ENOMEM', 'n = 0 succeeds', 'It never touches errno': %s",
    (t) => {
      const { want, got } = compareCApi(targets[t as keyof typeof targets](), ["posix_memalign"]);
      expect(want).toContain("posix_memalign 768 10 -> EINVAL 0 -");
      expect(want).toContain("posix_memalign 256 10 -> 0 ptr -");
      expect(want).toContain("posix_memalign 8 2^53 -> ENOMEM 0 -");
      expect(got).toEqual(want);
    },
  );

  it.each(Object.keys(targets))(
    "'alignedAlloc(a, n): a zero or not a power of two → 0 with EINVAL; any size accepted' (the glibc model: glibc 2.36's aligned_alloc, its memalign); 'memalign: alignments ≤ 16 behave as malloc; a non-power-of-two is rounded up to the next power of two': %s",
    (t) => {
      const { want, got } = compareCApi(targets[t as keyof typeof targets](), ["aligned_alloc", "memalign"]);
      expect(want.length).toBe(24);
      expect(got).toEqual(want);
    },
  );
});

describe("heap.md: 'Every aligned block can be freed and realloc'ed like any other, and the alignment padding is not wasted for good (it returns to the free lists)'", () => {
  it.each(Object.keys(targets))("20 page-aligned blocks: the space between them serves later requests; each keeps its bytes through realloc: %s", (t) => {
    const h: Heap = targets[t as keyof typeof targets]();
    const m = h.memory;
    const write = (p: number, v: number) => (m instanceof AddressSpace ? m.writeBytes(p, new Uint8Array(100).fill(v)) : m.u8.fill(v, p, p + 100));
    const read = (p: number) => (m instanceof AddressSpace ? m.readBytes(p, 100) : m.u8.slice(p, p + 100));
    const ps = Array.from({ length: 20 }, (_, i) => {
      const p = h.memalign(4096, 100);
      expect(p % 4096).toBe(0);
      write(p, i + 1);
      return p;
    });
    const arena = h.mallinfo().arena;
    // the padding: blocks of 1,000 bytes fit in the gaps before the aligned blocks
    const small = Array.from({ length: 19 }, () => h.malloc(1000));
    expect(h.mallinfo().arena).toBe(arena);
    expect(small.filter((s) => ps.some((p) => s > p - 4096 && s < p)).length).toBeGreaterThanOrEqual(15);
    const moved = ps.map((p, i) => {
      const q = h.realloc(p, 10_000);
      expect(q).not.toBe(0);
      expect(read(q).every((b) => b === i + 1)).toBe(true);
      return q;
    });
    for (const p of [...moved, ...small]) h.free(p);
    h.check();
  });
});
