/**
 * The heap with `free`'s common cases written out for any data model: the source of the wasm
 * engine's `free` (scripts/gen-wasm-engine.mjs translates this class's methods in place of
 * Heap's). Heap.ts keeps the algorithm; this file only writes its common cases out.
 */
import { CINUSE, FLAG_BITS, MARK_FREE, MARK_USED, PINUSE, SIZE_TAG, SIZE_WORD_GRANULES } from "./chunk.js";
import { H_BITMAP, H_DV, H_END, H_TOP, H_TOPPAD, H_TRIM } from "./header.js";
import { Heap, MODE_SYNC, REM_BIN, REM_NEW_DV } from "./Heap.js";

/**
 * The heap with `free`'s common cases written out for any data model: what the wasm engine
 * runs (scripts/gen-wasm-engine.mjs translates these methods in place of Heap's). In
 * JavaScript, the 64-bit model has them written out with its layout's numbers in
 * {@link Heap.free}; the 32-bit models keep the general path, so that a program importing the
 * heap does not carry a third copy (this class is left out of its bundle). The forgery fuzzer
 * and the differential tests run it in JavaScript and on the wasm engine.
 * @internal
 */
export class FastPathHeap extends Heap {
  protected override freeImpl(ptr: number): void {
    if (this.maps !== null && this.maps.has(ptr)) {
      this.unmapBlock(ptr);
      return;
    }
    if ((this.mode & MODE_SYNC) !== 0) this.sync();
    if (this.freeFast(ptr, "free")) return;
    super.freeChunk(this.validate(ptr, "free"), "free"); // (names what freeFast refused)
  }

  /**
   * takeFree's common case (no alignment, every check passing) with its checks written out,
   * each header and chunk-map word read once: `c`, the head of bin `idx`, a free chunk in the
   * map of the size its header gives, of that bin, not the victim, with a sound forward link;
   * the head written through when the remainder is binned (or the old victim, when the
   * remainder becomes the victim), a free chunk in the map. Anything else goes to Heap's
   * takeFree, which checks again and names the damage.
   */
  protected override takeFree(c: number, idx: number, nb: number, toDv: boolean, align: number = 0): number {
    if (align !== 0 || !this.takeFreeOk(c, idx, nb, toDv)) return super.takeFree(c, idx, nb, toDv, align);
    const s = this.m[(c + this.W) >>> 2]!;
    const size = s & ~FLAG_BITS;
    this.popHead(c, idx);
    this.setSizeWord(c, size, false);
    this.allot(c, s & PINUSE, size, nb, toDv ? REM_NEW_DV : REM_BIN);
    return c;
  }

  /** Whether every check of takeFree(c, idx, nb, toDv) passes (see {@link takeFree}); reads only. */
  protected takeFreeOk(c: number, idx: number, nb: number, toDv: boolean): boolean {
    const m = this.m;
    const W = this.W;
    const W2 = this.W2;
    const amask = this.amask;
    const gshift = this.gshift;
    const hdr = this.hdr;
    const arena = this.arena;
    const top = m[(hdr + 4 * H_TOP) >>> 2]!;
    const dv = m[(hdr + 4 * H_DV) >>> 2]!;
    if (((c + W2) & amask) !== 0 || c < arena || c >= top || c === dv) return false;
    const s = m[(c + W) >>> 2]!;
    const size = s & ~FLAG_BITS;
    if ((s & CINUSE) !== 0 || size < this.minChunk || (size & amask) !== 0 || size < nb) return false;
    const n = c + size; // (after the size's checks)
    if (n > top) return false;
    // freeChunkOk(c, size): a free chunk starts at c in the map, none inside it, the next one at n.
    const map = m[(hdr + 4 * H_BITMAP) >>> 2]! >>> 2;
    const g = (c - arena) >>> gshift;
    const wi = map + (g >>> 4);
    const sh = (g & 15) << 1;
    const word = m[wi]!;
    if ((word & 3) === SIZE_TAG || ((word >>> sh) & 3) !== MARK_FREE) return false;
    if (!this.freeExtentOk(map, wi, word, g, sh, size >>> gshift, n === top)) return false;
    if (this.binOf(size) !== idx) return false;
    // The forward link becomes the bin's head.
    const fd = m[(c + W2) >>> 2]!;
    if (fd !== 0 && (fd === c || fd === dv || ((fd + W2) & amask) !== 0 || fd < arena || fd >= top || m[(fd + W2 + W) >>> 2] !== c)) return false;
    // The head written through by the remainder's insert.
    const rem = size - nb;
    if (rem >= this.minChunk) {
      const x = toDv ? dv : c + nb;
      if (x !== 0) {
        const xs = toDv ? m[(dv + W) >>> 2]! & ~FLAG_BITS : rem;
        if (toDv && !this.freeChunkOk(dv, xs)) return false;
        const xi = this.binOf(xs);
        const h = xi === idx ? fd : m[(this.bins + (xi << 2)) >>> 2]!;
        if (h === x || h === c || (h !== 0 && !this.freeStart(h, top, map))) return false;
      }
    }
    return true;
  }

