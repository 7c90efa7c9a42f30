/*
 * The C results of glibc 2.36's allocation calls at the edges heap.md names: malloc(0), sizes
 * no heap could hold, free and errno, calloc/realloc/reallocarray with zero and overflowing
 * sizes, the posix_memalign vectors, aligned_alloc and memalign with odd alignments,
 * malloc_usable_size(NULL), and mallopt for every parameter (and some it does not know). Built
 * and run by scripts/glibc/c-api/record.sh; the output is test/fixtures/glibc/c-api.txt.
 *
 * Each line: "<call> <args> -> <result> <errno>", where result is "0", "ptr" (a block), "same"
 * (realloc returned its argument) or a number; errno is set to a sentinel before every call and
 * printed after it as "-" when the call left it alone, else by name. No stdio before the
 * calls end (its buffers come from malloc): lines go into a static buffer, written at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SENTINEL 1234
static char out[1 << 16];
static size_t len;

static void put(const char *s) { size_t n = strlen(s); memcpy(out + len, s, n); len += n; }
static void num(uintmax_t v) {
  char b[32]; int i = 31; b[i] = 0;
  do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  put(b + i);
}
static void snum(intmax_t v) { if (v < 0) { put("-"); num((uintmax_t)-v); } else num((uintmax_t)v); }
static const char *ename(int e) {
  return e == SENTINEL ? "-" : e == EINVAL ? "EINVAL" : e == ENOMEM ? "ENOMEM" : e == 0 ? "0" : "other";
}
/* the size arguments: powers of two as 2^k, SIZE_MAX as -1 */
static void arg(size_t a) {
  put(" ");
  if (a == SIZE_MAX) put("-1");
  else if (a > 1024 && (a & (a - 1)) == 0) { put("2^"); num((uintmax_t)__builtin_ctzl(a)); }
  else num(a);
}
static void line(const char *call, int nargs, size_t a, size_t b, const char *result, int err) {
  put(call);
  if (nargs > 0) arg(a);
  if (nargs > 1) arg(b);
  put(" -> "); put(result); put(" "); put(ename(err)); put("\n");
}
static const char *res(void *p) { return p ? "ptr" : "0"; }

