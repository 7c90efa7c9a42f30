import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ArgumentError, FrameError, VmError } from "../../src/errors.js";
import { DEFAULT_PAGE_SIZE, MAX_FRAMES, PINNED, PhysicalMemory, isValidPageSize } from "../../src/memory/PhysicalMemory.js";
import { fcSeed, thrown } from "../paging/helpers/vmKit.js";

describe("PhysicalMemory: construction", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("has 4096-byte frames by default, in one SharedArrayBuffer covering all of RAM and the zero frame", () => {
    const m = new PhysicalMemory({ frames: 8 });
    expect(m.pageSize).toBe(DEFAULT_PAGE_SIZE);
    expect(m.pageSize).toBe(4096);
    expect(m.pageShift).toBe(12);
    expect(m.frames).toBe(8);
    expect(m.totalFrames).toBe(9);
    expect(m.byteLength).toBe(9 * 4096);
    expect(m.shared).toBe(true);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.buffer.byteLength).toBe(9 * 4096);
    expect(m.u8.length).toBe(9 * 4096);
    expect(m.dv.byteLength).toBe(9 * 4096);
    expect(m.u32.length).toBe(9 * 1024);
  });

  it("uses an ArrayBuffer with shared: false", () => {
    const m = new PhysicalMemory({ frames: 2, shared: false });
    expect(m.shared).toBe(false);
    expect(m.buffer).toBeInstanceOf(ArrayBuffer);
    expect(m.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  it("falls back to an ArrayBuffer where SharedArrayBuffer does not exist", () => {
    vi.stubGlobal("SharedArrayBuffer", undefined);
    const m = new PhysicalMemory({ frames: 2 });
    expect(m.shared).toBe(false);
    expect(m.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it("accepts any power-of-two page size from 16 up", () => {
    for (const ps of [16, 32, 64, 256, 1024, 4096, 65536]) {
      const m = new PhysicalMemory({ frames: 3, pageSize: ps, shared: false });
      expect(m.pageSize).toBe(ps);
      expect(m.pageShift).toBe(Math.log2(ps));
      expect(m.frameAddress(2)).toBe(2 * ps);
      expect(isValidPageSize(ps)).toBe(true);
    }
  });

  it("rejects page sizes that are not powers of two ≥ 16 with ArgumentError", () => {
    for (const ps of [0, 1, 8, 15, 24, 1000, 4095, 2 ** 31, -4096, 16.5, Number.NaN]) {
      expect(isValidPageSize(ps)).toBe(false);
      const e = thrown(() => new PhysicalMemory({ frames: 1, pageSize: ps }));
      expect(e, `pageSize ${ps}`).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toMatch(/pageSize/);
    }
  });

  it("rejects frame counts outside [1, 2^24 − 1] with ArgumentError (2^24 frame numbers, the zero frame's included)", () => {
    for (const frames of [0, -1, 1.5, Number.NaN, MAX_FRAMES, MAX_FRAMES + 1]) {
      expect(() => new PhysicalMemory({ frames }), `frames ${frames}`).toThrow(ArgumentError);
    }
  });

  it("turns a failed buffer allocation into a VmError naming the size", () => {
    const e = thrown(() => new PhysicalMemory({ frames: MAX_FRAMES - 1, pageSize: 2 ** 30, shared: false }));
    expect(e).toBeInstanceOf(VmError);
    expect((e as Error).message).toMatch(/cannot allocate 16777215 frames of 1073741824 bytes/);
  });

  it("views u8, dv and u32 are views of the same bytes, by physical address", () => {
    const m = new PhysicalMemory({ frames: 2, pageSize: 16, shared: false });
    m.dv.setUint32(20, 0xdeadbeef, true);
    expect([...m.u8.subarray(20, 24)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(m.u32[20 >>> 2]).toBe(0xdeadbeef);
  });
});

describe("PhysicalMemory: the frame allocator", () => {
  it("starts with every frame free, the zero frame apart (and in use)", () => {
    const m = new PhysicalMemory({ frames: 5, shared: false });
    expect(m.zeroFrame).toBe(0);
    expect(m.freeFrames).toBe(5);
    expect(m.usedFrames).toBe(1);
    expect(m.sharedFrames).toBe(0);
    m.check();
  });

  it("hands out frames 1, 2, 3, … with reference count 1, then -1 when none is left", () => {
    const m = new PhysicalMemory({ frames: 3, pageSize: 16, shared: false });
    expect(m.allocFrame()).toBe(1);
    expect(m.allocFrame()).toBe(2);
    expect(m.allocFrame()).toBe(3);
    expect(m.freeFrames).toBe(0);
    expect(m.usedFrames).toBe(4);
    expect(m.allocFrame()).toBe(-1);
    expect(m.allocFrame()).toBe(-1);
    for (const f of [1, 2, 3]) expect(m.refCount(f)).toBe(1);
    m.check();
  });

  it("reuses the most recently freed frame first (a LIFO free list, O(1) both ways)", () => {
    const m = new PhysicalMemory({ frames: 6, pageSize: 16, shared: false });
    const fs = [m.allocFrame(), m.allocFrame(), m.allocFrame()];
    m.freeFrame(fs[1]!);
    m.freeFrame(fs[0]!);
    expect(m.freeFrames).toBe(5);
    expect(m.refCount(fs[0]!)).toBe(0);
    expect(m.allocFrame()).toBe(fs[0]);
    expect(m.allocFrame()).toBe(fs[1]);
    m.check();
  });

  it("allocFrame() leaves old contents (no __GFP_ZERO); allocFrame(true) zero-fills", () => {
    const m = new PhysicalMemory({ frames: 2, pageSize: 32, shared: false });
    const f = m.allocFrame();
    m.u8.fill(0xaa, f * 32, f * 32 + 32);
    m.freeFrame(f);
    expect(m.allocFrame()).toBe(f);
    expect(m.u8[f * 32 + 5]).toBe(0xaa);
    m.freeFrame(f);
    expect(m.allocFrame(true)).toBe(f);
    expect(m.frameBytes(f).every((b) => b === 0)).toBe(true);
  });

  it("addresses 2^20 frames (16-byte pages, 16 MiB of RAM)", () => {
    const m = new PhysicalMemory({ frames: 2 ** 20, pageSize: 16, shared: false });
    let last = 0;
    for (let f = m.allocFrame(); f !== -1; f = m.allocFrame()) last = f;
    expect(last).toBe(2 ** 20);
    expect(m.freeFrames).toBe(0);
    m.freeFrame(last);
    expect(m.allocFrame()).toBe(2 ** 20);
  });
});

describe("PhysicalMemory: misuse is a FrameError", () => {
  it("a double free names the operation and the frame", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    const f = m.allocFrame();
    m.freeFrame(f);
    const e = thrown(() => m.freeFrame(f));
    expect(e).toBeInstanceOf(FrameError);
    expect(e).toBeInstanceOf(VmError);
    expect((e as FrameError).name).toBe("FrameError");
    expect((e as FrameError).frame).toBe(f);
    expect((e as FrameError).operation).toBe("freeFrame");
    expect((e as Error).message).toBe(`freeFrame(): double free (frame ${f})`);
    expect(m.freeFrames).toBe(3); // nothing changed
    m.check();
  });

  it("freeing a never-allocated frame is a double free too", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    expect(() => m.freeFrame(2)).toThrow(/double free/);
  });

  it("unref of a free frame is a double free", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    const f = m.allocFrame();
    expect(m.unref(f)).toBe(0);
    const e = thrown(() => m.unref(f)) as FrameError;
    expect(e).toBeInstanceOf(FrameError);
    expect(e.operation).toBe("unref");
    expect(e.message).toMatch(/double free/);
  });

  it("ref of a free frame, and frames out of range, are refused", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    expect(() => m.ref(1)).toThrow(/reference to a free frame/);
    for (const f of [-1, 4, 1.5, Number.NaN]) {
      for (const op of [() => m.ref(f), () => m.unref(f), () => m.freeFrame(f), () => m.refCount(f), () => m.zeroFill(f), () => m.frameBytes(f)]) {
        const e = thrown(op);
        expect(e, `frame ${f}`).toBeInstanceOf(FrameError);
        expect((e as Error).message).toMatch(/no such frame \(RAM has frames 0 to 3\)/);
      }
    }
  });

  it("freeFrame of a shared frame is refused (drop the mappings with unref)", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    const f = m.allocFrame();
    m.ref(f);
    expect(() => m.freeFrame(f)).toThrow(/still shared by 2 mappings/);
    expect(m.refCount(f)).toBe(2);
  });

  it("writes to a free frame are refused", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    const f = m.allocFrame();
    expect(() => m.zeroFill(2)).toThrow(/write to a free frame/);
    expect(() => m.copyFrame(2, f)).toThrow(/write to a free frame/);
    expect(() => m.copyFrame(f, 2)).toThrow(/copy from a free frame/);
  });
});

