/**
 * The heap inside a simulated process: the engine of {@link Heap}, unchanged in behaviour,
 * with its memory in the process's {@link AddressSpace}.
 *
 * ```text
 *   engine (PagedEngine.generated.ts)        this file                    the address space
 *   m[this.tr(i)]  read word i  ──────────▶  tr(i): page of i cached? ──no──▶ mmu.translate(4i, "read")
 *   this.w(i, v)   write word i ──────────▶  tw(i): page of i cached? ──no──▶ mmu.translate(4i, "write")
 *                                            yes: RAM word = base + (i & mask)    (TLB, walk, faults,
 *                                                                                  COW, swap-in...)
 *   h.sbrk(n)  ─────────────────────────────────────────────────────────────────▶ the process's brk
 *   h.mmap(n) / h.munmap(a, n)  ─────────────────────────────────────────────────▶ mmap / munmap
 * ```
 *
 * Each access kind has a direct-mapped translation cache of {@link CACHE_ENTRIES} pages: the
 * virtual page and its frame's first word in RAM. The MMU drops entries (see
 * `Mmu.onInvalidate`) whenever it drops TLB entries: on munmap, mprotect, fork, eviction,
 * copy-on-write. Faults, copy-on-write and swapping therefore happen to the heap's own pages
 * exactly as to the program's; only the MMU's TLB counters see the heap's accesses on cache
 * misses alone. Under exact LRU replacement the caches stay off, so that every access is
 * stamped.
 */
import { MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../constants.js";
import { ArgumentError } from "../errors.js";
import type { Mmu } from "../paging/Mmu.js";
import type { AddressSpace } from "../vm/AddressSpace.js";
import type { Brk } from "./Brk.js";
import { ILP32, LP64 } from "./chunk.js";
import { H_BRK } from "./header.js";
import { MAX_HEAP_BYTES, type DataModel, type HeapOptions, type MappedBlock } from "./Heap.js";
import type { HeapHost } from "./host.js";
import { PagedEngine } from "./PagedEngine.generated.js";

/** Pages each of a process heap's two translation caches (reads, writes) holds. */
export const CACHE_ENTRIES = 1024;
const CACHE_MASK = CACHE_ENTRIES - 1;

/** Options of a process's heap: those of {@link HeapOptions} that make sense inside a process. */
export interface ProcessHeapOptions {
  /** Requests at or over this many bytes get a mapping of their own. @defaultValue 131072 */
  mmapThreshold?: number;
  /** Free top space over this many bytes is given back with a negative `sbrk`. @defaultValue 131072 */
  trimThreshold?: number;
  /** Extra bytes obtained on each growth of the break and kept on each trim. @defaultValue 0 */
  topPad?: number;
  /** Field sizes and alignment. @defaultValue "lp64" */
  dataModel?: DataModel;
}

/**
 * A heap's host inside a process: metadata and payload through the address space, memory
 * from the process's break and from anonymous mappings.
 */
class ProcessHost implements HeapHost {
  readonly pageSize: number;
  readonly u32: Int32Array;
  readonly as: AddressSpace;
  readonly brk: Brk;
  /** Where the heap believes the break is; a break moved by someone else stops the heap growing. */
  expected: number;
  /** Address of the heap header's copy of the break (0 until the header exists). */
  cell = 0;
  private readonly u8: Uint8Array;

  constructor(as: AddressSpace, brk: Brk, expected: number) {
    const ram = as.memory.u8;
    this.as = as;
    this.brk = brk;
    this.expected = expected;
    this.pageSize = as.pageSize;
    this.u8 = ram;
    this.u32 = new Int32Array(ram.buffer, ram.byteOffset, ram.byteLength >>> 2);
  }

  ld(addr: number): number {
    return this.as.read32(addr) | 0;
  }
  st(addr: number, value: number): void {
    this.as.write32(addr, value >>> 0);
  }
  copy(dst: number, src: number, length: number): void {
    if (length > 0) this.as.writeBytes(dst, this.as.readBytes(src, length));
  }
  zero(addr: number, length: number): void {
    const mmu = this.as.mmu;
    const ps = this.pageSize;
    while (length > 0) {
      const n = Math.min(length, ps - (addr % ps));
      const pa = mmu.translate(addr, "write");
      this.u8.fill(0, pa, pa + n);
      addr += n;
      length -= n;
    }
  }
  sbrk(increment: number): number {
    // glibc copes with a foreign sbrk by starting a new, non-contiguous segment; this heap is
    // one contiguous segment, so it stops growing (and trimming) instead; big requests still
    // get mappings.
    if (this.brk.current !== this.expected) return -1;
    const r = this.brk.sbrk(increment);
    if (r !== -1) {
      this.expected = r + increment;
      if (this.cell !== 0) this.st(this.cell, this.expected);
    }
    return r;
  }
  mmap(length: number): number {
    const a = this.as.mmap(0, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    return a === MAP_FAILED ? -1 : a;
  }
  munmap(addr: number, length: number): void {
    this.as.munmap(addr, length);
  }
  sync(): void {}
}

/**
 * A {@link Heap} running inside a process: `process.heap`. Small blocks come from the
 * process's `brk` (the heap starts at the break, rounded up to 16, when first used), blocks at
 * or over the mmap threshold from anonymous `mmap` regions that `free` unmaps at once; free
 * top space goes back through `brk`. The C semantics are those of a heap on linear memory.
 * Read and write blocks through the address space (`heap.memory.read8`, `writeBytes`, ...).
 */
export class PagedHeap extends PagedEngine {
  /** Read translations: slot `page & CACHE_MASK` holds a virtual page (-1: none) and the RAM word of its first word. */
  protected rtag!: Int32Array;
  protected rbase!: Int32Array;
  /** The same for writes. */
  protected wtag!: Int32Array;
  protected wbase!: Int32Array;
  /** log2 of words per page, and words per page − 1. */
  protected ps!: number;
  protected pm!: number;
  protected mmu!: Mmu;
  /** Exact LRU: every access must reach the MMU, so the caches stay empty. */
  protected exact!: boolean;
  protected detach!: () => void;

  /**
   * Creates the heap of a process whose break is `brk`, at the break rounded up to 16.
   * @throws ArgumentError on a bad option; OutOfMemoryError / ArgumentError when the break
   *   cannot give the empty heap its first pages
   */
  static create(as: AddressSpace, brk: Brk, opts: ProcessHeapOptions = {}): PagedHeap {
    const model = opts.dataModel ?? "lp64";
    if (model !== "lp64" && model !== "ilp32") throw new ArgumentError(`Process heap: dataModel must be "lp64" or "ilp32", got ${String(model)}`);
    const start = brk.current;
    const hdr = Math.ceil(start / 16) * 16;
    if (hdr >= MAX_HEAP_BYTES) throw new ArgumentError(`Process heap: the break 0x${start.toString(16)} is too high for a heap (addresses stay below 2 GiB)`);
    if (hdr !== start && brk.sbrk(hdr - start) === -1) throw new ArgumentError("Process heap: the break cannot move");
    const host = new ProcessHost(as, brk, hdr);
    const heap = Object.create(PagedHeap.prototype) as PagedHeap;
    heap.init(as, host, hdr, model);
    const limit = Math.min(brk.limit, MAX_HEAP_BYTES);
    if (!heap.format(limit, opts as HeapOptions)) throw new ArgumentError("Process heap: the break cannot give an empty heap its first pages");
    host.cell = hdr + 4 * H_BRK;
    return heap;
  }

  /** The heap of a forked child: the same header and blocks, seen through the child's address space. */
  static forkOf(parent: PagedHeap, as: AddressSpace, brk: Brk): PagedHeap {
    const ph = parent.host as ProcessHost;
    const host = new ProcessHost(as, brk, ph.expected);
    host.cell = ph.cell;
    const heap = Object.create(PagedHeap.prototype) as PagedHeap;
    heap.init(as, host, parent.hdr, parent.layout === ILP32 ? "ilp32" : "lp64");
    for (const [p, b] of parent.maps!) heap.maps!.set(p, b);
    for (const [p, n] of parent.unmapped!) heap.unmapped!.set(p, n);
    heap.errno = parent.errno;
    return heap;
  }

  private init(as: AddressSpace, host: ProcessHost, hdr: number, model: DataModel): void {
    (this as unknown as { memory: AddressSpace }).memory = as;
    this.setUp(host, hdr, model === "ilp32" ? ILP32 : LP64, 0);
    this.maps = new Map<number, MappedBlock>();
    this.unmapped = new Map<number, number>();
    this.rtag = new Int32Array(CACHE_ENTRIES).fill(-1);
    this.rbase = new Int32Array(CACHE_ENTRIES);
    this.wtag = new Int32Array(CACHE_ENTRIES).fill(-1);
    this.wbase = new Int32Array(CACHE_ENTRIES);
    this.ps = Math.log2(as.pageSize) - 2;
    this.pm = (as.pageSize >>> 2) - 1;
    this.mmu = as.mmu;
    this.exact = as.mmu.lastUse !== null;
    this.detach = as.mmu.onInvalidate((vpn) => this.drop(vpn));
  }

  /** Drops the cached translations of page `vpn` (-1: all), as the MMU drops its TLB's. */
  private drop(vpn: number): void {
    if (vpn < 0) {
      this.rtag.fill(-1);
      this.wtag.fill(-1);
      return;
    }
    const k = vpn & CACHE_MASK;
    if (this.rtag[k] === vpn) this.rtag[k] = -1;
    if (this.wtag[k] === vpn) this.wtag[k] = -1;
  }

  /** Stops listening to the address space (the process exited). */
  close(): void {
    this.detach();
    this.drop(-1);
  }

  protected override tr(i: number): number {
    const v = i >>> this.ps;
    const k = v & CACHE_MASK;
    return this.rtag[k] === v ? this.rbase[k]! + (i & this.pm) : this.readMiss(i);
  }

  protected override tw(i: number): number {
    const v = i >>> this.ps;
    const k = v & CACHE_MASK;
    return this.wtag[k] === v ? this.wbase[k]! + (i & this.pm) : this.writeMiss(i);
  }

  protected override w(i: number, x: number): void {
    const v = i >>> this.ps;
    const k = v & CACHE_MASK;
    this.m[this.wtag[k] === v ? this.wbase[k]! + (i & this.pm) : this.writeMiss(i)] = x;
  }

  private readMiss(i: number): number {
    const word = this.mmu.translate(i * 4, "read") >>> 2;
    if (!this.exact) {
      const v = i >>> this.ps;
      const k = v & CACHE_MASK;
      this.rtag[k] = v;
      this.rbase[k] = word - (i & this.pm);
    }
    return word;
  }

  private writeMiss(i: number): number {
    const word = this.mmu.translate(i * 4, "write") >>> 2;
    if (!this.exact) {
      // A page just made writable is readable through the same frame (after copy-on-write,
      // the read cache must not keep the frame the page shared before).
      const v = i >>> this.ps;
      const k = v & CACHE_MASK;
      this.rtag[k] = this.wtag[k] = v;
      this.rbase[k] = this.wbase[k] = word - (i & this.pm);
    }
    return word;
  }
}
