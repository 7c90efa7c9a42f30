/*
 * Shared helpers of the process measurements: snapshots of RssAnon
 * (/proc/self/status), minor faults (getrusage ru_minflt) and the break
 * (sbrk(0) - heap0), taken without touching the heap.
 *
 * Nothing here calls malloc: no stdio (its buffers come from malloc), files
 * are read with open/read into static buffers, the JSON result is formatted
 * by hand into a static buffer and written with write(2) at the end.
 *
 * Clean counts: the first call of a libc function faults its text page in
 * (a file-backed minor fault, often with fault-around), and the first write
 * to a libc data page (main_arena, mp_) is a copy-on-write fault that adds an
 * anonymous page to RssAnon. Neither belongs to the heap. So, unless run with
 * --cold, prefault() first reads one byte of every page of every file-backed
 * and anonymous mapping present before the steps (and writes the same byte
 * back into every private writable page), and touches 256 KiB of stack. After
 * that, the faults and the RssAnon growth during the steps are the heap's
 * (brk pages and mmapped chunks) alone. --cold skips prefault() to show the
 * raw numbers of a fresh process.
 */
#ifndef MEASURE_H
#define MEASURE_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char m_out[1 << 16]; /* the snapshots */
static size_t m_len;
static char m_vals[1 << 12]; /* the values */
static size_t m_vlen;
static char m_file[1 << 16];
static uintptr_t m_heap0;
static int m_cold;

