/**
 * glibc 2.36's chunk and bin arithmetic on x86-64 (`SIZE_SZ` 8, `MALLOC_ALIGNMENT` 16), as
 * malloc.c defines it. Everything here is a pure function of sizes.
 *
 * ```text
 *  chunk ─▶ ┌──────────────────────────────────────────┐
 *           │ prev_size: size of the previous chunk,   │  only meaningful when P = 0
 *           │   or user data of the previous chunk     │
 *           ├──────────────────────────────────────┬─┬─┤
 *           │ size (multiple of 16)                │M│P│  A (4) = NON_MAIN_ARENA, M (2) =
 *  mem ──▶  ├──────────────────────────────────────┴─┴─┤  IS_MMAPPED, P (1) = PREV_INUSE
 *           │ fd  (free: next in bin; tcache/fastbin:  │
 *           │      PROTECT_PTR(&fd, next))             │
 *           │ bk  (free: previous in bin; tcache: key) │
 *           │ fd_nextsize, bk_nextsize (large bins)    │
 *           ┆ ...                                      ┆
 *  next ─▶  │ prev_size = size while this one is free  │  (set_foot)
 *           └──────────────────────────────────────────┘
 * ```
 * A chunk in use owns its next chunk's prev_size word (`malloc_usable_size` = size − 8);
 * a mapped chunk does not (size − 16). Bins: 1 unsorted, 2…63 small (one size each, 16
 * apart, below 1024 bytes), 64…126 large (ranges, kept sorted with a skip list of sizes).
 * tcache bins and fastbins hold chunks still marked in use, singly linked with safe-linking.
 */

/** `SIZE_SZ`: bytes of a size field. */
export const SIZE_SZ = 8;
/** `CHUNK_HDR_SZ`: prev_size + size. */
export const CHUNK_HDR_SZ = 16;
/** `MALLOC_ALIGNMENT`. */
export const MALLOC_ALIGNMENT = 16;
export const MALLOC_ALIGN_MASK = 15;
/** `MINSIZE`: the smallest chunk (header, fd, bk). */
export const MINSIZE = 32;

/** Size-word flag: the previous chunk is in use. */
export const PREV_INUSE = 1;
/** Size-word flag: the chunk has a mapping of its own. */
export const IS_MMAPPED = 2;
/** Size-word flag: the chunk belongs to a thread arena, not the main arena. */
export const NON_MAIN_ARENA = 4;
export const SIZE_BITS = 7;

/** `NBINS`: bin 0 is unused, 1 is unsorted, 2–63 small, 64–126 large. */
export const NBINS = 128;
export const NSMALLBINS = 64;
/** `MIN_LARGE_SIZE`: the first chunk size kept in a large bin. */
export const MIN_LARGE_SIZE = 1024;
/** `NFASTBINS`: fastbin_index(request2size(MAX_FAST_SIZE)) + 1. */
export const NFASTBINS = 10;
/** `MAX_FAST_SIZE`: the largest `M_MXFAST` accepted (80 · SIZE_SZ / 4). */
export const MAX_FAST_SIZE = 160;
/** `DEFAULT_MXFAST`: 64 · SIZE_SZ / 4 bytes of request. */
export const DEFAULT_MXFAST = 128;
/** `FASTBIN_CONSOLIDATION_THRESHOLD`: a free that leaves a chunk this big consolidates fastbins. */
export const FASTBIN_CONSOLIDATION_THRESHOLD = 65536;
/** `BINMAPSIZE`: 32-bit words of the binmap. */
export const BINMAPSIZE = 4;

/** tcache: `TCACHE_MAX_BINS` bins of `TCACHE_FILL_COUNT` chunks. */
export const TCACHE_MAX_BINS = 64;
export const TCACHE_FILL_COUNT = 7;
/** `MAX_TCACHE_COUNT`: the most `tcache_count` may be set to (counts are uint16). */
export const MAX_TCACHE_COUNT = 65535;
/** sizeof(tcache_perthread_struct): uint16 counts[64] then pointers entries[64]. */
export const TCACHE_STRUCT_SIZE = 2 * TCACHE_MAX_BINS + 8 * TCACHE_MAX_BINS;

/** `DEFAULT_TOP_PAD` (sysdeps/generic/malloc-machine.h): 128 KiB. */
export const DEFAULT_TOP_PAD = 128 * 1024;
/** `DEFAULT_MMAP_THRESHOLD_MIN` (the default threshold) and `_MAX` (the dynamic ceiling). */
export const DEFAULT_MMAP_THRESHOLD = 128 * 1024;
export const DEFAULT_MMAP_THRESHOLD_MAX = 4 * 1024 * 1024 * 8;
export const DEFAULT_TRIM_THRESHOLD = 128 * 1024;
export const DEFAULT_MMAP_MAX = 65536;
/** `MMAP_AS_MORECORE_SIZE`: the least mapped when `sbrk` fails and mmap stands in. */
export const MMAP_AS_MORECORE_SIZE = 1024 * 1024;
/**
 * `PTRDIFF_MAX` (2^63 − 1) as a number: it rounds to 2^63. Requests above it fail at once; for
 * integers that is `>= 2 ** 63`, which a double tells exactly (`> PTRDIFF_MAX` would let 2^63 pass).
 */
