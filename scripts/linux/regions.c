/*
 * How mmap, munmap and mprotect split and merge regions, as /proc/self/maps shows them: each
 * step prints its result (and errno when it failed), then the maps lines that lie in the window
 * 0x10000000-0x40000000 that the steps use (nothing else is mapped there in a static program).
 *
 * Build: gcc -O1 -static -o regions regions.c   Run: setarch -R ./regions FILE   (FILE: a scratch path)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096L
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define LO 0x10000000UL
#define HI 0x40000000UL

static char buf[1 << 16];

static void window(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  long n = 0, r;
  while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  buf[n] = 0;
  for (char *line = buf; *line;) {
    char *end = strchr(line, '\n');
    unsigned long start = strtoul(line, 0, 16);
    if (start >= LO && start < HI) printf("%.*s\n", (int)(end - line), line);
    line = end + 1;
  }
}

static void step(const char *label, long r) {
  if (r == -1) printf("== %s -1 errno %d\n", label, errno);
  else printf("== %s %lx\n", label, (unsigned long)r);
  window();
}

static long map(unsigned long addr, long len, int prot, int flags, int fd, long off) {
  return (long)mmap((void *)addr, len, prot, flags, fd, off);
}

int main(int argc, char **argv) {
  if (argc != 2) { fputs("usage: regions FILE\n", stderr); return 2; }
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (ftruncate(fd, 8 * P) != 0) { perror("ftruncate"); return 1; }
  setvbuf(stdout, 0, _IOFBF, 1 << 16);

  step("map-3-pages", map(0x10000000, 3 * P, RW, ANON | MAP_FIXED, -1, 0));
  step("fixed-readonly-over-middle", map(0x10001000, P, PROT_READ, ANON | MAP_FIXED, -1, 0));
  step("fixed-rw-over-middle-merges", map(0x10001000, P, RW, ANON | MAP_FIXED, -1, 0));
  step("munmap-middle", munmap((void *)0x10001000, P));
  step("map-into-hole-merges", map(0x10001000, P, RW, ANON | MAP_FIXED, -1, 0));
  step("mprotect-middle", mprotect((void *)0x10001000, P, PROT_READ | PROT_EXEC));
  step("mprotect-first-none", mprotect((void *)0x10000000, P, PROT_NONE));
  step("mprotect-all-back", mprotect((void *)0x10000000, 3 * P, RW));
  step("length-1-rounds-up", map(0x11000000, 1, RW, ANON | MAP_FIXED, -1, 0));
  step("adjacent-below-merges", map(0x10fff000, P, RW, ANON | MAP_FIXED, -1, 0));
  step("adjacent-other-prot-stays", map(0x11001000, P, PROT_READ, ANON | MAP_FIXED, -1, 0));
  step("munmap-across-two-and-a-hole", munmap((void *)0x10002000, 0x11000000 - 0x10002000 + P));
  step("fixed-over-two-regions", map(0x10fff000, 3 * P, PROT_READ | PROT_EXEC, ANON | MAP_FIXED, -1, 0));
  step("shared-anon", map(0x12000000, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  step("private-anon-beside-shared-stays", map(0x12002000, P, RW, ANON | MAP_FIXED, -1, 0));
  step("file-private", map(0x13000000, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, P));
  step("file-private-next-offset-merges", map(0x13002000, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 3 * P));
  step("file-private-gap-in-offset-stays", map(0x13003000, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 6 * P));
  step("file-shared", map(0x13100000, P, RW, MAP_SHARED | MAP_FIXED, fd, 0));
  step("file-offset-unaligned", map(0x13200000, P, PROT_READ, MAP_PRIVATE, fd, 100));
  step("file-mprotect-middle", mprotect((void *)0x13001000, P, RW));
  step("file-munmap-first-page", munmap((void *)0x13000000, P));
  step("mprotect-hole", mprotect((void *)0x10fff000, 0x12000000 - 0x10fff000 + P, PROT_READ));
  step("munmap-unaligned-length", munmap((void *)0x12000000, 1));
  close(fd);
  unlink(argv[1]);
  return 0;
}
