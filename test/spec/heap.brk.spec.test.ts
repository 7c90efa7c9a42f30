// heap.md, "program break (Brk)": the sentences test/spec/heap.spec.test.ts and
// test/spec/vm.brk.spec.test.ts leave out, checked on a Process, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { Errno, PhysicalMemory, Process, SegmentationFault } from "../../src/index.js";

const PAGE = 4096;

describe("heap.md: 'sbrk(n) returns the previous break and moves it by exactly n bytes (byte-granular; pages are mapped up to the next page boundary); negative increments shrink'", () => {
  it("in a process: the byte just under the page-rounded break is there, the page at it is not; shrinking unmaps whole pages", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 512 }) });
    const start = proc.sbrk(0);
    for (const n of [1, 4095, 4096, 4097, 3 * PAGE + 7]) {
      const before = proc.sbrk(0);
      expect(proc.sbrk(n)).toBe(before);
      const brk = proc.sbrk(0);
      expect(brk).toBe(before + n);
      const end = Math.ceil(brk / PAGE) * PAGE;
      proc.as.write8(end - 1, 1); // mapped to the next page boundary
      expect(() => proc.as.read8(end)).toThrow(SegmentationFault);
    }
    const grown = proc.sbrk(0);
    expect(proc.sbrk(-(grown - start - 10))).toBe(grown);
    expect(proc.sbrk(0)).toBe(start + 10);
    const end = Math.ceil((start + 10) / PAGE) * PAGE;
    expect(proc.as.read8(end - 1)).toBe(1); // the page holding the break keeps its bytes
    expect(() => proc.as.read8(end)).toThrow(SegmentationFault);
  });
});

describe("heap.md: 'LTP-style sequences must hold: ... grow by 16 MiB steps until failure, then -1 with ENOMEM'", () => {
  it("in a process with a 1 GiB data limit: 16 MiB steps succeed until the limit, then -1, ENOMEM, the break unchanged", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }), dataLimit: 1 << 30 });
    let steps = 0;
    for (;;) {
      const prev = proc.sbrk(0);
      const r = proc.sbrk(16 << 20);
      if (r === -1) {
        expect(proc.errno).toBe(Errno.ENOMEM);
        expect(proc.sbrk(0)).toBe(prev);
        break;
      }
      expect(r).toBe(prev);
      steps++;
      expect(steps).toBeLessThanOrEqual(64);
    }
    expect(steps).toBeGreaterThanOrEqual(60);
  });
});