int main(void) {
  void *p, *q;
  int e;
  static const size_t huge[] = { SIZE_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)1 << 62, (size_t)1 << 53, (size_t)1 << 48 };

  /* malloc */
  void *z1 = malloc(0), *z2 = malloc(0);
  put("malloc 0 -> "); put(res(z1)); put(z1 != z2 && z2 ? " distinct" : " same"); put(" usable="); num(malloc_usable_size(z1)); put("\n");
  for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
    errno = SENTINEL; p = malloc(huge[i]); e = errno;
    line("malloc", 1, huge[i], 0, res(p), e);
    free(p);
  }
  put("malloc_usable_size 0 -> "); num(malloc_usable_size(NULL)); put(" -\n");

  /* free leaves errno alone: NULL, a small block, a mapped block, a free that trims the top */
  errno = SENTINEL; free(NULL); line("free 0", 0, 0, 0, "-", errno);
  p = malloc(40); errno = SENTINEL; free(p); line("free small", 0, 0, 0, "-", errno);
  void *t[3];
  for (int i = 0; i < 3; i++) t[i] = malloc(100 << 10);
  void *brk0 = sbrk(0);
  errno = SENTINEL; for (int i = 2; i >= 0; i--) free(t[i]); e = errno;
  line(sbrk(0) < brk0 ? "free trimming" : "free not-trimming", 0, 0, 0, "-", e);

  /* (after the trim: freeing a mapped block raises the trim threshold) */
  p = malloc(200 << 10); errno = SENTINEL; free(p); line("free mapped", 0, 0, 0, "-", errno);
  /* calloc */
  static const size_t cal[][2] = { { (size_t)1 << 32, (size_t)1 << 32 }, { (size_t)1 << 53, 2 }, { SIZE_MAX, 2 },
                                   { 0, (size_t)1 << 60 }, { (size_t)1 << 60, 0 }, { 0, 0 }, { 0, 8 }, { 8, 0 } };
  for (size_t i = 0; i < sizeof cal / sizeof *cal; i++) {
    errno = SENTINEL; p = calloc(cal[i][0], cal[i][1]); e = errno;
    line("calloc", 2, cal[i][0], cal[i][1], res(p), e);
    free(p);
  }

  /* realloc */
  errno = SENTINEL; p = realloc(NULL, 0); line("realloc 0", 1, 0, 0, res(p), errno);
  errno = SENTINEL; q = realloc(NULL, 100); line("realloc 0", 1, 100, 0, res(q), errno);
  free(q);
  errno = SENTINEL; q = realloc(p, 0); line("realloc p", 1, 0, 0, res(q), errno);
  for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
    p = malloc(64); memset(p, 0x5a, 64);
    errno = SENTINEL; q = realloc(p, huge[i]); e = errno;
    line("realloc p", 1, huge[i], 0, q ? res(q) : ((unsigned char *)p)[63] == 0x5a ? "0 intact" : "0 lost", e);
    free(q ? q : p);
  }
  p = malloc(20); q = malloc(16);
  errno = SENTINEL; void *r = realloc(p, malloc_usable_size(p)); line("realloc p usable", 0, 0, 0, r == p ? "same" : res(r), errno);
  free(r); free(q);

  /* reallocarray */
  static const size_t ra[][2] = { { (size_t)1 << 32, (size_t)1 << 32 }, { SIZE_MAX, 2 }, { (size_t)1 << 60, 0 }, { 10, 20 } };
  for (size_t i = 0; i < sizeof ra / sizeof *ra; i++) {
    p = malloc(64); memset(p, 0x33, 64);
    errno = SENTINEL; q = reallocarray(p, ra[i][0], ra[i][1]); e = errno;
    line("reallocarray p", 2, ra[i][0], ra[i][1], q ? res(q) : ra[i][1] == 0 ? "0" : ((unsigned char *)p)[63] == 0x33 ? "0 intact" : "0 lost", e);
    if (q) free(q); else if (ra[i][1] != 0) free(p);
  }
  errno = SENTINEL; p = reallocarray(NULL, 0, (size_t)1 << 60); line("reallocarray 0", 2, 0, (size_t)1 << 60, res(p), errno);
  free(p);

  /* posix_memalign: the return value, then errno */
  static const size_t pm[][2] = { { 0x300, 10 }, { 0, 10 }, { 4, 10 }, { 2, 10 }, { 0x100, 10 }, { 8, (size_t)1 << 53 }, { 8, SIZE_MAX }, { 64, 0 }, { 16, 0 } };
  for (size_t i = 0; i < sizeof pm / sizeof *pm; i++) {
    p = NULL; errno = SENTINEL;
    int rv = posix_memalign(&p, pm[i][0], pm[i][1]); e = errno;
    put("posix_memalign"); arg(pm[i][0]); arg(pm[i][1]); put(" -> ");
    put(rv == 0 ? "0" : rv == EINVAL ? "EINVAL" : rv == ENOMEM ? "ENOMEM" : "other");
    put(p ? ((uintptr_t)p % pm[i][0] == 0 ? " ptr" : " misaligned") : " 0"); put(" "); put(ename(e)); put("\n");
    free(p);
  }

  /* aligned_alloc and memalign: the result, and "%N" when it is a multiple of N, the alignment
     asked rounded up to a power of two and to at least 16 */
  static const size_t al[][2] = { { 0, 10 }, { 1, 10 }, { 3, 10 }, { 8, 10 }, { 16, 40 }, { 24, 10 }, { 48, 40 }, { 100, 40 }, { 0x300, 40 }, { 64, 0 }, { 256, 10 }, { 64, 100 } };
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof al / sizeof *al; i++) {
      errno = SENTINEL;
      p = k == 0 ? aligned_alloc(al[i][0], al[i][1]) : memalign(al[i][0], al[i][1]); e = errno;
      size_t a = 16; while (a < al[i][0]) a *= 2;
      put(k == 0 ? "aligned_alloc" : "memalign"); arg(al[i][0]); arg(al[i][1]); put(" -> ");
      if (p) { put((uintptr_t)p % a == 0 ? "ptr%" : "misaligned%"); num(a); } else put("0");
      put(" "); put(ename(e)); put("\n");
      free(p);
    }
  }

  /* mallopt: every parameter of malloc.h, some values, and numbers it does not know */
  static const int params[] = { M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX, 2, 3, 4, 999, -9, -100 };
  static const int values[] = { -2, -1, 0, 1, 64, 160, 161, 4096, 1 << 25, (1 << 25) + 1, 1 << 30, INT_MAX };
  /* (mallopt keeps every setting; the defaults are set back after each call so the next starts alike) */
  for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
    for (size_t j = 0; j < sizeof values / sizeof *values; j++) {
      errno = SENTINEL;
      int rv = mallopt(params[i], values[j]); e = errno;
      put("mallopt "); snum(params[i]); put(" "); snum(values[j]); put(" -> "); num((uintmax_t)rv); put(" "); put(ename(e)); put("\n");
      mallopt(M_MXFAST, 128); mallopt(M_PERTURB, 0); mallopt(M_MMAP_MAX, 65536);
      mallopt(M_TOP_PAD, 128 << 10); mallopt(M_TRIM_THRESHOLD, 128 << 10); mallopt(M_MMAP_THRESHOLD, 128 << 10);
    }
  }
  write(1, out, len);
  return 0;
}
