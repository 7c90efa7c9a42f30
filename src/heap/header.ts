/**
 * The heap header: the first bytes at `base`, then the bin heads. All allocator state lives
 * here and in the chunks, never in JavaScript objects, so a second `Heap` attached to the same
 * memory sees the same heap and a copy of the bytes is a snapshot of it. Word offsets:
 */
export const H_MAGIC = 0; // "vmhp"
export const H_CONFIG = 1; // layout version | data model << 8 | flags << 16
export const H_LOCK = 2; // futex word for concurrent heaps: 0 free, 1 held, 2 held with waiters
export const H_HDR = 3; // address of this header (sanity)
export const H_ARENA = 4; // first chunk (the in-use bitmap's chunk)
export const H_TOP = 5; // top chunk: runs from here to H_END
export const H_END = 6; // end of the heap's memory from the break
export const H_BRK = 7; // the break itself (a linear memory's Brk keeps it here)
export const H_BRK_START = 8; // where the break started: footprint counts from here
export const H_MAXFOOT = 9; // high-water mark of the footprint
export const H_MMAP_BYTES = 10; // bytes in mmapped blocks
export const H_MMAP_COUNT = 11; // mmapped blocks
export const H_TRIM = 12; // trim threshold (M_TRIM_THRESHOLD)
export const H_TOPPAD = 13; // M_TOP_PAD
export const H_MMAP_THRESHOLD = 14; // M_MMAP_THRESHOLD
export const H_MMAP_MAX = 15; // M_MMAP_MAX
export const H_BITMAP = 16; // payload address of the in-use bitmap
export const H_COVER = 17; // bytes of arena (from H_ARENA) the bitmap covers
export const H_LIMIT = 18; // highest break allowed
export const H_SUMMARY = 19; // one bit per word of the bin bitmap
export const H_DV = 20; // the designated victim: the last split's remainder, a free chunk kept out of the bins (0: none)
export const H_BINMAP = 21; // bin bitmap words follow; bin heads after them
export const MAGIC = 0x70686d76;
export const VERSION = 2;
export const FLAG_CONCURRENT = 1;
