/*
 * The layout of a process, as the kernel shows it: built static (and as a PIE) by record.sh,
 * run under `setarch -R` (no ASLR). It prints, in sections:
 *
 *   == maps at main            /proc/self/maps before the program allocates anything
 *   == stat                    mm fields from /proc/self/stat: start_code end_code start_data
 *                              end_data start_brk (fields 26, 27, 45, 46, 47) and the break
 *   == sections                where the linker put this program's own objects (.text,
 *                              .rodata, relro, .data, .bss), to tell them apart from libc's
 *   == maps after mmap         after two anonymous mmaps and an sbrk of 5000 bytes
 *   == mmap                    the addresses the two mmaps returned
 *
 * Only raw system calls and static buffers are used up to the first maps, so that nothing
 * (malloc, stdio) changes what the kernel and the C runtime's startup set up.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char buf[65536];

/* Sizes of this program's own sections, so that the model can be given comparable ones. */
int code_marker(int x) { return x * 3 + 1; }
const char rodata_marker[] = "read-only data";
int data_marker = 42;
char bss_marker[100000];
void *const relro_marker = (void *)&data_marker; /* a pointer in read-only-after-relocation data */

static void dump(const char *path) {
  int fd = open(path, O_RDONLY);
  ssize_t n, total = 0;
  while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0) total += n;
  close(fd);
  buf[total] = 0;
  write(1, buf, total);
}

int main(void) {
  write(1, "== maps at main\n", 16);
  dump("/proc/self/maps");

  /* /proc/self/stat, read quietly: it holds the pid and times, which change from run to run. */
  int fd = open("/proc/self/stat", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  /* Fields counted from 1; field 2 (comm) may hold spaces, so count from its closing ')',
     and field 3 is a letter. */
  char *p = strrchr(buf, ')') + 4;
  unsigned long f[60] = {0};
  for (int i = 4; i < 60 && *p; i++) {
    f[i] = strtoul(p, &p, 10);
    while (*p == ' ') p++;
  }
  void *brk0 = sbrk(0);
  printf("== stat\nstart_code %lx\nend_code %lx\nstart_data %lx\nend_data %lx\nstart_brk %lx\nbrk %lx\nstart_stack %lx\n", f[26], f[27], f[45], f[46], f[47], (unsigned long)brk0, f[28]);
  printf("== sections\ntext %lx\nrodata %lx\nrelro %lx\ndata %lx\nbss %lx\n", (unsigned long)&code_marker, (unsigned long)rodata_marker, (unsigned long)&relro_marker,
         (unsigned long)&data_marker, (unsigned long)bss_marker);
  fflush(stdout);

  void *a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *b = mmap(NULL, 5 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  sbrk(5000);
  write(1, "== maps after mmap\n", 19);
  dump("/proc/self/maps");
  printf("== mmap\nfirst %lx\nsecond %lx\n", (unsigned long)a, (unsigned long)b);
  return 0;
}
