// Checks written from spec/api.md, one `it` per testable sentence, through the package root.
import { describe, expect, it } from "vitest";
import * as vmheap from "../../src/index.js";
import {
  AddressSpace,
  AlignmentFault,
  Brk,
  DoubleFreeError,
  Errno,
  Heap,
  HeapCorruptionError,
  HeapError,
  InvalidPointerError,
  LinearMemory,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MemoryFault,
  OutOfMemoryError,
  PhysicalMemory,
  Process,
  PROT_READ,
  PROT_WRITE,
  ProtectionFault,
  SegmentationFault,
  VmError,
} from "../../src/index.js";

const KiB = 1024;
const MiB = KiB * KiB;

describe("the contract's names", () => {
  it("everything listed is importable from the package root", () => {
    for (const name of [
      "LinearMemory", "Brk", "Heap", "VmError", "HeapError", "DoubleFreeError", "InvalidPointerError",
      "HeapCorruptionError", "MemoryFault", "SegmentationFault", "ProtectionFault", "AlignmentFault",
      "OutOfMemoryError", "PhysicalMemory", "AddressSpace", "SwapSpace", "MemFile", "PageTable", "Mmu",
      "Process", "Errno",
    ]) expect(typeof (vmheap as Record<string, unknown>)[name], name).not.toBe("undefined");
    expect([vmheap.PROT_NONE, vmheap.PROT_READ, vmheap.PROT_WRITE, vmheap.PROT_EXEC]).toEqual([0, 1, 2, 4]);
    expect([vmheap.MAP_SHARED, vmheap.MAP_PRIVATE, vmheap.MAP_FIXED, vmheap.MAP_ANONYMOUS, vmheap.MAP_FIXED_NOREPLACE, vmheap.MAP_FAILED])
      .toEqual([0x01, 0x02, 0x10, 0x20, 0x100000, -1]);
    expect([Errno.ENOMEM, Errno.EINVAL, Errno.EEXIST, Errno.EFAULT, Errno.EACCES]).toEqual([12, 22, 17, 14, 13]);
  });

  it("Heap has every listed method", () => {
    const h = new Heap();
    for (const m of ["malloc", "calloc", "realloc", "reallocarray", "free", "posixMemalign", "alignedAlloc", "memalign",
      "mallocUsableSize", "mallinfo", "mallocFootprint", "mallocMaxFootprint", "mallocTrim", "mallopt", "check",
      "wasmImports", "recover", "mallocArray", "callocArray", "resizeArray"]) {
      expect(typeof (h as unknown as Record<string, unknown>)[m], m).toBe("function");
    }
    expect(typeof Heap.attach).toBe("function");
    expect(h.errno).toBe(0);
  });
});

