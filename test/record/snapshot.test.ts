/**
 * Snapshots: the documented shapes, filled from the heap's and the address space's own
 * reports; equal states give equal JSON; an address-space snapshot changes nothing; the
 * checkers refuse what they cannot read.
 */
import { describe, expect, it } from "vitest";
import {
  AddressSpace,
  ArgumentError,
  Heap,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MemFile,
  PROT_READ,
  PROT_WRITE,
  PhysicalMemory,
  Process,
  SNAPSHOT_VERSION,
  SwapSpace,
  checkAddressSpaceSnapshot,
  checkHeapSnapshot,
  snapshotAddressSpace,
  snapshotHeap,
  type SnapshotSource,
} from "../../src/index.js";
import { thrown } from "../helpers/common.js";

describe("snapshotHeap", () => {
  it("is the heap's chunks, mapped blocks and totals, versioned", () => {
    const heap = new Heap({ maxBytes: 16 * 1024 * 1024 });
    const p = heap.malloc(100);
    heap.malloc(2 ** 31); // errno = ENOMEM
    const s = snapshotHeap(heap);
    expect(s.format).toBe("vmheap-heap");
    expect(s.version).toBe(SNAPSHOT_VERSION);
    expect(SNAPSHOT_VERSION).toBe(1);
    expect(s.base).toBe(heap.base);
    expect(s.alignment).toBe(16);
    expect(s.chunks).toEqual(heap.chunks());
    expect(s.chunks.find((c) => c.ptr === p)).toEqual({ address: p - 16, size: 112, kind: "used", ptr: p, usable: 104 });
    expect(s.mapped).toEqual([]);
    expect(s.mallinfo).toEqual(heap.mallinfo());
    expect(Object.keys(s.mallinfo)).toEqual(["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"]);
    expect([s.footprint, s.maxFootprint, s.errno]).toEqual([heap.mallocFootprint(), heap.mallocMaxFootprint(), 12]);
    expect(heap.errno).toBe(12);
    expect(JSON.stringify(snapshotHeap(heap))).toBe(JSON.stringify(s));
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(() => checkHeapSnapshot(JSON.parse(JSON.stringify(s)))).not.toThrow();
  });

  it("lists a process heap's blocks that have mappings of their own", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 256, shared: false }) });
    const a = proc.heap.malloc(200_000);
    const b = proc.heap.malloc(140_000);
    const s = snapshotHeap(proc.heap);
    expect(s.mapped.map((m) => m.ptr)).toEqual([a, b].sort((x, y) => x - y));
    for (const m of s.mapped) {
      expect(m.start).toBe(m.ptr - 16);
      expect(m.length % 4096).toBe(0);
      expect(m.usable).toBe(proc.heap.mallocUsableSize(m.ptr));
      const region = proc.as.regionAt(m.start)!;
      expect(region.end).toBeGreaterThanOrEqual(m.start + m.length);
      expect(region.perms()).toBe("rw-p");
    }
    expect(s.mallinfo.hblks).toBe(2);
  });

  it("reads any allocator with the same reports (no mapped blocks when it keeps none)", () => {
    const heap = new Heap({ maxBytes: 16 * 1024 * 1024 });
    const other: SnapshotSource = {
      base: heap.base,
      alignment: heap.alignment,
      errno: 0,
      chunks: () => heap.chunks(),
      mallinfo: () => heap.mallinfo(),
      mallocFootprint: () => 1,
      mallocMaxFootprint: () => 2,
      mallocUsableSize: () => 0,
    };
    const s = snapshotHeap(other);
    expect(s.mapped).toEqual([]);
    expect([s.footprint, s.maxFootprint]).toEqual([1, 2]);
  });
});

