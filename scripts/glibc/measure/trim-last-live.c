/* 10 x malloc(20 KiB) (each block written in full when TOUCH is 1), free
   all but the last, malloc_trim(0). */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

#ifndef TOUCH
#define TOUCH 1
#endif

static char *ptrs[10];

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  for (int i = 0; i < 10; i++) {
    ptrs[i] = malloc(20 * 1024);
    if (TOUCH) memset(ptrs[i], 1, 20 * 1024);
  }
  snap(TOUCH ? "after 10 x (malloc(20480) + memset of the block)" : "after 10 x malloc(20480)");
  for (int i = 0; i < 9; i++) free(ptrs[i]);
  snap("after freeing the first 9");
  int r = malloc_trim(0);
  snap("after malloc_trim(0)");
  val_int("malloc_trim", r);
  val_ptr("ptrs[9]", ptrs[9]);
  return measure_end();
}
