/**
 * Snapshots: the state of a heap or of an address space as plain JSON, for recordings,
 * timelines, test fixtures and pictures made elsewhere (`JSON.stringify` it, send it to a
 * page, diff two of them).
 *
 * ```text
 *   HeapSnapshot   { format: "vmheap-heap", version: 1,
 *                    base, alignment,                      where the heap is, its alignment
 *                    chunks:  [{ address, size, kind, ptr, usable, bin? }], heap.chunks()
 *                    mapped:  [{ ptr, start, length, usable }],          blocks with a mapping of their own
 *                    mallinfo: { arena, ordblks, ... },   footprint, maxFootprint, errno }
 *
 *   AddressSpaceSnapshot { format: "vmheap-address-space", version: 1, pageSize, addressBits,
 *                    regions: [{ start, end, perms, offset, name }],    /proc/self/maps, as data
 *                    pages:   [{ address, state, frame, slot, refs, writable, dirty, accessed, cow }],
 *                    status:  { vmSize, vmRss, vmSwap, minorFaults, ... } }
 * ```
 *
 * The shapes are versioned: a reader checks `format` and `version` ({@link checkHeapSnapshot},
 * {@link checkAddressSpaceSnapshot}); a change that removes or redefines a field bumps the
 * version, a new field does not. Every list is sorted by address and every field is a number,
 * a string or a boolean, so two snapshots of the same state are equal as JSON text.
 *
 * Taking an address-space snapshot has no side effects: it reads the page table and the frame
 * counts, never memory through the MMU. A heap snapshot walks the chunk headers (`chunks()`),
 * which for a process's heap are loads through its address space: they leave the TLB and the
 * pages' accessed bits as any load would, and a header page that was swapped out is faulted back in.
 */
import { ArgumentError } from "../errors.js";
import type { ChunkInfo, MallInfo, MappedBlock } from "../heap/Heap.js";
import { PRESENT, SWAPPED, WRITABLE, DIRTY, ACCESSED, COW, pteFrame, pteSwapSlot } from "../paging/pte.js";
import type { AddressSpace, VmStatus } from "../vm/AddressSpace.js";

/** Version of the snapshot shapes ({@link HeapSnapshot}, {@link AddressSpaceSnapshot}). */
export const SNAPSHOT_VERSION = 1;

/** A block that has a mapping of its own (a process's heap: requests at or over the mmap threshold). */
export interface MappedBlockInfo {
  /** The pointer `malloc` returned. */
  ptr: number;
  /** First byte of its mapping. */
  start: number;
  /** Bytes mapped (whole pages). */
  length: number;
  /** `mallocUsableSize(ptr)`. */
  usable: number;
}

/** The heap's totals that a snapshot keeps besides its chunks. */
export interface HeapTotals {
  /** glibc's `mallinfo2`, as {@link Heap.mallinfo} reports it. */
  mallinfo: MallInfo;
  /** `mallocFootprint()`: bytes obtained from the system (brk + mmap). */
  footprint: number;
  /** `mallocMaxFootprint()`: its high-water mark. */
  maxFootprint: number;
  /** The heap's `errno`. */
  errno: number;
}

/**
 * A heap's state as JSON (version 1): its chunks lowest first, its mapped blocks, its totals.
 * Made by {@link snapshotHeap}; replayed by {@link Player.stateAt}.
 */
export interface HeapSnapshot extends HeapTotals {
  /** Always `"vmheap-heap"`. */
  format: "vmheap-heap";
  /** {@link SNAPSHOT_VERSION}. */
  version: number;
  /** Address of the heap's header. */
  base: number;
  /** Alignment of every pointer (16, or 8 for the ilp32 data model). */
  alignment: number;
  /** `heap.chunks()`: every chunk of the brk heap, lowest first, the top chunk last. */
  chunks: ChunkInfo[];
  /** Live blocks with a mapping of their own, by pointer (empty on linear memory). */
  mapped: MappedBlockInfo[];
}

