// The traces replayed against glibc 2.36's malloc: one per mechanism of
// ptmalloc2 that a model must reproduce, plus seeded random traces.
// Everything here is deterministic; make-fixtures.mjs writes the files.
//
// Sizes below are requests; the chunk a request gets is
// max(0x20, (request + 8 + 15) & ~15) on x86-64. tcache bins hold 7 chunks
// of 0x20..0x410 (requests up to 1032); fastbins hold chunks up to 0x80
// (requests up to 120) by default; chunks of 0x400 and more go to large bins.

import { Trace, rng } from './trace-builder.mjs';

const KiB = 1024;
const MiB = 1024 * 1024;

// mallopt parameter numbers (glibc's malloc.h).
const M_MXFAST = 1;
const M_TRIM_THRESHOLD = -1;
const M_TOP_PAD = -2;
const M_MMAP_THRESHOLD = -3;
const M_MMAP_MAX = -4;

/** Requests at each chunk-size boundary, malloc(0), usable sizes. */
function mallocSizes() {
  const t = new Trace('malloc-sizes', 'malloc(0), request sizes on both sides of each chunk-size step, usable sizes');
  t.note('the first malloc also takes the 0x290 tcache chunk at heap0+0x10');
  const ids = [];
  for (const s of [100, 0, 1, 8, 16, 24, 25, 32, 40, 41, 56, 57, 100, 104, 105, 120, 121, 128, 136, 137,
    500, 1000, 1016, 1017, 1032, 1033, 1048, 2000, 4096, 8192, 65536, 100000])
    ids.push(t.a(s));
  t.note('free in allocation order: tcache, then fastbins/unsorted, the last one merges into the top');
  for (const id of ids) t.f(id);
  t.note('the same sizes again: they come back from tcache (LIFO) and bins');
  for (const s of [0, 24, 25, 100, 1032, 1033, 100000]) t.a(s);
  return t;
}

/** Fill and drain every tcache bin; the 8th and 9th free of a size go elsewhere. */
function tcacheFillDrain() {
  const t = new Trace('tcache-fill-drain', 'all 64 tcache bins (requests 24..1032): 9 frees per size (7 cached, 2 to fastbin/unsorted), then 9 mallocs');
  for (let s = 24; s <= 1032; s += 16) {
    t.note(`request ${s}: chunk 0x${(s + 8).toString(16)}`);
    const ids = [];
    for (let k = 0; k < 9; k++) ids.push(t.a(s));
    const guard = t.a(8);
    for (const id of ids) t.f(id);
    for (let k = 0; k < 9; k++) t.a(s);
    t.f(guard);
  }
  t.note('1033 bytes: chunk 0x420, just past the last tcache bin');
  const big = [];
  for (let k = 0; k < 3; k++) big.push(t.a(1033));
  t.a(8);
  for (const id of big) t.f(id);
  t.a(1033);
  return t;
}

/** tcache filled from the fastbin and from a small bin (stashing). */
function tcacheStash() {
  const t = new Trace('tcache-stash', 'a malloc served from a fastbin or small bin moves the rest of that bin into the tcache');
  t.note('fastbin 0x30: 7 frees fill the tcache, 5 more go to the fastbin');
  const fast = [];
  for (let k = 0; k < 12; k++) fast.push(t.a(40));
  t.a(8);
  for (const id of fast) t.f(id);
  t.note('drain the tcache, then one malloc takes a fastbin chunk and stashes the other 4');
  for (let k = 0; k < 8; k++) t.a(40);
  t.note('the 4 stashed chunks come back from the tcache, in reverse fastbin order');
  for (let k = 0; k < 5; k++) t.a(40);
  t.note('small bin 0x110: 7 cached, 4 more separated by guards go to the unsorted bin');
  const small = [];
  for (let k = 0; k < 11; k++) {
    small.push(t.a(264));
    t.a(16);
  }
  for (const id of small) t.f(id);
  t.note('a malloc of another size sorts the unsorted chunks into small bin 0x110');
  t.a(2000);
  t.note('drain the tcache; the 8th malloc takes one from the small bin and stashes 3');
  for (let k = 0; k < 8; k++) t.a(264);
  t.note('those come back from the tcache');
  for (let k = 0; k < 4; k++) t.a(264);
  return t;
}

