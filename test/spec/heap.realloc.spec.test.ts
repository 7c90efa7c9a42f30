// heap.md, "realloc / reallocarray": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Errno, Heap, InvalidPointerError, LinearMemory } from "../../src/index.js";
import { C_API_TARGETS, compareCApi } from "./helpers/cApi.js";

describe("heap.md: realloc / reallocarray, as glibc 2.36 answers (test/fixtures/glibc/c-api.txt, scripts/glibc/c-api/)", () => {
  it.each(Object.keys(C_API_TARGETS))(
    "'realloc(0, n) is malloc(n)', 'realloc(p, 0) frees p and returns 0, errno untouched', 'failure returns 0 with ENOMEM and leaves the old block intact', 'reallocarray checks nmemb * size for overflow': %s",
    (t) => {
      const { want, got } = compareCApi(C_API_TARGETS[t as keyof typeof C_API_TARGETS](), ["realloc"]);
      expect(want.length).toBeGreaterThanOrEqual(15);
      expect(got).toEqual(want);
    },
  );
});

describe("heap.md: 'reallocarray checks nmemb * size for overflow (→ 0, ENOMEM, p intact)' on a concurrent heap", () => {
  // A concurrent heap's small blocks live in its arenas' segments, which the main heap does
  // not know: the overflow path must ask the arena, not call the block an invalid pointer.
  it.each([true, false])("a block of an arena's segment, and of the main heap (arenas: %s)", (arenas) => {
    const h = new Heap({ concurrent: true, arenas });
    const small = h.malloc(64);
    const big = h.malloc(100_000);
    h.memory.u8.fill(0x33, small, small + 64);
    for (const [n, s] of [[2 ** 32, 2 ** 32], [2 ** 64 - 2 ** 11, 2], [2 ** 31, 2]] as const) {
      for (const p of [small, big]) {
        h.errno = 0;
        expect(h.reallocarray(p, n, s), `reallocarray(${p}, ${n}, ${s})`).toBe(0);
        expect(h.errno).toBe(Errno.ENOMEM);
      }
    }
    expect(h.mallocUsableSize(small)).toBeGreaterThanOrEqual(64);
    expect([...h.memory.u8.subarray(small, small + 64)].every((b) => b === 0x33)).toBe(true);
    // the pointer is still checked: an interior one, or one already freed, is refused
    expect(() => h.reallocarray(small + 16, 2 ** 32, 2 ** 32)).toThrow(InvalidPointerError);
    const q = h.reallocarray(small, 10, 20);
    expect(q).not.toBe(0);
    for (let i = 0; i < 64; i++) expect(h.memory.u8[q + i]).toBe(0x33);
    h.free(q);
    expect(() => h.reallocarray(q, 2 ** 32, 2 ** 32)).toThrow(DoubleFreeError);
    h.free(big);
    expect(() => h.reallocarray(big, 2 ** 32, 2 ** 32)).toThrow(DoubleFreeError);
    h.check();
  });
});

describe("heap.md (free): a bad pointer gets 'a typed error (DoubleFreeError, InvalidPointerError) with glibc's wording': realloc's says realloc()", () => {
  const heaps = {
    "64-bit": () => new Heap({ memory: new LinearMemory({ initialBytes: 1 << 20, maxBytes: 16 << 20 }) }),
    "concurrent, with arenas": () => new Heap({ concurrent: true }),
    "concurrent, one heap": () => new Heap({ concurrent: true, arenas: false }),
  };
  it.each(Object.keys(heaps))("interior, misaligned and freed pointers, for every size a realloc may take (0, small, past an arena's, past any heap's): %s", (t) => {
    const h = heaps[t as keyof typeof heaps]();
    const p = h.malloc(64), big = h.malloc(100_000);
    const freed = h.malloc(64);
    h.malloc(16);
    h.free(freed);
    for (const n of [0, 10, 200_000, 2 ** 32]) {
      for (const [bad, Err, wording] of [
        [p + 16, InvalidPointerError, /^realloc\(\): invalid pointer/],
        [p + 1, InvalidPointerError, /^realloc\(\): invalid pointer/],
        [big + 16, InvalidPointerError, /^realloc\(\): invalid pointer/],
        [freed, DoubleFreeError, /^realloc\(\): double free detected/],
      ] as const) {
        let err: unknown;
        try {
          h.realloc(bad, n);
        } catch (e) {
          err = e;
        }
        expect(err, `realloc(${bad}, ${n})`).toBeInstanceOf(Err);
        expect((err as Error).message, `realloc(${bad}, ${n})`).toMatch(wording);
      }
    }
    h.check();
  });
});
