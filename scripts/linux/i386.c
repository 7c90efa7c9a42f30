/*
 * The top of an i386 process's address space on this 64-bit kernel: its maps at the start and
 * after an mmap and a brk of 5000 bytes, then mmaps and a munmap at the two pages above the
 * stack (user space ends at 0xffffe000 there, not at 4 GiB). No libc (this machine has no 32-bit one): raw int $0x80 system calls.
 *
 * Build: gcc -m32 -O1 -static -nostdlib -fno-pie -no-pie -fno-stack-protector -o i386 i386.c
 * Run:   setarch -R ./i386
 */
static long sys(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  __asm__ volatile("push %%ebp\n mov %7, %%ebp\n int $0x80\n pop %%ebp"
                   : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e), "m"(f) : "memory");
  return r;
}

enum { EXIT = 1, READ = 3, WRITE = 4, OPEN = 5, CLOSE = 6, BRK = 45, MUNMAP = 91, MMAP2 = 192 };
enum { RW = 3, ANON = 0x22, FIXED = 0x10, P = 4096 };

static char buf[65536];

static void out(const char *s) {
  long n = 0;
  while (s[n]) n++;
  sys(WRITE, 1, (long)s, n, 0, 0, 0);
}

static void maps(const char *title) {
  out(title);
  long fd = sys(OPEN, (long)"/proc/self/maps", 0, 0, 0, 0, 0), n = 0, r;
  while ((r = sys(READ, fd, (long)buf + n, sizeof buf - n, 0, 0, 0)) > 0) n += r;
  sys(CLOSE, fd, 0, 0, 0, 0, 0);
  sys(WRITE, 1, (long)buf, n, 0, 0, 0);
}

/* "label <hex result>" or "label -1 errno N" (the kernel returns -errno). */
static void result(const char *label, long r) {
  char line[64], *q = line + sizeof line;
  *--q = 0;
  *--q = '\n';
  unsigned long v = r < 0 && r > -4096 ? (unsigned long)-r : (unsigned long)r;
  do *--q = "0123456789abcdef"[r < 0 && r > -4096 ? v % 10 : v % 16]; while ((v /= (r < 0 && r > -4096 ? 10 : 16)) != 0);
  if (r < 0 && r > -4096) { const char *e = " -1 errno "; long k = 10; while (k) *--q = e[--k]; }
  else *--q = ' ';
  out(label);
  out(q);
}

void _start(void) {
  maps("== maps at start\n");
  result("mmap-null", sys(MMAP2, 0, P, RW, ANON, -1, 0));
  result("brk-5000", sys(BRK, sys(BRK, 0, 0, 0, 0, 0, 0) + 5000, 0, 0, 0, 0, 0) & 0xfff);
  maps("== maps after mmap and brk\n");
  out("== top\n");
  result("fixed-top-page", sys(MMAP2, 0xffffe000, P, RW, ANON | FIXED, -1, 0));
  result("fixed-last-page", sys(MMAP2, 0xfffff000, P, RW, ANON | FIXED, -1, 0));
  result("munmap-top-page", sys(MUNMAP, 0xffffe000, P, 0, 0, 0, 0));
  result("hint-top-page", sys(MMAP2, 0xffffe000, P, RW, ANON, -1, 0));
  sys(EXIT, 0, 0, 0, 0, 0, 0);
}
