/**
 * No surprises at the API's edge: each case here used to fail quietly or with an error that
 * misled (a second heap formatted over a live one, "chunk at undefined" from a transferred
 * buffer, a string size taken as ENOMEM, a misspelt option ignored, a raw RangeError), and
 * now throws a typed error that says what happened, before anything changes.
 */
import { describe, expect, it } from "vitest";
import {
  AddressSpace,
  ArgumentError,
  Brk,
  DetachedMemoryError,
  Errno,
  Heap,
  LinearMemory,
  MAX_HEAP_BYTES,
  Mmu,
  PageTable,
  PhysicalMemory,
  Process,
  SwapSpace,
  Tlb,
  VmError,
  GlibcHeap,
  MemFile,
  heapMap,
  replayGlibcTrace,
} from "../../src/index.js";
import { addressSpaceSvg, framesSvg, heapSvg } from "../../src/viz/index.js";
import { KiB, MiB, expectUnchanged, newHeap, snapshot, thrown } from "./helpers/heapKit.js";

function expectError(fn: () => unknown, cls: new (...args: never[]) => Error, words: string | RegExp): Error {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(cls);
  expect(e).toBeInstanceOf(VmError);
  if (typeof words === "string") expect((e as Error).message).toContain(words);
  else expect((e as Error).message).toMatch(words);
  return e as Error;
}

describe("new Heap({ memory }) over a memory that holds a heap", () => {
  const memories: Array<[string, () => { memory: ArrayBuffer | SharedArrayBuffer | LinearMemory | WebAssembly.Memory; base?: number }]> = [
    ["a SharedArrayBuffer", () => ({ memory: new SharedArrayBuffer(MiB) })],
    ["an ArrayBuffer", () => ({ memory: new ArrayBuffer(MiB) })],
    ["a LinearMemory", () => ({ memory: new LinearMemory({ maxBytes: MiB }) })],
    ["a WebAssembly.Memory, at a base", () => ({ memory: new WebAssembly.Memory({ initial: 2, maximum: 32 }), base: 4096 })],
  ];
  it.each(memories)("%s: throws ArgumentError pointing to Heap.attach; the first heap is untouched", (_, make) => {
    const { memory, base } = make();
    const first = new Heap({ memory, base });
    const p = first.malloc(100);
    first.memory.u8.fill(7, p, p + 100);
    const before = snapshot(first);
    const e = expectError(() => new Heap({ memory, base }), ArgumentError, "this memory already holds a heap");
    expect(e.message).toContain("Heap.attach(memory");
    expect(e.message).toContain("{ overwrite: true }");
    expectUnchanged(first, before);
    first.check();
    // What the message says works: attach opens the same heap.
    const again = Heap.attach(memory, base === undefined ? {} : { base });
    expect(again.mallocUsableSize(p)).toBe(first.mallocUsableSize(p));
  });

  it("a new heap at a base inside a heap at address 0 throws too", () => {
    const sab = new SharedArrayBuffer(MiB);
    const first = new Heap({ memory: sab });
    first.malloc(64 * KiB);
    expectError(() => new Heap({ memory: sab, base: 8192 }), ArgumentError, "already holds a heap (header at 0x0)");
    first.check();
  });

  it("{ overwrite: true } makes a new, empty heap over it", () => {
    const sab = new SharedArrayBuffer(MiB);
    const first = new Heap({ memory: sab });
    const p = first.malloc(100);
    const fresh = new Heap({ memory: sab, overwrite: true });
    expect(fresh.mallocUsableSize(p)).toBe(0);
    expect(fresh.mallinfo().hblks + fresh.chunks().filter((c) => c.kind === "used").length).toBe(0);
    fresh.check();
  });

  it("a memory with no heap, and a heap above the new one's end, are no obstacle", () => {
    const sab = new SharedArrayBuffer(MiB);
    new Heap({ memory: sab, base: 512 * KiB }).malloc(10);
    const low = new Heap({ memory: sab, maxBytes: undefined });
    low.check();
  });
});

