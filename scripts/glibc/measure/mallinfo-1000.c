/* mallinfo2() after 1,000 x malloc(100) freed in allocation order. */
#include "measure.h"
#include <malloc.h>
#include <stdlib.h>

static void *ptrs[1000];

int main(int argc, char **argv) {
  measure_begin(argc, argv);
  snap("start");
  for (int i = 0; i < 1000; i++) ptrs[i] = malloc(100);
  snap("after 1000 x malloc(100)");
  for (int i = 0; i < 1000; i++) free(ptrs[i]);
  snap("after freeing all 1000 in allocation order");
  struct mallinfo2 m = mallinfo2();
  val_int("arena", (int64_t)m.arena);
  val_int("ordblks", (int64_t)m.ordblks);
  val_int("smblks", (int64_t)m.smblks);
  val_int("hblks", (int64_t)m.hblks);
  val_int("hblkhd", (int64_t)m.hblkhd);
  val_int("usmblks", (int64_t)m.usmblks);
  val_int("fsmblks", (int64_t)m.fsmblks);
  val_int("uordblks", (int64_t)m.uordblks);
  val_int("fordblks", (int64_t)m.fordblks);
  val_int("keepcost", (int64_t)m.keepcost);
  return measure_end();
}
