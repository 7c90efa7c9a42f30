// heap.md, "state and sharing": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, LinearMemory } from "../../src/index.js";

const KiB = 1024;

/** A copy of every byte of `buffer`, into a buffer of the same kind. */
function copyOf(buffer: ArrayBufferLike): ArrayBuffer | SharedArrayBuffer {
  const out = buffer instanceof SharedArrayBuffer ? new SharedArrayBuffer(buffer.byteLength) : new ArrayBuffer(buffer.byteLength);
  new Uint8Array(out).set(new Uint8Array(buffer));
  return out;
}

const kinds = {
  "64-bit": () => new Heap({ memory: new LinearMemory({ initialBytes: 256 * KiB, maxBytes: 256 * KiB }) }),
  ilp32: () => new Heap({ memory: new LinearMemory({ initialBytes: 256 * KiB, maxBytes: 256 * KiB }), dataModel: "ilp32" }),
  concurrent: () => new Heap({ concurrent: true }),
  "a WebAssembly.Memory": () => new Heap({ memory: new WebAssembly.Memory({ initial: 4, maximum: 4 }) }),
};

describe("heap.md: 'Every piece of allocator state lives inside the memory it manages (no JS-side free lists): a second Heap attached to the same buffer, e.g. in a worker, sees the same heap; a copy of the bytes is a snapshot of it'", () => {
  it.each(Object.keys(kinds))("a heap attached to the buffer frees what the first allocated, and the first sees it; its free lists serve the first heap's next malloc: %s", (t) => {
    const h = kinds[t as keyof typeof kinds]();
    const ps = Array.from({ length: 20 }, (_, i) => h.malloc(40 + i * 50));
    const buffer = h.memory.buffer;
    const other = Heap.attach(buffer);
    expect(other.dataModel).toBe(h.dataModel);
    for (const p of ps) expect(other.mallocUsableSize(p)).toBe(h.mallocUsableSize(p));
    other.free(ps[5]!);
    expect(() => h.free(ps[5]!)).toThrow(DoubleFreeError);
    // the chunk freed through the other heap is the one the first heap's malloc of that size reuses
    expect(h.malloc(40 + 5 * 50)).toBe(ps[5]);
    expect(other.mallinfo()).toEqual(h.mallinfo());
    h.check();
    other.check();
  });

  it.each(Object.keys(kinds))("a copy of the bytes, attached, holds the blocks and their contents as they were, and goes its own way: %s", (t) => {
    const h = kinds[t as keyof typeof kinds]();
    const ps = Array.from({ length: 20 }, (_, i) => h.malloc(40 + i * 50));
    for (const [i, p] of ps.entries()) h.memory.u8.fill(i + 1, p, p + 40);
    h.free(ps[3]!);
    // (a concurrent heap's arenas keep their locks between calls, so its copy is opened as the
    // snapshot it is: the option says the locks in it belong to no running thread)
    const snap = Heap.attach(copyOf(h.memory.buffer), t === "concurrent" ? { snapshot: true } : {});
    snap.check();
    expect(snap.mallinfo()).toEqual(h.mallinfo());
    for (const [i, p] of ps.entries()) if (i !== 3) expect(snap.memory.u8.subarray(p, p + 40).every((b) => b === i + 1)).toBe(true);
    expect(() => snap.free(ps[3]!)).toThrow(DoubleFreeError); // freed before the copy
    // after the copy: each its own heap
    h.free(ps[4]!);
    expect(() => snap.free(ps[4]!)).not.toThrow();
    expect(() => h.free(ps[4]!)).toThrow(DoubleFreeError);
    snap.check();
    h.check();
  });
});
