/*
 * mremap(2) and madvise(2) on the running kernel: each case prints one line
 *   name ret errno
 * where ret is the result relative to the case's base address ("base+0x2000"), "MAP_FAILED"
 * or a number, then a few lines about what is where afterwards. test/vm/linux.test.ts runs the
 * same cases on the model and compares with the recorded output (record.sh).
 *
 * Build: gcc -O1 -static -o mremap mremap.c   Run: setarch -R ./mremap
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PS 4096UL
/* A quiet place for fixed mappings, far from the program and the mmap area. */
#define BASE ((char *)0x200000000UL)
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void clear(void) { munmap(BASE, 256 * PS); }

static char *fixed(unsigned long off, unsigned long pages, int prot) {
  return mmap(BASE + off * PS, pages * PS, prot, ANON | MAP_FIXED, -1, 0);
}

/* Prints a result: MAP_FAILED with errno, or the address as base+N pages (or absolute). */
static void report(const char *name, void *ret) {
  if (ret == MAP_FAILED) printf("%s MAP_FAILED %s\n", name, strerrorname_np(errno));
  else if ((char *)ret >= BASE && (char *)ret < BASE + 1024 * PS) printf("%s base+%lu 0\n", name, (unsigned long)((char *)ret - BASE) / PS);
  else printf("%s 0x%lx 0\n", name, (unsigned long)ret);
}

static void reporti(const char *name, int ret) {
  if (ret == -1) printf("%s -1 %s\n", name, strerrorname_np(errno));
  else printf("%s %d 0\n", name, ret);
}

/* Which of the pages at base+from .. base+from+n are mapped (1) or not (0): mincore says ENOMEM for unmapped. */
static void mapped(const char *name, unsigned long from, unsigned long n) {
  printf("%s mapped:", name);
  unsigned char v;
  for (unsigned long i = 0; i < n; i++) printf("%d", mincore(BASE + (from + i) * PS, PS, &v) == 0);
  printf("\n");
}