describe("LinearMemory", () => {
  it("shared defaults to true where SharedArrayBuffer exists", () => {
    const m = new LinearMemory();
    expect(m.u8.buffer).toBeInstanceOf(SharedArrayBuffer);
    const p = new LinearMemory({ shared: false });
    expect(p.u8.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it("grow returns the old byteLength, or -1 when it cannot grow; views are current after a grow", () => {
    for (const shared of [true, false]) {
      const m = new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 256 * KiB, shared });
      const u8 = m.u8;
      u8[100] = 42;
      expect(m.byteLength).toBe(64 * KiB);
      expect(m.grow(64 * KiB)).toBe(64 * KiB);
      expect(m.byteLength).toBe(128 * KiB);
      expect(m.u8.length).toBe(128 * KiB);
      expect(m.dv.byteLength).toBe(128 * KiB);
      expect(m.u8[100]).toBe(42);
      m.u8[128 * KiB - 1] = 7;
      expect(m.dv.getUint8(128 * KiB - 1)).toBe(7);
      expect(m.grow(1024 * KiB)).toBe(-1);
      expect(m.byteLength).toBe(128 * KiB);
      expect(m.grow(0)).toBe(128 * KiB);
    }
  });

  it("wraps a given buffer or a WebAssembly.Memory", () => {
    const buf = new ArrayBuffer(4096);
    new Uint8Array(buf)[5] = 9;
    const m = new LinearMemory({ buffer: buf });
    expect(m.byteLength).toBe(4096);
    expect(m.u8[5]).toBe(9);
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const w = new LinearMemory({ wasm });
    expect(w.byteLength).toBe(64 * KiB);
    expect(w.grow(1)).toBe(64 * KiB);
    expect(wasm.buffer.byteLength).toBe(128 * KiB);
    expect(w.u8.length).toBe(128 * KiB);
    expect(w.grow(10 * 64 * KiB)).toBe(-1);
  });
});

describe("PhysicalMemory", () => {
  it("frames in one SharedArrayBuffer (ArrayBuffer with shared: false); pageSize, frames, freeFrames", () => {
    const ram = new PhysicalMemory({ frames: 16 });
    expect(ram.pageSize).toBe(4096);
    expect(ram.frames).toBe(16);
    expect(ram.freeFrames).toBeGreaterThan(0);
    expect(ram.freeFrames).toBeLessThanOrEqual(16);
    const small = new PhysicalMemory({ frames: 8, pageSize: 32, shared: false });
    expect(small.pageSize).toBe(32);
    const as = new AddressSpace({ memory: ram });
    const free0 = ram.freeFrames;
    const a = as.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < 4; i++) as.write8(a + i * 4096, 1);
    expect(ram.freeFrames).toBe(free0 - 4);
    expect(as.munmap(a, 4 * 4096)).toBe(0);
    expect(ram.freeFrames).toBe(free0);
  });
});

describe("Brk", () => {
  it("works over an AddressSpace: byte-exact break, -1 + ENOMEM into another mapping", () => {
    const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 64 }) });
    const b = new Brk(as, { start: 0x100000 });
    expect(b.start).toBe(0x100000);
    expect(b.sbrk(10)).toBe(0x100000);
    expect(b.current).toBe(0x10000a);
    as.write8(0x100009, 5);
    expect(as.read8(0x100009)).toBe(5);
    expect(as.read8(0x100fff)).toBe(0); // mapped up to the next page boundary
    expect(as.mmap(0x104000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)).toBe(0x104000);
    expect(b.brk(0x104001)).toBe(-1);
    expect(b.errno).toBe(Errno.ENOMEM);
    expect(b.current).toBe(0x10000a);
  });
});

describe("Heap construction", () => {
  it("default: a fresh growable LinearMemory", () => {
    const h = new Heap();
    expect(h.memory).toBeInstanceOf(LinearMemory);
    const before = (h.memory as LinearMemory).byteLength;
    const p = h.malloc(before * 2);
    expect(p).not.toBe(0);
    expect((h.memory as LinearMemory).byteLength).toBeGreaterThan(before);
  });

  it("memory may be a LinearMemory, a WebAssembly.Memory, an ArrayBuffer or a SharedArrayBuffer", () => {
    const kinds = [
      new LinearMemory({ initialBytes: 256 * KiB }),
      new WebAssembly.Memory({ initial: 4, maximum: 16 }),
      new ArrayBuffer(256 * KiB),
      new SharedArrayBuffer(256 * KiB),
    ];
    for (const memory of kinds) {
      const h = new Heap({ memory });
      const p = h.malloc(1000);
      expect(p).not.toBe(0);
      const mem = h.memory as LinearMemory;
      mem.u8.fill(1, p, p + 1000);
      mem.dv.setUint32(p, 0xcafe, true);
      expect(mem.dv.getUint32(p, true)).toBe(0xcafe);
      if (!(memory instanceof LinearMemory)) {
        const raw = memory instanceof WebAssembly.Memory ? memory.buffer : memory;
        expect(new Uint8Array(raw)[p + 999]).toBe(1);
      }
      h.free(p);
      h.check();
    }
  });

  it("base: the heap never touches memory below it", () => {
    const wasm = new WebAssembly.Memory({ initial: 2, maximum: 64 });
    const base = 0x10400;
    new Uint8Array(wasm.buffer).fill(0xee, 0, base);
    const h = new Heap({ memory: wasm, base });
    const ps = [];
    for (let i = 0; i < 200; i++) {
      const p = h.malloc(1 + ((i * 97) % 3000));
      expect(p).toBeGreaterThanOrEqual(base);
      ps.push(p);
    }
    for (const p of ps.filter((_, i) => i % 2)) h.free(p);
    const big = h.malloc(300 * KiB); // grows the memory
    expect(big).toBeGreaterThanOrEqual(base);
    expect(wasm.buffer.byteLength).toBeGreaterThan(2 * 64 * KiB);
    const low = new Uint8Array(wasm.buffer, 0, base);
    expect(low.every((b) => b === 0xee)).toBe(true);
  });

  it("options: mmapThreshold, trimThreshold, topPad, initialBytes, maxBytes are accepted", () => {
    const h = new Heap({ initialBytes: 128 * KiB, maxBytes: 4 * MiB, mmapThreshold: 64 * KiB, trimThreshold: 256 * KiB, topPad: 0 });
    expect(h.malloc(8 * MiB)).toBe(0);
    expect(h.errno).toBe(Errno.ENOMEM);
    expect(h.malloc(1 * MiB)).not.toBe(0);
  });
});