  /**
   * takeDv's common case (no alignment, every check passing) written out, each header and
   * chunk-map word read once: the designated victim `dv` (allocChunk has checked its place in
   * the arena and that its size holds `nb`) is a free chunk in the map of the size its header
   * gives, ending below the top; `nb` bytes are carved from its front and the rest stays the
   * victim. Anything else goes to Heap's takeDv, which checks again and names the damage.
   */
  protected override takeDv(dv: number, nb: number, align: number = 0): number {
    const m = this.m;
    const W = this.W;
    const gshift = this.gshift;
    const min = this.minChunk;
    const hdr = this.hdr;
    const arena = this.arena;
    const s = m[(dv + W) >>> 2]!;
    const size = s & ~FLAG_BITS;
    if (align !== 0 || (s & (CINUSE | PINUSE)) !== PINUSE || size < nb || size < min || (size & this.amask) !== 0) return super.takeDv(dv, nb, align);
    const n = dv + size; // (after the size's checks)
    if (n >= m[(hdr + 4 * H_TOP) >>> 2]!) return super.takeDv(dv, nb, align);
    // freeChunkOk(dv, size): a free chunk starts at dv in the map, none inside it, the next one at n.
    const map = m[(hdr + 4 * H_BITMAP) >>> 2]! >>> 2;
    const g = (dv - arena) >>> gshift;
    const wi = map + (g >>> 4);
    const sh = (g & 15) << 1;
    const word = m[wi]!;
    if ((word & 3) === SIZE_TAG || ((word >>> sh) & 3) !== MARK_FREE) return super.takeDv(dv, nb, align);
    const k = size >>> gshift;
    if (!this.freeExtentOk(map, wi, word, g, sh, k, false)) return super.takeDv(dv, nb, align);
    // Every check passed: from here on the heap changes (setSizeWord and allot, written out).
    const dvAt = (hdr + 4 * H_DV) >>> 2;
    const rem = size - nb;
    m[wi] = word | (2 << sh); // free → in use (a chunk taken whole keeps its size word)
    if (rem >= min) {
      if (k >= SIZE_WORD_GRANULES) m[wi + 1] = 0;
      m[(dv + W) >>> 2] = nb | CINUSE | PINUSE;
      const r = dv + nb;
      m[(r + W) >>> 2] = rem | PINUSE;
      if (W === 8) m[(r + 12) >>> 2] = 0;
      m[(r + rem) >>> 2] = rem;
      const nk = nb >> gshift;
      if (nk >= SIZE_WORD_GRANULES) m[wi + 1] = (nk << 2) | SIZE_TAG;
      // The remainder: a free chunk in the map, with its size word.
      const rg = g + nk;
      const ri = map + (rg >>> 4);
      const rsh = (rg & 15) << 1;
      m[ri] = (m[ri]! & ~(3 << rsh)) | (MARK_FREE << rsh);
      const rk = rem >> gshift;
      if (rk >= SIZE_WORD_GRANULES) m[ri + 1] = (rk << 2) | SIZE_TAG;
      m[dvAt] = r;
    } else {
      m[(dv + W) >>> 2] = size | CINUSE | PINUSE;
      m[(n + W) >>> 2] = m[(n + W) >>> 2]! | PINUSE;
      m[dvAt] = 0;
    }
    return dv;
  }