describe("PhysicalMemory: reference counts", () => {
  it("ref/unref count mappings; sharedFrames counts frames with more than one; unref frees at 0", () => {
    const m = new PhysicalMemory({ frames: 4, shared: false });
    const a = m.allocFrame();
    const b = m.allocFrame();
    expect(m.ref(a)).toBe(2);
    expect(m.sharedFrames).toBe(1);
    expect(m.ref(a)).toBe(3);
    expect(m.sharedFrames).toBe(1);
    expect(m.ref(b)).toBe(2);
    expect(m.sharedFrames).toBe(2);
    m.check();
    expect(m.unref(a)).toBe(2);
    expect(m.unref(a)).toBe(1);
    expect(m.sharedFrames).toBe(1);
    expect(m.freeFrames).toBe(2);
    expect(m.unref(a)).toBe(0);
    expect(m.refCount(a)).toBe(0);
    expect(m.freeFrames).toBe(3);
    expect(m.unref(b)).toBe(1);
    expect(m.sharedFrames).toBe(0);
    m.check();
  });

  it("agrees with a model over random alloc/free/ref/unref (and check() holds throughout)", () => {
    const frames = 12;
    const op = fc.oneof(
      fc.constant({ k: "alloc" as const, i: 0 }),
      fc.record({ k: fc.constantFrom("free" as const, "ref" as const, "unref" as const), i: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const m = new PhysicalMemory({ frames, pageSize: 16, shared: false });
        const refs = new Map<number, number>(); // the model: live frame → count
        for (const o of ops) {
          const live = [...refs.keys()];
          if (o.k === "alloc") {
            const f = m.allocFrame();
            if (refs.size === frames) expect(f).toBe(-1);
            else {
              expect(refs.has(f)).toBe(false);
              expect(f).toBeGreaterThan(0);
              refs.set(f, 1);
            }
          } else if (live.length > 0) {
            const f = live[o.i % live.length]!;
            const r = refs.get(f)!;
            if (o.k === "ref") {
              expect(m.ref(f)).toBe(r + 1);
              refs.set(f, r + 1);
            } else if (o.k === "unref") {
              expect(m.unref(f)).toBe(r - 1);
              if (r === 1) refs.delete(f);
              else refs.set(f, r - 1);
            } else if (r === 1) {
              m.freeFrame(f);
              refs.delete(f);
            } else {
              expect(() => m.freeFrame(f)).toThrow(FrameError);
            }
          }
          expect(m.freeFrames).toBe(frames - refs.size);
          expect(m.usedFrames).toBe(1 + refs.size);
          expect(m.sharedFrames).toBe([...refs.values()].filter((r) => r > 1).length);
          m.check();
        }
        for (const [f, r] of refs) expect(m.refCount(f)).toBe(r);
      }),
      { seed: fcSeed("PhysicalMemory refcounts"), numRuns: 200 },
    );
  });
});