/** Fastbins: LIFO, no coalescing, the 0x80 boundary. */
function fastbins() {
  const t = new Trace('fastbins', 'fastbins: requests up to 120 (chunks up to 0x80) once the tcache is full, no coalescing, 128 is not fast');
  const groups = [];
  for (const s of [24, 40, 56, 72, 88, 104, 120, 128]) {
    const ids = [];
    for (let k = 0; k < 10; k++) ids.push(t.a(s));
    groups.push(ids);
  }
  t.a(24);
  t.note('free all: 7 of each size to the tcache, 3 to the fastbins (adjacent fast chunks stay apart); the 0x90 ones go to unsorted and merge');
  for (const ids of groups) for (const id of ids) t.f(id);
  t.note('alloc again in another order');
  for (const s of [120, 24, 128, 72]) for (let k = 0; k < 9; k++) t.a(s);
  return t;
}

/** malloc_consolidate from a large-bin request. */
function consolidateLargeRequest() {
  const t = new Trace('consolidate-large-request', 'malloc_consolidate triggered by a large-bin request (chunk >= 0x400): adjacent fastbin chunks merge, and the merged chunk serves the request');
  const ids = [];
  for (let k = 0; k < 60; k++) ids.push(t.a(k % 2 ? 56 : 88));
  const guard = t.a(300);
  t.note('7 of each size to the tcache, the other 23 per size to fastbins; they are adjacent');
  for (const id of ids) t.f(id);
  t.note('a small request (tcache bin empty, no fastbin of its size) does not consolidate: from the top');
  t.a(200);
  t.note('a request of 1016 (chunk 0x400, large bin, tcache bin empty) consolidates the fastbins first, then splits the merged chunk');
  t.a(1016);
  t.a(2000);
  t.a(1016);
  t.f(guard);
  return t;
}

/** malloc_consolidate from a free that leaves >= 64 KiB. */
function consolidateFreeThreshold() {
  const t = new Trace('consolidate-free-threshold', 'malloc_consolidate triggered by free: a merged chunk >= 64 KiB (FASTBIN_CONSOLIDATION_THRESHOLD), next to the top and inside the heap');
  const fast = [];
  for (let k = 0; k < 16; k++) fast.push(t.a(24));
  const mid = t.a(70000);
  t.a(40);
  const small = t.a(2000);
  const nearTop = t.a(3000);
  t.note('fill the 0x20 tcache bin, 9 chunks to the fastbin');
  for (const id of fast) t.f(id);
  t.note('a free below the threshold (merged size < 64 KiB) leaves the fastbins alone');
  t.f(small);
  t.note('a 70000-byte chunk inside the heap: size >= 64 KiB, consolidates');
  t.f(mid);
  t.note('refill the fastbin, then free the chunk before the top: merged with the top (> 64 KiB), consolidates');
  for (let k = 0; k < 7; k++) t.a(24);
  const again = [];
  for (let k = 0; k < 12; k++) again.push(t.a(24));
  t.a(16);
  const last = t.a(3000);
  for (const id of again) t.f(id);
  t.f(nearTop);
  t.f(last);
  return t;
}

