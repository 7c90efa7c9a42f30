/*
 * Where mmap(2) puts a mapping when the caller's address is a hint (no MAP_FIXED), and the
 * errors of mmap, munmap and mprotect that vm.md lists: built static by record.sh and run
 * under `setarch -R`, so that the addresses are the ones of a fresh static process (nothing
 * is mapped between the heap and the vdso).
 *
 * Each line: a label, then the result (an address in hex, or -1) and errno (0 on success).
 * No malloc or stdio before the mmaps: the output is built in a static buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

static char out[16384];
static int len;

static void line(const char *label, long r) {
  len += snprintf(out + len, sizeof out - len, "%s %lx %d\n", label, (unsigned long)r, r == -1 ? errno : 0);
  errno = 0;
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define P 4096L

static long map(long addr, long length, int prot, int flags) {
  void *r = mmap((void *)addr, length, prot, flags, -1, 0);
  return r == MAP_FAILED ? -1 : (long)r;
}

int main(void) {
  errno = 0;
  /* Hints */
  line("first-null", map(0, P, RW, ANON));
  line("hint-free", map(0x10000000, P, RW, ANON));
  line("hint-taken", map(0x10000000, P, RW, ANON));
  line("hint-unaligned", map(0x10002800, P, RW, ANON));
  line("hint-overlaps-end", map(0x0ffff000, 2 * P, RW, ANON));
  line("hint-zero-page", map(0, P, RW, ANON));
  line("hint-beyond-task", map(0x800000000000L, P, RW, ANON));
  line("hint-runs-past-task", map(0x7ffffffff000L - P, 4 * P, RW, ANON));
  line("hint-in-stack-gap", map(0x7ffffffde000L - 2 * P, P, RW, ANON));
  line("null-big", map(0, 100 * P, PROT_READ, ANON));
  line("null-after-munmap-hole", (munmap((void *)0x7ffff7ff3000L, P), map(0, P, RW, ANON)));
  line("null-two-pages-hole-too-small", map(0, 2 * P, RW, ANON));
  /* MAP_FIXED_NOREPLACE */
  line("noreplace-free", map(0x20000000, P, RW, ANON | MAP_FIXED_NOREPLACE));
  line("noreplace-taken", map(0x20000000, P, RW, ANON | MAP_FIXED_NOREPLACE));
  line("noreplace-unaligned", map(0x20000800, P, RW, ANON | MAP_FIXED_NOREPLACE));
  line("noreplace-partial", map(0x1ffff000, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE));
  /* Errors */
  line("len0", map(0, 0, RW, ANON));
  line("no-type", map(0, P, RW, MAP_ANONYMOUS));
  line("both-types", map(0, P, RW, MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED));
  line("fixed-unaligned", map(0x30000001, P, RW, ANON | MAP_FIXED));
  line("fixed-beyond-task", map(0x800000000000L, P, RW, ANON | MAP_FIXED));
  line("huge", map(0, 1L << 47, RW, ANON | MAP_NORESERVE));
  line("munmap-unaligned", munmap((void *)0x20000800, P));
  line("munmap-len0", munmap((void *)0x20000000, 0));
  line("munmap-nothing", munmap((void *)0x50000000, 10 * P));
  line("munmap-beyond-task", munmap((void *)0x800000000000L, P));
  line("munmap-len-past-task", munmap((void *)0x7ffffffff000L, 2 * P));
  line("mprotect-unaligned", mprotect((void *)0x20000800, P, PROT_READ));
  line("mprotect-len0", mprotect((void *)0x20000000, 0, PROT_READ));
  line("mprotect-len0-unmapped", mprotect((void *)0x50000000, 0, PROT_READ));
  line("mprotect-bad-bits", mprotect((void *)0x20000000, P, 0x80));
  line("mprotect-unmapped", mprotect((void *)0x50000000, P, PROT_READ));
  line("mprotect-hole-after", mprotect((void *)0x20000000, 2 * P, PROT_READ));
  line("mprotect-unaligned-len", mprotect((void *)0x10000000, 1, PROT_READ));
  write(1, out, len);
  int fd = open("/proc/self/maps", 0);
  char buf[8192];
  ssize_t n;
  write(1, "== maps\n", 8);
  while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, n);
  return 0;
}