describe("a detached ArrayBuffer (transferred away)", () => {
  const MESSAGE = /LinearMemory: the ArrayBuffer was detached \(transferred with postMessage, structuredClone or transfer\(\)\).*Heap\.attach/;

  function detachedHeap(kind: "buffer" | "fresh"): { heap: Heap<LinearMemory>; p: number; moved: ArrayBuffer } {
    const heap = kind === "buffer" ? new Heap({ memory: new ArrayBuffer(MiB) }) : new Heap({ memory: new LinearMemory({ maxBytes: MiB, shared: false }) });
    const p = heap.malloc(100);
    heap.memory.u8.fill(9, p, p + 100);
    const buffer = heap.memory.buffer as ArrayBuffer;
    const moved = structuredClone(buffer, { transfer: [buffer] });
    expect(buffer.byteLength).toBe(0);
    return { heap, p, moved };
  }

  it.each(["buffer", "fresh"] as const)("every call on the heap (%s memory) throws DetachedMemoryError saying so", (kind) => {
    const { heap, p } = detachedHeap(kind);
    const calls: Array<[string, () => unknown]> = [
      ["malloc(10)", () => heap.malloc(10)],
      ["malloc(5000)", () => heap.malloc(5000)],
      ["malloc(1 MiB)", () => heap.malloc(MiB)],
      ["malloc(-1)", () => heap.malloc(-1)],
      ["free(p)", () => heap.free(p)],
      ["free(p + 16)", () => heap.free(p + 16)],
      ["calloc(2, 8)", () => heap.calloc(2, 8)],
      ["realloc(p, 200)", () => heap.realloc(p, 200)],
      ["realloc(0, 8)", () => heap.realloc(0, 8)],
      ["reallocarray(p, 2, 8)", () => heap.reallocarray(p, 2, 8)],
      ["posixMemalign(64, 8)", () => heap.posixMemalign(64, 8)],
      ["alignedAlloc(64, 8)", () => heap.alignedAlloc(64, 8)],
      ["memalign(64, 8)", () => heap.memalign(64, 8)],
      ["mallocUsableSize(p)", () => heap.mallocUsableSize(p)],
      ["mallinfo()", () => heap.mallinfo()],
      ["mallocFootprint()", () => heap.mallocFootprint()],
      ["mallocMaxFootprint()", () => heap.mallocMaxFootprint()],
      ["mallocTrim()", () => heap.mallocTrim()],
      ["mallopt(M_TOP_PAD, 0)", () => heap.mallopt(-2, 0)],
      ["check()", () => heap.check()],
      ["chunks()", () => heap.chunks()],
      ["mallocArray", () => heap.mallocArray(Uint8Array, 4)],
      ["view", () => heap.view(Uint8Array, p, 4)],
      ["memory.u8", () => heap.memory.u8],
      ["memory.grow", () => heap.memory.grow(4096)],
      ["Heap.attach(memory)", () => Heap.attach(heap.memory)],
    ];
    for (const [name, call] of calls) {
      const e = thrown(call);
      expect(e, name).toBeInstanceOf(DetachedMemoryError);
      expect((e as Error).message, name).toMatch(MESSAGE);
      expect((e as Error).message, name).not.toContain("undefined");
    }
    heap.free(0); // free(NULL) touches nothing: still a no-op
  });

  it("the heap is where the buffer went: Heap.attach there finds it whole", () => {
    const { p, moved } = detachedHeap("buffer");
    const there = Heap.attach(moved);
    there.check();
    expect(there.mallocUsableSize(p)).toBeGreaterThanOrEqual(100);
    expect(new Uint8Array(moved, p, 100).every((b) => b === 9)).toBe(true);
    there.free(p);
  });

  it("a buffer posted with a MessagePort (transfer list) is detached the same way", () => {
    const buffer = new ArrayBuffer(MiB);
    const heap = new Heap({ memory: buffer });
    heap.malloc(10);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(buffer, [buffer]);
    port1.close();
    port2.close();
    expectError(() => heap.malloc(10), DetachedMemoryError, MESSAGE);
  });

  it("new Heap and Heap.attach over an already detached buffer throw it too", () => {
    const buffer = new ArrayBuffer(MiB);
    structuredClone(buffer, { transfer: [buffer] });
    expectError(() => new Heap({ memory: buffer }), DetachedMemoryError, MESSAGE);
    expectError(() => Heap.attach(buffer), DetachedMemoryError, MESSAGE);
    expectError(() => new LinearMemory({ buffer }), DetachedMemoryError, MESSAGE);
  });

  it("an empty resizable buffer is not taken for a detached one", () => {
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const buffer = new Resizable(64, { maxByteLength: 4096 });
    (buffer as unknown as { resize(n: number): void }).resize(0);
    const m = new LinearMemory({ buffer });
    expect(m.byteLength).toBe(0);
    expect(m.u8.length).toBe(0);
    expect(m.grow(128)).toBe(0);
    expect(m.byteLength).toBe(128);
  });
});

