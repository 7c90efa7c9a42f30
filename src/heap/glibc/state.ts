/**
 * The state of glibc's allocator in one process — `main_arena` (a `struct malloc_state`),
 * `mp_` (`struct malloc_par`), the thread's `tcache` pointer and `tcache_key` — and the
 * loads and stores through which the algorithm touches the process's memory.
 *
 * In a real process `main_arena` lives in libc's data segment, and the bins are fake chunks
 * inside it: a free chunk's `fd`/`bk` can point at `&main_arena.bins[…] − 16`. The model
 * keeps the struct's words in a `Float64Array` standing at {@link MallocState.arena}, a
 * virtual address of its own: every 64-bit load or store at an address inside that range goes
 * to the array, every other one to the process's address space, so the chunks hold the
 * same pointers as in glibc, and the algorithm reads like malloc.c (`bck->fd = victim` works
 * the same whether `bck` is a chunk or a bin).
 *
 * ```text
 *  main_arena  +0x00 mutex, flags, have_fastchunks      (kept as fields)
 *              +0x10 fastbinsY[10]                      aw[2 + i]
 *              +0x60 top            ┐ bin 1 (unsorted) is the fake chunk at +0x60:
 *              +0x68 last_remainder ┘ its fd, bk are bins[0], bins[1]
 *              +0x70 bins[254]      bin i = fake chunk at +0x50 + 16·i (fd at +0x60 + 16·i)
 *              +0x860 binmap[4]                         (kept in a Uint32Array)
 *              +0x888 system_mem, +0x890 max_system_mem (kept as fields); sizeof = 0x898
 * ```
 */
import { DoubleFreeError, HeapCorruptionError, InvalidPointerError, type HeapError } from "../../errors.js";
import type { Brk } from "../Brk.js";
import type { GlibcMemory } from "./memory.js";
import {
  ARENA_LAST_REMAINDER,
  ARENA_SIZE,
  ARENA_TOP,
  BINMAPSIZE,
  DEFAULT_MMAP_MAX,
  DEFAULT_MMAP_THRESHOLD,
  DEFAULT_MXFAST,
  DEFAULT_TOP_PAD,
  DEFAULT_TRIM_THRESHOLD,
  NBINS,
  PREV_INUSE,
  SIZE_BITS,
  TCACHE_FILL_COUNT,
  TCACHE_MAX_BINS,
  maxFastFor,
  tidx2usize,
} from "./layout.js";

const TWO32 = 4294967296;

/**
 * Where the model's `main_arena` stands by default: where it stands in a process of this
 * machine's glibc 2.36 (libc's data, ASLR off). Only its distance to the bins matters to the
 * algorithm; the address shows in free chunks' links.
 */
export const DEFAULT_ARENA_ADDRESS = 0x7ffff7e19c80;

/**
 * The default `tcache_key` (glibc draws it from `getrandom` at start-up): 64 bits as two
 * 32-bit halves. Freed tcache chunks hold it in their second word.
 */
export const DEFAULT_TCACHE_KEY: readonly [number, number] = [0x9e3779b9, 0x7f4a7c15];

/**
 * What kind of typed error a glibc check raises: `"double"` a {@link DoubleFreeError},
 * `"invalid"` an {@link InvalidPointerError}, `"corrupt"` a {@link HeapCorruptionError}.
 * @inline
 */
type Abort = "double" | "invalid" | "corrupt";

/** `main_arena`, `mp_` and the tcache of one process, with the memory they act on. */
export class MallocState {
  /** The memory the allocator runs on: a process's address space, or a linear memory. */
  readonly as: GlibcMemory;
  /** The program break the arena grows and trims (`MORECORE`). */
  readonly brk: Brk;
  /** The page size (`GLRO(dl_pagesize)`). */
  readonly pagesize: number;
  /** Address of `main_arena`. */
  readonly arena: number;
  /** Words of `main_arena` (see the file's diagram). */
  readonly aw: Float64Array;
  /** `binmap`: one bit per bin that may be non-empty. */
  readonly binmap: Uint32Array;
  /** `!contiguous(av)`: set once mmap had to stand in for sbrk. */
  noncontiguous = false;
  /** `have_fastchunks`: some fastbin may hold a chunk (malloc_consolidate has work). */
  haveFastchunks = false;
  /** `system_mem`: bytes the arena obtained from the break (mallinfo's `arena`). */
  systemMem = 0;
  /** `max_system_mem`: the most `system_mem` has been. */
  maxSystemMem = 0;
  /** `global_max_fast`: the largest chunk size kept in fastbins. */
  maxFast: number;
  /** `perturb_byte` (`M_PERTURB`): fills freed blocks, its complement fills new ones; 0: off. */
  perturbByte = 0;

