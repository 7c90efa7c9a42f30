import { Errno } from "../errno.js";
import {
  ArgumentError,
  checkOptions,
  DoubleFreeError,
  HeapCorruptionError,
  InvalidPointerError,
  notNumber,
  show,
  type OptionKeys,
} from "../errors.js";
import { M_MMAP_MAX, M_MMAP_THRESHOLD, M_TOP_PAD, M_TRIM_THRESHOLD } from "../constants.js";
import { LinearMemory, growsUnderViews } from "../memory/LinearMemory.js";
import { SMALL_BINS, binCount, binIndex, ctz32, fitIndex } from "./bins.js";
import { CINUSE, FLAG_BITS, ILP32, LP64, MARK_FREE, MARK_USED, MAX_REQUEST, PINUSE, SIZE_TAG, SIZE_WORD_GRANULES, WASM32, type Layout } from "./chunk.js";
import { LinearHost, type HeapHost } from "./host.js";
import type { AddressSpace } from "../vm/AddressSpace.js";
import { jsImports, type WasmImportOptions, type WasmImports } from "./wasm/abi.js";
import type { WasmEngineBinaries, WasmEngineLink } from "./wasm/engine.js";
import { allocArray, blockOf, resizeArray, viewOf, type TypedArray, type TypedArrayConstructor } from "./views.js";
import { SHARED_AREA_BYTES, type SharedHeap } from "./arenas.js";
import {
  H_MAGIC,
  H_CONFIG,
  H_HDR,
  H_LOCK,
  H_ARENA,
  H_TOP,
  H_END,
  H_BRK,
  H_BRK_START,
  H_MAXFOOT,
  H_MMAP_BYTES,
  H_MMAP_COUNT,
  H_TRIM,
  H_TOPPAD,
  H_MMAP_THRESHOLD,
  H_MMAP_MAX,
  H_BITMAP,
  H_COVER,
  H_LIMIT,
  H_SUMMARY,
  H_BINMAP,
  H_DV,
  MAGIC,
  VERSION,
  FLAG_CONCURRENT,
} from "./header.js";


/** glibc's defaults (`M_TRIM_THRESHOLD`, `M_MMAP_THRESHOLD`: 128 KiB; `M_TOP_PAD`: 0 here). */
export const DEFAULT_TRIM_THRESHOLD = 128 * 1024;
/** Requests at or over this get their own mapping where the heap has a mapping source. */
export const DEFAULT_MMAP_THRESHOLD = 128 * 1024;
/** The heap never spans more than this (sizes stay 31-bit integers). */
export const MAX_HEAP_BYTES = 0x7fff_0000;
/** Arena bytes covered by the first in-use bitmap; it doubles as the heap grows. */
const INITIAL_COVER = 16 * 1024;
/**
 * Largest `M_TOP_PAD` (and `topPad`): a growth asks for the request plus this, so both stay
 * far from 2^31 in every size the heap derives from them.
 */
export const MAX_TOP_PAD = 0x4000_0000;
/** Largest `M_TRIM_THRESHOLD`, `M_MMAP_MAX`, `trimThreshold` and `mmapThreshold`: what a header word holds (C's `INT_MAX`). */
const MAX_SETTING = 0x7fff_ffff;

/** glibc's `struct mallinfo2`, as returned by {@link Heap.mallinfo}. */
export interface MallInfo {
  /** Bytes obtained through the break (the whole brk heap, header included). */
  arena: number;
  /** Free chunks, the top chunk included. */
  ordblks: number;
  /** Free fastbin chunks: always 0 (there are no fastbins; frees coalesce at once). */
  smblks: number;
  /** Blocks served by their own mapping. */
  hblks: number;
  /** Bytes in blocks served by their own mapping. */
  hblkhd: number;
  /** Unused, always 0 (as in glibc). */
  usmblks: number;
  /** Bytes in free fastbin chunks: always 0. */
  fsmblks: number;
  /** Bytes in use in the brk heap: `arena - fordblks`. */
  uordblks: number;
  /** Free bytes in the brk heap (free chunks and the top chunk). */
  fordblks: number;
  /** Bytes `mallocTrim(0)` could give back: the size of the top chunk. */
  keepcost: number;
}

/** One chunk of the heap, as {@link Heap.chunks} reports it. */
export interface ChunkInfo {
  /** Address of the chunk (its header); the block's pointer is `address + 2 * W`. */
  address: number;
  /** Bytes in the chunk, header included. */
  size: number;
  /** `"used"`: a live block; `"free"`: in a bin; `"top"`: the top chunk; `"meta"`: the heap's own in-use bitmap. */
  kind: "used" | "free" | "top" | "meta";
  /** The pointer `malloc` returned for a used chunk (`address + 2 * W`); 0 for the others. */
  ptr: number;
  /** Bytes a used block can hold (`mallocUsableSize`); 0 for the others. */
  usable: number;
  /**
   * Where a free chunk waits, for allocators with several kinds of bins (the glibc model):
   * `"tcache"`, `"fastbin"`, `"unsorted"`, `"small"` or `"large"`. Absent otherwise.
   */
  bin?: string;
}

/** A block with a mapping of its own (a heap with a mapping source: a process's heap). */
export interface MappedBlock {
  /** First byte of the mapping. */
  readonly start: number;
  /** Bytes mapped (whole pages). */
  readonly length: number;
}

/** What a heap's blocks live in: a linear memory, or a process's address space. */
export type HeapMemory = LinearMemory | AddressSpace;

/**
 * The C data model of a heap: field sizes, alignment, minimum chunk. `"wasm32"` is the one of
 * clang's wasm32 target (4-byte `size_t`, 16-byte `max_align_t`), for the heap of a C or Rust
 * module.
 */
export type DataModel = "lp64" | "ilp32" | "wasm32";

/** Options for a new {@link Heap}. */
export interface HeapOptions {
  /**
   * The algorithm: `"vmheap"`, this hardened heap. glibc's allocator is {@link GlibcHeap}
   * (`GlibcHeap.linear(memory)`, or a process spawned with `heap: { allocator: "glibc" }`);
   * passing `"glibc"` here throws an ArgumentError that says so. @defaultValue "vmheap"
   */
  allocator?: "vmheap" | "glibc";
  /** Where the heap lives. @defaultValue a fresh {@link LinearMemory} (`initialBytes`, `maxBytes`) */
  memory?: LinearMemory | WebAssembly.Memory | ArrayBuffer | SharedArrayBuffer;
  /**
   * First byte the heap may use; it never touches memory below it. On a `WebAssembly.Memory`
   * shared with a compiled C/Rust module, pass the module's `__heap_base`.
   * @defaultValue 0 (the start of the memory)
   */
  base?: number;
  /** Initial size of a fresh memory. At most `0x7fff0000` (just under 2 GiB). @defaultValue 65536 */
  initialBytes?: number;
  /** Reservation of a fresh memory (the most the heap can grow to). At most `0x7fff0000` (just under 2 GiB). @defaultValue 256 MiB */
  maxBytes?: number;
  /**
   * Requests at or over this many bytes get their own mapping where there is a mapping source.
   * At most 2^31 − 1 (more than any request: no block is mapped); `mallopt(M_MMAP_THRESHOLD)`
   * takes at most 32 MiB, as glibc's. @defaultValue 131072
   */
  mmapThreshold?: number;
  /** Free top space over this many bytes is given back with a negative `sbrk`. At most 2^31 − 1. @defaultValue 131072 */
  trimThreshold?: number;
  /** Extra bytes obtained on each growth of the break and kept on each trim. At most 1 GiB (as `mallopt(M_TOP_PAD)`). @defaultValue 0 */
  topPad?: number;
  /**
   * `"lp64"`: 16-byte alignment, 8-byte fields (x86-64); `"ilp32"`: 8-byte alignment, 4-byte
   * fields; `"wasm32"`: 16-byte alignment, 4-byte fields (clang's wasm32, wasi-libc's dlmalloc).
   * @defaultValue "lp64"
   */
  dataModel?: DataModel;
  /**
   * Take a lock (a futex word in the heap's memory, with `Atomics`) around every call, so
   * heaps attached to the same `SharedArrayBuffer` from several workers can be used at once.
   * Recorded in the heap, so every attached `Heap` honours it. @defaultValue false
   */
  concurrent?: boolean;
  /**
   * For a concurrent heap: serve small blocks from an arena per thread (part of the heap, found
   * by address), so that threads do not wait for one another; `false`: one lock for every call,
   * no memory set aside per thread, and blocks exactly where a heap that is not concurrent puts
   * them. Recorded in the heap. See docs/workers.md. @defaultValue true
   */
  arenas?: boolean;
  /**
   * Make a new, empty heap even where `memory` already holds one (at `base`, or one at address
   * 0 that reaches `base`), losing every block in it. Without it that throws: to open the heap
   * that is there, use {@link Heap.attach}. @defaultValue false
   */
  overwrite?: boolean;
  /**
   * The heap's wasm engine (`wasmEngine` from `vmheap/wasm`), for a heap on a
   * `WebAssembly.Memory`: the heap's calls from JavaScript then run on it too (it is faster
   * there than the JavaScript engine; docs/wasm.md), and `wasmImports()` hands it to modules.
   * @defaultValue none: calls from JavaScript run on the JavaScript engine
   */
  engine?: WasmEngineBinaries;
}

/** The keys of {@link HeapOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<HeapOptions> = {
  allocator: 1,
  memory: 1,
  base: 1,
  initialBytes: 1,
  maxBytes: 1,
  mmapThreshold: 1,
  trimThreshold: 1,
  topPad: 1,
  dataModel: 1,
  concurrent: 1,
  arenas: 1,
  overwrite: 1,
  engine: 1,
};

/** Options for {@link Heap.attach}. */
export interface AttachOptions {
  /**
   * Where the heap's header is: the `base` it was created with. Without it, the heap at
   * address 0, else the first heap header found above it (16-byte steps).
   */
  base?: number;
  /**
   * The id of this thread on a concurrent heap, which {@link Heap.recover} takes after the
   * thread died. @defaultValue Node's `worker_threads.threadId`; where the runtime has none, a
   * fresh id the heap hands out ({@link Heap.threadId})
   */
  threadId?: number;
  /**
   * The memory is a copy of a concurrent heap's bytes (taken while threads used it), and none
   * of the threads that had it run on this copy: every lock held in it is released and the
   * call under way undone, as {@link Heap.recover} does for a thread that died, so the copy
   * opens as the heap was before those calls. Without it, a call on such a copy throws a
   * `HeapError` naming the lock instead of waiting for it (docs/workers.md). @defaultValue false
   */
  snapshot?: boolean;
}

/** The keys of {@link AttachOptions}, for `checkOptions`. */
const ATTACH_KEYS: OptionKeys<AttachOptions> = { base: 1, threadId: 1, snapshot: 1 };

/** Whether a heap header is at `a` in `words` (the memory as 32-bit words): its magic, then its own address. */
function heapAt(words: Int32Array, a: number): boolean {
  return a + 4 * H_BINMAP <= words.length * 4 && words[a >>> 2] === MAGIC && words[(a >>> 2) + H_HDR] === a;
}

function toMemory(m: HeapOptions["memory"], opts: HeapOptions): LinearMemory {
  if (opts.maxBytes !== undefined && opts.maxBytes > MAX_HEAP_BYTES) {
    throw new ArgumentError(`Heap: maxBytes ${opts.maxBytes} is more than a heap can address (MAX_HEAP_BYTES = ${MAX_HEAP_BYTES}, just under 2 GiB)`);
  }
  if (m === undefined && opts.initialBytes !== undefined && opts.initialBytes > MAX_HEAP_BYTES) {
    throw new ArgumentError(`Heap: initialBytes ${opts.initialBytes} is more than a heap can address (MAX_HEAP_BYTES = ${MAX_HEAP_BYTES}, just under 2 GiB)`);
  }
  if (m === undefined) {
    const o: { initialBytes?: number; maxBytes?: number } = {};
    if (opts.initialBytes !== undefined) o.initialBytes = opts.initialBytes;
    if (opts.maxBytes !== undefined) o.maxBytes = opts.maxBytes;
    return new LinearMemory(o);
  }
  if (m instanceof LinearMemory) {
    if (m.wasm === null && m.buffer.byteLength >= 2 ** 32) throw new ArgumentError(`Heap: a memory of ${m.buffer.byteLength} bytes is more than a heap can address (MAX_HEAP_BYTES = ${MAX_HEAP_BYTES})`);
    return m;
  }
  if (typeof WebAssembly !== "undefined" && m instanceof WebAssembly.Memory) {
    return opts.maxBytes !== undefined ? new LinearMemory({ wasm: m, maxBytes: opts.maxBytes }) : new LinearMemory({ wasm: m });
  }
  if (m instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && m instanceof SharedArrayBuffer)) {
    // The heap's word view (an Int32Array over the whole buffer) counts its words in 32 bits.
    if (m.byteLength >= 2 ** 32) throw new ArgumentError(`Heap: a buffer of ${m.byteLength} bytes is more than a heap can address (MAX_HEAP_BYTES = ${MAX_HEAP_BYTES})`);
    return new LinearMemory({ buffer: m });
  }
  throw new ArgumentError(`Heap: memory must be a LinearMemory, WebAssembly.Memory, ArrayBuffer or SharedArrayBuffer, got ${show(m)}`);
}

/**
 * A numeric option: `dflt` when absent, else an integer from 0 to `max`. A value over `max` is
 * refused rather than clamped: every size the heap derives from it must stay under 2^31.
 * @throws ArgumentError printing the value
 */
function optInt(name: string, v: number | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError(`Heap: ${name} must be a non-negative integer, got ${String(v)}`);
  if (v > max) throw new ArgumentError(`Heap: ${name} ${v} is over its largest value, ${max}`);
  return v;
}

/** Bits of `Heap.mode`. */
export const MODE_SYNC = 1;
const MODE_LOCK = 2;
/** A 32-bit data model (ilp32, wasm32): the LP64 fast paths (literal layout numbers) do not apply. */
const MODE_ILP32 = 4;
/** The heap's calls run on its wasm engine (HeapOptions.engine): no fast path in JavaScript either. */
const MODE_ENGINE = 8;

/** Where {@link Heap.allot} puts a remainder. @internal */
export const REM_BIN = 0;
/** @internal */
export const REM_NEW_DV = 1;
const REM_WAS_DV = 2;

/** The data model's number in the header's config word (the pointer width, 33 for wasm32). */
const modelCode = (layout: Layout): number => (layout === LP64 ? 64 : layout === WASM32 ? 33 : 32);
/** The layout of a header's data-model number. */
const layoutOf = (code: number): Layout => (code === 32 ? ILP32 : code === 33 ? WASM32 : LP64);

/**
 * Whether `x` is a power of two that a 64-bit size_t can hold, up to 2^63 (exact for every
 * number, unlike `x & (x - 1)`: from 2^53 up a number is an integer, and a power of two exact).
 */
const isPow2 = (x: number): boolean => Number.isInteger(x) && x > 0 && x <= 2 ** 63 && 2 ** Math.round(Math.log2(x)) === x;

/**
 * The arenas of concurrent heaps (`arenas.ts`, with their logged engine): set by the package's
 * root entry through {@link withArenas}, so that a program importing the heap alone
 * (`vmheap/heap`) does not carry them. Null there: `concurrent: true` and attaching a
 * concurrent heap's memory throw an error that names the root entry.
 */
let Arenas: typeof SharedHeap | null = null;

/** The arenas, or the error of a build that left them out. */
function arenas(what: string): typeof SharedHeap {
  if (Arenas === null) throw new ArgumentError(`${what}: a concurrent heap needs the arenas of the package's root entry: import { Heap } from "vmheap" (vmheap/heap holds the single-threaded heap alone)`);
  return Arenas;
}

/**
 * Gives {@link Heap} the arenas of concurrent heaps; returns the class itself. The root entry
 * exports `Heap` through this call, so that using `Heap` from there brings them along.
 */
export function withArenas(shared: typeof SharedHeap): typeof Heap {
  Arenas = shared;
  return Heap;
}

/**
 * A malloc-family heap with C (glibc) semantics whose whole state lives in the memory it
 * manages.
 *
 * Design: boundary-tagged chunks (see `chunk.ts`), exact small bins and TLSF classes for large
 * chunks found with a two-level bitmap (O(1) per operation), immediate coalescing, splitting,
 * a top chunk grown with `sbrk` and trimmed past `trimThreshold`, in-place `realloc` into a free
 * neighbour or the top. An in-use bitmap (one bit per 16 bytes, kept in a chunk of the heap
 * itself) is the authority on which pointers are live: `free` of anything else (twice, interior,
 * misaligned, forged header) throws before changing anything.
 */
export class Heap<M extends HeapMemory = LinearMemory> {
  /**
   * Where the blocks live: read and write their contents through `memory.u8` / `memory.dv`,
   * or, for a process's heap, through the process's {@link AddressSpace} (`read8`, `write8`,
   * `readBytes`, ...).
   */
  readonly memory: M;
  /** Set by failing calls (`ENOMEM`, `EINVAL`), like C's `errno`. Never changed by `free`. */
  errno = 0;

  protected readonly host!: HeapHost;
  /**
   * Live blocks that have a mapping of their own: pointer → its mapping. `null` where the heap
   * has no mapping source (linear memory), so the common case pays one compare on cold paths.
   */
  protected maps!: Map<number, MappedBlock> | null;
  /**
   * The mmap threshold where the heap has a mapping source (mirrored from the header, so that
   * malloc's fast path compares with a field), else Infinity.
   */
  protected mapFloor!: number;
  /**
   * The memory as 32-bit words: all metadata goes through it, `m[addr >>> 2]`, written out at
   * each use (a helper call would not be inlined everywhere, and the hot paths are a few dozen
   * accesses). Replaced when a wasm memory grows: see {@link Heap.sync}.
   */
  protected m!: Int32Array;
  protected readonly hdr!: number;
  protected readonly W!: number;
  protected readonly W2!: number;
  protected readonly amask!: number;
  protected readonly gshift!: number;
  protected readonly minChunk!: number;
  protected readonly smallLimit!: number;
  protected readonly bins!: number; // address of bin head 0
  protected readonly binWords!: number;
  protected readonly arena!: number;
  /** MODE_SYNC | MODE_LOCK | MODE_ILP32, or 0 for the common case: one Smi compare on every call. */
  protected readonly mode!: number;
  protected readonly lockView!: Int32Array | null;
  /** A concurrent heap's calls (they run on its logged engine, see `arenas.ts`); null for the others. */
  protected shared!: SharedHeap | null;
  protected readonly layout!: Layout;

  constructor(opts: HeapOptions = {}) {
    checkOptions(opts, "Heap", OPTION_KEYS);
    if (opts.allocator !== undefined && opts.allocator !== "vmheap") {
      throw new ArgumentError(
        opts.allocator === "glibc"
          ? 'Heap: the glibc allocator is GlibcHeap: GlibcHeap.linear(memory) over a LinearMemory, or Process.spawn({ heap: { allocator: "glibc" } }) in a process'
          : `Heap: allocator must be "vmheap" (or "glibc" through GlibcHeap), got ${String(opts.allocator)}`,
      );
    }
    const memory = toMemory(opts.memory, opts);
    this.memory = memory as M;
    const base = optInt("base", opts.base, 0, MAX_HEAP_BYTES);
    const layout = (opts.dataModel ?? "lp64") === "lp64" ? LP64 : opts.dataModel === "ilp32" ? ILP32 : opts.dataModel === "wasm32" ? WASM32 : null;
    if (layout === null) throw new ArgumentError(`Heap: dataModel must be "lp64", "ilp32" or "wasm32", got ${String(opts.dataModel)}`);
    const hdr = (base + 15) & ~15;
    const concurrent = opts.concurrent === true;
    const Shared = concurrent ? arenas("Heap") : null; // (before the memory is touched)
    const host = new LinearHost(memory);
    // A second `new Heap` over a heap's memory (in another worker, say) would format it: every
    // block of the first heap lost, and both heaps then handing out the same memory.
    if (opts.memory !== undefined && opts.overwrite !== true) {
      const words = host.u32;
      if (heapAt(words, hdr) || (heapAt(words, 0) && words[H_END]! > hdr)) {
        const at = heapAt(words, hdr) ? hdr : 0;
        throw new ArgumentError(
          `Heap: this memory already holds a heap (header at 0x${at.toString(16)}): open it with Heap.attach(memory${at !== 0 ? `, { base: 0x${at.toString(16)} }` : ""}), or pass { overwrite: true } to make a new, empty heap over it`,
        );
      }
    }
    this.setUp(host, hdr, layout, (growsUnderViews(memory) ? MODE_SYNC : 0) | (concurrent ? MODE_LOCK : 0));
    this.lockView = concurrent ? this.makeLockView() : null;

    const limit = Math.min(memory.maxBytes, MAX_HEAP_BYTES);
    if (this.arena + 2 * INITIAL_COVER > limit) throw new ArgumentError(`Heap: no room for a heap between 0x${hdr.toString(16)} and 0x${limit.toString(16)}`);
    if (!memory.ensure(this.arena)) throw new ArgumentError("Heap: the memory cannot hold the heap's header");
    host.sync();
    host.st(hdr + 4 * H_BRK, hdr);
    host.attachBreak(hdr, limit, hdr + 4 * H_BRK);
    this.m = host.u32;
    if (!this.format(limit, opts)) throw new ArgumentError("Heap: the memory cannot hold an empty heap");
    if (Shared !== null) this.shared = new Shared(this, Heap, memory, hdr, true, undefined, opts.arenas !== false);
    if (opts.engine !== undefined) {
      // The engine's functions take the place of the general path's (mallocImpl, freeImpl, ...).
      Object.assign(this, linkOf(opts.engine).run(this as Heap<HeapMemory>, opts.engine));
      engines.set(this, opts.engine);
      (this as unknown as Record<string, unknown>).mode = this.mode | MODE_ENGINE;
    }
  }

