/**
 * Physical memory: RAM as an array of page frames, with the frame allocator and the reference
 * counts the kernel keeps in `struct page`.
 *
 * ```text
 *   buffer (one SharedArrayBuffer, or ArrayBuffer)         (frames + 1) × pageSize bytes
 *   ┌──────────────┬──────────────┬──────────────┬─ … ─┬──────────────┐
 *   │ frame 0      │ frame 1      │ frame 2      │     │ frame n      │   n = frames: all
 *   │ ZERO FRAME   │              │              │     │              │   for pages
 *   └──────────────┴──────────────┴──────────────┴─ … ─┴──────────────┘
 *   physical address of byte b in frame f  =  f · pageSize + b
 *
 *   refs[f]   0: free · 1: one mapping · k > 1: shared by k mappings · PINNED: the zero frame
 *   free[0 … freeTop)   stack of free frame numbers: allocFrame pops, freeFrame pushes (O(1))
 * ```
 *
 * Invariants (checked by {@link PhysicalMemory.check}):
 * - a frame is on the free stack exactly once when `refs[f] === 0`, and never otherwise;
 * - `sharedFrames` is the number of frames with `1 < refs[f] < PINNED`;
 * - the zero frame is frame 0, is `PINNED`, is never on the free stack and holds only zeros.
 */
import { ArgumentError, FrameError, VmError, checkOptions, type OptionKeys } from "../errors.js";

/** Default page (and frame) size in bytes, as on x86-64. */
export const DEFAULT_PAGE_SIZE = 4096;

/** Smallest page size accepted: 16 bytes, so textbook examples with tiny pages work. */
export const MIN_PAGE_SIZE = 16;

/** Largest page size accepted: 1 GiB (an x86-64 huge page); offsets stay 31-bit integers. */
export const MAX_PAGE_SIZE = 1 << 30;

/**
 * Most frames one {@link PhysicalMemory} may have: 2^24, the frame field of a PTE (see
 * `paging/pte.ts`). With 4 KiB pages that is 64 GiB, far more than a JS buffer holds.
 */
export const MAX_FRAMES = 1 << 24;

/** The reference count the zero frame reports: it is pinned, shared by everyone, never freed. */
export const PINNED = 0xffff_ffff;

/** Options for {@link PhysicalMemory}. */
export interface PhysicalMemoryOptions {
  /**
   * Number of page frames of RAM for pages, from 1 to {@link MAX_FRAMES} − 1. The zero frame
   * comes on top (as Linux's zero page is the kernel's, not a process's): `frames` pages can
   * be resident at once.
   */
  frames: number;
  /** Bytes per frame: a power of two from 16 to 2^30. @defaultValue 4096 */
  pageSize?: number;
  /**
   * Keep the bytes in a `SharedArrayBuffer`, so workers can map the same RAM. Where
   * `SharedArrayBuffer` does not exist (a browser page without cross-origin isolation) the
   * memory falls back to an `ArrayBuffer` even when this is `true`; read
   * {@link PhysicalMemory.shared} to know which one you got.
   * @defaultValue `true`
   */
  shared?: boolean;
}

/** The keys of {@link PhysicalMemoryOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<PhysicalMemoryOptions> = { frames: 1, pageSize: 1, shared: 1 };

/**
 * Whether `n` is a power of two in [{@link MIN_PAGE_SIZE}, {@link MAX_PAGE_SIZE}].
 * @example
 * ```ts
 * import { isValidPageSize } from "vmheap";
 *
 * console.log(isValidPageSize(4096), isValidPageSize(16), isValidPageSize(8), isValidPageSize(3000)); // true true false false
 * ```
 */
export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0;
}

