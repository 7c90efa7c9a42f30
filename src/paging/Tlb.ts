/**
 * Translation lookaside buffer: a set-associative cache of PTEs, in typed arrays.
 *
 * ```text
 *   vpn ──┬── low log2(sets) bits ──▶ set s          (sets = entries / ways, a power of two)
 *         │
 *         ▼             way 0        way 1        …     way ways−1
 *   set s: slots  s·ways + 0,  s·ways + 1,  …,  s·ways + ways − 1
 *
 *   per slot   tags[slot]    the full vpn (NaN = empty)        Float64Array: vpns reach 2^48
 *              frames[slot]  frame number                      Int32Array
 *              flags[slot]   the PTE's flag bits when filled   Uint8Array  (P W U X A D)
 *              stamps[slot]  last use, for LRU                 Float64Array
 * ```
 *
 * A hit is the tag compare, then one masked compare of the cached flags against what the
 * access needs (`(flags & need) === need`). The tag is the whole vpn rather than only the bits
 * above the set index: same result, one compare, no shift. Because the cached flags include
 * DIRTY, the first write to a page whose entry was filled by a read misses here and goes to the
 * page walk, which sets DIRTY in the PTE (as x86 does with a microcode assist).
 *
 * Replacement within a set: the first empty way, else the victim the policy picks —
 * `"lru"` (default): the way with the oldest use stamp (a global counter, bumped on every hit
 * and fill: exact LRU); `"round-robin"`: a per-set pointer that advances on every eviction
 * (ARM's Cortex cores do this; costs nothing on a hit).
 */
import { ArgumentError, checkOptions, type Access, type OptionKeys } from "../errors.js";
import { ACCESSED, DIRTY, EXEC, FLAGS_MASK, PRESENT, USER, WRITABLE } from "./pte.js";

/** What a read needs from a PTE (cached in the TLB): present, user-accessible. */
export const NEED_READ = PRESENT | USER;
/** What a write needs: present, user, writable, and already dirty (else the walk sets DIRTY). */
export const NEED_WRITE = PRESENT | USER | WRITABLE | DIRTY;
/** What an instruction fetch needs: present, user, executable. */
export const NEED_EXEC = PRESENT | USER | EXEC;

/** The flag bits a TLB entry keeps from its PTE. */
export const TLB_FLAGS = PRESENT | WRITABLE | USER | EXEC | ACCESSED | DIRTY;

/** Default number of TLB entries (a typical L1 data TLB). */
export const DEFAULT_TLB_ENTRIES = 64;
/** Default associativity. */
export const DEFAULT_TLB_WAYS = 4;

/** How a full set picks the entry to evict. */
export type TlbReplacement = "lru" | "round-robin";

/** Options for {@link Tlb}. */
export interface TlbOptions {
  /** Number of entries, ≥ 1. @defaultValue 64 */
  entries?: number;
  /**
   * Associativity: entries per set. `entries / ways` (the number of sets) must be a power of
   * two; `ways = entries` is fully associative, `ways = 1` direct-mapped.
   * @defaultValue 4 (or `entries`, when fewer than 4)
   */
  ways?: number;
  /** Replacement within a set. @defaultValue "lru" */
  replacement?: TlbReplacement;
}

/** The keys of {@link TlbOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<TlbOptions> = { entries: 1, ways: 1, replacement: 1 };

/** One cached translation, as {@link Tlb.entries} lists them. */
export interface TlbEntry {
  /** The set: the low bits of the vpn. */
  readonly set: number;
  /** The way within the set. */
  readonly way: number;
  /** The virtual page number (the tag). */
  readonly vpn: number;
  /** The frame it translates to. */
  readonly frame: number;
  /** The PTE flag bits cached with it. */
  readonly flags: number;
}

/**
 * The PTE bits an access needs from a TLB entry (see {@link NEED_READ} and friends).
 * @example
 * ```ts
 * import { NEED_WRITE, needFor } from "vmheap";
 *
 * console.log(needFor("write") === NEED_WRITE, needFor("read"), needFor("exec")); // true 5 13
 * ```
 */
export function needFor(access: Access): number {
  return access === "write" ? NEED_WRITE : access === "exec" ? NEED_EXEC : NEED_READ;
}