  /**
   * Sets the fields every heap has, from its host, header address, data model and mode bits
   * (`MODE_ILP32` is added here). Shared by construction, {@link Heap.attach} and heaps that
   * live in other hosts.
   */
  protected setUp(host: HeapHost, hdr: number, layout: Layout, mode: number): void {
    const self = this as unknown as Record<string, unknown>;
    self.errno = 0;
    self.host = host;
    self.m = host.u32;
    self.maps = null;
    self.mapFloor = Infinity;
    self.hdr = hdr;
    self.layout = layout;
    self.W = layout.W;
    self.W2 = 2 * layout.W;
    self.amask = layout.alignMask;
    self.gshift = layout.granuleShift;
    self.minChunk = layout.minChunk;
    self.smallLimit = SMALL_BINS << layout.granuleShift;
    const nbins = binCount(layout.granuleShift);
    const words = (nbins + 31) >>> 5;
    self.binWords = words;
    const bins = hdr + (H_BINMAP + words) * 4;
    self.bins = bins;
    // The first chunk starts 2·W below an aligned payload (the same as aligned when 2·W = align).
    // A concurrent heap keeps its shared area (arenas.ts) between the bin heads and the first chunk.
    const binsEnd = bins + nbins * 4 + ((mode & MODE_LOCK) !== 0 ? SHARED_AREA_BYTES : 0);
    self.arena = ((binsEnd + 2 * layout.W + layout.alignMask) & ~layout.alignMask) - 2 * layout.W;
    self.mode = mode | (layout !== LP64 ? MODE_ILP32 : 0);
    self.lockView = null;
    self.shared = null;
  }

  /**
   * Writes an empty heap at the header address: takes its first memory with `sbrk` (header,
   * the in-use bitmap's chunk, a 4 KiB top) and fills in the header.
   * @returns false when the break cannot give that much
   */
  protected format(limit: number, opts: HeapOptions): boolean {
    const host = this.host;
    const hdr = this.hdr;
    // The first chunk is the in-use bitmap, covering INITIAL_COVER bytes; the top follows.
    const bmChunk = this.bitmapChunkSize(INITIAL_COVER);
    const initialTop = 4096;
    const want = this.arena - hdr + bmChunk + initialTop;
    if (host.sbrk(want) === -1) return false;
    this.m = host.u32; // the first sbrk may have grown (and replaced) a wasm memory's buffer
    host.zero(hdr, this.arena - hdr + bmChunk);
    const st = (i: number, v: number): void => host.st(hdr + 4 * i, v);
    st(H_MAGIC, MAGIC);
    st(H_CONFIG, VERSION | (modelCode(this.layout) << 8) | (((this.mode & MODE_LOCK) !== 0 ? FLAG_CONCURRENT : 0) << 16));
    st(H_HDR, hdr);
    st(H_ARENA, this.arena);
    st(H_END, hdr + want);
    st(H_BRK, hdr + want); // zeroed above with the rest of the header
    st(H_BRK_START, hdr);
    st(H_MAXFOOT, want);
    st(H_TRIM, optInt("trimThreshold", opts.trimThreshold, DEFAULT_TRIM_THRESHOLD, MAX_SETTING));
    st(H_TOPPAD, optInt("topPad", opts.topPad, 0, MAX_TOP_PAD));
    st(H_MMAP_THRESHOLD, optInt("mmapThreshold", opts.mmapThreshold, DEFAULT_MMAP_THRESHOLD, MAX_SETTING));
    st(H_MMAP_MAX, 65536);
    st(H_LIMIT, limit);
    const bm = this.arena;
    host.st(bm + this.W, bmChunk | CINUSE | PINUSE);
    st(H_BITMAP, bm + this.W2);
    st(H_COVER, INITIAL_COVER);
    this.markChunk(bm, bmChunk, MARK_USED); // (free() refuses it by its address)
    const top = bm + bmChunk;
    st(H_TOP, top);
    host.st(top + this.W, initialTop | PINUSE);
    if (this.W === 8) host.st(top + 12, 0);
    return true;
  }

  /**
   * Opens the heap that already lives in `memory` (made by another `Heap`, in this thread or
   * another worker, or restored from a copy of the bytes). Without `opts.base` it finds the
   * heap: at address 0, else the first heap header above it (a heap made with a `base`, such
   * as a wasm module's `__heap_base`).
   * @throws HeapCorruptionError when no heap header is found (at `base`, when given)
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(100);
   * // the buffer is what a worker receives in postMessage; the state is all in it
   * const again = Heap.attach(heap.memory.buffer);
   * console.log(again.mallocUsableSize(p)); // 104
   * again.free(p);
   * console.log(heap.mallocUsableSize(p)); // 0
   * ```
   */
  static attach(memory: LinearMemory | WebAssembly.Memory | ArrayBuffer | SharedArrayBuffer, opts: AttachOptions = {}): Heap {
    checkOptions(opts, "Heap.attach", ATTACH_KEYS);
    const mem = toMemory(memory, {});
    const base = optInt("base", opts.base, 0, MAX_HEAP_BYTES);
    const probe = new LinearHost(mem);
    const words = probe.u32;
    const isHeader = (a: number): boolean => heapAt(words, a);
    let hdr = (base + 15) & ~15;
    if (opts.base === undefined && !isHeader(hdr)) {
      // The magic word, then the header's own address: a block of user data would have to
      // hold both, 16-aligned, to be taken for a header.
      for (let a = 16; a + 4 * H_BINMAP <= words.length * 4; a += 16) {
        if (words[a >>> 2] === MAGIC && words[(a >>> 2) + H_HDR] === a) {
          hdr = a;
          break;
        }
      }
    }
    if (!isHeader(hdr)) throw new HeapCorruptionError("no heap at this address", "attach", hdr);
    const config = probe.ld(hdr + 4 * H_CONFIG);
    if ((config & 0xff) !== VERSION) throw new HeapCorruptionError(`heap layout version ${config & 0xff} is not supported`, "attach", hdr);
    const model = (config >>> 8) & 0xff;
    const flags = (config >>> 16) & 0xff;
    if ((model !== 64 && model !== 32 && model !== 33) || (flags & ~FLAG_CONCURRENT) !== 0 || config >>> 24 !== 0) throw new HeapCorruptionError(`heap configuration word 0x${(config >>> 0).toString(16)} is not valid`, "attach", hdr);
    const Shared = (flags & FLAG_CONCURRENT) !== 0 ? arenas("Heap.attach") : null;
    // The break's words make the heap's Brk before checkHeader runs: checked here, as it would.
    const brkStart = probe.ld(hdr + 4 * H_BRK_START);
    const limit = probe.ld(hdr + 4 * H_LIMIT);
    if (brkStart !== hdr) throw new HeapCorruptionError("break start is not the header's address", "attach", hdr);
    if (limit < hdr || limit > MAX_HEAP_BYTES) throw new HeapCorruptionError(`heap limit 0x${(limit >>> 0).toString(16)} outside the memory a heap can have`, "attach", hdr);
    const heap = Object.create(Heap.prototype) as Heap;
    heap.initAttached(mem, hdr, model, flags);
    if (Shared !== null) heap.shared = new Shared(heap, Heap, mem, hdr, false, opts.threadId, true, opts.snapshot === true);
    // Other workers may be changing a concurrent heap's header: it is read holding the lock,
    // when the lock is free (a held one may never be released, in a copy of the bytes taken
    // during a call: Heap.recover releases it; the first call that gets the lock checks it).
    if (heap.shared === null) heap.checkHeader();
    else if (probe.ld(hdr + 4 * H_LOCK) === 0) heap.locked(heap.checkHeader, 0, 0);
    else heap.shared.checkOnFirstCall();
    return heap;
  }

  protected initAttached(mem: LinearMemory, hdr: number, model: number, flags: number): void {
    const host = new LinearHost(mem);
    (this as unknown as Record<string, unknown>).memory = mem;
    const concurrent = (flags & FLAG_CONCURRENT) !== 0;
    this.setUp(host, hdr, layoutOf(model), (growsUnderViews(mem) ? MODE_SYNC : 0) | (concurrent ? MODE_LOCK : 0));
    (this as unknown as Record<string, unknown>).lockView = concurrent ? this.makeLockView() : null;
    host.attachBreak(host.ld(hdr + 4 * H_BRK_START), host.ld(hdr + 4 * H_LIMIT), hdr + 4 * H_BRK);
  }

  /**
   * Checks the header of an attached heap before anything trusts it: every address in the
   * arena and consistent with the others, the in-use bitmap covering the heap, settings within
   * their bounds, the bins' heads free chunks and their
   * bitmap in step. A copy of bytes that only imitates a header (or whose header was damaged)
   * is refused here rather than making the first growing call loop or write anywhere.
   * @throws HeapCorruptionError naming the first field that is wrong
   */
  protected checkHeader(): void {
    const m = this.m;
    const hdr = this.hdr;
    const w = (i: number): number => m[(hdr + 4 * i) >>> 2]!;
    const bad = (what: string, at: number = hdr): never => {
      throw new HeapCorruptionError(what, "attach", at);
    };
    const arena = w(H_ARENA);
    const top = w(H_TOP);
    const end = w(H_END);
    const limit = w(H_LIMIT);
    if (arena !== this.arena) bad(`arena at 0x${(arena >>> 0).toString(16)}, the header's address gives 0x${this.arena.toString(16)}`);
    if (w(H_BRK_START) !== hdr) bad("break start is not the header's address");
    // (A limit past what this memory can grow to is no damage: a copy of a heap on a growable
    // memory, in a buffer of its bytes alone, keeps its limit; its break stops where the memory
    // does.)
    if (limit < 0 || limit > MAX_HEAP_BYTES) bad("heap limit past the memory");
    if (end < 0 || end > limit || end > this.host.u32.length * 4) bad("heap end past its limit or the memory");
    if (w(H_BRK) !== end) bad("heap end differs from the break");
    if (top < arena || ((top + this.W2) & this.amask) !== 0 || top + this.minChunk > end) bad("top chunk outside the heap", top);
    const cover = w(H_COVER) >>> 0;
    if (!isPow2(cover) || cover < INITIAL_COVER || cover > 0x8000_0000 || end - arena > cover) bad("in-use bitmap does not cover the heap");
    const bm = w(H_BITMAP) - this.W2;
    if (((bm + this.W2) & this.amask) !== 0 || bm < arena || bm + this.bitmapChunkSize(cover) > top || !this.bitmapHeadOk(m[(bm + this.W) >>> 2]!) || this.markOf(bm) !== MARK_USED) bad("in-use bitmap chunk is not sound", bm);
    if (!this.sizeOk(bm, this.bitmapChunkSize(cover))) bad("in-use bitmap chunk is not sound", bm);
    const at = this.mapUnsound(top, cover);
    if (at >= 0) bad("chunk map is not a tiling of the arena", at);
    const dv = w(H_DV);
    if (dv !== 0 && !this.linkOk(dv)) bad("the designated victim is not a free chunk", dv);
    const pad = w(H_TOPPAD);
    if (pad < 0 || pad > MAX_TOP_PAD || w(H_TRIM) < 0 || w(H_MMAP_THRESHOLD) < 0 || w(H_MMAP_MAX) < 0 || w(H_MMAP_BYTES) < 0 || w(H_MMAP_COUNT) < 0) bad("a setting is out of its range");
    if (w(H_MAXFOOT) < end - hdr) bad("footprint high-water mark below the footprint");
    // (free reads a stale header up to the highest end the heap had: it must lie in the memory)
    if (this.maps === null && w(H_MAXFOOT) > this.host.u32.length * 4 - hdr) bad("footprint high-water mark past the memory");
    const nbins = binCount(this.gshift);
    let summary = 0;
    for (let i = 0; i < this.binWords; i++) {
      const bits = w(H_BINMAP + i);
      for (let b = 0; b < 32; b++) {
        const idx = (i << 5) + b;
        const head = idx < nbins ? m[(this.bins + 4 * idx) >>> 2]! : 0;
        if ((head !== 0) !== ((bits & (1 << b)) !== 0) || !this.linkOk(head)) bad(`bin ${idx} is not sound`, this.bins + 4 * idx);
      }
      if (bits !== 0) summary |= 1 << i;
    }
    if (w(H_SUMMARY) !== summary) bad("bin summary bitmap is wrong");
  }

  /**
   * For {@link Heap.checkHeader}: whether the chunk map of an attached heap is one the heap
   * could have written, for it is trusted from then on (a free chunk it marks is handed out
   * without a look at the chunks around it). Its marks and size words must tile `[arena, top)`
   * into chunks that {@link Heap.sizeOk} accepts, and nothing may be marked from the top to the
   * end of its coverage. O(words of the map): a chunk's extent is found a word at a time.
   * @returns -1 when it is sound, else the address of the first granule that is not
   */
  protected mapUnsound(top: number, cover: number): number {
    const m = this.m;
    const base = m[(this.hdr + 4 * H_BITMAP) >>> 2]! >>> 2;
    const gt = (top - this.arena) >>> this.gshift;
    const words = cover >>> (this.gshift + 4);
    for (let g = 0; g < gt; ) {
      const x = this.arena + (g << this.gshift);
      const mark = this.markOf(x);
      if (mark !== MARK_USED && mark !== MARK_FREE) return x;
      // Where the chunk ends: as its size word says, else at the next mark (or the top).
      let wi = g >>> 4;
      let bits = m[base + wi]! & -(4 << ((g & 15) << 1));
      const sw = wi + 1 < words ? m[base + wi + 1]! : 0;
      let e = gt;
      if (bits === 0 && (sw & 3) === SIZE_TAG) {
        e = g + (sw >>> 2);
        // (sizeOk reads only the size word: nothing may be marked in the rest of the chunk)
        const we = e >>> 4;
        for (let i = wi + 2; i < we && i < words; i++) if (m[base + i] !== 0) return x;
        if (we < words && (m[base + we]! & ((1 << ((e & 15) << 1)) - 1)) !== 0) return x;
      } else {
        while (bits === 0 && wi < gt >>> 4) {
          bits = m[base + ++wi]!;
          if ((bits & 3) === SIZE_TAG) return x;
        }
        if (bits !== 0) e = Math.min(gt, (wi << 4) + (ctz32(bits) >>> 1));
      }
      if (e <= g || e > gt || !this.sizeOk(x, (e - g) << this.gshift)) return x;
      g = e;
    }
    // Nothing above the top: a stale mark there would pass for a chunk once the top is carved.
    const tw = gt >>> 4;
    if (tw < words && (m[base + tw]! & -(1 << ((gt & 15) << 1))) !== 0) return top;
    for (let i = tw + 1; i < words; i++) if (m[base + i] !== 0) return this.arena + (i << (this.gshift + 4));
    return -1;
  }

  protected makeLockView(): Int32Array {
    const b = (this.memory as LinearMemory).buffer;
    if (!(typeof SharedArrayBuffer === "function" && b instanceof SharedArrayBuffer)) {
      throw new ArgumentError("Heap: a concurrent heap needs shared memory (SharedArrayBuffer or shared WebAssembly.Memory)");
    }
    // The lock is taken with Atomics on an Int32Array over the whole buffer.
    if (b.byteLength % 4 !== 0) throw new ArgumentError(`Heap: a concurrent heap needs a SharedArrayBuffer whose byteLength is a multiple of 4, got ${b.byteLength}`);
    return new Int32Array(b);
  }

  // ───────────────────────── public API ─────────────────────────

