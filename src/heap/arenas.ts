/**
 * A concurrent heap: per-thread arenas in the one buffer, the engine that runs their calls,
 * and what lets one thread pick up after another died inside a call.
 *
 * ```text
 *   hdr ─▶ header · bin bitmap · bin heads                   the main heap (as any heap)
 *          ┌──────────── shared area (SHARED_AREA_BYTES) ───────────────────────┐
 *          │ magic · next thread id · flags                                      │
 *          │ main log: count · (word index, old value) pairs …                   │
 *          │ 64 slots (arenas): lock · owner · remote frees · segments · …       │
 *          │ segment table: one word per MiB of memory → its segment, or 0       │
 *          └─────────────────────────────────────────────────────────────────────┘
 *   arena ─▶ chunks of the main heap … ┌ segment (a block of the main heap, 1 MiB-aligned) ──┐
 *                                      │ header · [arena log, front cache] ·                 │
 *                                      │ pending bitmap · cached bitmap · sub-heap …         │
 *                                      └─────────────────────────────────────────────────────┘
 * ```
 *
 * **Arenas.** Each `Heap` object (a thread's handle: the one that made the heap, or one of
 * `Heap.attach`) claims a slot of its own on its first small allocation. The slot's arena is a
 * list of *segments*: big blocks of the main heap, each holding a complete vmheap heap (a
 * *sub-heap*, whose break stops at the segment's end). Requests under {@link BIG} bytes are
 * served from the arena's current segment; bigger ones, and new segments, from the main heap.
 * A block is found by its address: the segment table says which segment (hence which arena) a
 * MiB of memory belongs to, 0 for the main heap.
 *
 * **Locks.** The main heap's lock (the header's lock word) is taken for each call on it. An
 * arena's lock is taken by its owner at its first call and *kept* until the end of the task
 * that runs (a microtask gives it back), or until another thread asks for it (it sets WAITERS:
 * the owner yields at the end of its current call). So the owner's calls take no atomic
 * operation at all: on this machine an `Atomics` call costs about a fifth of a whole
 * malloc/free pair, and two per call cost a plain heap a third of its speed.
 *
 * **Frees from other threads.** Freeing a block of another thread's arena takes that arena's
 * lock if it is free; otherwise the block is pushed, without a lock, on the arena's list of
 * remote frees, which the lock's next holder frees (the owner, at the start of its next call).
 * A pushed block is marked first in its segment's *pending* bitmap (`Atomics.or`): a second
 * free of it, from any thread, is a double free at once, and the owner's own free checks it
 * too. Every thread thus frees any block, and no thread waits for another's arena to free one.
 *
 * **Front cache.** A 64-bit heap's arena keeps the small blocks its owner frees in lists per
 * size, for its next mallocs (glibc's tcache; see "the front cache" below): no engine call, no log.
 *
 * **Recovery.** Every lock has a log (the main heap's in the shared area, an arena's in its
 * first segment), used by whoever holds the lock: every call runs on a *logged engine*
 * (`LoggedEngine.generated.ts`, derived from `Heap.ts`) that appends each metadata word's
 * address and old value to the log before storing it, but for the derived words: the bin
 * bitmap (a function of the bin heads) and the flags that say the chunk before is in use (of
 * the chunk headers), which it stores unlogged. The chunk map is logged: recovery judges the
 * chunk headers by it. When a thread dies, `recover` undoes the log of every lock it held and
 * rebuilds the derived words of the heaps behind that lock (the main heap, or every segment of
 * the arena), refusing a chunk header that the chunk map contradicts, puts back a list of remote frees it was freeing, unmarks a
 * block it was pushing, releases its locks and frees its slot for another thread.
 */
import { ArgumentError, DoubleFreeError, HeapCorruptionError, HeapError, InvalidPointerError, VmError } from "../errors.js";
import { Errno } from "../errno.js";
import type { LinearMemory } from "../memory/LinearMemory.js";
import { binCount } from "./bins.js";
import { CINUSE, FLAG_BITS, MARK_FREE, MARK_USED, PINUSE } from "./chunk.js";
import { H_ARENA, H_BINMAP, H_BITMAP, H_BRK, H_BRK_START, H_CONFIG, H_COVER, H_END, H_LIMIT, H_LOCK, H_SUMMARY, H_TOP } from "./header.js";
import type { Heap, MallInfo } from "./Heap.js";
import { LinearHost } from "./host.js";
import { HOLDER, WAITERS, holder, lock, reclaim, runtimeThreadId, tryLock, unlock, yieldLock } from "./lock.js";
import { makeLoggedEngine } from "./LoggedEngine.generated.js";

// ───────────────────────── the shared area ─────────────────────────

/** Word offsets in the shared area. */
const A_MAGIC = 0;
/** Next thread id handed out where the runtime has none (counting down from HOLDER − 1). */
const A_IDS = 1;
/** A_ARENAS: the heap serves small blocks from per-thread arenas. */
const A_FLAGS = 2;
const A_ARENAS = 1;
/** The main log: its count word, then its pairs. */
const A_MAIN_LOG = 4;
/** Words of pairs a log holds. A call makes a few dozen stores; 16 words per copy or fill. */
export const LOG_WORDS = 4096;
/** Slots: one arena each. */
const A_SLOTS = (A_MAIN_LOG + 1 + LOG_WORDS + 15) & ~15;
/** Arenas a heap has at most; a thread that finds none free uses the main heap (one lock). */
export const ARENAS = 64;
const SLOT_WORDS = 16;
/**
 * The segment table: one word per MiB of memory (2 GiB at most): the segment that MiB belongs
 * to, with its arena's slot in the low bits (a segment is MiB-aligned), or 0 (the main heap). It
 * is the authority on segments: a segment's own header lies in a block of the main heap, where
 * an overflow of the block before it can reach, so every field of it is checked against the
 * table (and what follows from it) when a handle first meets the segment.
 */
const A_TABLE = A_SLOTS + ARENAS * SLOT_WORDS;
/** log2 of the memory a segment table word stands for (a MiB). */
export const SEG_SHIFT = 20;
/** The slot's bits in a segment table word. */
const TABLE_SLOT = 63;
const TABLE_WORDS = 2048;
/** Words of the shared area. */
const AREA_WORDS = A_TABLE + TABLE_WORDS;
/** Bytes a concurrent heap keeps between its bin heads and its first chunk (a multiple of 16). */
export const SHARED_AREA_BYTES = AREA_WORDS * 4;
/** "vms4": the shared area of this layout (the segment table naming each segment's slot; an arena's front cache after its log). */
const AREA_MAGIC = 0x34736d76;
/** "vmsh", "vms3": the shared areas of earlier layouts, refused by name. */
const OLD_AREA_MAGICS = [0x68736d76, 0x33736d76];

/** Word offsets in a slot. */
const S_LOCK = 0; // the arena's lock word
const S_OWNER = 1; // holder id of the handle that owns the arena (0: free to claim)
const S_REMOTE = 2; // first block of the remote frees (each block's first word links the next)
const S_SEGS = 3; // first segment (byte address); they link through G_NEXT (each checked against the segment table)
const S_CUR = 4; // the segment serving small requests now
const S_DETACHED = 5; // remote frees taken off S_REMOTE, being freed by the lock's holder
const S_DRAINED = 6; // the last of them freed (its pending bit may still be set)
const S_PUSH = 7; // a block this slot's thread is pushing on another arena's remote frees
const S_PUSH_TO = 8; // … on that slot's (index + 1)
const S_LOG = 9; // byte address of the arena's log (in its first segment)
const S_BAD = 10; // a remote free found not live when freed (a double free from two threads at once)
const S_BROKEN = 11; // a link of the remote frees that led nowhere it may (a use after free rewrote it)

/** A segment's header, word offsets. */
const G_MAGIC = 0; // "vmsg"
const G_SLOT = 1; // the slot (arena) it belongs to
const G_SIZE = 2; // bytes, a multiple of 1 MiB
const G_NEXT = 3; // next segment of the arena
const G_HDR = 4; // the sub-heap's header
const G_PENDING = 5; // byte address of the pending bitmap (one bit per granule of the segment)
const G_SHIFT = 6; // log2 of a granule
const SEG_HEADER = 64;
const SEG_MAGIC = 0x67736d76;
/** Segments: the first is 1 MiB, each next one twice the last, up to 32 MiB. */
const SEG_MIN = 1 << SEG_SHIFT;
const SEG_MAX = 32 << 20;
/** Requests of this many bytes or more go to the main heap (they would crowd a segment). */
export const BIG = 64 * 1024;
/** Milliseconds an arena's owner leaves its arena to a thread that asked for it before taking it back. */
const GRACE_MS = 1;

/** A log's count when a call made more stores than it holds: that call cannot be undone. */
const LOG_OVERFLOW = 0x7fff_ffff;
/** Bytes saved at each end of a copy or fill, the only metadata a block's payload held before it was one (links, footer). */
const BULK_EDGE = 32;
/** Chunks at most walked below the bitmap when it moves down (one call merges a few). */
const GHOST_WALK = 64;

// ───────────────────────── the front cache ─────────────────────────
//
// An arena of a 64-bit heap keeps the small blocks its owner frees in a front cache (glibc's
// tcache): a list per chunk size of 32 to 1040 bytes (requests up to 1 KiB), 7 blocks each at
// most, in words after the arena's log in its first segment: per size class k (chunk size
// 16·k, k = 2 … 65) the list's first block (word 2k) and its length (word 2k + 1). A cached
// block stays in use for its segment's heap; its payload's word 2 links the next block of the
// list, and its bit in its segment's *cached* bitmap (one bit per granule, right after the
// pending bitmap, written by the arena's lock holder only) says it is cached: a second free of
// it, from any thread, is a double free, and a link that a program rewrote in freed memory
// leads to no block that is not cached. Its free and the malloc that takes it again are a few
// stores each, without the engine's work on the neighbours and without its log: a list changes
// by one store of its first block, the bit is set before that store and cleared after it, so a
// thread that dies in the middle leaves the lists sound (a length may be one off, a bit set for
// a block off the lists: recovery counts them again). The blocks go back to the heap (as calls
// of their own, logged) when the arena runs out of room, and for `check()` and `mallinfo()`,
// which then see them as free.

/** Words of an arena's front cache, after its log. */
const CACHE_WORDS = 132;
/** The cache's first word: 1 when the arena has one (a 64-bit heap's); class k's first block is at word 2k, its length at 2k + 1. */
const TC_ON = 0;
/** Size classes: chunks of 16·k bytes, k from 2 to TC_LAST (requests up to 1024 bytes). */
const TC_LAST = 65;
/** Blocks a class holds at most (glibc's tcache_count). */
export const TC_CAP = 7;

// ───────────────────────── the logged engine ─────────────────────────

/**
 * A linear memory host whose stores (the break's word), copies and fills are logged like the
 * engine's own stores: all of a fill or copy would be too much, so its first and last
 * {@link BULK_EDGE} bytes, where the chunk it writes kept its links and footer.
 */
