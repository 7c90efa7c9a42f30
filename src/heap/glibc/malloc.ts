/**
 * `_int_malloc` and the tcache, as glibc 2.36's malloc.c runs them on the main arena of a
 * single-threaded process: tcache first (in the public wrapper), then the fastbin of the size,
 * the small bin, for a large request `malloc_consolidate`, then the unsorted bin (each chunk
 * taken if exact, the last remainder split for small requests, everything else sorted into
 * its bin — and exact fits stashed in the tcache), the best fit in the large bin, the next
 * non-empty bin through the binmap, and finally the top chunk or `sysmalloc`.
 */
import { mallocConsolidate, unlinkChunk } from "./free.js";
import {
  CHUNK_HDR_SZ,
  MINSIZE,
  PREV_INUSE,
  TCACHE_STRUCT_SIZE,
  checkedRequest2size,
  csize2tidx,
  fastbinIndex,
  inSmallbinRange,
  largebinIndex,
  protectPtr,
  smallbinIndex,
} from "./layout.js";
import type { MallocState } from "./state.js";
import { sysmalloc } from "./sysmalloc.js";
import { Errno } from "../../errno.js";

/** Address of tcache counts[idx] (uint16). */
const countAt = (tc: number, idx: number): number => tc + 2 * idx;
/** Address of tcache entries[idx]. */
const entryAt = (tc: number, idx: number): number => tc + 128 + 8 * idx;

/** `tcache->counts[idx]`. */
export function tcacheCount(av: MallocState, idx: number): number {
  return av.as.read16(countAt(av.tcache, idx));
}

/** `tcache_put`: the chunk goes on the front of tcache bin idx, marked with the key. */
export function tcachePut(av: MallocState, chunk: number, idx: number): void {
  const tc = av.tcache;
  const e = chunk + 16;
  av.as.write32(e + 8, av.tcacheKeyLo);
  av.as.write32(e + 12, av.tcacheKeyHi);
  av.st(e, protectPtr(e, av.ld(entryAt(tc, idx))));
  av.st(entryAt(tc, idx), e);
  av.as.write16(countAt(tc, idx), av.as.read16(countAt(tc, idx)) + 1);
}

/** `tcache_get`: the front chunk of tcache bin idx (its key cleared). */
export function tcacheGet(av: MallocState, idx: number): number {
  const tc = av.tcache;
  const e = av.ld(entryAt(tc, idx));
  if (e % 16 !== 0) av.printerr("malloc(): unaligned tcache chunk detected", e);
  av.st(entryAt(tc, idx), protectPtr(e, av.ld(e)));
  av.as.write16(countAt(tc, idx), av.as.read16(countAt(tc, idx)) - 1);
  av.st(e + 8, 0);
  return e;
}

/** `tcache_init` (MAYBE_INIT_TCACHE): the first call takes the tcache's own chunk from the arena. */
export function maybeInitTcache(av: MallocState): void {
  if (av.tcache !== 0) return;
  const victim = intMalloc(av, TCACHE_STRUCT_SIZE);
  if (victim !== 0) {
    av.tcache = victim;
    av.memset(victim, 0, TCACHE_STRUCT_SIZE);
  }
}

/** `alloc_perturb`: with `M_PERTURB` set, fresh blocks are filled with its complement. */
export function allocPerturb(av: MallocState, p: number, n: number): void {
  if (av.perturbByte !== 0) av.memset(p, (av.perturbByte ^ 0xff) & 0xff, n);
}

/** A chunk's block, after `alloc_perturb`. */
function hand(av: MallocState, p: number, bytes: number): number {
  const mem = p + CHUNK_HDR_SZ;
  allocPerturb(av, mem, bytes);
  return mem;
}

/**
 * `_int_malloc(av, bytes)`: a block of at least `bytes` from the arena, or 0 with errno ENOMEM.
 * Aborts (throws) where glibc's checks find the bins corrupted, with glibc's messages.
 */