/** Unsorted bin processing, sorting into small and large bins, large-bin order. */
function unsortedSort() {
  const t = new Trace('unsorted-largebins', 'unsorted-bin scan: exact fits, sorting into small and large bins, large-bin size order and nextsize lists with equal sizes, best fit');
  const sizes = [1080, 1096, 1080, 1128, 1096, 3000, 3300, 3000, 3500, 1500, 1080, 5000, 20000, 9000, 3300];
  const ids = [];
  for (const s of sizes) {
    ids.push(t.a(s));
    t.a(24);
  }
  t.note('free them all: > 1032 bytes, so they go to the unsorted bin (separated by guards, no merging)');
  for (const id of ids) t.f(id);
  t.note('a request none fits exactly: every unsorted chunk is sorted into its bin, then best fit splits one');
  t.a(900);
  t.note('exact fits and best fits from the large bins (equal sizes: the second of a size is taken first)');
  t.a(1080);
  t.a(3000);
  t.a(1100);
  t.a(3400);
  t.a(1080);
  t.a(6000);
  t.note('small-bin chunks sorted from the unsorted remainders');
  t.a(100);
  t.a(40000);
  return t;
}

/** last_remainder reuse for small requests. */
function lastRemainder() {
  const t = new Trace('last-remainder', 'a small request split from a binned chunk leaves last_remainder; later small requests split it while it is alone in the unsorted bin');
  const big = t.a(3000);
  t.a(24);
  t.f(big);
  t.note('the 0x70 tcache bin is empty: _int_malloc sorts the 3000 chunk, splits it, the rest becomes last_remainder');
  for (let k = 0; k < 5; k++) t.a(100);
  t.note('another chunk in the unsorted bin: the last_remainder shortcut no longer applies');
  const other = t.a(2000);
  t.a(24);
  t.f(other);
  for (let k = 0; k < 4; k++) t.a(100);
  for (let k = 0; k < 4; k++) t.a(200);
  return t;
}

/** binmap search for the next non-empty bin. */
function binmapSearch() {
  const t = new Trace('binmap-search', 'binmap search: no chunk in the exact bin, the next larger non-empty bin is split, stale binmap bits');
  t.note('fill the 0x100 tcache bin, then free 2 more 0x100 chunks (unsorted, separated by guards)');
  const c = [];
  for (let k = 0; k < 9; k++) {
    c.push(t.a(240));
    t.a(16);
  }
  for (const id of c) t.f(id);
  t.note('sort them into small bin 0x100 with a large request from the top');
  t.a(1500);
  t.note('0x50 request: bins 0x50..0xf0 empty, binmap finds bin 0x100, split, remainder 0xb0 -> unsorted');
  t.a(72);
  t.a(72);
  t.note('drain the 0x100 tcache bin; the next 240 takes the last chunk of small bin 0x100 directly: the bin is empty, its binmap bit stays set');
  for (let k = 0; k < 8; k++) t.a(240);
  t.note('a 0x50 request takes the 0x60 remainder whole (a split would leave less than MINSIZE);');
  t.note('the next scans the binmap, finds the stale bit of bin 0x100, clears it and goes on to the top');
  t.a(72);
  t.a(72);
  t.note('large bins: a 1100 request when only a 4000 chunk and a 9000 chunk are binned');
  const l1 = t.a(4000);
  t.a(16);
  const l2 = t.a(9000);
  t.a(16);
  t.f(l1);
  t.f(l2);
  t.note('a 0x30 request sorts both into large bins, then splits the smaller one (binmap)');
  t.a(30);
  t.a(1100);
  t.a(5000);
  t.a(5000);
  return t;
}

/** Top extension and the first sysmalloc with M_TOP_PAD. */
function topExtend() {
  const t = new Trace('top-extend', 'the first sysmalloc (request + M_TOP_PAD 128 KiB, page aligned), top extensions by sbrk, M_TOP_PAD changes');
  t.a(100);
  for (let k = 0; k < 12; k++) t.a(30000);
  t.note('M_TOP_PAD 0: the break grows by just what is needed, page aligned');
  t.o(M_TOP_PAD, 0);
  for (let k = 0; k < 6; k++) t.a(30000);
  t.note('M_TOP_PAD 1 MiB');
  t.o(M_TOP_PAD, MiB);
  for (let k = 0; k < 6; k++) t.a(30000);
  t.note('a request that needs more than the top, below the mmap threshold');
  t.a(120000);
  return t;
}

