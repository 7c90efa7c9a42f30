/*
 * Why a program's relro keeps a maps line of its own: a private file mapping made writable and
 * then read-only again does not merge back with its never-writable neighbours (Linux keeps
 * VM_ACCOUNT on it). Prints "start-end perms offset" of the file's lines after each step.
 *
 * Build: gcc -O1 -o relro-merge relro-merge.c   Run: setarch -R ./relro-merge FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *path;

static void show(const char *step) {
  static char b[65536];
  int fd = open("/proc/self/maps", O_RDONLY);
  ssize_t n, t = 0;
  while ((n = read(fd, b + t, sizeof b - 1 - t)) > 0) t += n;
  b[t] = 0;
  close(fd);
  printf("== %s\n", step);
  for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n"))
    if (strstr(l, path)) printf("%.33s\n", l); /* start-end perms offset */
}

int main(int argc, char **argv) {
  path = argv[1];
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  ftruncate(fd, 4 * 4096);
  char *p = mmap((void *)0x200000000, 4 * 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  show("read-only");
  mprotect(p + 2 * 4096, 4096, PROT_READ | PROT_WRITE);
  show("middle writable");
  mprotect(p + 2 * 4096, 4096, PROT_READ);
  show("middle read-only again");
  /* A writable private mapping made read-only whole: no neighbour, one line. */
  munmap(p, 4 * 4096);
  p = mmap((void *)0x200000000, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
  mmap(p + 2 * 4096, 2 * 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * 4096);
  show("writable then read-only mapped after it");
  mprotect(p, 2 * 4096, PROT_READ);
  show("first made read-only");
  unlink(path);
  return 0;
}
