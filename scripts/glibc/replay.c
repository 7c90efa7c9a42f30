/*
 * replay: run an allocation trace against the C library's real malloc and
 * print what it did, in the text format of docs/glibc-fixtures.md.
 *
 *   replay [-d] [-i] TRACE
 *
 * -d: dump the heap words after the last op; -i: print heap0 and
 * &main_arena on stderr.
 *
 * The program's own work must not touch the heap: only the trace's ops may
 * call malloc. So there is no stdio (its buffers come from malloc): the
 * trace is read with open/read into a static buffer, pointers live in a
 * static array, the text is formatted by hand into a static buffer and
 * written with write(2) at the end. Build it dynamically linked (a static
 * binary mallocs before main) and with -z now (no lazy binding at run time).
 * Build with -fno-builtin too: gcc may otherwise drop a malloc whose result
 * is unused or a store into memory about to be freed.
 * Run it under `setarch -R` with an empty environment (no MALLOC_* or
 * GLIBC_TUNABLES settings).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* sizeof(struct malloc_state) in glibc 2.36 (x86-64). */
#define ARENA_SIZE 0x898
/* unsorted_chunks(&main_arena) - &main_arena: the fd of the only chunk in
   the unsorted bin. */
#define UNSORTED_OFFSET 0x60

/* heap0 is aligned to this (32 MiB: more than any heap of the traces). */
#define HEAP_ALIGN ((uintptr_t)32 << 20)

#define MAX_TRACE (64u << 20)
#define MAX_IDS (1u << 20)
#define MAX_OUT (512u << 20)
#define MAX_DUMP_WORDS (64u << 20) /* 512 MiB of heap */

static char trace[MAX_TRACE + 1];
static void *ptrs[MAX_IDS];
static char out[MAX_OUT];
static size_t outlen;
static uint64_t dumpwords[MAX_DUMP_WORDS];

static uintptr_t heap0;
static uintptr_t arena_base;
static uint64_t tcache_key;
static int have_key;

/* ---- errors, before any output exists ---- */

static void die(const char *msg, const char *arg) {
  write(2, "replay: ", 8);
  write(2, msg, strlen(msg));
  if (arg) {
    write(2, ": ", 2);
    write(2, arg, strlen(arg));
  }
  write(2, "\n", 1);
  _exit(2);
}

/* ---- output formatting ---- */

