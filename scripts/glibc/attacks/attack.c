/*
 * attack: runs a heap-corruption scenario against the C library's real
 * malloc, in a forked child, and prints what happened: every step with its
 * result (addresses relative to the heap start), then how the child ended
 * (normally, or killed by glibc's abort with the message it printed, or by
 * another signal).
 *
 *   attack SCENARIO.atk
 *
 * Run it as `setarch -R env -i LIBC_FATAL_STDERR_=1 attack FILE` (no ASLR,
 * no malloc tunables; glibc's fatal messages go to stderr, not /dev/tty).
 *
 * A scenario is a list of steps, one per line (`#` starts a comment):
 *
 *   NAME = malloc SIZE          NAME = calloc N SIZE
 *   NAME = realloc NAME2 SIZE   NAME = memalign ALIGN SIZE
 *   free EXPR                   mallopt PARAM VALUE
 *   set EXPR VALUE              stores the 64-bit VALUE at address EXPR
 *   setb EXPR BYTE              stores one byte
 *   get EXPR                    prints the 64-bit word at EXPR
 *
 * EXPR and VALUE (no spaces): terms joined by + and -; a term is a block
 * NAME, H (the heap start), F (heap start - 1 MiB: zeroed memory below the
 * heap, in the stretch of break this program takes before malloc's first
 * call, for fake chunks and "global" targets), A (&main_arena), a
 * number (decimal or 0x hex), or prot(POS,PTR): glibc's safe-linking,
 * (POS >> 12) ^ PTR. Arithmetic is modulo 2^64.
 *
 * Results print as 0, H+x (in [heap start, break)), F+x, A+x (inside
 * main_arena), M+x (a mapped chunk: the address mod 4096), S:H+x / S:F+x (a
 * safe-linked pointer, decoded with the word's own address), else raw hex.
 *
 * Like scripts/glibc/replay.c, nothing but the scenario's steps may call
 * malloc: no stdio, the file is read into a static buffer, the text is
 * formatted by hand and written with write(2), one step at a time, so that
 * the lines before an abort are kept. Build as replay.c is built
 * (dynamically linked, -z now, -fno-builtin).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARENA_SIZE 0x898
#define UNSORTED_OFFSET 0x60
#define HEAP_ALIGN ((uintptr_t)32 << 20)
#define FAKE_OFFSET ((uintptr_t)1 << 20)
#define FAKE_SIZE 0x2000
#define MAX_SCRIPT (1u << 20)
#define MAX_VARS 64

static char script[MAX_SCRIPT + 1];
static uintptr_t heap0, fake, arena_base;

static struct {
  char name[32];
  uint64_t v;
} vars[MAX_VARS];
static int nvars;

/* ---- output, unbuffered ---- */

