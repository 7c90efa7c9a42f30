import { describe, expect, it } from "vitest";
import { ArgumentError, Brk, Errno, LinearMemory, VmError, WASM_PAGE } from "../../src/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** The page size of the LTP sequences (x86-64 Linux). */
const PAGE = 4096;

function fresh(initialBytes = 0, maxBytes = 4 * MiB): LinearMemory {
  return new LinearMemory({ initialBytes, maxBytes, shared: false });
}

describe("Brk: sbrk", () => {
  it("sbrk(0) returns the current break, which starts at start", () => {
    const b = new Brk(fresh(), { start: 1000 });
    expect(b.start).toBe(1000);
    expect(b.current).toBe(1000);
    expect(b.sbrk(0)).toBe(1000);
    expect(b.sbrk(0)).toBe(1000);
    expect(b.errno).toBe(0);
  });

  it("starts at 0 by default on a fresh LinearMemory", () => {
    const b = new Brk(fresh());
    expect(b.start).toBe(0);
    expect(b.sbrk(0)).toBe(0);
  });

  it("sbrk(n) returns the previous break and moves it by exactly n bytes (byte-granular)", () => {
    const b = new Brk(fresh(), { start: 4096 });
    expect(b.sbrk(1)).toBe(4096);
    expect(b.sbrk(0)).toBe(4097);
    expect(b.current).toBe(4097);
    expect(b.sbrk(3)).toBe(4097);
    expect(b.sbrk(0)).toBe(4100);
    expect(b.sbrk(12_345)).toBe(4100);
    expect(b.current).toBe(4100 + 12_345);
    expect(b.errno).toBe(0);
  });

  it("negative increments shrink the break, exactly", () => {
    const b = new Brk(fresh(), { start: 100 });
    expect(b.sbrk(1000)).toBe(100);
    expect(b.sbrk(-1)).toBe(1100);
    expect(b.sbrk(0)).toBe(1099);
    expect(b.sbrk(-999)).toBe(1099);
    expect(b.current).toBe(100);
  });

  it("may shrink to exactly start, but not below: -1, ENOMEM, break unchanged", () => {
    const b = new Brk(fresh(), { start: 256 });
    b.sbrk(10);
    expect(b.sbrk(-11)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.errno).toBe(12);
    expect(b.current).toBe(266);
    expect(b.sbrk(-10)).toBe(266);
    expect(b.current).toBe(256);
    b.errno = 0;
    expect(b.sbrk(-1)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.sbrk(0)).toBe(256);
    expect(b.sbrk(Number.MIN_SAFE_INTEGER)).toBe(-1);
    expect(b.current).toBe(256);
  });

  it("may grow to exactly limit, but not past it: -1, ENOMEM, break unchanged", () => {
    const b = new Brk(fresh(0, MiB), { start: 0, limit: 10_000 });
    expect(b.limit).toBe(10_000);
    expect(b.sbrk(10_001)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(0);
    b.errno = 0;
    expect(b.sbrk(9_999)).toBe(0);
    expect(b.sbrk(1)).toBe(9_999);
    expect(b.current).toBe(10_000);
    expect(b.sbrk(1)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(10_000);
    expect(b.sbrk(Number.MAX_SAFE_INTEGER)).toBe(-1);
    expect(b.current).toBe(10_000);
  });

  it("fails with ENOMEM when the memory refuses to grow (limit above the memory's maxBytes)", () => {
    const m = fresh(0, 64 * KiB);
    const b = new Brk(m, { limit: 1 * MiB });
    expect(b.sbrk(64 * KiB + 1)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(0);
    expect(m.byteLength).toBe(0);
    expect(b.sbrk(64 * KiB)).toBe(0);
    expect(b.current).toBe(64 * KiB);
  });

  it("defaults its limit to the memory's maxBytes", () => {
    const m = fresh(0, 32 * KiB);
    const b = new Brk(m);
    expect(b.limit).toBe(32 * KiB);
    expect(b.sbrk(32 * KiB)).toBe(0);
    expect(b.sbrk(1)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
  });

  it.each([
    ["NaN", Number.NaN],
    ["fractional", 0.5],
    ["negative fractional", -1.5],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["unsafe integer", 2 ** 53],
  ])("sbrk(%s) returns -1 with EINVAL and leaves the break unchanged", (_name, incr) => {
    const m = fresh();
    const b = new Brk(m, { start: 64 });
    b.sbrk(100);
    const len = m.byteLength;
    expect(b.sbrk(incr)).toBe(-1);
    expect(b.errno).toBe(Errno.EINVAL);
    expect(b.errno).toBe(22);
    expect(b.current).toBe(164);
    expect(m.byteLength).toBe(len);
  });

  it("does not clear errno on success (C semantics)", () => {
    const b = new Brk(fresh(), { start: 0, limit: 100 });
    expect(b.sbrk(101)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.sbrk(50)).toBe(0);
    expect(b.brk(10)).toBe(0);
    expect(b.errno).toBe(Errno.ENOMEM);
  });

  it("grows the memory as the break passes its end, exactly to the break, and the bytes there are usable", () => {
    const m = fresh(0, MiB);
    const b = new Brk(m, { start: 0 });
    expect(m.byteLength).toBe(0);
    b.sbrk(1);
    expect(m.byteLength).toBeGreaterThanOrEqual(1);
    b.sbrk(5000);
    expect(m.byteLength).toBeGreaterThanOrEqual(5001);
    m.u8[5000] = 0x77; // the last byte below the break is addressable
    expect(m.u8[5000]).toBe(0x77);
    b.sbrk(-5001);
    b.sbrk(100);
    // shrinking and regrowing below the old high-water mark does not lose or move the memory
    expect(m.byteLength).toBeGreaterThanOrEqual(5001);
    expect(m.u8[5000]).toBe(0x77);
  });

  it("maps whole pages: the memory grows to the page boundary after the break (heap.md)", () => {
    const m = fresh(0, MiB);
    const b = new Brk(m);
    b.sbrk(100);
    expect(b.current).toBe(100);
    expect(m.byteLength).toBe(4096);
    m.u8[4095] = 1; // the rest of the break's page is there
    expect(m.u8[4095]).toBe(1);
    b.sbrk(5000);
    expect(b.current).toBe(5100);
    expect(m.byteLength).toBe(8192);
    b.brk(8192);
    expect(m.byteLength).toBe(8192);
    b.brk(8193);
    expect(m.byteLength).toBe(12288);
    // A reservation that ends inside a page: the break may still reach its last byte.
    const odd = fresh(0, 10_000);
    const c = new Brk(odd);
    expect(c.sbrk(9_999)).toBe(0);
    expect(odd.byteLength).toBe(10_000);
    expect(c.sbrk(1)).toBe(9_999);
    expect(c.sbrk(1)).toBe(-1);
    expect(c.errno).toBe(Errno.ENOMEM);
  });

  it("grows the memory up to start when constructed with a start past the memory's end", () => {
    const m = fresh(0, MiB);
    const b = new Brk(m, { start: 10_000 });
    expect(b.current).toBe(10_000);
    expect(m.byteLength).toBeGreaterThanOrEqual(10_000);
  });
});

describe("Brk: brk(addr)", () => {
  it("sets the break to addr and returns 0, both ways, to the byte", () => {
    const m = fresh();
    const b = new Brk(m, { start: 512 });
    expect(b.brk(513)).toBe(0);
    expect(b.current).toBe(513);
    expect(b.sbrk(0)).toBe(513);
    expect(b.brk(100_003)).toBe(0);
    expect(b.current).toBe(100_003);
    expect(m.byteLength).toBeGreaterThanOrEqual(100_003);
    expect(b.brk(600)).toBe(0);
    expect(b.sbrk(0)).toBe(600);
    expect(b.brk(600)).toBe(0); // setting it where it is succeeds
    expect(b.brk(512)).toBe(0); // exactly start
    expect(b.current).toBe(512);
    expect(b.errno).toBe(0);
  });

  it("returns -1 with ENOMEM below start (including brk(0) when start > 0), break unchanged", () => {
    const b = new Brk(fresh(), { start: 512 });
    b.brk(1000);
    expect(b.brk(511)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(1000);
    b.errno = 0;
    expect(b.brk(0)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(1000);
  });

  it("returns -1 with ENOMEM past the limit, break unchanged", () => {
    const b = new Brk(fresh(0, MiB), { start: 0, limit: 4096 });
    expect(b.brk(4096)).toBe(0);
    expect(b.brk(4097)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(4096);
  });

  it("returns -1 for a non-integer address and leaves the break unchanged", () => {
    const b = new Brk(fresh(), { start: 0 });
    b.brk(300);
    for (const bad of [Number.NaN, 300.5, Number.POSITIVE_INFINITY, -Number.MAX_VALUE]) {
      b.errno = 0;
      expect(b.brk(bad)).toBe(-1);
      expect(b.errno).not.toBe(0);
      expect(b.current).toBe(300);
    }
  });
});

describe("Brk: construction", () => {
  it.each([
    ["negative start", { start: -1 }],
    ["fractional start", { start: 1.5 }],
    ["limit below start", { start: 4096, limit: 4095 }],
  ])("rejects %s with an ArgumentError", (_name, opts) => {
    let caught: unknown;
    try {
      new Brk(fresh(), opts);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ArgumentError);
    expect(caught).toBeInstanceOf(VmError);
  });

  it("rejects a target that is neither a LinearMemory nor an address space", () => {
    expect(() => new Brk({} as LinearMemory)).toThrow(ArgumentError);
  });
});

describe("Brk: LTP-style sequences (heap.md)", () => {
  const incr = 2 * PAGE - 1;

  it.each([0, 4096, 12_345])(
    "33 steps of +(2·page−1), 0, −(2·page−1) through sbrk: sbrk(0) is the requested break after each (start %i)",
    (start) => {
      const m = fresh(0, 4 * MiB);
      const b = new Brk(m, { start });
      for (let i = 0; i < 33; i++) {
        const before = b.sbrk(0);
        expect(before).toBe(start);

        expect(b.sbrk(incr)).toBe(before);
        expect(b.sbrk(0)).toBe(before + incr);
        expect(m.byteLength).toBeGreaterThanOrEqual(before + incr);
        m.u8[before + incr - 1] = i; // the newly obtained top byte is writable

        expect(b.sbrk(0)).toBe(before + incr);
        expect(b.sbrk(0)).toBe(before + incr);

        expect(b.sbrk(-incr)).toBe(before + incr);
        expect(b.sbrk(0)).toBe(before);
      }
      expect(b.errno).toBe(0);
    },
  );

  it("LTP brk01: 33 brk() calls cycling +(2·page−1), 0, −(2·page−1); sbrk(0) equals the requested break after each", () => {
    const m = fresh(0, 4 * MiB);
    const b = new Brk(m, { start: 8192 });
    let cur = b.sbrk(0);
    for (let i = 0; i < 33; i++) {
      const want = i % 3 === 0 ? cur + incr : i % 3 === 1 ? cur : cur - incr;
      expect(b.brk(want)).toBe(0);
      cur = b.sbrk(0);
      expect(cur).toBe(want);
      if (i % 3 === 0) {
        m.u8[cur - 1] = 1;
        expect(m.u8[cur - 1]).toBe(1);
      }
    }
    expect(cur).toBe(8192);
  });

  it.each([
    ["start 0", 0, 100 * MiB, undefined, 6],
    ["start 4096", 4096, 100 * MiB, undefined, 6],
    ["a 50 MiB limit", 0, 100 * MiB, 50 * MiB, 3],
    ["a limit above the memory (40 MiB reservation)", 0, 40 * MiB, 100 * MiB, 2],
  ])(
    "grows by 16 MiB steps until failure, then -1 with ENOMEM (%s)",
    (_name, start, maxBytes, limit, expectedSteps) => {
      const m = new LinearMemory({ initialBytes: 0, maxBytes, shared: false });
      const b = limit === undefined ? new Brk(m, { start }) : new Brk(m, { start, limit });
      const step = 16 * MiB;
      let steps = 0;
      let r: number;
      for (;;) {
        const before = b.sbrk(0);
        r = b.sbrk(step);
        if (r === -1) break;
        expect(r).toBe(before);
        expect(b.sbrk(0)).toBe(before + step);
        expect(m.byteLength).toBeGreaterThanOrEqual(before + step);
        steps++;
        expect(steps).toBeLessThan(1000); // no infinite loop
      }
      expect(r).toBe(-1);
      expect(b.errno).toBe(Errno.ENOMEM);
      expect(steps).toBe(expectedSteps);
      // what the tighter of the limit and the reservation implies
      const ceiling = Math.min(limit ?? maxBytes, maxBytes);
      expect(Math.floor((ceiling - start) / step)).toBe(expectedSteps);
      expect(b.current).toBe(start + steps * step);
      // the failed call changed nothing, and a smaller request still fits where there is room
      const room = ceiling - b.current;
      expect(b.sbrk(room)).toBe(start + steps * step);
      expect(b.sbrk(1)).toBe(-1);
    },
  );
});

describe("Brk: on a WebAssembly.Memory", () => {
  it("starts at the wasm memory's current size by default", () => {
    const wasm = new WebAssembly.Memory({ initial: 2, maximum: 10 });
    const b = new Brk(new LinearMemory({ wasm }));
    expect(b.start).toBe(2 * WASM_PAGE);
    expect(b.sbrk(0)).toBe(2 * WASM_PAGE);
  });

  it("grows the memory in whole 64 KiB pages, never shrinks it, and moves the break exactly both ways", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 10 });
    const m = new LinearMemory({ wasm });
    const b = new Brk(m);
    const start = WASM_PAGE;
    expect(b.sbrk(1)).toBe(start);
    expect(b.sbrk(0)).toBe(start + 1);
    expect(wasm.buffer.byteLength).toBe(2 * WASM_PAGE); // one byte of break costs a whole page
    expect(m.byteLength).toBe(2 * WASM_PAGE);
    expect(m.u8.length).toBe(2 * WASM_PAGE);
    m.u8[start] = 0x42;

    expect(b.sbrk(WASM_PAGE)).toBe(start + 1);
    expect(b.current).toBe(start + 1 + WASM_PAGE);
    expect(wasm.buffer.byteLength).toBe(3 * WASM_PAGE);

    expect(b.sbrk(-(WASM_PAGE + 1))).toBe(start + 1 + WASM_PAGE);
    expect(b.sbrk(0)).toBe(start);
    expect(wasm.buffer.byteLength).toBe(3 * WASM_PAGE); // the memory never shrinks
    expect(m.u8[start]).toBe(0x42);

    // regrowing into pages the memory already has does not grow it again
    expect(b.sbrk(2 * WASM_PAGE)).toBe(start);
    expect(wasm.buffer.byteLength).toBe(3 * WASM_PAGE);
    expect(b.sbrk(1)).toBe(start + 2 * WASM_PAGE);
    expect(wasm.buffer.byteLength).toBe(4 * WASM_PAGE);
    expect(b.errno).toBe(0);
  });

  it("runs the 33-step LTP sequence exactly", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    const b = new Brk(new LinearMemory({ wasm }));
    const incr = 2 * PAGE - 1;
    const start = b.sbrk(0);
    for (let i = 0; i < 33; i++) {
      expect(b.sbrk(incr)).toBe(start);
      expect(b.sbrk(0)).toBe(start + incr);
      expect(b.sbrk(-incr)).toBe(start + incr);
      expect(b.sbrk(0)).toBe(start);
    }
    expect(wasm.buffer.byteLength).toBe(2 * WASM_PAGE);
  });

  it("fails with -1 and ENOMEM past the wasm maximum, break and memory unchanged (16 MiB steps)", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 1024 }); // 64 MiB
    const b = new Brk(new LinearMemory({ wasm }));
    const step = 16 * MiB;
    let steps = 0;
    while (b.sbrk(step) !== -1) steps++;
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(steps).toBe(3); // 64 KiB + 3 * 16 MiB fits in 64 MiB, a fourth step does not
    expect(b.current).toBe(WASM_PAGE + 3 * step);
    const len = wasm.buffer.byteLength;
    expect(len).toBeLessThanOrEqual(1024 * WASM_PAGE);
    expect(b.sbrk(1024 * WASM_PAGE - b.current + 1)).toBe(-1);
    expect(wasm.buffer.byteLength).toBe(len);
    expect(b.sbrk(1024 * WASM_PAGE - b.current)).toBe(WASM_PAGE + 3 * step);
    expect(b.current).toBe(1024 * WASM_PAGE);
  });

  it("sees a memory the module grew itself: no extra growth is needed for the break to move there", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const m = new LinearMemory({ wasm });
    const b = new Brk(m);
    wasm.grow(2); // behind the wrapper's back
    expect(b.sbrk(2 * WASM_PAGE)).toBe(WASM_PAGE);
    expect(wasm.buffer.byteLength).toBe(3 * WASM_PAGE);
    expect(m.u8.length).toBe(3 * WASM_PAGE);
  });
});
