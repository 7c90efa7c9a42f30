/**
 * `_int_realloc` and `_int_memalign`, as glibc 2.36 runs them on the main arena: realloc
 * shrinks in place (the tail freed), grows into the top or a free next chunk, else allocates,
 * copies and frees; memalign asks malloc for `nb + alignment + MINSIZE` and frees the leader
 * and the spare tail.
 */
import { intFree, unlinkChunk } from "./free.js";
import { CHUNK_HDR_SZ, IS_MMAPPED, MALLOC_ALIGN_MASK, MINSIZE, PREV_INUSE, SIZE_SZ, checkedRequest2size } from "./layout.js";
import { intMalloc } from "./malloc.js";
import type { MallocState } from "./state.js";
import { Errno } from "../../errno.js";

/**
 * `_int_realloc(av, oldp, oldsize, nb)` for a chunk of the arena (not a mapped one).
 * Returns the block, or 0 when no memory could be found (the old block is untouched).
 */
export function intRealloc(av: MallocState, oldp: number, oldsize: number, nb: number): number {
  const oh = av.head(oldp);
  if (oh <= CHUNK_HDR_SZ || oldsize >= av.systemMem) av.printerr("realloc(): invalid old size", oldp + CHUNK_HDR_SZ);
  const next = oldp + oldsize;
  const nh = av.head(next);
  const nextsize = nh - (nh & 7);
  if (nh <= CHUNK_HDR_SZ || nextsize >= av.systemMem) av.printerr("realloc(): invalid next size", oldp + CHUNK_HDR_SZ);

  let newp = oldp;
  let newsize: number;
  if (oldsize >= nb) {
    newsize = oldsize; // already big enough; split below
  } else if (next === av.top && oldsize + nextsize >= nb + MINSIZE) {
    // Grow into the top.
    newsize = oldsize + nextsize;
    av.setHeadSize(oldp, nb);
    av.top = oldp + nb;
    av.setHead(av.top, newsize - nb + PREV_INUSE);
    return oldp + CHUNK_HDR_SZ;
  } else if (next !== av.top && !av.inuseBitAtOffset(next, nextsize) && oldsize + nextsize >= nb) {
    // Grow into the free next chunk; split the rest off below.
    newsize = oldsize + nextsize;
    unlinkChunk(av, next);
  } else {
    // Allocate, copy, free.
    const newmem = intMalloc(av, nb - MALLOC_ALIGN_MASK);
    if (newmem === 0) return 0;
    newp = newmem - CHUNK_HDR_SZ;
    newsize = av.size(newp);
    if (newp === next) {
      // The new chunk is the next one: no copy needed.
      newsize += oldsize;
      newp = oldp;
    } else {
      av.memcpy(newmem, oldp + CHUNK_HDR_SZ, oldsize - CHUNK_HDR_SZ + SIZE_SZ);
      intFree(av, oldp);
      return newmem;
    }
  }

  const remainderSize = newsize - nb;
  if (remainderSize < MINSIZE) {
    av.setHeadSize(newp, newsize);
    av.setInuseBitAtOffset(newp, newsize);
  } else {
    const remainder = newp + nb;
    av.setHeadSize(newp, nb);
    av.setHead(remainder, remainderSize + PREV_INUSE);
    // Marked in use so that free does not complain, then freed.
    av.setInuseBitAtOffset(remainder, remainderSize);
    intFree(av, remainder);
  }
  return newp + CHUNK_HDR_SZ;
}

/**
 * `_int_memalign(av, alignment, bytes)`: a block aligned to `alignment` (a power of two above
 * 16). Returns it, or 0 with errno ENOMEM.
 */
export function intMemalign(av: MallocState, alignment: number, bytes: number): number {
  const nb = checkedRequest2size(bytes);
  if (nb === 0) {
    av.errno = Errno.ENOMEM;
    return 0;
  }
  const m = intMalloc(av, nb + alignment + MINSIZE);
  if (m === 0) return 0;
  let p = m - CHUNK_HDR_SZ;
  if (m % alignment !== 0) {
    // The first aligned spot leaving a leader of at least MINSIZE; the leader is freed.
    let brk = Math.floor((m + alignment - 1) / alignment) * alignment - CHUNK_HDR_SZ;
    if (brk - p < MINSIZE) brk += alignment;
    const newp = brk;
    const leadsize = brk - p;
    const newsize = av.size(p) - leadsize;
    if ((av.head(p) & IS_MMAPPED) !== 0) {
      av.setPrevSize(newp, av.prevSize(p) + leadsize);
      av.setHead(newp, newsize + IS_MMAPPED);
      return newp + CHUNK_HDR_SZ;
    }
    av.setHead(newp, newsize + PREV_INUSE);
    av.setInuseBitAtOffset(newp, newsize);
    av.setHeadSize(p, leadsize);
    intFree(av, p);
    p = newp;
  }
  if ((av.head(p) & IS_MMAPPED) === 0) {
    // Give back the spare room at the end.
    const size = av.size(p);
    if (size > nb + MINSIZE) {
      const remainder = p + nb;
      av.setHead(remainder, size - nb + PREV_INUSE);
      av.setHeadSize(p, nb);
      intFree(av, remainder);
    }
  }
  return p + CHUNK_HDR_SZ;
}