/** Trimming when the top exceeds M_TRIM_THRESHOLD. */
function trimThreshold() {
  const t = new Trace('trim-threshold', 'free into the top: systrim when the top exceeds M_TRIM_THRESHOLD (128 KiB default), keeping M_TOP_PAD; mallopt(M_TRIM_THRESHOLD) changes');
  let ids = [];
  for (let k = 0; k < 20; k++) ids.push(t.a(20000));
  t.note('free from the top down: each free merges with the top; trims once the top >= 128 KiB');
  for (const id of ids.reverse()) t.f(id);
  t.note('M_TRIM_THRESHOLD 64 KiB, M_TOP_PAD 0');
  t.o(M_TRIM_THRESHOLD, 64 * KiB);
  t.o(M_TOP_PAD, 0);
  ids = [];
  for (let k = 0; k < 20; k++) ids.push(t.a(20000));
  for (const id of ids.reverse()) t.f(id);
  t.note('M_TRIM_THRESHOLD -1 (SIZE_MAX): never trims');
  t.o(M_TRIM_THRESHOLD, -1);
  ids = [];
  for (let k = 0; k < 20; k++) ids.push(t.a(20000));
  for (const id of ids.reverse()) t.f(id);
  t.note('M_TRIM_THRESHOLD 0: trims at every free into the top');
  t.o(M_TRIM_THRESHOLD, 0);
  const x = t.a(5000);
  t.f(x);
  return t;
}

/** mmapped chunks and the dynamic threshold. */
function mmapThreshold() {
  const t = new Trace('mmap-threshold', 'mmapped chunks (>= 128 KiB when the top cannot serve them), the dynamic threshold raise on free (then the same size comes from brk, and trim_threshold doubles), the 32 MiB cap');
  t.a(100);
  t.note('131064 -> chunk 0x20000 >= threshold, but the top (0x20cf0) can serve it: no mmap');
  const a1 = t.a(131064);
  t.note('131048 -> chunk 0x1fff0 < threshold: the top is too small, sysmalloc extends it by brk');
  const a2 = t.a(131048);
  t.f(a1);
  t.f(a2);
  t.note('200 KiB: more than the top, so mmapped; free raises mmap_threshold to its chunk size and trim_threshold to twice that');
  const m1 = t.a(200 * KiB);
  const m2 = t.a(200 * KiB);
  t.f(m2);
  t.note('the same request now comes from brk');
  const b2 = t.a(200 * KiB);
  t.note('300 KiB is above the new threshold: mmapped; its free raises the threshold again');
  const m3 = t.a(300 * KiB);
  t.f(m3);
  const b3 = t.a(300 * KiB);
  t.f(m1);
  t.note('a 40 MiB block: mmapped, its free does not raise the threshold (> 32 MiB)');
  const m4 = t.a(40 * MiB);
  t.f(m4);
  t.a(1 * MiB);
  t.note('frees into the top: trimmed only past the raised trim_threshold');
  t.f(b3);
  t.f(b2);
  return t;
}

/** M_MMAP_MAX. */
function mmapMax() {
  const t = new Trace('mmap-max', 'mallopt(M_MMAP_MAX): 0 forbids mmap (large blocks from brk), 1 allows one, -1 none');
  t.a(100);
  t.o(M_MMAP_MAX, 0);
  const a = t.a(1 * MiB);
  t.a(300 * KiB);
  t.f(a);
  t.o(M_MMAP_MAX, 1);
  const m1 = t.a(2 * MiB);
  t.a(2 * MiB);
  t.f(m1);
  t.a(2 * MiB);
  t.o(M_MMAP_MAX, -1);
  t.a(3 * MiB);
  return t;
}