int main(void) {
  errno = 0;
  /* Errors of the arguments. */
  clear();
  fixed(0, 4, RW);
  report("unaligned-old", mremap(BASE + 1, PS, 2 * PS, MREMAP_MAYMOVE));
  report("bad-flags", mremap(BASE, PS, 2 * PS, 0x10));
  report("fixed-without-maymove", mremap(BASE, PS, PS, MREMAP_FIXED, BASE + 64 * PS));
  report("new-size-0", mremap(BASE, PS, 0, MREMAP_MAYMOVE));
  report("unmapped-old", mremap(BASE + 32 * PS, PS, 2 * PS, MREMAP_MAYMOVE));
  report("private-old-size-0", mremap(BASE, 0, PS, MREMAP_MAYMOVE));
  report("fixed-overlap", mremap(BASE, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + PS));
  report("fixed-unaligned-new", mremap(BASE, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 64 * PS + 1));

  /* Growing across two mappings (different protections): EFAULT. */
  clear();
  fixed(0, 2, RW);
  fixed(2, 2, PROT_READ);
  report("grow-across-boundary", mremap(BASE, 4 * PS, 6 * PS, MREMAP_MAYMOVE));
  /* Shrinking across them: allowed, the tail goes. */
  report("shrink-across-boundary", mremap(BASE, 4 * PS, PS, 0));
  mapped("shrink-across-boundary", 0, 4);

  /* Shrink in place: the tail is unmapped, the head keeps its data. */
  clear();
  char *p = fixed(0, 4, RW);
  p[0] = 7;
  p[3 * PS] = 9;
  report("shrink", mremap(p, 4 * PS, 2 * PS, 0));
  mapped("shrink", 0, 4);
  printf("shrink data %d\n", p[0]);

  /* Same size: the address back, nothing moves. */
  report("same-size", mremap(p, 2 * PS, 2 * PS, 0));

  /* Grow in place: the next pages are free. */
  report("grow-in-place", mremap(p, 2 * PS, 5 * PS, 0));
  mapped("grow-in-place", 0, 6);
  printf("grow-in-place data %d %d\n", p[0], p[4 * PS]);

  /* Grow when the next page is taken: ENOMEM without MREMAP_MAYMOVE, a move with it. */
  fixed(5, 1, PROT_READ);
  report("grow-blocked", mremap(p, 5 * PS, 8 * PS, 0));
  /* Where a fresh 8-page mapping would go is where the move goes. */
  char *probe = mmap(0, 8 * PS, RW, ANON, -1, 0);
  munmap(probe, 8 * PS);
  char *q = mremap(p, 5 * PS, 8 * PS, MREMAP_MAYMOVE);
  printf("grow-moves %s\n", q == probe ? "where-mmap-would-place" : "elsewhere");
  printf("grow-moves data %d\n", q[0]);
  mapped("grow-moves-old", 0, 6);

  /* The middle of a mapping, grown: it cannot grow in place (the rest follows), so it moves. */
  clear();
  p = fixed(0, 6, RW);
  p[2 * PS] = 5;
  report("middle-grow-no-move", mremap(p + 2 * PS, 2 * PS, 3 * PS, 0));
  q = mremap(p + 2 * PS, 2 * PS, 3 * PS, MREMAP_MAYMOVE);
  printf("middle-grow data %d\n", q[0]);
  mapped("middle-grow-old", 0, 6);
  munmap(q, 3 * PS);

  /* MREMAP_FIXED: to exactly that address, replacing what is there. */
  clear();
  p = fixed(0, 2, RW);
  p[0] = 3;
  fixed(64, 4, PROT_READ);
  report("fixed-move", mremap(p, 2 * PS, 3 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 64 * PS));
  mapped("fixed-move", 62, 6);
  printf("fixed-move data %d\n", BASE[64 * PS]);
  /* MREMAP_FIXED shrinking while moving. */
  report("fixed-shrink", mremap(BASE + 64 * PS, 3 * PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 8 * PS));
  mapped("fixed-shrink", 64, 4);
  mapped("fixed-shrink-new", 7, 3);

  /* Shared anonymous memory: old size 0 maps the same pages a second time. */
  clear();
  p = mmap(BASE, 2 * PS, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  p[5] = 42;
  q = mremap(p, 0, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 16 * PS);
  report("shared-duplicate", q);
  q[6] = 43;
  printf("shared-duplicate data %d %d\n", q[5], p[6]);

  /* madvise */
  clear();
  p = fixed(0, 4, RW);
  memset(p, 1, 4 * PS);
  reporti("madvise-unaligned", madvise(p + 1, PS, MADV_DONTNEED));
  reporti("madvise-bad-advice", madvise(p, PS, 12345));
  reporti("madvise-unmapped", madvise(BASE + 32 * PS, PS, MADV_DONTNEED));
  reporti("madvise-length-0-unmapped", madvise(BASE + 32 * PS, 0, MADV_DONTNEED));
  reporti("madvise-dontneed", madvise(p + PS, 2 * PS, MADV_DONTNEED));
  printf("madvise-dontneed data %d %d %d %d\n", p[0], p[PS], p[2 * PS], p[3 * PS]);
  p[0] = 1;
  reporti("madvise-hole", madvise(p, 6 * PS, MADV_DONTNEED));
  printf("madvise-hole data %d\n", p[0]);
  reporti("madvise-free", madvise(p, 4 * PS, MADV_FREE));
  char *s = mmap(BASE + 16 * PS, PS, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  reporti("madvise-free-shared", madvise(s, PS, MADV_FREE));

  /* Ranges that wrap around the top of the 64-bit address space, and one far above user space. */
  char *top = (char *)-PS;
  reporti("madvise-wrap", madvise(top, 2 * PS, MADV_DONTNEED));
  reporti("mprotect-wrap", mprotect(top, 2 * PS, PROT_READ));
  reporti("mprotect-top-page", mprotect(top, PS, PROT_READ));
  reporti("mprotect-beyond-user-space", mprotect((char *)(1UL << 60), PS, PROT_READ));
  return 0;
}