describe("Heap methods", () => {
  it("mallocFootprint counts bytes obtained; mallocMaxFootprint is its high-water mark", () => {
    const h = new Heap();
    const f0 = h.mallocFootprint();
    expect(f0).toBeGreaterThanOrEqual(0);
    const ps = Array.from({ length: 30 }, () => h.malloc(10 * KiB));
    const f1 = h.mallocFootprint();
    expect(f1).toBeGreaterThanOrEqual(f0 + 300 * KiB);
    expect(h.mallocMaxFootprint()).toBe(f1);
    for (const p of ps) h.free(p);
    expect(h.mallocMaxFootprint()).toBe(f1);
    expect(h.mallocFootprint()).toBeLessThanOrEqual(f1);
  });

  it("mallopt(param, value) returns 1 on success and 0 on an unknown parameter", () => {
    const h = new Heap();
    expect(h.mallopt(vmheap.M_MMAP_THRESHOLD, 256 * KiB)).toBe(1);
    expect(h.mallopt(vmheap.M_TRIM_THRESHOLD, 256 * KiB)).toBe(1);
    expect(h.mallopt(vmheap.M_TOP_PAD, 0)).toBe(1);
    expect(h.mallopt(12345, 1)).toBe(0);
  });

  it("mallocTrim with no argument", () => {
    const h = new Heap({ trimThreshold: 64 * MiB, mmapThreshold: 64 * MiB });
    const p = h.malloc(2 * MiB);
    h.free(p);
    expect(h.mallocTrim()).toBe(1);
    expect(h.mallocTrim()).toBe(0);
  });

  it("wasmImports(): malloc, free, calloc, realloc, posix_memalign, aligned_alloc, malloc_usable_size", () => {
    const h = new Heap({ memory: new WebAssembly.Memory({ initial: 4, maximum: 64 }), base: 4096, dataModel: "wasm32" });
    const env = h.wasmImports() as unknown as Record<string, (...a: number[]) => number>;
    for (const f of ["malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc", "malloc_usable_size"]) {
      expect(typeof env[f], f).toBe("function");
    }
    const p = env.malloc!(100);
    expect(p).toBeGreaterThanOrEqual(4096);
    expect(env.malloc_usable_size!(p)).toBeGreaterThanOrEqual(100);
    expect(h.mallocUsableSize(p)).toBe(env.malloc_usable_size!(p));
    const memptr = 1024;
    expect(env.posix_memalign!(memptr, 256, 10)).toBe(0);
    const q = new DataView((h.memory as LinearMemory).u8.buffer).getUint32(memptr, true);
    expect(q % 256).toBe(0);
    expect(q).toBeGreaterThanOrEqual(4096);
    expect(env.posix_memalign!(memptr, 3, 10)).toBe(28); // wasi-libc's EINVAL
    // wasm32's pointer size is 4: an alignment of 4 is valid through the imports
    new Uint8Array((h.memory as LinearMemory).u8.buffer).fill(0xaa, memptr + 4, memptr + 8);
    expect(env.posix_memalign!(memptr, 4, 10)).toBe(0);
    const four = new DataView((h.memory as LinearMemory).u8.buffer).getUint32(memptr, true);
    expect(four % 4).toBe(0);
    expect(h.mallocUsableSize(four)).toBeGreaterThanOrEqual(10);
    expect([...(h.memory as LinearMemory).u8.subarray(memptr + 4, memptr + 8)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]); // 4 bytes written
    expect(env.posix_memalign!(memptr, 8, 0xfffffff0)).toBe(48); // wasi-libc's ENOMEM
    expect(new DataView((h.memory as LinearMemory).u8.buffer).getUint32(memptr, true)).toBe(four); // nothing written on failure
    env.free!(four);
    const r = env.realloc!(p, 500);
    expect(h.mallocUsableSize(r)).toBeGreaterThanOrEqual(500);
    env.free!(r);
    env.free!(q);
    const z = env.calloc!(10, 10);
    expect([...(h.memory as LinearMemory).u8.subarray(z, z + 100)].every((b) => b === 0)).toBe(true);
    expect(env.aligned_alloc!(64, 64) % 64).toBe(0);
    h.check();
  });

  it("mallocArray / callocArray / resizeArray give views over blocks; free(view) frees the block", () => {
    const h = new Heap();
    const a = h.mallocArray(Float64Array, 10)!;
    expect(a).toBeInstanceOf(Float64Array);
    expect(a.length).toBe(10);
    expect(a.byteOffset % 16).toBe(0);
    a.set([1, 2, 3]);
    const c = h.callocArray(Int32Array, 100)!;
    expect([...c].every((x) => x === 0)).toBe(true);
    const b = h.resizeArray(a, 1000)!;
    expect(b.length).toBe(1000);
    expect([...b.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(h.mallocArray(Uint8Array, 2 ** 52)).toBeNull();
    expect(h.errno).toBe(Errno.ENOMEM);
    const used = h.mallinfo().uordblks;
    h.free(b as unknown as number);
    h.free(c as unknown as number);
    expect(h.mallinfo().uordblks).toBeLessThan(used);
    h.check();
  });

  it("attach() opens the heap that already lives in a memory", () => {
    const wasm = new WebAssembly.Memory({ initial: 4, maximum: 64 });
    const h = new Heap({ memory: wasm });
    const p = h.malloc(64);
    const h2 = Heap.attach(wasm);
    expect(h2.mallocUsableSize(p)).toBe(h.mallocUsableSize(p));
    const q = h2.malloc(64);
    expect(q).not.toBe(p);
    h.free(q);
    expect(() => h2.free(q)).toThrow(DoubleFreeError);
  });

  it("attach() also opens a heap in a SharedArrayBuffer, as a worker would", () => {
    const sab = new SharedArrayBuffer(256 * KiB);
    const h = new Heap({ memory: sab });
    const p = h.malloc(100);
    new Uint8Array(sab)[p] = 77;
    const other = Heap.attach(sab);
    expect((other.memory as LinearMemory).u8[p]).toBe(77);
    other.free(p);
    expect(() => h.free(p)).toThrow(DoubleFreeError);
    expect(h.malloc(100)).toBe(p);
  });

  it("recover(threadId) returns false when that thread held no lock", () => {
    const h = new Heap();
    expect(h.recover(12345)).toBe(false);
    expect(h.malloc(10)).not.toBe(0);
  });
});

describe("Process heap", () => {
  it("heap.memory is the process's AddressSpace; small blocks from brk, big ones from mmap", () => {
    const p = Process.spawn({ memory: new PhysicalMemory({ frames: 2048 }) });
    const h = p.heap;
    expect(h.memory).toBe(p.as);
    const small = h.malloc(100);
    p.as.write8(small, 3);
    expect(p.as.read8(small)).toBe(3);
    expect(small).toBeLessThan(p.sbrk(0));
    const heapLine = p.maps().split("\n").find((l) => l.endsWith("[heap]"))!;
    const [lo, hi] = heapLine.split(" ")[0]!.split("-").map((x) => parseInt(x, 16)) as [number, number];
    expect(small).toBeGreaterThanOrEqual(lo);
    expect(small).toBeLessThan(hi);
    const big = h.malloc(1 * MiB);
    expect(big).toBeGreaterThan(hi);
  });

  it("allocator 'glibc': the first malloc(100) is at heap start + 0x2a0 and moves the break by 0x21000 (as measured)", () => {
    const p = Process.spawn({ memory: new PhysicalMemory({ frames: 2048 }), heap: { allocator: "glibc" } });
    const start = p.sbrk(0);
    const a = p.heap.malloc(100);
    expect(a - start).toBe(0x2a0);
    expect(p.sbrk(0) - start).toBe(0x21000);
    expect(p.heap.mallocUsableSize(a)).toBe(104);
    const dv = new DataView(p.as.readBytes(a - 8, 8).buffer);
    expect(dv.getUint32(0, true)).toBe(0x71);
    const b = p.heap.malloc(200 * KiB);
    expect(p.heap.mallinfo().hblks).toBe(1);
    p.heap.free(b);
    expect(p.heap.malloc(200 * KiB) - start).toBe(0x310); // from brk after the threshold rose
  });
});

describe("errors", () => {
  it("all extend VmError (which extends Error) and set name", () => {
    const table: Array<[new (...a: never[]) => Error, string, unknown[]]> = [
      [HeapError, "HeapError", [HeapError]],
      [DoubleFreeError, "DoubleFreeError", [HeapError]],
      [InvalidPointerError, "InvalidPointerError", [HeapError]],
      [HeapCorruptionError, "HeapCorruptionError", [HeapError]],
      [MemoryFault, "MemoryFault", [MemoryFault]],
      [SegmentationFault, "SegmentationFault", [MemoryFault]],
      [ProtectionFault, "ProtectionFault", [MemoryFault]],
      [AlignmentFault, "AlignmentFault", [MemoryFault]],
      [OutOfMemoryError, "OutOfMemoryError", []],
    ];
    for (const [ctor, name, parents] of table) {
      expect(ctor.prototype).toBeInstanceOf(VmError);
      expect(ctor.prototype).toBeInstanceOf(Error);
      for (const parent of parents) expect(ctor === parent || ctor.prototype instanceof (parent as never)).toBe(true);
      expect(ctor.name).toBe(name);
    }
    expect(VmError.prototype).toBeInstanceOf(Error);
  });

  it("thrown errors name the operation and the address", () => {
    const h = new Heap();
    const p = h.malloc(10);
    h.free(p);
    try { h.free(p); expect.unreachable(); } catch (e) {
      expect(e).toBeInstanceOf(DoubleFreeError);
      expect((e as Error).name).toBe("DoubleFreeError");
      expect((e as Error).message).toContain("free(): double free detected");
      expect((e as Error).message.toLowerCase()).toContain(p.toString(16));
    }
    try { h.free(p + 3); expect.unreachable(); } catch (e) {
      expect((e as Error).name).toBe("InvalidPointerError");
      expect((e as Error).message).toContain("free(): invalid pointer");
      expect((e as Error).message.toLowerCase()).toContain((p + 3).toString(16));
    }
    const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 8 }) });
    try { as.write8(0xdead000, 1); expect.unreachable(); } catch (e) {
      const f = e as SegmentationFault;
      expect(f.name).toBe("SegmentationFault");
      expect(f.address).toBe(0xdead000);
      expect(f.access).toBe("write");
      expect(f.message.toLowerCase()).toContain("dead000");
    }
    const r = as.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    try { as.write32(r, 1); expect.unreachable(); } catch (e) {
      const f = e as ProtectionFault;
      expect(f.name).toBe("ProtectionFault");
      expect(f.access).toBe("write");
      expect(f.address).toBe(r);
    }
  });
});