class LoggedHost extends LinearHost {
  constructor(
    memory: LinearMemory,
    private readonly engine: Engine,
  ) {
    super(memory);
  }
  override st(addr: number, value: number): void {
    this.note(addr >>> 2, this.u32[addr >>> 2]!);
    this.u32[addr >>> 2] = value;
  }
  override copy(dst: number, src: number, length: number): void {
    this.edges(dst, length);
    super.copy(dst, src, length);
  }
  override zero(addr: number, length: number): void {
    this.edges(addr, length);
    super.zero(addr, length);
  }
  /** Logs every word of `[addr, addr + length)`. */
  save(addr: number, length: number): void {
    const end = (addr + length + 3) >>> 2;
    for (let i = addr >>> 2; i < end; i++) this.note(i, this.u32[i]!);
  }
  private edges(addr: number, length: number): void {
    if (length <= 0) return;
    const first = addr >>> 2;
    const end = (addr + length + 3) >>> 2;
    const headEnd = Math.min(end, (addr + BULK_EDGE + 3) >>> 2);
    const tail = Math.max(headEnd, (addr + length - BULK_EDGE) >>> 2);
    // The middle is not logged: a copy of the in-use bitmap over itself (the bitmap moving by
    // less than its size) leaves it, the bitmap chunk's header and the top's to be rebuilt
    // (recovery rebuilds every heap whose call it undid, see ArenaEngine.rebuild).
    for (let i = first; i < headEnd; i++) this.note(i, this.u32[i]!);
    for (let i = tail; i < end; i++) this.note(i, this.u32[i]!);
    // The chunk map's address word, logged as it is (undoing that changes nothing): it tells
    // recovery that this call may have copied over the map unlogged, so the map cannot judge
    // the chunk headers (ArenaEngine.rebuild) and is rebuilt from them.
    if (tail > headEnd) {
      const at = ((this.engine as unknown as { hdr: number }).hdr >>> 2) + H_BITMAP;
      this.note(at, this.u32[at]!);
    }
  }
  /** Logs word `i`, whose value is `old` (as the engine's own stores do). */
  private note(i: number, old: number): void {
    const m = this.u32;
    const e = this.engine;
    const n = e.count;
    if (n < e.logCap) {
      const c = e.logAt;
      m[c + 1 + n] = i;
      m[c + 2 + n] = old;
      m[c] = n + 2;
      e.count = n + 2;
    } else {
      e.full(i);
    }
  }
}

/** What the coordinator uses of an engine (the class itself is made at run time, see {@link engineClass}). */
interface Engine extends Heap {
  count: number;
  resume(): void;
  endCall(): void;
  store(addr: number, value: number): void;
  liveNow(p: number): boolean;
  info(): MallInfo;
  verify(): void;
  readonly end: number;
  setLog(lg: number): void;
  readonly areaWord: number;
  words(): Int32Array;
  readonly logAt: number;
  readonly logCap: number;
  full(i: number): void;
  rebuild(touched: readonly number[]): void;
}

type EngineClass = { open(memory: LinearMemory, hdr: number): Engine; readonly prototype: Engine };
let engineCache: EngineClass | null = null;
let engineBase: typeof Heap | null = null;

/**
 * The logged engine with what the coordinator needs of it. Made once, from the class `Heap`
 * itself (Heap.ts imports this module, so nothing here may extend Heap at load time).
 */
function engineClass(HeapClass: typeof Heap): EngineClass {
  if (engineCache !== null && engineBase === HeapClass) return engineCache;
  const Logged = makeLoggedEngine(HeapClass);
  class ArenaEngine extends Logged {
    declare protected lg: number;
    declare protected lgCap: number;
    declare protected lgN: number;

    /** An engine on the heap whose header is at `hdr`; its log is set with {@link ArenaEngine.setLog}. */
    static open(memory: LinearMemory, hdr: number): Engine {
      const e = Object.create(ArenaEngine.prototype) as ArenaEngine;
      const config = new Int32Array(memory.buffer, 0, memory.buffer.byteLength >>> 2)[(hdr >>> 2) + H_CONFIG]!;
      e.initAttached(memory, hdr, (config >>> 8) & 0xff, 0); // flags 0: the engine itself takes no lock
      const host = new LoggedHost(memory, e as unknown as Engine);
      host.attachBreak(host.ld(hdr + 4 * H_BRK_START), host.ld(hdr + 4 * H_LIMIT), hdr + 4 * H_BRK);
      const self = e as unknown as Record<string, unknown>;
      self.host = host;
      self.m = host.u32;
      self.arena = host.ld(hdr + 4 * H_ARENA); // past the shared area, which setUp counts only with the lock bit
      self.lg = 0;
      self.lgCap = LOG_WORDS;
      self.lgN = 0;
      return e as unknown as Engine;
    }

    /** Logs into the log whose count word is at word index `lg`. */
    setLog(lg: number): void {
      this.lg = lg;
    }
    /** Word index of the shared area (right after the bin heads). */
    get areaWord(): number {
      return (this.bins >>> 2) + binCount(this.gshift);
    }
    /** The memory's words, current (after a growth of a wasm memory). */
    words(): Int32Array {
      this.sync();
      return this.m;
    }

    get logAt(): number {
      return this.lg;
    }
    /** Words of the log in use, as this engine appends (the count word holds the same). */
    get count(): number {
      return this.lgN;
    }
    set count(n: number) {
      this.lgN = n;
    }
    /** Joins the call under way on this engine's log (another engine of the same arena logged into it). */
    resume(): void {
      this.lgN = this.m[this.lg]!;
    }
    /** The call is over: its log is emptied (the count word, which recovery reads, and this engine's copy). */
    endCall(): void {
      this.m[this.lg] = 0;
      this.lgN = 0;
    }
    get logCap(): number {
      return this.lgCap;
    }
    protected logFull(i: number): void {
      this.full(i);
    }
    /**
     * lowerBitmap copies the bitmap down into the free chunk below it, which the same call may
     * have just merged from several: the headers, footers and links of those chunks lie inside
     * the copy's destination, not only at its ends, and the call never stored them (merging
     * leaves them behind). So before the copy, the chunks the destination held before the call
     * are walked, by their sizes before the call (the log's oldest values), and their first
     * words logged: the undo puts every one of them back. (The bitmap's own bytes, when the
     * copy overlaps it, are rebuilt by {@link ArenaEngine.rebuild}.)
     */
    protected override lowerBitmap(): void {
      const m = this.m;
      const W = this.W;
      const hdr = this.hdr;
      const bm = m[(hdr + 4 * H_BITMAP) >>> 2]! - this.W2;
      const bs = m[(bm + W) >>> 2]!;
      const ps = m[bm >>> 2]!;
      const prev = bm - ps;
      // (The conditions under which lowerBitmap moves the bitmap; a smash is left to it.)
      if (bm + (bs & ~FLAG_BITS) === m[(hdr + 4 * H_TOP) >>> 2]! && (bs & PINUSE) === 0 && ps >= this.minChunk && (ps & this.amask) === 0 && prev >= this.arena) {
        const host = this.host as LoggedHost;
        for (let x = prev, n = 0; x < bm && n < GHOST_WALK; n++) {
          host.save(x, 4 * W); // prev_size, size, fd, bk
          const size = this.oldWord(x + W) & ~FLAG_BITS;
          if (size < this.minChunk || (size & this.amask) !== 0 || x + size > bm) break;
          x += size;
        }
        host.save(bm, 2 * W);
      }
      super.lowerBitmap();
    }

    /** The word at `addr` as it was before the current call: its oldest value in the log, else its value now. */
    private oldWord(addr: number): number {
      const m = this.m;
      const lg = this.lg;
      const n = Math.min(this.lgN, this.lgCap);
      const i = addr >>> 2;
      for (let k = 0; k < n; k += 2) if (m[lg + 1 + k] === i) return m[lg + 2 + k]!;
      return m[i]!;
    }

    /** Stores `value` at byte `addr`, logged like the engine's own stores. */
    store(addr: number, value: number): void {
      this.host.st(addr, value);
    }
    /**
     * Whether `p` is a live block now, read without the lock (a racy read of the in-use
     * bitmap, trusted only if the bitmap did not move meanwhile).
     */
    liveNow(p: number): boolean {
      const m = this.words();
      const at = (this.hdr + 4 * H_BITMAP) >>> 2;
      const bitmap = m[at];
      return this.isLive(p) && m[at] === bitmap;
    }
    /** mallinfo of this heap alone. */
    info(): MallInfo {
      return this.mallinfoImpl();
    }
    /** check() of this heap alone. */
    verify(): void {
      this.checkImpl();
    }
    /** Where this heap's break is now. */
    get end(): number {
      return this.endAddr();
    }

    /** The log is full: the call goes on, but it can no longer be undone. */
    full(_i: number): void {
      this.m[this.lg] = LOG_OVERFLOW;
    }

    /**
     * After undoing a call: rebuilds the words the engine stores without logging them, from the
     * ones it logs, which the undo made whole again. Every chunk header's PINUSE flag from the
     * chunk before it, every free chunk's footer from its size, and the chunk map from the chunk
     * headers (and the bitmap's chunk header
     * and the top's, from what they must be: a call that moved the bitmap copied it without
     * logging the copy's middle), then the bin bitmap and its summary from the bin heads. For a
     * heap whose lock was held with no call under way, it writes what was there.
     *
     * The chunk map stays the judge: its stores are logged, so after the undo it is the map from
     * before the call, and every chunk must be in it as its header says, or the program smashed
     * the heap's memory (a live block's size enlarged over its neighbour, a block's in-use bit
     * cleared), and the rebuild refuses rather than adopt the smash. Only after a call that may
     * have copied over the map unlogged (its address word in the log `touched`: byte addresses
     * the call stored to) do the headers alone say what the chunks are.
     * @throws HeapCorruptionError when the header or a chunk header is not sound, or disagrees
     *   with the chunk map
     */
    rebuild(touched: readonly number[]): void {
      this.rebuildMap(touched);
      const m = this.m;
      const hdr = this.hdr >>> 2;
      const bins = this.bins >>> 2;
      const nbins = binCount(this.gshift);
      let summary = 0;
      for (let w = 0; w < this.binWords; w++) {
        let bits = 0;
        for (let b = 0; b < 32; b++) if ((w << 5) + b < nbins && m[bins + (w << 5) + b] !== 0) bits |= 1 << b;
        m[hdr + H_BINMAP + w] = bits;
        if (bits !== 0) summary |= 1 << w;
      }
      m[hdr + H_SUMMARY] = summary;
    }

    /** The chunk map, the chunk headers' PINUSE flags, free chunks' footers, the bitmap's and the top's chunk headers, rebuilt from the chunk headers. */
    private rebuildMap(touched: readonly number[]): void {
      const m = this.m;
      const W = this.W;
      const hdr = this.hdr;
      // A call that copied over the map unlogged (LoggedHost.edges logs the map's address word
      // then), or moved it (that word or the coverage in the log): the map before the call is
      // not there to compare with.
      const judge = !touched.includes(hdr + 4 * H_BITMAP) && !touched.includes(hdr + 4 * H_COVER);
      const bm = m[(hdr + 4 * H_BITMAP) >>> 2]! - this.W2;
      const top = m[(hdr + 4 * H_TOP) >>> 2]!;
      const end = m[(hdr + 4 * H_END) >>> 2]!;
      const cover = m[(hdr + 4 * H_COVER) >>> 2]! >>> 0;
      const bmSize = this.bitmapChunkSize(cover);
      // What the rebuild writes (headers up to the top's, the map over the chunks) must lie in
      // the heap: in a crafted buffer these header words were never checked.
      const limit = Math.min(m[(hdr + 4 * H_LIMIT) >>> 2]! >>> 0, m.length * 4);
      if (bm < this.arena || ((bm + this.W2) & this.amask) !== 0 || bm + bmSize > top || top + this.minChunk > end || end > limit || cover > 0x8000_0000 || end - this.arena > cover) {
        throw new HeapCorruptionError("heap header is not sound", "recover", hdr);
      }
      const chunks: number[] = []; // address, size, in use: every chunk goes back into the chunk map
      let prevInUse = true;
      let prevSize = 0;
      for (let x = this.arena; x < top; ) {
        if (x === bm) {
          if (!prevInUse) m[x >>> 2] = prevSize;
          m[(x + W) >>> 2] = bmSize | CINUSE | (prevInUse ? PINUSE : 0);
          if (W === 8) m[(x + 12) >>> 2] = 0;
        }
        const s = m[(x + W) >>> 2]!;
        const size = s & ~FLAG_BITS;
        if (size < this.minChunk || x + size > top) throw new HeapCorruptionError(`invalid chunk size ${size}`, "recover", x);
        if (judge && x !== bm && (this.markOf(x) !== ((s & CINUSE) !== 0 ? MARK_USED : MARK_FREE) || !this.sizeOk(x, size))) {
          throw new HeapCorruptionError("chunk header disagrees with the chunk map", "recover", x);
        }
        // PINUSE, which the engine sets and clears unlogged: the chunk before is in use.
        const flagged: number = (s & ~PINUSE) | (prevInUse ? PINUSE : 0);
        if (flagged !== s) m[(x + W) >>> 2] = flagged;
        // A free chunk's footer, which malloc and free store unlogged: its size.
        if ((s & CINUSE) === 0 && x !== bm) m[(x + size) >>> 2] = size;
        chunks.push(x, size, (s & CINUSE) !== 0 ? MARK_USED : MARK_FREE);
        prevInUse = (s & CINUSE) !== 0;
        prevSize = size;
        x += size;
      }
      m[(top + W) >>> 2] = (end - top) | (prevInUse ? PINUSE : 0);
      if (W === 8) m[(top + 12) >>> 2] = 0;
      m.fill(0, (bm + this.W2) >>> 2, (bm + bmSize + W) >>> 2); // (the payload, as the engine zeroes it; not logged)
      for (let k = 0; k < chunks.length; k += 3) this.markChunk(chunks[k]!, chunks[k + 1]!, chunks[k + 2]!);
    }
  }
  engineCache = ArenaEngine as unknown as EngineClass;
  engineBase = HeapClass;
  return engineCache;
}

