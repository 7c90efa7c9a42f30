/* The cost of one call: loops that do nothing but malloc and free, so that the time per call
 * is the allocator's (and the call's) alone, unlike the other programs, which do their own work
 * between calls. Each loop reports "calls <name> <calls> <ms>" on stderr (CPU time of the
 * thread); stdout carries only a checksum of the sizes asked for, the same with any allocator.
 *   pair   malloc(24) then free it, again and again: the block comes back each time
 *   fifo   64 blocks of 16..79 bytes in a ring: free the oldest, allocate a new one
 *   churn  4096 slots, sizes 16..1039: a random slot is freed if full, filled if empty */
#include "common.h"

#define N 2000000

static void report(const char *name, long calls) {
  struct timespec cpu;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  fprintf(stderr, "calls %s %ld %.3f\n", name, calls, ms_between(bench_cpu0, cpu));
}

int main(void) {
  static void *ring[64];
  static void *slot[4096];
  bench_start();
  for (long i = 0; i < N; i++) {
    void *p = xmalloc(24);
    *(volatile char *)p = 1;
    free(p);
  }
  mix_in(N);
  report("pair", 2L * N);

  bench_start();
  for (int i = 0; i < 64; i++) ring[i] = xmalloc(16);
  for (long i = 0; i < N; i++) {
    int j = (int)(i & 63);
    free(ring[j]);
    size_t n = 16 + rnd_below(64);
    mix_in(n);
    ring[j] = xmalloc(n);
    *(volatile char *)ring[j] = 1;
  }
  for (int i = 0; i < 64; i++) free(ring[i]);
  report("fifo", 2L * N + 128);

  bench_start();
  long calls = 0;
  for (long i = 0; i < N; i++) {
    uint32_t j = rnd_below(4096);
    if (slot[j] != NULL) {
      free(slot[j]);
      slot[j] = NULL;
    } else {
      size_t n = 16 + rnd_below(1024);
      mix_in(n);
      slot[j] = xmalloc(n);
      *(volatile char *)slot[j] = 1;
    }
    calls++;
  }
  for (int j = 0; j < 4096; j++)
    if (slot[j] != NULL) free(slot[j]), calls++;
  report("churn", calls);
  printf("%016llx\n", (unsigned long long)checksum);
  fprintf(stderr, "time_ms 0 wall_ms 0\n");
  return 0;
}