describe("snapshotAddressSpace", () => {
  const newSpace = (swap = 0): AddressSpace =>
    new AddressSpace({ memory: new PhysicalMemory({ frames: 8, shared: false }), ...(swap > 0 ? { swap: new SwapSpace({ slots: swap }) } : {}), replacement: "fifo" });

  it("lists regions and the pages with an entry: resident, the zero page, untouched ones left out", () => {
    const as = newSpace();
    const a = as.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    as.write8(a, 7);
    as.read8(a + 4096);
    const s = snapshotAddressSpace(as);
    expect(s).toMatchObject({ format: "vmheap-address-space", version: 1, pageSize: 4096, addressBits: 48 });
    expect(s.regions).toEqual([{ start: a, end: a + 3 * 4096, perms: "rw-p", offset: 0, name: "" }]);
    expect(s.pages).toHaveLength(2);
    expect(s.pages[0]).toMatchObject({ address: a, state: "resident", slot: -1, refs: 1, writable: true, dirty: true, accessed: true, cow: false });
    expect(s.pages[1]).toMatchObject({ address: a + 4096, state: "zero", frame: as.memory.zeroFrame, slot: -1, refs: 0, writable: false, dirty: false, cow: true });
    expect(s.status).toEqual(as.status());
    expect(() => checkAddressSpaceSnapshot(JSON.parse(JSON.stringify(s)))).not.toThrow();
  });

  it("shows copy-on-write sharing after fork, swapped pages with their slot, and file regions", () => {
    const as = newSpace(16);
    const a = as.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    as.write8(a, 1);
    as.write8(a + 4096, 2);
    const child = as.fork();
    const s = snapshotAddressSpace(as);
    expect(s.pages.map((p) => [p.state, p.refs, p.writable, p.cow])).toEqual([
      ["resident", 2, false, true],
      ["resident", 2, false, true],
    ]);
    child.write8(a, 9);
    expect(snapshotAddressSpace(child).pages[0]).toMatchObject({ refs: 1, writable: true, cow: false, dirty: true });
    expect(snapshotAddressSpace(as).pages[0]).toMatchObject({ refs: 1, cow: true });

    // Fill RAM so that pages go to swap.
    const b = as.mmap(0, 12 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < 12; i++) as.write8(b + i * 4096, i);
    const swapped = snapshotAddressSpace(as).pages.filter((p) => p.state === "swapped");
    expect(swapped.length).toBeGreaterThan(0);
    for (const p of swapped) {
      expect(p.frame).toBe(-1);
      expect(p.slot).toBeGreaterThanOrEqual(0);
      expect(p.refs).toBe(as.swap!.refCount(p.slot));
    }

    const file = new MemFile(new Uint8Array(3 * 4096), "data.bin");
    const f = as.mmap(0, 4096, PROT_READ, MAP_SHARED, file, 4096);
    expect(snapshotAddressSpace(as).regions.find((r) => r.start === f)).toEqual({ start: f, end: f + 4096, perms: "r--s", offset: 4096, name: "data.bin" });
  });

  it("changes nothing: no accessed bit, TLB counter or fault", () => {
    const as = newSpace();
    const a = as.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    as.write8(a, 1);
    const [hits, misses, status] = [as.mmu.hits, as.mmu.misses, as.status()];
    const s1 = JSON.stringify(snapshotAddressSpace(as));
    const s2 = JSON.stringify(snapshotAddressSpace(as));
    expect(s2).toBe(s1);
    expect([as.mmu.hits, as.mmu.misses, as.status()]).toEqual([hits, misses, status]);
  });
});

describe("snapshot checkers", () => {
  it("refuse what they cannot read, saying why", () => {
    const heap = snapshotHeap(new Heap({ maxBytes: 16 * 1024 * 1024 }));
    const heapCases: [unknown, RegExp][] = [
      [undefined, /heap snapshot: not an object/],
      [{ ...heap, format: "vmheap-address-space" }, /format must be "vmheap-heap", got "vmheap-address-space"/],
      [{ ...heap, version: 0 }, /version 0 is not supported/],
      [{ ...heap, chunks: [{ address: "0" }] }, /chunks must be a list/],
      [{ ...heap, mapped: null }, /mapped must be a list/],
      [{ ...heap, footprint: "1" }, /mallinfo, footprint, maxFootprint and errno are required/],
    ];
    for (const [v, msg] of heapCases) {
      const e = thrown(() => checkHeapSnapshot(v));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toMatch(msg);
    }
    const as = snapshotAddressSpace(new AddressSpace({ memory: new PhysicalMemory({ frames: 4, shared: false }) }));
    const asCases: [unknown, RegExp][] = [
      [5, /address-space snapshot: not an object/],
      [{ ...as, format: "vmheap-heap" }, /format must be "vmheap-address-space"/],
      [{ ...as, version: "1" }, /version 1 is not supported/],
      [{ ...as, regions: [{}] }, /regions must be a list/],
      [{ ...as, pages: {} }, /pages must be a list/],
      [{ ...as, status: [] }, /status is required/],
    ];
    for (const [v, msg] of asCases) {
      const e = thrown(() => checkAddressSpaceSnapshot(v));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toMatch(msg);
    }
  });
});
