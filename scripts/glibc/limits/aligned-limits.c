/*
 * The aligned-allocation calls of glibc 2.36 at the edges of size_t: which alignments are
 * refused (EINVAL) and which are valid but cannot be met (ENOMEM). Built and run by
 * scripts/glibc/limits/record.sh; the output is test/fixtures/glibc/aligned-limits.txt.
 *
 * Each line: "<call> <alignment> <size> -> <result> <errno name>", where result is "ptr" (a
 * block, aligned as asked, freed at once) or "0"; posix_memalign prints its return value and
 * leaves errno out (it never sets it). Alignments are written as 2^k, -1 or a number.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *name(int e) { return e == 0 ? "0" : e == EINVAL ? "EINVAL" : e == ENOMEM ? "ENOMEM" : "other"; }

static void show(char *buf, size_t a) {
  if (a == SIZE_MAX) { strcpy(buf, "-1"); return; }
  if (a != 0 && (a & (a - 1)) == 0) { sprintf(buf, "2^%d", __builtin_ctzl(a)); return; }
  sprintf(buf, "%zu", a);
}

int main(void) {
  static const size_t aligns[] = { 4, 8, 24, 64, (size_t)1 << 30, (size_t)1 << 31, (size_t)1 << 40,
                                   (size_t)1 << 53, (size_t)1 << 60, (size_t)1 << 63,
                                   ((size_t)1 << 63) + 1, SIZE_MAX };
  static const size_t sizes[] = { 10, (size_t)1 << 53 };
  char a_s[32];
  for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
    for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++) {
      size_t a = aligns[i], n = sizes[j];
      show(a_s, a);
      void *p = 0;
      int r = posix_memalign(&p, a, n);
      printf("posix_memalign %s %zu -> %s %s\n", a_s, n, p ? ((uintptr_t)p % a == 0 ? "ptr" : "misaligned") : "0", name(r));
      free(p);
      errno = 0;
      p = memalign(a, n);
      printf("memalign %s %zu -> %s %s\n", a_s, n, p ? ((uintptr_t)p % (a < 16 ? 16 : a) == 0 || (a & (a - 1)) != 0 ? "ptr" : "misaligned") : "0", name(p ? 0 : errno));
      free(p);
      errno = 0;
      p = aligned_alloc(a, n);
      printf("aligned_alloc %s %zu -> %s %s\n", a_s, n, p ? "ptr" : "0", name(p ? 0 : errno));
      free(p);
    }
  }
  return 0;
}
