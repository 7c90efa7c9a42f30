/**
 * Typed-array views of heap blocks (src/heap/views.ts): mallocArray, callocArray, resizeArray,
 * view, and free(view), on every kind of linear memory, with the C results on failure and the
 * malloc family's errors for anything that is not a view of a live block.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ArgumentError,
  DoubleFreeError,
  Errno,
  Heap,
  InvalidPointerError,
  LinearMemory,
  PhysicalMemory,
  Process,
  type TypedArray,
  type TypedArrayConstructor,
} from "../../src/index.js";
import { KiB, MiB, expectUnchanged, newHeap, snapshot, thrown } from "./helpers/heapKit.js";

const CTORS: ReadonlyArray<TypedArrayConstructor> = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

/** A value of the view's element type for index `i` (bigints for the 64-bit integer views). */
const valueFor = (view: TypedArray, i: number): number | bigint => (view instanceof BigInt64Array || view instanceof BigUint64Array ? BigInt(i * 3 + 1) : (i * 3 + 1) % 100);

function fillView(view: TypedArray): void {
  for (let i = 0; i < view.length; i++) (view as unknown as Array<number | bigint>)[i] = valueFor(view, i);
}

function expectFilled(view: TypedArray, n = view.length): void {
  for (let i = 0; i < n; i++) expect(view[i], `element ${i}`).toBe(valueFor(view, i));
}

function expectError(fn: () => unknown, cls: new (...args: never[]) => Error, words: string): Error {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(cls);
  expect((e as Error).message).toContain(words);
  return e as Error;
}

describe.each([
  ["lp64", 16],
  ["ilp32", 8],
] as const)("mallocArray / callocArray / free(view) (%s)", (dataModel, align) => {
  it.each(CTORS.map((c) => [c.name, c] as const))("%s: a view of the right type and length over a live, aligned block; free(view) frees it", (_, ctor) => {
    const heap = newHeap({ dataModel });
    heap.malloc(24); // so the views do not all start at the same place
    const view = heap.mallocArray(ctor, 37)!;
    expect(view).toBeInstanceOf(ctor);
    expect(view.length).toBe(37);
    expect(view.buffer).toBe(heap.memory.buffer);
    const p = view.byteOffset;
    expect(p % align).toBe(0);
    expect(p % ctor.BYTES_PER_ELEMENT).toBe(0);
    expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(37 * ctor.BYTES_PER_ELEMENT);
    fillView(view);
    expectFilled(view);
    // The view is the block: the heap's own bytes show the writes.
    expect(heap.memory.u8[p]).toBe(new Uint8Array(view.buffer, p, 1)[0]);
    heap.free(view);
    expect(heap.mallocUsableSize(p)).toBe(0);
    heap.check();
  });

  it("callocArray gives zeros, also in memory that held data", () => {
    const heap = newHeap({ dataModel });
    const dirty = heap.mallocArray(Float64Array, 64)!;
    dirty.fill(123.5);
    heap.free(dirty);
    const z = heap.callocArray(Float64Array, 64)!;
    expect(z.byteOffset).toBe(dirty.byteOffset); // the same memory, reused
    expect([...z].every((x) => x === 0)).toBe(true);
    const big = heap.callocArray(BigInt64Array, 3)!;
    expect([...big]).toEqual([0n, 0n, 0n]);
    heap.check();
  });

  it("length 0 gives an empty view over a unique block that free(view) takes back", () => {
    const heap = newHeap({ dataModel });
    const a = heap.mallocArray(Float32Array, 0)!;
    const b = heap.callocArray(Float32Array, 0)!;
    expect(a.length).toBe(0);
    expect(b.length).toBe(0);
    expect(a.byteOffset).not.toBe(b.byteOffset);
    expect(heap.mallocUsableSize(a.byteOffset)).toBeGreaterThan(0);
    heap.free(a);
    heap.free(b);
    heap.check();
  });
});