/**
 * A set-associative TLB (one per address space, so no ASIDs and no flush on a switch).
 * It caches `vpn → frame` with the PTE's flags; the owner keeps it coherent: after changing or
 * removing a PTE that may be cached, {@link invalidate} its vpn (`invlpg`) or {@link flush}.
 * @example
 * ```ts
 * import { NEED_READ, NEED_WRITE, Tlb, pte } from "vmheap";
 *
 * const tlb = new Tlb({ entries: 4, ways: 2 }); // 2 sets of 2 ways
 * tlb.insert(0x10, 3, pte.PRESENT | pte.USER | pte.WRITABLE | pte.ACCESSED);
 * console.log(tlb.lookup(0x10, NEED_READ), tlb.lookup(0x11, NEED_READ)); // 3 -1
 * // a write needs DIRTY cached too: the first write misses and goes to the page walk
 * console.log(tlb.lookup(0x10, NEED_WRITE), tlb.hits, tlb.misses); // -1 1 2
 * // 0x12 and 0x14 fall in set 0 with 0x10: the least recently used way (0x10) goes
 * tlb.insert(0x12, 4, pte.PRESENT | pte.USER);
 * tlb.insert(0x14, 5, pte.PRESENT | pte.USER);
 * console.log(tlb.entries().map((e) => `set ${e.set} way ${e.way}: vpn ${e.vpn.toString(16)} -> frame ${e.frame}`)); // [ 'set 0 way 0: vpn 14 -> frame 5', 'set 0 way 1: vpn 12 -> frame 4' ]
 * ```
 */
export class Tlb {
  /** Number of entries. */
  readonly size: number;
  /** Entries per set. */
  readonly ways: number;
  /** Number of sets (`size / ways`). */
  readonly sets: number;
  /** Replacement policy within a set. */
  readonly replacement: TlbReplacement;
  /** Lookups that found a usable entry. */
  hits: number;
  /** Lookups that did not: no entry, or an entry whose cached flags do not allow the access. */
  misses: number;
  /** Valid entries pushed out by {@link insert} to make room. */
  evictions: number;

  private readonly setMask: number;
  private readonly lru: boolean;
  private readonly tags: Float64Array;
  private readonly frames: Int32Array;
  private readonly flags: Uint8Array;
  private readonly stamps: Float64Array;
  private readonly next: Int32Array;
  /**
   * A way predictor: `guess[vpn & guessMask]` is the slot where `vpn` was last put or found.
   * A lookup checks that slot first and searches the set only when the guess is wrong. It
   * changes no hit, miss or replacement decision; it only spares the search.
   */
  private readonly guess: Int32Array;
  private readonly guessMask: number;
  private clock: number;

  constructor(opts: TlbOptions = {}) {
    checkOptions(opts, "Tlb", OPTION_KEYS);
    const size = opts.entries ?? DEFAULT_TLB_ENTRIES;
    if (!Number.isInteger(size) || size < 1 || size > 1 << 20) throw new ArgumentError(`Tlb: entries must be an integer from 1 to 2^20, got ${String(size)}`);
    const ways = opts.ways ?? Math.min(DEFAULT_TLB_WAYS, size);
    if (!Number.isInteger(ways) || ways < 1 || ways > size || size % ways !== 0) {
      throw new ArgumentError(`Tlb: ways must divide entries (${size}), got ${String(ways)}`);
    }
    const sets = size / ways;
    if ((sets & (sets - 1)) !== 0) throw new ArgumentError(`Tlb: entries / ways must be a power of two, got ${size} / ${ways} = ${sets}`);
    const replacement = opts.replacement ?? "lru";
    if (replacement !== "lru" && replacement !== "round-robin") throw new ArgumentError(`Tlb: replacement must be "lru" or "round-robin", got ${String(replacement)}`);
    this.size = size;
    this.ways = ways;
    this.sets = sets;
    this.replacement = replacement;
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
    this.setMask = sets - 1;
    this.lru = replacement === "lru";
    // NaN marks an empty way: it equals no vpn, not even an out-of-range one such as −1.
    this.tags = new Float64Array(size).fill(NaN);
    this.frames = new Int32Array(size);
    this.flags = new Uint8Array(size);
    this.stamps = new Float64Array(size);
    this.next = new Int32Array(sets);
    const guesses = Math.max(64, 1 << Math.ceil(Math.log2(4 * size)));
    this.guess = new Int32Array(guesses);
    this.guessMask = guesses - 1;
    this.clock = 0;
  }

