/**
 * glibc 2.36's malloc (ptmalloc2) running inside a simulated process: `process.heap` of a
 * process spawned with `heap: { allocator: "glibc" }`. The same {@link Heap} methods, with
 * glibc's algorithm and numbers: for any sequence of calls, the same addresses relative to
 * the heap start, the same chunk headers and free-list links in memory (safe-linking
 * included), the same break moves and mappings, and the same `malloc_usable_size`,
 * `mallinfo2`, `malloc_trim` and `mallopt` results as glibc 2.36 on x86-64, single-threaded
 * (main arena, default tunables). Every load and store goes through the process's address
 * space, so page faults, RSS and copy-on-write follow from the algorithm.
 *
 * ```text
 *  public call (this file)        glibc function              file
 *  malloc / free / realloc ──────▶ __libc_malloc / _free / …  here: tcache, mapped chunks
 *                                  _int_malloc                malloc.ts
 *                                  _int_free, consolidate     free.ts
 *                                  _int_realloc, _memalign    realloc.ts
 *                                  sysmalloc, systrim, mtrim  sysmalloc.ts
 *                                  main_arena, mp_, tcache    state.ts
 * ```
 *
 * What glibc's checks catch is thrown as the library's typed errors with glibc's messages
 * (`free(): double free detected in tcache 2` is a {@link DoubleFreeError}); what fools glibc
 * fools the model, and a failed check leaves the heap as glibc left it when it aborted. The
 * default allocator (`"vmheap"`) is the hardened one.
 */
import { ArgumentError, HeapCorruptionError, InvalidPointerError, checkOptions, type OptionKeys } from "../../errors.js";
import { Errno } from "../../errno.js";
import { MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, M_MMAP_MAX, M_MMAP_THRESHOLD, M_TOP_PAD, M_TRIM_THRESHOLD, PROT_NONE } from "../../constants.js";
import { LinearMemory } from "../../memory/LinearMemory.js";
import type { AddressSpace } from "../../vm/AddressSpace.js";
import { Brk } from "../Brk.js";
import { Heap, type ChunkInfo, type HeapMemory, type MallInfo } from "../Heap.js";
import { LinearSpace, type GlibcMemory } from "./memory.js";
import { intFree, mallocConsolidate, wraps } from "./free.js";
import {
  ARENA_SIZE,
  CHUNK_HDR_SZ,
  DEFAULT_MMAP_THRESHOLD_MAX,
  IS_MMAPPED,
  M_ARENA_MAX,
  M_ARENA_TEST,
  M_CHECK_ACTION,
  M_MXFAST,
  M_PERTURB,
  MALLOC_ALIGNMENT,
  MAX_FAST_SIZE,
  MINSIZE,
  NBINS,
  NFASTBINS,
  SIZE_SZ,
  TCACHE_MAX_BINS,
  binIndex,
  checkedRequest2size,
  csize2tidx,
  fastbinIndex,
  maxFastFor,
  powerof2,
  protectPtr,
} from "./layout.js";
import { intMalloc, maybeInitTcache, tcacheCount, tcacheGet } from "./malloc.js";
import { intMemalign, intRealloc } from "./realloc.js";
import { DEFAULT_ARENA_ADDRESS, DEFAULT_TCACHE_KEY, MallocState } from "./state.js";
import { mremapChunk, munmapChunk, mtrim } from "./sysmalloc.js";

/** Options of a glibc-model heap (those of a process heap that apply, plus its own). */
export interface GlibcHeapOptions {
  /** `M_MMAP_THRESHOLD` set at start-up, as the `glibc.malloc.mmap_threshold` tunable (disables the dynamic threshold). */
  mmapThreshold?: number;
  /** `M_TRIM_THRESHOLD` set at start-up (disables the dynamic threshold). */
  trimThreshold?: number;
  /** `M_TOP_PAD` set at start-up. @defaultValue 131072 (glibc's default) */
  topPad?: number;
  /** Where `main_arena` stands (free chunks' links point into it). @defaultValue 0x7ffff7e19c80 */
  arenaAddress?: number;
  /** `tcache_key` as two 32-bit halves [low, high] (glibc draws it at random). */
  tcacheKey?: readonly [number, number];
}

