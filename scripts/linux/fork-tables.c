/*
 * Which page tables fork copies: a child reads 16 pages of each kind of mapping that the parent
 * touched before the fork, and prints its minor faults for each. Linux copies the page tables
 * of private memory that has anonymous pages (written private file pages, anonymous memory);
 * the child faults in shared mappings and private file pages never written (one fault per
 * 64 KiB there: fault-around maps the page cache's pages around the faulting one).
 *
 * Build: gcc -O1 -static -o fork-tables fork-tables.c   Run: setarch -R ./fork-tables FILE   (FILE: a scratch path)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#define P 4096L
#define N 16
static long minflt(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_minflt; }
static long rd(char *p) { long s = 0; for (int i = 0; i < N; i++) s += ((volatile char *)p)[i * P]; return s; }
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  static char page[N * P];
  memset(page, 3, sizeof page);
  if (write(fd, page, sizeof page) != sizeof page) return 1;
  char *shf = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char *prf_r = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char *prf_w = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char *sha = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char *anr = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *anw = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long s = rd(shf) + rd(prf_r) + rd(anr);
  for (int i = 0; i < N; i++) { prf_w[i * P] = 1; sha[i * P] = 1; anw[i * P] = 1; }
  fflush(stdout);
  if (fork() == 0) {
    long f;
    minflt();
#define M(label, p) f = minflt(); s += rd(p); printf("fork-child-read-%s %ld\n", label, minflt() - f);
    M("shared-file", shf) M("private-file-read", prf_r) M("private-file-written", prf_w) M("shared-anon", sha) M("anon-read-only", anr) M("anon-written", anw)
    fflush(stdout);
    _exit(s == 0);
  }
  wait(0);
  unlink(argv[1]);
  return 0;
}