static void out(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) _exit(3);
    s += w;
    n -= (size_t)w;
  }
}
static void outs(int fd, const char *s) { out(fd, s, strlen(s)); }
static void outhex(int fd, uint64_t v) {
  char b[20];
  int n = 0;
  do {
    b[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  char r[20];
  for (int i = 0; i < n; i++) r[i] = b[n - 1 - i];
  out(fd, r, (size_t)n);
}
static void outdec(int fd, long v) {
  char b[24];
  int n = 0;
  unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
  do {
    b[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) out(fd, "-", 1);
  while (n) out(fd, &b[--n], 1);
}

static void die(const char *msg, const char *arg) {
  outs(2, "attack: ");
  outs(2, msg);
  if (arg) {
    outs(2, ": ");
    outs(2, arg);
  }
  outs(2, "\n");
  _exit(2);
}

static uintptr_t cur_brk(void) { return (uintptr_t)sbrk(0); }

__attribute__((noinline)) static uint64_t peek(uintptr_t a) { return *(volatile const uint64_t *)a; }

/* tcache_key (random per process, static in libc): the second word of the chunk at the head
   of a non-empty tcache bin. Learned when a `get` needs it; while no bin holds a chunk, no
   chunk holds the key either (tcache_get clears it). */
static uint64_t tcache_key;
static int have_key;

static void learn_key(void) {
  uintptr_t tc = heap0 + 0x10, brk = cur_brk();
  if (have_key || brk < tc + 0x280) return;
  for (int i = 0; i < 64; i++) {
    uint16_t count = *(volatile uint16_t *)(tc + 2 * (uintptr_t)i);
    uintptr_t e = (uintptr_t)peek(tc + 128 + 8 * (uintptr_t)i);
    if (count && e >= heap0 && e + 16 <= brk && !(e & 15)) {
      tcache_key = peek(e + 8);
      have_key = 1;
      return;
    }
  }
}

/* The classes of the header comment, and K for the tcache key. `at` is the word's own
   address (for S:), 0 if none. */
static void put_value(uint64_t v, uintptr_t at) {
  uintptr_t brk = cur_brk();
  uintptr_t f = fake;
  if (at) learn_key();
  if (v == 0) {
    outs(1, "0");
  } else if (at && have_key && v == tcache_key) {
    outs(1, "K");
  } else if (v >= heap0 && v < brk) {
    outs(1, "H+");
    outhex(1, v - heap0);
  } else if (v >= f && v < f + FAKE_SIZE) {
    outs(1, "F+");
    outhex(1, v - f);
  } else if (v >= arena_base && v < arena_base + ARENA_SIZE) {
    outs(1, "A+");
    outhex(1, v - arena_base);
  } else {
    uint64_t d = at ? v ^ (at >> 12) : 0;
    if (at && d >= heap0 && d < brk) {
      outs(1, "S:H+");
      outhex(1, d - heap0);
    } else if (at && d >= f && d < f + FAKE_SIZE) {
      outs(1, "S:F+");
      outhex(1, d - f);
    } else {
      outs(1, "0x");
      outhex(1, v);
    }
  }
}

static void put_ptr(void *p) {
  if (p && (peek((uintptr_t)p - 8) & 2) && !((uintptr_t)p >= heap0 && (uintptr_t)p < cur_brk())) {
    outs(1, "M+");
    outhex(1, (uintptr_t)p & 0xfff);
  } else {
    put_value((uint64_t)(uintptr_t)p, 0);
  }
}

/* ---- expressions ---- */

static int var_index(const char *s, size_t n, int create) {
  for (int i = 0; i < nvars; i++)
    if (strlen(vars[i].name) == n && memcmp(vars[i].name, s, n) == 0) return i;
  if (!create) return -1;
  if (nvars == MAX_VARS || n >= sizeof vars[0].name) die("too many or too long names", 0);
  memcpy(vars[nvars].name, s, n);
  vars[nvars].name[n] = 0;
  return nvars++;
}

static const char *cur_line;
static uint64_t expr(const char **s);

static uint64_t term(const char **s) {
  const char *p = *s;
  if (strncmp(p, "prot(", 5) == 0) {
    p += 5;
    uint64_t pos = expr(&p);
    if (*p != ',') die("expected , in prot()", cur_line);
    p++;
    uint64_t ptr = expr(&p);
    if (*p != ')') die("expected ) in prot()", cur_line);
    *s = p + 1;
    return (pos >> 12) ^ ptr;
  }
  if (*p >= '0' && *p <= '9') {
    uint64_t v = 0;
    if (p[0] == '0' && p[1] == 'x') {
      p += 2;
      for (;; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0) break;
        v = v * 16 + (uint64_t)d;
      }
    } else {
      while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    }
    *s = p;
    return v;
  }
  const char *b = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') p++;
  size_t n = (size_t)(p - b);
  if (n == 0) die("bad expression", cur_line);
  *s = p;
  if (n == 1 && *b == 'H') return heap0;
  if (n == 1 && *b == 'F') return fake;
  if (n == 1 && *b == 'A') return arena_base;
  int i = var_index(b, n, 0);
  if (i < 0) die("unknown name", cur_line);
  return vars[i].v;
}

static uint64_t expr(const char **s) {
  uint64_t v = term(s);
  while (**s == '+' || **s == '-') {
    char op = *(*s)++;
    uint64_t t = term(s);
    v = op == '+' ? v + t : v - t;
  }
  return v;
}

static uint64_t eval(const char *tok) {
  const char *p = tok;
  uint64_t v = expr(&p);
  if (*p) die("trailing characters in expression", cur_line);
  return v;
}

/* ---- the scenario ---- */

#define MAX_TOK 6

static int split(char *s, char **tok) {
  int n = 0;
  while (*s) {
    while (*s == ' ' || *s == '\t') *s++ = 0;
    if (!*s || *s == '#') break;
    if (n == MAX_TOK) die("too many words", cur_line);
    tok[n++] = s;
    while (*s && *s != ' ' && *s != '\t') s++;
  }
  return n;
}

static void run_scenario(void) {
  char *line = script;
  while (*line) {
    char *end = strchr(line, '\n');
    if (end) *end = 0;
    char copy[256];
    size_t ln = strlen(line);
    if (ln >= sizeof copy) die("line too long", line);
    memcpy(copy, line, ln + 1);
    cur_line = copy;
    char *tok[MAX_TOK];
    int n = split(line, tok);
    if (n > 0) {
      /* Echo the step with single spaces before running it. */
      for (int k = 0; k < n; k++) {
        if (k) outs(1, " ");
        outs(1, tok[k]);
      }
      outs(1, " -> ");
      if (n >= 3 && strcmp(tok[1], "=") == 0) {
        int i = var_index(tok[0], strlen(tok[0]), 1);
        void *r = 0;
        if (strcmp(tok[2], "malloc") == 0 && n == 4) r = malloc(eval(tok[3]));
        else if (strcmp(tok[2], "calloc") == 0 && n == 5) r = calloc(eval(tok[3]), eval(tok[4]));
        else if (strcmp(tok[2], "realloc") == 0 && n == 5) r = realloc((void *)(uintptr_t)eval(tok[3]), eval(tok[4]));
        else if (strcmp(tok[2], "memalign") == 0 && n == 5) r = memalign(eval(tok[3]), eval(tok[4]));
        else die("bad allocation step", copy);
        vars[i].v = (uint64_t)(uintptr_t)r;
        put_ptr(r);
      } else if (strcmp(tok[0], "free") == 0 && n == 2) {
        free((void *)(uintptr_t)eval(tok[1]));
        outs(1, "ok");
      } else if (strcmp(tok[0], "set") == 0 && n == 3) {
        uint64_t a = eval(tok[1]), v = eval(tok[2]);
        *(volatile uint64_t *)(uintptr_t)a = v;
        outs(1, "ok");
      } else if (strcmp(tok[0], "setb") == 0 && n == 3) {
        uint64_t a = eval(tok[1]), v = eval(tok[2]);
        *(volatile uint8_t *)(uintptr_t)a = (uint8_t)v;
        outs(1, "ok");
      } else if (strcmp(tok[0], "get") == 0 && n == 2) {
        uint64_t a = eval(tok[1]);
        put_value(peek((uintptr_t)a), (uintptr_t)a);
      } else if (strcmp(tok[0], "mallopt") == 0 && n == 3) {
        outdec(1, mallopt((int)(int64_t)eval(tok[1]), (int)(int64_t)eval(tok[2])));
      } else {
        die("unknown step", copy);
      }
      outs(1, "\n");
    }
    if (!end) break;
    line = end + 1;
  }
}

/* &main_arena, learned in a child (see replay.c): the fd of the only unsorted chunk. */
static void learn_arena(void) {
  int fd[2];
  if (pipe(fd) != 0) die("pipe failed", 0);
  pid_t pid = fork();
  if (pid == 0) {
    void *a = malloc(0x500);
    void *volatile guard = malloc(16);
    (void)guard;
    uintptr_t ua = (uintptr_t)a;
    free(a);
    uintptr_t v = peek(ua) - UNSORTED_OFFSET;
    write(fd[1], &v, sizeof v);
    _exit(0);
  }
  if (read(fd[0], &arena_base, sizeof arena_base) != (ssize_t)sizeof arena_base) die("no arena address", 0);
  waitpid(pid, 0, 0);
  close(fd[0]);
  close(fd[1]);
}

static char errbuf[4096];

int main(int argc, char **argv) {
  if (argc != 2) die("usage: attack SCENARIO", 0);
  int sfd = open(argv[1], O_RDONLY);
  if (sfd < 0) die("cannot open", argv[1]);
  ssize_t len = read(sfd, script, MAX_SCRIPT);
  if (len < 0 || len == MAX_SCRIPT) die("cannot read", argv[1]);
  script[len] = 0;
  close(sfd);
  learn_arena();
  /* The child moves the break up to here before its first step (as replay.c does). */
  heap0 = (cur_brk() + HEAP_ALIGN - 1) & ~(HEAP_ALIGN - 1);
  if (heap0 - cur_brk() < FAKE_OFFSET) heap0 += HEAP_ALIGN;
  fake = heap0 - FAKE_OFFSET;

  int o[2], e[2];
  if (pipe(o) || pipe(e)) die("pipe failed", 0);
  pid_t pid = fork();
  if (pid < 0) die("fork failed", 0);
  if (pid == 0) {
    dup2(o[1], 1);
    dup2(e[1], 2);
    close(o[0]);
    close(e[0]);
    uintptr_t pad = heap0 - cur_brk();
    if (pad && sbrk((intptr_t)pad) == (void *)-1) die("cannot align the break", 0);
    if (cur_brk() != heap0) die("the break is not aligned", 0);
    if (mallinfo2().arena != 0) die("malloc was used before the scenario", 0);
    run_scenario();
    _exit(0);
  }
  close(o[1]);
  close(e[1]);
  /* The child's steps, as they come (they are few: the pipe never fills while stderr waits). */
  char buf[4096];
  ssize_t r;
  int at_line_start = 1;
  while ((r = read(o[0], buf, sizeof buf)) > 0) {
    out(1, buf, (size_t)r);
    at_line_start = buf[r - 1] == '\n';
  }
  size_t elen = 0;
  while (elen < sizeof errbuf - 1 && (r = read(e[0], errbuf + elen, sizeof errbuf - 1 - elen)) > 0) elen += (size_t)r;
  int st;
  waitpid(pid, &st, 0);
  if (!at_line_start) outs(1, "\n");
  while (elen && errbuf[elen - 1] == '\n') elen--;
  if (WIFEXITED(st)) {
    if (WEXITSTATUS(st) == 2) { /* the scenario itself was bad */
      out(2, errbuf, elen);
      outs(2, "\n");
      return 2;
    }
    outs(1, "end: exit ");
    outdec(1, WEXITSTATUS(st));
  } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && elen) {
    outs(1, "end: abort \"");
    out(1, errbuf, elen);
    outs(1, "\"");
  } else {
    outs(1, "end: signal ");
    outdec(1, WIFSIGNALED(st) ? WTERMSIG(st) : -1);
  }
  outs(1, "\n");
  /* The absolute addresses (ASLR off), not part of the transcript. */
  outs(2, "heap0=0x");
  outhex(2, heap0);
  outs(2, " fake=0x");
  outhex(2, fake);
  outs(2, " main_arena=0x");
  outhex(2, arena_base);
  outs(2, "\n");
  return 0;
}