describe("impossible lengths keep the C result: null with ENOMEM, nothing allocated", () => {
  const bad: Array<[string, number]> = [
    ["-1", -1],
    ["1.5", 1.5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["2**53", 2 ** 53],
    ["2**29 doubles (4 GiB: length * 8 overflows what a heap can hold)", 2 ** 29],
    ["2**31 bytes", 2 ** 31],
  ];
  it.each(bad)("mallocArray(Float64Array, %s)", (_, n) => {
    const heap = newHeap();
    const keep = heap.mallocArray(Int32Array, 4)!;
    keep.set([1, 2, 3, 4]);
    heap.errno = 0;
    const before = snapshot(heap);
    expect(heap.mallocArray(Float64Array, n)).toBeNull();
    expect(heap.errno).toBe(Errno.ENOMEM);
    before.errno = Errno.ENOMEM;
    expectUnchanged(heap, before);
    heap.errno = 0;
    expect(heap.callocArray(Float64Array, n)).toBeNull();
    expect(heap.errno).toBe(Errno.ENOMEM);
    expectUnchanged(heap, before);
    expect([...keep]).toEqual([1, 2, 3, 4]);
    heap.check();
  });

  it("a heap out of memory gives null with ENOMEM, and the views it gave stay good", () => {
    const heap = new Heap({ maxBytes: 256 * KiB });
    const views: Float64Array[] = [];
    let v: Float64Array | null;
    while ((v = heap.mallocArray(Float64Array, 1024)) !== null) {
      v.fill(views.length);
      views.push(v);
    }
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(views.length).toBeGreaterThan(10);
    views.forEach((w, i) => expect(w.every((x) => x === i)).toBe(true));
    for (const w of views) heap.free(w);
    heap.check();
  });
});

describe("resizeArray", () => {
  it("grows and shrinks, keeping the first min(old, new) elements; the old view's block is the new one's or freed", () => {
    const heap = newHeap();
    const a = heap.mallocArray(BigInt64Array, 10)!;
    fillView(a);
    heap.malloc(8); // a neighbour, so that growing moves the block
    const b = heap.resizeArray(a, 5000)!;
    expect(b).toBeInstanceOf(BigInt64Array);
    expect(b.length).toBe(5000);
    expectFilled(b, 10);
    expect(b.byteOffset).not.toBe(a.byteOffset); // moved: the old block is free again
    expect(heap.mallocUsableSize(a.byteOffset)).toBe(0);
    const c = heap.resizeArray(b, 3)!;
    expect(c.byteOffset).toBe(b.byteOffset); // shrinks in place
    expect([...c]).toEqual([1n, 4n, 7n]);
    heap.free(c);
    heap.check();
  });

  it("keeps the view's type, subclasses included", () => {
    class Samples extends Int16Array {}
    const heap = newHeap();
    const s = heap.mallocArray(Samples, 4)!;
    expect(s).toBeInstanceOf(Samples);
    const t = heap.resizeArray(s, 8)!;
    expect(t).toBeInstanceOf(Samples);
    heap.free(t);
  });

  it("on failure returns null with ENOMEM; the old view is still valid, intact and owned", () => {
    const heap = new Heap({ maxBytes: 256 * KiB });
    const v = heap.mallocArray(Uint32Array, 100)!;
    fillView(v);
    for (const n of [2 ** 20, -1, 2.5, 2 ** 40]) {
      heap.errno = 0;
      const before = snapshot(heap);
      expect(heap.resizeArray(v, n), `resizeArray(v, ${n})`).toBeNull();
      expect(heap.errno).toBe(Errno.ENOMEM);
      before.errno = Errno.ENOMEM;
      expectUnchanged(heap, before);
      expectFilled(v);
    }
    heap.free(v); // still owned
    heap.check();
  });

  it("to length 0 keeps a block (unlike realloc(p, 0)): an empty view that free takes back", () => {
    const heap = newHeap();
    const v = heap.mallocArray(Float32Array, 100)!;
    const e = heap.resizeArray(v, 0)!;
    expect(e.length).toBe(0);
    expect(e.byteOffset).toBe(v.byteOffset);
    expect(heap.mallocUsableSize(e.byteOffset)).toBeGreaterThan(0);
    heap.free(e);
    heap.check();
  });

  it("of a freed view throws DoubleFreeError; of a view that is not a block, InvalidPointerError; a length that is not a number, ArgumentError", () => {
    const heap = newHeap();
    const v = heap.mallocArray(Float32Array, 8)!;
    expectError(() => heap.resizeArray(v, "9" as never), ArgumentError, 'resizeArray(): length must be a number, got "9"');
    expectError(() => heap.resizeArray(v.subarray(1), 4), InvalidPointerError, "realloc(): invalid pointer");
    expectError(() => heap.resizeArray(new Float32Array(8), 4), InvalidPointerError, "resizeArray(): invalid pointer (a Float32Array over another buffer");
    heap.free(v);
    expectError(() => heap.resizeArray(v, 16), DoubleFreeError, "realloc(): double free detected");
    heap.check();
  });
});

describe("free(view): only a view of a live block of this heap", () => {
  it("a DataView over a block frees it too", () => {
    const heap = newHeap();
    const p = heap.malloc(64);
    heap.free(new DataView(heap.memory.buffer, p, 64));
    expect(heap.mallocUsableSize(p)).toBe(0);
    heap.check();
  });

  it("anything else throws InvalidPointerError or DoubleFreeError in glibc's words, before any change", () => {
    const heap = newHeap();
    const v = heap.mallocArray(Float64Array, 16)!;
    fillView(v);
    const other = newHeap().mallocArray(Float64Array, 16)!;
    const cases: Array<[string, ArrayBufferView, string]> = [
      ["a view of another heap's buffer", other, "free(): invalid pointer (a Float64Array over another buffer than this heap's)"],
      ["a plain typed array", new Float64Array(16), "free(): invalid pointer (a Float64Array over another buffer than this heap's)"],
      ["an interior view (subarray)", v.subarray(2), "free(): invalid pointer (0x"],
      ["a view at offset 0 of the heap's buffer", new Uint8Array(heap.memory.buffer, 0, 16), "free(): invalid pointer (a Uint8Array at offset 0)"],
      ["a view of the heap's header", new Uint8Array(heap.memory.buffer, 64, 16), "free(): invalid pointer (0x40)"],
    ];
    heap.errno = 0;
    const before = snapshot(heap);
    for (const [what, x, words] of cases) {
      const e = thrown(() => heap.free(x as Float64Array));
      expect(e, what).toBeInstanceOf(InvalidPointerError);
      expect((e as Error).message, what).toContain(words);
    }
    expectUnchanged(heap, before);
    expectFilled(v);
    heap.free(v);
    expectError(() => heap.free(v), DoubleFreeError, "free(): double free detected");
    heap.check();
  });

  it("values that are neither numbers nor views throw ArgumentError, showing the value", () => {
    const heap = newHeap();
    expectError(() => heap.free("16" as never), ArgumentError, 'free(): invalid pointer ("16")');
    expectError(() => heap.free(16n as never), ArgumentError, "free(): invalid pointer (16n)");
    expectError(() => heap.free([16] as never), ArgumentError, "free(): invalid pointer (an Array)");
    expectError(() => heap.free(heap.memory.buffer as never), ArgumentError, "free(): invalid pointer (a SharedArrayBuffer)");
    heap.check();
  });
});

describe("the class argument", () => {
  it.each([
    ["DataView", DataView, "got a function"],
    ["Array", Array, "got a function"],
    ["a number", 4, "got 0x4"],
    ["null", null, "got null"],
    ["a typed array (not its class)", new Float32Array(2), "got a Float32Array"],
  ])("%s is refused with ArgumentError", (_, ctor, words) => {
    const heap = newHeap();
    const before = snapshot(heap);
    for (const call of [() => heap.mallocArray(ctor as never, 4), () => heap.callocArray(ctor as never, 4), () => heap.view(ctor as never, 4096, 1)]) {
      const e = expectError(call, ArgumentError, "the first argument must be a typed-array class");
      expect(e.message).toContain(words);
    }
    expectUnchanged(heap, before);
  });

  it("a length that is not a number is refused with ArgumentError", () => {
    const heap = newHeap();
    expectError(() => heap.mallocArray(Float32Array, "4" as never), ArgumentError, 'mallocArray(): length must be a number, got "4"');
    expectError(() => heap.callocArray(Float32Array, 4n as never), ArgumentError, "callocArray(): length must be a number, got 4n");
  });
});

describe("heap.view(ctor, ptr, length)", () => {
  it("shows a live block as a typed array, within its usable size", () => {
    const heap = newHeap();
    const p = heap.malloc(400);
    const f = heap.view(Float32Array, p, 100);
    f[99] = 2.5;
    expect(heap.memory.dv.getFloat32(p + 396, true)).toBe(2.5);
    const usable = heap.mallocUsableSize(p);
    expect(heap.view(Uint8Array, p, usable).length).toBe(usable);
    expectError(() => heap.view(Uint8Array, p, usable + 1), ArgumentError, `view(): ${usable + 1} elements of 1 bytes do not fit the block`);
    expectError(() => heap.view(Uint8Array, p, -1), ArgumentError, "do not fit");
    expectError(() => heap.view(Uint8Array, p + 16, 1), InvalidPointerError, "view(): invalid pointer");
    expectError(() => heap.view(Uint8Array, "16" as never, 1), ArgumentError, 'view(): invalid pointer ("16")');
    expectError(() => heap.view(Uint8Array, p, "1" as never), ArgumentError, 'view(): length must be a number, got "1"');
    heap.free(heap.view(Float32Array, p, 1));
    expectError(() => heap.view(Float32Array, p, 1), InvalidPointerError, "view(): invalid pointer");
  });
});

describe("views over memories that change", () => {
  it("a non-shared WebAssembly.Memory: growth detaches the old views; heap.view re-makes them; free of a stale view says why", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const heap = new Heap({ memory });
    const v = heap.mallocArray(Int32Array, 16)!;
    fillView(v);
    const p = v.byteOffset;
    const big = heap.malloc(512 * KiB); // grows the memory: its old buffer is detached
    expect(memory.buffer.byteLength).toBeGreaterThan(64 * KiB);
    expect(v.length).toBe(0); // stale
    expectError(() => heap.free(v), InvalidPointerError, "free(): invalid pointer (an Int32Array over a detached buffer: the memory grew");
    const w = heap.view(Int32Array, p, 16);
    expect(w.buffer).toBe(memory.buffer);
    expectFilled(w);
    heap.free(w);
    heap.free(big);
    heap.check();
  });

  it("a shared WebAssembly.Memory: growth gives a new buffer object, and views of the old one still work and free", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
    const heap = new Heap({ memory });
    const v = heap.mallocArray(Float64Array, 16)!;
    fillView(v);
    const big = heap.malloc(512 * KiB);
    expect(memory.buffer).not.toBe(v.buffer);
    expectFilled(v); // the old SharedArrayBuffer still shows the bytes
    const grown = heap.resizeArray(v, 20_000)!;
    expectFilled(grown, 16);
    heap.free(grown);
    heap.free(big);
    heap.check();
  });

  it("a growable SharedArrayBuffer keeps one buffer object: views stay valid across growth", () => {
    const Growable = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer;
    let sab: SharedArrayBuffer;
    try {
      sab = new Growable(64 * KiB, { maxByteLength: 4 * MiB });
    } catch {
      return; // no growable SharedArrayBuffer in this runtime
    }
    if ((sab as unknown as { growable?: boolean }).growable !== true) return;
    const heap = new Heap({ memory: sab });
    const v = heap.mallocArray(Uint16Array, 100)!;
    fillView(v);
    const big = heap.malloc(1 * MiB);
    expect(sab.byteLength).toBeGreaterThan(1 * MiB);
    expectFilled(v);
    heap.free(v);
    heap.free(big);
    heap.check();
  });
});