/** One region of an address space, as a line of `/proc/self/maps` says it. */
export interface RegionInfo {
  /** First byte. */
  start: number;
  /** First byte past the region. */
  end: number;
  /** The perms column: `r`, `w`, `x` or `-`, then `p` (private) or `s` (shared). */
  perms: string;
  /** Offset in the file of `start` (0 for anonymous memory). */
  offset: number;
  /** The name column: `[heap]`, `[stack]`, a file's name, or `""`. */
  name: string;
}

/** One page an address space has a page-table entry for. */
export interface PageInfo {
  /** Virtual address of the page. */
  address: number;
  /** `"resident"`: a frame of its own or shared; `"zero"`: mapped to the shared zero page (read, never written); `"swapped"`: in a swap slot. */
  state: "resident" | "zero" | "swapped";
  /** The frame (−1 when swapped). */
  frame: number;
  /** The swap slot (−1 when not swapped). */
  slot: number;
  /** References to its frame or swap slot: more than 1 after `fork` until a copy-on-write copy (0 for the zero page). */
  refs: number;
  /** The PTE lets stores through (false for a copy-on-write page: its next write copies it). */
  writable: boolean;
  /** Written since it was loaded or cleaned. */
  dirty: boolean;
  /** Accessed since the replacement policy last cleared the bit. */
  accessed: boolean;
  /** Copy-on-write: shared after `fork`, or the zero page (a write copies it). */
  cow: boolean;
}

/**
 * An address space's state as JSON (version 1): regions, pages with an entry, counters.
 * Made by {@link snapshotAddressSpace}.
 */
export interface AddressSpaceSnapshot {
  /** Always `"vmheap-address-space"`. */
  format: "vmheap-address-space";
  /** {@link SNAPSHOT_VERSION}. */
  version: number;
  /** Bytes per page. */
  pageSize: number;
  /** Virtual address width (32 or 48). */
  addressBits: number;
  /** The regions, lowest first. */
  regions: RegionInfo[];
  /** Every page with a page-table entry (present, zero or swapped), lowest first. */
  pages: PageInfo[];
  /** {@link AddressSpace.status}. */
  status: VmStatus;
}

/** What {@link snapshotHeap} reads: any heap (`new Heap()`, `process.heap`, or another allocator with the same methods). */
export interface SnapshotSource {
  /** {@link Heap.base}. */
  readonly base: number;
  /** {@link Heap.alignment}. */
  readonly alignment: number;
  /** {@link Heap.errno}. */
  readonly errno: number;
  /** {@link Heap.chunks}. */
  chunks(): ChunkInfo[];
  /** {@link Heap.mallinfo}. */
  mallinfo(): MallInfo;
  /** {@link Heap.mallocFootprint}. */
  mallocFootprint(): number;
  /** {@link Heap.mallocMaxFootprint}. */
  mallocMaxFootprint(): number;
  /** {@link Heap.mallocUsableSize}. */
  mallocUsableSize(ptr: number): number;
}

/**
 * The heap's registry of mapped blocks. `Heap` keeps it to itself (it decides which pointers
 * are mapped blocks); a snapshot only reads it. Another allocator without one has none.
 */
function mappedOf(heap: SnapshotSource): MappedBlockInfo[] {
  const reg = (heap as unknown as { maps?: unknown }).maps;
  if (!(reg instanceof Map)) return [];
  const out: MappedBlockInfo[] = [];
  for (const [ptr, b] of reg as Map<number, MappedBlock>) out.push({ ptr, start: b.start, length: b.length, usable: heap.mallocUsableSize(ptr) });
  return out.sort((a, b) => a.ptr - b.ptr);
}

/** The heap's totals, field by field in a fixed order (so equal totals give equal JSON). */
export function heapTotals(heap: SnapshotSource): HeapTotals {
  const i = heap.mallinfo();
  return {
    mallinfo: {
      arena: i.arena,
      ordblks: i.ordblks,
      smblks: i.smblks,
      hblks: i.hblks,
      hblkhd: i.hblkhd,
      usmblks: i.usmblks,
      fsmblks: i.fsmblks,
      uordblks: i.uordblks,
      fordblks: i.fordblks,
      keepcost: i.keepcost,
    },
    footprint: heap.mallocFootprint(),
    maxFootprint: heap.mallocMaxFootprint(),
    errno: heap.errno,
  };
}