/** The keys of {@link GlibcHeapOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<GlibcHeapOptions & { base?: number }> = { mmapThreshold: 1, trimThreshold: 1, topPad: 1, arenaAddress: 1, tcacheKey: 1, base: 1 };

const isPtr = (p: unknown): p is number => typeof p === "number" && Number.isSafeInteger(p) && p >= 0;

function needNumber(name: string, v: unknown): asserts v is number {
  if (typeof v !== "number") throw new ArgumentError(`${name} must be a number, got ${typeof v === "bigint" ? `${String(v)}n` : JSON.stringify(v) ?? String(v)}`);
}

/** A C `int` as mallopt receives it (JavaScript's ToInt32). */
const toInt = (v: number): number => v | 0;
/** An `int` converted to `size_t` (negative values wrap to huge ones). */
const toSize = (v: number): number => (v < 0 ? 2 ** 64 + v : v);

/**
 * The glibc 2.36 allocator of one process (`process.heap` with `allocator: "glibc"`). Use it
 * through the {@link Heap} methods; read and write blocks through `heap.memory` (the process's
 * {@link AddressSpace}).
 *
 * @example
 * ```ts
 * import { PhysicalMemory, Process } from "vmheap";
 *
 * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }), heap: { allocator: "glibc" } });
 * const start = proc.currentBreak;
 * const p = proc.heap.malloc(100);
 * // after the 0x290-byte tcache chunk, as in glibc; the size field reads 0x70 | PREV_INUSE
 * console.log((p - start).toString(16), proc.as.read32(p - 8).toString(16)); // 2a0 71
 * // the break moved by the request plus M_TOP_PAD (128 KiB), page-aligned
 * console.log((proc.currentBreak - start).toString(16)); // 21000
 * // free puts the chunk in the tcache: same address next time, the break stays
 * proc.heap.free(p);
 * console.log(proc.heap.malloc(100) === p, (proc.currentBreak - start).toString(16)); // true 21000
 * ```
 */
export class GlibcHeap<M extends HeapMemory = AddressSpace> extends Heap<M> {
  /** The allocator's state: `main_arena`, `mp_`, the tcache (for teaching tools that show them). */
  protected av!: MallocState;
  /** The break when the heap was set up: offsets in glibc's traces are from here. */
  protected start!: number;
  protected maxFoot!: number;

