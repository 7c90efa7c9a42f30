/* A fresh mapped block: malloc(200 KiB) in a fresh process, then a write of
   its first byte. */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  volatile char *p = malloc(200 * 1024);
  snap("after malloc(204800)");
  p[0] = 1;
  snap("after writing p[0]");
  val_ptr("p", (void *)p);
  val_size_word("sizeWord", (void *)p);
  return measure_end();
}