describe("other heaps", () => {
  it("a concurrent heap makes views under its lock", () => {
    const heap = new Heap({ maxBytes: 4 * MiB, concurrent: true });
    const v = heap.callocArray(Int32Array, 8)!;
    expect([...v]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const w = heap.resizeArray(v, 1000)!;
    heap.free(w);
    heap.check();
  });

  it("a heap attached from another Heap frees the views the first one made", () => {
    const heap = newHeap();
    const v = heap.mallocArray(Float32Array, 8)!;
    const again = Heap.attach(heap.memory);
    again.free(v);
    expect(heap.mallocUsableSize(v.byteOffset)).toBe(0);
    heap.check();
  });

  it("a process's heap has no linear buffer: every view call throws a clear ArgumentError", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }) });
    const heap = proc.heap;
    const p = heap.malloc(64);
    for (const [name, call] of [
      ["mallocArray", () => heap.mallocArray(Float32Array, 4)],
      ["callocArray", () => heap.callocArray(Float32Array, 4)],
      ["view", () => heap.view(Float32Array, p, 4)],
      ["resizeArray", () => heap.resizeArray(new Float32Array(4), 8)],
      ["free", () => heap.free(new Float32Array(4))],
    ] as const) {
      expectError(call, ArgumentError, `${name}(): a process's heap has no linear buffer to view`);
    }
    heap.free(p);
    heap.check();
  });

  it("on a LinearMemory over a caller's ArrayBuffer", () => {
    const heap = new Heap({ memory: new LinearMemory({ buffer: new ArrayBuffer(MiB) }) });
    const v = heap.mallocArray(BigUint64Array, 4)!;
    v[3] = 2n ** 64n - 1n;
    expect(heap.memory.dv.getBigUint64(v.byteOffset + 24, true)).toBe(2n ** 64n - 1n);
    heap.free(v);
    heap.check();
  });
});

