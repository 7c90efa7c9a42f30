/**
 * A concurrent heap: the engine that runs its calls, and what lets one thread pick up after
 * another died inside a call.
 *
 * A concurrent heap keeps, between its bin heads and its first chunk, a shared area:
 *
 * ```text
 *   hdr ─▶ header · bin bitmap · bin heads
 *          ┌──────────── shared area (SHARED_AREA_BYTES) ────────────┐
 *          │ magic · next thread id                                   │
 *          │ main log: count · (word index, old value) pairs …        │
 *          └──────────────────────────────────────────────────────────┘
 *   arena ─▶ chunks …
 * ```
 *
 * Every call runs holding the heap's lock (`lock.ts`: the word names its holder) on a
 * *logged engine* (`LoggedEngine.generated.ts`, derived from `Heap.ts`): before each metadata
 * store, the word's address and old value go to the lock's log in the heap's memory. If the
 * thread is terminated inside the call, the log holds exactly the stores made so far, and
 * {@link SharedHeap.recover}, run by another thread, writes the old values back newest first
 * and releases the lock: the heap is as it was before the call.
 */
import { ArgumentError, HeapCorruptionError, VmError } from "../errors.js";
import type { LinearMemory } from "../memory/LinearMemory.js";
import { binCount } from "./bins.js";
import { CINUSE, FLAG_BITS, MARK_FREE, MARK_USED, PINUSE } from "./chunk.js";
import { H_ARENA, H_BITMAP, H_BRK, H_BRK_START, H_CONFIG, H_COVER, H_END, H_LIMIT, H_LOCK, H_TOP } from "./header.js";
import type { Heap } from "./Heap.js";
import { LinearHost } from "./host.js";
import { HOLDER, holder, lock, runtimeThreadId, unlock } from "./lock.js";
import { makeLoggedEngine } from "./LoggedEngine.generated.js";

// ───────────────────────── the shared area ─────────────────────────

/** Word offsets in the shared area. */
const A_MAGIC = 0;
/** Next thread id handed out where the runtime has none (counting down from HOLDER − 1). */
const A_IDS = 1;
/** The main log: its count word, then its pairs. */
const A_MAIN_LOG = 4;
/** Words of pairs a log holds. A call makes a few dozen stores; 16 words per copy or fill. */
export const LOG_WORDS = 4096;
/** Words of the shared area. */
const AREA_WORDS = (A_MAIN_LOG + 1 + LOG_WORDS + 15) & ~15;
/** Bytes a concurrent heap keeps between its bin heads and its first chunk (a multiple of 16). */
export const SHARED_AREA_BYTES = AREA_WORDS * 4;
/** "vmsh". */
const AREA_MAGIC = 0x68736d76;
/** A log's count when a call made more stores than it holds: that call cannot be undone. */
const LOG_OVERFLOW = 0x7fff_ffff;
/** Bytes saved at each end of a copy or fill, the only metadata a block's payload held before it was one (links, footer). */
const BULK_EDGE = 32;
/** Chunks at most walked below the bitmap when it moves down (one call merges a few). */
const GHOST_WALK = 64;
/** A log entry's word index that is no word: the heap's in-use bitmap must be rebuilt after the undo. */
const REPAIR = -1;

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
    // less than its size) leaves it, the bitmap chunk's header and the top's to be rebuilt.
    if (tail > headEnd) this.note(REPAIR, addr);
    for (let i = first; i < headEnd; i++) this.note(i, this.u32[i]!);
    for (let i = tail; i < end; i++) this.note(i, this.u32[i]!);
  }
  /** Logs word `i`, whose value is `old` (as the engine's own stores do). */
  private note(i: number, old: number): void {
    const m = this.u32;
    const e = this.engine;
    const c = e.logAt;
    const n = m[c]!;
    if (n < e.logCap) {
      m[c + 1 + n] = i;
      m[c + 2 + n] = old;
      m[c] = n + 2;
    } else {
      e.full(i);
    }
  }
}

/** What the coordinator uses of an engine (the class itself is made at run time, see {@link engineClass}). */
interface Engine extends Heap {
  setLog(lg: number): void;
  readonly areaWord: number;
  words(): Int32Array;
  readonly logAt: number;
  readonly logCap: number;
  full(i: number): void;
  repairBitmap(): void;
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
     * copy overlaps it, are rebuilt by {@link ArenaEngine.repairBitmap}.)
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
      const n = Math.min(m[lg]!, this.lgCap);
      const i = addr >>> 2;
      for (let k = 0; k < n; k += 2) if (m[lg + 1 + k] === i) return m[lg + 2 + k]!;
      return m[i]!;
    }

    /** The log is full: the call goes on, but it can no longer be undone. */
    full(_i: number): void {
      this.m[this.lg] = LOG_OVERFLOW;
    }

    /**
     * After undoing a call that moved the in-use bitmap (a copy that may overlap the old one,
     * and whose middle bytes were not logged): rewrites the bitmap's chunk header and the top's
     * from what they must be, and the chunk map from the chunk headers, which the undo made
     * whole again.
     */
    repairBitmap(): void {
      const m = this.m;
      const W = this.W;
      const hdr = this.hdr;
      const bm = m[(hdr + 4 * H_BITMAP) >>> 2]! - this.W2;
      const top = m[(hdr + 4 * H_TOP) >>> 2]!;
      const end = m[(hdr + 4 * H_END) >>> 2]!;
      const bmSize = this.bitmapChunkSize(m[(hdr + 4 * H_COVER) >>> 2]! >>> 0);
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
        chunks.push(x, size, (s & CINUSE) !== 0 ? MARK_USED : MARK_FREE);
        prevInUse = (s & CINUSE) !== 0;
        prevSize = size;
        x += size;
      }
      m[(top + W) >>> 2] = (end - top) | (prevInUse ? PINUSE : 0);
      if (W === 8) m[(top + 12) >>> 2] = 0;
      this.host.zero(bm + this.W2, bmSize - W);
      for (let k = 0; k < chunks.length; k += 3) this.markChunk(chunks[k]!, chunks[k + 1]!, chunks[k + 2]!);
    }
  }
  engineCache = ArenaEngine as unknown as EngineClass;
  engineBase = HeapClass;
  return engineCache;
}

