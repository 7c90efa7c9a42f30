/**
 * Size classes of free chunks: exact small bins, then TLSF-style classes for large chunks.
 *
 * ```text
 *  chunk size            bin index
 *  < 64·A (1 KiB)        size >> log2(A)              exact: every chunk in the bin has this size
 *  ≥ 64·A                64 + (fl − FL0)·16 + sl      fl = floor(log2 size), sl = next 4 bits
 * ```
 * A two-level bitmap (one bit per bin, one summary bit per 32 bins) finds the first non-empty
 * bin at or above an index with two `clz32`s, so every search is O(1) whatever the number of
 * free chunks. Large requests round their index up (TLSF's "good fit"), so any chunk of the bin
 * found fits without a scan.
 */

/** Exact small bins (indices 0..63; the first few are never used: below the minimum chunk). */
export const SMALL_BINS = 64;
/** log2 of the number of subclasses per power of two among large chunks. */
export const SL_BITS = 4;
/** Subclasses per power of two. */
export const SL_COUNT = 1 << SL_BITS;

/** Bins for a data model whose alignment is `2^granuleShift`. */
export function binCount(granuleShift: number): number {
  const fl0 = granuleShift + 6; // log2(64 * A)
  return SMALL_BINS + (32 - fl0) * SL_COUNT;
}

/** Bin of a free chunk of `size` bytes (`size` a multiple of the alignment). */
export function binIndex(size: number, granuleShift: number): number {
  const fl0 = granuleShift + 6;
  if (size < 1 << fl0) return size >>> granuleShift;
  const fl = 31 - Math.clz32(size);
  return SMALL_BINS + ((fl - fl0) << SL_BITS) + ((size >>> (fl - SL_BITS)) & (SL_COUNT - 1));
}

/** First bin all of whose chunks are at least `size` bytes (large sizes round up). */
export function fitIndex(size: number, granuleShift: number): number {
  const fl0 = granuleShift + 6;
  if (size < 1 << fl0) return size >>> granuleShift;
  const fl = 31 - Math.clz32(size);
  return binIndex(size + (1 << (fl - SL_BITS)) - 1, granuleShift);
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
export function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}