describe("PhysicalMemory: the zero frame", () => {
  it("is frame 0, pinned: never freed, ref/unref are no-ops, not counted as shared", () => {
    const m = new PhysicalMemory({ frames: 3, shared: false });
    const z = m.zeroFrame;
    expect(m.refCount(z)).toBe(PINNED);
    expect(m.ref(z)).toBe(PINNED);
    expect(m.ref(z)).toBe(PINNED);
    expect(m.unref(z)).toBe(PINNED);
    expect(m.unref(z)).toBe(PINNED);
    expect(m.unref(z)).toBe(PINNED);
    expect(m.sharedFrames).toBe(0);
    expect(m.freeFrames).toBe(3); // the zero frame is none of them
    const e = thrown(() => m.freeFrame(z)) as FrameError;
    expect(e).toBeInstanceOf(FrameError);
    expect(e.message).toMatch(/zero frame is never freed/);
    m.check();
  });

  it("refuses to be written: zeroFill and copyFrame targets must be copied first", () => {
    const m = new PhysicalMemory({ frames: 3, pageSize: 16, shared: false });
    const f = m.allocFrame();
    expect(() => m.zeroFill(m.zeroFrame)).toThrow(/zero frame is read-only; copy it into a fresh frame first/);
    expect(() => m.copyFrame(m.zeroFrame, f)).toThrow(FrameError);
    // Copying *from* it is how a writer gets a private zero page.
    m.u8.fill(7, f * 16, f * 16 + 16);
    m.copyFrame(f, m.zeroFrame);
    expect(m.frameBytes(f).every((b) => b === 0)).toBe(true);
  });

  it("check() catches a write made into it in place", () => {
    const m = new PhysicalMemory({ frames: 2, pageSize: 16, shared: false });
    m.u8[5] = 1;
    expect(() => m.check()).toThrow(/the zero frame holds 1 at byte 5/);
  });
});

