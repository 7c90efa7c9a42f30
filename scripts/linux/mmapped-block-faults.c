/*
 * Minor faults that glibc's malloc costs for a block at or over the mmap threshold: the
 * block gets a fresh mapping and malloc writes only its chunk header, so one page is touched.
 * Prints "malloc <size> minflt <n>" for a few sizes, then the same for memalign.
 *
 * Build: gcc -O1 -static -o faults mmapped-block-faults.c   Run: setarch -R ./faults
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* The blocks escape through here, so that the compiler cannot drop a malloc/free pair. */
void *volatile sink;

static long minflt(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

int main(void) {
  static const size_t sizes[] = {128 * 1024, 1 << 20, 8 << 20};
  sink = malloc(16); /* the heap set up, stdio's buffer too */
  free(sink);
  printf("warm-up\n");
  for (int i = 0; i < 3; i++) {
    long before = minflt();
    void *p = malloc(sizes[i]);
    long after = minflt();
    sink = p;
    printf("malloc %zu minflt %ld\n", sizes[i], after - before);
    free(p);
  }
  for (int i = 0; i < 3; i++) {
    long before = minflt();
    void *p = memalign(65536, sizes[i]);
    long after = minflt();
    sink = p;
    printf("memalign %zu minflt %ld\n", sizes[i], after - before);
    free(p);
  }
  return 0;
}
