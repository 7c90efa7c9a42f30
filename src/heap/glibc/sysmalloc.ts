/**
 * Where glibc 2.36's main arena gets and returns memory: `sysmalloc` (a mapping of its own for
 * a request at or over the mmap threshold, else the break moved by the request plus
 * `M_TOP_PAD`, page-aligned, with glibc's corrections when the break is not where the heap
 * left it), `systrim` (a negative `sbrk` when the top exceeds the trim threshold),
 * `munmap_chunk`/`mremap_chunk` for mapped chunks, and `mtrim` (`malloc_trim`: also
 * `MADV_DONTNEED` on the whole free pages inside free chunks).
 */
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE } from "../../constants.js";
import { Errno } from "../../errno.js";
import { intFree, mallocConsolidate } from "./free.js";
import { CHUNK_HDR_SZ, IS_MMAPPED, MINSIZE, MMAP_AS_MORECORE_SIZE, NBINS, PREV_INUSE, SIZE_SZ, binIndex, powerof2 } from "./layout.js";
import type { MallocState } from "./state.js";

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number): number => Math.floor(n / a) * a;

/** `MORECORE(n)` (`__default_morecore`): the previous break, or 0 when sbrk fails. */
function morecore(av: MallocState, increment: number): number {
  const r = av.brk.sbrk(increment);
  return r === -1 ? 0 : r;
}

/** Notes the footprint's high-water mark after memory was obtained. */
function noteMax(av: MallocState): void {
  if (av.systemMem > av.maxSystemMem) av.maxSystemMem = av.systemMem;
}

/**
 * `sysmalloc_mmap`: a chunk with a mapping of its own, `nb + SIZE_SZ` rounded up to pages;
 * its prev_size holds the offset from the mapping's start (0 here). Returns the block or 0.
 */
function sysmallocMmap(av: MallocState, nb: number): number {
  const size = alignUp(nb + SIZE_SZ, av.pagesize);
  if (size <= nb) return 0;
  const mm = av.as.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (mm === MAP_FAILED) return 0;
  // Only stores: a fresh mapping faults once, on the header's page.
  av.setPrevSize(mm, 0);
  av.setHead(mm, size + IS_MMAPPED);
  av.nMmaps++;
  av.maxNMmaps = Math.max(av.maxNMmaps, av.nMmaps);
  av.mmappedMem += size;
  av.maxMmappedMem = Math.max(av.maxMmappedMem, av.mmappedMem);
  return mm + CHUNK_HDR_SZ;
}

/**
 * `sysmalloc(nb, av)`: memory for a chunk of `nb` bytes when the arena has none: a mapping
 * (at or over the threshold, while fewer than `M_MMAP_MAX` are mapped), else a bigger top.
 * Returns the block, or 0 with errno ENOMEM.
 */