  // mp_
  /** `mp_.trim_threshold` (`M_TRIM_THRESHOLD`): a top larger than this is trimmed on free. */
  trimThreshold = DEFAULT_TRIM_THRESHOLD;
  /**
   * `mp_.top_pad` (`M_TOP_PAD`): extra bytes asked of sbrk, and kept when trimming. A negative
   * value is what `mallopt(M_TOP_PAD, -n)` stores: the size_t 2^64 − n, which sysmalloc's `long`
   * arithmetic turns back into −n (kept signed here so that it stays exact).
   */
  topPad = DEFAULT_TOP_PAD;
  /** `mp_.mmap_threshold` (`M_MMAP_THRESHOLD`): requests at or over this get a mapping. */
  mmapThreshold = DEFAULT_MMAP_THRESHOLD;
  /** `mp_.arena_test` (`M_ARENA_TEST`): kept, unused by one thread. */
  arenaTest = 8;
  /** `mp_.arena_max` (`M_ARENA_MAX`): kept, unused by one thread. */
  arenaMax = 0;
  /** `mp_.n_mmaps`: chunks mapped now (mallinfo's `hblks`). */
  nMmaps = 0;
  /** `mp_.n_mmaps_max` (`M_MMAP_MAX`): the most chunks mapped at once. */
  nMmapsMax = DEFAULT_MMAP_MAX;
  /** `mp_.max_n_mmaps`: the most chunks ever mapped at once. */
  maxNMmaps = 0;
  /** `mp_.no_dyn_threshold`: set by mallopt/tunables; the mmap threshold no longer rises on free. */
  noDynThreshold = false;
  /** `mp_.mmapped_mem`: bytes in mapped chunks (mallinfo's `hblkhd`). */
  mmappedMem = 0;
  /** `mp_.max_mmapped_mem`: the most bytes ever mapped at once. */
  maxMmappedMem = 0;
  /** `mp_.sbrk_base`: where the break was when the heap first grew it (0 before). */
  sbrkBase = 0;
  /** `mp_.tcache_bins`: tcache bins in use (64). */
  tcacheBins = TCACHE_MAX_BINS;
  /** `mp_.tcache_max_bytes`: the largest request the tcache serves (1032). */
  tcacheMaxBytes = tidx2usize(TCACHE_MAX_BINS - 1);
  /** `mp_.tcache_count`: chunks a tcache bin holds at most (7). */
  tcacheCount = TCACHE_FILL_COUNT;
  /** `mp_.tcache_unsorted_limit`: 0, no limit. */
  tcacheUnsortedLimit = 0;

  /** The thread's `tcache` pointer (0 until the first malloc takes its chunk). */
  tcache = 0;
  /** `tcache_key`, low 32 bits: written in the second word of every chunk put in the tcache. */
  tcacheKeyLo: number;
  /** `tcache_key`, high 32 bits. */
  tcacheKeyHi: number;
  /** C's errno as the allocator leaves it. */
  errno = 0;
  private zeroPage = new Uint8Array(0);
  /**
   * Where each stretch of the heap starts (the first top, then each new top sysmalloc starts
   * after the program moved the break, or after mmap stood in for sbrk), lowest first. For
   * introspection only: glibc keeps no such list, and the algorithm never reads it.
   */
  readonly segments: number[] = [];
  /** Chunks with a mapping of their own, for introspection only (glibc keeps no list; the algorithm never reads this). */
  readonly mapped = new Set<number>();

