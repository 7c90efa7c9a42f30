/*
 * Which maps lines Linux calls [heap] and [stack]: it names them by position, not by how they
 * were made. Any private anonymous region between start_brk and the break is [heap] (also one
 * mapped there with MAP_FIXED, and it merges with the heap's pieces); only the region holding
 * the initial stack pointer is [stack] (a part of the stack cut off from it has no name).
 * Heap lines are printed relative to the break at main (b0), cut at b0 from below (the C
 * runtime's startup grew the heap before main); stack lines as they are.
 *
 * Build: gcc -O1 -static -o names names.c   Run: setarch -R ./names
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096L

static char buf[1 << 16];
static unsigned long b0;

static void maps(const char *title) {
  int fd = open("/proc/self/maps", O_RDONLY);
  long n = 0, r;
  while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  buf[n] = 0;
  printf("== %s\n", title);
  for (char *line = buf; *line;) {
    char *end = strchr(line, '\n');
    *end = 0;
    char *rest;
    unsigned long lo = strtoul(line, &rest, 16), hi = strtoul(rest + 1, &rest, 16);
    char perms[5] = {0};
    memcpy(perms, rest + 1, 4);
    char *name = strlen(line) > 73 ? line + 73 : "";
    if (hi > b0 && lo < b0 + 16 * P) printf("+%lx-+%lx %s %s\n", (lo > b0 ? lo : b0) - b0, hi - b0, perms, name);
    else if (lo >= 0x7ffffff00000UL && lo < 0x800000000000UL) printf("%lx-%lx %s %s\n", lo, hi, perms, name);
    line = end + 1;
  }
}

int main(void) {
  setvbuf(stdout, 0, _IOFBF, 1 << 16);
  b0 = (unsigned long)sbrk(0);
  char *b = (char *)b0;
  sbrk(8 * P);
  maps("heap grown 8 pages");
  mmap(b + 2 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  maps("fixed read-only page inside the heap");
  munmap(b + 4 * P, P);
  maps("hole inside the heap");
  mprotect(b + 2 * P, P, PROT_READ | PROT_WRITE);
  maps("the heap page made read-write again");
  mmap(b + 4 * P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  maps("hole filled read-write");
  mmap((void *)0x7ffffffe0000, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  maps("fixed read-only page low in the stack");
  mprotect((void *)0x7ffffffe0000, P, PROT_READ | PROT_WRITE);
  maps("the stack page made read-write again");
  return 0;
}