  /**
   * allocFromTop's common case (no alignment, the top holding `nb` bytes and a minimum chunk
   * after them) written out: checkTop, then carveTop with the new chunk's mark. Growing the heap,
   * an aligned request and a damaged top go to Heap's allocFromTop.
   */
  protected override allocFromTop(nb: number, align: number = 0): number {
    const m = this.m;
    const W = this.W;
    const gshift = this.gshift;
    const hdr = this.hdr;
    const topAt = (hdr + 4 * H_TOP) >>> 2;
    const top = m[topAt]!;
    const tsize = m[(hdr + 4 * H_END) >>> 2]! - top;
    const ts = m[(top + W) >>> 2]!;
    if (align !== 0 || tsize < nb + this.minChunk || (ts & CINUSE) !== 0 || (ts & ~FLAG_BITS) !== tsize || (W === 8 && m[(top + 12) >>> 2] !== 0)) return super.allocFromTop(nb, align);
    const nt = top + nb;
    m[(nt + W) >>> 2] = (tsize - nb) | PINUSE;
    if (W === 8) m[(nt + 12) >>> 2] = 0;
    m[(top + W) >>> 2] = nb | CINUSE | (ts & PINUSE);
    m[topAt] = nt;
    // markChunk(top, nb, MARK_USED): nothing lies in the map at or after the top.
    const g = (top - this.arena) >>> gshift;
    const wi = (m[(hdr + 4 * H_BITMAP) >>> 2]! >>> 2) + (g >>> 4);
    m[wi] = m[wi]! | (MARK_USED << ((g & 15) << 1));
    const k = nb >> gshift;
    if (k >= SIZE_WORD_GRANULES) m[wi + 1] = (k << 2) | SIZE_TAG;
    return top;
  }

  /** freeChunk of every caller (realloc's check and free, splitTail, ...): freeFast first. */
  protected override freeChunk(c: number, op: string, checkOnly = false): void {
    if (this.freeFast(c + this.W2, op, checkOnly)) return;
    super.freeChunk(c, op, checkOnly);
  }

