/*
 * The top of an x86-64 process's user space: it ends at 0x7ffffffff000 (TASK_SIZE_MAX, one
 * page below 2^47), where the stack ends, so the page above the stack can be neither mapped
 * nor unmapped. Each line: a case, the result (hex, or ffffffffffffffff) and errno.
 *
 * Build: gcc -O1 -static -o task-top task-top.c   Run: setarch -R ./task-top
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#define P 4096L
#define TOP 0x7ffffffff000L

static void line(const char *label, long r) {
  printf("%s %lx %d\n", label, (unsigned long)r, r == -1 ? errno : 0);
  errno = 0;
}

static long map(long addr, int flags) { return (long)mmap((void *)addr, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0); }

int main(void) {
  line("fixed-top-page", map(TOP, MAP_FIXED));
  line("noreplace-top-page", map(TOP, MAP_FIXED_NOREPLACE));
  line("hint-top-page", map(TOP, 0) != -1 ? 0 : -1);
  line("munmap-top-page", munmap((void *)TOP, P));
  line("mprotect-top-page", mprotect((void *)TOP, P, PROT_READ));
  line("munmap-stack-top-page-and-beyond", munmap((void *)(TOP - P), 2 * P));
  return 0;
}