/** Every mallopt parameter with edge values. */
function malloptParams() {
  const t = new Trace('mallopt-params', 'mallopt: M_MXFAST (0, 160, 161, -1), M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, return values; mallopt consolidates the fastbins');
  t.note('before the first malloc');
  t.o(M_MXFAST, 0);
  t.note('M_MXFAST 0: no fastbins at all (tcache still works)');
  const ids = [];
  for (let k = 0; k < 10; k++) ids.push(t.a(24));
  t.a(200);
  for (const id of ids) t.f(id);
  t.note('M_MXFAST 160 (MAX_FAST_SIZE): chunks up to 0xa0 are fast');
  t.o(M_MXFAST, 160);
  const f = [];
  for (let k = 0; k < 10; k++) f.push(t.a(152));
  t.a(16);
  for (const id of f) t.f(id);
  t.note('too big / negative: rejected, returns 0');
  t.o(M_MXFAST, 161);
  t.o(M_MXFAST, -1);
  t.note('mallopt consolidates the fastbins whatever the parameter');
  const g = [];
  for (let k = 0; k < 10; k++) g.push(t.a(136));
  t.a(16);
  for (const id of g) t.f(id);
  t.o(M_MXFAST, 64);
  t.o(M_MXFAST, 128);
  t.note('M_MMAP_THRESHOLD: 4096, then 0 (every request that the top cannot serve is mmapped), huge');
  t.o(M_MMAP_THRESHOLD, 4096);
  t.a(5000);
  t.a(150000);
  t.o(M_MMAP_THRESHOLD, 0);
  t.a(24);
  t.a(200000);
  t.o(M_MMAP_THRESHOLD, 64 * MiB);
  t.a(200 * KiB);
  t.o(M_MMAP_THRESHOLD, -1);
  t.a(500 * KiB);
  t.note('M_TOP_PAD and M_TRIM_THRESHOLD');
  t.o(M_TOP_PAD, 1);
  t.a(300000);
  t.o(M_TOP_PAD, 4096);
  t.o(M_TRIM_THRESHOLD, 0);
  t.o(M_TRIM_THRESHOLD, 256 * KiB);
  t.o(M_MMAP_MAX, 65536);
  t.o(M_MMAP_MAX, 0);
  t.o(M_MMAP_MAX, -5);
  return t;
}

/** malloc_trim. */
function mallocTrim() {
  const t = new Trace('malloc-trim', 'malloc_trim(0) and malloc_trim(pad): whole free pages inside the heap are released (madvise: they read as zero), the top is trimmed to pad; with the top in use');
  t.note('10 x 20 KiB, free all but the last, malloc_trim(0)');
  const ids = [];
  for (let k = 0; k < 10; k++) ids.push(t.a(20 * KiB));
  for (let k = 0; k < 9; k++) t.f(ids[k]);
  t.t(0);
  t.note('again: nothing left to release');
  t.t(0);
  t.note('fastbin chunks are consolidated by malloc_trim');
  const f = [];
  for (let k = 0; k < 12; k++) f.push(t.a(100));
  t.a(20);
  for (const id of f) t.f(id);
  t.t(0);
  t.note('a large free chunk with a small top, malloc_trim with pads');
  const big = t.a(300 * KiB);
  const after = t.a(100);
  t.f(big);
  t.t(1 * MiB);
  t.t(64 * KiB);
  t.t(4096);
  t.f(after);
  t.note('the top is large now: pad keeps that much of it');
  t.t(100 * KiB);
  t.t(0);
  t.note('the top in use: no free chunk, the top already minimal');
  t.a(100 * KiB);
  t.t(0);
  return t;
}

