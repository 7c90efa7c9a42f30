/* A tree builder: unbalanced binary search trees of small nodes, each with a key string of its
 * own, built in random order, searched, partly deleted and rebuilt, then freed: the small,
 * short-lived blocks of an interpreter's or a compiler's syntax trees. */
#include "common.h"

typedef struct node {
  struct node *left, *right;
  uint32_t key;
  char *name; /* a malloc'ed string of 4..40 bytes */
} node;

static node *insert(node *t, uint32_t key) {
  node **at = &t;
  while (*at != NULL) {
    if (key == (*at)->key) return t;
    at = key < (*at)->key ? &(*at)->left : &(*at)->right;
  }
  node *n = xmalloc(sizeof *n);
  n->left = n->right = NULL;
  n->key = key;
  size_t len = 3 + key % 37;
  n->name = xmalloc(len + 1);
  for (size_t i = 0; i < len; i++) n->name[i] = (char)('a' + (key >> (i % 24)) % 26);
  n->name[len] = 0;
  *at = n;
  return t;
}

static node *delete_min_of(node *t, node **min) {
  if (t->left == NULL) { *min = t; return t->right; }
  t->left = delete_min_of(t->left, min);
  return t;
}

static node *delete(node *t, uint32_t key) {
  if (t == NULL) return NULL;
  if (key < t->key) { t->left = delete(t->left, key); return t; }
  if (key > t->key) { t->right = delete(t->right, key); return t; }
  node *rest;
  if (t->left == NULL) rest = t->right;
  else if (t->right == NULL) rest = t->left;
  else {
    node *m;
    node *r = delete_min_of(t->right, &m);
    m->left = t->left;
    m->right = r;
    rest = m;
  }
  free(t->name);
  free(t);
  return rest;
}

static uint64_t walk(const node *t, unsigned depth) {
  uint64_t s = 0;
  while (t != NULL) {
    s += walk(t->left, depth + 1);
    s = s * 31 + t->key + strlen(t->name) + depth;
    t = t->right;
    depth++;
  }
  return s;
}

static void destroy(node *t) {
  while (t != NULL) {
    destroy(t->left);
    node *r = t->right;
    free(t->name);
    free(t);
    t = r;
  }
}

int main(void) {
  bench_start();
  for (int round = 0; round < 20; round++) {
    node *t = NULL;
    uint32_t n = 5000 + rnd_below(15000);
    for (uint32_t i = 0; i < n; i++) t = insert(t, rnd_below(1u << 20));
    mix_in(walk(t, 0));
    for (uint32_t i = 0; i < n / 2; i++) t = delete(t, rnd_below(1u << 20));
    for (uint32_t i = 0; i < n / 2; i++) t = insert(t, rnd_below(1u << 20));
    mix_in(walk(t, 0));
    destroy(t);
  }
  bench_stop();
  printf("tree checksum %016llx\n", (unsigned long long)checksum);
  return 0;
}