  /**
   * `free(ptr)`'s common cases for any data model, each header and chunk-map word read once:
   * validate and freeChunk with their checks in the order of free's LP64 fast path (which is
   * this, written out with the 64-bit layout's numbers). The common case, both neighbours in
   * use, takes a straight path of its own; merges with a free neighbour, the designated victim
   * or the top follow. Every check of validate and freeChunk is made (the pointer is live in
   * the chunk map, the block's size, the neighbours' headers, sizes, footers and links, the
   * head of the bin written through), before anything changes.
   * With `checkOnly`, only checks (as freeChunk's).
   * @returns true when the block was freed (or checked); false, with nothing changed, when any check fails
   *   or the pointer is not live: the caller then takes validate and freeChunk, which throw the
   *   error that names the damage
   */
  protected freeFast(ptr: number, op: string, checkOnly = false): boolean {
    const m = this.m;
    const W = this.W;
    const W2 = this.W2;
    const amask = this.amask;
    const gshift = this.gshift;
    const min = this.minChunk;
    const hdr = this.hdr;
    const arena = this.arena;
    const p = ptr | 0;
    const top = m[(hdr + 4 * H_TOP) >>> 2]!;
    if (p !== ptr || (p & amask) !== 0 || p < arena + W2 || p >= top) return false;
    const c = p - W2; // (at or above the arena)
    // isLive: the chunk map marks c in use; the map's own chunk is no block.
    const bitmap = m[(hdr + 4 * H_BITMAP) >>> 2]!;
    const map = bitmap >>> 2;
    const g = (c - arena) >>> gshift;
    const wi = map + (g >>> 4);
    const sh = (g & 15) << 1;
    const word = m[wi]!;
    if ((word & 3) === SIZE_TAG || ((word >>> sh) & 3) !== MARK_USED || p === bitmap) return false;
    const s = m[(c + W) >>> 2]!;
    const size = s & ~FLAG_BITS;
    if (size < min || (size & amask) !== 0) return false;
    const n = c + size; // (after the size's checks: a sum of two sizes below 2^31, 32-bit arithmetic in the engine)
    if (n > top || (W === 8 && m[(c + 12) >>> 2] !== 0)) return false;
    // sizeOk(c, size): no chunk start inside c, its size word when it has one. (Nothing is read at n before.)
    const k = size >>> gshift;
    const e = g + k;
    const we = map + (e >>> 4);
    const es = (e & 15) << 1;
    const after = word & -(4 << sh);
    const next = m[we]!; // the word of the next chunk's pair
    if (k >= SIZE_WORD_GRANULES ? after !== 0 || m[wi + 1] !== ((k << 2) | SIZE_TAG) : (we === wi ? after & ((1 << es) - 1) : after | (next & ((1 << es) - 1)) | (we === wi + 2 ? m[wi + 1]! : 0)) !== 0) return false;
    if ((s & PINUSE) !== 0 && n !== top && (next & 3) !== SIZE_TAG && ((next >>> es) & 3) === MARK_USED) {
      // Nothing merges: the chunk after is in use in the map (a block, or the map's own chunk)
      // and must say so in a sound header; the head of c's bin is written through: a free
      // chunk in the map.
      const ns = m[(n + W) >>> 2]!;
      const nsize = ns & ~FLAG_BITS;
      const idx = this.binOf(size);
      const slot = (this.bins + (idx << 2)) >>> 2;
      const head = m[slot]!;
      const hg = (head - arena) >>> gshift;
      if (
        (ns & (CINUSE | PINUSE)) !== (CINUSE | PINUSE) ||
        nsize < min ||
        (nsize & amask) !== 0 ||
        n + nsize > top ||
        (W === 8 && m[(n + 12) >>> 2] !== 0) ||
        (n === bitmap - W2 && !this.bitmapHeadOk(ns)) ||
        (head !== 0 && (((head + W2) & amask) !== 0 || head < arena || head >= top || (m[map + (hg >>> 4)]! & 3) === SIZE_TAG || ((m[map + (hg >>> 4)]! >>> ((hg & 15) << 1)) & 3) !== MARK_FREE))
      ) {
        return false;
      }
      if (checkOnly) return true;
      // Every check passed: from here on the heap changes. c stays a start in the map, now free
      // (its size word, if any, stays).
      m[wi] = word & ~(2 << sh);
      m[(n + W) >>> 2] = ns & ~PINUSE;
      m[(c + W) >>> 2] = size | PINUSE;
      m[n >>> 2] = size;
      // insert(c, size), written out
      m[(c + W2) >>> 2] = head;
      if (head !== 0) m[(head + W2 + W) >>> 2] = c;
      else this.markBin(idx);
      m[slot] = c;
      // As in freeChunk: free space held below the top only by the bitmap.
      if (op !== "malloc" && n === bitmap - W2 && size + m[(hdr + 4 * H_END) >>> 2]! - top > m[(hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(hdr + 4 * H_TOPPAD) >>> 2]!);
      return true;
    }
    // A merge: with the chunk before, the chunk after (free in a bin, or the designated victim)
    // or the top.
    const toTop = n === top;
    const dvAt = (hdr + 4 * H_DV) >>> 2;
    let ns = 0;
    let nsize = 0;
    let chunkEnd = n; // where the merged chunk ends
    let nextFree = false;
    let nIsDv = false;
    if (!toTop) {
      // The chunk after: in use in the map (a block, or the map's own chunk), or free there and
      // of the size the map gives it, in its bin with sound links or the designated victim; its
      // header agreeing either way.
      if ((next & 3) === SIZE_TAG) return false;
      const np = (next >>> es) & 3;
      // (Consts, each checked before the next is computed from it, assigned once all is checked:
      // the engine's translator then knows their ranges and computes these sums in 32 bits.)
      const nw = m[(n + W) >>> 2]!;
      const nsz = nw & ~FLAG_BITS;
      if (nsz < min || (nsz & amask) !== 0) return false;
      const nEnd = n + nsz;
      if (nEnd > top || (W === 8 && m[(n + 12) >>> 2] !== 0)) return false;
      ns = nw;
      nsize = nsz;
      if (np === MARK_USED) {
        if ((ns & (CINUSE | PINUSE)) !== (CINUSE | PINUSE) || (n === bitmap - W2 && !this.bitmapHeadOk(ns))) return false;
      } else {
        if (np !== MARK_FREE || (ns & (CINUSE | PINUSE)) !== PINUSE) return false;
        if (!this.freeExtentOk(map, we, next, e, es, nsize >>> gshift, n + nsize === top)) return false;
        if (m[(n + nsize) >>> 2] !== nsize || (m[(n + nsize + W) >>> 2]! & PINUSE) !== 0) return false; // footerOk
        nIsDv = n === m[dvAt];
        if (!nIsDv && !this.linksFree(n, nsize, top, map)) return false;
        nextFree = true;
        chunkEnd = nEnd;
      }
    } else {
      const ts = m[(top + W) >>> 2]!;
      if ((ts & ~FLAG_BITS) !== m[(hdr + 4 * H_END) >>> 2]! - top || (ts & (CINUSE | PINUSE)) !== PINUSE || (W === 8 && m[(top + 12) >>> 2] !== 0)) return false;
    }
    // The chunk before, when this header says it is free: a free chunk in the map that ends
    // exactly here (sizeOk), in its bin with links that are free chunks naming it back
    // (linksOk), or the designated victim.
    let start = c;
    let ps = 0;
    let pw = 0;
    let psh = 0;
    let prevIsDv = false;
    if ((s & PINUSE) === 0) {
      const psz = m[c >>> 2]!;
      if (psz < min || (psz & amask) !== 0) return false;
      const pc = c - psz;
      if (pc < arena || m[(pc + W) >>> 2] !== (psz | PINUSE) || (W === 8 && m[(pc + 12) >>> 2] !== 0)) return false;
      ps = psz;
      start = pc;
      const pg = (start - arena) >>> gshift;
      pw = map + (pg >>> 4);
      psh = (pg & 15) << 1;
      const pword = m[pw]!;
      if ((pword & 3) === SIZE_TAG || ((pword >>> psh) & 3) !== MARK_FREE) return false;
      const pk = ps >>> gshift;
      const pafter = pword & -(4 << psh);
      if (pk >= SIZE_WORD_GRANULES ? pafter !== 0 || m[pw + 1] !== ((pk << 2) | SIZE_TAG) : (pw === wi ? pafter & ((1 << sh) - 1) : pafter | (word & ((1 << sh) - 1)) | (wi === pw + 2 ? m[pw + 1]! : 0)) !== 0) return false;
      prevIsDv = start === m[dvAt];
      if (!prevIsDv && !this.linksFree(start, ps, top, map)) return false;
    }
    const total = chunkEnd - start; // (size, plus the chunk before's and the chunk after's that merge)
    // The bin the result goes to: its head is written through (a free chunk in the map), unless
    // it is a chunk unlinked first, whose forward link (checked above) becomes the head.
    let tidx = 0;
    let tslot = 0;
    const withDv = prevIsDv || nIsDv; // a chunk that merges with the victim stays the victim
    if (!toTop && !withDv) {
      tidx = this.binOf(total);
      tslot = (this.bins + (tidx << 2)) >>> 2;
      const h = m[tslot]!;
      // (A merged chunk at the head of another bin than its own is a stale head: refused.)
      if (h !== 0 && (h === start && start !== c ? this.binOf(ps) !== tidx : nextFree && h === n ? this.binOf(nsize) !== tidx : !this.freeStart(h, top, map))) return false;
    }
    if (checkOnly) return true;
    // Every check passed: from here on the heap changes.
    if (start !== c && !prevIsDv) this.unlink(start, ps);
    if (nextFree && !nIsDv) this.unlink(n, nsize); // (its links read again: unlinking start may have changed them)
    if (nextFree) {
      // The next chunk leaves the map (its size word, then its mark).
      if (nsize >> gshift >= SIZE_WORD_GRANULES) m[we + 1] = 0;
      m[we] = m[we]! & ~(3 << es);
    }
    // The chunk map: c stays a start (now free) or leaves the map, with its size word; the chunk
    // before loses its size word (rewritten below for the merged chunk).
    m[(c + W) >>> 2] = s & ~CINUSE; // (merged away: a later free of it is named a double free)
    if (k >= SIZE_WORD_GRANULES) m[wi + 1] = 0;
    m[wi] = m[wi]! & ~(3 << sh);
    if (start !== c) {
      if (ps >> gshift >= SIZE_WORD_GRANULES) m[pw + 1] = 0;
      if (toTop) m[pw] = m[pw]! & ~(3 << psh);
    }
    if (toTop) {
      const end = m[(hdr + 4 * H_END) >>> 2]!;
      if (prevIsDv) m[dvAt] = 0;
      m[(hdr + 4 * H_TOP) >>> 2] = start;
      m[(start + W) >>> 2] = (end - start) | PINUSE;
      // The free space at the end: the top, and a free chunk below the bitmap when the bitmap is
      // all that keeps it from the top (as in freeChunk).
      const bmc = bitmap - W2;
      const bs = m[(bmc + W) >>> 2]!;
      const held = op !== "malloc" && bmc + (bs & ~FLAG_BITS) === start && (bs & PINUSE) === 0 ? m[bmc >>> 2]! : 0;
      if (end - start + held > m[(hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(hdr + 4 * H_TOPPAD) >>> 2]!);
      return true;
    }
    if (!nextFree) m[(n + W) >>> 2] = ns & ~PINUSE;
    else if (start === c) m[wi] = m[wi]! | (MARK_FREE << sh); // c starts the merged chunk
    m[(start + W) >>> 2] = total | PINUSE;
    m[(start + total) >>> 2] = total;
    if (total >> gshift >= SIZE_WORD_GRANULES) m[(start === c ? wi : pw) + 1] = ((total >> gshift) << 2) | SIZE_TAG;
    if (withDv) {
      m[dvAt] = start;
    } else {
      // insert(start, total), written out
      const head = m[tslot]!;
      m[(start + W2) >>> 2] = head;
      if (head !== 0) m[(head + W2 + W) >>> 2] = start;
      else this.markBin(tidx);
      m[tslot] = start;
    }
    // As in freeChunk: free space held below the top only by the bitmap.
    if (op !== "malloc" && start + total === bitmap - W2 && total + m[(hdr + 4 * H_END) >>> 2]! - top > m[(hdr + 4 * H_TRIM) >>> 2]!) this.trim(m[(hdr + 4 * H_TOPPAD) >>> 2]!);
    return true;
  }

  /**
   * sizeOk for a chunk of `k` granules whose pair, the chunk map's for granule `g`, sits at bit
   * `sh` of map word `wi` (read: `word`; `map` the map's first word index): no chunk start inside
   * it, its size word when it has one, and (under SIZE_WORD_GRANULES granules) the next chunk's
   * start marked after it unless it ends at the top (`atTop`).
   */
  protected freeExtentOk(map: number, wi: number, word: number, g: number, sh: number, k: number, atTop: boolean): boolean {
    const m = this.m;
    const after = word & -(4 << sh); // the pairs after the chunk's own in its word
    if (k >= SIZE_WORD_GRANULES) return after === 0 && m[wi + 1] === ((k << 2) | SIZE_TAG);
    // (under 32 granules: the chunk's pairs end at most two words after its own)
    const e = g + k;
    const we = map + (e >>> 4);
    const es = (e & 15) << 1;
    const next = m[we]!;
    if ((we === wi ? after & ((1 << es) - 1) : after | (next & ((1 << es) - 1)) | (we === wi + 2 ? m[wi + 1]! : 0)) !== 0) return false;
    return atTop || ((next >>> es) & 1) !== 0;
  }

  /**
   * Whether `x` is the start of a free chunk in the chunk map, checked before anything is read
   * there (aligned, in the arena below `top`); `map` is the map's first word index.
   */
  protected freeStart(x: number, top: number, map: number): boolean {
    if (((x + this.W2) & this.amask) !== 0 || x < this.arena || x >= top) return false;
    const g = (x - this.arena) >>> this.gshift;
    const w = this.m[map + (g >>> 4)]!;
    return (w & 3) !== SIZE_TAG && ((w >>> ((g & 15) << 1)) & 3) === MARK_FREE;
  }

  /**
   * linksOk for free chunk `c` of `size` bytes with the header words already read: its
   * forward link, and its back link unless it is its bin's head, are free chunks in the map
   * that name it back.
   */
  protected linksFree(c: number, size: number, top: number, map: number): boolean {
    const m = this.m;
    const W2 = this.W2;
    const fd = m[(c + W2) >>> 2]!;
    if (fd !== 0 && (fd === c || !this.freeStart(fd, top, map) || m[(fd + W2 + this.W) >>> 2] !== c)) return false;
    if (m[(this.bins + (this.binOf(size) << 2)) >>> 2] === c) return true;
    const bk = m[(c + W2 + this.W) >>> 2]!;
    return this.freeStart(bk, top, map) && m[(bk + W2) >>> 2] === c;
  }
}