  constructor(as: GlibcMemory, brk: Brk, arena: number, key: readonly [number, number]) {
    this.as = as;
    this.brk = brk;
    this.pagesize = as.pageSize;
    this.arena = arena;
    this.aw = new Float64Array(ARENA_SIZE / 8);
    this.binmap = new Uint32Array(BINMAPSIZE);
    this.maxFast = maxFastFor(DEFAULT_MXFAST);
    this.tcacheKeyLo = key[0] >>> 0;
    this.tcacheKeyHi = key[1] >>> 0;
    // malloc_init_state: every bin links to itself, top is the unsorted bin's fake chunk.
    for (let i = 1; i < NBINS; i++) {
      const b = this.binAt(i);
      this.setFd(b, b);
      this.setBk(b, b);
    }
    this.top = this.unsorted;
  }

  /** A copy for a forked process: the same state over the child's memory. */
  cloneFor(as: GlibcMemory, brk: Brk): MallocState {
    const c = new MallocState(as, brk, this.arena, [this.tcacheKeyLo, this.tcacheKeyHi]);
    c.aw.set(this.aw);
    c.binmap.set(this.binmap);
    for (const p of this.mapped) c.mapped.add(p);
    c.segments.push(...this.segments);
    for (const k of Object.keys(this) as (keyof MallocState)[]) {
      const v = this[k];
      if (typeof v === "number" || typeof v === "boolean") (c as unknown as Record<string, unknown>)[k] = v;
    }
    return c;
  }

  // ─────────────────────────────── memory ───────────────────────────────

  /** The 64-bit word at `a` (8-aligned), as a number (exact below 2^53). */
  ld(a: number): number {
    const o = a - this.arena;
    if (o >= 0 && o < ARENA_SIZE) return this.aw[o >>> 3]!;
    const as = this.as;
    return as.read32(a) + as.read32(a + 4) * TWO32;
  }
  /** Stores a 64-bit word (a non-negative integer below 2^53) at `a`. */
  st(a: number, v: number): void {
    const o = a - this.arena;
    if (o >= 0 && o < ARENA_SIZE) {
      this.aw[o >>> 3] = v;
      return;
    }
    const as = this.as;
    as.write32(a, v >>> 0 === v ? v : v % TWO32);
    as.write32(a + 4, v < TWO32 ? 0 : Math.floor(v / TWO32));
  }
  /** `memset(a, byte, n)`, page by page (each page written faults in as a real memset would). */
  memset(a: number, byte: number, n: number): void {
    if (n <= 0) return;
    const ps = this.pagesize;
    let buf = byte === 0 ? this.zeroPage : new Uint8Array(ps).fill(byte);
    if (buf.length !== ps) buf = this.zeroPage = new Uint8Array(ps);
    while (n > 0) {
      const k = Math.min(n, ps - (a % ps));
      this.as.writeBytes(a, k === ps ? buf : buf.subarray(0, k));
      a += k;
      n -= k;
    }
  }
  /** `memcpy(dst, src, n)` (the ranges never overlap here). */
  memcpy(dst: number, src: number, n: number): void {
    if (n > 0) this.as.writeBytes(dst, this.as.readBytes(src, n));
  }

  // ─────────────────────────────── chunks ───────────────────────────────