describe("arguments that are not numbers throw ArgumentError showing the value; numbers keep C's results", () => {
  const calls: Array<[string, (heap: Heap<LinearMemory>, p: number) => unknown, string]> = [
    ["malloc(\"100\")", (h) => h.malloc("100" as never), 'malloc(): size must be a number, got "100"'],
    ["malloc(16n)", (h) => h.malloc(16n as never), "malloc(): size must be a number, got 16n"],
    ["malloc()", (h) => (h.malloc as () => number)(), "malloc(): size must be a number, got undefined"],
    ["free(\"16\")", (h) => h.free("16" as never), 'free(): invalid pointer ("16")'],
    ["free(true)", (h) => h.free(true as never), "free(): invalid pointer (true)"],
    ["calloc(\"2\", 8)", (h) => h.calloc("2" as never, 8), 'calloc(): nmemb must be a number, got "2"'],
    ["calloc(2, 8n)", (h) => h.calloc(2, 8n as never), "calloc(): size must be a number, got 8n"],
    ["realloc(p, \"8\")", (h, p) => h.realloc(p, "8" as never), 'realloc(): size must be a number, got "8"'],
    ["realloc(0, \"8\")", (h) => h.realloc(0, "8" as never), 'realloc(): size must be a number, got "8"'],
    ["realloc(\"16\", 8)", (h) => h.realloc("16" as never, 8), 'realloc(): invalid pointer ("16")'],
    ["reallocarray(p, \"2\", 8)", (h, p) => h.reallocarray(p, "2" as never, 8), 'reallocarray(): nmemb must be a number, got "2"'],
    ["reallocarray(p, 2, {})", (h, p) => h.reallocarray(p, 2, {} as never), "reallocarray(): size must be a number, got an Object"],
    ["reallocarray(\"16\", 2, 8)", (h) => h.reallocarray("16" as never, 2, 8), 'realloc(): invalid pointer ("16")'],
    ["posixMemalign(\"64\", 8)", (h) => h.posixMemalign("64" as never, 8), 'posixMemalign(): alignment must be a number, got "64"'],
    ["posixMemalign(64, \"8\")", (h) => h.posixMemalign(64, "8" as never), 'posixMemalign(): size must be a number, got "8"'],
    ["alignedAlloc(64n, 8)", (h) => h.alignedAlloc(64n as never, 8), "alignedAlloc(): alignment must be a number, got 64n"],
    ["alignedAlloc(64, null)", (h) => h.alignedAlloc(64, null as never), "alignedAlloc(): size must be a number, got null"],
    ["memalign(\"64\", 8)", (h) => h.memalign("64" as never, 8), 'memalign(): alignment must be a number, got "64"'],
    ["memalign(16, \"8\")", (h) => h.memalign(16, "8" as never), 'memalign(): size must be a number, got "8"'],
    ["mallocUsableSize(\"16\")", (h) => h.mallocUsableSize("16" as never), 'mallocUsableSize(): invalid pointer ("16")'],
    ["mallocTrim(\"0\")", (h) => h.mallocTrim("0" as never), 'mallocTrim(): pad must be a number, got "0"'],
    ["mallopt(M_TOP_PAD, \"0\")", (h) => h.mallopt(-2, "0" as never), 'mallopt(): value must be a number, got "0"'],
    ["mallopt(\"-2\", 0)", (h) => h.mallopt("-2" as never, 0), 'mallopt(): param must be a number, got "-2"'],
  ];
  it.each(calls)("%s", (_, call, words) => {
    const heap = newHeap();
    const p = heap.malloc(100);
    heap.memory.u8.fill(5, p, p + 100);
    heap.errno = 0;
    const before = snapshot(heap);
    expectError(() => call(heap, p), ArgumentError, words);
    expect(heap.errno).toBe(0);
    expectUnchanged(heap, before);
    heap.check();
  });

  it("the same on a concurrent heap, whose lock is released after the error", () => {
    const heap = new Heap({ maxBytes: 4 * MiB, concurrent: true });
    expectError(() => heap.realloc(heap.malloc(8), "8" as never), ArgumentError, 'realloc(): size must be a number, got "8"');
    expectError(() => heap.calloc(1, "8" as never), ArgumentError, 'calloc(): size must be a number, got "8"');
    expect(heap.malloc(8)).not.toBe(0); // would wait for ever on a lock left held
    heap.check();
  });

  it("the same in a process's heap", () => {
    const heap = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }) }).heap;
    expectError(() => heap.malloc("100" as never), ArgumentError, 'malloc(): size must be a number, got "100"');
    expectError(() => heap.free("16" as never), ArgumentError, 'free(): invalid pointer ("16")');
    heap.check();
  });

  it("impossible numeric sizes still give 0 with ENOMEM (C's result), not an error", () => {
    const heap = newHeap();
    for (const n of [-1, 1.5, NaN, Infinity, 2 ** 40]) {
      heap.errno = 0;
      expect(heap.malloc(n)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
      heap.errno = 0;
      expect(heap.calloc(n, 8)).toBe(0);
      expect(heap.errno).toBe(Errno.ENOMEM);
    }
    expect(heap.posixMemalign(3, 8).err).toBe(Errno.EINVAL);
  });
});

