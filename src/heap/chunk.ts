/**
 * Chunk layout: boundary tags in the style of dlmalloc/glibc, drawn here once.
 *
 * W is the size of a size field: 8 bytes in the 64-bit data model (the default, like x86-64
 * glibc), 4 in the 32-bit ones. Chunks are multiples of the alignment A (2·W, or 16 in the
 * wasm32 model), start 2·W below a multiple of A (so that the payload p is A-aligned: at
 * multiples of A when 2·W = A, 8 past one in wasm32), and are at least 4·W bytes rounded up to A
 * (32 / 16 / 16). The heap never spans more than 2 GiB, so every size and address fits the low
 * 32 bits of a field; the high half of an 8-byte field is zero.
 *
 * ```text
 *   chunk c ─▶ ┌──────────────────────────────────────────────┐
 *              │ prev_size  (W)  size of the previous chunk,  │  meaningful only while the
 *              │                 when that chunk is free      │  previous chunk is free
 *              ├──────────────────────────────────────┬───┬───┤
 *              │ size (W)  multiple of A              │ P │ C │  C = CINUSE: this chunk in use
 *   p = c+2W ─▶├──────────────────────────────────────┴───┴───┤  P = PINUSE: previous in use
 *              │ in use: payload ...                          │
 *              │ free:   fd (W) · bk (W) · unused ...         │  fd/bk: links of its bin
 *   c + size ─▶├──────────────────────────────────────────────┤
 *              │ next chunk's prev_size: the footer (= size)  │  in use: the last W payload
 *              │ when c is free, payload when c is in use     │  bytes, so usable = size − W
 *              └──────────────────────────────────────────────┘
 * ```
 *
 * Invariants (all checked by `Heap.check()`):
 * - chunks tile `[arena, top)` exactly, and the top chunk runs from `top` to the heap's end;
 * - no two free chunks are adjacent (frees coalesce at once), and the chunk before top is in use;
 * - PINUSE of every chunk equals CINUSE of the chunk before it; the first chunk has PINUSE set;
 * - a free chunk's footer equals its size, and it sits in exactly the bin of its size class;
 * - the chunk map (below) marks exactly the chunk starts and sizes the chunks have: it is the
 *   authority every call consults, so bytes a program writes cannot pass for a header.
 *
 * The chunk map: two bits per granule (A bytes), 16 granules to a 32-bit word, in a chunk of the
 * heap that a program's writes cannot reach (no pointer into it is ever handed out, and
 * overflowing into it means overflowing its header first, which is checked).
 *
 * ```text
 *  pair (bits 2i+1..2i of word g >>> 4, i = g & 15)   at the first granule g of
 *    3  MARK_USED                                      a block in use, or the map's own chunk
 *    1  MARK_FREE                                      a free chunk (in a bin, or the designated victim)
 *    0                                                 any other granule, and the top chunk
 *  a chunk of n >= SIZE_WORD_GRANULES granules whose first granule is in word w:
 *    word w + 1 (wholly inside the chunk) = n << 2 | SIZE_TAG    its size word
 * ```
 * Pair value 2 never marks a granule, so a word whose low pair is 2 is a size word. A claimed
 * size is checked in O(1): a chunk under SIZE_WORD_GRANULES has no mark inside it and a chunk
 * start right after it (at most three words); a bigger one is the last start of its word and
 * its size word says n. So a free chunk, a free neighbour, the designated victim and a block
 * being freed are known to be what their headers claim before anything is written, whatever
 * bytes a program left in freed or live memory.
 */

/** CINUSE: this chunk is in use (allocated, or the heap's own bitmap). */
export const CINUSE = 1;
/** PINUSE: the chunk before this one is in use. */
export const PINUSE = 2;
/** IS_MMAPPED: the chunk has a mapping of its own (a process heap's big blocks; never in a bin). */
export const IS_MMAPPED = 4;
/** Low bits of a size field that are flags, not size. */
export const FLAG_BITS = 7;

/** Chunk-map pair at the first granule of a block in use (and of the map's own chunk). */
export const MARK_USED = 3;
/** Chunk-map pair at the first granule of a free chunk. */
export const MARK_FREE = 1;
/** Low pair of a size word in the chunk map (a pair value no granule has). */
export const SIZE_TAG = 2;
/** Chunks of at least this many granules keep their size in the chunk map's next word. */
export const SIZE_WORD_GRANULES = 32;

/** The numbers a data model fixes. */
export interface Layout {
  /** Bytes in a size field and in a pointer (8 or 4). */
  readonly W: number;
  /** Alignment of every returned pointer and multiple of every chunk size: 2·W, or 16 in wasm32. */
  readonly align: number;
  /** `align - 1`. */
  readonly alignMask: number;
  /** log2(align): granule shift of the in-use bitmap (one bit per `align` bytes). */
  readonly granuleShift: number;
  /** Smallest chunk: 4·W (room for the header and the two links of a free chunk), a multiple of `align`. */
  readonly minChunk: number;
}

/** The 64-bit data model (LP64): 8-byte fields, 16-byte alignment, 32-byte minimum chunk. */
export const LP64: Layout = { W: 8, align: 16, alignMask: 15, granuleShift: 4, minChunk: 32 };
/** The 32-bit data model (ILP32): 4-byte fields, 8-byte alignment, 16-byte minimum chunk. */
export const ILP32: Layout = { W: 4, align: 8, alignMask: 7, granuleShift: 3, minChunk: 16 };
/**
 * The data model of clang's wasm32 target, and the layout of wasi-libc's dlmalloc: 4-byte fields
 * and pointers, 16-byte alignment (`alignof(max_align_t)` is 16 there: `long double` is 16
 * bytes), 16-byte minimum chunk, 4 bytes of overhead per block. Chunks start 8 bytes past a
 * multiple of 16, so that payloads are 16-aligned.
 */
export const WASM32: Layout = { W: 4, align: 16, alignMask: 15, granuleShift: 4, minChunk: 16 };

/**
 * Largest request the heap accepts, in bytes: the heap never spans 2 GiB, so a size this close
 * to it is refused up front (`ENOMEM`) and sizes stay in 31-bit integer arithmetic.
 */
export const MAX_REQUEST = 0x7fff_0000;