  /** `chunksize_nomask`: the whole size word. */
  head(p: number): number {
    return this.ld(p + 8);
  }
  /** `chunksize`: the size word without its flag bits. */
  size(p: number): number {
    const h = this.ld(p + 8);
    return h - (h & SIZE_BITS);
  }
  /** `set_head`: the whole size word. */
  setHead(p: number, v: number): void {
    this.st(p + 8, v);
  }
  /** `set_head_size`: a new size, the flag bits kept. */
  setHeadSize(p: number, s: number): void {
    this.st(p + 8, (this.ld(p + 8) & SIZE_BITS) + s);
  }
  /** `prev_size`: the previous chunk's size while it is free. */
  prevSize(p: number): number {
    return this.ld(p);
  }
  /** `set_prev_size`. */
  setPrevSize(p: number, v: number): void {
    this.st(p, v);
  }
  /** `set_foot`: the next chunk's prev_size. */
  setFoot(p: number, s: number): void {
    this.st(p + s, s);
  }
  /** `prev_inuse`: the PREV_INUSE bit of the chunk's own size word. */
  prevInuse(p: number): boolean {
    return (this.ld(p + 8) & PREV_INUSE) !== 0;
  }
  /** `inuse(p)`: the next chunk's PREV_INUSE. */
  inuse(p: number): boolean {
    return this.inuseBitAtOffset(p, this.size(p));
  }
  /** `inuse_bit_at_offset`: PREV_INUSE of the chunk `s` bytes on. */
  inuseBitAtOffset(p: number, s: number): boolean {
    return (this.ld(p + s + 8) & PREV_INUSE) !== 0;
  }
  /** `set_inuse_bit_at_offset`. */
  setInuseBitAtOffset(p: number, s: number): void {
    const h = this.ld(p + s + 8);
    this.st(p + s + 8, (h & PREV_INUSE) !== 0 ? h : h + PREV_INUSE);
  }
  /** `clear_inuse_bit_at_offset`. */
  clearInuseBitAtOffset(p: number, s: number): void {
    const h = this.ld(p + s + 8);
    this.st(p + s + 8, (h & PREV_INUSE) !== 0 ? h - PREV_INUSE : h);
  }
  /** A free chunk's `fd`: the next chunk of its bin (raw; fastbin and tcache links are safe-linked). */
  fd(p: number): number {
    return this.ld(p + 16);
  }
  /** A free chunk's `bk`: the previous chunk of its bin. */
  bk(p: number): number {
    return this.ld(p + 24);
  }
  /** Sets `fd`. */
  setFd(p: number, v: number): void {
    this.st(p + 16, v);
  }
  /** Sets `bk`. */
  setBk(p: number, v: number): void {
    this.st(p + 24, v);
  }
  /** A large free chunk's `fd_nextsize`: the next smaller size in its bin. */
  fdNextsize(p: number): number {
    return this.ld(p + 32);
  }
  /** `bk_nextsize`: the next larger size in its bin. */
  bkNextsize(p: number): number {
    return this.ld(p + 40);
  }
  /** Sets `fd_nextsize`. */
  setFdNextsize(p: number, v: number): void {
    this.st(p + 32, v);
  }
  /** Sets `bk_nextsize`. */
  setBkNextsize(p: number, v: number): void {
    this.st(p + 40, v);
  }

  // ─────────────────────────────── the arena ───────────────────────────────

  /** `bin_at(av, i)`: the fake chunk whose fd/bk are bin i's head and tail. */
  binAt(i: number): number {
    return this.arena + 0x50 + 16 * i;
  }
  /** `unsorted_chunks(av)` (also `initial_top(av)`). */
  get unsorted(): number {
    return this.arena + ARENA_TOP;
  }
  /** `av->top`: the top chunk (before the first call: the unsorted bin's fake chunk, size 0). */
  get top(): number {
    return this.aw[ARENA_TOP >>> 3]!;
  }
  /** Sets `av->top`. */
  set top(p: number) {
    this.aw[ARENA_TOP >>> 3] = p;
  }
  /** `av->last_remainder`: the chunk small requests split in a run. */
  get lastRemainder(): number {
    return this.aw[ARENA_LAST_REMAINDER >>> 3]!;
  }
  /** Sets `av->last_remainder`. */
  set lastRemainder(p: number) {
    this.aw[ARENA_LAST_REMAINDER >>> 3] = p;
  }
  /** `fastbin(av, i)`: the head chunk of fastbin i (0: empty). */
  fastbin(i: number): number {
    return this.aw[2 + i]!;
  }
  /** Sets fastbin i's head. */
  setFastbin(i: number, p: number): void {
    this.aw[2 + i] = p;
  }
  /** `mark_bin`: bin i may be non-empty. */
  markBin(i: number): void {
    this.binmap[i >>> 5] |= 1 << (i & 31);
  }

  // ─────────────────────────────── errors ───────────────────────────────

  /**
   * `malloc_printerr`: glibc prints the message and aborts the process; the model throws the
   * library's typed error with glibc's exact message, and the heap stays as glibc left it.
   */
  printerr(message: string, address = 0, kind: Abort = "corrupt"): never {
    const op = /^([a-z_]+)\(\)/.exec(message)?.[1] ?? "malloc";
    const e: HeapError =
      kind === "double" ? new DoubleFreeError(op, address) : kind === "invalid" ? new InvalidPointerError(op, address) : new HeapCorruptionError(message, op, address);
    Object.defineProperty(e, "message", { value: message, enumerable: false, writable: true, configurable: true });
    throw e;
  }
}
