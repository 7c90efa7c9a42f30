/* calloc whose chunk needs the top extended: only the part that was heap
   before the call is cleared, the fresh part from sbrk is left as it is
   (zero pages the kernel has not even mapped yet). */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  void *p = malloc(120000);
  snap("after malloc(120000)");
  void *q = calloc(1, 120000);
  snap("after calloc(1, 120000)");
  val_ptr("p", p);
  val_ptr("q", q);
  val_size_word("qSizeWord", q);
  return measure_end();
}
