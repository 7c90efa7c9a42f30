/* The first malloc(100) of a fresh process: where it lands, its size word,
   how the break moves. The write(-1, ...) calls are markers for strace
   (they fail with EBADF and touch nothing). */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  write(-1, "begin", 5);
  char *p = malloc(100);
  write(-1, "end", 3);
  snap("after malloc(100)");
  val_ptr("p", p);
  val_size_word("sizeWord", (void *)p);
  val_int("usable", (int64_t)malloc_usable_size(p));
  return measure_end();
}