export const PTRDIFF_MAX = 2 ** 63 - 1;

/** mallopt parameters (malloc.h). */
export const M_MXFAST = 1;
export const M_CHECK_ACTION = -5;
export const M_PERTURB = -6;
export const M_ARENA_TEST = -7;
export const M_ARENA_MAX = -8;

/** sizeof(struct malloc_state) in 2.36; offsets of the fields the chunks point at. */
export const ARENA_SIZE = 0x898;
export const ARENA_FASTBINS = 0x10;
export const ARENA_TOP = 0x60;
export const ARENA_LAST_REMAINDER = 0x68;

/**
 * `checked_request2size`: the chunk size for a request of `req` bytes, or 0 when it exceeds
 * `PTRDIFF_MAX` (or is not a size at all).
 */
export function checkedRequest2size(req: number): number {
  if (!(req >= 0) || req >= 2 ** 63) return 0;
  return request2size(req);
}

/** `request2size`: request + SIZE_SZ, rounded up to 16, at least MINSIZE. */
export function request2size(req: number): number {
  const n = req + SIZE_SZ + MALLOC_ALIGN_MASK;
  return n < MINSIZE ? MINSIZE : n - (n % 16);
}

/** `csize2tidx`: the tcache bin of a chunk size. */
export function csize2tidx(x: number): number {
  return Math.floor((x - MINSIZE + MALLOC_ALIGNMENT - 1) / MALLOC_ALIGNMENT);
}

/** `tidx2usize`: the largest request a tcache bin serves. */
export function tidx2usize(idx: number): number {
  return idx * MALLOC_ALIGNMENT + MINSIZE - SIZE_SZ;
}

/** `fastbin_index` (sizes are at most MAX_FAST_SIZE + flags here). */
export function fastbinIndex(sz: number): number {
  return ((sz >>> 0) >>> 4) - 2;
}

/** `in_smallbin_range`. */
export function inSmallbinRange(sz: number): boolean {
  return sz < MIN_LARGE_SIZE;
}

/** `smallbin_index`. */
export function smallbinIndex(sz: number): number {
  return (sz >>> 0) >>> 4;
}

/** `largebin_index_64`: 32 bins 64 apart, 16 of 512, 8 of 4096, 4 of 32 KiB, 2 of 256 KiB, 1 for the rest. */
export function largebinIndex(sz: number): number {
  const q = (k: number): number => Math.floor(sz / 2 ** k);
  if (q(6) <= 48) return 48 + q(6);
  if (q(9) <= 20) return 91 + q(9);
  if (q(12) <= 10) return 110 + q(12);
  if (q(15) <= 4) return 119 + q(15);
  if (q(18) <= 2) return 124 + q(18);
  return 126;
}

/** `bin_index`. */
export function binIndex(sz: number): number {
  return inSmallbinRange(sz) ? smallbinIndex(sz) : largebinIndex(sz);
}

/** `set_max_fast`: the largest chunk size kept in fastbins for an `M_MXFAST` of `s` bytes. */
export function maxFastFor(s: number): number {
  return s <= MALLOC_ALIGN_MASK - SIZE_SZ ? MINSIZE / 2 : (s + SIZE_SZ) & ~MALLOC_ALIGN_MASK;
}

/** Whether `x` is a power of two (`powerof2`: 0 counts, as in glibc's macro). */
export function powerof2(x: number): boolean {
  if (x === 0) return true;
  return Number.isInteger(Math.log2(x)) && 2 ** Math.log2(x) === x;
}

/** `(a ^ b)` for non-negative integers below 2^53 (JS's `^` keeps only 32 bits). */
export function xor53(a: number, b: number): number {
  const TWO32 = 4294967296;
  const al = a % TWO32;
  const bl = b % TWO32;
  return ((al ^ bl) >>> 0) + (((Math.floor(a / TWO32) ^ Math.floor(b / TWO32)) >>> 0) * TWO32);
}

/** `PROTECT_PTR(pos, ptr)`: safe-linking, `(pos >> 12) ^ ptr`. Also `REVEAL_PTR` with pos = the field's address. */
export function protectPtr(pos: number, ptr: number): number {
  return xor53(Math.floor(pos / 4096), ptr);
}