export function sysmalloc(av: MallocState, nb: number): number {
  const pagesize = av.pagesize;
  let triedMmap = false;
  if (nb >= av.mmapThreshold && av.nMmaps < av.nMmapsMax) {
    const mm = sysmallocMmap(av, nb);
    if (mm !== 0) return mm;
    triedMmap = true;
  }
  void triedMmap; // a thread arena would map as a last resort; the main arena does not

  const oldTop = av.top;
  let oldSize = av.size(oldTop);
  const oldEnd = oldTop + oldSize;
  let brk = 0;
  let sndBrk = 0;

  // Request enough for nb, the pad and a minimum chunk, less what the top already has. `size` is
  // a C long: a negative M_TOP_PAD (a huge size_t) can make it negative, and then sbrk is skipped.
  let size = nb + av.topPad + MINSIZE;
  if (!av.noncontiguous) size -= oldSize;
  size = alignUp(size, pagesize);
  if (size > 0) brk = morecore(av, size);

  if (brk === 0) {
    // sbrk failed: a mapping stands in, and the heap is no longer contiguous
    // (sysmalloc_mmap_fallback). glibc 2.36 passes its `pagesize` and `minsize` arguments the
    // other way round: the size is rounded up to MMAP_AS_MORECORE_SIZE (1 MiB) and must be at
    // least a page, not the reverse. Its comparisons are unsigned: a negative size asks too much.
    let msize = size;
    if (!av.noncontiguous) msize = alignUp(msize + oldSize, MMAP_AS_MORECORE_SIZE);
    if (msize >= 0 && msize < pagesize) msize = pagesize;
    if (msize > nb) {
      const mbrk = av.as.mmap(0, msize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      if (mbrk !== MAP_FAILED) {
        av.noncontiguous = true;
        size = msize;
        brk = mbrk;
        sndBrk = brk + size;
      }
    }
  }

  if (brk !== 0) {
    if (av.sbrkBase === 0) av.sbrkBase = brk;
    av.systemMem += size;

    if (brk === oldEnd && sndBrk === 0) {
      // The break extends the top.
      av.setHead(oldTop, size + oldSize + PREV_INUSE);
    } else if (!av.noncontiguous && oldSize !== 0 && brk < oldEnd) {
      av.printerr("break adjusted to free malloc space", brk);
    } else {
      // The first time, or a foreign sbrk moved the break: start a new top at brk, and make
      // the break end on a page boundary with a second sbrk.
      let correction = 0;
      let alignedBrk = brk;
      if (!av.noncontiguous) {
        if (oldSize !== 0) av.systemMem += brk - oldEnd;
        // A break left unaligned by a foreign sbrk: skip to the next 16-byte boundary.
        const frontMisalign = brk % 16;
        if (frontMisalign > 0) {
          correction = 16 - frontMisalign;
          alignedBrk += correction;
        }
        correction += oldSize;
        const endMisalign = brk + size + correction;
        correction += alignUp(endMisalign, pagesize) - endMisalign;
        sndBrk = morecore(av, correction);
        if (sndBrk === 0) {
          correction = 0;
          sndBrk = morecore(av, 0);
        }
      } else if (sndBrk === 0) {
        sndBrk = morecore(av, 0);
      }
      if (sndBrk !== 0) {
        av.top = alignedBrk;
        av.segments.push(alignedBrk);
        av.setHead(alignedBrk, sndBrk - alignedBrk + correction + PREV_INUSE);
        av.systemMem += correction;
        if (oldSize !== 0) {
          // Fenceposts at the end of the old top, which is freed.
          oldSize = (oldSize - 2 * CHUNK_HDR_SZ) & ~15;
          av.setHead(oldTop, oldSize + PREV_INUSE);
          av.setHead(oldTop + oldSize, CHUNK_HDR_SZ + PREV_INUSE);
          av.setHead(oldTop + oldSize + CHUNK_HDR_SZ, CHUNK_HDR_SZ + PREV_INUSE);
          if (oldSize >= MINSIZE) intFree(av, oldTop);
        }
      }
    }
  }
  noteMax(av);

  const p = av.top;
  const psize = av.size(p);
  if (psize >= nb + MINSIZE) {
    const remainder = p + nb;
    av.top = remainder;
    av.setHead(p, nb + PREV_INUSE);
    av.setHead(remainder, psize - nb + PREV_INUSE);
    return p + CHUNK_HDR_SZ;
  }
  av.errno = Errno.ENOMEM;
  return 0;
}

/**
 * `systrim(pad, av)`: gives the top's whole pages beyond `pad` (and a minimum chunk) back with a
 * negative sbrk, if the break is still where the heap left it. Returns 1 if the break moved.
 *
 * glibc computes in C's types, and the model with it: `top_area` and `extra` are `long`, `pad` a
 * `size_t` (a negative `pad` here is the size_t it wraps to), so `top_area <= pad` compares
 * unsigned. A top of 32 bytes (`top_area` = −1) passes that test for any pad but 2^64 − 1, and
 * `extra` comes out negative: `MORECORE(-extra)` then *grows* the break by `pad + 1` rounded up
 * to a page, and the top with it (`malloc_trim(0)` on a heap whose top is 32 bytes adds a page).
 */
export function systrim(av: MallocState, pad: number): 0 | 1 {
  const topSize = av.size(av.top);
  const topArea = BigInt(topSize - MINSIZE - 1);
  const padU = BigInt.asUintN(64, BigInt(pad));
  if (BigInt.asUintN(64, topArea) <= padU) return 0;
  const extra = BigInt.asIntN(64, BigInt.asUintN(64, topArea - padU) & ~BigInt(av.pagesize - 1));
  if (extra === 0n) return 0;
  const currentBrk = morecore(av, 0);
  if (currentBrk === av.top + topSize) {
    morecore(av, Number(-extra));
    const newBrk = morecore(av, 0);
    if (newBrk !== 0) {
      const released = currentBrk - newBrk;
      if (released !== 0) {
        av.systemMem -= released;
        av.setHead(av.top, topSize - released + PREV_INUSE);
        return 1;
      }
    }
  }
  return 0;
}

/** glibc's check of a mapped chunk before munmap/mremap: whole pages, and a block at a power-of-two page offset. */
function mappedOk(av: MallocState, block: number, total: number, mem: number): boolean {
  const ps = av.pagesize;
  return block % ps === 0 && total % ps === 0 && powerof2(mem % ps);
}

/** `munmap_chunk`: unmaps a mapped chunk's pages. */
export function munmapChunk(av: MallocState, p: number): void {
  const size = av.size(p);
  const prev = av.prevSize(p);
  const block = p - prev;
  const total = prev + size;
  if (!mappedOk(av, block, total, p + CHUNK_HDR_SZ)) av.printerr("munmap_chunk(): invalid pointer", p + CHUNK_HDR_SZ, "invalid");
  av.nMmaps--;
  av.mmappedMem -= total;
  av.as.munmap(block, total);
}

/**
 * `mremap_chunk`: resizes a mapped chunk with `mremap(MREMAP_MAYMOVE)` (in place when the pages
 * after it are free, else moved). Returns the chunk (maybe moved), or 0 when mremap failed.
 */
export function mremapChunk(av: MallocState, p: number, newSize: number): number {
  const offset = av.prevSize(p);
  const size = av.size(p);
  const block = p - offset;
  const total = offset + size;
  if (!mappedOk(av, block, total, p + CHUNK_HDR_SZ)) av.printerr("mremap_chunk(): invalid pointer", p + CHUNK_HDR_SZ, "invalid");
  const want = alignUp(newSize + offset + SIZE_SZ, av.pagesize);
  if (total === want) return p;
  const cp = av.as.mremap(block, total, want, MREMAP_MAYMOVE);
  if (cp === MAP_FAILED) return 0;
  const np = cp + offset;
  av.setHead(np, want - offset + IS_MMAPPED);
  av.mmappedMem += want - size - offset;
  av.maxMmappedMem = Math.max(av.maxMmappedMem, av.mmappedMem);
  return np;
}

/**
 * `mtrim` (`malloc_trim(pad)`): consolidates the fastbins, returns the whole free pages inside
 * free chunks of the unsorted bin and of the bins from a page size up to the system
 * (`MADV_DONTNEED`: the frames go, the mapping stays), then trims the top. Returns 1 if
 * anything was released. `pad` is a size_t: a negative one stands for the value it wraps to.
 */
export function mtrim(av: MallocState, pad: number): 0 | 1 {
  mallocConsolidate(av);
  const ps = av.pagesize;
  const psindex = binIndex(ps);
  let result: 0 | 1 = 0;
  for (let i = 1; i < NBINS; i++) {
    if (i !== 1 && i < psindex) continue;
    const bin = av.binAt(i);
    for (let p = av.bk(bin); p !== bin; p = av.bk(p)) {
      let size = av.size(p);
      // sizeof(struct malloc_chunk) is 48: the chunk's header and links stay.
      if (size > ps - 1 + 48) {
        const paligned = alignDown(p + 48 + ps - 1, ps);
        size -= paligned - p;
        if (size > ps - 1) {
          av.as.madvise(paligned, alignDown(size, ps), MADV_DONTNEED);
          result = 1;
        }
      }
    }
  }
  return (result | systrim(av, pad)) as 0 | 1;
}
