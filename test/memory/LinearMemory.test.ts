import { describe, expect, it } from "vitest";
import { ArgumentError, DEFAULT_INITIAL_BYTES, LinearMemory, VmError, WASM_PAGE } from "../../src/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Whether this runtime has ES2024 resizable `ArrayBuffer`s (Node 20 does). */
const hasResizable = typeof (ArrayBuffer.prototype as { resize?: unknown }).resize === "function";

/** A resizable `ArrayBuffer`, typed loosely so the test compiles against any `lib`. */
function resizableBuffer(length: number, maxByteLength: number): ArrayBuffer {
  const Ctor = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
  return new Ctor(length, { maxByteLength });
}

describe("LinearMemory: a fresh memory", () => {
  it("is backed by a SharedArrayBuffer by default in Node", () => {
    const m = new LinearMemory();
    expect(m.shared).toBe(true);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.u8.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.byteLength).toBe(DEFAULT_INITIAL_BYTES);
  });

  it("uses an ArrayBuffer with shared: false", () => {
    const m = new LinearMemory({ initialBytes: 4096, maxBytes: MiB, shared: false });
    expect(m.shared).toBe(false);
    expect(m.buffer).toBeInstanceOf(ArrayBuffer);
    expect(m.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect(m.u8.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it("has byteLength = initialBytes, and u8/dv cover exactly [0, byteLength)", () => {
    const m = new LinearMemory({ initialBytes: 12_345, maxBytes: MiB });
    expect(m.byteLength).toBe(12_345);
    expect(m.u8.byteOffset).toBe(0);
    expect(m.u8.length).toBe(12_345);
    expect(m.dv.byteOffset).toBe(0);
    expect(m.dv.byteLength).toBe(12_345);
    expect(m.maxBytes).toBe(MiB);
    // The views are views of the memory's bytes: writing through one shows through the other.
    m.dv.setUint32(100, 0xdeadbeef, true);
    expect([...m.u8.subarray(100, 104)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    // and nothing past the logical end is reachable through them.
    expect(m.u8[12_345]).toBeUndefined();
    expect(() => m.dv.getUint8(12_345)).toThrow(RangeError);
  });

  it("accepts initialBytes = 0 and initialBytes = maxBytes", () => {
    const empty = new LinearMemory({ initialBytes: 0, maxBytes: 4096 });
    expect(empty.byteLength).toBe(0);
    expect(empty.u8.length).toBe(0);
    const full = new LinearMemory({ initialBytes: 4096, maxBytes: 4096 });
    expect(full.byteLength).toBe(4096);
    expect(full.grow(1)).toBe(-1);
  });

  it("grow(delta) returns the old byteLength and extends the memory by exactly delta bytes", () => {
    const m = new LinearMemory({ initialBytes: 1000, maxBytes: 10_000 });
    expect(m.grow(1)).toBe(1000);
    expect(m.byteLength).toBe(1001);
    expect(m.grow(2999)).toBe(1001);
    expect(m.byteLength).toBe(4000);
    expect(m.u8.length).toBe(4000);
    expect(m.dv.byteLength).toBe(4000);
  });

  it("replaces u8/dv on growth: views fetched after grow have the new length; bytes written before survive", () => {
    const m = new LinearMemory({ initialBytes: 256, maxBytes: 64 * KiB, shared: false });
    for (let i = 0; i < 256; i++) m.u8[i] = (i * 7 + 3) & 0xff;
    m.dv.setFloat64(200, Math.PI, true);
    const oldU8 = m.u8;
    const oldDv = m.dv;
    expect(m.grow(4096)).toBe(256);
    expect(m.u8).not.toBe(oldU8);
    expect(m.dv).not.toBe(oldDv);
    expect(oldU8.length).toBe(256); // the old view keeps its old extent
    expect(m.u8.length).toBe(256 + 4096);
    expect(m.dv.byteLength).toBe(256 + 4096);
    for (let i = 0; i < 200; i++) expect(m.u8[i]).toBe((i * 7 + 3) & 0xff);
    expect(m.dv.getFloat64(200, true)).toBe(Math.PI);
    // the new range is usable, and zero (it was never written)
    expect(m.u8[256 + 4095]).toBe(0);
    m.u8[256 + 4095] = 0x5a;
    expect(m.dv.getUint8(256 + 4095)).toBe(0x5a);
  });

  it("grow(0) returns the current length and changes nothing", () => {
    const m = new LinearMemory({ initialBytes: 777, maxBytes: 4096 });
    expect(m.grow(0)).toBe(777);
    expect(m.byteLength).toBe(777);
    m.grow(23);
    expect(m.grow(0)).toBe(800);
  });

  it("grow past maxBytes returns -1 and leaves the memory unchanged; growing to exactly maxBytes succeeds", () => {
    const m = new LinearMemory({ initialBytes: 1024, maxBytes: 8192 });
    m.u8[5] = 55;
    expect(m.grow(8192 - 1024 + 1)).toBe(-1);
    expect(m.byteLength).toBe(1024);
    expect(m.u8.length).toBe(1024);
    expect(m.grow(8192 - 1024)).toBe(1024);
    expect(m.byteLength).toBe(8192);
    expect(m.grow(1)).toBe(-1);
    expect(m.byteLength).toBe(8192);
    expect(m.u8[5]).toBe(55);
  });

  it.each([
    ["negative", -1],
    ["negative large", -4096],
    ["NaN", Number.NaN],
    ["fractional", 1.5],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["unsafe integer", 2 ** 53],
  ])("grow(%s) returns -1 and leaves the memory unchanged", (_name, delta) => {
    const m = new LinearMemory({ initialBytes: 4096, maxBytes: 1 << 20 });
    expect(m.grow(delta)).toBe(-1);
    expect(m.byteLength).toBe(4096);
    expect(m.u8.length).toBe(4096);
  });

  it("ensure(end) grows to exactly end when needed, does nothing when end is already inside, fails past maxBytes", () => {
    const m = new LinearMemory({ initialBytes: 100, maxBytes: 1000 });
    expect(m.ensure(50)).toBe(true);
    expect(m.byteLength).toBe(100);
    expect(m.ensure(100)).toBe(true);
    expect(m.byteLength).toBe(100);
    expect(m.ensure(101)).toBe(true);
    expect(m.byteLength).toBe(101);
    expect(m.ensure(1000)).toBe(true);
    expect(m.byteLength).toBe(1000);
    expect(m.ensure(1001)).toBe(false);
    expect(m.byteLength).toBe(1000);
  });

  it.each([
    ["negative initialBytes", { initialBytes: -1 }],
    ["fractional initialBytes", { initialBytes: 10.5 }],
    ["NaN initialBytes", { initialBytes: Number.NaN }],
    ["initialBytes > maxBytes", { initialBytes: 8192, maxBytes: 4096 }],
    ["negative maxBytes", { maxBytes: -4096 }],
  ])("rejects %s with an ArgumentError (a VmError)", (_name, opts) => {
    let caught: unknown;
    try {
      new LinearMemory(opts);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ArgumentError);
    expect(caught).toBeInstanceOf(VmError);
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).name).toBe("ArgumentError");
  });
});

describe("LinearMemory: { buffer }", () => {
  it("wraps a fixed ArrayBuffer: same bytes, cannot grow", () => {
    const buf = new ArrayBuffer(8192);
    new Uint8Array(buf)[42] = 99;
    const m = new LinearMemory({ buffer: buf });
    expect(m.shared).toBe(false);
    expect(m.byteLength).toBe(8192);
    expect(m.u8[42]).toBe(99);
    m.u8[43] = 77;
    expect(new Uint8Array(buf)[43]).toBe(77); // no copy
    expect(m.grow(1)).toBe(-1);
    expect(m.grow(4096)).toBe(-1);
    expect(m.byteLength).toBe(8192);
    expect(m.grow(0)).toBe(8192);
    expect(m.ensure(8192)).toBe(true);
    expect(m.ensure(8193)).toBe(false);
  });

  it("wraps a fixed SharedArrayBuffer: shared, same bytes, cannot grow", () => {
    const sab = new SharedArrayBuffer(4096);
    const m = new LinearMemory({ buffer: sab });
    expect(m.shared).toBe(true);
    expect(m.buffer).toBe(sab);
    m.dv.setInt32(8, -5, true);
    expect(new DataView(sab).getInt32(8, true)).toBe(-5);
    expect(m.grow(1)).toBe(-1);
    expect(m.byteLength).toBe(4096);
  });

  it.skipIf(!hasResizable)("grows a resizable ArrayBuffer up to its maxByteLength", () => {
    const buf = resizableBuffer(4096, 16_384);
    const m = new LinearMemory({ buffer: buf });
    expect(m.maxBytes).toBe(16_384);
    m.u8[4095] = 0xab;
    expect(m.grow(4096)).toBe(4096);
    expect(buf.byteLength).toBe(8192);
    expect(m.byteLength).toBe(8192);
    expect(m.u8.length).toBe(8192);
    expect(m.dv.byteLength).toBe(8192);
    expect(m.u8[4095]).toBe(0xab);
    m.u8[8191] = 0xcd;
    expect(new Uint8Array(buf)[8191]).toBe(0xcd);
    expect(m.grow(16_384 - 8192 + 1)).toBe(-1);
    expect(m.byteLength).toBe(8192);
    expect(m.grow(16_384 - 8192)).toBe(8192);
    expect(m.byteLength).toBe(16_384);
    expect(m.grow(1)).toBe(-1);
  });

  it.skipIf(!hasResizable)("follows a resizable ArrayBuffer resized directly behind its back", () => {
    const buf = resizableBuffer(4096, 16_384) as ArrayBuffer & { resize(n: number): void };
    const m = new LinearMemory({ buffer: buf });
    m.u8[7] = 70;
    buf.resize(12_288);
    expect(m.byteLength).toBe(12_288);
    expect(m.u8.length).toBe(12_288);
    expect(m.dv.byteLength).toBe(12_288);
    expect(m.u8[7]).toBe(70);
    expect(m.grow(4096)).toBe(12_288);
    expect(buf.byteLength).toBe(16_384);
  });

  it.skipIf(typeof (SharedArrayBuffer.prototype as { grow?: unknown }).grow !== "function")(
    "grows a growable SharedArrayBuffer up to its maxByteLength",
    () => {
      const Ctor = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer;
      const sab = new Ctor(4096, { maxByteLength: 8192 });
      const m = new LinearMemory({ buffer: sab });
      expect(m.shared).toBe(true);
      expect(m.maxBytes).toBe(8192);
      m.u8[1] = 11;
      expect(m.grow(4096)).toBe(4096);
      expect(sab.byteLength).toBe(8192);
      expect(m.u8.length).toBe(8192);
      expect(m.u8[1]).toBe(11);
      expect(m.grow(1)).toBe(-1);
      expect(m.byteLength).toBe(8192);
    },
  );

  it("rejects something that is not a buffer with an ArgumentError", () => {
    expect(() => new LinearMemory({ buffer: new Uint8Array(16) as unknown as ArrayBuffer })).toThrow(ArgumentError);
  });
});

describe("LinearMemory: { wasm }", () => {
  it("has the wasm memory's size and bytes", () => {
    const wasm = new WebAssembly.Memory({ initial: 2, maximum: 10 });
    new Uint8Array(wasm.buffer)[70_000] = 17;
    const m = new LinearMemory({ wasm });
    expect(m.wasm).toBe(wasm);
    expect(m.byteLength).toBe(2 * WASM_PAGE);
    expect(m.u8.length).toBe(2 * WASM_PAGE);
    expect(m.u8[70_000]).toBe(17);
    expect(m.shared).toBe(false);
  });

  it("grows in whole 64 KiB pages and returns the old byteLength", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 10 });
    const m = new LinearMemory({ wasm });
    m.u8[WASM_PAGE - 1] = 0xee;
    expect(m.grow(1)).toBe(WASM_PAGE);
    expect(wasm.buffer.byteLength).toBe(2 * WASM_PAGE); // rounded up to a page
    expect(m.byteLength).toBe(2 * WASM_PAGE);
    expect(m.u8.length).toBe(2 * WASM_PAGE);
    expect(m.dv.byteLength).toBe(2 * WASM_PAGE);
    expect(m.u8[WASM_PAGE - 1]).toBe(0xee);
    expect(m.grow(WASM_PAGE + 1)).toBe(2 * WASM_PAGE); // two pages
    expect(m.byteLength).toBe(4 * WASM_PAGE);
    expect(m.grow(0)).toBe(4 * WASM_PAGE);
    expect(m.byteLength).toBe(4 * WASM_PAGE);
  });

  it("stays current when the wasm memory is grown directly behind its back", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 10 });
    const m = new LinearMemory({ wasm });
    m.u8[10] = 1;
    expect(m.byteLength).toBe(WASM_PAGE);
    expect(wasm.grow(1)).toBe(1); // the old buffer is detached
    expect(m.byteLength).toBe(2 * WASM_PAGE);
    expect(m.u8.length).toBe(2 * WASM_PAGE);
    expect(m.dv.byteLength).toBe(2 * WASM_PAGE);
    expect(m.buffer).toBe(wasm.buffer);
    expect(m.u8[10]).toBe(1);
    m.u8[2 * WASM_PAGE - 1] = 9;
    expect(new Uint8Array(wasm.buffer)[2 * WASM_PAGE - 1]).toBe(9);
    // and a grow through the wrapper after that returns the size the module left it at
    expect(m.grow(1)).toBe(2 * WASM_PAGE);
    expect(wasm.buffer.byteLength).toBe(3 * WASM_PAGE);
  });

  it("returns -1 past the wasm memory's maximum, and unchanged", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 3 });
    const m = new LinearMemory({ wasm });
    expect(m.grow(3 * WASM_PAGE)).toBe(-1);
    expect(m.byteLength).toBe(WASM_PAGE);
    expect(m.grow(2 * WASM_PAGE)).toBe(WASM_PAGE);
    expect(m.byteLength).toBe(3 * WASM_PAGE);
    expect(m.grow(1)).toBe(-1);
    expect(m.byteLength).toBe(3 * WASM_PAGE);
    expect(wasm.buffer.byteLength).toBe(3 * WASM_PAGE);
  });

  it("returns -1 past its own maxBytes even where the wasm maximum would allow more", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    const m = new LinearMemory({ wasm, maxBytes: 2 * WASM_PAGE });
    expect(m.maxBytes).toBe(2 * WASM_PAGE);
    expect(m.grow(2 * WASM_PAGE)).toBe(-1);
    expect(wasm.buffer.byteLength).toBe(WASM_PAGE);
    expect(m.grow(WASM_PAGE)).toBe(WASM_PAGE);
    expect(m.grow(1)).toBe(-1);
    expect(wasm.buffer.byteLength).toBe(2 * WASM_PAGE);
  });

  it("rejects negative and non-integer deltas with -1", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const m = new LinearMemory({ wasm });
    expect(m.grow(-WASM_PAGE)).toBe(-1);
    expect(m.grow(Number.NaN)).toBe(-1);
    expect(m.grow(0.5)).toBe(-1);
    expect(wasm.buffer.byteLength).toBe(WASM_PAGE);
  });

  it("wraps a shared WebAssembly.Memory as shared and follows its growth", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true } as WebAssembly.MemoryDescriptor);
    const m = new LinearMemory({ wasm });
    expect(m.shared).toBe(true);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    m.u8[3] = 33;
    expect(m.grow(WASM_PAGE)).toBe(WASM_PAGE);
    expect(m.byteLength).toBe(2 * WASM_PAGE);
    wasm.grow(1);
    expect(m.byteLength).toBe(3 * WASM_PAGE);
    expect(m.u8.length).toBe(3 * WASM_PAGE);
    expect(m.u8[3]).toBe(33);
  });

  it("rejects a wasm option that is not a WebAssembly.Memory", () => {
    expect(() => new LinearMemory({ wasm: {} as WebAssembly.Memory })).toThrow(ArgumentError);
  });
});