describe("PhysicalMemory: frame contents", () => {
  it("zeroFill clears exactly one frame", () => {
    const m = new PhysicalMemory({ frames: 4, pageSize: 16, shared: false });
    const a = m.allocFrame();
    const b = m.allocFrame();
    const c = m.allocFrame();
    m.u8.fill(0xff, 16, 64);
    m.zeroFill(b);
    expect(m.frameBytes(a).every((x) => x === 0xff)).toBe(true);
    expect(m.frameBytes(b).every((x) => x === 0)).toBe(true);
    expect(m.frameBytes(c).every((x) => x === 0xff)).toBe(true);
  });

  it("copyFrame copies one frame over another, leaving the source and neighbours alone", () => {
    const m = new PhysicalMemory({ frames: 4, pageSize: 16, shared: false });
    const a = m.allocFrame();
    const b = m.allocFrame();
    const c = m.allocFrame();
    for (let i = 0; i < 16; i++) m.u8[a * 16 + i] = i + 1;
    m.u8.fill(0xee, c * 16, c * 16 + 16);
    m.copyFrame(b, a);
    expect([...m.frameBytes(b)]).toEqual([...m.frameBytes(a)]);
    expect([...m.frameBytes(a)]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(m.frameBytes(c).every((x) => x === 0xee)).toBe(true);
    m.copyFrame(a, a); // a no-op
    expect(m.u8[a * 16]).toBe(1);
  });

  it("frameBytes is a view (writes through it land in RAM)", () => {
    const m = new PhysicalMemory({ frames: 2, pageSize: 16, shared: false });
    const f = m.allocFrame();
    m.frameBytes(f)[3] = 9;
    expect(m.u8[f * 16 + 3]).toBe(9);
  });
});

describe("PhysicalMemory.check", () => {
  it("reports a leaked frame, a corrupted free list and a wrong shared counter", () => {
    type Innards = { refs: Uint32Array; freeStack: Int32Array; freeTop: number; shareCount: number };
    const fresh = (): [PhysicalMemory, Innards] => {
      const m = new PhysicalMemory({ frames: 4, pageSize: 16, shared: false });
      return [m, m as unknown as Innards];
    };
    let [m, x] = fresh();
    x.freeTop--; // frame 1 falls off the free list without being allocated
    expect(() => m.check()).toThrow(/frame 1 is free but not on the free list/);
    [m, x] = fresh();
    x.freeStack[0] = x.freeStack[1]!;
    expect(() => m.check()).toThrow(/on the free list twice/);
    [m, x] = fresh();
    x.freeStack[0] = 99;
    expect(() => m.check()).toThrow(/free list holds 99/);
    [m, x] = fresh();
    x.refs[x.freeStack[0]!] = 1;
    expect(() => m.check()).toThrow(/on the free list with 1 references/);
    [m, x] = fresh();
    x.shareCount = 3;
    expect(() => m.check()).toThrow(/0 frames are shared, the counter says 3/);
    [m, x] = fresh();
    x.refs[0] = 1;
    expect(() => m.check()).toThrow(/zero frame is not pinned/);
  });
});
