// heap.md, its opening paragraph: the data models, each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { Heap, LinearMemory } from "../../src/index.js";

const sizes = [0, 1, 7, 8, 12, 13, 15, 16, 20, 24, 25, 31, 32, 40, 41, 100, 1000, 5000];

describe("heap.md: 'Defaults model x86-64 glibc: 16-byte alignment of every returned pointer, size fields of 8 bytes, a minimum chunk of 32 bytes'", () => {
  it("the 8 bytes before each block hold its chunk's size (flags in the low bits, the high half zero): the distance to the next chunk, at least 32", () => {
    const h = new Heap({ memory: new LinearMemory({ initialBytes: 64 * 1024, maxBytes: 1 << 20 }) });
    const ps = [...sizes.map((n) => h.malloc(n)), h.malloc(16)];
    const dv = h.memory.dv;
    for (let i = 0; i < sizes.length; i++) {
      const p = ps[i]!;
      expect(p % 16).toBe(0);
      const size = dv.getUint32(p - 8, true) & ~7;
      expect(dv.getUint32(p - 4, true), `high half of ${p}'s size field`).toBe(0);
      expect(size, `malloc(${sizes[i]})`).toBe(ps[i + 1]! - p);
      expect(size).toBeGreaterThanOrEqual(32);
      expect(size % 16).toBe(0);
      expect(size).toBe(Math.max(32, (sizes[i]! + 8 + 15) & ~15)); // glibc's request2size
    }
  });
});

describe("heap.md: 'A 32-bit data model (8-byte alignment, 4-byte fields, 16-byte minimum chunk) is an option'", () => {
  it("dataModel 'ilp32': the 4 bytes before each block hold its chunk's size, at least 16, a multiple of 8", () => {
    const h = new Heap({ memory: new LinearMemory({ initialBytes: 64 * 1024, maxBytes: 1 << 20 }), dataModel: "ilp32" });
    expect(h.alignment).toBe(8);
    const ps = [...sizes.map((n) => h.malloc(n)), h.malloc(8)];
    const dv = h.memory.dv;
    for (let i = 0; i < sizes.length; i++) {
      const p = ps[i]!;
      expect(p % 8).toBe(0);
      const size = dv.getUint32(p - 4, true) & ~7;
      expect(size, `malloc(${sizes[i]})`).toBe(ps[i + 1]! - p);
      expect(size).toBe(Math.max(16, (sizes[i]! + 4 + 7) & ~7));
    }
  });
});
