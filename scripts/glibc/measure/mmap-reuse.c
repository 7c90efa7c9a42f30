/* malloc(200 KiB), free, malloc(200 KiB): the first is mmapped, its free
   raises the mmap threshold, the second comes from brk. */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  void *p = malloc(200 * 1024);
  snap("after malloc(204800)");
  val_ptr("p", p);
  val_size_word("pSizeWord", (void *)p);
  free(p);
  snap("after free(p)");
  void *q = malloc(200 * 1024);
  snap("after the second malloc(204800)");
  val_ptr("q", q);
  val_size_word("qSizeWord", (void *)q);
  return measure_end();
}