export function intMalloc(av: MallocState, bytes: number): number {
  const nb = checkedRequest2size(bytes);
  if (nb === 0) {
    av.errno = Errno.ENOMEM;
    return 0;
  }

  // Fastbin of exactly this size.
  if (nb <= av.maxFast) {
    const idx = fastbinIndex(nb);
    const victim = av.fastbin(idx);
    if (victim !== 0) {
      if (victim % 16 !== 0) av.printerr("malloc(): unaligned fastbin chunk detected 2", victim);
      av.setFastbin(idx, protectPtr(victim + 16, av.fd(victim)));
      if (fastbinIndex(av.size(victim)) !== idx) av.printerr("malloc(): memory corruption (fast)", victim);
      // While here, stash the bin's other chunks in the tcache.
      const tcIdx = csize2tidx(nb);
      if (av.tcache !== 0 && tcIdx < av.tcacheBins) {
        let tcVictim: number;
        while (tcacheCount(av, tcIdx) < av.tcacheCount && (tcVictim = av.fastbin(idx)) !== 0) {
          if (tcVictim % 16 !== 0) av.printerr("malloc(): unaligned fastbin chunk detected 3", tcVictim);
          av.setFastbin(idx, protectPtr(tcVictim + 16, av.fd(tcVictim)));
          tcachePut(av, tcVictim, tcIdx);
        }
      }
      return hand(av, victim, bytes);
    }
  }

  let idx: number;
  if (inSmallbinRange(nb)) {
    // Small bin: one size per bin, take the oldest (last).
    idx = smallbinIndex(nb);
    const bin = av.binAt(idx);
    const victim = av.bk(bin);
    if (victim !== bin) {
      const bck = av.bk(victim);
      if (av.fd(bck) !== victim) av.printerr("malloc(): smallbin double linked list corrupted", victim);
      av.setInuseBitAtOffset(victim, nb);
      av.setBk(bin, bck);
      av.setFd(bck, bin);
      const tcIdx = csize2tidx(nb);
      if (av.tcache !== 0 && tcIdx < av.tcacheBins) {
        let tcVictim: number;
        while (tcacheCount(av, tcIdx) < av.tcacheCount && (tcVictim = av.bk(bin)) !== bin) {
          const b = av.bk(tcVictim);
          av.setInuseBitAtOffset(tcVictim, nb);
          av.setBk(bin, b);
          av.setFd(b, bin);
          tcachePut(av, tcVictim, tcIdx);
        }
      }
      return hand(av, victim, bytes);
    }
  } else {
    idx = largebinIndex(nb);
    if (av.haveFastchunks) mallocConsolidate(av);
  }

  const tcIdx = csize2tidx(nb);
  const tcacheNb = av.tcache !== 0 && tcIdx < av.tcacheBins ? nb : 0;
  let returnCached = false;
  let tcacheUnsortedCount = 0;
  const unsorted = av.unsorted;

  for (;;) {
    let iters = 0;
    let victim: number;
    while ((victim = av.bk(unsorted)) !== unsorted) {
      let bck = av.bk(victim);
      let size = av.size(victim);
      const next = victim + size;
      if (size <= CHUNK_HDR_SZ || size > av.systemMem) av.printerr("malloc(): invalid size (unsorted)", victim);
      const nextHead = av.head(next);
      if (nextHead < CHUNK_HDR_SZ || nextHead > av.systemMem) av.printerr("malloc(): invalid next size (unsorted)", victim);
      const np = av.prevSize(next);
      if (np - (np & 7) !== size) av.printerr("malloc(): mismatching next->prev_size (unsorted)", victim);
      if (av.fd(bck) !== victim || av.fd(victim) !== unsorted) av.printerr("malloc(): unsorted double linked list corrupted", victim);
      if ((nextHead & PREV_INUSE) !== 0) av.printerr("malloc(): invalid next->prev_inuse (unsorted)", victim);

      // A small request takes from the last remainder when it is the only unsorted chunk.
      if (inSmallbinRange(nb) && bck === unsorted && victim === av.lastRemainder && size > nb + MINSIZE) {
        const remainderSize = size - nb;
        const remainder = victim + nb;
        av.setBk(unsorted, remainder);
        av.setFd(unsorted, remainder);
        av.lastRemainder = remainder;
        av.setBk(remainder, unsorted);
        av.setFd(remainder, unsorted);
        if (!inSmallbinRange(remainderSize)) {
          av.setFdNextsize(remainder, 0);
          av.setBkNextsize(remainder, 0);
        }
        av.setHead(victim, nb + PREV_INUSE);
        av.setHead(remainder, remainderSize + PREV_INUSE);
        av.setFoot(remainder, remainderSize);
        return hand(av, victim, bytes);
      }

      // Take it off the unsorted list.
      if (av.fd(bck) !== victim) av.printerr("malloc(): corrupted unsorted chunks 3", victim);
      av.setBk(unsorted, bck);
      av.setFd(bck, unsorted);

      if (size === nb) {
        av.setInuseBitAtOffset(victim, size);
        // An exact fit fills the tcache first; one of those is returned at the end.
        if (tcacheNb !== 0 && tcacheCount(av, tcIdx) < av.tcacheCount) {
          tcachePut(av, victim, tcIdx);
          returnCached = true;
          continue;
        }
        return hand(av, victim, bytes);
      }

      // Sort it into its bin.
      let victimIndex: number;
      let fwd: number;
      if (inSmallbinRange(size)) {
        victimIndex = smallbinIndex(size);
        bck = av.binAt(victimIndex);
        fwd = av.fd(bck);
      } else {
        victimIndex = largebinIndex(size);
        bck = av.binAt(victimIndex);
        fwd = av.fd(bck);
        if (fwd !== bck) {
          // Large bins are sorted by decreasing size, with a skip list of the distinct sizes.
          size += PREV_INUSE;
          if (size < av.head(av.bk(bck))) {
            fwd = bck;
            bck = av.bk(bck);
            av.setFdNextsize(victim, av.fd(fwd));
            av.setBkNextsize(victim, av.bkNextsize(av.fd(fwd)));
            av.setBkNextsize(av.fd(fwd), victim);
            av.setFdNextsize(av.bkNextsize(victim), victim);
          } else {
            while (size < av.head(fwd)) fwd = av.fdNextsize(fwd);
            if (size === av.head(fwd)) {
              fwd = av.fd(fwd); // always insert in the second position
            } else {
              av.setFdNextsize(victim, fwd);
              av.setBkNextsize(victim, av.bkNextsize(fwd));
              if (av.fdNextsize(av.bkNextsize(fwd)) !== fwd) av.printerr("malloc(): largebin double linked list corrupted (nextsize)", victim);
              av.setBkNextsize(fwd, victim);
              av.setFdNextsize(av.bkNextsize(victim), victim);
            }
            bck = av.bk(fwd);
            if (av.fd(bck) !== fwd) av.printerr("malloc(): largebin double linked list corrupted (bk)", victim);
          }
        } else {
          av.setFdNextsize(victim, victim);
          av.setBkNextsize(victim, victim);
        }
      }
      av.markBin(victimIndex);
      av.setBk(victim, bck);
      av.setFd(victim, fwd);
      av.setBk(fwd, victim);
      av.setFd(bck, victim);

      tcacheUnsortedCount++;
      if (returnCached && av.tcacheUnsortedLimit > 0 && tcacheUnsortedCount > av.tcacheUnsortedLimit) return tcacheGet(av, tcIdx);
      if (++iters >= 10000) break; // MAX_ITERS
    }

    if (returnCached) return tcacheGet(av, tcIdx);

    // A large request: the smallest chunk that fits in its own bin, through the skip list.
    if (!inSmallbinRange(nb)) {
      const bin = av.binAt(idx);
      victim = av.fd(bin);
      if (victim !== bin && av.head(victim) >= nb) {
        victim = av.bkNextsize(victim);
        let size: number;
        while ((size = av.size(victim)) < nb) victim = av.bkNextsize(victim);
        // Avoid taking the first chunk of a size, so the skip list need not be rerouted.
        if (victim !== av.bk(bin) && av.head(victim) === av.head(av.fd(victim))) victim = av.fd(victim);
        const remainderSize = size - nb;
        unlinkChunk(av, victim);
        if (remainderSize < MINSIZE) {
          av.setInuseBitAtOffset(victim, size);
        } else {
          splitToUnsorted(av, victim, nb, remainderSize, "malloc(): corrupted unsorted chunks", false);
        }
        return hand(av, victim, bytes);
      }
    }

    // The next non-empty bin, found with the binmap (best fit among bigger bins).
    idx++;
    let bin = av.binAt(idx);
    let block = idx >>> 5;
    let map = av.binmap[block]!;
    let bit = (1 << (idx & 31)) >>> 0;
    let useTop = false;
    for (;;) {
      if (bit > map || bit === 0) {
        do {
          if (++block >= 4) {
            useTop = true;
            break;
          }
        } while ((map = av.binmap[block]!) === 0);
        if (useTop) break;
        bin = av.binAt(block << 5);
        bit = 1;
      }
      while ((bit & map) === 0) {
        bin += 16;
        bit = (bit << 1) >>> 0;
      }
      victim = av.bk(bin);
      if (victim === bin) {
        // A false alarm: clear the bit.
        map = (map & ~bit) >>> 0;
        av.binmap[block] = map;
        bin += 16;
        bit = (bit << 1) >>> 0;
      } else {
        const size = av.size(victim);
        const remainderSize = size - nb;
        unlinkChunk(av, victim);
        if (remainderSize < MINSIZE) {
          av.setInuseBitAtOffset(victim, size);
        } else {
          splitToUnsorted(av, victim, nb, remainderSize, "malloc(): corrupted unsorted chunks 2", inSmallbinRange(nb));
        }
        return hand(av, victim, bytes);
      }
    }

    // The top chunk.
    victim = av.top;
    const size = av.size(victim);
    if (size > av.systemMem) av.printerr("malloc(): corrupted top size", victim);
    if (size >= nb + MINSIZE) {
      const remainder = victim + nb;
      av.top = remainder;
      av.setHead(victim, nb + PREV_INUSE);
      av.setHead(remainder, size - nb + PREV_INUSE);
      return hand(av, victim, bytes);
    } else if (av.haveFastchunks) {
      // Fastbins may hold enough once merged: consolidate and go round again.
      mallocConsolidate(av);
      idx = inSmallbinRange(nb) ? smallbinIndex(nb) : largebinIndex(nb);
    } else {
      const p = sysmalloc(av, nb);
      if (p !== 0) allocPerturb(av, p, bytes);
      return p;
    }
  }
}

/** Splits `victim` at `nb` and puts the remainder at the front of the unsorted bin. */
function splitToUnsorted(av: MallocState, victim: number, nb: number, remainderSize: number, message: string, setLast: boolean): void {
  const remainder = victim + nb;
  const bck = av.unsorted;
  const fwd = av.fd(bck);
  if (av.bk(fwd) !== bck) av.printerr(message, victim);
  av.setBk(remainder, bck);
  av.setFd(remainder, fwd);
  av.setFd(bck, remainder);
  av.setBk(fwd, remainder);
  if (setLast) av.lastRemainder = remainder;
  if (!inSmallbinRange(remainderSize)) {
    av.setFdNextsize(remainder, 0);
    av.setBkNextsize(remainder, 0);
  }
  av.setHead(victim, nb + PREV_INUSE);
  av.setHead(remainder, remainderSize + PREV_INUSE);
  av.setFoot(remainder, remainderSize);
}