static void m_put(const char *s, size_t n) {
  if (m_len + n > sizeof m_out) _exit(3);
  memcpy(m_out + m_len, s, n);
  m_len += n;
}
static void m_puts(const char *s) { m_put(s, strlen(s)); }
static void m_dec(int64_t v) {
  char b[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  if (v < 0) m_put("-", 1);
  do {
    b[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  while (n) m_put(&b[--n], 1);
}
static void m_hexraw(uint64_t v) {
  char b[20];
  int n = 0;
  do {
    b[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n) m_put(&b[--n], 1);
}
static void m_hex(uint64_t v) {
  m_puts("0x");
  m_hexraw(v);
}

/* Reads a whole /proc file into m_file (NUL-terminated). */
static size_t m_read(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) _exit(4);
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, m_file + n, sizeof m_file - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  m_file[n] = 0;
  return n;
}

static uint64_t m_parse_hex(const char **s) {
  uint64_t v = 0;
  for (;;) {
    char c = **s;
    if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
    else break;
    (*s)++;
  }
  return v;
}

struct snap {
  int64_t rss_anon_kb;
  int64_t minflt;
  int64_t brk;
};

static struct snap take_snap(void) {
  struct snap s;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s.minflt = ru.ru_minflt;
  s.brk = (int64_t)((uintptr_t)sbrk(0) - m_heap0);
  m_read("/proc/self/status");
  const char *p = strstr(m_file, "RssAnon:");
  int64_t kb = -1;
  if (p) {
    p += 8;
    while (*p == ' ' || *p == '\t') p++;
    kb = 0;
    while (*p >= '0' && *p <= '9') kb = kb * 10 + (*p++ - '0');
  }
  s.rss_anon_kb = kb;
  return s;
}

__attribute__((noinline)) static void touch_stack(void) {
  volatile char buf[256 * 1024];
  for (size_t i = 0; i < sizeof buf; i += 4096) buf[i] = 0;
}

static void prefault(void) {
  static char maps[1 << 16];
  m_read("/proc/self/maps");
  memcpy(maps, m_file, sizeof maps);
  const char *s = maps;
  while (*s) {
    const char *line = s;
    while (*s && *s != '\n') s++;
    const char *end = s;
    if (*s) s++;
    const char *q = line;
    uint64_t lo = m_parse_hex(&q);
    q++;
    uint64_t hi = m_parse_hex(&q);
    q++;
    char r = q[0], w = q[1], priv = q[3];
    if (r != 'r') continue;
    /* skip the kernel's special mappings and the heap */
    if (memmem(line, (size_t)(end - line), "[v", 2) || memmem(line, (size_t)(end - line), "[heap]", 6)) continue;
    for (uint64_t a = lo; a < hi; a += 4096) {
      volatile char *c = (volatile char *)a;
      char v = *c;
      if (w == 'w' && priv == 'p') *c = v;
    }
  }
  touch_stack();
}

/* Call first in main: heap0, prefault (unless --cold), warm take_snap. */
static void measure_begin(int argc, char **argv) {
  m_cold = argc > 1 && strcmp(argv[1], "--cold") == 0;
  m_heap0 = (uintptr_t)sbrk(0);
  if (!m_cold) prefault();
  (void)take_snap();
  (void)take_snap();
  m_puts("{\"mode\":\"");
  m_puts(m_cold ? "cold" : "warm");
  m_puts("\",\"heap0AndFff\":");
  m_dec((int64_t)(m_heap0 & 0xfff));
  m_puts(",\"snaps\":[");
}

static int m_nsnaps;

/* Records a snapshot under a label. */
static void snap(const char *label) {
  struct snap s = take_snap();
  if (m_nsnaps++) m_puts(",");
  m_puts("{\"at\":\"");
  m_puts(label);
  m_puts("\",\"rssAnonKb\":");
  m_dec(s.rss_anon_kb);
  m_puts(",\"minflt\":");
  m_dec(s.minflt);
  m_puts(",\"brk\":\"");
  m_hex((uint64_t)s.brk);
  m_puts("\"}");
}

/* Reads a word of malloc's memory (a chunk header) as raw memory. */
__attribute__((noinline, unused)) static uint64_t peek(uintptr_t p, long word) {
  return *(volatile const uint64_t *)(p + (uintptr_t)(word * 8));
}

static int m_nvals;

/* Values are formatted at the end of m_out, then moved to m_vals. */
static void m_key(const char *key) {
  if (m_nvals++) m_puts(",");
  m_puts("\"");
  m_puts(key);
  m_puts("\":");
}

static size_t m_mark;
static void m_val_begin(void) { m_mark = m_len; }
static void m_val_end(void) {
  size_t n = m_len - m_mark;
  if (m_vlen + n > sizeof m_vals) _exit(3);
  memcpy(m_vals + m_vlen, m_out + m_mark, n);
  m_vlen += n;
  m_len = m_mark;
}

__attribute__((unused)) static void val_int(const char *key, int64_t v) {
  m_val_begin();
  m_key(key);
  m_dec(v);
  m_val_end();
}

__attribute__((unused)) static void val_hex(const char *key, uint64_t v) {
  m_val_begin();
  m_key(key);
  m_puts("\"");
  m_hex(v);
  m_puts("\"");
  m_val_end();
}

/* A pointer as the replay fixtures print it: M+<p & 0xfff> or H+<p - heap0>. */
__attribute__((unused)) static void val_ptr(const char *key, void *p) {
  m_val_begin();
  m_key(key);
  m_puts("\"");
  if (!p) {
    m_puts("0");
  } else if (peek((uintptr_t)p, -1) & 2) {
    m_puts("M+");
    m_hexraw((uintptr_t)p & 0xfff);
  } else {
    m_puts("H+");
    m_hexraw((uintptr_t)p - m_heap0);
  }
  m_puts("\"");
  m_val_end();
}

/* The size word at p - 8. */
__attribute__((unused)) static void val_size_word(const char *key, void *p) {
  val_hex(key, peek((uintptr_t)p, -1));
}

static int measure_end(void) {
  m_puts("],\"values\":{");
  m_put(m_vals, m_vlen);
  m_puts("}}\n");
  size_t off = 0;
  while (off < m_len) {
    ssize_t w = write(1, m_out + off, m_len - off);
    if (w <= 0) return 1;
    off += (size_t)w;
  }
  return 0;
}

#endif