  /** The glibc heap of a process whose break is `brk` (what `process.heap` is with `allocator: "glibc"`). */
  static create(as: AddressSpace, brk: Brk, opts: GlibcHeapOptions = {}): GlibcHeap {
    const heap = GlibcHeap.over(as, as, brk, opts);
    // In a real process main_arena is in libc's data, so no mmap ever returns its pages. Here
    // nothing is mapped there: reserve them (inaccessible), or a mapped chunk could land on the
    // arena's address, and the model's loads and stores of its header would go to the arena.
    const ps = as.pageSize;
    const lo = Math.floor(heap.av.arena / ps) * ps;
    const hi = Math.ceil((heap.av.arena + ARENA_SIZE) / ps) * ps;
    as.mmap(lo, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
    return heap;
  }

  /**
   * glibc's allocator over a {@link LinearMemory} (an `ArrayBuffer`-like memory with no
   * mmap): every block comes from the break, which starts at `base`, as glibc does when mmap
   * fails; `malloc_trim`'s MADV_DONTNEED zero-fills the pages instead of dropping frames. Use a
   * process (`Process.spawn({ heap: { allocator: "glibc" } })`) to see faults, RSS and mappings.
   *
   * @example
   * ```ts
   * import { GlibcHeap, LinearMemory } from "vmheap";
   *
   * const heap = GlibcHeap.linear(new LinearMemory({ maxBytes: 1 << 24 }), { base: 0x10000 });
   * const p = heap.malloc(100);
   * // after the tcache's chunk, as in a process
   * console.log(p.toString(16)); // 102a0
   * // blocks are read and written through the memory's views
   * heap.memory.u8[p] = 1;
   * heap.free(p);
   * // the tcache_perthread_struct's chunk, the freed block in the tcache, the top
   * console.log(heap.chunks().map((c) => `${c.kind}${c.bin ? ` (${c.bin})` : ""} ${c.size}`).join("\n"));
   * // meta 656
   * // free (tcache) 112
   * // top 134400
   * ```
   * @param opts.base - where the break starts (glibc's heap start), at least 16. @defaultValue 4096
   */
  static linear(memory: LinearMemory, opts: GlibcHeapOptions & { base?: number } = {}): GlibcHeap<LinearMemory> {
    if (!(memory instanceof LinearMemory)) throw new ArgumentError("GlibcHeap.linear: memory must be a LinearMemory");
    checkOptions(opts, "GlibcHeap.linear", OPTION_KEYS);
    const base = opts.base ?? 4096;
    if (!Number.isSafeInteger(base) || base < 16) throw new ArgumentError(`GlibcHeap.linear: base must be an integer of at least 16, got ${String(base)}`);
    const brk = new Brk(memory, { start: base });
    return GlibcHeap.over(memory, new LinearSpace(memory), brk, opts) as unknown as GlibcHeap<LinearMemory>;
  }

  private static over(memory: HeapMemory, space: GlibcMemory, brk: Brk, opts: GlibcHeapOptions): GlibcHeap {
    const heap = Object.create(GlibcHeap.prototype) as GlibcHeap;
    const av = new MallocState(space, brk, opts.arenaAddress ?? DEFAULT_ARENA_ADDRESS, opts.tcacheKey ?? DEFAULT_TCACHE_KEY);
    if (opts.mmapThreshold !== undefined) av.mmapThreshold = opts.mmapThreshold;
    if (opts.trimThreshold !== undefined) av.trimThreshold = opts.trimThreshold;
    if (opts.topPad !== undefined) av.topPad = opts.topPad;
    if (opts.mmapThreshold !== undefined || opts.trimThreshold !== undefined || opts.topPad !== undefined) av.noDynThreshold = true;
    heap.init(memory, av, brk.current);
    return heap;
  }

  /** The heap of a forked child: the same state, over the child's address space and break. */
  static forkOf(parent: GlibcHeap<AddressSpace>, as: AddressSpace, brk: Brk): GlibcHeap {
    const heap = Object.create(GlibcHeap.prototype) as GlibcHeap;
    heap.init(as, parent.av.cloneFor(as, brk), parent.start);
    heap.errno = parent.errno;
    heap.maxFoot = parent.maxFoot;
    return heap;
  }

  private init(memory: HeapMemory, av: MallocState, start: number): void {
    const self = this as unknown as Record<string, unknown>;
    self.memory = memory;
    self.errno = 0;
    self.maps = null;
    self.mapFloor = Infinity;
    self.mode = 0;
    self.lockView = null;
    self.lockHeld = false;
    this.av = av;
    this.start = start;
    this.maxFoot = 0;
  }

  /** Nothing to release: the process's exit frees its pages. */
  close(): void {}

  /** glibc's state, read-only for teaching tools: `main_arena`, `mp_`, the tcache. */
  get state(): Readonly<MallocState> {
    return this.av;
  }

  /** The break before the heap's first call: glibc's heap starts here. */
  override get base(): number {
    return this.start;
  }

  override get alignment(): number {
    return MALLOC_ALIGNMENT;
  }

  /** Runs a call with C's errno carried in and out of the allocator's state. */
  private call<R>(fn: (av: MallocState) => R): R {
    const av = this.av;
    av.errno = this.errno;
    try {
      return fn(av);
    } finally {
      this.errno = av.errno;
      const foot = av.systemMem + av.mmappedMem;
      if (foot > this.maxFoot) this.maxFoot = foot;
    }
  }

  // ─────────────────────────────── malloc family ───────────────────────────────

  /** `malloc(3)` as `__libc_malloc`: the tcache, then `_int_malloc`. @returns the block, or 0 with errno ENOMEM */
  override malloc(size: number): number {
    needNumber("malloc: size", size);
    return this.call((av) => libcMalloc(av, size));
  }

  /** `free(3)` as `__libc_free`: a mapped chunk is unmapped (raising the dynamic thresholds), others go to `_int_free`. errno is kept. */
  override free(ptr: number): void {
    if (ptr === 0) return;
    this.call((av) => libcFree(av, this.pointer("free", ptr)));
  }

  /** `realloc(3)` as `__libc_realloc` (mapped chunks through `mremap`). */
  override realloc(ptr: number, size: number): number {
    needNumber("realloc: size", size);
    if (ptr !== 0) this.pointer("realloc", ptr);
    return this.call((av) => libcRealloc(av, ptr, size));
  }

  /** `reallocarray(3)`: realloc after an overflow check of `nmemb * size`. */
  override reallocarray(ptr: number, nmemb: number, size: number): number {
    needNumber("reallocarray: nmemb", nmemb);
    needNumber("reallocarray: size", size);
    if (!(nmemb >= 0 && size >= 0) || nmemb * size > 2 ** 64 - 1) {
      this.errno = Errno.ENOMEM;
      return 0;
    }
    return this.realloc(ptr, nmemb * size);
  }

  /** `calloc(3)` as `__libc_calloc`: no tcache; memset unless the chunk comes fresh from the top. */
  override calloc(nmemb: number, size: number): number {
    needNumber("calloc: nmemb", nmemb);
    needNumber("calloc: size", size);
    return this.call((av) => libcCalloc(av, nmemb, size));
  }

  /** `memalign(3)` as `_mid_memalign`: alignments up to 16 are malloc; others rounded up to a power of two. */
  override memalign(alignment: number, size: number): number {
    needNumber("memalign: alignment", alignment);
    needNumber("memalign: size", size);
    return this.call((av) => midMemalign(av, alignment, size));
  }

  /** `aligned_alloc(3)`: in glibc 2.36 the same function as memalign (no check of the alignment). */
  override alignedAlloc(alignment: number, size: number): number {
    return this.memalign(alignment, size);
  }

  /** `posix_memalign(3)`: EINVAL unless the alignment is a power-of-two multiple of 8; ENOMEM on failure; errno untouched. */
  override posixMemalign(alignment: number, size: number): {
    /** 0, or the error: EINVAL or ENOMEM */
    err: number;
    /** The block, or 0 */
    ptr: number;
  } {
    needNumber("posix_memalign: alignment", alignment);
    needNumber("posix_memalign: size", size);
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % SIZE_SZ !== 0 || !powerof2(alignment / SIZE_SZ)) return { err: Errno.EINVAL, ptr: 0 };
    const saved = this.errno;
    const ptr = this.call((av) => midMemalign(av, alignment, size));
    this.errno = saved;
    return ptr === 0 ? { err: Errno.ENOMEM, ptr: 0 } : { err: 0, ptr };
  }

