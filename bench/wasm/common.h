/* Shared by the benchmark programs: a deterministic PRNG, a checksum, and a timer that
 * reports the time of the measured part on stderr (stdout carries only the results, which
 * must be identical whatever the allocator and wherever the program runs). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
/* xorshift64*: the same sequence on every platform. */
static inline uint32_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}
static inline uint32_t rnd_below(uint32_t n) { return (uint32_t)(((uint64_t)rnd() * n) >> 32); }

static uint64_t checksum = 1469598103934665603ull;
static inline void mix_in(uint64_t x) { checksum = (checksum ^ x) * 1099511628211ull; }

/* The measured part's time: the CPU time of the program's thread (robust on a shared machine,
 * where wall time depends on who else runs), and its wall time. */
static struct timespec bench_cpu0, bench_wall0;
static double ms_between(struct timespec a, struct timespec b) { return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6; }
static void bench_start(void) {
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &bench_cpu0);
  clock_gettime(CLOCK_MONOTONIC, &bench_wall0);
}
static void bench_stop(void) {
  struct timespec cpu, wall;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  clock_gettime(CLOCK_MONOTONIC, &wall);
  fprintf(stderr, "time_ms %.3f wall_ms %.3f\n", ms_between(bench_cpu0, cpu), ms_between(bench_wall0, wall));
}

__attribute__((unused)) static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL && n != 0) { fprintf(stderr, "out of memory (%zu bytes)\n", n); exit(1); }
  return p;
}
__attribute__((unused)) static void *xrealloc(void *q, size_t n) {
  void *p = realloc(q, n);
  if (p == NULL && n != 0) { fprintf(stderr, "out of memory (%zu bytes)\n", n); exit(1); }
  return p;
}
#endif
