/**
 * Page-table entry: one 32-bit word, drawn here once.
 *
 * ```text
 *   31                                           8   7   6   5   4   3   2   1   0
 *  ┌──────────────────────────────────────────────┬───┬───┬───┬───┬───┬───┬───┬───┐
 *  │ frame number (24 bits)                       │ S │ C │ D │ A │ X │ U │ W │ P │  P = 1: resident
 *  ├──────────────────────────────────────────────┼───┼───┴───┴───┴───┴───┴───┼───┤
 *  │ swap slot (24 bits)                          │ 1 │ (kept, not used)      │ 0 │  S = 1: in swap
 *  ├──────────────────────────────────────────────┴───┴───────────────────────┴───┤
 *  │ 0                                                                            │  no entry
 *  └──────────────────────────────────────────────────────────────────────────────┘
 *   P  PRESENT    a frame backs the page; without it the MMU faults on any access
 *   W  WRITABLE   stores allowed
 *   U  USER       user-mode accesses allowed (every access the model makes is user-mode, so a
 *                 present page without U faults: that is how PROT_NONE keeps its frame)
 *   X  EXEC       instruction fetch allowed (x86's NX bit, inverted: every permission is a
 *                 bit that must be set, so one masked compare checks any access)
 *   A  ACCESSED   set by the MMU on the first access that fills the TLB (hardware)
 *   D  DIRTY      set by the MMU on the first write (hardware)
 *   C  COW        software: read-only because shared copy-on-write; a write fault copies
 *   S  SWAPPED    software: not present, the page is in swap, bits 8–31 are the slot
 * ```
 *
 * Why 32 bits: a PTE is one `Uint32Array` element, so a table is one typed array and reading or
 * writing an entry is one load or store, with no BigInt and no second word to keep in step.
 * Eight flag bits leave 24 bits of frame number: 2^24 frames (64 GiB of 4 KiB pages), beyond
 * the 2^20 needed and beyond what a JS buffer holds. The frame number is stored as a number,
 * not as a physical address with the offset bits masked off as on x86, because the page size
 * here goes down to 16 bytes, where 4 offset bits could not hold 8 flags.
 *
 * Read a field with the helpers below (`pteFrame(pte)`), test a flag with `(pte & DIRTY) !== 0`,
 * set one with `(pte | DIRTY) >>> 0`, clear one with `(pte & ~DIRTY) >>> 0` (the `>>> 0` keeps
 * the value unsigned, as a `Uint32Array` stores it).
 *
 * Invariants: an entry is 0 (nothing there), or PRESENT with a frame, or SWAPPED (and not
 * PRESENT) with a slot; never both PRESENT and SWAPPED. COW implies not WRITABLE.
 */
import { ArgumentError } from "../errors.js";

/** A frame backs the page. */
export const PRESENT = 1 << 0;
/** Stores are allowed. */
export const WRITABLE = 1 << 1;
/** User-mode accesses are allowed (every access the model makes is a user-mode one). */
export const USER = 1 << 2;
/** Instruction fetches are allowed (the inverse of x86's NX bit). */
export const EXEC = 1 << 3;
/** Set by the MMU when the page is accessed (on the TLB fill). Cleared by page replacement. */
export const ACCESSED = 1 << 4;
/** Set by the MMU on the first write to the page. Cleared when the page is written back. */
export const DIRTY = 1 << 5;
/** Software bit: the page is shared copy-on-write (and so not WRITABLE); a write copies it. */
export const COW = 1 << 6;
/** Software bit: not present, the page is in swap; the high 24 bits are the swap slot. */
export const SWAPPED = 1 << 7;

/** The flag bits: `pte & FLAGS_MASK`. */
export const FLAGS_MASK = 0xff;
/** Where the frame number (or swap slot) starts: `pte >>> FRAME_SHIFT`. */
export const FRAME_SHIFT = 8;
/** Largest frame number (and swap slot) a PTE can hold: 2^24 − 1. */
export const MAX_PTE_FRAME = 0xff_ffff;

/** The permission bits: what a mapping allows. */
export const PERM_MASK = PRESENT | WRITABLE | USER | EXEC;