/**
 * The state of `heap` as JSON: its chunks, mapped blocks and totals. O(chunks). Changes
 * nothing in the heap (its `errno` included).
 * @example
 * ```ts
 * import { Heap, snapshotHeap } from "vmheap";
 *
 * const heap = new Heap();
 * heap.malloc(100);
 * const s = snapshotHeap(heap);
 * console.log(s.chunks.map((c) => `${c.kind} ${c.size}`), s.mallinfo.uordblks, s.footprint); // [ 'meta 272', 'used 112', 'top 3984' ] 2192 6176
 * // plain data: store it, send it, diff it
 * console.log(JSON.stringify(s).length > 0, JSON.parse(JSON.stringify(s)).chunks[1].usable); // true 104
 * ```
 */
export function snapshotHeap(heap: SnapshotSource): HeapSnapshot {
  const chunks = heap.chunks().map((c): ChunkInfo => {
    const r: ChunkInfo = { address: c.address, size: c.size, kind: c.kind, ptr: c.ptr, usable: c.usable };
    if (c.bin !== undefined) r.bin = c.bin;
    return r;
  });
  return { format: "vmheap-heap", version: SNAPSHOT_VERSION, base: heap.base, alignment: heap.alignment, chunks, mapped: mappedOf(heap), ...heapTotals(heap) };
}

/**
 * The state of an address space as JSON: its regions (the data of `/proc/self/maps`), every
 * page with a page-table entry, and its counters. O(regions + pages with an entry). Reads the
 * page table only: no access bit, TLB entry or counter changes.
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory, snapshotAddressSpace } from "vmheap";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
 * const a = as.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * as.write8(a, 1);
 * const s = snapshotAddressSpace(as);
 * console.log(s.regions.map((r) => `${r.start.toString(16)}-${r.end.toString(16)} ${r.perms}`)); // [ '7ffff7ffe000-7ffff8000000 rw-p' ]
 * // the second page was never touched: it has no entry
 * console.log(s.pages.map((p) => `${p.address.toString(16)} ${p.state}`)); // [ '7ffff7ffe000 resident' ]
 * ```
 */
export function snapshotAddressSpace(as: AddressSpace): AddressSpaceSnapshot {
  const mem = as.memory;
  const zero = mem.zeroFrame;
  const swap = as.swap;
  const regions: RegionInfo[] = [];
  const pages: PageInfo[] = [];
  for (const v of as.regions()) {
    regions.push({ start: v.start, end: v.end, perms: v.perms(), offset: v.file !== null ? v.offset : 0, name: as.regionName(v) });
    as.pageTable.forEach(v.start, v.end, (va, pte) => {
      const present = (pte & PRESENT) !== 0;
      const swapped = !present && (pte & SWAPPED) !== 0;
      if (!present && !swapped) return;
      const frame = present ? pteFrame(pte) : -1;
      const slot = swapped ? pteSwapSlot(pte) : -1;
      const state = swapped ? "swapped" : frame === zero ? "zero" : "resident";
      const refs = state === "zero" ? 0 : swapped ? (swap !== null ? swap.refCount(slot) : 0) : mem.refCount(frame);
      pages.push({
        address: va,
        state,
        frame,
        slot,
        refs,
        writable: (pte & WRITABLE) !== 0,
        dirty: (pte & DIRTY) !== 0,
        accessed: (pte & ACCESSED) !== 0,
        cow: (pte & COW) !== 0,
      });
    });
  }
  const st = as.status();
  const status: VmStatus = {
    vmSize: st.vmSize,
    vmRss: st.vmRss,
    vmSwap: st.vmSwap,
    minorFaults: st.minorFaults,
    majorFaults: st.majorFaults,
    swapIns: st.swapIns,
    swapOuts: st.swapOuts,
    alignmentFixups: st.alignmentFixups,
  };
  return { format: "vmheap-address-space", version: SNAPSHOT_VERSION, pageSize: as.pageSize, addressBits: as.addressBits, regions, pages, status };
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new ArgumentError(what);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks that `v` is a {@link HeapSnapshot} this version of vmheap reads: the format tag, the
 * version, and the fields' types (not the heap's invariants).
 * @throws ArgumentError saying what is wrong
 * @example
 * ```ts
 * import { Heap, checkHeapSnapshot, snapshotHeap } from "vmheap";
 *
 * const text = JSON.stringify(snapshotHeap(new Heap()));
 * const s: unknown = JSON.parse(text);
 * checkHeapSnapshot(s); // s is a HeapSnapshot from here on
 * console.log(s.format, s.chunks.length); // vmheap-heap 2
 * try {
 *   checkHeapSnapshot({ format: "vmheap-heap", version: 1 });
 * } catch (e) {
 *   console.log((e as Error).message); // heap snapshot: chunks must be a list of { address, size, kind, ptr, usable }
 * }
 * ```
 */
