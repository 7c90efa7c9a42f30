/* A string builder: many builders at once, each appending pieces of text and growing its
 * buffer with realloc (by half again, as most string and vector types do), finished strings
 * shrunk to fit and kept for a while in a ring, then freed: a program that formats or
 * concatenates text, a JSON writer, a log. */
#include "common.h"

typedef struct {
  char *buf;
  size_t len, cap;
} builder;

static void append(builder *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap < 16 ? 16 : b->cap + b->cap / 2;
    while (cap < b->len + n + 1) cap += cap / 2;
    b->buf = xrealloc(b->buf, cap);
    b->cap = cap;
  }
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = 0;
}

#define BUILDERS 64
#define RING 2048

int main(void) {
  static const char *words[] = {"alpha", "beta", "gamma", "delta", "epsilon", "{\"key\": ", "\", ", "[1, 2, 3]", "\n", "lorem ipsum dolor sit amet, ", "0123456789", "x"};
  builder b[BUILDERS] = {{0}};
  char *ring[RING] = {0};
  uint32_t next = 0;
  char num[24];
  bench_start();
  for (uint32_t i = 0; i < 1500000; i++) {
    builder *x = &b[rnd_below(BUILDERS)];
    uint32_t r = rnd_below(16);
    if (r < 12) {
      const char *w = words[rnd_below(sizeof words / sizeof *words)];
      append(x, w, strlen(w));
    } else if (r < 15) {
      int n = snprintf(num, sizeof num, "%u", rnd());
      append(x, num, (size_t)n);
    } else if (x->buf != NULL && rnd_below(4) == 0) {
      /* finish: shrink to fit, keep it in the ring, free what it replaces */
      char *s = xrealloc(x->buf, x->len + 1);
      mix_in(x->len);
      mix_in((uint8_t)s[x->len / 2]);
      free(ring[next]);
      ring[next] = s;
      next = (next + 1) % RING;
      x->buf = NULL;
      x->len = x->cap = 0;
    }
  }
  for (int i = 0; i < BUILDERS; i++) free(b[i].buf);
  for (int i = 0; i < RING; i++) {
    if (ring[i] != NULL) mix_in(strlen(ring[i]));
    free(ring[i]);
  }
  bench_stop();
  printf("strbuild checksum %016llx\n", (unsigned long long)checksum);
  return 0;
}
