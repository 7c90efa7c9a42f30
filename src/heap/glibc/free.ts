/**
 * `_int_free`, `unlink_chunk` and `malloc_consolidate`, as glibc 2.36 runs them: a freed chunk
 * goes to its tcache bin while that holds fewer than 7, else to its fastbin (chunks up to
 * `global_max_fast`, still marked in use, not merged), else it is merged with its free
 * neighbours at once and put in the unsorted bin — or into the top chunk. A merged chunk of
 * 64 KiB or more consolidates the fastbins and may trim the top.
 */
import {
  CHUNK_HDR_SZ,
  FASTBIN_CONSOLIDATION_THRESHOLD,
  IS_MMAPPED,
  MINSIZE,
  NFASTBINS,
  PREV_INUSE,
  csize2tidx,
  fastbinIndex,
  inSmallbinRange,
  protectPtr,
} from "./layout.js";
import { tcacheCount, tcachePut } from "./malloc.js";
import type { MallocState } from "./state.js";
import { munmapChunk, systrim } from "./sysmalloc.js";

/** `unlink_chunk`: takes a free chunk out of its (small, large or unsorted) bin, with glibc's checks. */
export function unlinkChunk(av: MallocState, p: number): void {
  const size = av.size(p);
  if (size !== av.prevSize(p + size)) av.printerr("corrupted size vs. prev_size", p);
  const fd = av.fd(p);
  const bk = av.bk(p);
  if (av.bk(fd) !== p || av.fd(bk) !== p) av.printerr("corrupted double-linked list", p);
  av.setBk(fd, bk);
  av.setFd(bk, fd);
  if (!inSmallbinRange(av.head(p)) && av.fdNextsize(p) !== 0) {
    const fdn = av.fdNextsize(p);
    const bkn = av.bkNextsize(p);
    if (av.bkNextsize(fdn) !== p || av.fdNextsize(bkn) !== p) av.printerr("corrupted double-linked list (not small)", p);
    if (av.fdNextsize(fd) === 0) {
      if (fdn === p) {
        av.setFdNextsize(fd, fd);
        av.setBkNextsize(fd, fd);
      } else {
        av.setFdNextsize(fd, fdn);
        av.setBkNextsize(fd, bkn);
        av.setBkNextsize(fdn, fd);
        av.setFdNextsize(bkn, fd);
      }
    } else {
      av.setBkNextsize(fdn, bkn);
      av.setFdNextsize(bkn, fdn);
    }
  }
}

/**
 * glibc's first free/realloc check, `(uintptr_t) p > (uintptr_t) -size`: the chunk would wrap
 * past the top of a 64-bit address space (true for any p > 0 when size is 0).
 */
export function wraps(p: number, size: number): boolean {
  return size === 0 ? p > 0 : p + size > 2 ** 64;
}

/**
 * `_int_free(av, p, have_lock)`: the chunk `p` back to the arena. glibc's checks abort with its
 * messages (thrown as typed errors); what they do not catch, the model does not either.
 * `haveLock` is glibc's argument: `free()` passes 0, and then the size of the chunk already at
 * the head of the fastbin is not checked; realloc, memalign and sysmalloc pass 1.
 */
