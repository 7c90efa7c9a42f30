/* A hash table grown by realloc: chained buckets in one array that doubles with realloc, entries
 * with malloc'ed keys and values that are replaced (realloc) as they are updated, deleted, and
 * the whole table dropped and rebuilt: a symbol table or a dictionary. */
#include "common.h"

typedef struct entry {
  struct entry *next;
  char *key;
  uint32_t hash;
  uint32_t vlen;
  char *value;
} entry;

typedef struct {
  entry **buckets;
  uint32_t size, count;
} table;

static uint32_t hash_of(const char *s) {
  uint32_t h = 2166136261u;
  while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
  return h;
}

static void grow(table *t) {
  uint32_t old = t->size;
  t->size = old ? old * 2 : 16;
  t->buckets = xrealloc(t->buckets, t->size * sizeof *t->buckets);
  memset(t->buckets + old, 0, (t->size - old) * sizeof *t->buckets);
  /* Rehash in place: entries of bucket i move to i or i + old. */
  for (uint32_t i = 0; i < old; i++) {
    entry **at = &t->buckets[i];
    while (*at != NULL) {
      entry *e = *at;
      if ((e->hash & (t->size - 1)) != i) {
        *at = e->next;
        e->next = t->buckets[e->hash & (t->size - 1)];
        t->buckets[e->hash & (t->size - 1)] = e;
      } else {
        at = &e->next;
      }
    }
  }
}

static void put(table *t, const char *key, uint32_t vlen) {
  uint32_t h = hash_of(key);
  if (t->size != 0) {
    for (entry *e = t->buckets[h & (t->size - 1)]; e != NULL; e = e->next) {
      if (e->hash == h && strcmp(e->key, key) == 0) {
        e->value = xrealloc(e->value, vlen);
        memset(e->value, (int)(h + vlen), vlen);
        e->vlen = vlen;
        return;
      }
    }
  }
  if (t->count >= t->size) grow(t);
  entry *e = xmalloc(sizeof *e);
  size_t klen = strlen(key);
  e->key = xmalloc(klen + 1);
  memcpy(e->key, key, klen + 1);
  e->hash = h;
  e->vlen = vlen;
  e->value = xmalloc(vlen);
  memset(e->value, (int)(h + vlen), vlen);
  e->next = t->buckets[h & (t->size - 1)];
  t->buckets[h & (t->size - 1)] = e;
  t->count++;
}

static int del(table *t, const char *key) {
  if (t->size == 0) return 0;
  uint32_t h = hash_of(key);
  for (entry **at = &t->buckets[h & (t->size - 1)]; *at != NULL; at = &(*at)->next) {
    entry *e = *at;
    if (e->hash == h && strcmp(e->key, key) == 0) {
      *at = e->next;
      free(e->key);
      free(e->value);
      free(e);
      t->count--;
      return 1;
    }
  }
  return 0;
}

static uint64_t digest(const table *t) {
  uint64_t s = t->count;
  for (uint32_t i = 0; i < t->size; i++)
    for (const entry *e = t->buckets[i]; e != NULL; e = e->next) s += (uint64_t)e->hash * e->vlen + (uint8_t)e->value[e->vlen - 1];
  return s;
}

static void drop(table *t) {
  for (uint32_t i = 0; i < t->size; i++) {
    entry *e = t->buckets[i];
    while (e != NULL) {
      entry *n = e->next;
      free(e->key);
      free(e->value);
      free(e);
      e = n;
    }
  }
  free(t->buckets);
  t->buckets = NULL;
  t->size = t->count = 0;
}

int main(void) {
  char key[48];
  table t = { NULL, 0, 0 };
  bench_start();
  for (int round = 0; round < 6; round++) {
    uint32_t n = 20000 + rnd_below(40000);
    for (uint32_t i = 0; i < n; i++) {
      uint32_t k = rnd_below(n);
      snprintf(key, sizeof key, "key-%u-%u", k, k % 97);
      uint32_t r = rnd_below(10);
      if (r < 7) put(&t, key, 1 + rnd_below(r < 5 ? 24 : 200));
      else del(&t, key);
    }
    mix_in(digest(&t));
    if (round % 3 == 2) drop(&t);
  }
  drop(&t);
  bench_stop();
  printf("hashtab checksum %016llx\n", (unsigned long long)checksum);
  return 0;
}