/**
 * The machine's RAM, as `frames` page frames of `pageSize` bytes in one buffer, with an O(1)
 * frame allocator (the buddy allocator's order-0 free list, as a stack in a typed array),
 * per-frame reference counts (`page_ref_count`), and the shared zero page (`ZERO_PAGE(0)`).
 *
 * The MMU reads and writes RAM by physical address through {@link u8}, {@link dv} and
 * {@link u32}; these views never change (RAM does not grow), so they may be kept.
 *
 * Frame life cycle: {@link allocFrame} hands out a frame with reference count 1; mapping it
 * again elsewhere (fork, `MAP_SHARED`) takes {@link ref}; dropping a mapping calls
 * {@link unref}, which returns the frame to the free list when the count reaches 0.
 * {@link freeFrame} is the direct way back for a frame with one owner. Misuse (a double free,
 * a reference to a free frame) throws {@link FrameError}.
 * @example
 * ```ts
 * import { FrameError, PhysicalMemory } from "vmheap";
 *
 * const ram = new PhysicalMemory({ frames: 8 }); // 8 frames of 4 KiB, plus the zero frame
 * console.log(ram.pageSize, ram.frames, ram.freeFrames, ram.zeroFrame); // 4096 8 8 0
 * const f = ram.allocFrame(true);
 * ram.frameBytes(f)[0] = 42;
 * // a second page maps the frame (fork, MAP_SHARED): one more reference
 * console.log(f, ram.ref(f), ram.sharedFrames, ram.freeFrames); // 1 2 1 7
 * console.log(ram.unref(f), ram.unref(f), ram.freeFrames); // 1 0 8
 * try {
 *   ram.freeFrame(f);
 * } catch (e) {
 *   console.log(e instanceof FrameError, (e as Error).message); // true freeFrame(): double free (frame 1)
 * }
 * ```
 */
export class PhysicalMemory {
  /** Bytes per frame (= the page size of every address space over this memory). */
  readonly pageSize: number;
  /** log2(pageSize). */
  readonly pageShift: number;
  /** Number of frames of RAM for pages (the zero frame not included). */
  readonly frames: number;
  /** Frames in the buffer: {@link frames} and the zero frame. Frame numbers run from 0 to `frames`. */
  readonly totalFrames: number;
  /** Total bytes of RAM: `totalFrames · pageSize`. */
  readonly byteLength: number;
  /** Whether the bytes live in a `SharedArrayBuffer`. */
  readonly shared: boolean;
  /** The RAM itself; hand it to a worker to share the bytes. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** All of RAM, byte-addressed by physical address. */
  readonly u8: Uint8Array;
  /** All of RAM as a `DataView` (the MMU reads multi-byte values little-endian through it). */
  readonly dv: DataView;
  /** All of RAM as 32-bit words: word `pa >>> 2` holds physical bytes `pa … pa + 3`. */
  readonly u32: Uint32Array;
  /**
   * The zero frame: frame 0, permanently allocated and always all zeros. Map it read-only for
   * reads of untouched anonymous memory and bss (Linux's `ZERO_PAGE`). It is shared by
   * definition: a writer must first copy it into a fresh frame ({@link allocFrame} +
   * {@link zeroFill}), never write it in place; {@link zeroFill} and {@link copyFrame} refuse
   * it as a destination, and {@link refCount} reports {@link PINNED} for it.
   */
  readonly zeroFrame: number;

  /** Reference count per frame (0 = free, {@link PINNED} = the zero frame). */
  private readonly refs: Uint32Array;
  /** Stack of free frame numbers; `[0, freeTop)` is live. */
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private shareCount: number;

