/*
 * The edges of mmap that vm.md leaves to Linux: prot bits mmap does not know (it ignores them,
 * where mprotect says EINVAL), and a file mapping longer than its file: the last partial page
 * reads zeros past the end of file, a page wholly past it is SIGBUS (read or write, private or
 * shared), as are the pages a shared anonymous mapping gains from mremap. Each line: a case
 * and what happened (a value, "ok", "SIGBUS", "SIGSEGV", or "-1 errno N").
 *
 * Build: gcc -O1 -static -o file-edges file-edges.c   Run: setarch -R ./file-edges FILE   (FILE: a scratch path)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define P 4096L

static sigjmp_buf jb;
static volatile sig_atomic_t sig;

static void on_signal(int s) {
  sig = s;
  siglongjmp(jb, 1);
}

static const char *signame(int s) { return s == SIGBUS ? "SIGBUS" : s == SIGSEGV ? "SIGSEGV" : "signal"; }

static void try_read(const char *label, volatile char *p) {
  if (sigsetjmp(jb, 1) == 0) {
    int v = *p;
    printf("%s %d\n", label, v);
  } else printf("%s %s\n", label, signame(sig));
}

static void try_write(const char *label, volatile char *p) {
  if (sigsetjmp(jb, 1) == 0) {
    *p = 7;
    printf("%s ok\n", label);
  } else printf("%s %s\n", label, signame(sig));
}

static void result(const char *label, void *r) {
  if (r == MAP_FAILED) printf("%s -1 errno %d\n", label, errno);
  else printf("%s ok\n", label);
}

int main(int argc, char **argv) {
  if (argc != 2) { fputs("usage: file-edges FILE\n", stderr); return 2; }
  setvbuf(stdout, 0, _IONBF, 0);
  signal(SIGBUS, on_signal);
  signal(SIGSEGV, on_signal);

  char *u = mmap(0, P, PROT_READ | 0x80, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  result("mmap-prot-unknown-bit", u);
  try_read("mmap-prot-unknown-bit-read", u);
  try_write("mmap-prot-unknown-bit-write", u);
  errno = 0;
  int r = mprotect(u, P, PROT_READ | 0x80);
  printf("mprotect-prot-unknown-bit %d errno %d\n", r, errno);

  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (write(fd, "0123456789", 10) != 10) return 1;
  char *priv = mmap(0, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char *shared = mmap(0, 3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  result("map-3-pages-of-10-byte-file", priv);
  try_read("private-read-last-byte", priv + 9);
  try_read("private-read-past-eof-same-page", priv + 100);
  try_read("private-read-next-page", priv + P + 1);
  try_write("private-write-next-page", priv + P + 1);
  try_read("private-read-third-page", priv + 2 * P);
  try_write("shared-write-past-eof-same-page", shared + 100);
  try_read("private-sees-it-before-its-copy", priv + 100);
  try_read("shared-read-next-page", shared + P);
  try_write("shared-write-next-page", shared + P);
  struct stat st;
  fstat(fd, &st);
  printf("file-size-after %ld\n", (long)st.st_size);
  munmap(priv, 3 * P);
  munmap(shared, 3 * P);
  close(fd);
  unlink(argv[1]);

  char *s = mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  s[0] = 1;
  char *g = mremap(s, P, 2 * P, MREMAP_MAYMOVE);
  result("shared-anon-mremap-grow", g);
  try_read("shared-anon-grown-first-page", g);
  try_read("shared-anon-grown-new-page", g + P);
  return 0;
}