  /** `malloc_usable_size(3)` (`musable`): mapped chunks size − 16, chunks in use size − 8, else 0. */
  override mallocUsableSize(ptr: number): number {
    if (ptr === 0) return 0;
    const av = this.av;
    const p = this.pointer("malloc_usable_size", ptr) - CHUNK_HDR_SZ;
    if ((av.head(p) & IS_MMAPPED) !== 0) return av.size(p) - CHUNK_HDR_SZ;
    if (av.inuse(p)) return av.size(p) - CHUNK_HDR_SZ + SIZE_SZ;
    return 0;
  }

  // ─────────────────────────────── control and statistics ───────────────────────────────

  /** `mallinfo2(3)` (`int_mallinfo`): fastbins, bins and top counted as glibc counts them. */
  override mallinfo(): MallInfo {
    const av = this.av;
    let avail = av.size(av.top);
    let nblocks = 1;
    let nfast = 0;
    let fastavail = 0;
    for (let i = 0; i < NFASTBINS; i++) {
      for (let p = av.fastbin(i); p !== 0; p = protectPtr(p + 16, av.fd(p))) {
        if (p % 16 !== 0) av.printerr("int_mallinfo(): unaligned fastbin chunk detected", p);
        nfast++;
        fastavail += av.size(p);
      }
    }
    avail += fastavail;
    for (let i = 1; i < NBINS; i++) {
      const b = av.binAt(i);
      for (let p = av.bk(b); p !== b; p = av.bk(p)) {
        nblocks++;
        avail += av.size(p);
      }
    }
    return {
      arena: av.systemMem,
      ordblks: nblocks,
      smblks: nfast,
      hblks: av.nMmaps,
      hblkhd: av.mmappedMem,
      usmblks: 0,
      fsmblks: fastavail,
      uordblks: av.systemMem - avail,
      fordblks: avail,
      keepcost: av.size(av.top),
    };
  }

  /** Bytes obtained from the system: the arena's (`system_mem`) plus the mapped chunks'. */
  override mallocFootprint(): number {
    return this.av.systemMem + this.av.mmappedMem;
  }

  override mallocMaxFootprint(): number {
    return Math.max(this.maxFoot, this.mallocFootprint());
  }

  /** `malloc_trim(3)` (`mtrim`): whole free pages inside the heap are released too. @returns 1 if anything was released */
  override mallocTrim(pad = 0): 0 | 1 {
    needNumber("malloc_trim: pad", pad);
    // C's size_t: a negative pad is the huge one it wraps to (systrim compares it unsigned).
    const p = Number.isFinite(pad) ? Math.trunc(pad) : 0;
    return this.call((av) => mtrim(av, p));
  }