  /**
   * `malloc(3)`: a block of at least `size` bytes, aligned to 16 (8 in the 32-bit model).
   * `malloc(0)` returns a unique, freeable pointer.
   * @returns the address, or `0` with `errno = ENOMEM` (no memory, or a size no heap could
   *   hold: negative, fractional, NaN, infinite or over 2 GiB)
   * @throws ArgumentError when `size` is not a number (`"100"`, `16n`): C would not compile it
   * @example
   * ```ts
   * import { Heap, errnoName } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(100);
   * console.log(p % 16, heap.mallocUsableSize(p)); // 0 104
   * // malloc(0) gives a unique pointer that free() takes
   * const z = heap.malloc(0);
   * console.log(z !== 0 && z !== p); // true
   * // a size no heap can hold: NULL and ENOMEM, as in C
   * console.log(heap.malloc(-1), errnoName(heap.errno)); // 0 ENOMEM
   * ```
   */
  malloc(size: number): number {
    const mode = this.mode;
    if (mode !== 0) {
      // A concurrent heap's calls go to its arenas (arenas.ts: they run this fast path on an
      // engine of their own). The 32-bit model has no fast path; a heap on a wasm memory takes
      // it after picking up a growth.
      if ((mode & MODE_LOCK) !== 0) return this.shared!.malloc(size);
      if ((mode & (MODE_ILP32 | MODE_ENGINE)) !== 0) return this.mallocImpl(size);
      if ((mode & MODE_SYNC) !== 0 && this.stale()) this.sync();
    }
    // A request at or over the mmap threshold gets a mapping where the heap has a mapping
    // source (mallocImpl), before any free chunk could serve it.
    if (typeof size === "number" && size >= 0 && (size | 0) === size && size <= MAX_REQUEST && (size < this.mapFloor || !this.wantsMap(size))) {
      // allocChunk for the LP64 layout, written out with the layout as literals (W = 8,
      // 16-byte granules, chunk = max(32, (size + 23) & ~15)) so the JIT folds them, and with
      // no calls on the common paths (an exact fit, the designated victim, the top): V8 does
      // not inline helpers at call sites it sees rarely, and in a function this size each path
      // is rare. Same choices, checks and errors as allocChunk, takeFree, takeDv and carveTop;
      // any check that fails, a split of a bin's chunk, growing the heap and mappings go to
      // the general path, which throws the error that names the damage.
      const nb = size < 9 ? 32 : (size + 23) & ~15;
      const m = this.m;
      const hdr = this.hdr;
      const arena = this.arena;
      const top = m[(hdr + 4 * H_TOP) >>> 2]!;
      const map = m[(hdr + 4 * H_BITMAP) >>> 2]! >>> 2; // index of the chunk map's first word
      // allocChunk's first check, whichever chunk serves the request: the victim's address (a
      // word of the header) must lie in the arena, so that both paths answer alike.
      const dv0 = m[(hdr + 4 * H_DV) >>> 2]!;
      if (dv0 !== 0 && ((dv0 & 15) !== 0 || dv0 < arena || dv0 >= top)) return this.mallocImpl(size);
      if (nb < 1024) {
        // An exact fit: the head of its bin. The chunk map must say a free chunk of this size
        // starts there (sizeOk, written out): a program writing into freed memory or into the
        // header's bin heads must not make malloc hand out live memory.
        const slot = (this.bins + (nb >>> 2)) >>> 2;
        const c = m[slot]!;
        if (c !== 0) {
          // (Nothing is read at c before it is known to lie in the arena: in a process, a wild
          // address would fault.)
          if ((c & 15) !== 0 || c < arena || c + nb > top) return this.mallocImpl(size);
          const g = (c - arena) >>> 4;
          const wi = map + (g >>> 4);
          const sh = (g & 15) << 1;
          const word = m[wi]!;
          const after = word & -(4 << sh);
          const n = nb >>> 4;
          const e = g + n;
          const we = map + (e >>> 4);
          const next = m[we]!;
          const below = (1 << ((e & 15) << 1)) - 1;
          const fd = m[(c + 16) >>> 2]!;
          if (
            (word & 3) !== SIZE_TAG &&
            ((word >>> sh) & 3) === MARK_FREE &&
            (m[(c + 8) >>> 2]! & ~PINUSE) === nb &&
            (n >= 32 ? after === 0 && m[wi + 1] === ((n << 2) | SIZE_TAG) : (we === wi ? after & below : after | (next & below) | (we === wi + 2 ? m[wi + 1]! : 0)) === 0 && (c + nb === top || ((next >>> ((e & 15) << 1)) & 1) !== 0)) &&
            c !== m[(hdr + 4 * H_DV) >>> 2] &&
            (fd === 0 || (fd !== c && (fd & 15) === 0 && fd >= arena && fd < top && fd !== m[(hdr + 4 * H_DV) >>> 2] && m[(fd + 24) >>> 2] === c))
          ) {
            if (fd === 0) {
              // unmarkBin(nb >>> 4), written out
              const bw = (hdr + 4 * H_BINMAP + ((nb >>> 9) << 2)) >>> 2;
              const left = m[bw]! & ~(1 << ((nb >>> 4) & 31));
              m[bw] = left;
              if (left === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! & ~(1 << (nb >>> 9));
            }
            m[slot] = fd;
            m[(c + 8) >>> 2] = m[(c + 8) >>> 2]! | CINUSE;
            const nh = c + nb + 8;
            m[nh >>> 2] = m[nh >>> 2]! | PINUSE;
            m[wi] = word | (2 << sh); // free → in use (its size word, if any, stays)
            return c + 16;
          }
          return this.mallocImpl(size);
        }
        // dlmalloc's next choice, the designated victim (takeDv and allot, written out).
        const dvAt = (hdr + 4 * H_DV) >>> 2;
        const dv = dv0;
        if (dv !== 0) {
          const ds = m[(dv + 8) >>> 2]!;
          const dsize = ds & ~FLAG_BITS;
          if (dsize >= nb) {
            const g = (dv - arena) >>> 4;
            const wi = map + (g >>> 4);
            const sh = (g & 15) << 1;
            const word = m[wi]!;
            const n = dsize >>> 4;
            const e = g + n;
            const we = map + (e >>> 4);
            const below = (1 << ((e & 15) << 1)) - 1;
            const after = word & -(4 << sh);
            if (
              (ds & (CINUSE | PINUSE)) !== PINUSE ||
              dv + dsize >= top ||
              (word & 3) === SIZE_TAG ||
              ((word >>> sh) & 3) !== MARK_FREE ||
              !(n >= 32 ? after === 0 && m[wi + 1] === ((n << 2) | SIZE_TAG) : (we === wi ? after & below : after | (m[we]! & below) | (we === wi + 2 ? m[wi + 1]! : 0)) === 0 && ((m[we]! >>> ((e & 15) << 1)) & 1) !== 0)
            ) {
              return this.mallocImpl(size); // takeDv names the damage
            }
            const rem = dsize - nb;
            if (rem >= 32) {
              m[(dv + 8) >>> 2] = nb | CINUSE | PINUSE;
              const r = dv + nb;
              m[(r + 8) >>> 2] = rem | PINUSE; // unlogged: inside the victim before the call
              m[(r + 12) >>> 2] = 0; // unlogged: inside the victim before the call
              m[(r + rem) >>> 2] = rem;
              m[dvAt] = r;
              // The chunk map: the victim's size word goes, dv is in use (with a size word of
              // its own from 512 bytes), the remainder is a free chunk (with its size word).
              if (n >= 32) m[wi + 1] = 0;
              m[wi] = m[wi]! | (2 << sh);
              if (nb >= 512) m[wi + 1] = (nb >>> 2) | SIZE_TAG;
              const rg = g + (nb >>> 4);
              const ri = map + (rg >>> 4);
              m[ri] = m[ri]! | (1 << ((rg & 15) << 1));
              if (rem >= 512) m[ri + 1] = (rem >>> 2) | SIZE_TAG;
            } else {
              m[(dv + 8) >>> 2] = dsize | CINUSE | PINUSE;
              const nh = dv + dsize + 8;
              m[nh >>> 2] = m[nh >>> 2]! | PINUSE;
              m[dvAt] = 0;
              m[wi] = word | (2 << sh);
            }
            return dv + 16;
          }
        }
      }
      // A large request's own class when its head fits, else a bin of bigger chunks, else the
      // top (allocChunk's order). binIndex, fitIndex and findBin(from), written out: the bin
      // bitmap's word, then its summary word.
      let from: number;
      let idx = -1; // the bin whose head is taken
      if (nb < 1024) {
        from = (nb >>> 4) + 1;
      } else {
        const fl = 31 - Math.clz32(nb);
        const oidx = ((fl << 4) | ((nb >>> (fl - 4)) & 15)) - 96;
        const own = m[(this.bins + (oidx << 2)) >>> 2]!;
        if (own !== 0) {
          if ((own & 15) !== 0 || own < arena || own >= top) return this.mallocImpl(size); // (takeFree names it)
          if ((m[(own + 8) >>> 2]! & ~FLAG_BITS) >= nb) idx = oidx;
        }
        const up = nb + (1 << (fl - 4)) - 1;
        const ufl = 31 - Math.clz32(up);
        from = ((ufl << 4) | ((up >>> (ufl - 4)) & 15)) - 96;
      }
      let w = from >>> 5;
      if (idx < 0 && w < this.binWords) {
        const words = hdr + 4 * H_BINMAP;
        let bits = m[(words + (w << 2)) >>> 2]! & (-1 << (from & 31));
        if (bits === 0) {
          const summary = m[(hdr + 4 * H_SUMMARY) >>> 2]! & (-1 << (w + 1));
          if (summary !== 0) {
            w = 31 - Math.clz32(summary & -summary);
            bits = m[(words + (w << 2)) >>> 2]!;
            if (bits === 0) return this.mallocImpl(size); // a summary bit over an empty word: findBin's answer, and takeFree names the damage
          }
        }
        if (bits !== 0) idx = (w << 5) + 31 - Math.clz32(bits & -bits);
      }
      if (idx >= 0) {
        // takeFree(c, idx, nb, nb < 1024), written out: the head of the bin found, checked as
        // for an exact fit, split; the remainder of a small request becomes the designated
        // victim (the old one going to its bin), a large request's goes to its bin.
        const slot = (this.bins + (idx << 2)) >>> 2;
        const c = m[slot]!;
        if ((c & 15) !== 0 || c < arena || c >= top) return this.mallocImpl(size);
        const s = m[(c + 8) >>> 2]!;
        const csize = s & ~FLAG_BITS;
        if ((s & CINUSE) !== 0 || csize < nb || (csize & 15) !== 0 || c + csize > top || m[(c + 12) >>> 2] !== 0) return this.mallocImpl(size);
        const cl = Math.clz32(csize);
        if ((csize < 1024 ? csize >>> 4 : (((31 - cl) << 4) | ((csize >>> (27 - cl)) & 15)) - 96) !== idx) return this.mallocImpl(size);
        const g = (c - arena) >>> 4;
        const wi = map + (g >>> 4);
        const sh = (g & 15) << 1;
        const word = m[wi]!;
        const k = csize >>> 4;
        const e = g + k;
        const we = map + (e >>> 4);
        const es = (e & 15) << 1;
        const after = word & -(4 << sh);
        const dvAt = (hdr + 4 * H_DV) >>> 2;
        const dv = m[dvAt]!;
        const fd = m[(c + 16) >>> 2]!;
        if (
          (word & 3) === SIZE_TAG ||
          ((word >>> sh) & 3) !== MARK_FREE ||
          (k >= 32 ? after !== 0 || m[wi + 1] !== ((k << 2) | SIZE_TAG) : (we === wi ? after & ((1 << es) - 1) : after | (m[we]! & ((1 << es) - 1)) | (we === wi + 2 ? m[wi + 1]! : 0)) !== 0 || (c + csize !== top && ((m[we]! >>> es) & 1) === 0)) ||
          c === dv ||
          (fd !== 0 && (fd === c || (fd & 15) !== 0 || fd < arena || fd >= top || fd === dv || m[(fd + 24) >>> 2] !== c))
        ) {
          return this.mallocImpl(size);
        }
        const rem = csize - nb;
        const small = nb < 1024;
        let x = 0; // the chunk that goes to a bin: the old victim, or a large request's remainder
        let xs = 0;
        if (rem >= 32) {
          x = small ? dv : c + nb;
          xs = small ? (dv !== 0 && (dv & 15) === 0 && dv >= arena && dv < top ? m[(dv + 8) >>> 2]! & ~FLAG_BITS : 0) : rem;
          if (x !== 0) {
            if (small && !this.freeChunkOk(dv, xs)) return this.mallocImpl(size);
            const xl = Math.clz32(xs);
            const xi = xs < 1024 ? xs >>> 4 : (((31 - xl) << 4) | ((xs >>> (27 - xl)) & 15)) - 96;
            const h = xi === idx ? fd : m[(this.bins + (xi << 2)) >>> 2]!;
            if (h === x || h === c || !this.linkOk(h)) return this.mallocImpl(size);
          }
        }
        // Every check passed: from here on the heap changes. popHead, written out.
        if (fd === 0) {
          const bw = (hdr + 4 * H_BINMAP + ((idx >>> 5) << 2)) >>> 2;
          const left = m[bw]! & ~(1 << (idx & 31));
          m[bw] = left;
          if (left === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! & ~(1 << (idx >>> 5));
        }
        m[slot] = fd;
        if (rem >= 32) {
          m[(c + 8) >>> 2] = nb | CINUSE | (s & PINUSE);
          const r = c + nb;
          m[(r + 8) >>> 2] = rem | PINUSE; // unlogged: inside chunk c before the call
          m[(r + 12) >>> 2] = 0; // unlogged: inside chunk c before the call
          m[(r + rem) >>> 2] = rem;
          // The chunk map: c's old size word goes, c is in use (with its own size word from 512
          // bytes), the remainder is a free chunk (with its size word).
          if (k >= 32) m[wi + 1] = 0;
          m[wi] = m[wi]! | (2 << sh);
          if (nb >= 512) m[wi + 1] = (nb >>> 2) | SIZE_TAG;
          const rg = g + (nb >>> 4);
          const ri = map + (rg >>> 4);
          m[ri] = m[ri]! | (MARK_FREE << ((rg & 15) << 1));
          if (rem >= 512) m[ri + 1] = (rem >>> 2) | SIZE_TAG;
          if (small) m[dvAt] = r;
          if (x !== 0) {
            // insert(x, xs), written out
            const xl = Math.clz32(xs);
            const xi = xs < 1024 ? xs >>> 4 : (((31 - xl) << 4) | ((xs >>> (27 - xl)) & 15)) - 96;
            const xslot = (this.bins + (xi << 2)) >>> 2;
            const head = m[xslot]!;
            m[(x + 16) >>> 2] = head;
            if (head !== 0) {
              m[(head + 24) >>> 2] = x;
            } else {
              const bw = (hdr + 4 * H_BINMAP + ((xi >>> 5) << 2)) >>> 2;
              const old = m[bw]!;
              m[bw] = old | (1 << (xi & 31));
              if (old === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! | (1 << (xi >>> 5));
            }
            m[xslot] = x;
          }
        } else {
          m[(c + 8) >>> 2] = csize | CINUSE | (s & PINUSE);
          const nh = c + csize + 8;
          m[nh >>> 2] = m[nh >>> 2]! | PINUSE;
          m[wi] = m[wi]! | (2 << sh);
        }
        return c + 16;
      }
      {
        const dv = m[(hdr + 4 * H_DV) >>> 2]!;
        // carveTop, written out, when the top holds the chunk and a minimum chunk after it
        // (and no victim could serve a large request first).
        const tsize = m[(hdr + 4 * H_END) >>> 2]! - top;
        const ts = m[(top + 8) >>> 2]!;
        if (tsize >= nb + 32 && (ts & ~(FLAG_BITS & ~CINUSE)) === tsize && m[(top + 12) >>> 2] === 0 && (nb < 1024 || dv === 0 || ((dv & 15) === 0 && dv >= arena && dv < top && (m[(dv + 8) >>> 2]! & ~FLAG_BITS) < nb))) {
          const nt = top + nb;
          m[(nt + 8) >>> 2] = (tsize - nb) | PINUSE; // unlogged: inside the top before the call
          m[(nt + 12) >>> 2] = 0; // unlogged: inside the top before the call
          m[(top + 8) >>> 2] = nb | CINUSE | (ts & PINUSE);
          m[(hdr + 4 * H_TOP) >>> 2] = nt;
          const g = (top - arena) >>> 4;
          const wi = map + (g >>> 4);
          m[wi] = m[wi]! | (MARK_USED << ((g & 15) << 1));
          if (nb >= 512) m[wi + 1] = (nb >>> 2) | SIZE_TAG;
          return top + 16;
        }
      }
    }
    return this.mallocImpl(size);
  }

  /**
   * `free(3)`: returns a block. `free(0)` does nothing; `errno` is never changed.
   *
   * `free(view)` frees the block a typed array from {@link Heap.mallocArray} (or any view whose
   * `byteOffset` is a block of this heap, over its buffer) covers.
   * @throws DoubleFreeError for a block already freed; InvalidPointerError for anything the
   *   heap did not return (interior, misaligned, out of range, a view of another buffer);
   *   HeapCorruptionError when the block's neighbours are smashed. Nothing changes before it
   *   throws. ArgumentError for a value that is neither a number nor a view (`free("16")`).
   * @example
   * ```ts
   * import { DoubleFreeError, Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(32);
   * heap.free(p);
   * heap.free(0); // free(NULL) does nothing
   * try {
   *   heap.free(p);
   * } catch (e) {
   *   console.log(e instanceof DoubleFreeError, (e as Error).message); // true free(): double free detected (pointer 0x830)
   * }
   * try {
   *   heap.free(heap.malloc(32) + 8); // a pointer into a block
   * } catch (e) {
   *   console.log((e as Error).name, (e as Error).message); // InvalidPointerError free(): invalid pointer (0x838)
   * }
   * ```
   */
  free(ptr: number | TypedArray | DataView): void {
    if (typeof ptr !== "number") {
      if (ptr == null) return;
      this.free(blockOf(this, ptr, "free"));
      return;
    }
    if (ptr === 0) return;
    const mode = this.mode;
    if (mode !== 0) {
      // As in malloc: a concurrent heap's calls go to its arenas; the 32-bit model takes the
      // general path; a heap on a wasm memory picks up a growth first.
      if ((mode & MODE_LOCK) !== 0) {
        this.shared!.free(ptr);
        return;
      }
      if ((mode & (MODE_ILP32 | MODE_ENGINE)) !== 0) {
        this.freeImpl(ptr);
        return;
      }
      if ((mode & MODE_SYNC) !== 0 && this.stale()) this.sync();
    }
    // validate and freeChunk for the LP64 layout, written out with literal layout numbers
    // (see malloc). The pointer is validated as an int32 (callers often pass doubles) and by
    // the chunk map, the block's size by the chunk map too (sizeOk, written out). Then the
    // common case, both neighbours in use, takes a straight path of its own, apart from the
    // merges: run through the merging code's flags and live values, it cost a fifth more
    // (churn). The merges follow, written out too. Any check that fails goes to freeChunk,
    // which throws the error that names the damage before anything changes.
    const p = ptr | 0;
    const m = this.m;
    const hdr = this.hdr;
    const arena = this.arena;
    const c = p - 16;
    const top = m[(hdr + 4 * H_TOP) >>> 2]!;
    if (p !== ptr || (p & 15) !== 0 || c < arena || p >= top) {
      this.freeImpl(ptr); // a mapped block, or a bad pointer
      return;
    }
    const bitmap = m[(hdr + 4 * H_BITMAP) >>> 2]!;
    const map = bitmap >>> 2;
    const g = (c - arena) >>> 4;
    const wi = map + (g >>> 4);
    const sh = (g & 15) << 1;
    const word = m[wi]!;
    if ((word & 3) === SIZE_TAG || ((word >>> sh) & 3) !== MARK_USED || p === bitmap) {
      // Not live: freeImpl throws what badPointer names. (A call the rest of this path ran on
      // after, as `this.badPointer(...)` alone, kept the values live across it on the stack;
      // so does a helper in a condition, hence bitmapHeadOk written out below.)
      this.freeImpl(ptr);
      return;
    }
    const s = m[(c + 8) >>> 2]!;
    const size = s & ~FLAG_BITS;
    const n = c + size;
    if (size >= 32 && (size & 15) === 0 && n <= top && m[(c + 12) >>> 2] === 0) {
      // sizeOk(c, size), written out: the map gives c this size. (Nothing is read at n before.)
      const k = size >>> 4;
      const e = g + k;
      const we = map + (e >>> 4);
      const es = (e & 15) << 1;
      const after = word & -(4 << sh);
      const next = m[we]!; // the word of the next chunk's pair
      if (k >= 32 ? after === 0 && m[wi + 1] === ((k << 2) | SIZE_TAG) : (we === wi ? after & ((1 << es) - 1) : after | (next & ((1 << es) - 1)) | (we === wi + 2 ? m[wi + 1]! : 0)) === 0) {
        // The map confirms c's size, so the pair at e is the next chunk's start (or the top's):
        // a block in use there, and this header's PINUSE, mean nothing merges.
        if ((s & PINUSE) !== 0 && n !== top && (next & 3) !== SIZE_TAG && ((next >>> es) & 3) === MARK_USED) {
          // The chunk after, in use in the map (a block, or the map's own chunk), must say so
          // in a sound header. The head of c's bin is written through: a free chunk in the map.
          const ns = m[(n + 8) >>> 2]!;
          const nsize = ns & ~FLAG_BITS;
          const tl = Math.clz32(size);
          const idx = size < 1024 ? k : (((31 - tl) << 4) | ((size >>> (27 - tl)) & 15)) - 96;
          const slot = (this.bins + (idx << 2)) >>> 2;
          const head = m[slot]!;
          const hg = (head - arena) >>> 4;
          if (
            (ns & (CINUSE | PINUSE)) === (CINUSE | PINUSE) &&
            nsize >= 32 &&
            (nsize & 15) === 0 &&
            n + nsize <= top &&
            m[(n + 12) >>> 2] === 0 &&
            (n !== bitmap - 16 || ((ns & CINUSE) !== 0 && nsize === Math.max(32, ((m[(hdr + 4 * H_COVER) >>> 2]! >>> 6) + 23) & ~15))) && // bitmapHeadOk, written out
            (head === 0 || ((head & 15) === 0 && head >= arena && head < top && ((m[map + (hg >>> 4)]! & 3) !== SIZE_TAG && ((m[map + (hg >>> 4)]! >>> ((hg & 15) << 1)) & 3) === MARK_FREE)))
          ) {
            // Every check passed: from here on the heap changes. c stays a start in the map, now
            // free (its size word, if any, stays).
            m[wi] = word & ~(2 << sh);
            m[(n + 8) >>> 2] = ns & ~PINUSE;
            m[(c + 8) >>> 2] = size | PINUSE;
            m[n >>> 2] = size;
            // insert(c, size), written out
            m[(c + 16) >>> 2] = head; // unlogged: the freed block's own bytes
            if (head !== 0) {
              m[(head + 24) >>> 2] = c;
            } else {
              const bw = (hdr + 4 * H_BINMAP + ((idx >>> 5) << 2)) >>> 2;
              const old = m[bw]!;
              m[bw] = old | (1 << (idx & 31));
              if (old === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! | (1 << (idx >>> 5));
            }
            m[slot] = c;
            // As in freeChunk: free space held below the top only by the bitmap.
            if (n === bitmap - 16 && size + m[(hdr + 4 * H_END) >>> 2]! - top > m[(hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(hdr + 4 * H_TOPPAD) >>> 2]!);
            return;
          }
        } else {
          // A merge: with the chunk before, the chunk after (free in a bin, or the designated
          // victim) or the top.
          fast: {
            const toTop = n === top;
            const dvAt = (hdr + 4 * H_DV) >>> 2;
            let ns = 0;
            let nsize = 0;
            let nextFree = false;
            let nIsDv = false;
            let nslot = 0;
            let nidx = 0;
            if (!toTop) {
              // The chunk after: in use in the map (a block, or the map's own chunk), or free there
              // and of the size the map gives it, in its bin with sound links or the designated
              // victim; its header agreeing either way.
              if ((next & 3) === SIZE_TAG) break fast;
              const np = (next >>> es) & 3;
              ns = m[(n + 8) >>> 2]!;
              nsize = ns & ~FLAG_BITS;
              if (nsize < 32 || (nsize & 15) !== 0 || n + nsize > top || m[(n + 12) >>> 2] !== 0) break fast;
              if (np === MARK_USED) {
                if ((ns & (CINUSE | PINUSE)) !== (CINUSE | PINUSE) || (n === bitmap - 16 && nsize !== Math.max(32, ((m[(hdr + 4 * H_COVER) >>> 2]! >>> 6) + 23) & ~15))) break fast; // bitmapHeadOk
              } else {
                if (np !== MARK_FREE || (ns & (CINUSE | PINUSE)) !== PINUSE) break fast;
                const nk = nsize >>> 4;
                const ne = e + nk;
                const nwe = map + (ne >>> 4);
                const nes = (ne & 15) << 1;
                const nafter = next & -(4 << es);
                if (nk >= 32 ? nafter !== 0 || m[we + 1] !== ((nk << 2) | SIZE_TAG) : (nwe === we ? nafter & ((1 << nes) - 1) : nafter | (m[nwe]! & ((1 << nes) - 1)) | (nwe === we + 2 ? m[we + 1]! : 0)) !== 0 || (n + nsize !== top && ((m[nwe]! >>> nes) & 1) === 0)) break fast;
                if (m[(n + nsize) >>> 2] !== nsize || (m[(n + nsize + 8) >>> 2]! & PINUSE) !== 0) break fast; // footerOk
                nIsDv = n === m[dvAt];
                if (!nIsDv) {
                  const nl = Math.clz32(nsize);
                  nidx = nsize < 1024 ? nsize >>> 4 : (((31 - nl) << 4) | ((nsize >>> (27 - nl)) & 15)) - 96;
                  nslot = (this.bins + (nidx << 2)) >>> 2;
                  const fd = m[(n + 16) >>> 2]!;
                  if (fd !== 0) {
                    if (fd === n || (fd & 15) !== 0 || fd < arena || fd >= top) break fast;
                    const fg = (fd - arena) >>> 4;
                    const fw = m[map + (fg >>> 4)]!;
                    if ((fw & 3) === SIZE_TAG || ((fw >>> ((fg & 15) << 1)) & 3) !== MARK_FREE || m[(fd + 24) >>> 2] !== n) break fast;
                  }
                  if (m[nslot] !== n) {
                    const bk = m[(n + 24) >>> 2]!;
                    if ((bk & 15) !== 0 || bk < arena || bk >= top) break fast;
                    const bg = (bk - arena) >>> 4;
                    const bw = m[map + (bg >>> 4)]!;
                    if ((bw & 3) === SIZE_TAG || ((bw >>> ((bg & 15) << 1)) & 3) !== MARK_FREE || m[(bk + 16) >>> 2] !== n) break fast;
                  }
                }
                nextFree = true;
              }
            } else {
              const ts = m[(top + 8) >>> 2]!;
              if ((ts & ~FLAG_BITS) !== m[(hdr + 4 * H_END) >>> 2]! - top || (ts & (CINUSE | PINUSE)) !== PINUSE || m[(top + 12) >>> 2] !== 0) break fast;
            }
            // The chunk before, when this header says it is free: a free chunk in the map that ends
            // exactly here (sizeOk), in its bin with links that are free chunks naming it back
            // (linksOk), or the designated victim.
            let start = c;
            let total = size;
            let ps = 0;
            let pw = 0;
            let psh = 0;
            let pslot = 0;
            let pidx = 0;
            let prevIsDv = false;
            if ((s & PINUSE) === 0) {
              ps = m[c >>> 2]!;
              start = c - ps;
              if (ps < 32 || (ps & 15) !== 0 || start < arena || m[(start + 8) >>> 2] !== (ps | PINUSE) || m[(start + 12) >>> 2] !== 0) break fast;
              const pg = (start - arena) >>> 4;
              pw = map + (pg >>> 4);
              psh = (pg & 15) << 1;
              const pword = m[pw]!;
              if ((pword & 3) === SIZE_TAG || ((pword >>> psh) & 3) !== MARK_FREE) break fast;
              const pk = ps >>> 4;
              const pafter = pword & -(4 << psh);
              if (pk >= 32 ? pafter !== 0 || m[pw + 1] !== ((pk << 2) | SIZE_TAG) : (pw === wi ? pafter & ((1 << sh) - 1) : pafter | (word & ((1 << sh) - 1)) | (wi === pw + 2 ? m[pw + 1]! : 0)) !== 0) break fast;
              prevIsDv = start === m[dvAt];
              if (!prevIsDv) {
                const pl = Math.clz32(ps);
                pidx = ps < 1024 ? ps >>> 4 : (((31 - pl) << 4) | ((ps >>> (27 - pl)) & 15)) - 96;
                pslot = (this.bins + (pidx << 2)) >>> 2;
                const fd = m[(start + 16) >>> 2]!;
                if (fd !== 0) {
                  if (fd === start || (fd & 15) !== 0 || fd < arena || fd >= top) break fast;
                  const fg = (fd - arena) >>> 4;
                  const fw = m[map + (fg >>> 4)]!;
                  if ((fw & 3) === SIZE_TAG || ((fw >>> ((fg & 15) << 1)) & 3) !== MARK_FREE || m[(fd + 24) >>> 2] !== start) break fast;
                }
                if (m[pslot] !== start) {
                  const bk = m[(start + 24) >>> 2]!;
                  if ((bk & 15) !== 0 || bk < arena || bk >= top) break fast;
                  const bg = (bk - arena) >>> 4;
                  const bw = m[map + (bg >>> 4)]!;
                  if ((bw & 3) === SIZE_TAG || ((bw >>> ((bg & 15) << 1)) & 3) !== MARK_FREE || m[(bk + 16) >>> 2] !== start) break fast;
                }
              }
              total = size + ps;
            }
            if (nextFree) total += nsize;
            // The bin the result goes to: its head is written through (a free chunk in the map), unless
            // it is the chunk before, whose forward link (checked above) becomes the head.
            let tidx = 0;
            let tslot = 0;
            const withDv = prevIsDv || nIsDv; // a chunk that merges with the victim stays the victim
            if (!toTop && !withDv) {
              const tl = Math.clz32(total);
              tidx = total < 1024 ? total >>> 4 : (((31 - tl) << 4) | ((total >>> (27 - tl)) & 15)) - 96;
              tslot = (this.bins + (tidx << 2)) >>> 2;
              const h = m[tslot]!;
              if (h === start && start !== c) {
                if (tslot !== pslot) break fast; // (a stale head: freeChunk names it)
              } else if (nextFree && h === n) {
                if (tslot !== nslot) break fast;
              } else if (h !== 0) {
                if ((h & 15) !== 0 || h < arena || h >= top) break fast;
                const hg = (h - arena) >>> 4;
                const hw = m[map + (hg >>> 4)]!;
                if ((hw & 3) === SIZE_TAG || ((hw >>> ((hg & 15) << 1)) & 3) !== MARK_FREE) break fast;
              }
            }
            // Every check passed: from here on the heap changes.
            if (start !== c && !prevIsDv) {
              // unlink(start), written out
              const fd = m[(start + 16) >>> 2]!;
              if (m[pslot] === start) {
                m[pslot] = fd;
                if (fd === 0) {
                  const bw = (hdr + 4 * H_BINMAP + ((pidx >>> 5) << 2)) >>> 2;
                  const left = m[bw]! & ~(1 << (pidx & 31));
                  m[bw] = left;
                  if (left === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! & ~(1 << (pidx >>> 5));
                }
              } else {
                const bk = m[(start + 24) >>> 2]!;
                m[(bk + 16) >>> 2] = fd;
                if (fd !== 0) m[(fd + 24) >>> 2] = bk;
              }
            }
            if (nextFree && !nIsDv) {
              // unlink(n), written out; its links are read again, as unlinking `start` may have changed them
              const fd = m[(n + 16) >>> 2]!;
              if (m[nslot] === n) {
                m[nslot] = fd;
                if (fd === 0) {
                  const bw = (hdr + 4 * H_BINMAP + ((nidx >>> 5) << 2)) >>> 2;
                  const left = m[bw]! & ~(1 << (nidx & 31));
                  m[bw] = left;
                  if (left === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! & ~(1 << (nidx >>> 5));
                }
              } else {
                const bk = m[(n + 24) >>> 2]!;
                m[(bk + 16) >>> 2] = fd;
                if (fd !== 0) m[(fd + 24) >>> 2] = bk;
              }
            }
            if (nextFree) {
              // The next chunk leaves the map (its size word, then its mark).
              if (nsize >= 512) m[we + 1] = 0;
              m[we] = m[we]! & ~(3 << es);
            }
            // The chunk map: c stays a start (now free) or leaves the map, with its size word; the
            // chunk before loses its size word (rewritten below for the merged chunk).
            if (start === c && !toTop && !nextFree) {
              m[wi] = m[wi]! & ~(2 << sh); // in use → free (its size word stays)
            } else {
              m[(c + 8) >>> 2] = s & ~CINUSE; // (merged away: a later free of it is named a double free)
              if (k >= 32) m[wi + 1] = 0;
              m[wi] = m[wi]! & ~(3 << sh);
              if (start !== c) {
                if (ps >= 512) m[pw + 1] = 0;
                if (toTop) m[pw] = m[pw]! & ~(3 << psh);
              }
            }
            if (toTop) {
              const end = m[(hdr + 4 * H_END) >>> 2]!;
              if (prevIsDv) m[dvAt] = 0;
              m[(hdr + 4 * H_TOP) >>> 2] = start;
              m[(start + 8) >>> 2] = (end - start) | PINUSE;
              // The free space at the end: the top, and a free chunk below the bitmap when the bitmap
              // is all that keeps it from the top (lowerBitmap, in trim, moves the bitmap down).
              const bmc = bitmap - 16;
              const bs = m[(bmc + 8) >>> 2]!;
              const held = bmc + (bs & ~FLAG_BITS) === start && (bs & PINUSE) === 0 ? m[bmc >>> 2]! : 0;
              if (end - start + held > m[(hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(hdr + 4 * H_TOPPAD) >>> 2]!);
              return;
            }
            if (!nextFree) m[(n + 8) >>> 2] = ns & ~PINUSE;
            else if (start === c) m[wi] = m[wi]! | (MARK_FREE << sh); // c starts the merged chunk
            m[(start + 8) >>> 2] = total | PINUSE;
            m[(start + total) >>> 2] = total;
            if ((start !== c || nextFree) && total >= 512) m[(start === c ? wi : pw) + 1] = (total >>> 2) | SIZE_TAG;
            if (withDv) {
              m[dvAt] = start;
            } else {
              // insert(start, total), written out
              const head = m[tslot]!;
              m[(start + 16) >>> 2] = head;
              if (head !== 0) {
                m[(head + 24) >>> 2] = start;
              } else {
                const bw = (hdr + 4 * H_BINMAP + ((tidx >>> 5) << 2)) >>> 2;
                const old = m[bw]!;
                m[bw] = old | (1 << (tidx & 31));
                if (old === 0) m[(hdr + 4 * H_SUMMARY) >>> 2] = m[(hdr + 4 * H_SUMMARY) >>> 2]! | (1 << (tidx >>> 5));
              }
              m[tslot] = start;
            }
            // As in freeChunk: free space held below the top only by the bitmap.
            if (start + total === bitmap - 16 && total + m[(hdr + 4 * H_END) >>> 2]! - top > m[(hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(hdr + 4 * H_TOPPAD) >>> 2]!);
            return;
          }
        }
      }
    }
    this.freeChunk(c, "free");
  }

  /**
   * `calloc(3)`: `nmemb * size` zeroed bytes.
   * @returns the address, or `0` with `ENOMEM` (also when `nmemb * size` overflows)
   * @example
   * ```ts
   * import { Heap, errnoName } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(64);
   * heap.memory.u8.fill(0xff, p, p + 64);
   * heap.free(p);
   * // calloc zeroes, even memory a freed block dirtied
   * const q = heap.calloc(16, 4);
   * console.log(q === p, heap.memory.u8.subarray(q, q + 64).every((b) => b === 0)); // true true
   * // nmemb * size overflows: NULL and ENOMEM
   * console.log(heap.calloc(2 ** 40, 2 ** 40), errnoName(heap.errno)); // 0 ENOMEM
   * ```
   */
  calloc(nmemb: number, size: number): number {
    if ((this.mode & MODE_LOCK) !== 0) return this.locked(this.callocImpl, nmemb, size);
    return this.callocImpl(nmemb, size);
  }

  /**
   * `realloc(3)`: resizes a block, in place when it can (shrinking, growing within the usable
   * size, into a free neighbour or into the top), else by moving it (the first
   * `min(old, new)` bytes survive). `realloc(0, n)` is `malloc(n)`; `realloc(p, 0)` frees `p`
   * and returns 0 (glibc), leaving `errno` alone.
   * @returns the new address, or `0` with `ENOMEM`, the old block intact and still owned
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(100);
   * heap.memory.u8.set(new TextEncoder().encode("hello"), p);
   * // the top chunk follows the block: it grows in place
   * const q = heap.realloc(p, 1000);
   * console.log(q === p, new TextDecoder().decode(heap.memory.u8.subarray(q, q + 5))); // true hello
   * // a live block after it: the block moves, its bytes with it
   * heap.malloc(16);
   * const r = heap.realloc(q, 5000);
   * console.log(r === q, new TextDecoder().decode(heap.memory.u8.subarray(r, r + 5))); // false hello
   * // realloc(p, 0) frees p and returns NULL (glibc)
   * console.log(heap.realloc(r, 0), heap.errno); // 0 0
   * ```
   */
  realloc(ptr: number, size: number): number {
    if ((this.mode & MODE_LOCK) !== 0) return this.shared!.realloc(ptr, size); // (the arena's way, as malloc's)
    return this.reallocImpl(ptr, size);
  }

  /**
   * `reallocarray(3)`: `realloc(ptr, nmemb * size)` with an overflow check.
   * @returns the new address, or `0` with `ENOMEM` on overflow (the block intact)
   * @example
   * ```ts
   * import { Heap, errnoName } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(10 * 8);
   * const q = heap.reallocarray(p, 20, 8);
   * console.log(heap.mallocUsableSize(q)); // 168
   * // 2^40 * 2^40 overflows: NULL, ENOMEM, and the block is still q's
   * console.log(heap.reallocarray(q, 2 ** 40, 2 ** 40), errnoName(heap.errno), heap.mallocUsableSize(q)); // 0 ENOMEM 168
   * ```
   */
  reallocarray(ptr: number, nmemb: number, size: number): number {
    const total = this.product(nmemb, size);
    if (total < 0) {
      if (typeof nmemb !== "number") throw notNumber("reallocarray", "nmemb", nmemb);
      if (typeof size !== "number") throw notNumber("reallocarray", "size", size);
      // A block of a concurrent heap may be in an arena's segment, which only the arena's
      // realloc knows: a size no heap can hold checks the pointer there, then fails (ENOMEM).
      if ((this.mode & MODE_LOCK) !== 0 && ptr !== 0 && ptr != null) return this.realloc(ptr, 0x1_0000_0000);
      if (ptr !== 0 && ptr != null && !(this.maps !== null && this.maps.has(ptr))) this.validate(ptr, "reallocarray");
      this.errno = Errno.ENOMEM;
      return 0;
    }
    return this.realloc(ptr, total);
  }

  /**
   * `posix_memalign(3)`: a block of `size` bytes aligned to `alignment`, which must be a power
   * of two and a multiple of the pointer size. Never touches `errno`.
   * @returns `{ err: 0, ptr }`, or `{ err: EINVAL | ENOMEM, ptr: 0 }` with nothing allocated
   * @example
   * ```ts
   * import { Heap, errnoName } from "vmheap";
   *
   * const heap = new Heap();
   * const { err, ptr } = heap.posixMemalign(4096, 100);
   * console.log(err, ptr % 4096); // 0 0
   * // not a power of two: the error is returned, errno stays as it was
   * const bad = heap.posixMemalign(24, 100);
   * console.log(errnoName(bad.err), bad.ptr, heap.errno); // EINVAL 0 0
   * ```
   */
  posixMemalign(alignment: number, size: number): {
    /** 0, or the error: EINVAL or ENOMEM */
    err: number;
    /** The block, or 0 */
    ptr: number;
  } {
    if (typeof size !== "number") throw notNumber("posixMemalign", "size", size);
    if (!isPow2(alignment) || alignment % this.W !== 0) {
      if (typeof alignment !== "number") throw notNumber("posixMemalign", "alignment", alignment);
      return { err: Errno.EINVAL, ptr: 0 };
    }
    const saved = this.errno;
    const ptr = (this.mode & MODE_LOCK) !== 0 ? this.locked(this.memalignImpl, alignment, size) : this.memalignImpl(alignment, size);
    this.errno = saved;
    return ptr === 0 ? { err: Errno.ENOMEM, ptr: 0 } : { err: 0, ptr };
  }

  /**
   * `aligned_alloc(3)` (C11): `alignment` must be a power of two (else `0` with `EINVAL`);
   * any size is accepted.
   * @example
   * ```ts
   * import { Heap, errnoName } from "vmheap";
   *
   * const heap = new Heap();
   * console.log(heap.alignedAlloc(64, 100) % 64); // 0
   * console.log(heap.alignedAlloc(48, 100), errnoName(heap.errno)); // 0 EINVAL
   * ```
   */
  alignedAlloc(alignment: number, size: number): number {
    if (typeof size !== "number") throw notNumber("alignedAlloc", "size", size);
    if (!isPow2(alignment)) {
      if (typeof alignment !== "number") throw notNumber("alignedAlloc", "alignment", alignment);
      this.errno = Errno.EINVAL;
      return 0;
    }
    return (this.mode & MODE_LOCK) !== 0 ? this.locked(this.memalignImpl, alignment, size) : this.memalignImpl(alignment, size);
  }

  /**
   * `memalign(3)`: alignments up to 16 behave as `malloc`; one that is not a power of two is
   * rounded up to the next power of two.
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * // 100 is not a power of two: rounded up to 128
   * console.log(heap.memalign(100, 10) % 128); // 0
   * ```
   */
  memalign(alignment: number, size: number): number {
    if (typeof size !== "number") throw notNumber("memalign", "size", size);
    if (!Number.isInteger(alignment) || alignment < 0 || alignment > 2 ** 63) {
      if (typeof alignment !== "number") throw notNumber("memalign", "alignment", alignment);
      this.errno = Errno.EINVAL; // glibc: only past SIZE_MAX / 2 + 1 (2^63), which a negative size_t is
      return 0;
    }
    if (alignment > 0x4000_0000) {
      this.errno = Errno.ENOMEM; // a valid alignment no heap of at most 2 GiB can give
      return 0;
    }
    let a = alignment;
    if (!isPow2(a) && a !== 0) a = 2 ** Math.ceil(Math.log2(a));
    return (this.mode & MODE_LOCK) !== 0 ? this.locked(this.memalignImpl, a, size) : this.memalignImpl(a, size);
  }

  /**
   * `malloc_usable_size(3)`: bytes the block can really hold (at least what was asked).
   * @returns 0 for `0` and for anything that is not a live block
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * // glibc's arithmetic: a 112-byte chunk, 8 bytes of it the size field
   * console.log(heap.mallocUsableSize(heap.malloc(100))); // 104
   * console.log(heap.mallocUsableSize(heap.malloc(1))); // 24
   * console.log(heap.mallocUsableSize(0), heap.mallocUsableSize(12345)); // 0 0
   * ```
   */
  mallocUsableSize(ptr: number): number {
    if ((this.mode & MODE_LOCK) !== 0) return this.locked(this.usableImpl, ptr, 0);
    return this.usableImpl(ptr);
  }

  protected usableImpl(ptr: number): number {
    if (ptr === 0 || ptr == null) return 0;
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    if (this.maps !== null) {
      const b = this.maps.get(ptr);
      if (b !== undefined) return b.start + b.length - ptr;
    }
    if (!this.isLive(ptr)) {
      if (typeof ptr !== "number") throw new ArgumentError(`mallocUsableSize(): invalid pointer (${show(ptr)}): a pointer is a number`);
      return 0;
    }
    const size = this.host.ld(ptr - this.W) & ~FLAG_BITS;
    if (!this.sizeOk(ptr - this.W2, size)) throw new HeapCorruptionError("invalid size", "malloc_usable_size", ptr - this.W2);
    return size - this.W;
  }

  /**
   * glibc's `mallinfo2()`: totals of the brk heap and the mapped blocks.
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const before = heap.mallinfo();
   * const p = heap.malloc(1000);
   * const { arena, ordblks, uordblks, fordblks, keepcost } = heap.mallinfo();
   * console.log(uordblks - before.uordblks, arena === uordblks + fordblks); // 1008 true
   * console.log({ arena, ordblks, uordblks, fordblks, keepcost });
   * // {
   * //   arena: 6176,
   * //   ordblks: 1,
   * //   uordblks: 3088,
   * //   fordblks: 3088,
   * //   keepcost: 3088
   * // }
   * heap.free(p);
   * ```
   */
  mallinfo(): MallInfo {
    if ((this.mode & MODE_LOCK) !== 0) return this.locked(this.mallinfoImpl, 0, 0);
    return this.mallinfoImpl();
  }

  protected mallinfoImpl(): MallInfo {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    const h = this.host;
    let ordblks = 1;
    const top = this.topAddr();
    let fordblks = this.endAddr() - top;
    const nbins = binCount(this.gshift);
    // A smashed link (outside the arena, misaligned, or a cycle: more links than chunks fit)
    // is reported, not followed: in a process it could fault, and a cycle would not end.
    const most = (top - this.arena) / this.minChunk;
    let seen = 0;
    for (let i = 0; i < nbins; i++) {
      for (let c = h.ld(this.bins + 4 * i); c !== 0; c = h.ld(c + this.W2)) {
        if (c < this.arena || c >= top || ((c + this.W2) & this.amask) !== 0 || ++seen > most) throw new HeapCorruptionError("corrupted free list", "mallinfo", c);
        ordblks++;
        fordblks += h.ld(c + this.W) & ~FLAG_BITS;
      }
    }
    const dv = h.ld(this.hdr + 4 * H_DV);
    if (dv !== 0) {
      ordblks++;
      fordblks += h.ld(dv + this.W) & ~FLAG_BITS;
    }
    const arena = this.endAddr() - this.word(H_BRK_START);
    return {
      arena,
      ordblks,
      smblks: 0,
      hblks: this.word(H_MMAP_COUNT),
      hblkhd: this.mappedBytes(),
      usmblks: 0,
      fsmblks: 0,
      uordblks: arena - fordblks,
      fordblks,
      keepcost: this.endAddr() - this.topAddr(),
    };
  }

  /**
   * Bytes now obtained from the system: the brk heap plus mapped blocks (dlmalloc's `malloc_footprint`). O(1).
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(1 << 20);
   * console.log(heap.mallocFootprint(), heap.mallocMaxFootprint()); // 1087520 1087520
   * // free gives the top back past the trim threshold; the high-water mark stays
   * heap.free(p);
   * console.log(heap.mallocFootprint(), heap.mallocMaxFootprint()); // 34848 1087520
   * ```
   */
  mallocFootprint(): number {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    return this.endAddr() - this.word(H_BRK_START) + this.mappedBytes();
  }

  /**
   * The high-water mark of {@link Heap.mallocFootprint} (dlmalloc's `malloc_max_footprint`). O(1).
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const before = heap.mallocMaxFootprint();
   * heap.free(heap.malloc(1 << 20)); // the heap grows by 1 MiB, then gives it back
   * console.log(heap.mallocMaxFootprint() - before >= 1 << 20, heap.mallocFootprint() < heap.mallocMaxFootprint()); // true true
   * ```
   */
  mallocMaxFootprint(): number {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    return this.maxFootprint();
  }

  /** Bytes in mapped blocks (a header word here; a process's heap, whose mappings can pass 2 GiB, keeps a number). */
  protected mappedBytes(): number {
    return this.word(H_MMAP_BYTES);
  }
  protected setMappedBytes(v: number): void {
    this.setWord(H_MMAP_BYTES, v);
  }
  /** The high-water mark of the footprint (a header word here, a number in a process's heap). */
  protected maxFootprint(): number {
    return this.word(H_MAXFOOT);
  }
  protected setMaxFootprint(v: number): void {
    this.setWord(H_MAXFOOT, v);
  }

  /**
   * `malloc_trim(3)`: gives free space at the top back with a negative `sbrk`, keeping `pad`
   * bytes.
   * @returns 1 if memory was released, else 0
   * @example
   * ```ts
   * import { Heap, M_TRIM_THRESHOLD } from "vmheap";
   *
   * const heap = new Heap();
   * heap.mallopt(M_TRIM_THRESHOLD, -1); // never trim on free
   * heap.free(heap.malloc(1 << 20));
   * console.log(heap.mallocFootprint()); // 1087520
   * console.log(heap.mallocTrim(0), heap.mallocFootprint()); // 1 34848
   * console.log(heap.mallocTrim(0)); // 0
   * ```
   */
  mallocTrim(pad = 0): 0 | 1 {
    if (!Number.isSafeInteger(pad) || pad < 0) {
      if (typeof pad !== "number") throw notNumber("mallocTrim", "pad", pad);
      pad = 0;
    }
    return (this.mode & MODE_LOCK) !== 0 ? this.locked(this.trimImpl, pad, 0) : this.trimImpl(pad);
  }

  protected trimImpl(pad: number): 0 | 1 {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    return this.trim(pad);
  }

  /**
   * `mallopt(3)`: sets `M_TRIM_THRESHOLD`, `M_TOP_PAD` (at most 1 GiB), `M_MMAP_THRESHOLD` or
   * `M_MMAP_MAX`. `M_TRIM_THRESHOLD`, `M_MMAP_THRESHOLD` and `M_MMAP_MAX` take C's `int`: at most
   * 2^31 − 1 (glibc 2.36 sets any `M_MMAP_THRESHOLD`: its old cap, 32 MiB, is gone). A value out
   * of its range is refused (0), the setting unchanged.
   * `mallopt(M_TRIM_THRESHOLD, -1)` turns trimming off (mallopt(3)).
   * @returns 1 on success, 0 for an unknown parameter or a value out of range
   * @example
   * ```ts
   * import { Heap, M_MMAP_THRESHOLD, M_TOP_PAD } from "vmheap";
   *
   * const heap = new Heap();
   * // the top grows by the request plus M_TOP_PAD, in whole pages
   * console.log(heap.mallopt(M_TOP_PAD, 1 << 20)); // 1
   * const before = heap.mallocFootprint();
   * heap.malloc(10000);
   * console.log(heap.mallocFootprint() - before); // 1089536
   * // any int, as in glibc 2.36; past C's int, refused
   * console.log(heap.mallopt(M_MMAP_THRESHOLD, 64 << 20), heap.mallopt(M_MMAP_THRESHOLD, 2 ** 31)); // 1 0
   * ```
   */
  mallopt(param: number, value: number): 0 | 1 {
    if (param === M_TRIM_THRESHOLD && value === -1) value = MAX_SETTING; // more than a heap can hold
    if (!Number.isSafeInteger(value) || value < 0) {
      if (typeof value !== "number") throw notNumber("mallopt", "value", value);
      return 0;
    }
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    switch (param) {
      case M_TRIM_THRESHOLD:
        if (value > MAX_SETTING) return 0;
        this.setWord(H_TRIM, value);
        return 1;
      case M_TOP_PAD:
        if (value > MAX_TOP_PAD) return 0; // (a pad past 1 GiB could not be had anyway)
        this.setWord(H_TOPPAD, value);
        return 1;
      case M_MMAP_THRESHOLD:
        if (value > MAX_SETTING) return 0;
        this.setWord(H_MMAP_THRESHOLD, value);
        if (this.maps !== null) this.mapFloor = value;
        return 1;
      case M_MMAP_MAX:
        if (value > MAX_SETTING) return 0;
        this.setWord(H_MMAP_MAX, value);
        return 1;
      default:
        if (typeof param !== "number") throw notNumber("mallopt", "param", param);
        return 0;
    }
  }

  /**
   * Every chunk of the brk heap, lowest address first, ending with the top chunk: for
   * pictures of the heap and for tools that teach how it works. O(number of chunks).
   * @throws HeapCorruptionError if the walk meets a broken chunk size
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const a = heap.malloc(100);
   * heap.malloc(200);
   * heap.free(a);
   * // the bitmap's chunk, a free chunk in a bin, the live block, the top
   * console.log(heap.chunks().map((c) => `${c.address.toString(16)} ${c.size} ${c.kind}`).join("\n"));
   * // 710 272 meta
   * // 820 112 free
   * // 890 208 used
   * // 960 3776 top
   * ```
   */
  chunks(): ChunkInfo[] {
    if ((this.mode & MODE_LOCK) !== 0) return this.locked(this.chunksImpl, 0, 0);
    return this.chunksImpl();
  }

  protected chunksImpl(): ChunkInfo[] {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    const m = this.m;
    const W = this.W;
    const top = this.topAddr();
    const bitmap = m[(this.hdr + 4 * H_BITMAP) >>> 2];
    const out: ChunkInfo[] = [];
    for (let x = this.arena; x < top; ) {
      const s = m[(x + W) >>> 2];
      const size = s & ~FLAG_BITS;
      if (size < this.minChunk || x + size > top) throw new HeapCorruptionError(`invalid chunk size ${size}`, "chunks", x);
      const used = (s & CINUSE) !== 0;
      const kind = x + this.W2 === bitmap ? "meta" : used ? "used" : "free";
      out.push({ address: x, size, kind, ptr: kind === "used" ? x + this.W2 : 0, usable: kind === "used" ? size - W : 0 });
      x += size;
    }
    out.push({ address: top, size: this.endAddr() - top, kind: "top", ptr: 0, usable: 0 });
    return out;
  }

  /** The data model's alignment of every returned pointer (16, or 8 for `"ilp32"`). */
  get alignment(): number {
    return this.layout.align;
  }

  /** Address of the heap's header (its `base`, rounded up to 16). */
  get base(): number {
    return this.hdr;
  }

  /** The heap's data model: `"lp64"`, `"ilp32"` or `"wasm32"` (see {@link HeapOptions.dataModel}). */
  get dataModel(): DataModel {
    return this.layout === LP64 ? "lp64" : this.layout === WASM32 ? "wasm32" : "ilp32";
  }

  // ───────────────────────── typed-array views ─────────────────────────

  /**
   * `malloc` for a typed array: a view of `length` elements over a new block (`length *
   * ctor.BYTES_PER_ELEMENT` bytes, not initialised). Every typed-array class works; blocks are
   * aligned to 16 (8 in the 32-bit model), so 8-byte elements are aligned too. `heap.free(view)`
   * frees the block. The view is typed after the class: `mallocArray(Float32Array, n)` is a
   * `Float32Array | null`.
   *
   * On a memory that can grow under its views (a `WebAssembly.Memory`), a growth leaves the
   * view stale: keep its pointer, `view.byteOffset`, and make a new view with {@link Heap.view}.
   * @returns the view, or `null` with `errno = ENOMEM` (no memory, or a length no heap could
   *   hold: negative, fractional, or whose byte size passes 2 GiB)
   * @throws ArgumentError when `ctor` is not a typed-array class or `length` not a number, and
   *   on a process's heap (it has no linear buffer: use its AddressSpace)
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const v = heap.mallocArray(Float32Array, 4); // Float32Array | null
   * if (v === null) throw new Error(`out of memory (errno ${heap.errno})`);
   * v.set([1, 2, 3, 4]);
   * // the view's byteOffset is the block's pointer, as malloc returns it
   * console.log(v, v.byteOffset % 16, heap.mallocUsableSize(v.byteOffset)); // Float32Array(4) [ 1, 2, 3, 4 ] 0 24
   * heap.free(v);
   * console.log(heap.mallocArray(Float64Array, -1), heap.errno); // null 12
   * ```
   */
  mallocArray<T extends TypedArray>(ctor: TypedArrayConstructor<T>, length: number): T | null {
    return allocArray(this, ctor, length, false);
  }

  /**
   * `calloc` for a typed array: as {@link Heap.mallocArray}, with every element zero (the
   * overflow of `length * BYTES_PER_ELEMENT` gives `null` with ENOMEM, as calloc's does).
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const counts = heap.callocArray(BigUint64Array, 1024); // 1024 zero 64-bit counters
   * if (counts !== null) counts[3] += 1n;
   * console.log(counts?.length, counts?.[3], counts?.[4]); // 1024 1n 0n
   * // 2^62 elements of 8 bytes overflow: null and ENOMEM, as calloc
   * console.log(heap.callocArray(BigUint64Array, 2 ** 62), heap.errno); // null 12
   * ```
   */
  callocArray<T extends TypedArray>(ctor: TypedArrayConstructor<T>, length: number): T | null {
    return allocArray(this, ctor, length, true);
  }

  /**
   * `realloc` for a typed array: a view of `length` elements of the same type over the block
   * of `view` resized (in place when it can be, else moved: the first `min(old, new)` elements
   * survive). Use the returned view from then on. `length` 0 keeps a block (an empty view over
   * it), unlike `realloc(p, 0)`.
   * @returns the new view, or `null` with `errno = ENOMEM`: then `view` is still valid and
   *   still owned
   * @throws InvalidPointerError / DoubleFreeError when `view` is not over a live block of this
   *   heap (as `realloc` would); ArgumentError when `length` is not a number
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * let samples = heap.mallocArray(Int16Array, 1024)!;
   * samples[0] = 42;
   * const more = heap.resizeArray(samples, 4096);
   * if (more !== null) samples = more; // else samples is still good
   * console.log(samples.length, samples[0]); // 4096 42
   * ```
   */
  resizeArray<T extends TypedArray>(view: T, length: number): T | null {
    return resizeArray(this, view, length);
  }

  /**
   * A view of `length` elements over the live block at `ptr`: to see a block from `malloc` as a
   * typed array, or to re-make a view after a wasm memory grew (its old buffer is detached, or,
   * if shared, replaced). The view is of the buffer as it is now.
   * @throws InvalidPointerError when `ptr` is not a block in use; ArgumentError when the
   *   elements do not fit its usable size
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(400);
   * const f = heap.view(Float32Array, p, 100); // the same bytes, as 100 floats
   * f[0] = 1.5;
   * console.log(f.length, f.byteOffset === p, heap.memory.dv.getFloat32(p, true)); // 100 true 1.5
   * ```
   */
  view<T extends TypedArray>(ctor: TypedArrayConstructor<T>, ptr: number, length: number): T {
    return viewOf(this, ctor, ptr, length);
  }

  // ───────────────────────── engine ─────────────────────────

  /** Picks up a growth of a wasm memory made elsewhere: the word view must cover it. */
  protected sync(): void {
    this.host.sync();
    this.m = this.host.u32;
  }

  /**
   * Whether the metadata view may be out of date on a wasm memory: it no longer reaches the
   * heap's end (a growth detached the buffer it was made on, or another worker's heap grew the
   * memory). Far cheaper than {@link Heap.sync}, which reads `WebAssembly.Memory#buffer`: the
   * fast paths call sync only when this says so. (Not in a process's heap, which never syncs.)
   */
  protected stale(): boolean {
    const m = this.m;
    const end = m[(this.hdr >>> 2) + H_END];
    return end === undefined || m.length < end >>> 2;
  }

  protected word(i: number): number {
    return this.m[(this.hdr + 4 * i) >>> 2];
  }
  protected setWord(i: number, v: number): void {
    this.m[(this.hdr + 4 * i) >>> 2] = v;
  }
  protected topAddr(): number {
    return this.m[(this.hdr + 4 * H_TOP) >>> 2];
  }
  protected endAddr(): number {
    return this.m[(this.hdr + 4 * H_END) >>> 2];
  }

  protected mallocImpl(size: number): number {
    if (typeof size !== "number") throw notNumber("malloc", "size", size); // BigInt, string...: C would not compile it
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    if (size >>> 0 !== size || size > MAX_REQUEST) {
      this.errno = Errno.ENOMEM;
      return 0;
    }
    if (this.maps !== null && this.wantsMap(size)) {
      const q = this.mapBlock(size, this.layout.align);
      if (q !== 0) return q;
    }
    const n = size + this.W + this.amask;
    const c = this.allocChunk(n < this.minChunk ? this.minChunk : n & ~this.amask);
    if (c === 0) {
      // glibc's sysmalloc: when the break cannot move, a mapping serves the request instead.
      const q = this.maps !== null && this.mapsLeft() ? this.mapBlock(size, this.layout.align) : 0;
      if (q === 0) this.errno = Errno.ENOMEM;
      return q;
    }
    return c + this.W2;
  }

  protected callocImpl(nmemb: number, size: number): number {
    const total = this.product(nmemb, size);
    if (total < 0) {
      if (typeof nmemb !== "number") throw notNumber("calloc", "nmemb", nmemb);
      if (typeof size !== "number") throw notNumber("calloc", "size", size);
      this.errno = Errno.ENOMEM;
      return 0;
    }
    // On linear memory in the 64-bit model, through malloc's fast paths (a concurrent heap
    // already holds its lock here, and malloc knows it); a process's heap, whose malloc is a
    // transaction of its own, and the 32-bit model take the general path.
    const p = this.maps === null && (this.mode & (MODE_ILP32 | MODE_ENGINE)) === 0 ? this.malloc(total) : this.mallocImpl(total);
    // A mapped block is made of fresh zero pages already.
    if (p !== 0 && !(this.maps !== null && this.maps.has(p))) this.host.zero(p, (this.m[(p - this.W) >>> 2] & ~FLAG_BITS) - this.W);
    return p;
  }

  /** `nmemb * size`, or -1 when it is not a size the heap could hold. */
  protected product(nmemb: number, size: number): number {
    if (!Number.isSafeInteger(nmemb) || !Number.isSafeInteger(size) || nmemb < 0 || size < 0) {
      // C multiplies two size_t: a zero factor gives 0 whatever the other, also one past 2^53
      // (every number over 2^52 is an integer; 2^64 is no size_t).
      if (typeof nmemb !== "number" || typeof size !== "number") return -1;
      return nmemb * size === 0 && nmemb + size > 5e15 && nmemb + size < 4294967296 * 4294967296 ? 0 : -1;
    }
    const total = nmemb * size;
    return total > MAX_REQUEST ? -1 : total;
  }

  /**
   * A chunk of exactly `nb` bytes or more, marked in use; 0 when memory ran out. An aligned
   * allocation passes its `align`ment: the chunk is checked for its split before it is taken
   * (see {@link Heap.carveOk}).
   */
  protected allocChunk(nb: number, align: number = 0): number {
    const m = this.m;
    const dv = m[(this.hdr + 4 * H_DV) >>> 2]!;
    // The victim's address is read from the header: nothing is read there unless it lies in the arena.
    if (dv !== 0 && (((dv + this.W2) & this.amask) !== 0 || dv < this.arena || dv >= this.topAddr())) throw new HeapCorruptionError("memory corruption (designated victim)", "malloc", dv);
    let idx: number;
    if (nb < this.smallLimit) {
      // dlmalloc's order for small requests: an exact fit, then the designated victim (the
      // remainder of the last split, so runs of small mallocs carve one chunk in address order
      // without touching the bins), then the smallest larger bin, whose remainder becomes the
      // new victim.
      idx = nb >>> this.gshift;
      const c = m[(this.bins + (idx << 2)) >>> 2]!;
      if (c !== 0) return this.takeFree(c, idx, nb, false, align);
      if (dv !== 0 && (m[(dv + this.W) >>> 2]! & ~FLAG_BITS) >= nb) return this.takeDv(dv, nb, align);
      idx = this.findBin(idx + 1);
      if (idx >= 0) return this.takeFree(m[(this.bins + (idx << 2)) >>> 2]!, idx, nb, true, align);
    } else {
      idx = binIndex(nb, this.gshift);
      const c = m[(this.bins + (idx << 2)) >>> 2]!;
      // (takeFree checks the head; its size is read here only when it lies in the arena)
      if (c !== 0 && (((c + this.W2) & this.amask) !== 0 || c < this.arena || c >= this.topAddr() || (m[(c + this.W) >>> 2]! & ~FLAG_BITS) >= nb)) return this.takeFree(c, idx, nb, false, align);
      idx = this.findBin(fitIndex(nb, this.gshift));
      if (idx >= 0) return this.takeFree(m[(this.bins + (idx << 2)) >>> 2]!, idx, nb, false, align);
      if (dv !== 0 && (m[(dv + this.W) >>> 2]! & ~FLAG_BITS) >= nb) return this.takeDv(dv, nb, align);
    }
    return this.allocFromTop(nb, align);
  }

  /**
   * Marks chunk `c` of `size` bytes in use with `nb` of them (`pin`: its PINUSE flag); the
   * chunk map must have no mark inside `(c, c + size)` (the caller took out the old ones). A
   * remainder of at least a minimum chunk becomes a free chunk of its own: binned (`REM_BIN`),
   * or the designated victim, the old victim going to its bin (`REM_NEW_DV`) or having been
   * `c` itself (`REM_WAS_DV`, and then no remainder means no victim). Without a remainder the
   * whole chunk is used and the next chunk learns that its predecessor is in use.
   */
  protected allot(c: number, pin: number, size: number, nb: number, remTo: number): void {
    const m = this.m;
    const W = this.W;
    const dvAt = (this.hdr + 4 * H_DV) >>> 2;
    const rem = size - nb;
    if (rem >= this.minChunk) {
      m[(c + W) >>> 2] = nb | CINUSE | pin;
      const r = c + nb;
      m[(r + W) >>> 2] = rem | PINUSE;
      this.newHead(r);
      m[(r + rem) >>> 2] = rem;
      this.markChunk(c, nb, MARK_USED);
      this.markChunk(r, rem, MARK_FREE);
      if (remTo === REM_BIN) {
        this.insert(r, rem);
        return;
      }
      const old = m[dvAt]!;
      if (remTo === REM_NEW_DV && old !== 0) this.insert(old, m[(old + W) >>> 2]! & ~FLAG_BITS);
      m[dvAt] = r;
    } else {
      m[(c + W) >>> 2] = size | CINUSE | pin;
      const n = c + size + W;
      m[n >>> 2] = m[n >>> 2]! | PINUSE;
      this.markChunk(c, size, MARK_USED);
      if (remTo === REM_WAS_DV) m[dvAt] = 0;
    }
  }

  /** Carves `nb` bytes from the front of the designated victim `dv`; the rest stays the victim. */
  protected takeDv(dv: number, nb: number, align: number = 0): number {
    const m = this.m;
    const W = this.W;
    const s = m[(dv + W) >>> 2]!;
    const size = s & ~FLAG_BITS;
    // The victim's address comes from the header and its size from its own (free) memory: both
    // must agree with the chunk map, or an overflow into its header would hand out live memory.
    if ((s & (CINUSE | PINUSE)) !== PINUSE || dv + size >= m[(this.hdr + 4 * H_TOP) >>> 2]! || !this.freeChunkOk(dv, size) || size < nb) {
      throw new HeapCorruptionError("memory corruption (designated victim)", "malloc", dv);
    }
    if (align !== 0) this.carveOk(dv, size, nb, align, -1, true);
    this.setSizeWord(dv, size, false);
    this.allot(dv, PINUSE, size, nb, REM_WAS_DV);
    return dv;
  }

  /**
   * Takes free chunk `c`, the head of bin `idx`, for a request of `nb` bytes, splitting off the
   * rest: into the bins, or (`toDv`, for small requests) as the new designated victim, the old
   * one going to its bin. `align`: see {@link Heap.allocChunk}.
   */
  protected takeFree(c: number, idx: number, nb: number, toDv: boolean, align: number = 0): number {
    const m = this.m;
    const W = this.W;
    const dvAt = (this.hdr + 4 * H_DV) >>> 2;
    const dv = m[dvAt]!;
    // The bin head comes from the header, its size from free memory: the chunk map must agree
    // that a free chunk of that size starts there (and it is not the designated victim).
    const inArena = ((c + this.W2) & this.amask) === 0 && c >= this.arena && c < m[(this.hdr + 4 * H_TOP) >>> 2]!;
    const s = inArena && this.freeChunkOk(c, m[(c + W) >>> 2]! & ~FLAG_BITS) ? m[(c + W) >>> 2]! : CINUSE;
    const size = s & ~FLAG_BITS;
    if ((s & CINUSE) !== 0 || c === dv || this.binOf(size) !== idx || size < nb) {
      throw new HeapCorruptionError("memory corruption (free list)", "malloc", c);
    }
    // Its successor becomes the head: in the arena, with a back link naming c (glibc's check).
    // (Whatever it is, nothing is written through it before it is checked as a head in turn.)
    const fd = m[(c + this.W2) >>> 2]!;
    if (fd !== 0 && (fd === c || fd === dv || ((fd + this.W2) & this.amask) !== 0 || fd < this.arena || fd >= m[(this.hdr + 4 * H_TOP) >>> 2]! || m[(fd + this.W2 + W) >>> 2] !== c)) throw new HeapCorruptionError("corrupted free list", "malloc", c);
    // The remainder goes to a bin (a large request's), or becomes the victim and the old victim
    // goes to its bin: that bin's head is written through, and the old victim must be sound.
    const rem = size - nb;
    if (rem >= this.minChunk) {
      const x = toDv ? dv : c + nb;
      if (x !== 0) {
        const xs = toDv ? m[(dv + W) >>> 2]! & ~FLAG_BITS : rem;
        if (toDv && !this.freeChunkOk(dv, xs)) throw new HeapCorruptionError("memory corruption (designated victim)", "malloc", dv);
        const xi = this.binOf(xs);
        // (insert's own checks, made before anything changes: a victim forged to name the
        // head of its bin would be pushed onto itself, and a head that is c, taken here, would
        // be in use by then)
        const h = xi === idx ? fd : m[(this.bins + (xi << 2)) >>> 2]!;
        if (h === x || h === c || !this.linkOk(h)) throw new HeapCorruptionError("corrupted free list", "malloc", this.bins + (xi << 2));
      }
    }
    if (align !== 0) this.carveOk(c, size, nb, align, idx, toDv);
    this.popHead(c, idx);
    this.setSizeWord(c, size, false);
    this.allot(c, s & PINUSE, size, nb, toDv ? REM_NEW_DV : REM_BIN);
    return c;
  }

  /**
   * Carves `nb` bytes from the top chunk, growing the heap when the top is too small. A moved
   * bitmap goes first, so the new block stays next to the top and trims when it is freed.
   * `align`: see {@link Heap.allocChunk}.
   */
  protected allocFromTop(nb: number, align: number = 0): number {
    this.checkTop("malloc");
    const m = this.m;
    const hdr = this.hdr;
    const top = m[(hdr + 4 * H_TOP) >>> 2]!;
    const tsize = m[(hdr + 4 * H_END) >>> 2]! - top;
    if (align !== 0) this.carveOk(tsize < nb + this.minChunk ? -1 : top, tsize, nb, align, -1, false);
    if (tsize < nb + this.minChunk) {
      const cover = this.grow(nb + this.minChunk - tsize);
      if (cover < 0) return 0;
      if (cover > 0) this.moveBitmap(cover);
    }
    return this.carveTop(nb);
  }

  /**
   * glibc's `malloc(): corrupted top size`: the top chunk's header must give the size from the
   * top to the heap's end, in use clear. A write past the last block smashes it; carving or
   * growing the top would otherwise overwrite the evidence.
   */
  protected checkTop(op: string): void {
    const m = this.m;
    const W = this.W;
    const hdr = this.hdr;
    const top = m[(hdr + 4 * H_TOP) >>> 2]!;
    const ts = m[(top + W) >>> 2]!;
    if ((ts & CINUSE) !== 0 || (ts & ~FLAG_BITS) !== m[(hdr + 4 * H_END) >>> 2]! - top || (W === 8 && m[(top + 12) >>> 2] !== 0)) {
      throw new HeapCorruptionError("corrupted top size", op, top);
    }
  }

  /** Splits `nb` bytes (marked in use, in the chunk map too) off the front of the top chunk, which must hold `nb + minChunk`. */
  protected carveTop(nb: number, mark = true): number {
    const m = this.m;
    const W = this.W;
    const topAt = (this.hdr + 4 * H_TOP) >>> 2;
    const top = m[topAt]!;
    const tsize = m[(this.hdr + 4 * H_END) >>> 2]! - top;
    // The new top's header first: in a process it may be the first write to a page, and if
    // no frame can be had for it (OutOfMemoryError) the heap is left as it was.
    const nt = top + nb;
    m[(nt + W) >>> 2] = (tsize - nb) | PINUSE;
    this.newHead(nt);
    m[(top + W) >>> 2] = nb | CINUSE | (m[(top + W) >>> 2]! & PINUSE);
    m[topAt] = nt;
    if (mark) this.markChunk(top, nb, MARK_USED);
    return top;
  }

  /**
   * Extends the heap by at least `need` bytes with `sbrk` (whole 4 KiB steps, plus `topPad`),
   * making room for a bigger in-use bitmap when the arena outgrows it.
   * @returns -1 when the break cannot move; 0 when done; else the bitmap's new coverage, for
   *   the caller to pass to {@link Heap.moveBitmap} (before carving a new block from the top,
   *   after extending a block that grows into the top in place)
   */
  protected grow(need: number): number {
    const h = this.host;
    let m = this.m;
    const hdr = this.hdr;
    const end = m[(hdr + 4 * H_END) >>> 2]!;
    const page = h.pageSize;
    const pad = m[(hdr + 4 * H_TOPPAD) >>> 2]!;
    const cover = m[(hdr + 4 * H_COVER) >>> 2]! >>> 0; // up to 2^31: a uint32 in an int32 word
    // The map covers the heap (attach checks it). A coverage word that says less, as a stray
    // store into the header leaves it, is damage: a 0 would double forever below.
    if (cover < end - this.arena) throw new HeapCorruptionError("in-use bitmap does not cover the heap", "malloc", m[(hdr + 4 * H_BITMAP) >>> 2]!);
    // First with the padding and page rounding, then (near the limit) without.
    for (let padded = 1; padded >= 0; padded--) {
      let incr = padded === 1 ? Math.ceil((need + pad) / page) * page : (need + this.amask) & ~this.amask;
      let newCover = cover;
      let bmChunk = 0;
      // The new bitmap lives in the arena too, so its own chunk counts toward what it must
      // cover; no coverage passes 2^31 (nor, then, does the heap: it never spans 2 GiB).
      while (end + incr - this.arena > newCover && newCover < 0x8000_0000) {
        newCover *= 2;
        bmChunk = this.bitmapChunkSize(newCover);
        incr = padded === 1 ? Math.ceil((need + bmChunk + pad) / page) * page : (need + bmChunk + this.amask) & ~this.amask;
      }
      if (end + incr - this.arena > newCover || end + incr > m[(hdr + 4 * H_LIMIT) >>> 2]!) continue;
      // The map will move (moveBitmap) and its old chunk be freed: that free's checks run before
      // the break moves, so that damage around the old chunk is refused with nothing changed.
      if (bmChunk !== 0) {
        const bm = m[(hdr + 4 * H_BITMAP) >>> 2]! - this.W2;
        this.freeChunk(bm, "malloc", true);
        // That check merged it into the top when the top follows it; moved, it will have the
        // new map after it instead and go to a bin (alone, or merged with a free chunk before
        // it that is not the victim), whose head it is written through.
        const bs = m[(bm + this.W) >>> 2]!;
        if (bm + (bs & ~FLAG_BITS) === m[(hdr + 4 * H_TOP) >>> 2]!) {
          const ps = (bs & PINUSE) === 0 ? m[bm >>> 2]! : 0;
          const prev = bm - ps;
          if (prev !== m[(hdr + 4 * H_DV) >>> 2]!) {
            const idx = this.binOf((bs & ~FLAG_BITS) + ps);
            const h = m[(this.bins + (idx << 2)) >>> 2]!;
            if (h === prev && ps !== 0 ? this.binOf(ps) !== idx : !this.linkOk(h)) throw new HeapCorruptionError("corrupted free list", "malloc", this.bins + (idx << 2));
          }
        }
      }
      if (h.sbrk(incr) === -1) continue;
      m = this.m = h.u32; // growing a wasm memory replaces its buffer
      const newEnd = end + incr;
      m[(hdr + 4 * H_END) >>> 2] = newEnd;
      const top = m[(hdr + 4 * H_TOP) >>> 2]!;
      m[(top + this.W) >>> 2] = (newEnd - top) | (m[(top + this.W) >>> 2]! & PINUSE);
      this.noteFootprint();
      return bmChunk !== 0 ? newCover : 0;
    }
    return -1;
  }

  protected noteFootprint(): void {
    const fp = this.mallocFootprint();
    if (fp > this.maxFootprint()) this.setMaxFootprint(fp);
  }

  protected bitmapChunkSize(cover: number): number {
    const bytes = cover >>> (this.gshift + 2); // two bits per granule
    return Math.max(this.minChunk, (bytes + this.W + this.amask) & ~this.amask);
  }

  /** Whether `s` is the header word of the in-use bitmap's chunk: in use, of the size its coverage gives. */
  protected bitmapHeadOk(s: number): boolean {
    return (s & CINUSE) !== 0 && (s & ~FLAG_BITS) === this.bitmapChunkSize(this.m[(this.hdr + 4 * H_COVER) >>> 2]! >>> 0);
  }

  /** Moves the in-use bitmap to a new chunk carved from the top, covering `cover` bytes. */
  protected moveBitmap(cover: number): void {
    const chunkSize = this.bitmapChunkSize(cover);
    const h = this.host;
    const m = this.m;
    const hdr = this.hdr;
    const newPayload = this.carveTop(chunkSize, false) + this.W2; // (marked below, in the new map: the old one may not reach it)
    const oldPayload = m[(hdr + 4 * H_BITMAP) >>> 2]!;
    const oldBytes = m[(hdr + 4 * H_COVER) >>> 2]! >>> (this.gshift + 2);
    h.zero(newPayload, chunkSize - this.W);
    h.copy(newPayload, oldPayload, oldBytes);
    m[(hdr + 4 * H_BITMAP) >>> 2] = newPayload;
    m[(hdr + 4 * H_COVER) >>> 2] = cover;
    this.markChunk(newPayload - this.W2, chunkSize, MARK_USED);
    this.freeChunk(oldPayload - this.W2, "malloc");
  }

  /** Zeroes the high half of the 8-byte size field of a chunk header written at a new place. */
  protected newHead(c: number): void {
    if (this.W === 8) this.m[(c + 12) >>> 2] = 0;
  }

  /** Index in `m` of the chunk-map word that holds the pair of the granule at `c`. */
  protected mapWord(c: number): number {
    return (this.m[(this.hdr + 4 * H_BITMAP) >>> 2]! >>> 2) + ((c - this.arena) >>> (this.gshift + 4));
  }

  /** The chunk-map pair of the granule at `c` (MARK_USED, MARK_FREE or 0), or -1 inside a size word. */
  protected markOf(c: number): number {
    const w = this.m[this.mapWord(c)]!;
    if ((w & 3) === SIZE_TAG) return -1;
    return (w >>> ((((c - this.arena) >>> this.gshift) & 15) << 1)) & 3;
  }

  /** Sets the pair of the granule at `c` to `v`. */
  protected setMark(c: number, v: number): void {
    const m = this.m;
    const i = this.mapWord(c);
    const sh = (((c - this.arena) >>> this.gshift) & 15) << 1;
    m[i] = (m[i]! & ~(3 << sh)) | (v << sh);
  }

  /** Writes (or, with `v` = 0, clears) the size word of a chunk at `c` of `size` bytes, when it has one. */
  protected setSizeWord(c: number, size: number, on: boolean): void {
    const n = size >> this.gshift; // sizes stay under 2^31: a signed shift is exact (and an i32 in the wasm engine)
    if (n >= SIZE_WORD_GRANULES) this.m[this.mapWord(c) + 1] = on ? (n << 2) | SIZE_TAG : 0;
  }

  /** Marks chunk `c` of `size` bytes in the chunk map: its pair `v` and its size word. */
  protected markChunk(c: number, size: number, v: number): void {
    this.setMark(c, v);
    this.setSizeWord(c, size, true);
  }

  /** Takes chunk `c` of `size` bytes out of the chunk map (it merges into a neighbour or the top). */
  protected unmarkChunk(c: number, size: number): void {
    this.setSizeWord(c, size, false);
    this.setMark(c, 0);
  }

  /**
   * Whether the chunk starting at `c` (a chunk start in the map) really has `size` bytes:
   * `size` a sound chunk size ending at most at the top, no chunk start inside it and one (or
   * the top) right after it; for a chunk with a size word, that word. O(1): at most three words.
   */
  protected sizeOk(c: number, size: number): boolean {
    const m = this.m;
    if (size < this.minChunk || (size & this.amask) !== 0 || c + size > m[(this.hdr + 4 * H_TOP) >>> 2]!) return false;
    const g = (c - this.arena) >>> this.gshift;
    const n = size >> this.gshift; // size >= minChunk here: exact
    const base = m[(this.hdr + 4 * H_BITMAP) >>> 2]! >>> 2;
    const wi = base + (g >>> 4);
    const sh = (g & 15) << 1;
    const after = m[wi]! & -(4 << sh); // the pairs after c's in its word
    if (n >= SIZE_WORD_GRANULES) return after === 0 && m[wi + 1] === ((n << 2) | SIZE_TAG);
    const e = g + n;
    const we = base + (e >>> 4);
    const below = (1 << ((e & 15) << 1)) - 1; // the pairs before the next chunk's
    if (wi === we) {
      if ((after & below) !== 0) return false;
    } else {
      if (after !== 0 || (m[we]! & below) !== 0) return false;
      for (let i = wi + 1; i < we; i++) if (m[i] !== 0) return false;
    }
    return c + size === m[(this.hdr + 4 * H_TOP) >>> 2]! || ((m[we]! >>> ((e & 15) << 1)) & 1) !== 0;
  }

  /** Whether `c` is a free chunk of `size` bytes (checked against the chunk map; `c` any number). */
  protected freeChunkOk(c: number, size: number): boolean {
    return ((c + this.W2) & this.amask) === 0 && c >= this.arena && c < this.topAddr() && this.markOf(c) === MARK_FREE && this.sizeOk(c, size);
  }

  /** Whether `x` may be written through as a free chunk's links: 0 (none), or a free chunk start. */
  protected linkOk(x: number): boolean {
    return x === 0 || (((x + this.W2) & this.amask) === 0 && x >= this.arena && x < this.topAddr() && this.markOf(x) === MARK_FREE);
  }

  /** First non-empty bin at or above `idx`, or -1. */
  protected findBin(idx: number): number {
    const m = this.m;
    const words = this.hdr + 4 * H_BINMAP;
    let w = idx >>> 5;
    if (w >= this.binWords) return -1;
    let bits = m[(words + (w << 2)) >>> 2] & (-1 << (idx & 31));
    if (bits === 0) {
      const summary = m[(this.hdr + 4 * H_SUMMARY) >>> 2] & (-1 << (w + 1));
      if (summary === 0) return -1;
      w = ctz32(summary);
      bits = m[(words + (w << 2)) >>> 2];
    }
    return (w << 5) + ctz32(bits);
  }

  /**
   * Pushes free chunk `c` of `size` bytes on the front of its bin.
   *
   * Bins are doubly linked, except that the first chunk's `bk` is left unwritten: a chunk is
   * first exactly when its bin's head slot holds it. So popping the first chunk writes nothing
   * into the next one (a cache miss saved on every exact-fit malloc) and pushing writes only
   * into the previous first chunk, which was touched recently.
   */
  protected insert(c: number, size: number): void {
    const m = this.m;
    const idx = size < this.smallLimit ? size >>> this.gshift : binIndex(size, this.gshift);
    const slot = this.bins + (idx << 2);
    const head = m[slot >>> 2];
    // (Callers check the head before they change anything; this is the last line of defence.)
    if (head === c || !this.linkOk(head)) throw new HeapCorruptionError("corrupted free list", "free", slot);
    m[(c + this.W2) >>> 2] = head;
    if (head !== 0) {
      m[(head + this.W2 + this.W) >>> 2] = c;
    } else {
      this.markBin(idx);
    }
    m[slot >>> 2] = c;
  }

  protected markBin(idx: number): void {
    const m = this.m;
    const w = idx >>> 5;
    const wa = this.hdr + 4 * (H_BINMAP + w);
    const old = m[wa >>> 2];
    m[wa >>> 2] = old | (1 << (idx & 31));
    if (old === 0) {
      const sa = this.hdr + 4 * H_SUMMARY;
      m[sa >>> 2] = m[sa >>> 2] | (1 << w);
    }
  }

  protected unmarkBin(idx: number): void {
    const m = this.m;
    const w = idx >>> 5;
    const wa = this.hdr + 4 * (H_BINMAP + w);
    const left = m[wa >>> 2] & ~(1 << (idx & 31));
    m[wa >>> 2] = left;
    if (left === 0) {
      const sa = this.hdr + 4 * H_SUMMARY;
      m[sa >>> 2] = m[sa >>> 2] & ~(1 << w);
    }
  }

  /** Removes `c`, the first chunk of bin `idx`. */
  protected popHead(c: number, idx: number): void {
    const m = this.m;
    const fd = m[(c + this.W2) >>> 2]; // (checked by takeFree)
    if (fd === 0) this.unmarkBin(idx);
    m[(this.bins + (idx << 2)) >>> 2] = fd;
  }

  /** Checks the links of free chunk `c` of `size` bytes before it is unlinked (glibc: "corrupted double-linked list"). */
  protected linksOk(c: number, size: number): boolean {
    const m = this.m;
    const W3 = this.W2 + this.W;
    // A link outside the arena is smashed: it is not followed (in a process it could fault).
    // Unlinking writes through both links, so each must be a free chunk in the chunk map, not
    // just bytes that name c back.
    const fd = m[(c + this.W2) >>> 2];
    if (fd !== 0 && (fd === c || !this.linkOk(fd) || m[(fd + W3) >>> 2] !== c)) return false;
    if (m[(this.bins + (this.binOf(size) << 2)) >>> 2] === c) return true;
    const bk = m[(c + W3) >>> 2];
    return bk !== 0 && this.linkOk(bk) && m[(bk + this.W2) >>> 2] === c;
  }

  /** Removes free chunk `c` of `size` bytes from its bin; its links were checked by {@link linksOk}. */
  protected unlink(c: number, size: number): void {
    const m = this.m;
    const W2 = this.W2;
    const idx = this.binOf(size);
    const slot = this.bins + (idx << 2);
    const fd = m[(c + W2) >>> 2];
    if (m[slot >>> 2] === c) {
      m[slot >>> 2] = fd;
      if (fd === 0) this.unmarkBin(idx);
    } else {
      const bk = m[(c + W2 + this.W) >>> 2];
      m[(bk + W2) >>> 2] = fd;
      if (fd !== 0) m[(fd + W2 + this.W) >>> 2] = bk;
    }
  }

  protected binOf(size: number): number {
    return size < this.smallLimit ? size >>> this.gshift : binIndex(size, this.gshift);
  }

  /** Whether `p` is a live block's pointer (the in-use bitmap decides; headers can be forged). */
  protected isLive(p: number): boolean {
    if (typeof p !== "number" || p >>> 0 !== p || (p & this.amask) !== 0) return false;
    const c = p - this.W2;
    return c >= this.arena && p < this.topAddr() && this.markOf(c) === MARK_USED && p !== this.m[(this.hdr + 4 * H_BITMAP) >>> 2];
  }

  /** The chunk of live block `p`, or throws the error `free(p)` deserves. */
  protected validate(p: number, op: string): number {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    if (!this.isLive(p)) this.badPointer(p, op);
    return p - this.W2;
  }

  /**
   * Throws for a pointer that is not live. Only on this error path does the heap walk its
   * chunks, to tell a double free (the address lies in free memory) from an invalid pointer.
   */
  protected badPointer(p: number, op: string): never {
    if (typeof p !== "number") throw new ArgumentError(`${op}(): invalid pointer (${show(p)}): a pointer is a number`);
    if (p >>> 0 !== p || (p & this.amask) !== 0) throw new InvalidPointerError(op, p);
    const m = this.m;
    const c = p - this.W2;
    const top = this.topAddr();
    if (c < this.arena) throw new InvalidPointerError(op, p);
    // Past the heap's end there is nothing to read in a process (no mapping even); on linear
    // memory, what the heap gave back with a negative sbrk keeps its bytes: up to the highest
    // end the heap has had, a block freed into the top and then trimmed away is found there.
    const reach = this.maps === null ? this.word(H_BRK_START) + this.maxFootprint() : this.endAddr();
    if (c + this.W2 > reach) throw new InvalidPointerError(op, p);
    // A freed chunk keeps its header (in-use bit clear) until the memory is used again, even
    // after merging into a neighbour or the top: that tells a double free from a stray pointer.
    const s = m[(c + this.W) >>> 2];
    const size = s & ~FLAG_BITS;
    const looksFreed = (s & CINUSE) === 0 && size >= this.minChunk && (size & this.amask) === 0;
    if (c >= this.endAddr()) {
      if (looksFreed && c + size <= reach) throw new DoubleFreeError(op, p);
      throw new InvalidPointerError(op, p);
    }
    if (c >= top) {
      if (looksFreed && c + size <= this.endAddr()) throw new DoubleFreeError(op, p);
    } else if (c >= this.arena && c < top) {
      let x = this.arena;
      while (x < top) {
        const xs = m[(x + this.W) >>> 2] & ~FLAG_BITS;
        if (xs < this.minChunk || x + xs > top) break; // corrupted: do not guess
        if (c >= x && c < x + xs) {
          if ((m[(x + this.W) >>> 2] & CINUSE) === 0 && looksFreed && c + size <= x + xs) throw new DoubleFreeError(op, p);
          break;
        }
        x += xs;
      }
    }
    throw new InvalidPointerError(op, p);
  }

  /**
   * Whether a block in use starts inside chunk `[c, n)`: then `c`'s size was smashed bigger (a
   * write past the block before it). Only for naming the error once {@link Heap.sizeOk} has
   * refused the size: it reads the chunk map over the whole range.
   */
  protected liveInside(c: number, n: number): boolean {
    const m = this.m;
    const base = m[(this.hdr + 4 * H_BITMAP) >>> 2]! >>> 2;
    const g = ((c - this.arena) >>> this.gshift) + 1;
    const e = (Math.min(n, this.topAddr()) - this.arena) >>> this.gshift;
    for (let x = g; x < e; ) {
      const w = m[base + (x >>> 4)]!;
      const lo = (x & 15) << 1;
      const hi = x >>> 4 === e >>> 4 ? (e & 15) << 1 : 32;
      if ((w & 3) !== SIZE_TAG) {
        let used = w & (w >>> 1) & 0x55555555 & -(1 << lo);
        if (hi < 32) used &= (1 << hi) - 1;
        if (used !== 0) return true;
      }
      x = (x | 15) + 1;
    }
    return false;
  }

  /**
   * Whether free chunk `c` of `size` bytes (the next chunk's start at most the top) has its
   * footer: the next chunk's prev_size repeats the size and its PINUSE is clear.
   */
  protected footerOk(c: number, size: number): boolean {
    const m = this.m;
    return m[(c + size) >>> 2] === size && (m[(c + size + this.W) >>> 2]! & PINUSE) === 0;
  }

  protected freeImpl(ptr: number): void {
    if (this.maps !== null && this.maps.has(ptr)) {
      this.unmapBlock(ptr);
      return;
    }
    this.freeChunk(this.validate(ptr, "free"), "free"); // validate() syncs a wasm memory's view
  }

  /**
   * Frees in-use chunk `c`: checks its neighbours first (so a smashed header throws before
   * anything changes), then coalesces with free neighbours or the top and bins the result.
   * Merging into the top may trim the heap. With `checkOnly`, only checks: realloc runs that
   * before it shrinks or moves a block, so a smashed neighbour throws before anything changes.
   */
  protected freeChunk(c: number, op: string, checkOnly = false): void {
    const m = this.m;
    const W = this.W;
    const min = this.minChunk;
    const s = m[(c + W) >>> 2]!;
    const size = s & ~FLAG_BITS;
    const topAt = this.hdr + 4 * H_TOP;
    const top = m[topAt >>> 2]!;
    const n = c + size;
    // The block: in use in the chunk map (callers checked), of the size the map gives it.
    if (this.markOf(c) !== MARK_USED) throw new HeapCorruptionError("invalid pointer", op, c);
    if (size < min || (size & this.amask) !== 0 || n > top) throw new HeapCorruptionError("invalid size", op, c);
    if (!this.sizeOk(c, size)) {
      if (this.liveInside(c, n)) throw new HeapCorruptionError("invalid size (over a block in use)", op, c);
      throw new HeapCorruptionError("invalid size", op, c);
    }
    const ns = m[(n + W) >>> 2]!;
    const nsize = ns & ~FLAG_BITS;
    if ((ns & PINUSE) === 0) throw new HeapCorruptionError("double free or corruption (!prev)", op, c);
    // The in-use bitmap's own chunk has the size its coverage gives it: a smash is caught here,
    // before realloc slides it or trim moves it by a size it does not have.
    if (n === m[(this.hdr + 4 * H_BITMAP) >>> 2]! - this.W2 && !this.bitmapHeadOk(ns)) throw new HeapCorruptionError("invalid next size (normal)", op, n);
    // The high halves of 8-byte size fields are always zero: anything else is a smash.
    if (W === 8 && (m[(n + 12) >>> 2]! | m[(c + 12) >>> 2]!) !== 0) throw new HeapCorruptionError("invalid next size (normal)", op, n);
    const dvAt = (this.hdr + 4 * H_DV) >>> 2;
    const dv = m[dvAt]!;
    // Whether the next chunk is free, the chunk map says; its header must say the same.
    const nextFree = n !== top && this.markOf(n) === MARK_FREE;
    if (n !== top) {
      if (nsize < min || (nsize & this.amask) !== 0 || n + nsize > top || nextFree !== ((ns & CINUSE) === 0)) throw new HeapCorruptionError("invalid next size (normal)", op, n);
      // A free neighbour proves its size by the chunk map and its footer (glibc's unlink_chunk
      // check), its place in a bin by its links (both must be free chunks naming it back).
      if (nextFree && (!this.sizeOk(n, nsize) || !this.footerOk(n, nsize))) throw new HeapCorruptionError("corrupted size vs. prev_size", op, n);
      if (nextFree && n !== dv && !this.linksOk(n, nsize)) throw new HeapCorruptionError("corrupted double-linked list", op, n);
    } else if (nsize !== m[(this.hdr + 4 * H_END) >>> 2]! - top || (ns & CINUSE) !== 0) {
      throw new HeapCorruptionError("invalid next size (top)", op, n);
    }
    const ps = m[c >>> 2]!;
    let prev = c;
    if ((s & PINUSE) === 0) {
      // The chunk before, said free by this header: a free chunk in the chunk map that ends
      // exactly here (bytes forged in a live block are no chunk, whatever they hold).
      prev = c - ps;
      if (ps < min || (ps & this.amask) !== 0 || prev < this.arena || m[(prev + W) >>> 2] !== (ps | PINUSE) || !this.freeChunkOk(prev, ps)) {
        throw new HeapCorruptionError("corrupted size vs. prev_size", op, c);
      }
      if (prev !== dv && !this.linksOk(prev, ps)) throw new HeapCorruptionError("corrupted double-linked list", op, prev);
    }
    // The bin the result goes to: its head is written through (unless it is one of the chunks
    // unlinked first, whose forward link then becomes the head, checked by linksOk).
    if (n !== top && prev !== dv && !(nextFree && n === dv)) {
      const total = size + (prev !== c ? ps : 0) + (nextFree ? nsize : 0);
      const idx = this.binOf(total);
      const slot = this.bins + (idx << 2);
      const h = m[slot >>> 2]!;
      // A chunk merged here is unlinked first, but only from its own bin: at the head of
      // another, it is a stale head (a use after free left it there), which would name a chunk
      // that is no more once merged.
      if (h === prev && prev !== c ? this.binOf(ps) !== idx : nextFree && h === n ? this.binOf(nsize) !== idx : !this.linkOk(h)) throw new HeapCorruptionError("corrupted free list", op, slot);
    }
    if (checkOnly) return;
    // Every check passed: from here on the heap changes. The header keeps its size with the
    // in-use bit clear even when merged away, which lets a later free of it be named a double free.
    m[(c + W) >>> 2] = s & ~CINUSE;
    let start = c;
    let total = size;
    // A chunk that merges with the designated victim stays the victim, out of the bins.
    let withDv = false;
    this.setSizeWord(c, size, false);
    if (prev !== c) {
      start = prev;
      total += ps;
      if (start === dv) withDv = true;
      else this.unlink(start, ps);
      this.setSizeWord(start, ps, false);
      this.setMark(c, 0);
    } else {
      this.setMark(c, MARK_FREE);
    }
    if (n === top) {
      const end = m[(this.hdr + 4 * H_END) >>> 2]!;
      if (withDv) m[dvAt] = 0;
      this.setMark(start, 0); // the top has no marks
      m[topAt >>> 2] = start;
      m[(start + W) >>> 2] = (end - start) | PINUSE;
      // The free space at the end: the top, and a free chunk below the bitmap when the bitmap
      // is all that keeps it from the top (lowerBitmap, in trim, moves the bitmap down; not
      // while malloc frees the old bitmap, see below).
      const bmc = m[(this.hdr + 4 * H_BITMAP) >>> 2]! - this.W2;
      const bs = m[(bmc + W) >>> 2]!;
      const held = op !== "malloc" && bmc + (bs & ~FLAG_BITS) === start && (bs & PINUSE) === 0 ? m[bmc >>> 2]! : 0;
      if (end - start + held > m[(this.hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(this.hdr + 4 * H_TOPPAD) >>> 2]!);
      return;
    }
    if (nextFree) {
      if (n === dv) withDv = true;
      else this.unlink(n, nsize);
      this.unmarkChunk(n, nsize);
      total += nsize;
    } else {
      m[(n + W) >>> 2] = ns & ~PINUSE;
    }
    m[(start + W) >>> 2] = total | PINUSE;
    m[(start + total) >>> 2] = total;
    this.setSizeWord(start, total, true);
    if (withDv) m[dvAt] = start;
    else this.insert(start, total);
    // Free space held below the top only by the bitmap: when it and the top together pass the
    // trim threshold, move the bitmap down so the space joins the top and is trimmed (glibc
    // has no such chunk: its free space would be the top already). Not while malloc is freeing
    // the old bitmap: it is about to carve its block from the top and must not see the top
    // shrink under it.
    if (op !== "malloc" && start + total === m[(this.hdr + 4 * H_BITMAP) >>> 2]! - this.W2 && total + m[(this.hdr + 4 * H_END) >>> 2]! - top > m[(this.hdr + 4 * H_TRIM) >>> 2]!) {
      this.trim(m[(this.hdr + 4 * H_TOPPAD) >>> 2]!);
    }
  }

  /** Gives the top's free space beyond `pad` (and a minimum chunk) back to the break. */
  protected trim(pad: number): 0 | 1 {
    this.lowerBitmap();
    const h = this.host;
    const m = this.m;
    const top = this.topAddr();
    const end = this.endAddr();
    const page = h.pageSize;
    const extra = Math.floor((end - top - this.minChunk - pad) / page) * page;
    if (extra <= 0) return 0;
    if (h.sbrk(-extra) === -1) return 0;
    const newEnd = end - extra;
    this.setWord(H_END, newEnd);
    m[(top + this.W) >>> 2] = (newEnd - top) | (m[(top + this.W) >>> 2] & PINUSE);
    return 1;
  }

  /**
   * When the in-use bitmap is the last chunk before the top and a free chunk lies just below
   * it, moves the bitmap down to the start of that free chunk, so the free space joins the top
   * (the bitmap is carved from the top as the heap grows, and would otherwise pin everything
   * below it once the heap shrinks).
   */
  protected lowerBitmap(): void {
    const m = this.m;
    const W = this.W;
    const hdr = this.hdr;
    const bm = m[(hdr + 4 * H_BITMAP) >>> 2]! - this.W2;
    const bs = m[(bm + W) >>> 2]!;
    const bsize = bs & ~FLAG_BITS;
    const top = m[(hdr + 4 * H_TOP) >>> 2]!;
    if (bm + bsize !== top || (bs & PINUSE) !== 0 || !this.bitmapHeadOk(bs)) return; // (a smash: check() names it)
    const ps = m[bm >>> 2]!;
    const prev = bm - ps;
    const dvAt = (hdr + 4 * H_DV) >>> 2;
    if (ps < this.minChunk || (ps & this.amask) !== 0 || prev < this.arena || m[(prev + W) >>> 2] !== (ps | PINUSE) || !this.freeChunkOk(prev, ps) || !this.sizeOk(bm, bsize)) return;
    if (prev === m[dvAt]) m[dvAt] = 0;
    else if (this.linksOk(prev, ps)) this.unlink(prev, ps);
    else return;
    this.host.copy(prev + this.W2, bm + this.W2, bsize - W);
    m[(prev + W) >>> 2] = bsize | CINUSE | PINUSE;
    m[(hdr + 4 * H_BITMAP) >>> 2] = prev + this.W2;
    // The map, now at prev: the free chunk and the map's old chunk leave it, the new one enters.
    this.setSizeWord(prev, ps, false);
    this.unmarkChunk(bm, bsize);
    this.markChunk(prev, bsize, MARK_USED);
    const nt = prev + bsize;
    m[(hdr + 4 * H_TOP) >>> 2] = nt;
    m[(nt + W) >>> 2] = (m[(hdr + 4 * H_END) >>> 2]! - nt) | PINUSE;
    this.newHead(nt);
  }

  protected reallocImpl(p: number, size: number): number {
    if (typeof size !== "number") throw notNumber("realloc", "size", size);
    if (p === 0 || p == null) return this.mallocImpl(size);
    if (this.maps !== null && this.maps.has(p)) return this.reallocMapped(p, size);
    const c = this.validate(p, "realloc");
    if (size === 0) {
      this.freeChunk(c, "realloc");
      return 0;
    }
    if (size >>> 0 !== size || size > MAX_REQUEST) {
      this.errno = Errno.ENOMEM;
      return 0;
    }
    const m = this.m;
    const W = this.W;
    const min = this.minChunk;
    const n0 = size + W + this.amask;
    const nb = n0 < min ? min : n0 & ~this.amask;
    const s = m[(c + W) >>> 2];
    const old = s & ~FLAG_BITS;
    // The block's size and its neighbours are checked as free would, before anything trusts
    // them: even when the block stays as it is (its size may have been smashed bigger).
    this.freeChunk(c, "realloc", true);
    if (nb <= old) {
      if (old - nb >= min) this.splitTail(c, s, nb, "realloc");
      return p;
    }
    const n = c + old;
    const top = this.topAddr();
    const bm = m[(this.hdr + 4 * H_BITMAP) >>> 2] - this.W2;
    if (n === top || (n === bm && bm + (m[(bm + W) >>> 2] & ~FLAG_BITS) === top)) {
      return this.growIntoTop(c, s, nb) ? p : this.reallocMove(c, p, old, size); // (growIntoTop checks the top)
    }
    const ns = m[(n + W) >>> 2];
    const nsize = ns & ~FLAG_BITS;
    // (freeChunk's checks above: the next chunk is free exactly when the chunk map says so, and
    // then of the size it says, with sound links.)
    if (this.markOf(n) === MARK_FREE && old + nsize >= nb) {
      const dvAt = (this.hdr + 4 * H_DV) >>> 2;
      const isDv = n === m[dvAt];
      const rem = old + nsize - nb;
      if (!isDv && rem >= min) {
        // The remainder goes to a bin whose head is written through (n's forward link, when n was
        // that head: n at the head of another bin than its own is a stale head, refused).
        const idx = this.binOf(rem);
        const slot = this.bins + (idx << 2);
        const h = m[slot >>> 2]!;
        if (h === n ? this.binOf(nsize) !== idx : !this.linkOk(h)) throw new HeapCorruptionError("corrupted free list", "realloc", slot);
      }
      if (!isDv) this.unlink(n, nsize);
      this.setSizeWord(c, old, false);
      this.unmarkChunk(n, nsize);
      this.allot(c, s & PINUSE, old + nsize, nb, isDv ? REM_WAS_DV : REM_BIN);
      return p;
    }
    return this.reallocMove(c, p, old, size);
  }

  /**
   * Grows in-use chunk `c` (header `s`) to `nb` bytes in place, into the top. When the in-use
   * bitmap sits between the block and the top, the bitmap slides up past the block's new end
   * (one copy of the bitmap) so the block still grows in place.
   * @returns false when the heap cannot grow that far
   */
  protected growIntoTop(c: number, s: number, nb: number): boolean {
    const W = this.W;
    const hdr = this.hdr;
    const min = this.minChunk;
    const old = s & ~FLAG_BITS;
    const bmPayload = this.m[(hdr + 4 * H_BITMAP) >>> 2];
    const slide = c + old === bmPayload - this.W2;
    const bmSize = slide ? this.m[(bmPayload - W) >>> 2] & ~FLAG_BITS : 0;
    const needEnd = c + nb + bmSize + min;
    this.checkTop("realloc");
    let cover = 0;
    if (needEnd > this.endAddr()) {
      cover = this.grow(needEnd - this.endAddr());
      if (cover < 0) return false;
    }
    const m = this.m;
    const end = this.endAddr();
    m[(c + W) >>> 2] = nb | CINUSE | (s & PINUSE);
    if (!slide) {
      const nt = c + nb;
      m[(hdr + 4 * H_TOP) >>> 2] = nt;
      m[(nt + W) >>> 2] = (end - nt) | PINUSE;
      this.newHead(nt);
      this.setSizeWord(c, old, false);
      if (cover > 0) this.moveBitmap(cover); // (first: the old map may not reach c's new size word)
      this.setSizeWord(c, nb, true);
      return true;
    }
    const oldBytes = m[(hdr + 4 * H_COVER) >>> 2] >>> (this.gshift + 2);
    const newCover = cover > 0 ? cover : m[(hdr + 4 * H_COVER) >>> 2] >>> 0;
    const newSize = this.bitmapChunkSize(newCover);
    const q = c + nb;
    const nt = q + newSize;
    // The new top's header first: in a process it is the highest page the slide touches, and
    // if no frame can be had for it nothing but the growth has happened (the copy below would
    // overwrite the old top's header, which a process heap's undo does not restore).
    m[(nt + W) >>> 2] = (end - nt) | PINUSE;
    this.newHead(nt);
    this.host.copy(q + this.W2, bmPayload, oldBytes);
    this.host.zero(q + this.W2 + oldBytes, newSize - W - oldBytes);
    m[(q + W) >>> 2] = newSize | CINUSE | PINUSE;
    this.newHead(q);
    m[(hdr + 4 * H_TOP) >>> 2] = nt;
    m[(hdr + 4 * H_BITMAP) >>> 2] = q + this.W2;
    m[(hdr + 4 * H_COVER) >>> 2] = newCover;
    // In the map, now at q: the block's new size, the map's chunk moved from bm to q.
    const bm = bmPayload - this.W2;
    this.setSizeWord(c, old, false);
    this.unmarkChunk(bm, bmSize);
    this.setSizeWord(c, nb, true);
    this.markChunk(q, newSize, MARK_USED);
    return true;
  }

  /**
   * Moves block `p` (chunk `c` of `old` bytes) to a new block of `size` bytes. Its caller,
   * reallocImpl, has run free's checks on `c` already.
   */
  protected reallocMove(c: number, p: number, old: number, size: number): number {
    const q = this.mallocImpl(size);
    if (q === 0) return 0;
    // Whole words (both usable sizes are multiples of 8 bytes): copies run word-wise.
    this.host.copy(q, p, Math.min(old - this.W, (size + 7) & ~7));
    this.freeChunk(c, "realloc");
    return q;
  }

  /**
   * Shrinks in-use chunk `c` (header `s`) to `nb` bytes and frees the tail. The tail's free is
   * checked before anything changes (the chunk after it as free checks `c`'s, and the bin the
   * tail joins, alone or merged with that chunk): refused, the block stays whole.
   */
  protected splitTail(c: number, s: number, nb: number, op: string): void {
    const m = this.m;
    const W = this.W;
    const rem = (s & ~FLAG_BITS) - nb;
    this.freeChunk(c, op, true);
    const n = c + (s & ~FLAG_BITS);
    if (n !== this.topAddr()) {
      const nextFree = this.markOf(n) === MARK_FREE;
      if (!(nextFree && n === m[(this.hdr + 4 * H_DV) >>> 2])) {
        const nsize = m[(n + W) >>> 2]! & ~FLAG_BITS;
        const idx = this.binOf(rem + (nextFree ? nsize : 0));
        const slot = this.bins + (idx << 2);
        const h = m[slot >>> 2]!;
        if (nextFree && h === n ? this.binOf(nsize) !== idx : !this.linkOk(h)) throw new HeapCorruptionError("corrupted free list", op, slot);
      }
    }
    m[(c + W) >>> 2] = nb | (s & (CINUSE | PINUSE));
    const r = c + nb;
    m[(r + W) >>> 2] = rem | CINUSE | PINUSE;
    this.newHead(r);
    this.setSizeWord(c, nb + rem, false);
    this.setSizeWord(c, nb, true);
    this.markChunk(r, rem, MARK_USED);
    this.freeChunk(r, op);
  }

  protected memalignImpl(alignment: number, size: number): number {
    if (typeof size !== "number") throw notNumber("memalign", "size", size);
    if (alignment <= this.layout.align) return this.mallocImpl(size);
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    if (size >>> 0 !== size || size > MAX_REQUEST || alignment > MAX_REQUEST) {
      this.errno = Errno.ENOMEM;
      return 0;
    }
    const W = this.W;
    const min = this.minChunk;
    const n0 = size + W + this.amask;
    const nb = n0 < min ? min : n0 & ~this.amask;
    if (nb + alignment + min > MAX_REQUEST) {
      this.errno = Errno.ENOMEM;
      return 0;
    }
    // glibc's _int_memalign asks _int_malloc for the padded size, so that is what meets the
    // mmap threshold (a big alignment gets a mapping, not a break moved by the alignment).
    if (this.maps !== null && this.wantsMap(nb + alignment + min)) {
      const q = this.mapBlock(size, alignment);
      if (q !== 0) return q;
    }
    // (allocChunk checks the frees below before it takes the chunk: see carveOk.)
    const c = this.allocChunk(nb + alignment + min, alignment);
    if (c === 0) {
      const q = this.maps !== null && this.mapsLeft() ? this.mapBlock(size, alignment) : 0;
      if (q === 0) this.errno = Errno.ENOMEM;
      return q;
    }
    const m = this.m;
    const a = this.alignedIn(c, alignment);
    if (a !== c) {
      // The leading gap becomes a chunk of its own and is freed: the padding is not wasted.
      const s = m[(c + W) >>> 2];
      const lead = a - c;
      m[(c + W) >>> 2] = lead | CINUSE | (s & PINUSE);
      m[(a + W) >>> 2] = ((s & ~FLAG_BITS) - lead) | CINUSE | PINUSE;
      this.newHead(a);
      this.setSizeWord(c, s & ~FLAG_BITS, false);
      this.setSizeWord(c, lead, true);
      this.markChunk(a, (s & ~FLAG_BITS) - lead, MARK_USED);
      this.freeChunk(c, "memalign");
    }
    const s = m[(a + W) >>> 2];
    if ((s & ~FLAG_BITS) - nb >= min) this.splitTail(a, s, nb, "memalign");
    return a + this.W2;
  }

  /**
   * The chunk of an aligned block carved from chunk `c`: its payload the first multiple of
   * `align` at or after `c`'s, or one `align` further when the gap before it would be too small
   * for a chunk of its own.
   */
  protected alignedIn(c: number, align: number): number {
    let p = c + this.W2;
    if (p % align === 0) return c;
    p = Math.ceil(p / align) * align;
    if (p - this.W2 - c < this.minChunk) p += align;
    return p - this.W2;
  }

  /**
   * An aligned allocation's checks of chunk `c` (`size` bytes) before allocChunk takes `n` of
   * them: the checks that freeing the parts before and after the aligned block will make
   * (freeChunk's and splitTail's), made on the heap as it is before the take, so that damage they
   * would find is refused before anything changes (else the chunk would be lost). `idx`: the bin
   * `c` heads, whose head its forward link becomes, or -1; `remDv`: the rest of `c` becomes the
   * designated victim. From the top, `c` is the top, or -1 when the heap must grow first.
   */
  protected carveOk(c: number, size: number, n: number, align: number, idx: number, remDv: boolean): void {
    const m = this.m;
    const W = this.W;
    const min = this.minChunk;
    const top = m[(this.hdr + 4 * H_TOP) >>> 2]!;
    const fd = idx >= 0 ? m[(c + this.W2) >>> 2]! : 0;
    let lead = 0;
    let tail = 0;
    const whole = c !== top && size - n < min; // (the top is carved: n bytes exactly)
    if (c >= 0) {
      lead = this.alignedIn(c, align) - c;
      tail = (whole ? size : n) - lead - (n - align - min);
      if (lead === 0 && tail < min) return; // nothing to free
    }
    // The chunk is freed in parts: its header must say the chunk before it is in use (a free
    // one would have merged with it; the chunk map, when it moves first, is in use), and an
    // 8-byte size field must have a zero high half.
    const at = c >= 0 ? c : top;
    if ((m[(at + W) >>> 2]! & PINUSE) === 0) throw new HeapCorruptionError("corrupted size vs. prev_size", "memalign", at);
    if (W === 8 && m[(at + 12) >>> 2] !== 0) throw new HeapCorruptionError("invalid size", "memalign", at);
    // The bins the parts join are written through: their heads must be free chunks (c's bin
    // will have c's forward link). When the heap grows first, the chunk starts where the break
    // and the chunk map leave it: every bin a leading part can join is checked (growing is rare).
    if (c < 0) {
      for (let i = this.binOf(min); i <= this.binOf(align + min - this.amask - 1); i++) this.carveHeadOk(i, -1, 0);
      return;
    }
    if (lead > 0) this.carveHeadOk(this.binOf(lead), idx, fd);
    if (c === top || tail < min) return; // (a tail carved from the top merges into the new top)
    const x = c + size;
    const xs = m[(x + W) >>> 2]!;
    let bin = this.binOf(tail);
    if (!whole) {
      // The rest of c, a free chunk, merges with the tail: its footer needs the chunk after it
      // to say that its predecessor is free. In a bin, the tail joins it in the bin of both.
      if ((xs & PINUSE) !== 0) throw new HeapCorruptionError("corrupted size vs. prev_size", "memalign", c + n);
      if (remDv) return;
      bin = this.binOf(tail + size - n);
    } else {
      // c taken whole: the tail is freed next to the chunk after c, checked as free checks a
      // neighbour: in use (a free one would have merged with c), of a sound size; or the top.
      const xsize = xs & ~FLAG_BITS;
      if (W === 8 && m[(x + 12) >>> 2] !== 0) throw new HeapCorruptionError("invalid next size (normal)", "memalign", x);
      if (x === top) {
        if (xsize !== m[(this.hdr + 4 * H_END) >>> 2]! - top || (xs & CINUSE) !== 0) throw new HeapCorruptionError("invalid next size (top)", "memalign", x);
        return;
      }
      if (this.markOf(x) !== MARK_USED || (xs & CINUSE) === 0 || xsize < min || (xsize & this.amask) !== 0 || x + xsize > top || (x === m[(this.hdr + 4 * H_BITMAP) >>> 2]! - this.W2 && !this.bitmapHeadOk(xs))) {
        throw new HeapCorruptionError("invalid next size (normal)", "memalign", x);
      }
    }
    this.carveHeadOk(bin, idx, fd);
  }

  /** For {@link Heap.carveOk}: throws unless bin `i`'s head is a free chunk or none (`fd`, once the head of bin `idx` is taken). */
  protected carveHeadOk(i: number, idx: number, fd: number): void {
    const slot = this.bins + (i << 2);
    if (!this.linkOk(i === idx ? fd : this.m[slot >>> 2]!)) throw new HeapCorruptionError("corrupted free list", "memalign", slot);
  }

  // ───────────────────────── mapped blocks ─────────────────────────
  // Hooks for a heap with a mapping source (a process's heap overrides them: PagedHeap.ts).
  // They are reached only where `maps` is not null, which it is on linear memory.

  /** Whether another block may get a mapping of its own (`M_MMAP_MAX`). */
  protected mapsLeft(): boolean {
    return false;
  }
  /** Whether a request of `size` bytes gets a mapping of its own. */
  protected wantsMap(_size: number): boolean {
    return false;
  }
  /** A block of `size` bytes aligned to `alignment` in a mapping of its own; 0 when none. */
  protected mapBlock(_size: number, _alignment: number): number {
    return 0;
  }
  /** Frees mapped block `p`. */
  protected unmapBlock(_p: number): void {}
  /** `realloc` of mapped block `p`. */
  protected reallocMapped(_p: number, _size: number): number {
    return 0;
  }
  /** Checks the mapped blocks (part of {@link Heap.check}). */
  protected checkMapped(): void {}

  // ───────────────────────── concurrency ─────────────────────────

  /**
   * Runs `fn(a, b)`, one of this class's methods, for a concurrent heap: holding the heap's
   * lock, on the engine that logs every store so that another thread can undo the call if this
   * one dies inside it (`arenas.ts`). Takes a method and its arguments rather than a closure: a
   * closure over the arguments would make every public call allocate a context.
   */
  protected locked<R>(fn: (this: this, a: number, b: number) => R, a: number, b: number): R {
    return this.shared!.run(fn, a, b);
  }

  /**
   * After a worker that used this concurrent heap died (`await worker.terminate()`, or its
   * `exit` event), pass its `worker.threadId`: if it held a lock of the heap (the main heap's
   * during a call; its arena's, which a thread keeps between calls until its task ends), the
   * call it was in is undone (every metadata store it made is written back from that lock's
   * log), a free of another thread's block it was making is finished or undone, and its locks
   * are released, so the other threads go on; its arena goes to the next thread that needs one.
   * Every block stays as it was before that call; the contents of blocks the worker was
   * writing to are whatever it had written, and the blocks it had allocated stay allocated.
   * Call it after every end of a worker (one that ended normally keeps its arena until then),
   * and only once the thread is gone: the call of a live thread would be undone under its feet.
   * See docs/workers.md.
   * @returns true if the thread held a lock or was handing a block to another thread (and
   *   something was recovered); always false for a heap that is not concurrent
   * @throws VmError when the interrupted call made more stores than the log holds
   * @example
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const heap = new Heap({ concurrent: true });
   * // In the parent of a worker that attached the heap (see docs/workers.md):
   * //   const id = worker.threadId; // read it first: it is -1 once the worker has stopped
   * //   await worker.terminate();
   * //   heap.recover(id);
   * // A thread that holds no lock has nothing to recover:
   * console.log(heap.recover(7)); // false
   * heap.check();
   * ```
   */
  recover(threadId: number): boolean {
    if (!Number.isSafeInteger(threadId) || threadId < 0) throw new ArgumentError(`recover: threadId must be a non-negative integer, got ${String(threadId)}`);
    return this.shared !== null ? this.shared.recover(threadId) : false;
  }

  /**
   * The id the calls of this object carry on a concurrent heap (what {@link Heap.recover}
   * takes): Node's `threadId`, the `threadId` given to {@link Heap.attach}, or one the heap
   * handed out. -1 for a heap that is not concurrent.
   */
  get threadId(): number {
    return this.shared !== null ? this.shared.threadId : -1;
  }

  // ───────────────────────── checking ─────────────────────────

  /**
   * Walks every chunk and every bin and verifies every invariant: chunk sizes and tags, the
   * in-use bitmap, bins holding only free chunks of their class, no two adjacent free chunks,
   * and totals matching {@link Heap.mallinfo}.
   * @throws HeapCorruptionError naming the first broken invariant
   * @example
   * ```ts
   * import { Heap, HeapCorruptionError } from "vmheap";
   *
   * const heap = new Heap();
   * const p = heap.malloc(24);
   * heap.malloc(24);
   * heap.check(); // a sound heap: nothing thrown
   * // a write past the end of p smashes its neighbour's size field
   * heap.memory.dv.setUint32(p + 24, 0xffff, true);
   * try {
   *   heap.check();
   * } catch (e) {
   *   console.log(e instanceof HeapCorruptionError, (e as Error).message); // true check(): invalid chunk size 65528 (chunk at 0x840)
   * }
   * ```
   */
  check(): void {
    if ((this.mode & MODE_LOCK) !== 0) this.locked(this.checkImpl, 0, 0);
    else this.checkImpl();
  }

  protected checkImpl(): void {
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    const m = this.m;
    const W = this.W;
    const min = this.minChunk;
    const fail = (what: string, at: number): never => {
      throw new HeapCorruptionError(what, "check", at);
    };
    if (m[this.hdr >>> 2] !== MAGIC) fail("heap header magic is gone", this.hdr);
    const top = this.topAddr();
    const end = this.endAddr();
    const bitmap = m[(this.hdr + 4 * H_BITMAP) >>> 2];
    if (end - this.arena > m[(this.hdr + 4 * H_COVER) >>> 2] >>> 0) fail("in-use bitmap does not cover the heap", bitmap);
    if (m[(this.hdr + 4 * H_BRK) >>> 2] !== end) fail("heap end differs from the break", end);
    let x = this.arena;
    let prevInUse = true;
    let freeChunks = 0;
    let freeBytes = 0;
    let sawBitmap = false;
    // The chunk map these chunks should have, compared with the real one at the end.
    const want = new Int32Array((end - this.arena + (16 << this.gshift) - 1) >>> (this.gshift + 4));
    while (x < top) {
      const s = m[(x + W) >>> 2];
      const size = s & ~FLAG_BITS;
      if (size < min || (size & this.amask) !== 0 || x + size > top || (W === 8 && m[(x + 12) >>> 2] !== 0)) fail(`invalid chunk size ${size}`, x);
      if (((s & PINUSE) !== 0) !== prevInUse) fail("PINUSE bit disagrees with the previous chunk", x);
      const used = (s & CINUSE) !== 0;
      const isBitmap = x + this.W2 === bitmap;
      if (isBitmap) sawBitmap = true;
      const g = (x - this.arena) >>> this.gshift;
      want[g >>> 4] = want[g >>> 4]! | ((used ? MARK_USED : MARK_FREE) << ((g & 15) << 1));
      if (size >>> this.gshift >= SIZE_WORD_GRANULES) want[(g >>> 4) + 1] = ((size >>> this.gshift) << 2) | SIZE_TAG;
      if (!used) {
        if (!prevInUse) fail("two adjacent free chunks", x);
        if (m[(x + size) >>> 2] !== size) fail("corrupted size vs. prev_size", x);
        freeChunks++;
        freeBytes += size;
      }
      prevInUse = used;
      x += size;
    }
    if (x !== top) fail("chunks do not end at the top chunk", x);
    if (!sawBitmap) fail("in-use bitmap chunk not found among the chunks", bitmap);
    const ts = m[(top + W) >>> 2];
    if ((ts & CINUSE) !== 0 || (ts & ~FLAG_BITS) !== end - top || end - top < min) fail("corrupted top size", top);
    if (((ts & PINUSE) !== 0) !== prevInUse) fail("PINUSE bit of the top disagrees with the previous chunk", top);
    if (!prevInUse) fail("free chunk next to the top (should have merged)", top);
    // Bins: every chunk free, of the bin's class, doubly linked; bitmap bits match.
    const nbins = binCount(this.gshift);
    let binned = 0;
    let binnedBytes = 0;
    let summary = 0;
    for (let w = 0; w < this.binWords; w++) {
      let bits = 0;
      for (let b = 0; b < 32; b++) {
        const idx = (w << 5) + b;
        if (idx >= nbins) break;
        let c = m[(this.bins + 4 * idx) >>> 2];
        let prev = 0;
        if (c !== 0) bits |= 1 << b;
        while (c !== 0) {
          if (c < this.arena || c >= top || ((c + this.W2) & this.amask) !== 0) fail(`bin ${idx} points outside the heap`, c);
          const s = m[(c + W) >>> 2];
          const size = s & ~FLAG_BITS;
          if ((s & CINUSE) !== 0) fail(`bin ${idx} holds an in-use chunk`, c);
          if (this.binOf(size) !== idx) fail(`bin ${idx} holds a chunk of size ${size}`, c);
          if (prev !== 0 && m[(c + this.W2 + W) >>> 2] !== prev) fail(`bin ${idx}: broken back link`, c);
          if (++binned > freeChunks) fail(`bin ${idx}: more binned chunks than free chunks (a cycle?)`, c);
          binnedBytes += size;
          prev = c;
          c = m[(c + this.W2) >>> 2];
        }
      }
      if ((m[(this.hdr + 4 * (H_BINMAP + w)) >>> 2] | 0) !== bits) fail(`bin bitmap word ${w} is wrong`, this.hdr);
      if (bits !== 0) summary |= 1 << w;
    }
    if ((m[(this.hdr + 4 * H_SUMMARY) >>> 2] | 0) !== summary) fail("bin summary bitmap is wrong", this.hdr);
    const dv = m[(this.hdr + 4 * H_DV) >>> 2]!;
    if (dv !== 0) {
      const ds = m[(dv + W) >>> 2]!;
      if (dv < this.arena || dv >= top || ((dv + this.W2) & this.amask) !== 0 || (ds & CINUSE) !== 0) fail("the designated victim is not a free chunk", dv);
      binned++;
      binnedBytes += ds & ~FLAG_BITS;
    }
    if (binned !== freeChunks || binnedBytes !== freeBytes) fail(`bins and the designated victim hold ${binned} chunks, the heap has ${freeChunks} free`, this.hdr);
    // The chunk map: exactly the marks and size words of the chunks walked.
    for (let i = 0; i < want.length; i++) {
      const got = m[(bitmap + 4 * i) >>> 2]!;
      if (got !== want[i]) {
        const at = this.arena + (i << (this.gshift + 4));
        fail(`chunk map word ${i} (granules at 0x${at.toString(16)}) is 0x${(got >>> 0).toString(16)}, the chunks give 0x${(want[i]! >>> 0).toString(16)}`, at);
      }
    }
    const info = this.mallinfoImpl();
    if (info.ordblks !== freeChunks + 1 || info.fordblks !== freeBytes + (end - top) || info.uordblks + info.fordblks !== info.arena) {
      fail("totals disagree with mallinfo()", this.hdr);
    }
    if (this.mallocFootprint() > this.mallocMaxFootprint()) fail("footprint above its high-water mark", this.hdr);
    if (this.maps !== null) this.checkMapped();
  }

  /**
   * The malloc family with the C ABI of wasm32, for a module's `env` imports: `malloc`, `free`,
   * `calloc`, `realloc`, `reallocarray`, `posix_memalign(memptr, alignment, size)` (writes the
   * pointer, 4 bytes, at `memptr` in the module's memory; any power-of-two alignment that is a
   * multiple of 4), `aligned_alloc`, `memalign`, `malloc_usable_size`. Arguments arrive as
   * signed i32 and are read as unsigned. Error codes are the module's libc's (`opts.errno`:
   * WASI's by default, `EINVAL` = 28, `ENOMEM` = 48), and a failing call sets the C program's
   * `errno` (its exported `errno` global or `__errno_location()`) when `opts.instance` gives
   * the instance.
   *
   * With `opts.engine` (the wasm engine of `vmheap/wasm`), or on a heap made with one, the
   * functions are the engine's wasm exports, so the module's calls are wasm-to-wasm; otherwise
   * they call this heap's JavaScript engine.
   *
   * A module's set-up (`bytes` its code, `heapBase` its exported `__heap_base`):
   * ```ts
   * const heap = new Heap({ memory, base: heapBase, dataModel: "wasm32" });
   * let instance: WebAssembly.Instance | undefined;
   * const env = { memory, ...heap.wasmImports({ instance: () => instance }) };
   * instance = (await WebAssembly.instantiate(bytes, { env })).instance;
   * ```
   * @example
   * The functions a module calls, called here from JavaScript:
   * ```ts
   * import { Heap } from "vmheap";
   *
   * const memory = new WebAssembly.Memory({ initial: 2, maximum: 256 });
   * const heap = new Heap({ memory, base: 0x10400, dataModel: "wasm32" });
   * const env = { memory, ...heap.wasmImports() };
   * const p = env.malloc(100);
   * console.log(p.toString(16), env.malloc_usable_size(p)); // 10c20 108
   * // posix_memalign(memptr, alignment, size) stores the pointer at memptr
   * const memptr = env.malloc(4);
   * const err = env.posix_memalign(memptr, 64, 100);
   * console.log(err, new DataView(memory.buffer).getUint32(memptr, true) % 64); // 0 0
   * // errors are WASI's numbers: EINVAL is 28, ENOMEM 48
   * console.log(env.posix_memalign(memptr, 3, 100), env.posix_memalign(memptr, 64, 0xffffffff)); // 28 48
   * ```
   */
  wasmImports(opts: WasmImportOptions = {}): WasmImports {
    const heap = this as Heap<HeapMemory>;
    const engine = opts.engine ?? engines.get(heap);
    return engine !== undefined ? linkOf(engine).imports(heap, engine, opts) : jsImports(heap, opts);
  }
}

/** The wasm engine each heap made with one runs on (HeapOptions.engine). */
const engines = new WeakMap<object, WasmEngineBinaries>();

/**
 * The loader that comes with `engine` (vmheap/wasm's `wasmEngine`): the heap reaches the wasm
 * engine only through it, so a program that imports only the heap does not carry the loader.
 */
function linkOf(engine: WasmEngineBinaries): WasmEngineLink {
  const link = (engine as { link?: WasmEngineLink } | null)?.link;
  if (typeof link !== "object" || link === null || typeof link.run !== "function") throw new ArgumentError("wasmImports: engine must be the wasmEngine of vmheap/wasm");
  return link;
}