  /**
   * The fast path: the frame cached for `vpn` when its flags allow the access, else -1.
   * Counts a hit or a miss. No allocation.
   * @param need - the PTE bits the access needs ({@link NEED_READ}, {@link NEED_WRITE},
   *   {@link NEED_EXEC}), or the access by name
   */
  lookup(vpn: number, need: number | Access): number {
    return this.find(vpn, typeof need === "number" ? need : needFor(need));
  }

  /** {@link lookup} with the PTE bits as a number: the MMU's fast path. */
  find(vpn: number, mask: number): number {
    const g = vpn & this.guessMask;
    let s = this.guess[g]!;
    if (this.tags[s] !== vpn) {
      s = this.probe(vpn);
      if (s < 0) {
        this.misses++;
        return -1;
      }
      this.guess[g] = s;
    }
    if ((this.flags[s]! & mask) !== mask) {
      this.misses++;
      return -1;
    }
    this.hits++;
    if (this.lru) this.stamps[s] = ++this.clock;
    return this.frames[s]!;
  }

  /**
   * Looks `vpn` up without counting or touching the replacement state.
   * @returns the slot holding it, or -1
   */
  probe(vpn: number): number {
    const base = (vpn & this.setMask) * this.ways;
    for (let s = base, end = base + this.ways; s < end; s++) if (this.tags[s] === vpn) return s;
    return -1;
  }

  /**
   * Caches `vpn → frame` with the PTE's `flags` (after a page walk). An entry already holding
   * `vpn` is overwritten in place; otherwise the first empty way of the set, else the victim
   * of the replacement policy.
   * @returns the slot used (`set · ways + way`)
   */
  insert(vpn: number, frame: number, flags: number): number {
    const ways = this.ways;
    const set = vpn & this.setMask;
    const base = set * ways;
    let slot = -1;
    let empty = -1;
    for (let s = base, end = base + ways; s < end; s++) {
      const tag = this.tags[s]!;
      if (tag === vpn) {
        slot = s;
        break;
      }
      if (tag !== tag && empty < 0) empty = s;
    }
    if (slot < 0) slot = empty;
    if (slot < 0) {
      this.evictions++;
      if (this.lru) {
        slot = base;
        for (let s = base + 1, end = base + ways; s < end; s++) if (this.stamps[s]! < this.stamps[slot]!) slot = s;
      } else {
        const w = this.next[set]!;
        slot = base + w;
        this.next[set] = w + 1 === ways ? 0 : w + 1;
      }
    }
    this.tags[slot] = vpn;
    this.guess[vpn & this.guessMask] = slot;
    this.frames[slot] = frame;
    this.flags[slot] = flags & TLB_FLAGS;
    this.stamps[slot] = ++this.clock;
    return slot;
  }

  /**
   * Drops the entry for `vpn`, if any (x86 `invlpg`).
   * @returns whether there was one
   */
  invalidate(vpn: number): boolean {
    const s = this.probe(vpn);
    if (s < 0) return false;
    this.tags[s] = NaN;
    return true;
  }

  /** Drops every entry (a CR3 reload). Counters are kept. */
  flush(): void {
    this.tags.fill(NaN);
    this.next.fill(0);
  }

  /** Number of valid entries. */
  get occupancy(): number {
    let n = 0;
    for (let s = 0; s < this.size; s++) if (this.tags[s] === this.tags[s]) n++;
    return n;
  }

  /** Zeroes {@link hits}, {@link misses} and {@link evictions}. */
  resetCounters(): void {
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  /** The valid entries, set by set, for pictures and tests; allocates. */
  entries(): TlbEntry[] {
    const out: TlbEntry[] = [];
    for (let s = 0; s < this.size; s++) {
      const vpn = this.tags[s]!;
      if (vpn !== vpn) continue;
      out.push({ set: Math.floor(s / this.ways), way: s % this.ways, vpn, frame: this.frames[s]!, flags: this.flags[s]! & FLAGS_MASK });
    }
    return out;
  }
}
