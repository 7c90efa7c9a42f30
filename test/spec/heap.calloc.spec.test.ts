// heap.md, "calloc": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { AddressSpace, type Heap } from "../../src/index.js";
import { C_API_TARGETS, compareCApi } from "./helpers/cApi.js";

const targets = C_API_TARGETS;

function fill(h: Heap, p: number, n: number, v: number): void {
  const m = h.memory;
  if (m instanceof AddressSpace) m.writeBytes(p, new Uint8Array(n).fill(v));
  else m.u8.fill(v, p, p + n);
}

function allZero(h: Heap, p: number, n: number): boolean {
  const m = h.memory;
  const bytes = m instanceof AddressSpace ? m.readBytes(p, n) : m.u8.subarray(p, p + n);
  return bytes.every((b) => b === 0);
}

describe("heap.md: calloc, as glibc 2.36 answers (test/fixtures/glibc/c-api.txt, scripts/glibc/c-api/)", () => {
  it.each(Object.keys(targets))("'nmemb * size overflow → 0, ENOMEM'; 'calloc(0, n), calloc(n, 0) return a unique pointer', errno untouched: %s", (t) => {
    const { want, got } = compareCApi(targets[t as keyof typeof targets](), ["calloc"]);
    expect(want.length).toBe(8);
    expect(got).toEqual(want);
  });
});

describe("heap.md: 'The block reads as zero even when it reuses freed memory'", () => {
  it.each(Object.keys(targets))("blocks of every kind freed dirty, then calloc'ed: small (a cache or fastbin), medium, large, the top, mapped: %s", (t) => {
    const h = targets[t as keyof typeof targets]();
    const sizes = [24, 100, 1000, 5000, 70_000, 300_000];
    const ps = sizes.map((n) => h.malloc(n));
    for (const [i, p] of ps.entries()) fill(h, p, h.mallocUsableSize(p), 0xa5 ^ i);
    for (const p of ps) h.free(p); // (the last ones join the top)
    for (const n of sizes) {
      const q = h.calloc(1, n);
      expect(q).not.toBe(0);
      expect(allZero(h, q, h.mallocUsableSize(q)), `calloc(1, ${n})`).toBe(true);
      fill(h, q, n, 0x5a);
      h.free(q);
    }
    // a block carved from a top that was written before
    const r = h.calloc(64, 64);
    expect(allZero(h, r, 4096)).toBe(true);
  });
});
