/*
 * brk(2) and sbrk as vm.md describes them, in a fresh static process: the break is byte-exact,
 * [heap] ends at the page-rounded break, shrinking unmaps whole pages above it, growing again
 * gives zeros, and brk below the heap start, into the next mapping or past RLIMIT_DATA fails
 * (-1, ENOMEM) leaving the break alone. Addresses are printed relative to the break at main
 * (b0); the C runtime's startup has moved the break from start_brk already.
 *
 * No malloc or stdio before the end (the output is built in a static buffer), so the break
 * moves only when this program moves it.
 * Build: gcc -O1 -static -o brk brk.c   Run: setarch -R ./brk
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define P 4096L

static char out[16384];
static int len;
static char buf[1 << 16];
static unsigned long b0;

static long rel(void *p) { return (long)((unsigned long)p - b0); }

/* The end of the [heap] line relative to b0, or -1 when there is none. */
static long heap_end(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  long n = 0, r;
  while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  buf[n] = 0;
  char *h = strstr(buf, "[heap]");
  if (!h) return -1;
  while (h > buf && h[-1] != '\n') h--;
  return (long)(strtoul(strchr(h, '-') + 1, 0, 16) - b0);
}

/* VmData of /proc/self/status, in KiB. */
static long vm_data_kib(void) {
  int fd = open("/proc/self/status", O_RDONLY);
  long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  return strtol(strstr(buf, "VmData:") + 7, 0, 10);
}

/* A field of /proc/self/stat (1-based), skipping the command name. */
static unsigned long stat_field(int k) {
  int fd = open("/proc/self/stat", O_RDONLY);
  long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  char *s = strrchr(buf, ')') + 2; /* field 3 */
  for (int i = 3; i < k; i++) s = strchr(s, ' ') + 1;
  return strtoul(s, 0, 10);
}

static void line(const char *label, long r) {
  len += snprintf(out + len, sizeof out - len, "%s %ld errno %d brk %lx heap-end %lx\n", label, r, r == -1 ? errno : 0,
                  rel(sbrk(0)), heap_end());
  errno = 0;
}

int main(void) {
  b0 = (unsigned long)sbrk(0);
  unsigned long start_brk = stat_field(47), start_data = stat_field(45), end_data = stat_field(46);
  len += snprintf(out + len, sizeof out - len, "b0-start_brk %lx b0&fff %lx data %lx\n", b0 - start_brk, b0 & 0xfff, end_data - start_data);
  line("start", 0);

  long r = rel(sbrk(5000));
  line("sbrk-5000-returns-old", r);
  char *p = (char *)b0;
  p[4999] = 0x77;
  p[10] = 0x55;
  p[120] = 0x44;
  p[P + 100] = 0x66;
  line("brk-below-start", brk((void *)(start_brk - 1)));
  line("brk-shrink-to-20", brk(p + 20));
  len += snprintf(out + len, sizeof out - len, "kept-below-break %x kept-above-break-same-page %x\n", p[10], p[100 + 20]);
  line("brk-grow-to-5000", brk(p + 5000));
  len += snprintf(out + len, sizeof out - len, "regrown-page %x %x\n", p[4999], p[P + 100]);
  line("sbrk-negative-below-start", (long)sbrk(-(long)(b0 - start_brk) - 5000 - 1) == -1 ? -1 : 0);

  /* A mapping 16 pages above the rounded break: how close can the break come? */
  unsigned long next = ((b0 + 5000 + P - 1) & ~(P - 1)) + 16 * P;
  void *m = mmap((void *)next, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  len += snprintf(out + len, sizeof out - len, "next-mapping %lx\n", rel(m));
  line("brk-to-next-minus-page-plus-1", brk((void *)(next - P + 1)));
  line("brk-to-next-minus-page", brk((void *)(next - P)));
  line("brk-into-next", brk((void *)(next + 8)));
  line("sbrk-past-next", (long)sbrk(32 * P));
  munmap(m, P);
  brk(p + 5000);

  /*
   * RLIMIT_DATA. brk(2) checks (break - start_brk) + (end_data - start_data) against it, and
   * every new page of a private writable mapping (bss, data, heap, anonymous mmaps) against it
   * too, counted in VmData (may_expand_vm): first a limit 3 pages and 5 bytes above the first
   * count, then one as far above VmData.
   */
  unsigned long brk_now = (unsigned long)sbrk(0);
  long vmdata = vm_data_kib();
  struct rlimit rl, unlimited;
  getrlimit(RLIMIT_DATA, &unlimited);
  len += snprintf(out + len, sizeof out - len, "vmdata %lx\n", vmdata * 1024);
  rl.rlim_cur = rl.rlim_max = unlimited.rlim_max;
  rl.rlim_cur = (brk_now - start_brk) + (end_data - start_data) + 3 * P + 5;
  line("rlimit-brk-count-plus-3-pages-5", setrlimit(RLIMIT_DATA, &rl));
  line("sbrk-1-same-page", (long)sbrk(1) == -1 ? -1 : 0);
  line("sbrk-page", (long)sbrk(P) == -1 ? -1 : 0);
  brk((void *)brk_now);
  rl.rlim_cur = vmdata * 1024 + 3 * P + 5;
  line("rlimit-vmdata-plus-3-pages-5", setrlimit(RLIMIT_DATA, &rl));
  long room = ((brk_now + P - 1) & ~(P - 1)) - brk_now + 3 * P;
  line("sbrk-3-pages", (long)sbrk(room) == -1 ? -1 : 0);
  line("sbrk-1-more", (long)sbrk(1) == -1 ? -1 : 0);
  line("anon-mmap-page", mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
  line("brk-shrink-1-page", brk((void *)(brk_now + room - P)));
  line("anon-mmap-page-after", mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
  line("shared-mmap-page", mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
  line("readonly-mmap-page", mmap(0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
  (void)!write(1, out, len);
  return 0;
}