export function intFree(av: MallocState, p: number, haveLock = true): void {
  let size = av.size(p);
  if (wraps(p, size) || p % 16 !== 0) av.printerr("free(): invalid pointer", p + 16, "invalid");
  if (size < MINSIZE || size % 16 !== 0) av.printerr("free(): invalid size", p + 16, "invalid");

  // tcache: a chunk whose key word holds tcache_key is looked for in its bin (double free).
  const tcIdx = csize2tidx(size);
  if (av.tcache !== 0 && tcIdx < av.tcacheBins) {
    const e = p + 16;
    if (av.as.read32(e + 8) === av.tcacheKeyLo && av.as.read32(e + 12) === av.tcacheKeyHi) {
      let cnt = 0;
      for (let tmp = av.ld(av.tcache + 128 + 8 * tcIdx); tmp !== 0; tmp = protectPtr(tmp, av.ld(tmp)), ++cnt) {
        if (cnt >= av.tcacheCount) av.printerr("free(): too many chunks detected in tcache", e);
        if (tmp % 16 !== 0) av.printerr("free(): unaligned chunk detected in tcache 2", e);
        if (tmp === e) av.printerr("free(): double free detected in tcache 2", e, "double");
      }
    }
    if (tcacheCount(av, tcIdx) < av.tcacheCount) {
      tcachePut(av, p, tcIdx);
      return;
    }
  }

  if (size <= av.maxFast) {
    const next = p + size;
    const nh = av.head(next);
    if (nh <= CHUNK_HDR_SZ || nh - (nh & 7) >= av.systemMem) av.printerr("free(): invalid next size (fast)", p + 16);
    freePerturb(av, p + 16, size - CHUNK_HDR_SZ);
    av.haveFastchunks = true;
    const idx = fastbinIndex(size);
    const old = av.fastbin(idx);
    if (old === p) av.printerr("double free or corruption (fasttop)", p + 16, "double");
    av.setFd(p, protectPtr(p + 16, old));
    av.setFastbin(idx, p);
    if (haveLock && old !== 0 && fastbinIndex(av.size(old)) !== idx) av.printerr("invalid fastbin entry (free)", p + 16);
    return;
  }

  if ((av.head(p) & IS_MMAPPED) !== 0) {
    munmapChunk(av, p);
    return;
  }

  const nextchunk = p + size;
  if (p === av.top) av.printerr("double free or corruption (top)", p + 16, "double");
  if (!av.noncontiguous && nextchunk >= av.top + av.size(av.top)) av.printerr("double free or corruption (out)", p + 16, "double");
  if (!av.prevInuse(nextchunk)) av.printerr("double free or corruption (!prev)", p + 16, "double");
  const nh = av.head(nextchunk);
  const nextsize = nh - (nh & 7);
  if (nh <= CHUNK_HDR_SZ || nextsize >= av.systemMem) av.printerr("free(): invalid next size (normal)", p + 16);
  freePerturb(av, p + 16, size - CHUNK_HDR_SZ);

  // Merge backward.
  if (!av.prevInuse(p)) {
    const prevsize = av.prevSize(p);
    size += prevsize;
    p -= prevsize;
    if (av.size(p) !== prevsize) av.printerr("corrupted size vs. prev_size while consolidating", p);
    unlinkChunk(av, p);
  }

  if (nextchunk !== av.top) {
    // Merge forward, or tell the next chunk its neighbour is free; then to the unsorted bin.
    if (!av.inuseBitAtOffset(nextchunk, nextsize)) {
      unlinkChunk(av, nextchunk);
      size += nextsize;
    } else av.clearInuseBitAtOffset(nextchunk, 0);
    const bck = av.unsorted;
    const fwd = av.fd(bck);
    if (av.bk(fwd) !== bck) av.printerr("free(): corrupted unsorted chunks", p);
    av.setFd(p, fwd);
    av.setBk(p, bck);
    if (!inSmallbinRange(size)) {
      av.setFdNextsize(p, 0);
      av.setBkNextsize(p, 0);
    }
    av.setFd(bck, p);
    av.setBk(fwd, p);
    av.setHead(p, size + PREV_INUSE);
    av.setFoot(p, size);
  } else {
    // Into the top chunk.
    size += nextsize;
    av.setHead(p, size + PREV_INUSE);
    av.top = p;
  }

  if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
    if (av.haveFastchunks) mallocConsolidate(av);
    if (av.size(av.top) >= av.trimThreshold) systrim(av, av.topPad);
  }
}

/** `free_perturb`: with `M_PERTURB` set, freed blocks are filled with it. */
function freePerturb(av: MallocState, mem: number, n: number): void {
  if (av.perturbByte !== 0) av.memset(mem, av.perturbByte & 0xff, n);
}

/**
 * `malloc_consolidate`: every fastbin chunk is merged with its free neighbours and put in the
 * unsorted bin (or into top), fastbin 0 first, each bin from its head.
 */
export function mallocConsolidate(av: MallocState): void {
  av.haveFastchunks = false;
  const unsorted = av.unsorted;
  for (let i = 0; i < NFASTBINS; i++) {
    let p = av.fastbin(i);
    av.setFastbin(i, 0);
    while (p !== 0) {
      if (p % 16 !== 0) av.printerr("malloc_consolidate(): unaligned fastbin chunk detected", p);
      if (fastbinIndex(av.size(p)) !== i) av.printerr("malloc_consolidate(): invalid chunk size", p);
      const nextp = protectPtr(p + 16, av.fd(p));
      let size = av.size(p);
      const nextchunk = p + size;
      const nextsize = av.size(nextchunk);
      if (!av.prevInuse(p)) {
        const prevsize = av.prevSize(p);
        size += prevsize;
        p -= prevsize;
        if (av.size(p) !== prevsize) av.printerr("corrupted size vs. prev_size in fastbins", p);
        unlinkChunk(av, p);
      }
      if (nextchunk !== av.top) {
        if (!av.inuseBitAtOffset(nextchunk, nextsize)) {
          size += nextsize;
          unlinkChunk(av, nextchunk);
        } else av.clearInuseBitAtOffset(nextchunk, 0);
        const first = av.fd(unsorted);
        av.setFd(unsorted, p);
        av.setBk(first, p);
        if (!inSmallbinRange(size)) {
          av.setFdNextsize(p, 0);
          av.setBkNextsize(p, 0);
        }
        av.setHead(p, size + PREV_INUSE);
        av.setBk(p, unsorted);
        av.setFd(p, first);
        av.setFoot(p, size);
      } else {
        size += nextsize;
        av.setHead(p, size + PREV_INUSE);
        av.top = p;
      }
      p = nextp;
    }
  }
}