function checkField(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PTE_FRAME) throw new ArgumentError(`PTE: ${what} must be an integer from 0 to ${MAX_PTE_FRAME}, got ${String(n)}`);
}

/**
 * A present PTE for `frame` with `flags` (PRESENT is added).
 * @param frame - frame number, 0 … 2^24 − 1
 * @param flags - any of WRITABLE, USER, EXEC, ACCESSED, DIRTY, COW
 * @throws ArgumentError when the frame number does not fit 24 bits
 * @example
 * ```ts
 * import { pte } from "vmheap";
 *
 * const e = pte.makePte(7, pte.WRITABLE | pte.USER);
 * console.log(e.toString(16), pte.pteFrame(e), pte.isPresent(e), (e & pte.DIRTY) !== 0); // 707 7 true false
 * // set a flag, clear another (>>> 0 keeps the word unsigned)
 * const cow = pte.pteUpdate(e, pte.COW, pte.WRITABLE);
 * console.log(pte.describePte(cow)); // frame 0x7 P - U - - - C -
 * ```
 */
export function makePte(frame: number, flags: number): number {
  checkField(frame, "frame");
  return ((frame << FRAME_SHIFT) | (flags & FLAGS_MASK & ~SWAPPED) | PRESENT) >>> 0;
}

/**
 * A swap PTE: not present, SWAPPED, holding `slot`. The other flag bits of `flags` are kept (the
 * permissions a page had can ride along), PRESENT is cleared.
 */
export function makeSwapPte(slot: number, flags = 0): number {
  checkField(slot, "swap slot");
  return ((slot << FRAME_SHIFT) | (flags & FLAGS_MASK & ~PRESENT) | SWAPPED) >>> 0;
}

/** The frame number of a present PTE. */
export function pteFrame(pte: number): number {
  return pte >>> FRAME_SHIFT;
}

/** The swap slot of a SWAPPED PTE. */
export function pteSwapSlot(pte: number): number {
  return pte >>> FRAME_SHIFT;
}

/** The flag bits of a PTE. */
export function pteFlags(pte: number): number {
  return pte & FLAGS_MASK;
}

/** `pte` with its frame number replaced by `frame` (flags kept). */
export function pteWithFrame(pte: number, frame: number): number {
  checkField(frame, "frame");
  return ((frame << FRAME_SHIFT) | (pte & FLAGS_MASK)) >>> 0;
}

/** `pte` with the bits of `set` set and those of `clear` cleared. */
export function pteUpdate(pte: number, set: number, clear: number): number {
  return ((pte & ~clear) | set) >>> 0;
}

/** Whether a frame backs the page. */
export function isPresent(pte: number): boolean {
  return (pte & PRESENT) !== 0;
}

/** Whether the page is in swap. */
export function isSwapped(pte: number): boolean {
  return (pte & (SWAPPED | PRESENT)) === SWAPPED;
}

/**
 * A PTE as text, for pictures and test messages: `frame 0x1f P W U - A D - -`,
 * `swap 12 S`, or `none`.
 * @example
 * ```ts
 * import { pte } from "vmheap";
 *
 * console.log(pte.describePte(pte.makePte(0x1f, pte.WRITABLE | pte.USER | pte.DIRTY))); // frame 0x1f P W U - - D - -
 * console.log(pte.describePte(pte.makeSwapPte(12)), pte.describePte(0)); // swap 12 - - - - - - - S none
 * ```
 */
export function describePte(pte: number): string {
  if (pte === 0) return "none";
  const bit = (b: number, c: string): string => ((pte & b) !== 0 ? c : "-");
  const flags = [bit(PRESENT, "P"), bit(WRITABLE, "W"), bit(USER, "U"), bit(EXEC, "X"), bit(ACCESSED, "A"), bit(DIRTY, "D"), bit(COW, "C"), bit(SWAPPED, "S")].join(" ");
  if ((pte & PRESENT) === 0 && (pte & SWAPPED) !== 0) return `swap ${pteSwapSlot(pte)} ${flags}`;
  return `frame 0x${pteFrame(pte).toString(16)} ${flags}`;
}