/**
 * Writes back the old values of log `lg` (count word index), newest first, and empties it. (The
 * heaps it wrote to then have their derived words rebuilt: {@link ArenaEngine.rebuild}.)
 * @returns the byte addresses the call stored to (logged), for the rebuild to judge by
 * @throws VmError when the call overflowed its log; HeapCorruptionError when it names a word
 *   outside `[lo, hi)` (word indices)
 */
function undo(m: Int32Array, lg: number, lo: number, hi: number): number[] {
  const n = m[lg]!;
  if (n === LOG_OVERFLOW || n < 0 || n > LOG_WORDS) throw new VmError(`recover: the interrupted call made more than ${LOG_WORDS / 2} metadata stores and cannot be undone`);
  // The heap's stores all land between its header and its limit: a log naming any other word
  // was not written by a call (a crafted or damaged buffer), and nothing of it is written back.
  for (let k = 0; k < n; k += 2) {
    const i = m[lg + 1 + k]!;
    if (i < lo || i >= hi) throw new HeapCorruptionError("undo log names a word outside the heap", "recover", i * 4);
  }
  const touched: number[] = [];
  for (let k = n - 2; k >= 0; k -= 2) {
    touched.push(m[lg + 1 + k]! * 4);
    m[m[lg + 1 + k]!] = m[lg + 2 + k]!;
  }
  m[lg] = 0;
  return touched;
}

// ───────────────────────── the coordinator ─────────────────────────

/** Heap's methods that a concurrent heap's calls come through (`locked(fn, a, b)`), found by identity. */
interface Ops {
  malloc: unknown;
  mallocImpl: unknown;
  free: unknown;
  freeImpl: unknown;
  callocImpl: unknown;
  reallocImpl: unknown;
  memalignImpl: unknown;
  usableImpl: unknown;
  mallinfoImpl: unknown;
  checkImpl: unknown;
}

/** One segment as a handle sees it: its engine (logging into its arena's log) and its numbers. */
interface Seg {
  readonly addr: number;
  readonly e: Engine;
  /** Its arena's slot index. */
  readonly slot: number;
  /**
   * Word index of the pending bitmap, and the granule shift of its bits. Its words alternate
   * with the cached bitmap's (the same bits: blocks in the arena's front cache): word 2i of
   * one, 2i + 1 of the other, so that a free reads both in one cache line.
   */
  readonly pending: number;
  readonly shift: number;
  /** Word index of its arena's log count. */
  readonly log: number;
  /** Bytes (a multiple of 1 MiB), from the segment table. */
  readonly size: number;
  /** Address of its heap's header. */
  readonly hdr: number;
  /** Word indices of its heap's top and chunk map address (header words H_TOP, H_BITMAP). */
  readonly topW: number;
  readonly mapW: number;
  /** Its heap's first chunk (header word H_ARENA, set when the heap is made). */
  readonly first: number;
  /** Whether this handle has checked its heap (as `attach` checks the main heap's): before its first call on it. */
  checked: boolean;
}

/**
 * Whether block `p` of segment `g` is marked pending (pushed on its arena's remote frees). A
 * pointer inside the block's first granule shares its bit but is no block (blocks are aligned to
 * a granule): not pending, so that the heap's free names it an invalid pointer.
 */
function pendingAt(v: Int32Array, g: Seg, p: number): boolean {
  const bit = (p - g.addr) >>> g.shift;
  return (p & ((1 << g.shift) - 1)) === 0 && (v[g.pending + ((bit >>> 5) << 1)]! & (1 << (bit & 31))) !== 0;
}

/** Whether block `p` of segment `g` is in its arena's front cache (its bit in the cached bitmap; only 16-aligned blocks are ever cached). */
function cachedAt(v: Int32Array, g: Seg, p: number): boolean {
  const bit = (p - g.addr) >>> g.shift;
  return (p & 15) === 0 && (v[g.pending + ((bit >>> 5) << 1) + 1]! & (1 << (bit & 31))) !== 0;
}

/** Unmarks block `p` of segment `g` in its pending bitmap. */
function unmark(v: Int32Array, g: Seg, p: number): void {
  const bit = (p - g.addr) >>> g.shift;
  Atomics.and(v, g.pending + ((bit >>> 5) << 1), ~(1 << (bit & 31)));
}

/** Bytes of a segment's pending bitmap: a bit per granule (2^shift bytes), rounded up to 16. */
function pendingBytes(size: number, shift: number): number {
  return ((size >>> (shift + 3)) + 15) & ~15;
}

/**
 * Grows a wasm memory as far as it goes, up to what a heap can address. JavaScript cannot read
 * a `WebAssembly.Memory`'s maximum, so the growth halves until the memory takes it.
 */
function growToMaximum(memory: LinearMemory): void {
  const limit = Math.min(memory.maxBytes, 0x7fff_0000);
  const PAGE = 65536;
  let step = limit - memory.byteLength;
  while (step >= PAGE) {
    if (memory.grow(step) === -1) step = Math.floor(step / 2 / PAGE) * PAGE;
    else step = Math.min(step, limit - memory.byteLength);
  }
}

/** This thread's handles that keep their arena between calls: given back before this thread waits for another arena. */
const keeping = new Set<SharedHeap>();

/** A concurrent `Heap` object as the calls below see it. */
interface Owner {
  errno: number;
  readonly shared: SharedHeap;
}

/**
 * A concurrent heap's `malloc`, an own property of each concurrent `Heap` object (set at
 * the end of {@link SharedHeap}'s constructor): small enough for V8 to inline it, and the arena's path with it,
 * into the caller, which then calls the segment's engine directly. Through `Heap.malloc` the
 * call would go through two frames, the public method's and the engine's.
 */
function concurrentMalloc(this: Owner, size: number): number {
  return this.shared.malloc(size);
}

/** A concurrent heap's `free` (see {@link concurrentMalloc}); a view or `null` goes the public method's way (`HeapClass.free`). */
function concurrentFree(this: Owner, ptr: unknown): void {
  if (typeof ptr === "number") {
    if (ptr !== 0) this.shared.free(ptr);
    return;
  }
  this.shared.publicFree.call(this, ptr);
}

/**
 * A concurrent heap's calls, for one `Heap` object (one thread's handle on the heap): small
 * blocks from this handle's arena, the rest from the main heap; see the top of this file.
 * @internal
 */
export class SharedHeap {
  /** This handle's holder id in lock words: its thread's id + 1. */
  readonly id: number;
  private readonly v: Int32Array;
  private readonly memory: LinearMemory;
  private readonly HeapClass: typeof Heap;
  private readonly EngineC: EngineClass;
  private readonly main: Engine;
  private readonly mainLock: number;
  private readonly area: number;
  private readonly arenas: boolean;
  private readonly P: Ops;
  /** Heap's methods → the engine's own (the main heap's calls that have no route of their own). */
  private readonly ops: Map<unknown, (this: Engine, a: number, b: number) => unknown>;
  /** The engine's header check ({@link Heap.checkHeader}), run by the first call on the main heap when attach could not. */
  private readonly checkOp: ((this: Engine, a: number, b: number) => unknown) | undefined;
  /** `Heap.prototype.free`: what {@link concurrentFree} leaves to it (a view of a block, `null`). */
  readonly publicFree: (this: unknown, ptr: unknown) => void;
  /** Whether the main heap's header must be checked before a call trusts it (attached while its lock was held). */
  private unchecked = false;
  /** This handle's slot: index (-1: none yet; -2: none free) and word index. */
  private slot = -1;
  private slotAt = 0;
  /** Whether this handle holds its arena's lock (between calls too), and gives it back at the end of the task. */
  private held = false;
  private scheduled = false;
  private readonly giveBack: () => void;
  /** The segment serving small requests: its address (0: none) and record. */
  private curAddr = 0;
  private cur: Seg | null = null;
  /** Word indices of this arena's lock and remote frees. */
  private lockAt = 0;
  private remoteAt = 0;
  /** Word index of this arena's front cache (0: none, in a 32-bit heap or before the arena opens). */
  private tcAt = 0;
  /** Segments this handle has met, by address. */
  private readonly segs = new Map<number, Seg>();
  /** This arena's segments by MiB of memory (what the segment table says, for this arena's only). */
  private readonly own: Array<Seg | undefined> = new Array<Seg | undefined>(TABLE_WORDS).fill(undefined);

