/*
 * The page-fault and memory counts that spec/vm.md states, as this machine's Linux gives them:
 * lazy anonymous memory, the zero page, a write across a page boundary, fork's copy-on-write,
 * a private file mapping's first write. Each line: a case, then `key=value` pairs, where
 * vmsize/rss are deltas in KiB of /proc/self/status's VmSize/VmRSS and minflt/majflt are
 * deltas of getrusage's counters over the case alone.
 *
 * Build: gcc -O1 -static -o faults faults.c   Run: setarch -R ./faults FILE   (FILE: a scratch path)
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
#define N 256

static char status_buf[8192];

/* One field of /proc/self/status in KiB, read without malloc. */
static long status_kib(const char *field) {
  int fd = open("/proc/self/status", O_RDONLY);
  long n = read(fd, status_buf, sizeof status_buf - 1);
  close(fd);
  status_buf[n < 0 ? 0 : n] = 0;
  char *at = strstr(status_buf, field);
  return at ? strtol(at + strlen(field) + 1, 0, 10) : -1;
}

struct counts { long vmsize, rss, minflt, majflt; };

static void take(struct counts *c) {
  struct rusage r;
  c->vmsize = status_kib("VmSize:");
  c->rss = status_kib("VmRSS:");
  getrusage(RUSAGE_SELF, &r);
  c->minflt = r.ru_minflt;
  c->majflt = r.ru_majflt;
}

/* Faults only between the two getrusage calls count: the status reads come before and after. */
static long minflt_now(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

static char *map_anon(long bytes) {
  char *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); exit(1); }
  return p;
}

static void touch_write(char *p, int pages, char v) { for (int i = 0; i < pages; i++) ((volatile char *)p)[i * P] = v; }

static long touch_read(char *p, int pages) {
  long sum = 0;
  for (int i = 0; i < pages; i++) sum += ((volatile char *)p)[i * P];
  return sum;
}

static void report(const char *label, struct counts *a, struct counts *b, long minflt) {
  printf("%s vmsize=%ld rss=%ld minflt=%ld majflt=%ld\n", label, b->vmsize - a->vmsize, b->rss - a->rss, minflt, b->majflt - a->majflt);
}

/* The whole sequence; run once to warm the code and stack pages, then again to report. */
static void run(int print, const char *file) {
  struct counts a, b;
  long f;

  take(&a);
  f = minflt_now();
  char *m = map_anon(N * P);
  f = minflt_now() - f;
  take(&b);
  if (print) report("map-256", &a, &b, f);

  take(&a);
  f = minflt_now();
  touch_write(m, N, 1);
  f = minflt_now() - f;
  take(&b);
  if (print) report("write-256", &a, &b, f);

  char *z = map_anon(N * P);
  take(&a);
  f = minflt_now();
  long sum = touch_read(z, N);
  f = minflt_now() - f;
  take(&b);
  if (print) report("read-fresh-256", &a, &b, f);

  take(&a);
  f = minflt_now();
  touch_write(z, N, 2);
  f = minflt_now() - f;
  take(&b);
  if (print) report("write-after-read-256", &a, &b, f);

  char *x = map_anon(2 * P);
  take(&a);
  f = minflt_now();
  *(volatile int *)(x + P - 2) = 0x11223344;
  f = minflt_now() - f;
  take(&b);
  if (print) report("write-across-pages", &a, &b, f);

  /* fork: the child reads and then writes the parent's 256 written pages. */
  for (int i = 0; i < N; i++) m[i * P] = (char)i;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    long w = minflt_now(); /* the child's stack page is copied by this first call */
    take(&a);
    f = minflt_now();
    long s = touch_read(m, N);
    f = minflt_now() - f;
    take(&b);
    if (print) report("fork-child-read-256", &a, &b, f);
    take(&a);
    f = minflt_now();
    touch_write(m, N, (char)0xee);
    f = minflt_now() - f;
    take(&b);
    if (print) report("fork-child-write-256", &a, &b, f);
    fflush(stdout);
    _exit((int)((s + w) & 0));
  }
  waitpid(pid, 0, 0);
  int same = 1;
  for (int i = 0; i < N; i++) same &= m[i * P] == (char)i;
  take(&a);
  f = minflt_now();
  touch_write(m, N, 3);
  f = minflt_now() - f;
  take(&b);
  if (print) {
    printf("fork-parent-unchanged %d\n", same);
    report("fork-parent-write-256-after-child-exit", &a, &b, f);
  }

  /* A private file mapping and a shared one of the same file. */
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
  char page[2 * P];
  memset(page, 3, sizeof page);
  if (write(fd, page, sizeof page) != sizeof page) { perror("write"); exit(1); }
  char *priv = mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char *shared = mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  sum += touch_read(priv, 2) + touch_read(shared, 2);
  take(&a);
  f = minflt_now();
  touch_write(priv, 1, 9);
  f = minflt_now() - f;
  take(&b);
  if (print) {
    report("private-file-first-write", &a, &b, f);
    printf("private-file-others-see %d %d\n", shared[0], priv[0]);
  }
  /* A shared write reaches a private page not yet copied, not the copy. */
  shared[100] = 42;
  shared[P + 100] = 43;
  if (print) printf("shared-write-seen-by-private copied=%d uncopied=%d\n", priv[100], priv[P + 100]);
  munmap(priv, 2 * P);
  munmap(shared, 2 * P);
  close(fd);
  unlink(file);

  munmap(m, N * P);
  munmap(z, N * P);
  munmap(x, 2 * P);
  if (sum == -1) puts("");
}

int main(int argc, char **argv) {
  if (argc != 2) { fputs("usage: faults FILE\n", stderr); return 2; }
  run(0, argv[1]);
  run(1, argv[1]);
  return 0;
}
