/**
 * The `errno` values vmheap sets, with Linux's numbers (`<asm-generic/errno-base.h>`).
 *
 * Functions that in C return a pointer return `0` (NULL) on failure and set the owner's
 * `errno`; functions that return `int` return `-1`. These are the numbers they set.
 */
export const Errno = {
  /** Operation not permitted. */
  EPERM: 1,
  /** Bad file descriptor (a file mapping without a file). */
  EBADF: 9,
  /** Cannot allocate memory. */
  ENOMEM: 12,
  /** Permission denied. */
  EACCES: 13,
  /** Bad address. */
  EFAULT: 14,
  /** File exists (`MAP_FIXED_NOREPLACE` over an existing mapping). */
  EEXIST: 17,
  /** Invalid argument. */
  EINVAL: 22,
  /** Value too large (`nmemb * size` overflow is reported as ENOMEM by glibc, kept for completeness). */
  EOVERFLOW: 75,
} as const;

/** A value of {@link Errno}. */
export type ErrnoValue = (typeof Errno)[keyof typeof Errno];

/**
 * The symbolic name of an errno value (`12` → `"ENOMEM"`), or `"E?"` for an unknown one.
 * @example
 * ```ts
 * import { Errno, Heap, errnoName } from "vmheap";
 *
 * const heap = new Heap();
 * heap.malloc(-1);
 * console.log(heap.errno, errnoName(heap.errno), errnoName(Errno.EINVAL), errnoName(99)); // 12 ENOMEM EINVAL E?99
 * ```
 */
export function errnoName(errno: number): string {
  // A search rather than a table built at load time: a module with no top-level statements
  // is dropped whole by bundlers when unused (a heap-only import does not call this).
  for (const name in Errno) if (Errno[name as keyof typeof Errno] === errno) return name;
  return `E?${errno}`;
}