  constructor(opts: PhysicalMemoryOptions) {
    checkOptions(opts, "PhysicalMemory", OPTION_KEYS);
    const frames = opts.frames;
    if (!Number.isInteger(frames) || frames < 1 || frames >= MAX_FRAMES) {
      throw new ArgumentError(`PhysicalMemory: frames must be an integer from 1 to ${MAX_FRAMES - 1}, got ${String(frames)}`);
    }
    const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!isValidPageSize(pageSize)) {
      throw new ArgumentError(`PhysicalMemory: pageSize must be a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE}, got ${String(pageSize)}`);
    }
    const haveShared = typeof SharedArrayBuffer === "function";
    const shared = (opts.shared ?? true) && haveShared;
    const total = frames + 1; // and the zero frame
    const bytes = total * pageSize;
    let buffer: ArrayBuffer | SharedArrayBuffer;
    try {
      buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    } catch (e) {
      throw new VmError(`PhysicalMemory: cannot allocate ${frames} frames of ${pageSize} bytes (${(e as Error).message})`);
    }
    this.pageSize = pageSize;
    this.pageShift = Math.log2(pageSize);
    this.frames = frames;
    this.totalFrames = total;
    this.byteLength = bytes;
    this.shared = shared;
    this.buffer = buffer;
    this.u8 = new Uint8Array(buffer);
    this.dv = new DataView(buffer);
    this.u32 = new Uint32Array(buffer);
    this.refs = new Uint32Array(total);
    this.freeStack = new Int32Array(total);
    // Push the highest frame first so that allocation hands out 1, 2, 3, ...: pictures read better.
    let top = 0;
    for (let f = total - 1; f >= 1; f--) this.freeStack[top++] = f;
    this.freeTop = top;
    this.shareCount = 0;
    this.zeroFrame = 0;
    this.refs[0] = PINNED;
  }

  /** Frames on the free list. */
  get freeFrames(): number {
    return this.freeTop;
  }

  /** Frames in use (reference count ≥ 1), the zero frame included. */
  get usedFrames(): number {
    return this.totalFrames - this.freeTop;
  }

  /** Frames mapped more than once (reference count > 1); the zero frame is not counted. */
  get sharedFrames(): number {
    return this.shareCount;
  }

  /** The physical address of the first byte of frame `f`. */
  frameAddress(f: number): number {
    return f * this.pageSize;
  }

  /**
   * Takes a free frame (Linux `alloc_page`), with reference count 1. O(1).
   * @param zeroed - zero-fill it (`__GFP_ZERO`); otherwise it holds whatever was last there.
   *   @defaultValue false
   * @returns the frame number, or -1 when no frame is free (the caller then reclaims or fails)
   */
  allocFrame(zeroed = false): number {
    if (this.freeTop === 0) return -1;
    const f = this.freeStack[--this.freeTop]!;
    this.refs[f] = 1;
    if (zeroed) this.u8.fill(0, f * this.pageSize, (f + 1) * this.pageSize);
    return f;
  }

  /**
   * Returns a frame with exactly one reference to the free list (`__free_page`). O(1).
   * @throws FrameError when the frame is already free (double free), is shared (use
   *   {@link unref}), is the zero frame, or is out of range
   */
  freeFrame(f: number): void {
    const r = this.refsOf(f, "freeFrame");
    if (r === 0) throw new FrameError("double free", "freeFrame", f);
    if (r === PINNED) throw new FrameError("the zero frame is never freed", "freeFrame", f);
    if (r > 1) throw new FrameError(`frame is still shared by ${r} mappings; drop them with unref()`, "freeFrame", f);
    this.release(f);
  }

  /**
   * Takes one more reference to an allocated frame (`get_page`): another page maps it.
   * A no-op on the zero frame.
   * @returns the new reference count
   * @throws FrameError when the frame is free or out of range
   */
  ref(f: number): number {
    const r = this.refsOf(f, "ref");
    if (r === PINNED) return r;
    if (r === 0) throw new FrameError("reference to a free frame", "ref", f);
    if (r === 1) this.shareCount++;
    this.refs[f] = r + 1;
    return r + 1;
  }

  /**
   * Drops one reference (`put_page`); at 0 the frame goes back to the free list.
   * A no-op on the zero frame.
   * @returns the new reference count (0: the frame was freed)
   * @throws FrameError when the frame is already free or out of range
   */
  unref(f: number): number {
    const r = this.refsOf(f, "unref");
    if (r === PINNED) return r;
    if (r === 0) throw new FrameError("double free", "unref", f);
    if (r === 1) {
      this.release(f);
      return 0;
    }
    if (r === 2) this.shareCount--;
    this.refs[f] = r - 1;
    return r - 1;
  }

  /**
   * The reference count of frame `f`: 0 when free, 1 when one page maps it, more when shared;
   * {@link PINNED} for the zero frame (so "sole owner may write in place" never applies to it).
   */
  refCount(f: number): number {
    return this.refsOf(f, "refCount");
  }

  /** Fills frame `f` with zeros (`clear_page`). @throws FrameError for the zero frame or a free frame */
  zeroFill(f: number): void {
    this.checkWritable(f, "zeroFill");
    this.u8.fill(0, f * this.pageSize, (f + 1) * this.pageSize);
  }

  /**
   * Copies frame `src` over frame `dst` (`copy_page`, the copy in copy-on-write).
   * @throws FrameError when `dst` is the zero frame or either frame is free
   */
  copyFrame(dst: number, src: number): void {
    this.checkWritable(dst, "copyFrame");
    if (this.refsOf(src, "copyFrame") === 0) throw new FrameError("copy from a free frame", "copyFrame", src);
    if (dst === src) return;
    const ps = this.pageSize;
    this.u8.copyWithin(dst * ps, src * ps, (src + 1) * ps);
  }

  /** The bytes of frame `f` as a view (not a copy). */
  frameBytes(f: number): Uint8Array {
    this.refsOf(f, "frameBytes");
    return this.u8.subarray(f * this.pageSize, (f + 1) * this.pageSize);
  }

  /**
   * Walks every frame and checks the invariants drawn at the top of this file.
   * @throws VmError describing the first broken invariant
   */
  check(): void {
    const seen = new Uint8Array(this.totalFrames);
    for (let i = 0; i < this.freeTop; i++) {
      const f = this.freeStack[i]!;
      if (f < 0 || f >= this.totalFrames) throw new VmError(`PhysicalMemory.check(): free list holds ${f}, not a frame`);
      if (seen[f] !== 0) throw new VmError(`PhysicalMemory.check(): frame ${f} is on the free list twice`);
      seen[f] = 1;
      if (this.refs[f] !== 0) throw new VmError(`PhysicalMemory.check(): frame ${f} is on the free list with ${this.refs[f]} references`);
    }
    let shared = 0;
    for (let f = 0; f < this.totalFrames; f++) {
      const r = this.refs[f]!;
      if (r === 0 && seen[f] === 0) throw new VmError(`PhysicalMemory.check(): frame ${f} is free but not on the free list (leaked)`);
      if (r > 1 && r !== PINNED) shared++;
    }
    if (shared !== this.shareCount) throw new VmError(`PhysicalMemory.check(): ${shared} frames are shared, the counter says ${this.shareCount}`);
    if (this.refs[this.zeroFrame] !== PINNED) throw new VmError("PhysicalMemory.check(): the zero frame is not pinned");
    const ps = this.pageSize;
    for (let b = this.zeroFrame * ps, end = b + ps; b < end; b++) {
      if (this.u8[b] !== 0) throw new VmError(`PhysicalMemory.check(): the zero frame holds ${this.u8[b]} at byte ${b} (someone wrote it in place)`);
    }
  }

  private refsOf(f: number, op: string): number {
    if (!Number.isInteger(f) || f < 0 || f >= this.totalFrames) throw new FrameError(`no such frame (RAM has frames 0 to ${this.frames})`, op, f);
    return this.refs[f]!;
  }

  private checkWritable(f: number, op: string): void {
    const r = this.refsOf(f, op);
    if (r === PINNED) throw new FrameError("the zero frame is read-only; copy it into a fresh frame first", op, f);
    if (r === 0) throw new FrameError("write to a free frame", op, f);
  }

  private release(f: number): void {
    this.refs[f] = 0;
    this.freeStack[this.freeTop++] = f;
  }
}