static void put(const char *s, size_t n) {
  if (outlen + n > MAX_OUT) die("output buffer full", 0);
  memcpy(out + outlen, s, n);
  outlen += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

static void putc_(char c) { put(&c, 1); }

static void put_dec(uint64_t v) {
  char b[24];
  int n = 0;
  do {
    b[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) putc_(b[--n]);
}

static void put_sdec(int64_t v) {
  if (v < 0) {
    putc_('-');
    put_dec((uint64_t)0 - (uint64_t)v);
  } else {
    put_dec((uint64_t)v);
  }
}

/* Lowercase hex without a prefix. */
static void put_hex(uint64_t v) {
  char b[20];
  int n = 0;
  do {
    b[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n) putc_(b[--n]);
}

static void put_0x(uint64_t v) {
  puts_("0x");
  put_hex(v);
}

static uintptr_t cur_brk(void) { return (uintptr_t)sbrk(0); }

/* Reads a word of malloc's memory (chunk headers, freed chunks) as the raw
   memory it is, out of the compiler's object model. */
__attribute__((noinline)) static uint64_t peek(uintptr_t p, long word) {
  return *(volatile const uint64_t *)(p + (uintptr_t)(word * 8));
}

/* The pointer form: 0, M+<p & 0xfff> for a mapped chunk, H+<p - heap0>. */
static void put_ptr(void *p) {
  if (!p) {
    putc_('0');
    return;
  }
  uint64_t size = peek((uintptr_t)p, -1);
  if (size & 2) {
    puts_("M+");
    put_hex((uintptr_t)p & 0xfff);
  } else {
    puts_("H+");
    put_hex((uintptr_t)p - heap0);
  }
}

static void put_ptr_details(void *p) {
  if (!p) return;
  puts_(" sz=");
  put_0x(peek((uintptr_t)p, -1));
  puts_(" us=");
  put_dec(malloc_usable_size(p));
}

static void put_mallinfo(void) {
  struct mallinfo2 m = mallinfo2();
  puts_("mi arena=");
  put_dec(m.arena);
  puts_(" ordblks=");
  put_dec(m.ordblks);
  puts_(" smblks=");
  put_dec(m.smblks);
  puts_(" hblks=");
  put_dec(m.hblks);
  puts_(" hblkhd=");
  put_dec(m.hblkhd);
  puts_(" usmblks=");
  put_dec(m.usmblks);
  puts_(" fsmblks=");
  put_dec(m.fsmblks);
  puts_(" uordblks=");
  put_dec(m.uordblks);
  puts_(" fordblks=");
  put_dec(m.fordblks);
  puts_(" keepcost=");
  put_dec(m.keepcost);
  putc_('\n');
}

/* ---- trace parsing ---- */

static char *cursor;

/* Next line as [start, end); 0 at the end of the trace. */
static int next_line(char **start, char **end) {
  if (!*cursor) return 0;
  *start = cursor;
  while (*cursor && *cursor != '\n') cursor++;
  *end = cursor;
  if (*end > *start && (*end)[-1] == '\r') (*end)--;
  if (*cursor == '\n') cursor++;
  return 1;
}

#define MAX_TOK 4

/* Splits a line into at most MAX_TOK whitespace-separated tokens. */
static int split(char *s, char *e, char **tok, size_t *len) {
  int n = 0;
  while (s < e) {
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    if (s >= e) break;
    if (n == MAX_TOK) return -1;
    tok[n] = s;
    while (s < e && *s != ' ' && *s != '\t') s++;
    len[n] = (size_t)(s - tok[n]);
    n++;
  }
  return n;
}

/* A decimal number with an optional sign, as a 64-bit two's-complement word. */
static uint64_t num(const char *s, size_t n, const char *line) {
  int neg = 0;
  size_t i = 0;
  uint64_t v = 0;
  if (n && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == n) die("bad number in line", line);
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') die("bad number in line", line);
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  return neg ? (uint64_t)0 - v : v;
}

/* ---- what this process needs to know about malloc ---- */

/* &main_arena, learned in a child so this process's heap stays untouched:
   the only chunk in the unsorted bin has fd == unsorted_chunks(av). With
   ASLR off (and anyway after fork) the address is the same here. */
static void *volatile guard;

static void learn_arena(void) {
  int fd[2];
  if (pipe(fd) != 0) die("pipe failed", 0);
  pid_t pid = fork();
  if (pid < 0) die("fork failed", 0);
  if (pid == 0) {
    void *a = malloc(0x500);
    guard = malloc(16); /* keeps a from merging into the top */
    uintptr_t ua = (uintptr_t)a;
    free(a);
    uintptr_t v = peek(ua, 0) - UNSORTED_OFFSET;
    write(fd[1], &v, sizeof v);
    _exit(0);
  }
  uintptr_t v = 0;
  if (read(fd[0], &v, sizeof v) != (ssize_t)sizeof v) die("no arena address from child", 0);
  int st;
  waitpid(pid, &st, 0);
  close(fd[0]);
  close(fd[1]);
  arena_base = v;
}

/* The tcache key (random per process in 2.36): free a fresh tcache-sized
   chunk and read its second word. A bin may be full (then the chunk goes to
   a fastbin or the unsorted bin and the word is not the key), so try the
   bins in turn until one writes a word that is no pointer we know. */
static void try_learn_key(void) {
  uintptr_t hi = cur_brk();
  for (size_t req = 24; req <= 1032; req += 16) {
    uint64_t *p = malloc(req);
    if (!p) continue;
    if (peek((uintptr_t)p, -1) & 2) { /* a mapped chunk: free unmaps it */
      free(p);
      continue;
    }
    ((volatile uint64_t *)p)[1] = 0;
    uintptr_t up = (uintptr_t)p;
    free(p);
    uint64_t w = peek(up, 1);
    uintptr_t b = cur_brk();
    if (b > hi) hi = b;
    if (w == 0) continue;
    /* M_PERTURB fills a chunk freed to a fastbin with one byte repeated: no key looks so. */
    if (w == (w & 0xff) * 0x0101010101010101ull) continue;
    if (w >= heap0 && w < hi) continue;
    if (w >= arena_base && w < arena_base + ARENA_SIZE) continue;
    tcache_key = w;
    have_key = 1;
    return;
  }
}

static void learn_key(void) {
  try_learn_key();
  /* Every malloc was mapped (an M_MMAP_THRESHOLD below every chunk the top
     could give): the heap is dumped already, so turn mmap off and try again. */
  if (!have_key) {
    mallopt(M_MMAP_MAX, 0);
    try_learn_key();
  }
}

/* ---- the dump ---- */

static size_t dump_n;

static void save_heap(void) {
  uintptr_t end = cur_brk();
  size_t n = (end - heap0) / 8;
  if (n > MAX_DUMP_WORDS) die("heap too large to dump", 0);
  memcpy(dumpwords, (void *)heap0, n * 8);
  dump_n = n;
}

static void put_dump(uintptr_t brk_end) {
  for (size_t i = 0; i < dump_n; i++) {
    uint64_t w = dumpwords[i];
    if (!w) continue;
    uintptr_t a = heap0 + i * 8;
    puts_("w ");
    put_hex(a - heap0);
    putc_(' ');
    uint64_t d = w ^ (a >> 12);
    if (have_key && w == tcache_key) {
      putc_('K');
    } else if (w >= heap0 && w < brk_end) {
      puts_("H+");
      put_hex(w - heap0);
    } else if (w >= arena_base && w < arena_base + ARENA_SIZE) {
      puts_("A+");
      put_hex(w - arena_base);
    } else if (d == 0) {
      puts_("S:0");
    } else if (d >= heap0 && d < brk_end) {
      puts_("S:H+");
      put_hex(d - heap0);
    } else {
      put_0x(w);
    }
    putc_('\n');
  }
}

/* ---- main ---- */

int main(int argc, char **argv) {
  int dump = 0, info = 0;
  const char *path = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-d") == 0)
      dump = 1;
    else if (strcmp(argv[i], "-i") == 0)
      info = 1;
    else if (!path)
      path = argv[i];
    else
      die("usage: replay [-d] [-i] TRACE", 0);
  }
  if (!path) die("usage: replay [-d] [-i] TRACE", 0);

  learn_arena();

  {
    uintptr_t b = cur_brk();
    if (b & 0xfff) die("the initial break is not page aligned", 0);
    /* Start the heap at a HEAP_ALIGN boundary (a brk of our own before
       malloc's first one; malloc takes the break as it finds it). Then
       memalign results do not depend on where the loader put the break, and
       safe-linked words copied away from their position (realloc copies
       stale links) keep the same bits relative to heap0 as in a model whose
       heap starts at such a boundary too. */
    uintptr_t pad = ((b + HEAP_ALIGN - 1) & ~(uintptr_t)(HEAP_ALIGN - 1)) - b;
    if (pad && sbrk((intptr_t)pad) == (void *)-1) die("cannot align the break", 0);
  }
  heap0 = cur_brk();
  if (heap0 & (HEAP_ALIGN - 1)) die("the break is not aligned", 0);
  {
    struct mallinfo2 m = mallinfo2();
    if (m.arena != 0) die("malloc was used before main (mallinfo2().arena != 0)", 0);
  }

  int fd = open(path, O_RDONLY);
  if (fd < 0) die("cannot open", path);
  size_t tlen = 0;
  for (;;) {
    ssize_t r = read(fd, trace + tlen, MAX_TRACE - tlen);
    if (r < 0) die("cannot read", path);
    if (r == 0) break;
    tlen += (size_t)r;
    if (tlen == MAX_TRACE) die("trace too large", path);
  }
  close(fd);
  trace[tlen] = 0;
  cursor = trace;

  char *s, *e;
  uint64_t num_ids = 0;
  for (int h = 0; h < 4; h++) {
    if (!next_line(&s, &e)) die("short header", path);
    if (h == 1) {
      char *tok[MAX_TOK];
      size_t len[MAX_TOK];
      *e = 0;
      if (split(s, e, tok, len) < 1) die("bad num_ids line", s);
      num_ids = num(tok[0], len[0], s);
    }
  }
  if (num_ids > MAX_IDS) die("num_ids too large", path);

  puts_("# glibc ");
  puts_(gnu_get_libc_version());
  puts_(" x86_64 heap0&0xfff=");
  put_0x(heap0 & 0xfff);
  putc_('\n');

  uint64_t i = 0;
  while (next_line(&s, &e)) {
    char *tok[MAX_TOK];
    size_t len[MAX_TOK];
    *e = 0;
    int n = split(s, e, tok, len);
    if (n == 0 || tok[0][0] == '#') continue;
    if (n < 0 || len[0] != 1) die("bad op line", s);
    char op = tok[0][0];
    uint64_t v[3] = {0, 0, 0};
    for (int k = 1; k < n; k++) v[k - 1] = num(tok[k], len[k], s);
    int want;
    switch (op) {
      case 'a': case 'r': want = 3; break;
      case 'f': want = 2; break;
      case 'c': case 'm': case 'p': case 'A': want = 4; break;
      case 't': want = 2; break;
      case 's': want = 2; break;
      case 'o': want = 3; break;
      default: die("unknown op", s); return 2;
    }
    if (n != want) die("wrong number of fields", s);
    if (op != 't' && op != 'o' && op != 's' && v[0] >= num_ids) die("id out of range", s);

    /* Echo the op with single spaces. */
    put_dec(i);
    for (int k = 0; k < n; k++) {
      putc_(' ');
      put(tok[k], len[k]);
    }
    puts_(" -> ");

    void **slot = op != 't' && op != 'o' ? &ptrs[v[0]] : 0;
    void *res = 0;
    int is_ptr = 1;
    switch (op) {
      case 'a':
        res = *slot = malloc(v[1]);
        break;
      case 'f':
        free(*slot);
        is_ptr = 0;
        putc_('-');
        break;
      case 'r':
        res = *slot = realloc(*slot, v[1]);
        break;
      case 'c':
        res = *slot = calloc(v[1], v[2]);
        break;
      case 'm':
        res = *slot = memalign(v[1], v[2]);
        break;
      case 'A':
        res = *slot = aligned_alloc(v[1], v[2]);
        break;
      case 'p': {
        void *q = 0;
        int err = posix_memalign(&q, v[1], v[2]);
        if (err) q = 0;
        res = *slot = q;
        putc_('e');
        put_sdec(err);
        putc_(':');
        break;
      }
      case 't':
        is_ptr = 0;
        put_sdec(malloc_trim(v[0]));
        break;
      case 'o':
        is_ptr = 0;
        put_sdec(mallopt((int)(int64_t)v[0], (int)(int64_t)v[1]));
        break;
      case 's': {
        /* The program moves the break itself (a foreign sbrk): prints the previous break. */
        is_ptr = 0;
        void *r = sbrk((intptr_t)v[0]);
        if (r == (void *)-1) puts_("-1");
        else {
          puts_("H+");
          put_hex((uintptr_t)r - heap0);
        }
        break;
      }
    }
    if (is_ptr) {
      put_ptr(res);
      put_ptr_details(res);
    }
    puts_(" brk=");
    put_0x(cur_brk() - heap0);
    putc_('\n');
    if ((i + 1) % 200 == 0) put_mallinfo();
    i++;
  }
  put_mallinfo();

  if (dump) {
    uintptr_t end = cur_brk();
    save_heap();
    learn_key();
    if (!have_key) die("could not learn the tcache key", 0);
    put_dump(end);
  }

  if (info) {
    /* -i: the absolute addresses, on stderr (not part of the format). */
    size_t mark = outlen;
    puts_("heap0=");
    put_0x(heap0);
    puts_(" main_arena=");
    put_0x(arena_base);
    putc_('\n');
    write(2, out + mark, outlen - mark);
    outlen = mark;
  }

  size_t off = 0;
  while (off < outlen) {
    ssize_t w = write(1, out + off, outlen - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write failed", 0);
    }
    off += (size_t)w;
  }
  return 0;
}