  /**
   * `mallopt(3)` (`__libc_mallopt`): consolidates the fastbins, then sets the parameter.
   * `M_MXFAST` above 160 is refused (0); other known parameters and unknown ones return 1, as
   * in glibc. Setting a threshold or the top pad disables the dynamic mmap threshold.
   */
  override mallopt(param: number, value: number): 0 | 1 {
    needNumber("mallopt: param", param);
    needNumber("mallopt: value", value);
    const av = this.av;
    const v = toInt(value);
    return this.call(() => {
      mallocConsolidate(av);
      switch (toInt(param)) {
        case M_MXFAST:
          if (toSize(v) > MAX_FAST_SIZE) return 0;
          av.maxFast = maxFastFor(v);
          return 1;
        case M_TRIM_THRESHOLD:
          av.trimThreshold = toSize(v);
          av.noDynThreshold = true;
          return 1;
        case M_TOP_PAD:
          // size_t in glibc; kept signed (see MallocState.topPad) so that -n stays exact.
          av.topPad = v;
          av.noDynThreshold = true;
          return 1;
        case M_MMAP_THRESHOLD:
          av.mmapThreshold = toSize(v);
          av.noDynThreshold = true;
          return 1;
        case M_MMAP_MAX:
          av.nMmapsMax = v;
          av.noDynThreshold = true;
          return 1;
        case M_PERTURB:
          av.perturbByte = v;
          return 1;
        case M_ARENA_TEST:
          if (v > 0) av.arenaTest = v;
          return 1;
        case M_ARENA_MAX:
          if (v > 0) av.arenaMax = v;
          return 1;
        case M_CHECK_ACTION:
        default:
          return 1;
      }
    });
  }

  /** Not available: a process heap is not shared with a wasm module. @throws ArgumentError */
  override wasmImports(): never {
    throw new ArgumentError("wasmImports: a process's heap lives in its address space, not in a wasm memory");
  }

  // ─────────────────────────────── introspection ───────────────────────────────

  /**
   * The chunks of the heap from its start to the top, lowest first, then the mapped chunks.
   * Chunks in the tcache or a fastbin are `"free"` (glibc still marks them in use) with
   * `bin` saying where they wait; the tcache's own chunk is `"meta"`.
   */
  override chunks(): ChunkInfo[] {
    const av = this.av;
    const out: ChunkInfo[] = [];
    if (av.sbrkBase === 0) return out;
    const cached = this.cachedChunks();
    const top = av.top;
    this.walk((p, size, fencepost) => {
      const where = cached.get(p);
      const meta = p + CHUNK_HDR_SZ === av.tcache || fencepost;
      const used = !meta && av.inuseBitAtOffset(p, size) && where === undefined;
      const kind = meta ? "meta" : used ? "used" : "free";
      const info: ChunkInfo & { bin?: string } = { address: p, size, kind, ptr: kind === "used" ? p + CHUNK_HDR_SZ : 0, usable: kind === "used" ? size - SIZE_SZ : 0 };
      if (kind === "free") info.bin = where ?? (inSmallRange(size) ? "small" : "large");
      out.push(info);
    }, "chunks");
    out.push({ address: top, size: av.size(top), kind: "top", ptr: 0, usable: 0 });
    for (const c of [...av.mapped].sort((a, b) => a - b)) {
      const size = av.size(c);
      out.push({ address: c, size, kind: "used", ptr: c + CHUNK_HDR_SZ, usable: size - CHUNK_HDR_SZ });
    }
    return out;
  }

  /**
   * Calls `fn` for every chunk of the heap below the top, stretch by stretch: a stretch ends
   * with glibc's two fenceposts (16-byte chunks marked in use) where the program moved the
   * break behind malloc's back, and the last one at the top.
   * @throws HeapCorruptionError when a size leads nowhere
   */
  private walk(fn: (p: number, size: number, fencepost: boolean) => void, op: string): void {
    const av = this.av;
    const top = av.top;
    const segs = av.segments;
    for (let k = 0; k < segs.length; k++) {
      let p = segs[k]!;
      const last = k === segs.length - 1;
      for (let n = 0; p !== top; n++) {
        const size = av.size(p);
        if (size < CHUNK_HDR_SZ || size % 16 !== 0 || (last && p + size > top) || n > 1 << 24) throw new HeapCorruptionError(`invalid chunk size ${size}`, op, p);
        if (size === CHUNK_HDR_SZ && av.size(p + size) === CHUNK_HDR_SZ) {
          fn(p, size, true);
          fn(p + size, size, true);
          break;
        }
        fn(p, size, false);
        p += size;
      }
      if (p === top) return;
      if (last) throw new HeapCorruptionError("the last stretch of the heap does not end at the top", op, p);
    }
  }

