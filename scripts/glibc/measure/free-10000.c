/* 10,000 x malloc(100), then free them all: the break and RssAnon stay. */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

static void *ptrs[10000];

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  for (int i = 0; i < 10000; i++) ptrs[i] = malloc(100);
  snap("after 10000 x malloc(100)");
  for (int i = 0; i < 10000; i++) free(ptrs[i]);
  snap("after freeing all 10000 in allocation order");
  val_ptr("ptrs[0]", ptrs[0]);
  val_ptr("ptrs[9999]", ptrs[9999]);
  return measure_end();
}