describe("maxBytes and memories beyond what a heap can address", () => {
  it.each([2 ** 31, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER])("maxBytes %d throws ArgumentError naming MAX_HEAP_BYTES", (n) => {
    const e = expectError(() => new Heap({ maxBytes: n }), ArgumentError, `Heap: maxBytes ${n} is more than a heap can address`);
    expect(e.message).toContain(String(MAX_HEAP_BYTES));
  });

  it("maxBytes = MAX_HEAP_BYTES is accepted (the reservation is lazy)", () => {
    let heap: Heap | null = null;
    try {
      heap = new Heap({ maxBytes: MAX_HEAP_BYTES });
    } catch (e) {
      // A machine that cannot even reserve 2 GiB says so in words, not with a RangeError.
      expect(e).toBeInstanceOf(VmError);
      expect((e as Error).message).toContain("cannot reserve");
      return;
    }
    expect(heap.malloc(100)).not.toBe(0);
    heap.check();
  });

  it("a memory of 4 GiB or more throws ArgumentError rather than a heap that cannot start", () => {
    let buffer: ArrayBuffer;
    try {
      buffer = new ArrayBuffer(2 ** 32);
    } catch {
      return; // this machine cannot reserve 4 GiB: nothing to check
    }
    expectError(() => new Heap({ memory: buffer }), ArgumentError, "Heap: a buffer of 4294967296 bytes is more than a heap can address");
    expectError(() => new Heap({ memory: new LinearMemory({ buffer }) }), ArgumentError, "Heap: a memory of 4294967296 bytes is more than a heap can address");
  });
});