  /**
   * Every non-empty bin with its chunks (chunk addresses, in list order: from the head, along
   * `fd`, links decoded): the tcache bins, the fastbins, the unsorted bin, the small and large
   * bins. For pictures and teaching; the lists are followed at most 2^16 steps each.
   * @example
   * ```ts
   * import { PhysicalMemory, Process, type GlibcHeap } from "vmheap";
   *
   * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 1024 }), heap: { allocator: "glibc" } });
   * const heap = proc.heap as GlibcHeap;
   * const small = [24, 24, 24].map((n) => heap.malloc(n));
   * const big = heap.malloc(2000);
   * heap.malloc(24); // keeps the big chunk away from the top
   * small.forEach((p) => heap.free(p));
   * heap.free(big);
   * console.log(heap.binLists().map((b) => `${b.name}: ${b.chunks.length} chunk(s) of ${b.minSize}..${b.maxSize} B`));
   * // [
   * //   'tcache[0]: 3 chunk(s) of 32..32 B',
   * //   'unsorted: 1 chunk(s) of 2016..2016 B'
   * // ]
   * ```
   */
  binLists(): {
    /** The bin's number within its kind (tcache index, fastbin index, bin index). */
    bin: number;
    /** Its name: `"tcache[3]"`, `"fastbin[1]"`, `"unsorted"`, `"small[5]"`, `"large[64]"`, … */
    name: string;
    /** The size of its smallest chunk, in bytes (a tcache bin or fastbin holds one size). */
    minSize: number;
    /** The size of its largest chunk, in bytes. */
    maxSize: number;
    /** The chunks' addresses, from the head along `fd`. */
    chunks: number[];
  }[] {
    const av = this.av;
    const out: { bin: number; name: string; minSize: number; maxSize: number; chunks: number[] }[] = [];
    const limit = 1 << 16;
    if (av.tcache !== 0) {
      for (let i = 0; i < TCACHE_MAX_BINS; i++) {
        const chunks: number[] = [];
        for (let e = av.ld(av.tcache + 128 + 8 * i); e !== 0 && chunks.length < limit; e = protectPtr(e, av.ld(e))) chunks.push(e - CHUNK_HDR_SZ);
        if (chunks.length > 0) out.push({ bin: i, name: `tcache[${i}]`, minSize: MINSIZE + 16 * i, maxSize: MINSIZE + 16 * i, chunks });
      }
    }
    for (let i = 0; i < NFASTBINS; i++) {
      const chunks: number[] = [];
      for (let p = av.fastbin(i); p !== 0 && chunks.length < limit; p = protectPtr(p + 16, av.fd(p))) chunks.push(p);
      if (chunks.length > 0) out.push({ bin: i, name: `fastbin[${i}]`, minSize: 16 * (i + 2), maxSize: 16 * (i + 2), chunks });
    }
    for (let i = 1; i < NBINS; i++) {
      const b = av.binAt(i);
      const chunks: number[] = [];
      for (let p = av.fd(b); p !== b && chunks.length < limit; p = av.fd(p)) chunks.push(p);
      if (chunks.length === 0) continue;
      const sizes = chunks.map((c) => av.size(c));
      const name = i === 1 ? "unsorted" : i < 64 ? `small[${i}]` : `large[${i}]`;
      out.push({ bin: i, name, minSize: Math.min(...sizes), maxSize: Math.max(...sizes), chunks });
    }
    return out;
  }

  /** Chunks waiting in the tcache or a fastbin, and which. */
  private cachedChunks(): Map<number, string> {
    const av = this.av;
    const where = new Map<number, string>();
    const limit = 1 << 20;
    if (av.tcache !== 0) {
      for (let i = 0; i < TCACHE_MAX_BINS; i++) {
        let n = 0;
        for (let e = av.ld(av.tcache + 128 + 8 * i); e !== 0 && n < limit; e = protectPtr(e, av.ld(e)), n++) where.set(e - CHUNK_HDR_SZ, "tcache");
      }
    }
    for (let i = 0; i < NFASTBINS; i++) {
      let n = 0;
      for (let p = av.fastbin(i); p !== 0 && n < limit; p = protectPtr(p + 16, av.fd(p)), n++) where.set(p, "fastbin");
    }
    // Free chunks in the unsorted bin are marked as such (the others are in small or large bins).
    const u = av.unsorted;
    let n = 0;
    for (let p = av.bk(u); p !== u && n < limit; p = av.bk(p), n++) where.set(p, "unsorted");
    return where;
  }

