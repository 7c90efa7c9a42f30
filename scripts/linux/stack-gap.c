/*
 * How far the main stack grows down when another mapping lies below it: built static by
 * record.sh and run under `setarch -R`. Linux keeps `stack_guard_gap` (256 pages) between a
 * growing stack and an accessible mapping below it; a PROT_NONE mapping below is no obstacle
 * until the stack would touch it.
 *
 * Each line: "<case> <pages below the stack's start> ok|segv <the stack's start after>"; a
 * mapping made or removed is a line "map-rw|map-none|unmap <pages below> ok". Run with
 * `ulimit -s 8192` (RLIMIT_STACK 8 MiB). Pages are counted from the stack's start at main (S). No malloc or stdio:
 * the output is built in a static buffer.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096UL

static char out[8192], buf[8192];
static int len;
static sigjmp_buf env;
static unsigned long S;

static void on_segv(int sig) { siglongjmp(env, sig); }

static unsigned long stack_start(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  ssize_t n, total = 0;
  while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0) total += n;
  close(fd);
  buf[total] = 0;
  char *l = strstr(buf, "[stack]");
  while (l > buf && l[-1] != '\n') l--;
  unsigned long lo = 0;
  sscanf(l, "%lx-", &lo);
  return lo;
}

/* Writes a byte `pages` pages below S; reports whether the stack grew there. */
static void touch(const char *label, unsigned long pages) {
  volatile char *p = (volatile char *)(S - pages * P);
  int ok = 0;
  if (sigsetjmp(env, 1) == 0) {
    *p = 1;
    ok = 1;
  }
  len += snprintf(out + len, sizeof out - len, "%s %lu %s %lx\n", label, pages, ok ? "ok" : "segv", stack_start());
}

static void *map(unsigned long pages_below, int prot) {
  return mmap((void *)(S - pages_below * P), P, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

int main(void) {
  /* An alternate signal stack: the handler must not run on the stack under test. */
  static char altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, 0);
  struct sigaction sa = {.sa_handler = on_segv, .sa_flags = SA_ONSTACK | SA_NODEFER};
  sigaction(SIGSEGV, &sa, 0);
  S = stack_start();

  /* An accessible page 300 pages below S: the stack may come to 256 pages above its end. */
  void *a = map(300, PROT_READ | PROT_WRITE);
  len += snprintf(out + len, sizeof out - len, "map-rw 300 %s\n", a == MAP_FAILED ? "failed" : "ok");
  touch("grow", 10);
  touch("grow", 43);
  touch("grow", 44);
  touch("grow", 45);
  munmap(a, P);
  /* A PROT_NONE page 300 pages below: the stack may grow right down to it. */
  void *b = map(300, PROT_NONE);
  len += snprintf(out + len, sizeof out - len, "map-none 300 %s\n", b == MAP_FAILED ? "failed" : "ok");
  touch("grow-none", 200);
  touch("grow-none", 298);
  touch("grow-none", 299);
  munmap(b, P);
  /* RLIMIT_STACK (8 MiB here: `ulimit -s` 8192) counts from the stack's end, 33 pages above S. */
  len += snprintf(out + len, sizeof out - len, "unmap 300 ok\n");
  touch("limit", 2048 - 33);
  touch("limit", 2048 - 33 + 1);
  write(1, out, len);
  return 0;
}
