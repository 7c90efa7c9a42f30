/* The first calloc(1, 100 KiB) of a fresh process. */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  void *p = calloc(1, 100 * 1024);
  snap("after calloc(1, 102400)");
  val_ptr("p", p);
  val_size_word("sizeWord", (void *)p);
  return measure_end();
}