  /**
   * Walks the heap and the bins as glibc's `do_check_malloc_state` does (the checks of a
   * debugging build): chunk sizes and flags, footers of free chunks, no two free chunks side
   * by side, every binned chunk free and in the bin of its size, links symmetric, fastbin and
   * tcache chunks of their bin's size, the top last, totals equal to `system_mem`.
   * @throws HeapCorruptionError naming the first broken invariant
   */
  override check(): void {
    const av = this.av;
    const bad = (what: string, at: number): never => {
      throw new HeapCorruptionError(what, "check", at);
    };
    if (av.sbrkBase === 0) return;
    const cached = this.cachedChunks();
    const top = av.top;
    const topSize = av.size(top);
    if (topSize < MINSIZE && av.systemMem !== 0) bad("top chunk smaller than MINSIZE", top);
    if (!av.prevInuse(top)) bad("the chunk before top is free", top);
    const free = new Set<number>();
    const walkedFreeChunks: number[] = [];
    let prevFree = false;
    if (!av.noncontiguous) {
      this.walk((p, size, fencepost) => {
        const isFree = !fencepost && !av.inuseBitAtOffset(p, size);
        if (isFree) {
          if (prevFree) bad("two free chunks side by side", p);
          if (av.prevSize(p + size) !== size) bad("free chunk's footer differs from its size", p);
          free.add(p);
          walkedFreeChunks.push(p);
        }
        prevFree = isFree;
      }, "check");
    }
    for (let i = 1; i < NBINS; i++) {
      const b = av.binAt(i);
      let n = 0;
      for (let q = av.bk(b); q !== b; q = av.bk(q)) {
        if (++n > 1 << 22) bad(`bin ${i} does not end`, b);
        if (av.fd(av.bk(q)) !== q) bad(`bin ${i}: broken links`, q);
        const size = av.size(q);
        if (i !== 1 && binIndex(size) !== i) bad(`chunk of size ${size} in bin ${i}`, q);
        if (!av.noncontiguous && !free.delete(q)) bad(`bin ${i} holds a chunk that is not free`, q);
      }
    }
    if (free.size > 0) bad("free chunk in no bin", [...free][0]!);
    for (const [c, where] of cached) {
      const size = av.size(c);
      if (where === "fastbin" && (size > av.maxFast || fastbinIndex(size) < 0)) bad("fastbin chunk of a wrong size", c);
      if (where === "tcache" && csize2tidx(size) >= av.tcacheBins) bad("tcache chunk of a wrong size", c);
    }
    if (av.tcache !== 0) {
      for (let i = 0; i < TCACHE_MAX_BINS; i++) {
        let n = 0;
        for (let e = av.ld(av.tcache + 128 + 8 * i); e !== 0; e = protectPtr(e, av.ld(e))) {
          if (++n > av.tcacheCount) bad(`tcache bin ${i} holds more than its count`, e - CHUNK_HDR_SZ);
          if (csize2tidx(av.size(e - CHUNK_HDR_SZ)) !== i) bad(`tcache bin ${i} holds a chunk of another size`, e - CHUNK_HDR_SZ);
        }
        if (n !== tcacheCount(av, i)) bad(`tcache count of bin ${i} is ${tcacheCount(av, i)}, its list holds ${n}`, av.tcache);
      }
    }
    if (!av.noncontiguous) {
      // The chunks from the heap's start to the top's end are all the break gave the arena.
      if (top + topSize !== av.sbrkBase + av.systemMem) bad(`chunks end at 0x${(top + topSize).toString(16)}, system_mem says 0x${(av.sbrkBase + av.systemMem).toString(16)}`, top);
      // Free bytes counted by walking the heap agree with those counted through the bins.
      let walkedFree = topSize;
      for (const c of walkedFreeChunks) walkedFree += av.size(c);
      for (const [c, where] of cached) if (where === "fastbin") walkedFree += av.size(c);
      if (walkedFree !== this.mallinfo().fordblks) bad(`the bins hold ${this.mallinfo().fordblks} free bytes, the heap ${walkedFree}`, top);
    }
  }

  /** A pointer argument: an integer address, else glibc's own complaint. */
  private pointer(op: string, ptr: number): number {
    if (!isPtr(ptr)) {
      if (typeof ptr !== "number") throw new ArgumentError(`${op}: the pointer must be a number, got ${typeof ptr === "bigint" ? `${String(ptr)}n` : JSON.stringify(ptr) ?? String(ptr)}`);
      throw new InvalidPointerError(op, ptr);
    }
    return ptr;
  }
}

const inSmallRange = (size: number): boolean => size < 1024;

/** `__libc_malloc`. */
function libcMalloc(av: MallocState, bytes: number): number {
  const tbytes = checkedRequest2size(bytes);
  if (tbytes === 0) {
    av.errno = Errno.ENOMEM;
    return 0;
  }
  const tcIdx = csize2tidx(tbytes);
  maybeInitTcache(av);
  if (tcIdx < av.tcacheBins && av.tcache !== 0 && tcacheCount(av, tcIdx) > 0) return tcacheGet(av, tcIdx);
  return noteMapped(av, intMalloc(av, bytes));
}

