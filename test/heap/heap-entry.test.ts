/**
 * The heap alone (`vmheap/heap`, src/heap/index.ts): without the root entry loaded, its Heap has
 * no arenas, so a concurrent heap asked of it (made or attached) is an ArgumentError naming the
 * root entry, thrown before the memory is touched; everything else works. With the root entry
 * loaded, the same class makes concurrent heaps. Each case loads the modules afresh.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";

type HeapEntry = typeof import("../../src/heap/index.js");
type RootEntry = typeof import("../../src/index.js");

const alone = (): Promise<HeapEntry> => import("../../src/heap/index.js");
const root = (): Promise<RootEntry> => import("../../src/index.js");

describe("vmheap/heap: the heap without the arenas of concurrent heaps", () => {
  beforeEach(() => {
    vi.resetModules();
  });

  it("refuses { concurrent: true } with an ArgumentError naming the root entry, the memory untouched", async () => {
    const { Heap, ArgumentError } = await alone();
    const sab = new SharedArrayBuffer(1 << 20);
    new Uint8Array(sab).fill(0x5a);
    let err: unknown = null;
    try {
      new Heap({ memory: sab, concurrent: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toBe(
      `Heap: a concurrent heap needs the arenas of the package's root entry: import { Heap } from "vmheap" (vmheap/heap holds the single-threaded heap alone)`,
    );
    expect(new Uint8Array(sab).every((b) => b === 0x5a)).toBe(true);
  });

  it("refuses to attach a concurrent heap's memory the same way, and attaches a plain heap's", async () => {
    const full = await root();
    const sab = new SharedArrayBuffer(1 << 22);
    const made = new full.Heap({ memory: sab, concurrent: true });
    const p = made.malloc(100);
    const plainBuf = new SharedArrayBuffer(1 << 20);
    const plain = new full.Heap({ memory: plainBuf });
    const empty = plain.mallinfo().uordblks;
    const q = plain.malloc(100);

    vi.resetModules();
    const { Heap, ArgumentError } = await alone();
    const before = new Uint8Array(sab).slice();
    expect(() => Heap.attach(sab)).toThrow(ArgumentError);
    expect(() => Heap.attach(sab)).toThrow(/^Heap\.attach: a concurrent heap needs the arenas of the package's root entry/);
    expect(new Uint8Array(sab)).toEqual(before);
    // The concurrent heap is intact for the root's Heap.
    made.free(p);
    made.check();

    const again = Heap.attach(plainBuf);
    again.free(q);
    again.check();
    expect(again.mallinfo().uordblks).toBe(empty);
  });

  it("does everything else a heap does", async () => {
    const { Heap, DoubleFreeError } = await alone();
    const heap = new Heap();
    const v = heap.mallocArray(Int32Array, 10)!;
    v.fill(3);
    const w = heap.resizeArray(v, 1000)!;
    expect(w[9]).toBe(3);
    heap.free(w);
    expect(() => heap.free(w)).toThrow(DoubleFreeError);
    expect(heap.recover(1)).toBe(false);
    heap.check();
  });

  it("is the root's class: with the root entry loaded, it makes concurrent heaps", async () => {
    const { Heap } = await alone();
    const full = await root();
    expect(full.Heap).toBe(Heap);
    const heap = new Heap({ memory: new SharedArrayBuffer(1 << 22), concurrent: true });
    const p = heap.malloc(64);
    expect(p).toBeGreaterThan(0);
    heap.free(p);
    heap.check();
    expect(heap.threadId).toBeGreaterThanOrEqual(0);
  });
});