  /**
   * @param owner the concurrent `Heap` object this runs the calls of
   * @param HeapClass the class `Heap` (the engine derives from it)
   * @param fresh whether the heap was just made (the shared area is then written)
   * @param threadId this thread's id, when the caller gives one
   * @param arenas for a fresh heap: serve small blocks from per-thread arenas
   * @param snapshot for a heap attached: the memory is a copy of a heap's bytes, whose threads
   *   are none of them running on it (every lock held in it is recovered, see {@link SharedHeap.words})
   */
  constructor(
    private readonly owner: { errno: number; malloc: unknown; free: unknown },
    HeapClass: typeof Heap,
    memory: LinearMemory,
    hdr: number,
    fresh: boolean,
    threadId?: number,
    arenas = true,
    snapshot = false,
  ) {
    if (threadId !== undefined && (!Number.isSafeInteger(threadId) || threadId < 0 || threadId >= HOLDER - 1)) {
      throw new ArgumentError(`Heap: threadId must be an integer from 0 to ${HOLDER - 2}, got ${String(threadId)}`);
    }
    this.HeapClass = HeapClass;
    this.memory = memory;
    // Every thread's view must reach every block, whichever thread's call moved the break: a
    // fresh memory (its whole reservation is one buffer already, pages cost nothing until
    // written) shows all of it. A shared wasm memory is grown to its maximum (as far as a heap
    // can address) for the same reason: a growth by another thread, or by this one, would leave
    // every view made before it short (the shared area's view is made once, here), and a
    // shared memory's pages, reserved up to its maximum when it was made, cost nothing until
    // written. (An attached SharedArrayBuffer shows all of itself anyway.)
    if (memory.wasm === null) {
      if (memory.buffer.byteLength >= memory.maxBytes) memory.ensure(memory.maxBytes);
    } else if (memory.shared) growToMaximum(memory);
    const EngineC = engineClass(HeapClass);
    this.EngineC = EngineC;
    const main = EngineC.open(memory, hdr);
    const v = main.words();
    const area = main.areaWord;
    if (fresh) {
      v[area + A_MAGIC] = AREA_MAGIC;
      v[area + A_IDS] = HOLDER - 1;
      v[area + A_FLAGS] = arenas ? A_ARENAS : 0;
    } else if (v[area + A_MAGIC] !== AREA_MAGIC) {
      const what = OLD_AREA_MAGICS.includes(v[area + A_MAGIC]!) ? "concurrent heap of an earlier layout (made by an older vmheap)" : "concurrent heap without its shared area";
      throw new HeapCorruptionError(what, "attach", area * 4);
    }
    main.setLog(area + A_MAIN_LOG);
    this.main = main;
    this.v = v;
    this.area = area;
    this.arenas = (v[area + A_FLAGS]! & A_ARENAS) !== 0;
    this.mainLock = (hdr >>> 2) + H_LOCK;
    let tid = threadId ?? runtimeThreadId();
    if (tid < 0) tid = Atomics.sub(v, area + A_IDS, 1) - 1; // ids from the top down, away from a runtime's own
    this.id = tid + 1;
    const proto = HeapClass.prototype as unknown as Record<string, unknown>;
    this.P = {
      malloc: proto.malloc,
      mallocImpl: proto.mallocImpl,
      free: proto.free,
      freeImpl: proto.freeImpl,
      callocImpl: proto.callocImpl,
      reallocImpl: proto.reallocImpl,
      memalignImpl: proto.memalignImpl,
      usableImpl: proto.usableImpl,
      mallinfoImpl: proto.mallinfoImpl,
      checkImpl: proto.checkImpl,
    };
    this.ops = new Map();
    const engineProto = EngineC.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(HeapClass.prototype)) {
      const d = Object.getOwnPropertyDescriptor(HeapClass.prototype, name);
      if (d !== undefined && typeof d.value === "function" && typeof engineProto[name] === "function") {
        this.ops.set(proto[name], engineProto[name] as (this: Engine, a: number, b: number) => unknown);
      }
    }
    this.checkOp = this.ops.get(proto["checkHeader"]);
    this.publicFree = proto.free as (this: unknown, ptr: unknown) => void;
    this.giveBack = (): void => {
      this.scheduled = false;
      if (this.held) this.release();
    };
    if (!fresh) this.checkLocks(snapshot);
    // The owner's malloc and free (the calls a program makes most) reach the arena without
    // Heap's own methods in between; Heap's still route a call made through them here.
    owner.malloc = concurrentMalloc;
    owner.free = concurrentFree;
  }

  /**
   * On attach: every lock word of the shared area must be a lock's (a garbage word would make
   * every call wait for a holder that never was), and every word of a slot that calls and
   * recovery follow must lead where it can (its segments, by the segment table; its remote
   * frees into them; a block being pushed into a segment, to an arena that exists). With `snapshot`, the memory is a copy
   * taken while threads used the heap: the locks they held (a call under way, an arena kept
   * between calls) are recovered as for threads that died, so that the copy is the heap as it
   * was before those calls, and every arena is free for the threads that open it.
   * @throws HeapCorruptionError naming the first word that is not a lock's, or not sound
   */
  private checkLocks(snapshot: boolean): void {
    const v = this.v;
    const bytes = v.length * 4;
    // Each word is read once (other threads may be changing them: a live heap is attached too).
    const word = (i: number, what: string, ok: (x: number) => boolean): number => {
      const x = Atomics.load(v, i);
      const not = ok === lockWord ? "which is not a lock's" : "which is not sound";
      if (!ok(x)) throw new HeapCorruptionError(`${what} (word at 0x${(i * 4).toString(16)}) holds 0x${(x >>> 0).toString(16)}, ${not}`, "attach", i * 4);
      return x;
    };
    const lockWord = (x: number): boolean => (x & ~(HOLDER | WAITERS)) === 0;
    // The segment table's word for address x (0 outside the memory or the table).
    const tableAt = (x: number): number => (x > 0 && x < bytes && (x >>> SEG_SHIFT) < TABLE_WORDS ? v[this.area + A_TABLE + (x >>> SEG_SHIFT)]! : 0);
    // A segment of arena s, as the table says, its header's magic in place.
    const segmentOf = (s: number) => (x: number): boolean => x === 0 || (x % SEG_MIN === 0 && tableAt(x) === (x | s) && v[(x >>> 2) + G_MAGIC] === SEG_MAGIC);
    // A block address (or 0) inside a segment, of arena s (or any, for s = -1): recovery follows these.
    const inSegment = (s: number) => (x: number): boolean => x === 0 || ((x & 7) === 0 && tableAt(x) !== 0 && (s < 0 || (tableAt(x) & TABLE_SLOT) === s));
    // The table itself: segments lie in blocks of the main heap, so each word names a segment
    // there that starts at or before its MiB, which ends by the heap's limit. Recovery writes to
    // what it names (an arena's log and front cache, a block's pending bit): in a crafted buffer,
    // a word naming memory below the heap (a program's own data) would have it written.
    const hdr = this.mainLock - H_LOCK;
    const lo = Math.max(v[hdr + H_ARENA]! >>> 0, hdr * 4 + 1);
    const limit = v[hdr + H_LIMIT]! >>> 0;
    const placed = (i: number) => (t: number): boolean => t === 0 || ((t & -SEG_MIN) >= lo && (t & -SEG_MIN) <= i * SEG_MIN && (i + 1) * SEG_MIN <= limit);
    for (let i = 0; i < TABLE_WORDS; i++) word(this.area + A_TABLE + i, `the segment table's word for MiB ${i}`, placed(i));
    const ids = new Set<number>();
    const main = word(this.mainLock, "the heap's lock", lockWord) & HOLDER;
    if (main !== 0) ids.add(main);
    for (let s = 0; s < ARENAS; s++) {
      const sa = this.area + A_SLOTS + s * SLOT_WORDS;
      // A slot read while recover undoes a dead thread's new segment (its words going back newest
      // first: the list's, the log's, then the table's) may look unsound for that moment: it is
      // read again while its words move, and refused only when they stood still meanwhile.
      for (let tries = 16; ; tries--) {
        const was = v.slice(sa, sa + SLOT_WORDS);
        try {
          const held = word(sa + S_LOCK, `arena ${s}'s lock`, lockWord) & HOLDER;
          const owner = word(sa + S_OWNER, `arena ${s}'s owner`, (x) => (x & ~HOLDER) === 0);
          const segs = word(sa + S_SEGS, `arena ${s}'s first segment`, segmentOf(s));
          word(sa + S_CUR, `arena ${s}'s current segment`, segmentOf(s));
          // Its list of segments: each one a segment of this arena, and no more of them than
          // the memory holds (a list that ran in a circle would make the arena's first call
          // walk it for ever). Its log lies in one of them, just past the header (the first).
          let n = 0;
          const listed = new Set<number>();
          for (let x = segs; x !== 0; x = v[(x >>> 2) + G_NEXT]!) {
            if (!segmentOf(s)(x) || ++n > bytes / SEG_MIN) throw new HeapCorruptionError(`arena ${s}'s list of segments is not sound (at 0x${(x >>> 0).toString(16)})`, "attach", x);
            listed.add(x);
          }
          // No segments, no log; else the log past a listed segment's header. Or, read while a
          // thread adds the arena's first segment (its table words, header and log written,
          // then the log's word, then the list's): the log's word set, the list's not yet, the
          // log past the header of a segment of this arena by the table.
          word(sa + S_LOG, `arena ${s}'s log`, (x) => (x === 0 ? segs === 0 : segs !== 0 ? listed.has(x - SEG_HEADER) : x !== SEG_HEADER && segmentOf(s)(x - SEG_HEADER)));
          // The words recovery follows: remote frees (and those being freed) in this arena's
          // segments, a block being pushed in any segment, to an arena that exists.
          word(sa + S_REMOTE, `arena ${s}'s remote frees`, inSegment(s));
          word(sa + S_DETACHED, `arena ${s}'s remote frees being freed`, inSegment(s));
          word(sa + S_DRAINED, `arena ${s}'s last remote free`, inSegment(s));
          const push = word(sa + S_PUSH, `arena ${s}'s block being pushed`, inSegment(-1));
          word(sa + S_PUSH_TO, `arena ${s}'s arena pushed to`, (x) => (push === 0 ? x >= 0 : x >= 1) && x <= ARENAS);
          if (held !== 0) ids.add(held);
          if (owner !== 0) ids.add(owner);
          break;
        } catch (e) {
          if (tries === 0 || was.every((x, i) => x === v[sa + i])) throw e;
        }
      }
    }
    if (!snapshot) return;
    // Locks first (a thread that was pushing a block is recovered once the arena it pushed to
    // is free), then the arenas' owners.
    for (const id of ids) this.recoverLocks(id);
    for (const id of ids) this.recoverSlots(id);
  }

  /** The thread id this handle's calls carry (`Heap.recover` takes it). */
  get threadId(): number {
    return this.id - 1;
  }

  // ─────────────── calls ───────────────

  /** Runs the call that Heap's method `fn` stands for (one of Heap's own, see Heap.locked). */
  run<R>(fn: (a: number, b: number) => R, a: number, b: number): R {
    const P = this.P;
    if (this.arenas) {
      if (fn === P.malloc || fn === P.mallocImpl) return this.malloc(a) as R;
      if (fn === P.free || fn === P.freeImpl) return this.free(a) as R;
      if (fn === P.callocImpl) return this.calloc(a, b) as R;
      if (fn === P.reallocImpl) return this.realloc(a, b) as R;
      if (fn === P.memalignImpl) return this.memalign(a, b) as R;
      if (fn === P.usableImpl) return this.usable(a) as R;
      if (fn === P.mallinfoImpl) return this.mallinfo() as R;
      if (fn === P.checkImpl) return this.check() as R;
    }
    return this.onMain(fn, a, b);
  }

  /**
   * Has the next call on the main heap check its header (and chunk map) first, holding its
   * lock: for a heap attached while another thread held that lock, when the header could not be
   * read. Until a check passes, every such call throws the HeapCorruptionError it gives.
   */
  checkOnFirstCall(): void {
    this.unchecked = true;
  }

  /** Runs Heap's method `fn` on the main heap, holding its lock. */
  private onMain<R>(fn: unknown, a: number, b: number): R {
    const f = this.ops.get(fn);
    if (f === undefined) throw new VmError("concurrent heap: no engine method for this call");
    const v = this.v;
    const e = this.main;
    const owner = this.owner;
    lock(v, this.mainLock, this.id);
    e.errno = owner.errno;
    try {
      if (this.unchecked && this.checkOp !== undefined) {
        this.checkOp.call(e, 0, 0);
        this.unchecked = false;
      }
      return f.call(e, a, b) as R;
    } finally {
      owner.errno = e.errno;
      e.endCall();
      unlock(v, this.mainLock);
    }
  }

  /**
   * malloc: from this arena's current segment; past it, {@link SharedHeap.mallocSlow}. (No
   * try/finally around the engine's call: a call that throws has changed nothing, and its log
   * is emptied at the end of the next call; were the thread to die in between, undoing an
   * unfinished call is right anyway.)
   */
  malloc(size: number): number {
    const cur = this.cur;
    // (BIG, WAITERS and SEG_SHIFT are written as numbers in malloc and free: V8 reads a module's
    // constant from its context and checks it on every call, 15 instructions a call here.)
    if (cur !== null && size < 0x10000 /* BIG */) {
      if (this.held !== true) this.take(); // (a compare: V8 tests `!field` for every falsy kind of value)
      const v = this.v;
      if (v[this.remoteAt] !== 0) this.drain(this.slot);
      const tc = this.tcAt;
      if (tc !== 0 && size <= 1024 && size >= 0 && (size | 0) === size) {
        // The front cache's list of this chunk size (chunk = max(32, (size + 23) & ~15)).
        const at = tc + (size < 9 ? 4 : ((size + 23) >>> 4) << 1);
        const h = v[at]!;
        if (h !== 0) {
          // Its first block, checked before it is handed out: a block of this arena marked
          // cached, whose header and chunk map entry still say this size (the list's links lie
          // in freed blocks, which a program can still write, and the header lies where the
          // block before it can overflow).
          const g = (h & 15) === 0 ? this.own[h >>> 20 /* SEG_SHIFT */] : undefined;
          if (g === undefined) return this.badCache(at, h);
          const bit = (h - g.addr) >>> 4;
          const cw = g.pending + ((bit >>> 5) << 1) + 1;
          const cb = v[cw]!;
          const mask = 1 << (bit & 31);
          const c = h - 16;
          const cs = (at - tc) << 3;
          const top = v[g.topW]!;
          if ((cb & mask) === 0 || (v[(h - 8) >>> 2]! & ~7) !== cs || c + cs > top) return this.badCache(at, h);
          // The chunk map's size for it (as free checked it: sizeOk, written out).
          const map = v[g.mapW]! >>> 2;
          const gi = (c - g.first) >>> 4;
          const wi = map + (gi >>> 4);
          const sh = (gi & 15) << 1;
          const word = v[wi]!;
          const k = cs >>> 4;
          const end = gi + k;
          const we = map + (end >>> 4);
          const es = (end & 15) << 1;
          const after = word & -(4 << sh);
          const next = v[we]!;
          if (
            (word & 3) === 2 /* SIZE_TAG */ ||
            ((word >>> sh) & 3) !== 3 /* MARK_USED */ ||
            !(k >= 32 ? after === 0 && v[wi + 1] === ((k << 2) | 2) : (we === wi ? after & ((1 << es) - 1) : after | (next & ((1 << es) - 1)) | (we === wi + 2 ? v[wi + 1]! : 0)) === 0 && (c + cs === top || ((next >>> es) & 1) !== 0))
          ) {
            return this.badCache(at, h);
          }
          v[at] = v[(h + 8) >>> 2]!;
          v[at + 1] = v[at + 1]! - 1;
          v[cw] = cb & ~mask;
          if ((v[this.lockAt]! & 0x4000_0000) /* WAITERS */ !== 0) this.release();
          return h;
        }
      }
      const e = cur.e;
      const p = e.malloc(size);
      e.endCall();
      if (p !== 0) {
        if ((v[this.lockAt]! & 0x4000_0000) /* WAITERS */ !== 0) this.release();
        return p;
      }
    }
    return this.mallocSlow(size, 0, 0);
  }

  /**
   * Every other way to a small block (kind 0: malloc; 1: calloc of `size` bytes; 2: memalign
   * to `align`): the arena's other segments, a new segment, then the main heap.
   */
  private mallocSlow(size: number, kind: number, align: number): number {
    if (typeof size === "number" && size >= 0 && size + align < BIG && this.arena()) {
      if (!this.held) this.take();
      const v = this.v;
      if (v[this.remoteAt] !== 0) this.drain(this.slot);
      // The current segment first (for calloc and memalign, and just after the arena opened),
      // then the arena's others, then a new one.
      const cur = this.curAddr;
      let p = this.allocIn(this.cur!, size, kind, align);
      if (p === 0) {
        for (const g of this.segmentsOf(this.slot)) {
          if (g.addr === cur) continue;
          p = this.allocIn(g, size, kind, align);
          if (p !== 0) {
            this.setCur(g.addr);
            break;
          }
        }
      }
      if (p === 0 && this.flushCache(this.slot)) {
        // The blocks the front cache held, back in the heap: they may make the room.
        for (const g of this.segmentsOf(this.slot)) {
          p = this.allocIn(g, size, kind, align);
          if (p !== 0) {
            this.setCur(g.addr);
            break;
          }
        }
      }
      if (p !== 0) {
        this.release(true);
        return p;
      }
      const s = this.newSegment(size + align);
      if (s !== 0) {
        this.setCur(s);
        p = this.allocIn(this.cur!, size, kind, align);
      }
      this.release(true);
      if (p !== 0) return p;
    }
    const P = this.P;
    return kind === 0 ? this.onMain(P.mallocImpl, size, 0) : kind === 1 ? this.onMain(P.callocImpl, 1, size) : this.onMain(P.memalignImpl, align, size);
  }

  /**
   * A block from segment `g` (this arena's, its lock held); 0 when it has no room (nothing was
   * stored then). With `open`, the call goes on afterwards (a realloc's move): the log is left
   * for the caller to end.
   */
  private allocIn(g: Seg, size: number, kind: number, align: number, open = false): number {
    const e = g.e;
    e.resume();
    try {
      return kind === 0 ? e.malloc(size) : kind === 1 ? e.calloc(1, size) : e.memalign(align, size);
    } finally {
      if (!open) e.endCall();
    }
  }

  private calloc(nmemb: number, size: number): number {
    const total = Number.isSafeInteger(nmemb) && Number.isSafeInteger(size) && nmemb >= 0 && size >= 0 ? nmemb * size : -1;
    if (total < 0 || total >= BIG) return this.onMain(this.P.callocImpl, nmemb, size);
    return this.mallocSlow(total, 1, 0);
  }

  private memalign(alignment: number, size: number): number {
    if (typeof size !== "number" || !(size >= 0) || size + alignment >= BIG) return this.onMain(this.P.memalignImpl, alignment, size);
    return this.mallocSlow(size, 2, alignment);
  }

  /** free: into this arena's segment (its lock kept), another arena's (its lock if free, else its remote frees), or the main heap. */
  free(p: number): void {
    const v = this.v;
    const q = p | 0; // (p as an int32 from here: a pointer read from a Float64Array is a double)
    const own = q === p && q > 0 ? this.own[q >>> 20 /* SEG_SHIFT */] : undefined;
    if (own !== undefined) {
      // A block of this arena (the common case): its lock kept, no atomic operation.
      if (this.held !== true) this.take();
      if (v[this.remoteAt] !== 0) this.drain(this.slot);
      const bit = (q - own.addr) >>> own.shift;
      const pw = own.pending + ((bit >>> 5) << 1);
      const mask = 1 << (bit & 31);
      if ((v[pw]! & mask) !== 0 && (q & ((1 << own.shift) - 1)) === 0) throw new DoubleFreeError("free", q); // (inside the first granule: as pendingAt)
      const tc = this.tcAt;
      if (tc !== 0) {
        // (The cached bitmap's word beside the pending one: the same cache line.)
        const cw = pw + 1;
        const cb = v[cw]!;
        if ((cb & mask) !== 0 && (q & 15) === 0) throw new DoubleFreeError("free", q); // (inside the block's first granule: the heap's free names an invalid pointer)
        // Into the front cache: a block in use by the chunk map, of the size its header says
        // (the engine's free checks, written out, but for the neighbours', which the block
        // leaves as they are).
        const c = q - 16;
        const top = v[own.topW]!;
        const bitmap = v[own.mapW]!;
        const size = v[(q - 8) >>> 2]! & ~7;
        if ((q & 15) === 0 && c >= own.first && size >= 32 && size <= 1040 && (size & 15) === 0 && c + size <= top && q !== bitmap && v[(q - 4) >>> 2] === 0) {
          const map = bitmap >>> 2;
          const g = (c - own.first) >>> 4;
          const wi = map + (g >>> 4);
          const sh = (g & 15) << 1;
          const word = v[wi]!;
          const k = size >>> 4;
          const end = g + k;
          const we = map + (end >>> 4);
          const es = (end & 15) << 1;
          const after = word & -(4 << sh);
          const next = v[we]!;
          const at = tc + (k << 1);
          const n = v[at + 1]!;
          if (
            n < 7 /* TC_CAP */ &&
            (word & 3) !== 2 /* SIZE_TAG */ &&
            ((word >>> sh) & 3) === 3 /* MARK_USED */ &&
            (k >= 32 ? after === 0 && v[wi + 1] === ((k << 2) | 2) : (we === wi ? after & ((1 << es) - 1) : after | (next & ((1 << es) - 1)) | (we === wi + 2 ? v[wi + 1]! : 0)) === 0 && (c + size === top || ((next >>> es) & 1) !== 0))
          ) {
            v[(q + 8) >>> 2] = v[at]!;
            v[cw] = cb | mask;
            v[at] = q;
            v[at + 1] = n + 1;
            if ((v[this.lockAt]! & 0x4000_0000) /* WAITERS */ !== 0) this.release();
            return;
          }
        }
      }
      const e = own.e;
      e.free(q);
      e.endCall();
      if ((v[this.lockAt]! & 0x4000_0000) /* WAITERS */ !== 0) this.release();
      return;
    }
    const g = this.segOf(p);
    if (g === null) {
      this.onMain(this.P.freeImpl, p, 0);
      return;
    }
    this.freeOther(g, p);
  }

  /** Frees `p`, a block of segment `g` of another arena: under its lock if it is free, else pushed on its remote frees. */
  private freeOther(g: Seg, p: number): void {
    const sa = this.area + A_SLOTS + g.slot * SLOT_WORDS;
    if (tryLock(this.v, sa + S_LOCK, this.id)) {
      try {
        this.freeLocked(g, p);
      } finally {
        unlock(this.v, sa + S_LOCK);
      }
      return;
    }
    this.push(g, p);
  }

  /**
   * Frees `p` in segment `g`, whose arena's lock this thread holds. A segment of another
   * thread's arena is checked first, once, as this thread checks its own arena's when it takes
   * it: in a crafted buffer its heap's header could put the chunk map (which the free writes)
   * anywhere.
   */
  private freeLocked(g: Seg, p: number): void {
    const v = this.v;
    if (!g.checked) this.checkSegment(g.addr, g, "free");
    if (pendingAt(v, g, p) || cachedAt(v, g, p)) throw new DoubleFreeError("free", p);
    g.e.resume();
    g.e.free(p);
    g.e.endCall();
  }

  /**
   * Frees `p`, a block of another thread's arena whose lock is taken: marks it pending, then
   * pushes it on the arena's remote frees (its first word links the next), for the lock's
   * holder to free.
   */
  private push(g: Seg, p: number): void {
    const v = this.v;
    // The owner moving its chunk map makes the read fail for that moment: it is read again
    // before the arena's lock is asked for (an owner that then blocks on something else, this
    // thread's progress for one, would keep the lock until its task ends).
    let live = g.e.liveNow(p);
    for (let i = 0; !live && i < 256; i++) live = g.e.liveNow(p);
    if (!live || cachedAt(this.v, g, p)) {
      // Not a live block, or the bitmap moved meanwhile, or maybe in the arena's front cache:
      // the arena's lock decides (and the engine throws the error this pointer deserves).
      const sa = this.area + A_SLOTS + g.slot * SLOT_WORDS;
      this.lockOther(sa + S_LOCK);
      try {
        this.freeLocked(g, p);
      } finally {
        unlock(v, sa + S_LOCK);
      }
      return;
    }
    const bit = (p - g.addr) >>> g.shift;
    const mask = 1 << (bit & 31);
    if ((Atomics.or(v, g.pending + ((bit >>> 5) << 1), mask) & mask) !== 0) throw new DoubleFreeError("free", p);
    const mine = this.slot >= 0 ? this.slotAt : -1;
    if (mine >= 0) {
      // The arena first, then the block: a thread that reads the block (an attach, recover after
      // this thread died) finds its arena already there. (The other way round, a first push cut
      // short between the two left the arena word 0: slot -1 for recover.)
      v[mine + S_PUSH_TO] = g.slot + 1;
      Atomics.store(v, mine + S_PUSH, p); // (atomic: on a CPU that may reorder plain stores, the arena's word is seen before it)
    }
    const head = this.area + A_SLOTS + g.slot * SLOT_WORDS + S_REMOTE;
    for (;;) {
      const h = Atomics.load(v, head);
      v[p >>> 2] = h;
      if (Atomics.compareExchange(v, head, h, p) === h) break;
    }
    if (mine >= 0) v[mine + S_PUSH] = 0;
  }

  /**
   * Frees the remote frees of slot `s`, whose lock this thread holds: takes the list off (kept
   * in S_DETACHED), frees its blocks one by one, each a call of its own in the arena's log
   * (S_DETACHED moves on in the same call), then unmarks it.
   */
  private drain(s: number): void {
    const v = this.v;
    const sa = this.area + A_SLOTS + s * SLOT_WORDS;
    let h = Atomics.load(v, sa + S_REMOTE);
    if (h === 0) return;
    v[sa + S_DETACHED] = h;
    while (Atomics.compareExchange(v, sa + S_REMOTE, h, 0) !== h) {
      h = Atomics.load(v, sa + S_REMOTE);
      v[sa + S_DETACHED] = h;
    }
    while (h !== 0) {
      // The list links through freed blocks, which a use after free can rewrite: a link is
      // followed only to a block of this arena marked pending (pushed, and not yet freed). So a
      // link to a live block, another arena's block or anywhere else, and a list smashed into a
      // circle (each free unmarks its block), end the list there: the rest is lost (a leak,
      // which check() reports), never freed wrongly.
      const g = this.segOf(h);
      if (g === null || g.slot !== s || (h & 7) !== 0 || !pendingAt(v, g, h)) {
        v[sa + S_BROKEN] = h;
        v[sa + S_DETACHED] = 0;
        break;
      }
      const next = v[h >>> 2]!;
      if (!g.checked) this.checkSegment(g.addr, g, "free");
      try {
        if (cachedAt(v, g, h)) throw new DoubleFreeError("free", h);
        g.e.free(h);
      } catch (err) {
        if (!(err instanceof HeapError)) throw err;
        v[sa + S_BAD] = h; // freed twice by two threads at once: check() reports it
      }
      g.e.store((sa + S_DRAINED) * 4, h);
      g.e.store((sa + S_DETACHED) * 4, next);
      g.e.endCall();
      unmark(v, g, h);
      h = next;
    }
    v[sa + S_DRAINED] = 0;
  }

  /**
   * realloc: in place in this arena's segment when it can; else a new block (in this arena, or
   * the main heap for a big one), a copy and a free, as one call: the new block's log stays
   * open until the old block is freed, so that a thread dying in between leaves neither both
   * blocks nor none. (Heap.realloc calls it directly; without arenas no block is in a segment,
   * and it is the main heap's.)
   */
  realloc(p: number, size: number): number {
    const v = this.v;
    if (p === 0 || p == null) return this.malloc(size);
    const g = this.segOf(p);
    if (g === null || typeof size !== "number") return this.onMain(this.P.reallocImpl, p, size);
    const mine = g.slot === this.slot;
    let old: number;
    if (mine) {
      if (!this.held) this.take();
      if (v[this.remoteAt] !== 0) this.drain(this.slot);
      if (pendingAt(v, g, p) || cachedAt(v, g, p)) throw new DoubleFreeError("realloc", p);
      const e = g.e;
      if (size === 0 || size < BIG) {
        e.errno = 0;
        e.resume();
        let q: number;
        try {
          q = e.realloc(p, size);
        } finally {
          e.endCall();
        }
        this.release(true);
        if (q !== 0 || size === 0) return q;
        if (e.errno !== Errno.ENOMEM || size > 0x7fff_ffff) {
          this.owner.errno = e.errno;
          return 0;
        }
      }
      old = e.mallocUsableSize(p); // (live: the engine checked it)
    } else {
      old = this.usableOther(g, p);
      if (size === 0 && old !== 0) {
        this.free(p);
        return 0;
      }
    }
    if (old === 0 || !(size >= 0) || size > 0x7fff_ffff) {
      if (old === 0) {
        // Not a live block: free throws the error this pointer deserves, named here for realloc.
        try {
          this.free(p);
        } catch (e) {
          if (e instanceof DoubleFreeError) throw new DoubleFreeError("realloc", p);
          if (e instanceof InvalidPointerError) throw new InvalidPointerError("realloc", p);
          throw e;
        }
      }
      this.owner.errno = Errno.ENOMEM;
      return 0;
    }
    // The move. The new block: this arena's (its log left open) or the main heap's (its lock
    // kept, its log open); then the copy, and the old block's free.
    let q = 0;
    let onMain = false;
    let into: Seg | null = null;
    if (size < BIG && this.arena()) {
      if (!this.held) this.take();
      for (const g of this.segmentsOf(this.slot)) {
        into = g;
        q = this.allocIn(into, size, 0, 0, true);
        if (q !== 0) break;
      }
      if (q === 0) {
        const a = this.newSegment(size);
        if (a !== 0) {
          into = this.seg(a);
          q = this.allocIn(into, size, 0, 0, true);
        }
      }
    }
    if (q === 0) {
      into = null;
      onMain = true;
      lock(v, this.mainLock, this.id);
      q = this.main.malloc(size);
    }
    try {
      if (q === 0) {
        this.owner.errno = Errno.ENOMEM;
        return 0;
      }
      new Uint8Array(v.buffer).copyWithin(q, p, p + Math.min(old, size));
      if (mine) {
        g.e.resume();
        g.e.free(p);
      } else {
        this.freeOther(g, p);
      }
      return q;
    } finally {
      if (mine) g.e.endCall();
      if (into !== null) into.e.endCall();
      if (onMain) {
        this.main.endCall();
        unlock(v, this.mainLock);
      }
      this.release(true);
    }
  }

  private usable(p: number): number {
    const g = this.segOf(p);
    if (g === null) return this.onMain(this.P.usableImpl, p, 0);
    if (g.slot !== this.slot) return this.usableOther(g, p);
    return cachedAt(this.v, g, p) ? 0 : g.e.mallocUsableSize(p);
  }

  /**
   * The usable size of `p`, a block of segment `g` of another thread's arena, or 0 when it is
   * not a live block. Read without the arena's lock first; when that read sees no live block,
   * or a broken one, the arena's owner may be moving its chunk map just then (as {@link push}
   * knows), and the answer read under the arena's lock, where the map holds still, is the one.
   */
  private usableOther(g: Seg, p: number): number {
    try {
      if (g.e.liveNow(p) && !cachedAt(this.v, g, p)) return g.e.mallocUsableSize(p);
    } catch (e) {
      if (!(e instanceof HeapCorruptionError)) throw e;
    }
    const sa = this.area + A_SLOTS + g.slot * SLOT_WORDS;
    this.lockOther(sa + S_LOCK);
    try {
      return g.e.liveNow(p) && !cachedAt(this.v, g, p) ? g.e.mallocUsableSize(p) : 0;
    } finally {
      unlock(this.v, sa + S_LOCK);
    }
  }

  // ─────────────── the whole heap ───────────────

  /** mallinfo of the main heap and every arena: a segment counts as its sub-heap's chunks and its unused end. */
  private mallinfo(): MallInfo {
    const info = this.onMain<MallInfo>(this.P.mallinfoImpl, 0, 0);
    let ordblks = info.ordblks;
    let fordblks = info.fordblks;
    this.eachArena((s) => {
      for (const g of this.segmentsOf(s)) {
        const sub = g.e.info();
        ordblks += sub.ordblks;
        fordblks += sub.fordblks + (g.addr + g.size - g.e.end);
      }
    });
    return { ...info, ordblks, fordblks, uordblks: info.arena - fordblks };
  }

  /** check() of the main heap, the segment table, and every arena (after freeing its remote frees). */
  private check(): void {
    const v = this.v;
    this.onMain(this.P.checkImpl, 0, 0);
    const table = this.area + A_TABLE;
    lock(v, this.mainLock, this.id);
    try {
      for (let i = 0; i < TABLE_WORDS; i++) {
        const t = v[table + i]!;
        if (t === 0) continue;
        const a = t & -SEG_MIN;
        if (a <= 0 || (i << SEG_SHIFT) < a || (t & ~(-SEG_MIN | TABLE_SLOT)) !== 0) throw new HeapCorruptionError(`segment table entry ${i} is wrong`, "check", a);
        const g = this.seg(a); // (its header checked against the table)
        if (this.main.mallocUsableSize(a) < g.size) throw new HeapCorruptionError("segment is not a block of the main heap", "check", a);
      }
    } finally {
      unlock(v, this.mainLock);
    }
    this.eachArena((s) => {
      const sa = this.area + A_SLOTS + s * SLOT_WORDS;
      const bad = v[sa + S_BAD]!;
      if (bad !== 0) {
        v[sa + S_BAD] = 0;
        throw new DoubleFreeError("free", bad);
      }
      const broken = v[sa + S_BROKEN]!;
      if (broken !== 0) {
        v[sa + S_BROKEN] = 0;
        throw new HeapCorruptionError("list of frees from other threads is broken (a freed block's first word was overwritten)", "free", broken);
      }
      for (const g of this.segmentsOf(s)) {
        const a = g.addr;
        // A block marked pending is one another thread is pushing on the remote frees now
        // (those on the list were freed above): it must still be a live block.
        for (let x = 0; x <= (g.size - 1) >>> (g.shift + 5); x++) {
          const bits = Atomics.load(v, g.pending + (x << 1));
          if (bits === 0) continue;
          for (let b = 0; b < 32; b++) {
            const p = a + (((x << 5) | b) << g.shift);
            if ((bits & (1 << b)) !== 0 && !g.e.liveNow(p)) throw new HeapCorruptionError("a block marked freed by another thread is not a live block", "check", p);
          }
        }
        g.e.verify();
      }
    });
  }

  /** Runs `fn(slot)` for every arena with segments, holding its lock, its remote frees freed. */
  private eachArena(fn: (s: number) => void): void {
    const v = this.v;
    for (let s = 0; s < ARENAS; s++) {
      const sa = this.area + A_SLOTS + s * SLOT_WORDS;
      if (v[sa + S_SEGS] === 0) continue;
      if (s === this.slot) {
        if (!this.held) this.take();
      } else {
        this.lockOther(sa + S_LOCK);
      }
      try {
        this.drain(s);
        this.flushCache(s);
        fn(s);
      } finally {
        if (s !== this.slot) unlock(v, sa + S_LOCK);
      }
    }
  }

  // ─────────────── this handle's arena ───────────────

  /** Opens this handle's arena (claims a slot, makes its first segment): false when there is none to have. */
  private arena(): boolean {
    if (this.cur !== null) return true;
    if (this.slot === -2 || !this.arenas) return false;
    const v = this.v;
    if (this.slot === -1 && !this.claim()) {
      this.slot = -2;
      return false;
    }
    if (!this.held) this.take(); // (held already after an arena that could not open: taking it again would wait on itself)
    const sa = this.slotAt;
    if (v[sa + S_SEGS] === 0 && this.newSegment(0) === 0) {
      this.release(true);
      return false;
    }
    // (A slot used before: segments this handle met as another arena's are its own now.) Each
    // one's heap is checked as attach checks the main heap's, before its blocks are handed out:
    // a segment made by another thread, or by a crafted buffer, was never checked by this one.
    for (const g of this.segmentsOf(this.slot)) {
      this.checkSegment(g.addr, g);
      this.adopt(g);
    }
    this.setCur(v[sa + S_CUR] || v[sa + S_SEGS]!);
    // Its front cache, checked as recovery checks it (a slot used before, a crafted buffer).
    const tc = this.cacheAt(this.slot);
    this.recountCache(this.slot);
    this.tcAt = tc !== 0 && v[tc + TC_ON] === 1 ? tc : 0;
    return true;
  }

  /**
   * Checks segment `a` of the arena this handle holds: in the main heap's arena and the memory,
   * its heap's header inside it with its limit at the segment's end, and that header and chunk
   * map sound ({@link Heap.checkHeader}).
   * @throws HeapCorruptionError naming the segment
   */
  private checkSegment(a: number, g: Seg, op = "malloc"): void {
    const v = this.v;
    const size = g.size;
    const sub = g.hdr;
    const end = a + size;
    if (size <= 0 || size % SEG_MIN !== 0 || a < v[this.mainLock - H_LOCK + H_ARENA]! || end > v.length * 4 || sub < a + SEG_HEADER || sub >= end || v[(sub >>> 2) + H_LIMIT] !== end) {
      throw new HeapCorruptionError("segment is not sound", op, a);
    }
    const arena = v[(sub >>> 2) + H_ARENA]!;
    if (arena <= sub || arena >= end) throw new HeapCorruptionError("segment's heap is not sound", op, a);
    this.checkOp?.call(g.e, 0, 0);
    g.checked = true;
  }

  /** Claims a free slot, one with segments first (its memory is used again). */
  private claim(): boolean {
    const v = this.v;
    for (const withSegs of [true, false]) {
      for (let s = 0; s < ARENAS; s++) {
        const sa = this.area + A_SLOTS + s * SLOT_WORDS;
        if ((v[sa + S_SEGS] !== 0) !== withSegs) continue;
        if (Atomics.compareExchange(v, sa + S_OWNER, 0, this.id) === 0) {
          this.slot = s;
          this.slotAt = sa;
          this.lockAt = sa + S_LOCK;
          this.remoteAt = sa + S_REMOTE;
          return true;
        }
      }
    }
    return false;
  }

  private setCur(addr: number): void {
    const g = this.seg(addr);
    this.cur = g;
    this.curAddr = addr;
    if (this.v[this.slotAt + S_CUR] !== addr) this.v[this.slotAt + S_CUR] = addr; // a hint: any of the arena's segments is right
  }

  /**
   * Makes a segment for this arena (whose lock this thread holds) with room for `need` bytes:
   * a block of the main heap, aligned to a MiB, holding a sub-heap. Everything that makes it
   * reachable (the block, the table, the slot) is stored through the main heap's log.
   * @returns its address, or 0 when the main heap cannot give that much
   */
  private newSegment(need: number): number {
    const v = this.v;
    const sa = this.slotAt;
    const first = v[sa + S_SEGS] === 0;
    let last = 0;
    for (const g of this.segmentsOf(this.slot)) last = Math.max(last, g.size);
    const config = v[(this.main.base >>> 2) + H_CONFIG]!;
    const model = (config >>> 8) & 0xff;
    const shift = model === 32 ? 3 : 4;
    const overhead = SEG_HEADER + (first ? 4 * (1 + LOG_WORDS + CACHE_WORDS) : 0) + 4096;
    let size = Math.min(SEG_MAX, Math.max(SEG_MIN, 2 * last));
    while (size < need + overhead + 2 * (size >>> (shift + 3)) + 64 * 1024) size += SEG_MIN;
    const e = this.main;
    lock(v, this.mainLock, this.id);
    try {
      const seg = e.memalign(SEG_MIN, size);
      if (seg === 0) return 0;
      // The segment's own bytes are new: they need no log until the segment is reachable.
      const w = seg >>> 2;
      let at = seg + SEG_HEADER;
      const log = first ? at : v[sa + S_LOG]!;
      if (first) {
        v[at >>> 2] = 0;
        at += 4 * (1 + LOG_WORDS);
        // The front cache: empty (its first word 1 in a 64-bit heap, which has one).
        const tc = at >>> 2;
        v.fill(0, tc, tc + CACHE_WORDS);
        if (model === 64) v[tc + TC_ON] = 1;
        at += 4 * CACHE_WORDS;
      }
      at = (at + 15) & ~15;
      const pending = at;
      new Uint8Array(v.buffer, pending, 2 * pendingBytes(size, shift)).fill(0); // the pending and the cached bitmaps, word by word
      const subBase = pending + 2 * pendingBytes(size, shift);
      const dataModel = model === 64 ? "lp64" : model === 32 ? "ilp32" : "wasm32";
      const sub = new this.HeapClass({ memory: this.memory, base: subBase, dataModel, trimThreshold: 0x7fff_ffff, overwrite: true });
      const subHdr = sub.base;
      v[(subHdr >>> 2) + H_LIMIT] = seg + size; // the sub-heap's break stops at the segment's end
      v[w + G_MAGIC] = SEG_MAGIC;
      v[w + G_SLOT] = this.slot;
      v[w + G_SIZE] = size;
      v[w + G_NEXT] = v[sa + S_SEGS]!;
      v[w + G_HDR] = subHdr;
      v[w + G_PENDING] = pending;
      v[w + G_SHIFT] = shift;
      // Now reachable: logged.
      for (let i = seg >>> SEG_SHIFT; i < (seg + size) >>> SEG_SHIFT; i++) e.store((this.area + A_TABLE + i) * 4, seg | this.slot);
      // The log's word, then the list's, each stored again atomically: a thread reading them
      // (an attach) on a CPU that may reorder plain stores sees the segment's table words and
      // header before the log's word, and the log's word before the list's.
      if (first) {
        e.store((sa + S_LOG) * 4, log);
        Atomics.store(v, sa + S_LOG, log);
      }
      e.store((sa + S_SEGS) * 4, seg);
      Atomics.store(v, sa + S_SEGS, seg);
      e.store((sa + S_CUR) * 4, seg);
      return seg;
    } finally {
      e.endCall();
      unlock(v, this.mainLock);
    }
  }

  /** The record of segment `addr` (made on first sight, see {@link SharedHeap.meet}). */
  private seg(addr: number): Seg {
    return this.segs.get(addr) ?? this.meet(addr);
  }

  /** The segment that block address `p` lies in, by the segment table (its slot's bits off); null for the main heap. */
  private segOf(p: number): Seg | null {
    const t = (p | 0) === p && p > 0 && p >>> SEG_SHIFT < TABLE_WORDS ? this.v[this.area + A_TABLE + (p >>> SEG_SHIFT)]! : 0;
    return t === 0 ? null : this.seg(t & -SEG_MIN);
  }

  /**
   * A handle's first sight of segment `addr`: its record, from what the shared area says (the
   * segment table gives its slot and size; its slot's log says whether it is the arena's first,
   * which holds the log; the pending bitmap and the heap follow, as {@link SharedHeap.newSegment}
   * lays them out), never from the segment's own header, which an overflow of the main heap's
   * block before it can rewrite: a header that disagrees is reported.
   * @throws HeapCorruptionError when the table has no segment there, or its header disagrees
   */
  private meet(addr: number): Seg {
    const v = this.v;
    const i = addr >>> SEG_SHIFT;
    const table = this.area + A_TABLE;
    const t = (addr | 0) === addr && addr > 0 && addr % SEG_MIN === 0 && i < TABLE_WORDS ? v[table + i]! : 0;
    if (t === 0 || (t & -SEG_MIN) !== addr) throw new HeapCorruptionError("no segment there in the segment table", "free", addr);
    const slot = t & TABLE_SLOT;
    let n = 1;
    while (i + n < TABLE_WORDS && v[table + i + n] === t) n++;
    const size = n << SEG_SHIFT;
    const logAt = v[this.area + A_SLOTS + slot * SLOT_WORDS + S_LOG]!;
    const shift = ((v[(this.main.base >>> 2) + H_CONFIG]! >>> 8) & 0xff) === 32 ? 3 : 4;
    const pending = (addr + SEG_HEADER + (logAt === addr + SEG_HEADER ? 4 * (1 + LOG_WORDS + CACHE_WORDS) : 0) + 15) & ~15;
    const hdr = pending + 2 * pendingBytes(size, shift);
    const w = addr >>> 2;
    if (v[w + G_MAGIC] !== SEG_MAGIC || v[w + G_SLOT] !== slot || v[w + G_SIZE] !== size || v[w + G_HDR] !== hdr || v[w + G_PENDING] !== pending || v[w + G_SHIFT] !== shift || logAt === 0) {
      throw new HeapCorruptionError("segment header disagrees with the segment table", "free", addr);
    }
    const e = this.EngineC.open(this.memory, hdr);
    const log = logAt >>> 2;
    e.setLog(log);
    const first = v[(hdr >>> 2) + H_ARENA]!;
    const g: Seg = { addr, e, slot, pending: pending >>> 2, shift, log, size, hdr, topW: (hdr >>> 2) + H_TOP, mapW: (hdr >>> 2) + H_BITMAP, first, checked: false };
    this.segs.set(addr, g);
    if (slot === this.slot) this.adopt(g);
    return g;
  }

  /**
   * The segments of arena `s`, from its list (linked through the segments' headers): each one
   * checked against the segment table as {@link SharedHeap.meet} does, of this arena, and no
   * more of them than the table has (a list smashed into a circle would never end).
   * @throws HeapCorruptionError naming the first segment that is not the arena's
   */
  private segmentsOf(s: number): Seg[] {
    const v = this.v;
    const out: Seg[] = [];
    for (let a = v[this.area + A_SLOTS + s * SLOT_WORDS + S_SEGS]!; a !== 0; a = v[(a >>> 2) + G_NEXT]!) {
      const g = this.seg(a);
      if (g.slot !== s || out.length >= TABLE_WORDS) throw new HeapCorruptionError(`arena ${s}'s list of segments is not sound`, "malloc", a);
      out.push(g);
    }
    return out;
  }

  /** Notes segment `g`, of this handle's arena, in {@link SharedHeap.own}. */
  private adopt(g: Seg): void {
    for (let i = g.addr >>> SEG_SHIFT; i < (g.addr + g.size) >>> SEG_SHIFT; i++) this.own[i] = g;
  }

  // ─────────────── the front cache ───────────────

  /** Word index of arena `s`'s front cache (after its log), or 0 when it has no segment yet. */
  private cacheAt(s: number): number {
    const log = this.v[this.area + A_SLOTS + s * SLOT_WORDS + S_LOG]! >>> 2;
    return log === 0 ? 0 : log + 1 + LOG_WORDS;
  }

  /**
   * The first block of a list of the front cache (word `at`) is not one: a freed block's bytes
   * were overwritten (its link, its key or its header). The list is dropped (its blocks stay
   * allocated, a leak), never handed out.
   * @throws HeapCorruptionError always
   */
  private badCache(at: number, h: number): never {
    this.v[at] = 0;
    this.v[at + 1] = 0;
    throw new HeapCorruptionError("a block of the front cache is not one (a freed block was overwritten)", "malloc", h);
  }

  /**
   * Checks the front cache of arena `s` (its lock held) and counts its lists again: each block
   * aligned, of this arena, marked cached, in use by its heap's chunk map, its header of its
   * list's size, and listed once; a list ends at the first block that is not one (the rest stay
   * allocated, a leak). Then the cached bitmaps mark exactly the blocks listed. For an arena
   * whose holder died (a length may be one off, a bit set for a block it was taking off a list)
   * and for a slot opened again (a copy's, a crafted buffer's).
   */
  private recountCache(s: number): void {
    const v = this.v;
    const tc = this.cacheAt(s);
    if (tc === 0) return;
    const on = v[tc + TC_ON] === 1;
    const listed: Array<[Seg, number]> = [];
    const seen = new Set<number>();
    for (let k = 2; k <= TC_LAST; k++) {
      let link = tc + 2 * k; // the word that points at x
      let n = 0;
      for (let x = v[link]!; x !== 0; x = v[link]!) {
        let g: Seg | null = null;
        if (on && (x & 15) === 0 && x > 0 && !seen.has(x) && n < 2 * TC_CAP) {
          try {
            g = this.segOf(x);
          } catch (err) {
            if (!(err instanceof HeapCorruptionError)) throw err;
          }
        }
        if (g === null || g.slot !== s || !cachedAt(v, g, x) || (v[(x - 8) >>> 2]! & ~FLAG_BITS) !== 16 * k || v[(x - 4) >>> 2] !== 0 || !g.e.liveNow(x)) {
          v[link] = 0;
          break;
        }
        seen.add(x);
        listed.push([g, x]);
        n++;
        link = (x + 8) >>> 2;
      }
      v[tc + 2 * k + 1] = n;
    }
    // The listed blocks' bits are set before the others are cleared, each word written once with
    // what it keeps: at every store the bits name every listed block (and, until the last store,
    // maybe blocks no list holds). A thread that dies in the middle leaves lists that the next
    // recount keeps whole; cleared first, a listed block without its bit would be cut from its
    // list there, and it and the blocks after it lost for good (allocated, in no list).
    const keep = new Map<number, number>();
    for (const [g, x] of listed) {
      const cw = g.pending + (((x - g.addr) >>> g.shift >>> 5) << 1) + 1;
      const bit = 1 << (((x - g.addr) >>> g.shift) & 31);
      v[cw] = v[cw]! | bit;
      keep.set(cw, (keep.get(cw) ?? 0) | bit);
    }
    for (const g of this.segmentsOf(s)) {
      for (let i = 1; i < pendingBytes(g.size, g.shift) >>> 1; i += 2) {
        const want = keep.get(g.pending + i) ?? 0;
        if (v[g.pending + i] !== want) v[g.pending + i] = want;
      }
    }
  }

  /**
   * Gives the blocks of arena `s`'s front cache (its lock held) back to their heaps: each one
   * freed as a call of its own in the arena's log, its list and its bit changed in the same call.
   * A block whose free the heap refuses leaves the cache too (allocated), and its error is thrown.
   * @throws HeapError the heap's free refused a block (damage next to it)
   * @returns whether the cache held any
   */
  private flushCache(s: number): boolean {
    const v = this.v;
    const tc = this.cacheAt(s);
    if (tc === 0 || v[tc + TC_ON] !== 1) return false;
    let any = false;
    for (let k = 2; k <= TC_LAST; k++) {
      const at = tc + 2 * k;
      if (v[at] === 0) continue;
      if (!any) this.recountCache(s);
      any = true;
      for (let h = v[at]!; h !== 0; h = v[at]!) {
        const g = this.segOf(h)!; // (recountCache checked it)
        if (!g.checked) this.checkSegment(g.addr, g, "free");
        const next = v[(h + 8) >>> 2]!;
        const bit = (h - g.addr) >>> g.shift;
        const cw = g.pending + ((bit >>> 5) << 1) + 1;
        const e = g.e;
        let refused: HeapError | null = null;
        e.resume();
        try {
          try {
            e.free(h);
          } catch (err) {
            // The heap refuses the block (damage next to it, found by the free's checks, with
            // nothing changed): it leaves the cache all the same, still allocated (a leak, as a
            // list that badCache drops), so that the next flush goes on past it; the error is
            // this call's to report, once.
            if (!(err instanceof HeapError)) throw err;
            refused = err;
          }
          e.store(cw * 4, v[cw]! & ~(1 << (bit & 31)));
          e.store(at * 4, next);
          e.store((at + 1) * 4, v[at + 1]! - 1);
        } finally {
          e.endCall();
        }
        if (refused !== null) throw refused;
      }
    }
    return any;
  }

  /** Takes this arena's lock, to keep until the end of the task (or until asked for it). */
  private take(): void {
    reclaim(this.v, this.lockAt, this.id, GRACE_MS);
    this.held = true;
    keeping.add(this);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.giveBack);
    }
  }

  /** Gives this arena's lock back (only if another thread asked, with `ifAsked`). */
  private release(ifAsked = false): void {
    if (!this.held) return;
    const v = this.v;
    const asked = (v[this.lockAt]! & WAITERS) !== 0; // (a plain read: a request seen a call late is fine)
    if (ifAsked && !asked) return;
    this.held = false;
    keeping.delete(this);
    if (asked) yieldLock(v, this.lockAt);
    else unlock(v, this.lockAt);
  }

  /** Takes another arena's lock (lock word index `i`), giving this thread's own arenas back first. */
  private lockOther(i: number): void {
    if (tryLock(this.v, i, this.id)) return;
    for (const h of keeping) h.release();
    lock(this.v, i, this.id);
  }

  // ─────────────── recovery ───────────────

  /**
   * After the thread `threadId` died: undoes the call of every lock it held (from that lock's
   * log) and rebuilds the derived words of the heaps behind the lock, puts back the remote frees
   * it was freeing, unmarks a block it was pushing, releases its locks and frees its arenas for
   * other threads.
   * @returns whether it held a lock or was pushing a block
   */
  recover(threadId: number): boolean {
    const locks = this.recoverLocks(threadId + 1);
    return this.recoverSlots(threadId + 1) || locks;
  }

  /** The word index past the last one a call may store to: the main heap's limit (segments lie below it), within the memory. */
  private limitWord(): number {
    const v = this.v;
    return Math.min(v[this.mainLock - H_LOCK + H_LIMIT]! >>> 0, this.memory.maxBytes, v.length * 4) >>> 2;
  }

  /**
   * recover's first half: the locks that holder `id` held, their calls undone. A call stores the
   * derived words (bin bitmaps, PINUSE flags) without logging them, from its first store on: the
   * heaps behind every lock it held are rebuilt, whether its log is empty or not.
   */
  private recoverLocks(id: number): boolean {
    const v = this.v;
    let found = false;
    for (let s = 0; s < ARENAS; s++) {
      const sa = this.area + A_SLOTS + s * SLOT_WORDS;
      if (holder(v, sa + S_LOCK) !== id) continue;
      found = true;
      const log = v[sa + S_LOG]! >>> 2;
      const touched = log !== 0 ? undo(v, log, this.mainLock - H_LOCK, this.limitWord()) : [];
      // (A list that runs in a circle, in a crafted buffer, stops at as many segments as the table has.)
      for (const g of this.segmentsOf(s)) g.e.rebuild(touched);
      this.recountCache(s);
      const drained = v[sa + S_DRAINED]!;
      if (drained !== 0) {
        const g = this.segOf(drained);
        if (g !== null) unmark(v, g, drained);
        v[sa + S_DRAINED] = 0;
      }
      const detached = v[sa + S_DETACHED]!;
      if (detached !== 0) {
        if (!this.listed(sa + S_REMOTE, detached)) this.pushList(sa + S_REMOTE, detached);
        v[sa + S_DETACHED] = 0;
      }
      unlock(v, sa + S_LOCK);
    }
    if (holder(v, this.mainLock) === id) {
      found = true;
      this.main.rebuild(undo(v, this.main.logAt, this.mainLock - H_LOCK, this.limitWord()));
      unlock(v, this.mainLock);
    }
    return found;
  }

  /** recover's second half: the arenas that holder `id` owned, and a block it was pushing. */
  private recoverSlots(id: number): boolean {
    const v = this.v;
    let found = false;
    for (let s = 0; s < ARENAS; s++) {
      const sa = this.area + A_SLOTS + s * SLOT_WORDS;
      if (v[sa + S_OWNER] !== id) continue;
      const p = v[sa + S_PUSH]!;
      if (p !== 0) {
        found = true;
        // Pushed or not? Pushed blocks are on the arena's list, or being freed from it.
        const ta = this.area + A_SLOTS + (v[sa + S_PUSH_TO]! - 1) * SLOT_WORDS;
        this.lockOther(ta + S_LOCK);
        try {
          if (!this.listed(ta + S_REMOTE, p) && !this.listed(ta + S_DETACHED, p)) {
            const g = this.segOf(p);
            if (g !== null) unmark(v, g, p);
          }
        } finally {
          unlock(v, ta + S_LOCK);
        }
        v[sa + S_PUSH] = 0;
      }
      Atomics.store(v, sa + S_OWNER, 0);
    }
    return found;
  }

  /**
   * The blocks of the list starting at `first` (a list of remote frees), as far as it is sound:
   * each one in a segment, and each one once (a list that a use after free turned into a
   * circle ends).
   */
  private walk(first: number): number[] {
    const v = this.v;
    const seen = new Set<number>();
    for (let x = first; x !== 0 && !seen.has(x); x = v[x >>> 2]!) {
      if ((x & 7) !== 0 || this.segOf(x) === null) break;
      seen.add(x);
    }
    return [...seen];
  }

  /** Whether block `p` is on the list whose head is in word `head`. */
  private listed(head: number, p: number): boolean {
    return this.walk(Atomics.load(this.v, head)).includes(p);
  }

  /**
   * Puts the list starting at `first` back in front of the list whose head is in word `head`
   * (as far as it is sound: see {@link SharedHeap.walk}; the rest is left out, a leak).
   */
  private pushList(head: number, first: number): void {
    const v = this.v;
    const list = this.walk(first);
    if (list.length === 0) return;
    const last = list[list.length - 1]!;
    for (;;) {
      const h = Atomics.load(v, head);
      v[last >>> 2] = h;
      if (Atomics.compareExchange(v, head, h, first) === h) return;
    }
  }
}