/** Keeps the set of mapped chunks (for {@link GlibcHeap.chunks} only: the algorithm never reads it). */
function noteMapped(av: MallocState, mem: number): number {
  if (mem !== 0 && (av.head(mem - CHUNK_HDR_SZ) & IS_MMAPPED) !== 0) av.mapped.add(mem - CHUNK_HDR_SZ);
  return mem;
}

/** `__libc_free`. */
function libcFree(av: MallocState, mem: number): void {
  const err = av.errno;
  const p = mem - CHUNK_HDR_SZ;
  const head = av.head(p);
  if ((head & IS_MMAPPED) !== 0) {
    // The dynamic threshold: a freed mapped chunk raises the mmap threshold to its size.
    if (!av.noDynThreshold && head > av.mmapThreshold && head <= DEFAULT_MMAP_THRESHOLD_MAX) {
      av.mmapThreshold = av.size(p);
      av.trimThreshold = 2 * av.mmapThreshold;
    }
    munmapChunk(av, p);
    av.mapped.delete(p);
  } else {
    maybeInitTcache(av);
    intFree(av, p, false);
  }
  av.errno = err;
}

/** `__libc_realloc`. */
function libcRealloc(av: MallocState, oldmem: number, bytes: number): number {
  if (bytes === 0 && oldmem !== 0) {
    libcFree(av, oldmem);
    return 0;
  }
  if (oldmem === 0) return libcMalloc(av, bytes);
  const oldp = oldmem - CHUNK_HDR_SZ;
  const oldsize = av.size(oldp);
  const mapped = (av.head(oldp) & IS_MMAPPED) !== 0;
  if (!mapped) maybeInitTcache(av);
  if (wraps(oldp, oldsize) || oldp % 16 !== 0) av.printerr("realloc(): invalid pointer", oldmem, "invalid");
  const nb = checkedRequest2size(bytes);
  if (nb === 0) {
    av.errno = Errno.ENOMEM;
    return 0;
  }
  if (mapped) {
    const newp = mremapChunk(av, oldp, nb);
    if (newp !== 0) {
      av.mapped.delete(oldp);
      av.mapped.add(newp);
      return newp + CHUNK_HDR_SZ;
    }
    if (oldsize - SIZE_SZ >= nb) return oldmem;
    const newmem = libcMalloc(av, bytes);
    if (newmem === 0) return 0;
    av.memcpy(newmem, oldmem, oldsize - CHUNK_HDR_SZ);
    munmapChunk(av, oldp);
    av.mapped.delete(oldp);
    return newmem;
  }
  return noteMapped(av, intRealloc(av, oldp, oldsize, nb));
}

/** `_mid_memalign`. */
function midMemalign(av: MallocState, alignment: number, bytes: number): number {
  if (!(alignment > MALLOC_ALIGNMENT)) return libcMalloc(av, bytes);
  if (alignment < MINSIZE) alignment = MINSIZE;
  if (alignment > 2 ** 63) {
    av.errno = Errno.EINVAL;
    return 0;
  }
  if (!powerof2(alignment)) {
    let a = MALLOC_ALIGNMENT * 2;
    while (a < alignment) a *= 2;
    alignment = a;
  }
  return noteMapped(av, intMemalign(av, alignment, bytes));
}

/** `__libc_calloc`. */
function libcCalloc(av: MallocState, n: number, elemSize: number): number {
  const bytes = n * elemSize;
  // __builtin_mul_overflow into a ptrdiff_t: overflow past PTRDIFF_MAX (>= 2^63 for integers).
  if (!(bytes >= 0) || bytes >= 2 ** 63) {
    av.errno = Errno.ENOMEM;
    return 0;
  }
  maybeInitTcache(av);
  // Memory beyond what the heap ever obtained is fresh from sbrk, hence zero.
  const oldtop = av.top;
  let oldtopsize = av.size(oldtop);
  if (oldtopsize < av.sbrkBase + av.maxSystemMem - oldtop) oldtopsize = av.sbrkBase + av.maxSystemMem - oldtop;
  const mem = intMalloc(av, bytes);
  if (mem === 0) return 0;
  const p = mem - CHUNK_HDR_SZ;
  if ((av.head(p) & IS_MMAPPED) !== 0) {
    av.mapped.add(p);
    if (av.perturbByte !== 0) av.memset(mem, 0, bytes);
    return mem;
  }
  let csz = av.size(p);
  if (av.perturbByte === 0 && p === oldtop && csz > oldtopsize) csz = oldtopsize;
  av.memset(mem, 0, csz - SIZE_SZ);
  return mem;
}
