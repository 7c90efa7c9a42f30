/* A mix of sizes: a pool of live blocks with random lifetimes, most small (8..128 bytes), some
 * medium (up to 4 KiB) and a few large (up to 256 KiB), through malloc, calloc, realloc and
 * posix_memalign; every block's contents are written and checked before it goes. */
#include "common.h"

#define SLOTS 8192

typedef struct {
  unsigned char *p;
  uint32_t n;
  uint8_t tag;
} block;

static block pool[SLOTS];

static uint32_t size_of_kind(void) {
  uint32_t r = rnd_below(1000);
  if (r < 850) return 8 + rnd_below(121);
  if (r < 990) return 129 + rnd_below(4096 - 128);
  return 4097 + rnd_below(256 * 1024 - 4096);
}

static void check(const block *b) {
  if (b->p == NULL || b->n == 0) return;
  if (b->p[0] != b->tag || b->p[b->n - 1] != b->tag || b->p[b->n / 2] != b->tag) {
    fprintf(stderr, "block contents lost\n");
    exit(2);
  }
  mix_in(b->n + b->tag);
}

static void fill(block *b, uint32_t from) {
  if (b->n > from) memset(b->p + from, b->tag, b->n - from);
}

int main(void) {
  bench_start();
  for (uint32_t i = 0; i < 1500000; i++) {
    block *b = &pool[rnd_below(SLOTS)];
    uint32_t op = rnd_below(100);
    if (b->p != NULL && op < 45) {
      check(b);
      free(b->p);
      b->p = NULL;
    } else if (b->p != NULL && op < 60) {
      check(b);
      uint32_t n = rnd_below(4) == 0 ? size_of_kind() : b->n + rnd_below(b->n + 16);
      b->p = xrealloc(b->p, n);
      uint32_t kept = n < b->n ? n : b->n;
      b->n = n;
      fill(b, kept);
    } else if (b->p == NULL) {
      uint32_t n = size_of_kind();
      b->tag = (uint8_t)rnd();
      b->n = n;
      if (op < 80) {
        b->p = xmalloc(n);
        fill(b, 0);
      } else if (op < 90) {
        b->p = calloc(1, n);
        if (b->p == NULL) exit(1);
        if (b->p[n - 1] != 0 || b->p[0] != 0) { fprintf(stderr, "calloc not zeroed\n"); exit(2); }
        fill(b, 0);
      } else {
        void *q;
        size_t align = (size_t)16 << rnd_below(6);
        if (posix_memalign(&q, align, n) != 0) exit(1);
        if ((uintptr_t)q % align != 0) { fprintf(stderr, "misaligned\n"); exit(2); }
        b->p = q;
        fill(b, 0);
      }
    }
  }
  for (uint32_t i = 0; i < SLOTS; i++) {
    check(&pool[i]);
    free(pool[i].p);
  }
  bench_stop();
  printf("mix checksum %016llx\n", (unsigned long long)checksum);
  return 0;
}