/** malloc_trim that finds nothing to release. */
function mallocTrimNothing() {
  const t = new Trace('malloc-trim-nothing', 'malloc_trim returning 0: before the first malloc, with M_TOP_PAD 0 and a top under a page, with a pad larger than the top; then 1 once the top has a page to give back');
  t.t(0);
  t.o(M_TOP_PAD, 0);
  t.a(100);
  t.t(0);
  const a = t.a(3000);
  t.t(0);
  t.t(1 * MiB);
  t.a(24);
  t.f(a);
  t.t(0);
  const b = t.a(10000);
  t.a(24);
  t.f(b);
  t.t(2n ** 63n);
  t.t(0);
  t.t(0);
  return t;
}

/** realloc in all its forms. */
function reallocPaths() {
  const t = new Trace('realloc', 'realloc: NULL, shrink in place (split / no split), grow into the top, into a free next chunk, move, mmapped both ways (mremap), to 0, huge');
  const n = t.r(t.id(), 100);
  t.note('shrink: split off a remainder (freed: to the tcache), then a shrink by < MINSIZE (no split)');
  const s = t.a(1000);
  t.a(16);
  t.r(s, 500);
  t.r(s, 490);
  t.r(s, 500);
  t.note('grow into the top');
  const g = t.a(300);
  t.r(g, 2000);
  t.r(g, 60000);
  t.note('grow into the next chunk when it is free (not in tcache/fastbin)');
  const a = t.a(200);
  const b = t.a(2000);
  t.a(16);
  t.f(b);
  t.r(a, 1500);
  t.note('next chunk in use or cached: move (malloc, copy, free)');
  const c = t.a(200);
  const d = t.a(200);
  t.r(c, 400);
  t.f(d);
  t.r(c, 1200);
  t.note('mmapped: grow by mremap, shrink by mremap, to a small size (stays mmapped)');
  const m = t.a(200 * KiB);
  t.r(m, 400 * KiB);
  t.r(m, 1 * MiB);
  t.r(m, 150 * KiB);
  t.r(m, 100);
  t.note('brk chunk to a size past the threshold: moves to a new mmapped chunk');
  const h = t.a(1000);
  t.r(h, 300 * KiB);
  t.note('realloc(p, 0) frees and returns NULL; realloc(NULL, n)');
  t.r(n, 0);
  t.r(n, 50);
  t.r(h, 0);
  t.note('huge: fails, returns NULL (the block is left allocated)');
  const z = t.a(64);
  t.r(z, 2n ** 62n);
  t.r(t.a(64), 2n ** 64n - 1n);
  return t;
}

/** calloc. */
function callocPaths() {
  const t = new Trace('calloc', 'calloc: fresh top vs reused chunks (cleared), not from the tcache, mmapped, zero sizes, multiplication overflow');
  t.c(1, 100);
  t.c(10, 10);
  t.c(0, 5);
  t.c(5, 0);
  t.note('freed chunks hold links: calloc clears them');
  const a = t.a(2000);
  t.a(16);
  t.f(a);
  t.c(100, 10);
  t.note('calloc does not take from the tcache');
  const b = t.a(40);
  t.f(b);
  t.c(1, 40);
  t.a(40);
  t.note('a calloc that needs the top extended: only the old top part is cleared (fresh sbrk memory is zero)');
  t.a(100000);
  t.c(1, 120000);
  t.note('mmapped');
  t.c(1, 200 * KiB);
  t.c(1000, 1000);
  t.note('overflow of nmemb * size: NULL');
  t.c(2n ** 32n, 2n ** 32n);
  t.c(2n ** 63n, 2);
  t.c(1, 2n ** 62n);
  return t;
}