/**
 * Writes back the old values of log `lg` (count word index), newest first, and empties it.
 * @returns whether the heap's in-use bitmap must be rebuilt (a copy or fill was not logged whole)
 * @throws VmError when the call overflowed its log
 */
function undo(m: Int32Array, lg: number): boolean {
  const n = m[lg]!;
  if (n === LOG_OVERFLOW || n < 0 || n > LOG_WORDS) throw new VmError(`recover: the interrupted call made more than ${LOG_WORDS / 2} metadata stores and cannot be undone`);
  let repair = false;
  for (let k = n - 2; k >= 0; k -= 2) {
    const i = m[lg + 1 + k]!;
    if (i === REPAIR) repair = true;
    else m[i] = m[lg + 2 + k]!;
  }
  m[lg] = 0;
  return repair;
}

// ───────────────────────── the coordinator ─────────────────────────

/**
 * A concurrent heap's calls, for one `Heap` object (one thread's handle on the heap): every
 * call runs on the logged engine holding the heap's lock, under this thread's id.
 * @internal
 */
export class SharedHeap {
  /** This handle's holder id in lock words: its thread's id + 1. */
  readonly id: number;
  private readonly v: Int32Array;
  private readonly lockAt: number;
  private readonly main: Engine;
  /** Heap's methods that run locked → the engine's own. */
  private readonly ops: Map<unknown, (this: Engine, a: number, b: number) => unknown>;

  /**
   * @param owner the concurrent `Heap` object this runs the calls of
   * @param HeapClass the class `Heap` (the engine derives from it)
   * @param fresh whether the heap was just made (the shared area is then written)
   * @param threadId this thread's id, when the caller gives one
   */
  constructor(
    private readonly owner: { errno: number },
    HeapClass: typeof Heap,
    memory: LinearMemory,
    hdr: number,
    fresh: boolean,
    threadId?: number,
  ) {
    if (threadId !== undefined && (!Number.isSafeInteger(threadId) || threadId < 0 || threadId >= HOLDER - 1)) {
      throw new ArgumentError(`Heap: threadId must be an integer from 0 to ${HOLDER - 2}, got ${String(threadId)}`);
    }
    const EngineC = engineClass(HeapClass);
    const main = EngineC.open(memory, hdr);
    const v = main.words();
    const area = main.areaWord;
    if (fresh) {
      v[area + A_MAGIC] = AREA_MAGIC;
      v[area + A_IDS] = HOLDER - 1;
    } else if (v[area + A_MAGIC] !== AREA_MAGIC) {
      throw new HeapCorruptionError("concurrent heap without its shared area", "attach", area * 4);
    }
    main.setLog(area + A_MAIN_LOG);
    this.main = main;
    this.v = v;
    this.lockAt = (hdr >>> 2) + H_LOCK;
    let tid = threadId ?? runtimeThreadId();
    if (tid < 0) tid = Atomics.sub(v, area + A_IDS, 1) - 1; // ids from the top down, away from a runtime's own
    this.id = tid + 1;
    this.ops = new Map();
    const heapProto = HeapClass.prototype as unknown as Record<string, unknown>;
    const engineProto = EngineC.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(HeapClass.prototype)) {
      const d = Object.getOwnPropertyDescriptor(HeapClass.prototype, name);
      if (d !== undefined && typeof d.value === "function" && typeof engineProto[name] === "function") {
        this.ops.set(heapProto[name], engineProto[name] as (this: Engine, a: number, b: number) => unknown);
      }
    }
  }

  /** The thread id this handle's calls carry (`Heap.recover` takes it). */
  get threadId(): number {
    return this.id - 1;
  }

  /** Runs the heap's method `fn` (one of Heap's own) on the engine, holding the lock. */
  run<R>(fn: (a: number, b: number) => R, a: number, b: number): R {
    const f = this.ops.get(fn);
    if (f === undefined) throw new VmError("concurrent heap: no engine method for this call");
    const v = this.v;
    lock(v, this.lockAt, this.id);
    const e = this.main;
    const owner = this.owner;
    e.errno = owner.errno;
    try {
      return f.call(e, a, b) as R;
    } finally {
      owner.errno = e.errno;
      v[e.logAt] = 0;
      unlock(v, this.lockAt);
    }
  }

  /**
   * After the thread `threadId` died (`worker.terminate()`, or its end): if it held the heap's
   * lock, undoes its unfinished call from the log and releases the lock.
   * @returns whether it held the lock
   */
  recover(threadId: number): boolean {
    const v = this.v;
    const id = threadId + 1;
    if (holder(v, this.lockAt) !== id) return false;
    const e = this.main;
    if (undo(e.words(), e.logAt)) e.repairBitmap();
    unlock(v, this.lockAt);
    return true;
  }
}