export function checkHeapSnapshot(v: unknown, what = "heap snapshot"): asserts v is HeapSnapshot {
  need(isObj(v), `${what}: not an object`);
  const o = v as Record<string, unknown>;
  need(o.format === "vmheap-heap", `${what}: format must be "vmheap-heap", got ${JSON.stringify(o.format)}`);
  need(o.version === SNAPSHOT_VERSION, `${what}: version ${String(o.version)} is not supported (this is version ${SNAPSHOT_VERSION})`);
  need(Array.isArray(o.chunks) && o.chunks.every((c) => isObj(c) && typeof c.address === "number" && typeof c.size === "number" && typeof c.kind === "string"), `${what}: chunks must be a list of { address, size, kind, ptr, usable }`);
  need(Array.isArray(o.mapped) && o.mapped.every((b) => isObj(b) && typeof b.ptr === "number"), `${what}: mapped must be a list of { ptr, start, length, usable }`);
  need(isObj(o.mallinfo) && typeof o.footprint === "number" && typeof o.maxFootprint === "number" && typeof o.errno === "number", `${what}: mallinfo, footprint, maxFootprint and errno are required`);
}

/**
 * Checks that `v` is an {@link AddressSpaceSnapshot} this version of vmheap reads.
 * @throws ArgumentError saying what is wrong
 * @example
 * ```ts
 * import { AddressSpace, PhysicalMemory, checkAddressSpaceSnapshot, snapshotAddressSpace } from "vmheap";
 *
 * const s: unknown = JSON.parse(JSON.stringify(snapshotAddressSpace(new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }) }))));
 * checkAddressSpaceSnapshot(s);
 * console.log(s.format, s.regions.length); // vmheap-address-space 0
 * try {
 *   checkAddressSpaceSnapshot({ format: "vmheap-heap" });
 * } catch (e) {
 *   console.log((e as Error).message); // address-space snapshot: format must be "vmheap-address-space", got "vmheap-heap"
 * }
 * ```
 */
export function checkAddressSpaceSnapshot(v: unknown, what = "address-space snapshot"): asserts v is AddressSpaceSnapshot {
  need(isObj(v), `${what}: not an object`);
  const o = v as Record<string, unknown>;
  need(o.format === "vmheap-address-space", `${what}: format must be "vmheap-address-space", got ${JSON.stringify(o.format)}`);
  need(o.version === SNAPSHOT_VERSION, `${what}: version ${String(o.version)} is not supported (this is version ${SNAPSHOT_VERSION})`);
  need(Array.isArray(o.regions) && o.regions.every((r) => isObj(r) && typeof r.start === "number" && typeof r.end === "number"), `${what}: regions must be a list of { start, end, perms, offset, name }`);
  need(Array.isArray(o.pages) && o.pages.every((p) => isObj(p) && typeof p.address === "number"), `${what}: pages must be a list of { address, state, ... }`);
  need(isObj(o.status), `${what}: status is required`);
}