/** memalign, posix_memalign, aligned_alloc. */
function memalignPaths() {
  const t = new Trace('memalign', 'memalign/posix_memalign/aligned_alloc with alignments 8..64 KiB on the heap (leader and trailer split off and freed), invalid alignments (EINVAL), a page-aligned mmapped block');
  t.a(100);
  for (let al = 8; al <= 64 * KiB; al *= 2) t.m(al, 100);
  for (let al = 16; al <= 64 * KiB; al *= 4) t.p(al, 1000);
  for (let al = 16; al <= 64 * KiB; al *= 8) t.A(al, 3000);
  t.note('non-powers of two: memalign and aligned_alloc round up; posix_memalign says EINVAL');
  t.m(24, 100);
  t.m(0x300, 100);
  t.A(24, 100);
  t.A(3, 10);
  t.m(0, 100);
  t.p(4, 100);
  t.p(24, 100);
  t.p(0x300, 100);
  t.p(0, 100);
  t.p(8, 100);
  t.note('large: an mmapped block aligned to a page (see memalign-mmapped for larger alignments)');
  t.m(4096, 200 * KiB);
  t.note('huge alignment or size: fails');
  t.m(2n ** 62n, 100);
  t.m(2n ** 63n, 100);
  t.p(2n ** 62n, 100);
  t.m(16, 2n ** 62n);
  t.p(16, 2n ** 62n);
  t.note('free them: leaders and trailers merge back');
  for (let id = 0; id < t.nextId; id += 2) t.f(id);
  return t;
}

/** memalign served by mmap with alignments above a page. */
function memalignMmapped() {
  const t = new Trace('memalign-mmapped', 'memalign/posix_memalign of mmapped blocks aligned to 64 KiB and 1 MiB: the chunk starts inside the mapping (prev_size = lead), so its size word depends on the mapping address modulo the alignment (the kernel\'s choice)');
  t.note('the size words below depend on where the kernel put each mapping, modulo the alignment');
  t.a(100);
  const a = t.m(64 * KiB, 200 * KiB);
  const b = t.p(1 * MiB, 300 * KiB);
  const c = t.A(128 * KiB, 150 * KiB);
  t.f(a);
  t.f(b);
  t.f(c);
  return t;
}

/** Requests that fail. */
function hugeFail() {
  const t = new Trace('huge-fail', 'requests that fail: sizes past PTRDIFF_MAX, 2^62, 2^46 (mmap and brk both fail), the heap is unchanged');
  t.a(100);
  for (const s of [2n ** 62n, 2n ** 63n, 2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 64n - 16n, 2n ** 46n])
    t.a(s);
  t.a(100);
  return t;
}

// ---- random traces ----

/**
 * A random trace: a live set of blocks with a target size, ops drawn from
 * `mix`. Ids are reused only after a free (never a dangling pointer).
 */
function randomTrace(name, what, seed, nops, dist, opts = {}) {
  const t = new Trace(name, what, opts);
  const r = rng(seed);
  const live = []; // ids holding a block (or NULL after a failed op)
  const freeIds = [];
  const newId = () => (freeIds.length ? freeIds.pop() : t.id());
  const take = () => {
    const i = r.int(0, live.length - 1);
    const id = live[i];
    live[i] = live[live.length - 1];
    live.pop();
    return id;
  };
  const target = dist.live;
  while (t.ops < nops) {
    const x = r.next();
    const fullness = live.length / target;
    if (live.length === 0 || x < 0.55 - 0.3 * (fullness - 1)) {
      // allocate
      const y = r.next();
      const size = dist.size(r);
      const id = newId();
      if (y < dist.calloc) {
        const n = r.pick([1, 1, 2, 4, 10]);
        t.c(n, Math.max(0, Math.floor(size / n)), id);
      } else if (y < dist.calloc + dist.memalign) {
        const al = r.pick([16, 32, 64, 128, 256, 1024, 4096]);
        const k = r.next();
        if (k < 0.4) t.m(al, size, id);
        else if (k < 0.8) t.p(al, size, id);
        else t.A(al, size, id);
      } else {
        t.a(size, id);
      }
      live.push(id);
    } else if (x < 0.55 - 0.3 * (fullness - 1) + dist.realloc) {
      const id = take();
      const size = r.next() < 0.5 ? dist.size(r) : Math.max(0, Math.floor(t.live.get(id) ?? 0) + r.int(-64, 256));
      if (r.next() < 0.01) {
        t.r(id, 0); // frees, ptr = NULL
        freeIds.push(id);
      } else {
        t.r(id, size);
        live.push(id);
      }
    } else if (dist.trim && r.next() < dist.trim) {
      t.t(r.pick([0, 0, 4096, 128 * KiB]));
    } else {
      const id = take();
      t.f(id);
      freeIds.push(id);
    }
  }
  return t;
}