describe("docs/heap.md: the sections on typed arrays and on the mistakes the heap names", () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const doc = readFileSync(join(root, "docs", "heap.md"), "utf8").split("\n");
  const from = doc.indexOf("## Typed arrays over the heap");
  const to = doc.indexOf("## The host interface");
  /** Each ```ts block of the sections followed by its ```text block: the code and the lines it must log. */
  const examples: Array<{ code: string; expected: string[] }> = [];
  for (let i = from; i < to; i++) {
    if (doc[i] !== "```ts") continue;
    let j = i + 1;
    while (doc[j] !== "```") j++;
    if (doc[j + 1] !== "" || doc[j + 2] !== "```text") continue;
    let k = j + 3;
    while (doc[k] !== "```") k++;
    examples.push({ code: doc.slice(i + 1, j).join("\n"), expected: doc.slice(j + 3, k) });
  }

  it("has its three examples", () => {
    expect(from).toBeGreaterThan(0);
    expect(to).toBeGreaterThan(from);
    expect(examples).toHaveLength(3);
  });

  it.each([0, 1, 2])("example %i logs what the page shows", async (n) => {
    const { code, expected } = examples[n]!;
    const logged: string[] = [];
    (globalThis as Record<string, unknown>).__heapDocsLog = (...args: unknown[]) => logged.push(args.map(String).join(" "));
    const source = code.replace(/console\.log\(/g, "(globalThis as any).__heapDocsLog(").replace(/from "vmheap"/g, `from ${JSON.stringify(join(root, "src", "index.ts"))}`);
    const dir = mkdtempSync(join(tmpdir(), "vmheap-heap-docs-"));
    try {
      const file = join(dir, `example${n}.ts`);
      writeFileSync(file, source);
      await import(/* @vite-ignore */ file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(logged).toEqual(expected);
  });
});
