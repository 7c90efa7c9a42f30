/** Protection bits for `mmap`/`mprotect` (`<sys/mman.h>`). */
export const PROT_NONE = 0;
/** Pages may be read. */
export const PROT_READ = 1;
/** Pages may be written. */
export const PROT_WRITE = 2;
/** Pages may be executed. */
export const PROT_EXEC = 4;

/** Share the mapping: writes are visible to every mapper of the same file. */
export const MAP_SHARED = 0x01;
/** Private copy-on-write mapping. */
export const MAP_PRIVATE = 0x02;
/** Place the mapping exactly at `addr`, replacing what is there. */
export const MAP_FIXED = 0x10;
/** Not backed by a file: zero-filled on first touch. */
export const MAP_ANONYMOUS = 0x20;
/** Like `MAP_FIXED`, but fail with `EEXIST` instead of replacing. */
export const MAP_FIXED_NOREPLACE = 0x100000;
/** What `mmap` returns on failure (`(void *) -1`). */
export const MAP_FAILED = -1;

/** `mallopt` parameters (glibc `<malloc.h>` numbers). */
export const M_TRIM_THRESHOLD = -1;
/** `mallopt`: bytes kept at the top after growing or trimming. */
export const M_TOP_PAD = -2;
/** `mallopt`: requests at or over this many bytes get their own mapping (where there is a mapping source). */
export const M_MMAP_THRESHOLD = -3;
/** `mallopt`: the most blocks served by their own mapping at once. */
export const M_MMAP_MAX = -4;

/** `madvise` advice (`<sys/mman.h>`, Linux numbers): no special treatment (a hint; accepted, no effect in the model). */
export const MADV_NORMAL = 0;
/** `madvise`: expect random access (a read-ahead hint; accepted, no effect in the model). */
export const MADV_RANDOM = 1;
/** `madvise`: expect sequential access (a read-ahead hint; accepted, no effect in the model). */
export const MADV_SEQUENTIAL = 2;
/** `madvise`: the pages will be needed soon (a read-ahead hint; accepted, no effect in the model). */
export const MADV_WILLNEED = 3;
/**
 * `madvise`: the pages are not needed: their frames (and swap slots) go at once, the mapping
 * stays. The next touch of private anonymous memory is a fresh zero page; a file mapping reads
 * the file again; shared memory keeps its contents.
 */
export const MADV_DONTNEED = 4;
/**
 * `madvise`: private anonymous pages may be freed lazily: they stay until memory is short, and
 * are then dropped instead of swapped (a zero page on the next touch), unless written since.
 */
export const MADV_FREE = 8;

/** `mremap` flag: the mapping may move to a new address when it cannot grow in place. */
export const MREMAP_MAYMOVE = 1;
/** `mremap` flag (with `MREMAP_MAYMOVE`): move the mapping to exactly `newAddr`, replacing what is there. */
export const MREMAP_FIXED = 2;
