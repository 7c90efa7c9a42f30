/**
 * The heap inside a simulated process: the engine of {@link Heap}, unchanged in behaviour,
 * with its memory in the process's {@link AddressSpace}.
 *
 * ```text
 *   engine (PagedEngine.generated.ts)        this file                    the address space
 *   m[this.tr(i)]  read word i  ──────────▶  tr(i): page of i cached? ──no──▶ mmu.translate(4i, "read")
 *   m[i] = v, written out: page of i in wc? ──no──▶  writeMiss(i) ────────▶ mmu.translate(4i, "write")
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
 *
 * Every call that changes the heap is a transaction: each metadata store logs the word's old
 * value, and the break and the mappings made are noted at the start. When a call fails half
 * way, because RAM and swap ran out (OutOfMemoryError) or a page of the heap was taken away by
 * the program (a fault), everything is put back: the allocating calls then return 0 with
 * ENOMEM (OutOfMemoryError) as C's malloc does, anything else rethrows, and the heap is as it
 * was before the call.
 */
import { MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../constants.js";
import { ArgumentError, DoubleFreeError, HeapCorruptionError, MemoryFault, OutOfMemoryError, VmError, checkOptions, type OptionKeys } from "../errors.js";
import { Errno } from "../errno.js";
import type { Mmu } from "../paging/Mmu.js";
import { PRESENT, pteFrame } from "../paging/pte.js";
import type { AddressSpace } from "../vm/AddressSpace.js";
import type { Brk } from "./Brk.js";
import { CINUSE, ILP32, IS_MMAPPED, LP64, MAX_REQUEST } from "./chunk.js";
import { H_BRK, H_MMAP_COUNT, H_MMAP_MAX, H_MMAP_THRESHOLD } from "./header.js";
import { MAX_HEAP_BYTES, MAX_TOP_PAD, type DataModel, type HeapOptions, type MappedBlock } from "./Heap.js";
import type { HeapHost } from "./host.js";
import { PagedEngine } from "./PagedEngine.generated.js";

/** Metadata stores one call may log for undoing (calls make a few dozen; past this a failing call cannot be undone). */
const UNDO_WORDS = 1 << 14;

/**
 * Bytes saved from each end of a bulk write (copy, zero) for undoing a call: the destination
 * is always one chunk's payload, whose only metadata before the call (a free chunk's links,
 * its footer) lies at its two ends.
 */
const BULK_EDGE = 32;

/** Pages each of a process heap's two translation caches (reads, writes) holds. */
export const CACHE_ENTRIES = 1024;
const CACHE_MASK = CACHE_ENTRIES - 1;

/** Options of a process's heap: those of {@link HeapOptions} that make sense inside a process. */
export interface ProcessHeapOptions {
  /**
   * The malloc algorithm: `"vmheap"` (this library's hardened heap) or `"glibc"` (glibc 2.36's
   * ptmalloc2, exactly: the same addresses relative to the heap start, chunk bytes, break
   * moves and mallinfo2 as a real process; see `GlibcHeap`). @defaultValue "vmheap"
   */
  allocator?: "vmheap" | "glibc";
  /** With `allocator: "glibc"`: where `main_arena` stands (free chunks' links point into it). @defaultValue 0x7ffff7e19c80 */
  arenaAddress?: number;
  /** With `allocator: "glibc"`: `tcache_key` as two 32-bit halves [low, high] (glibc draws it at random). */
  tcacheKey?: readonly [number, number];
  /** Requests at or over this many bytes get a mapping of their own. @defaultValue 131072 */
  mmapThreshold?: number;
  /** Free top space over this many bytes is given back with a negative `sbrk`. @defaultValue 131072 */
  trimThreshold?: number;
  /** Extra bytes obtained on each growth of the break and kept on each trim. @defaultValue 0 (131072 with `allocator: "glibc"`, glibc's `M_TOP_PAD`) */
  topPad?: number;
  /** Field sizes and alignment (the glibc allocator is x86-64's: `"lp64"` only). @defaultValue "lp64" */
  dataModel?: DataModel;
}

/** The keys of {@link ProcessHeapOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<ProcessHeapOptions> = { allocator: 1, mmapThreshold: 1, trimThreshold: 1, topPad: 1, dataModel: 1, arenaAddress: 1, tcacheKey: 1 };

/**
 * Checks a process heap's options when the process is spawned, so that a bad one is reported
 * then rather than at the heap's first use.
 * @throws ArgumentError naming the option
 */
export function checkProcessHeapOptions(o: ProcessHeapOptions): void {
  checkOptions(o, "Process.spawn: heap", OPTION_KEYS);
  if (o.allocator !== undefined && o.allocator !== "vmheap" && o.allocator !== "glibc") {
    throw new ArgumentError(`Process heap: allocator must be "vmheap" or "glibc", got ${String(o.allocator)}`);
  }
  if (o.allocator === "glibc" && o.dataModel === "ilp32") throw new ArgumentError('Process heap: the glibc allocator models x86-64 (dataModel "lp64")');
  if (o.dataModel !== undefined && o.dataModel !== "lp64" && o.dataModel !== "ilp32") {
    throw new ArgumentError(`Process heap: dataModel must be "lp64" or "ilp32", got ${String(o.dataModel)}`);
  }
  // The hardened heap's bounds (Heap's options): every size derived from them stays under 2^31.
  const max = { mmapThreshold: 0x7fff_ffff, trimThreshold: 0x7fff_ffff, topPad: MAX_TOP_PAD };
  for (const k of ["mmapThreshold", "trimThreshold", "topPad"] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new ArgumentError(`Process heap: ${k} must be a non-negative integer, got ${String(v)}`);
    if (v !== undefined && o.allocator !== "glibc" && v > max[k]) throw new ArgumentError(`Process heap: ${k} ${v} is over its largest value, ${max[k]}`);
  }
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
  /** The heap's undo log: told of each word `st` changed, each bulk write, and before the break or the mappings change. */
  log: { stored(addr: number, old: number): void; bulk(addr: number, length: number): void; save(): void } | null = null;
  /** Mappings made since the heap's current call began: [start, length] pairs. */
  readonly made: number[] = [];
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
    if (this.log === null || (addr & 3) !== 0) {
      const old = this.log !== null ? this.as.read32(addr) : 0;
      this.as.write32(addr, value >>> 0);
      if (this.log !== null) this.log.stored(addr, old);
      return;
    }
    // The old value is read from the frame the store will use, once the page is writable: a
    // fresh page costs one fault (the write), as a C store does, not a zero-page read first.
    // (An aligned word does not cross a page.) Logged once done: a store
    // that fails (no frame) changed nothing to undo.
    const old = this.u32[this.as.mmu.translate(addr, "write") >>> 2]! >>> 0;
    this.as.write32(addr, value >>> 0);
    this.log.stored(addr, old);
  }
  copy(dst: number, src: number, length: number): void {
    if (length <= 0) return;
    const bytes = this.as.readBytes(src, length);
    if (this.log !== null) this.log.bulk(dst, length);
    this.as.writeBytes(dst, bytes);
  }
  zero(addr: number, length: number): void {
    const as = this.as;
    const mmu = as.mmu;
    const pt = as.pageTable;
    const zeroFrame = as.memory.zeroFrame;
    const ps = this.pageSize;
    // The heap's memory is anonymous (the break's region): a page with no entry has not been
    // touched since it was mapped, and one on the zero frame has only been read; both read as
    // zero already. glibc's calloc leaves such fresh memory alone, and so does this, so it
    // faults in no page the program has not touched. Each page written is logged on its own.
    const anon = as.regionAt(addr)?.file === null;
    while (length > 0) {
      const n = Math.min(length, ps - (addr % ps));
      const pte = anon ? pt.get(addr) : 0;
      const fresh = anon && (pte === 0 || ((pte & PRESENT) !== 0 && pteFrame(pte) === zeroFrame));
      if (!fresh) {
        if (this.log !== null) this.log.bulk(addr, n);
        const pa = mmu.translate(addr, "write");
        this.u8.fill(0, pa, pa + n);
      }
      addr += n;
      length -= n;
    }
  }
  sbrk(increment: number): number {
    // glibc copes with a foreign sbrk by starting a new, non-contiguous segment; this heap is
    // one contiguous segment, so it stops growing (and trimming) instead; big requests still
    // get mappings.
    if (this.brk.current !== this.expected) return -1;
    if (this.log !== null) this.log.save();
    const r = this.brk.sbrk(increment);
    if (r !== -1) {
      this.expected = r + increment;
      if (this.cell !== 0) this.st(this.cell, this.expected);
    }
    return r;
  }
  mmap(length: number): number {
    if (this.log !== null) this.log.save();
    const a = this.as.mmap(0, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (a === MAP_FAILED) return -1;
    this.made.push(a, length);
    return a;
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
  /**
   * Read translations: entry `k = page & CACHE_MASK` is `rc[2k]`, a virtual page (-1: none),
   * and `rc[2k + 1]`, the RAM word of its first word (side by side: one cache line, one array).
   */
  protected rc!: Int32Array;
  protected mmu!: Mmu;
  /** Exact LRU: every access must reach the MMU, so the caches stay empty. */
  protected exact!: boolean;
  protected detach!: () => void;
  /** Bytes in mapped blocks, and the footprint's high-water mark: numbers, as they can pass 2 GiB. */
  protected mapped!: number;
  protected maxFoot!: number;
  /** The undo log of the host's own stores (mapped blocks' headers, the break's copy): (address, old value). */
  protected hostUndo!: number[];
  /** Bytes a bulk write is about to overwrite: (address, saved bytes), at the ends of its range. */
  protected bulkUndo!: Array<number | Uint8Array>;
  /**
   * Pointers of mapped blocks that have been freed, so that freeing one again is reported as a
   * double free. An entry goes when a new block gets the same pointer.
   */
  protected unmapped!: Set<number>;
  /** Whether {@link PagedHeap.before} holds the state of the current call (saved before the first change of the break or the mappings). */
  protected saved!: boolean;
  /** What the current call started from: the break, the heap's idea of it, the mapped totals. */
  private before!: { brk: number; expected: number; mapped: number; maxFoot: number };

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
    let made = false;
    try {
      made = heap.format(limit, opts as HeapOptions);
    } finally {
      // No heap (the break refused, or no frame for its first page): the break goes back.
      if (!made) {
        heap.close();
        brk.brk(start);
      }
    }
    if (!made) throw new ArgumentError("Process heap: the break cannot give an empty heap its first pages");
    host.cell = hdr + 4 * H_BRK;
    heap.maxFoot = heap.mallocFootprint();
    heap.mapFloor = heap.word(H_MMAP_THRESHOLD);
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
    for (const p of parent.unmapped) heap.unmapped.add(p);
    heap.errno = parent.errno;
    heap.mapped = parent.mapped;
    heap.maxFoot = parent.maxFoot;
    heap.mapFloor = parent.mapFloor;
    return heap;
  }

  private init(as: AddressSpace, host: ProcessHost, hdr: number, model: DataModel): void {
    (this as unknown as { memory: AddressSpace }).memory = as;
    this.setUp(host, hdr, model === "ilp32" ? ILP32 : LP64, 0);
    this.maps = new Map<number, MappedBlock>();
    this.unmapped = new Set<number>();
    this.rc = new Int32Array(2 * CACHE_ENTRIES).fill(-1);
    this.wc = new Int32Array(2 * CACHE_ENTRIES).fill(-1);
    this.ps = Math.log2(as.pageSize) - 2;
    this.pm = (as.pageSize >>> 2) - 1;
    this.mmu = as.mmu;
    this.exact = as.mmu.lastUse !== null;
    this.detach = as.mmu.onInvalidate((vpn) => this.drop(vpn));
    this.mapped = 0;
    this.maxFoot = 0;
    this.undo = new Int32Array(2 * UNDO_WORDS);
    this.undoN = 0;
    this.hostUndo = [];
    this.bulkUndo = [];
    this.saved = false;
    this.before = { brk: 0, expected: 0, mapped: 0, maxFoot: 0 };
    host.log = {
      stored: (addr, old) => this.hostUndo.push(addr, old),
      bulk: (addr, length) => {
        const u = this.bulkUndo;
        const head = Math.min(length, BULK_EDGE);
        u.push(addr, this.as.readBytes(addr, head));
        if (length > head) {
          const tail = Math.min(length - head, BULK_EDGE);
          u.push(addr + length - tail, this.as.readBytes(addr + length - tail, tail));
        }
      },
      save: () => this.save(),
    };
  }

  protected override mappedBytes(): number {
    return this.mapped;
  }
  protected override setMappedBytes(v: number): void {
    this.save();
    this.mapped = v;
  }
  protected override maxFootprint(): number {
    return this.maxFoot;
  }
  protected override setMaxFootprint(v: number): void {
    this.save();
    this.maxFoot = v;
  }

  // ─────────────── blocks in mappings of their own ───────────────

  /** Whether another block may get a mapping of its own (`M_MMAP_MAX`). */
  protected override mapsLeft(): boolean {
    return this.word(H_MMAP_COUNT) < this.word(H_MMAP_MAX);
  }

  /** Whether a request of `size` bytes gets a mapping of its own: at or over `M_MMAP_THRESHOLD`. */
  protected override wantsMap(size: number): boolean {
    return size >= this.word(H_MMAP_THRESHOLD) && this.mapsLeft();
  }

  /**
   * A block of `size` bytes in a fresh mapping of its own, its pointer aligned to `alignment`
   * (glibc's `sysmalloc_mmap`). The chunk header sits right below the pointer, with CINUSE and
   * IS_MMAPPED set and, in the word before it, the bytes of the mapping in front of the chunk
   * (as glibc keeps in `prev_size`). The registry ({@link Heap.maps}), not the header, says
   * which pointers are mapped blocks: a header can be overwritten.
   * @returns the pointer, or 0 when no mapping is available
   */
  protected override mapBlock(size: number, alignment: number): number {
    const h = this.host;
    const W = this.W;
    const page = h.pageSize;
    const extra = alignment > this.layout.align ? alignment : 0;
    const length = Math.ceil((size + this.W2 + extra) / page) * page;
    const start = h.mmap(length);
    if (start === -1) return 0;
    const p = Math.ceil((start + this.W2) / alignment) * alignment;
    const c = p - this.W2;
    h.st(c, c - start);
    h.st(c + W, (start + length - c) | CINUSE | IS_MMAPPED);
    if (W === 8) h.st(c + 12, 0);
    this.maps!.set(p, { start, length });
    this.unmapped.delete(p);
    this.setWord(H_MMAP_COUNT, this.word(H_MMAP_COUNT) + 1);
    this.setMappedBytes(this.mappedBytes() + length);
    this.noteFootprint();
    return p;
  }

  /** Frees mapped block `p`: its mapping goes back at once (glibc's `munmap_chunk`). */
  protected override unmapBlock(p: number): void {
    const b = this.maps!.get(p)!;
    // Stores first (they may fail, and are undone); then what cannot fail or be undone. No
    // caller does anything after this.
    this.setWord(H_MMAP_COUNT, this.word(H_MMAP_COUNT) - 1);
    this.setMappedBytes(this.mappedBytes() - b.length);
    this.maps!.delete(p);
    this.host.munmap(b.start, b.length);
    this.unmapped.add(p);
  }

  /** A freed mapped block's pointer (not inside a live one) freed again is a double free. */
  protected override badPointer(p: number, op: string): never {
    if (this.unmapped.has(p)) {
      let inside = false;
      for (const b of this.maps!.values()) if (p >= b.start && p < b.start + b.length) inside = true;
      if (!inside) throw new DoubleFreeError(op, p);
    }
    return super.badPointer(p, op);
  }

  /**
   * `realloc` of mapped block `p`: kept when the new size fits its mapping, else moved to a
   * new block (which may be mapped or not) and unmapped.
   */
  protected override reallocMapped(p: number, size: number): number {
    if (size === 0) {
      this.unmapBlock(p);
      return 0;
    }
    if (size >>> 0 !== size || size > MAX_REQUEST) {
      this.errno = Errno.ENOMEM;
      return 0;
    }
    const b = this.maps!.get(p)!;
    const usable = b.start + b.length - p;
    if (size <= usable) return p;
    const q = this.mallocImpl(size);
    if (q === 0) return 0;
    this.host.copy(q, p, usable);
    this.unmapBlock(p);
    return q;
  }

  /** Checks the mapped blocks against the registry: their headers and the header's totals. */
  protected override checkMapped(): void {
    let count = 0;
    let bytes = 0;
    const h = this.host;
    for (const [p, b] of this.maps!) {
      const c = p - this.W2;
      if ((h.ld(c + this.W) >>> 0) !== ((b.start + b.length - c) | CINUSE | IS_MMAPPED) >>> 0 || h.ld(c) !== c - b.start) {
        throw new HeapCorruptionError("mapped chunk header is corrupted", "check", c);
      }
      count++;
      bytes += b.length;
    }
    if (count !== this.word(H_MMAP_COUNT) || bytes !== this.mappedBytes()) {
      throw new HeapCorruptionError(`mapped block totals disagree (${count} blocks, ${bytes} bytes)`, "check", this.hdr);
    }
  }

  // ─────────────── calls as transactions ───────────────

  // reallocarray is not wrapped: it changes nothing before it calls realloc, which is.
  override malloc(size: number): number {
    this.begin();
    try {
      return super.malloc(size);
    } catch (e) {
      return this.failed(e, 0);
    }
  }
  override free(ptr: number): void {
    this.begin();
    try {
      super.free(ptr);
    } catch (e) {
      this.failed(e, null);
    }
  }
  override calloc(nmemb: number, size: number): number {
    this.begin();
    try {
      return super.calloc(nmemb, size);
    } catch (e) {
      return this.failed(e, 0);
    }
  }
  override realloc(ptr: number, size: number): number {
    this.begin();
    try {
      return super.realloc(ptr, size);
    } catch (e) {
      return this.failed(e, 0);
    }
  }
  override posixMemalign(alignment: number, size: number): { err: number; ptr: number } {
    this.begin();
    try {
      return super.posixMemalign(alignment, size);
    } catch (e) {
      this.failed(e, 0, false); // posix_memalign reports through its result, never errno
      return { err: Errno.ENOMEM, ptr: 0 };
    }
  }
  override alignedAlloc(alignment: number, size: number): number {
    this.begin();
    try {
      return super.alignedAlloc(alignment, size);
    } catch (e) {
      return this.failed(e, 0);
    }
  }
  override memalign(alignment: number, size: number): number {
    this.begin();
    try {
      return super.memalign(alignment, size);
    } catch (e) {
      return this.failed(e, 0);
    }
  }
  override mallocTrim(pad = 0): 0 | 1 {
    this.begin();
    try {
      return super.mallocTrim(pad);
    } catch (e) {
      return this.failed(e, 0, false);
    }
  }
  override mallopt(param: number, value: number): 0 | 1 {
    this.begin();
    try {
      return super.mallopt(param, value);
    } catch (e) {
      return this.failed(e, 0, false);
    }
  }

  /** Starts a call: empty undo logs; the rest of the state is saved before it first changes. */
  private begin(): void {
    this.undoN = 0;
    if (this.hostUndo.length !== 0) this.hostUndo.length = 0;
    if (this.bulkUndo.length !== 0) this.bulkUndo.length = 0;
    this.saved = false;
  }

  /** Saves what the current call started from, before it moves the break or maps (once per call). */
  private save(): void {
    if (this.saved) return;
    this.saved = true;
    const h = this.host as ProcessHost;
    h.made.length = 0;
    const b = this.before;
    b.brk = h.brk.current;
    b.expected = h.expected;
    b.mapped = this.mapped;
    b.maxFoot = this.maxFoot;
  }

  /**
   * A call threw. In a nested call, lets the outer one handle it. Otherwise undoes the call
   * (metadata stores in reverse order, mappings made, the break, the mapped totals) when the
   * failure came from the address space, and then returns `result` with ENOMEM for running
   * out of memory, or rethrows.
   */
  private failed<R>(e: unknown, result: R, setErrno = true): R {
    if (!(e instanceof OutOfMemoryError || e instanceof MemoryFault)) throw e; // heap errors throw before any change
    if (this.undoN > this.undo.length) throw new VmError(`process heap: a call failed after more than ${UNDO_WORDS} metadata stores and cannot be undone (${(e as Error).message})`);
    this.rollback();
    if (!(e instanceof OutOfMemoryError) || result === null) throw e;
    if (setErrno) this.errno = Errno.ENOMEM;
    return result;
  }

  /**
   * Undoes the current call, newest change first: the ends of bulk writes, the host's stores,
   * the metadata stores, then the mappings it made, the break and the mapped totals. Only
   * stores that happened are logged, so putting them back needs no new frame; the ends of a
   * bulk write that never got that far are left alone.
   */
  private rollback(): void {
    const as = this.as;
    const h = this.host as ProcessHost;
    const bu = this.bulkUndo;
    for (let i = bu.length - 2; i >= 0; i -= 2) {
      const addr = bu[i] as number;
      const old = bu[i + 1] as Uint8Array;
      const cur = as.readBytes(addr, old.length);
      if (cur.some((x, k) => x !== old[k])) as.writeBytes(addr, old);
    }
    bu.length = 0;
    const hu = this.hostUndo;
    for (let n = hu.length - 2; n >= 0; n -= 2) as.write32(hu[n]!, hu[n + 1]!);
    hu.length = 0;
    const u = this.undo;
    for (let n = this.undoN - 2; n >= 0; n -= 2) as.write32(u[n]! * 4, u[n + 1]! >>> 0);
    this.undoN = 0;
    if (!this.saved) return;
    for (let i = 0; i < h.made.length; i += 2) {
      const start = h.made[i]!;
      for (const [p, b] of this.maps!) if (b.start === start) this.maps!.delete(p);
      as.munmap(start, h.made[i + 1]!);
    }
    h.made.length = 0;
    const b = this.before;
    if (h.brk.current !== b.brk && h.brk.current === h.expected) h.brk.brk(b.brk);
    h.expected = b.expected;
    this.mapped = b.mapped;
    this.maxFoot = b.maxFoot;
  }


  private get as(): AddressSpace {
    return this.memory;
  }

  /** Drops the cached translations of page `vpn` (-1: all), as the MMU drops its TLB's. */
  private drop(vpn: number): void {
    if (vpn < 0) {
      this.rc.fill(-1);
      this.wc.fill(-1);
      return;
    }
    const k = (vpn & CACHE_MASK) << 1;
    if (this.rc[k] === vpn) this.rc[k] = -1;
    if (this.wc[k] === vpn) this.wc[k] = -1;
  }

  /** Stops listening to the address space (the process exited). */
  close(): void {
    this.detach();
    this.drop(-1);
  }

  protected override tr(i: number): number {
    const v = i >>> this.ps;
    const k = (v & CACHE_MASK) << 1;
    const c = this.rc;
    return c[k] === v ? c[k + 1]! + (i & this.pm) : this.readMiss(i);
  }



  private readMiss(i: number): number {
    const word = this.mmu.translate(i * 4, "read") >>> 2;
    if (!this.exact) {
      const v = i >>> this.ps;
      const k = (v & CACHE_MASK) << 1;
      this.rc[k] = v;
      this.rc[k + 1] = word - (i & this.pm);
    }
    return word;
  }

  protected override writeMiss(i: number): number {
    const word = this.mmu.translate(i * 4, "write") >>> 2;
    if (!this.exact) {
      // A page just made writable is readable through the same frame (after copy-on-write,
      // the read cache must not keep the frame the page shared before).
      const v = i >>> this.ps;
      const k = (v & CACHE_MASK) << 1;
      this.rc[k] = this.wc[k] = v;
      this.rc[k + 1] = this.wc[k + 1] = word - (i & this.pm);
    }
    return word;
  }
}
