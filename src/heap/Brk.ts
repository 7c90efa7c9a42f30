import { Errno } from "../errno.js";
import { ArgumentError, checkOptions, type OptionKeys } from "../errors.js";
import { LinearMemory } from "../memory/LinearMemory.js";

/**
 * Something a program break can move over: it makes `[start, newBreak)` usable when the break
 * grows and may release what lies above when it shrinks. An `AddressSpace` maps and unmaps
 * pages; a {@link LinearMemory} grows (and never shrinks).
 */
export interface BreakTarget {
  /**
   * Moves the break from `oldBreak` to `newBreak`; `false` when the memory cannot be had.
   * `start` is where the break started (the heap's first byte).
   */
  moveBreak(oldBreak: number, newBreak: number, start: number): boolean;
  /** The lowest address a mapping may have (an `AddressSpace`'s): the default start of a break. */
  readonly mmapMinAddr?: number;
}

/** Where a break keeps its current value: a field, or a word in the memory it manages. */
export interface BreakCell {
  /** The current break. */
  get(): number;
  /** Stores a new break (already checked by {@link Brk}). */
  set(value: number): void;
}

/** Options for {@link Brk}. */
export interface BrkOptions {
  /**
   * The initial break: `brk` never goes below it. @defaultValue 0; a `WebAssembly.Memory`: its
   * current size; an address space: its `mmapMinAddr` (page 0 stays unmapped, as in Linux)
   */
  start?: number;
  /** The highest break allowed (like `RLIMIT_DATA`). @defaultValue the memory's `maxBytes` */
  limit?: number;
}

/** The keys of {@link BrkOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<BrkOptions> = { start: 1, limit: 1 };

/** A break kept in a plain field (the default; also used to seed a forked process's break). */
export class FieldCell implements BreakCell {
  constructor(private v: number) {}
  get(): number {
    return this.v;
  }
  set(value: number): void {
    this.v = value;
  }
}

/** Bytes per page of a linear memory's break: it maps whole pages, as Linux does. */
const BRK_PAGE = 4096;

function linearTarget(memory: LinearMemory): BreakTarget {
  // Up to the next page boundary, or to the memory's end when the reservation stops short of it.
  return { moveBreak: (_old, end) => memory.ensure(Math.min(Math.ceil(end / BRK_PAGE) * BRK_PAGE, Math.max(end, memory.maxBytes))) };
}

/**
 * The program break, with Linux/glibc `brk(2)`/`sbrk(3)` semantics: the break is exact to the
 * byte, never goes below `start` or past `limit`, and a failed call returns `-1` with
 * `errno = ENOMEM` and leaves the break where it was.
 *
 * Over a {@link LinearMemory} the memory grows as the break passes its end, to the next 4 KiB
 * page boundary (a `WebAssembly.Memory` in 64 KiB pages), and never shrinks, but the break
 * moves both ways.
 *
 * @example
 * ```ts
 * import { Brk, Errno, LinearMemory } from "vmheap";
 *
 * const brk = new Brk(new LinearMemory({ maxBytes: 1 << 20 }), { start: 0x1000, limit: 0x9000 });
 * console.log(brk.sbrk(0).toString(16)); // 1000
 * console.log(brk.sbrk(100).toString(16), brk.current.toString(16)); // 1000 1064
 * console.log(brk.brk(0x8000), brk.current.toString(16)); // 0 8000
 * // past the limit: -1 with ENOMEM, and the break stays
 * console.log(brk.sbrk(0x2000), brk.errno === Errno.ENOMEM, brk.current.toString(16)); // -1 true 8000
 * // below the start: refused too
 * console.log(brk.brk(0x800), brk.current.toString(16)); // -1 8000
 * ```
 */
export class Brk {
  /** The initial break. */
  readonly start: number;
  /** The highest break allowed. */
  readonly limit: number;
  /** Set by a failing call (`ENOMEM`, or `EINVAL` for an argument that is not an integer). */
  errno = 0;
  private readonly target: BreakTarget;
  private readonly cell: BreakCell;

  /**
   * @param target the memory the break moves over
   * @param opts `start` and `limit`
   * @param cell where the current break is kept (internal: a heap keeps it in its own memory)
   */
  constructor(target: LinearMemory | BreakTarget, opts: BrkOptions = {}, cell?: BreakCell) {
    checkOptions(opts, "Brk", OPTION_KEYS);
    let start: number, limit: number;
    if (target instanceof LinearMemory) {
      start = opts.start ?? (target.wasm !== null ? target.byteLength : 0);
      limit = opts.limit ?? target.maxBytes;
      this.target = linearTarget(target);
    } else if (target !== null && typeof target === "object" && typeof target.moveBreak === "function") {
      start = opts.start ?? target.mmapMinAddr ?? 0;
      limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
      this.target = target;
    } else {
      throw new ArgumentError("Brk: target must be a LinearMemory or an address space");
    }
    if (!Number.isSafeInteger(start) || start < 0) throw new ArgumentError(`Brk: start must be a non-negative integer, got ${String(start)}`);
    if (!Number.isSafeInteger(limit) || limit < start) throw new ArgumentError(`Brk: limit must be an integer >= start, got ${String(limit)}`);
    this.start = start;
    this.limit = limit;
    if (cell === undefined) {
      if (!this.target.moveBreak(start, start, start)) throw new ArgumentError(`Brk: the memory cannot reach the start 0x${start.toString(16)}`);
      this.cell = new FieldCell(start);
    } else {
      this.cell = cell;
    }
  }

  /** The current break, exact to the byte. */
  get current(): number {
    return this.cell.get();
  }

  /**
   * Sets the break to `addr` (`brk(2)`).
   * @returns `0`, or `-1` with `errno = ENOMEM` (below start, past the limit, memory refused)
   */
  brk(addr: number): 0 | -1 {
    if (!Number.isSafeInteger(addr)) {
      this.errno = Errno.ENOMEM;
      return -1;
    }
    const old = this.cell.get();
    if (addr < this.start || addr > this.limit || !this.target.moveBreak(old, addr, this.start)) {
      this.errno = Errno.ENOMEM;
      return -1;
    }
    this.cell.set(addr);
    return 0;
  }

  /**
   * Moves the break by `increment` bytes (`sbrk(3)`); `sbrk(0)` asks where it is.
   * @returns the previous break, or `-1` with `errno = ENOMEM` (`EINVAL` for a non-integer)
   */
  sbrk(increment: number): number {
    if (!Number.isSafeInteger(increment)) {
      this.errno = Errno.EINVAL;
      return -1;
    }
    const old = this.cell.get();
    if (increment === 0) return old;
    return this.brk(old + increment) === 0 ? old : -1;
  }
}