const dists = {
  small: {
    live: 300,
    calloc: 0.05,
    memalign: 0.01,
    realloc: 0.03,
    size: (r) => (r.next() < 0.8 ? r.int(0, 128) : r.next() < 0.9 ? r.int(129, 1100) : r.log(1100, 8192)),
  },
  mixed: {
    live: 200,
    calloc: 0.05,
    memalign: 0.03,
    realloc: 0.08,
    trim: 0.02,
    size: (r) => (r.next() < 0.05 ? r.log(100 * KiB, 2 * MiB) : r.log(1, 64 * KiB)),
  },
  realloc: {
    live: 150,
    calloc: 0.02,
    memalign: 0.0,
    realloc: 0.45,
    size: (r) => (r.next() < 0.02 ? r.log(64 * KiB, 600 * KiB) : r.log(1, 16 * KiB)),
  },
};

function randomTraces() {
  const out = [];
  const counts = [2003, 4001, 9001];
  for (const [dname, dist] of Object.entries(dists)) {
    for (let k = 0; k < 3; k++) {
      const seed = 1 + k;
      out.push(
        randomTrace(`random-${dname}-s${seed}`, `random, ${dname} distribution, seed ${seed}`, 0x9e3779b9 ^ (seed * 7919 + dname.length), counts[k], dist, {
          dump: counts[k] <= 4001,
        }),
      );
    }
  }
  out.push(randomTrace('heldout-mixed-a', 'held out: random, mixed distribution, second seed family', 0x51ed2701, 3001, dists.mixed, { heldout: true }));
  out.push(randomTrace('heldout-small-b', 'held out: random, small distribution, second seed family', 0x51ed2702, 3001, dists.small, { heldout: true }));
  out.push(randomTrace('speed-50001', 'random, mixed distribution, 50,001 ops (speed check), no dump', 0x5eed5eed, 50001, dists.mixed, { dump: false }));
  return out;
}

/** The program moves the break itself: the next growth cannot extend the top (fenceposts, a new top). */
function foreignSbrk() {
  const t = new Trace('foreign-sbrk', 'sbrk by the program between mallocs: sysmalloc fenceposts the old top and starts a new one, aligned');
  t.a(100);
  t.note('the program takes 100 bytes of break (not a multiple of 16)');
  t.s(100);
  t.note('the top cannot hold these: the break moves, but not from where the top ends');
  const a = t.a(100000);
  const b = t.a(100000);
  t.a(50);
  t.note('free them: the fenceposted old top and the new chunks');
  t.f(a);
  t.f(b);
  t.s(4096);
  t.a(300000 - 200000);
  t.a(200000);
  t.t(0);
  return t;
}

/** Every trace, in a fixed order. */
export function allTraces() {
  return [
    mallocSizes(),
    tcacheFillDrain(),
    tcacheStash(),
    fastbins(),
    consolidateLargeRequest(),
    consolidateFreeThreshold(),
    unsortedSort(),
    lastRemainder(),
    binmapSearch(),
    topExtend(),
    trimThreshold(),
    mmapThreshold(),
    mmapMax(),
    malloptParams(),
    mallocTrim(),
    mallocTrimNothing(),
    reallocPaths(),
    callocPaths(),
    memalignPaths(),
    memalignMmapped(),
    hugeFail(),
    foreignSbrk(),
    ...randomTraces(),
  ];
}