describe("unknown option keys throw, naming the closest valid one", () => {
  const memory = (): PhysicalMemory => new PhysicalMemory({ frames: 64 });
  const cases: Array<[string, () => unknown, string]> = [
    ["new Heap({ maxbytes })", () => new Heap({ maxbytes: MiB } as never), 'Heap: unknown option "maxbytes" (did you mean maxBytes?)'],
    ["new Heap({ mmapTreshold })", () => new Heap({ mmapTreshold: 1 } as never), "did you mean mmapThreshold?"],
    ["new Heap({ concurent })", () => new Heap({ concurent: true } as never), "did you mean concurrent?"],
    ["Heap.attach(m, { bsae })", () => Heap.attach(newHeap().memory, { bsae: 0 } as never), 'Heap.attach: unknown option "bsae" (did you mean base?)'],
    ["new LinearMemory({ intialBytes })", () => new LinearMemory({ intialBytes: 4096 } as never), 'LinearMemory: unknown option "intialBytes" (did you mean initialBytes?)'],
    ["new Brk(m, { limt })", () => new Brk(new LinearMemory({ maxBytes: MiB }), { limt: 10 } as never), 'Brk: unknown option "limt" (did you mean limit?)'],
    ["new PhysicalMemory({ frame })", () => new PhysicalMemory({ frames: 4, frame: 4 } as never), 'PhysicalMemory: unknown option "frame" (did you mean frames?)'],
    ["new AddressSpace({ replacment })", () => new AddressSpace({ memory: memory(), replacment: "lru" } as never), "did you mean replacement?"],
    ["new Mmu({ pagetable })", () => new Mmu({ memory: memory(), pagetable: null } as never), 'Mmu: unknown option "pagetable" (did you mean pageTable?)'],
    ["new PageTable({ pagesize })", () => new PageTable({ pagesize: 4096 } as never), "did you mean pageSize?"],
    ["new Tlb({ entires })", () => new Tlb({ entires: 4 } as never), 'Tlb: unknown option "entires" (did you mean entries?)'],
    ["new SwapSpace({ slot })", () => new SwapSpace({ slots: 4, slot: 4 } as never), "did you mean slots?"],
    ["Process.spawn({ stacksize })", () => Process.spawn({ memory: memory(), stacksize: 4096 } as never), 'Process.spawn: unknown option "stacksize" (did you mean stackSize?)'],
    ["Process.spawn({ heap: { topPadd } })", () => Process.spawn({ memory: memory(), heap: { topPadd: 0 } as never }), 'Process.spawn: heap: unknown option "topPadd" (did you mean topPad?)'],
    ["heapMap(heap, { widht })", () => heapMap(newHeap(), { widht: 10 } as never), 'heapMap: unknown option "widht" (did you mean width?)'],
    ["new MemFile(bytes, name, { writeable })", () => new MemFile(new Uint8Array(4096), "f", { writeable: false } as never), 'MemFile: unknown option "writeable" (did you mean writable?)'],
    ["heap.wasmImports({ errorno })", () => newHeap().wasmImports({ errorno: "linux" } as never), 'wasmImports: unknown option "errorno" (did you mean errno?)'],
    ["GlibcHeap.linear(m, { mmapThreshhold })", () => GlibcHeap.linear(new LinearMemory({ maxBytes: MiB }), { mmapThreshhold: 1 } as never), 'GlibcHeap.linear: unknown option "mmapThreshhold" (did you mean mmapThreshold?)'],
    ["replayGlibcTrace(t, { chek })", () => replayGlibcTrace("", { chek: true } as never), 'replayGlibcTrace: unknown option "chek" (did you mean check?)'],
    ["heapSvg(heap, { widht })", () => heapSvg(newHeap(), { widht: 10 } as never), 'heapSvg: unknown option "widht" (did you mean width?)'],
    ["addressSpaceSvg(as, { maxcells })", () => addressSpaceSvg(new AddressSpace({ memory: memory() }), { maxcells: 10 } as never), 'addressSpaceSvg: unknown option "maxcells" (did you mean maxCells?)'],
    ["framesSvg(ram, [], { colums })", () => framesSvg(memory(), [], { colums: 8 } as never), 'framesSvg: unknown option "colums" (did you mean columns?)'],
  ];
  it.each(cases)("%s", (_, make, words) => {
    expectError(make, ArgumentError, words);
  });

  it("a key close to none lists the valid ones", () => {
    expectError(() => new Heap({ size: MiB } as never), ArgumentError, /^Heap: unknown option "size" \(options: (\w+, )+\w+\)$/);
    const e = thrown(() => new Heap({ size: MiB } as never)) as Error;
    for (const key of ["memory", "base", "initialBytes", "maxBytes", "mmapThreshold", "trimThreshold", "topPad", "dataModel", "concurrent", "overwrite"]) expect(e.message).toContain(key);
    expectError(() => new Tlb({ toString: 1 } as never), ArgumentError, 'Tlb: unknown option "toString"');
  });

  it("every valid key is accepted, also when undefined", () => {
    const heap = new Heap({ memory: undefined, base: 0, initialBytes: 65536, maxBytes: MiB, mmapThreshold: 1 << 17, trimThreshold: 1 << 17, topPad: 0, dataModel: "lp64", concurrent: false, overwrite: false });
    heap.check();
    expect(new LinearMemory({ initialBytes: undefined, maxBytes: MiB, shared: false }).maxBytes).toBe(MiB);
  });
});

describe("a concurrent heap on a SharedArrayBuffer whose length is not a multiple of 4", () => {
  it("new Heap throws a clear ArgumentError, not a RangeError", () => {
    expectError(() => new Heap({ memory: new SharedArrayBuffer(MiB + 3), concurrent: true }), ArgumentError, "a concurrent heap needs a SharedArrayBuffer whose byteLength is a multiple of 4, got 1048579");
  });

  it("so does Heap.attach of a concurrent heap copied into such a buffer", () => {
    const heap = new Heap({ memory: new SharedArrayBuffer(MiB), concurrent: true });
    heap.malloc(10);
    const odd = new SharedArrayBuffer(MiB + 1);
    new Uint8Array(odd).set(new Uint8Array(heap.memory.buffer));
    expectError(() => Heap.attach(odd), ArgumentError, "a multiple of 4, got 1048577");
  });

  it("a heap that is not concurrent works on it (its word view ends at the last whole word)", () => {
    const heap = new Heap({ memory: new SharedArrayBuffer(MiB + 3) });
    const p = heap.malloc(1000);
    heap.free(p);
    heap.check();
  });

  it("Heap.attach opens a heap that is not concurrent in such a buffer (an ArrayBuffer too), filled to its end", () => {
    for (const odd of [new SharedArrayBuffer(65536 + 3), new ArrayBuffer(65536 + 1)]) {
      const heap = new Heap({ memory: odd });
      const ps: number[] = [];
      for (let p = heap.malloc(1000); p !== 0; p = heap.malloc(1000)) ps.push(p);
      for (let p = heap.malloc(8); p !== 0; p = heap.malloc(8)) ps.push(p);
      const again = Heap.attach(odd);
      again.check();
      for (const p of ps) again.free(p);
      again.check();
      expect(heap.mallinfo().uordblks).toBe(again.mallinfo().uordblks);
    }
  });
});
