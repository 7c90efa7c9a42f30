/**
 * The free lists of a vmheap heap, read from its header for pictures: for each non-empty bin,
 * its chunks in list order (head first, following each chunk's `fd` link), and the designated
 * victim, the free chunk kept out of the bins.
 *
 * ```text
 *   header at base:  … H_DV │ bin bitmap words │ bin 0 │ bin 1 │ … │ bin n   (bin heads: chunk addresses)
 *   free chunk c:    prev_size │ size │ fd ─▶ next chunk of the bin (0 ends the list) │ bk │ …
 * ```
 *
 * It only reads: a process heap's words are read through its page table without touching the
 * MMU, so drawing changes no counter, no accessed bit and no fault. A list is followed only
 * while its links land on free chunks that `chunks()` reports; anything else (a heap that is
 * not vmheap's, a header page in swap, a smashed link) gives no lists rather than wrong ones.
 */
import type { ChunkInfo, HeapMemory, Heap as HeapOf } from "../heap/Heap.js";
import { SL_BITS, SMALL_BINS, binCount } from "../heap/bins.js";
import { H_BINMAP, H_DV, H_MAGIC, MAGIC } from "../heap/header.js";
import { LinearMemory } from "../memory/LinearMemory.js";
import { isPresent, pteFrame } from "../paging/pte.js";
import { AddressSpace } from "../vm/AddressSpace.js";

type Heap = HeapOf<HeapMemory>;

/** One non-empty bin. */
export interface FreeList {
  /** The bin's index. */
  readonly bin: number;
  /** The bin's name where the allocator has several kinds of bins (glibc: `"tcache[3]"`, `"fastbin[1]"`, `"unsorted"`, `"small[7]"`, `"large[66]"`). */
  readonly name?: string;
  /** Smallest chunk size the bin holds. */
  readonly minSize: number;
  /** Largest chunk size the bin holds (= minSize for the exact small bins). */
  readonly maxSize: number;
  /** Addresses of its chunks, in list order. */
  readonly chunks: readonly number[];
}

/** What {@link freeLists} found. */
export interface FreeLists {
  /** Whether the lists could be read (a vmheap heap whose header and links are all readable). */
  readonly ok: boolean;
  /** The non-empty bins, lowest index first. */
  readonly lists: readonly FreeList[];
  /** The designated victim's address (the last split's remainder, in no bin), or 0. */
  readonly victim: number;
}

const NONE: FreeLists = { ok: false, lists: [], victim: 0 };

/** A reader of 32-bit words of the heap's memory, or null where a word cannot be read without side effects. */
function wordReader(memory: unknown): ((addr: number) => number | null) | null {
  if (memory instanceof LinearMemory) {
    return (addr) => (addr + 4 <= memory.byteLength ? memory.dv.getUint32(addr, true) : null);
  }
  if (memory instanceof AddressSpace) {
    const pt = memory.pageTable;
    const ram = memory.memory;
    return (addr) => {
      const pte = pt.get(addr);
      if (pte === 0) return 0; // never touched: reads as zeros
      if (!isPresent(pte)) return null; // in swap: reading it would be a major fault
      return ram.dv.getUint32(pteFrame(pte) * ram.pageSize + (addr % ram.pageSize), true);
    };
  }
  return null;
}

/**
 * The sizes bin `idx` holds, for a heap aligned to `2^gshift` (the inverse of `binIndex`).
 * @example
 * ```ts
 * import { binRange } from "vmheap/viz";
 *
 * // a 16-byte aligned heap: exact small bins, then classes of a range of sizes
 * console.log(binRange(7, 4), binRange(70, 4)); // { minSize: 112, maxSize: 112 } { minSize: 1408, maxSize: 1456 }
 * ```
 */
export function binRange(
  idx: number,
  gshift: number,
): {
  /** The smallest chunk size the bin holds, in bytes. */
  minSize: number;
  /** The largest, in bytes. */
  maxSize: number;
} {
  if (idx < SMALL_BINS) return { minSize: idx << gshift, maxSize: idx << gshift };
  const fl = gshift + 6 + ((idx - SMALL_BINS) >> SL_BITS);
  const step = 2 ** (fl - SL_BITS);
  const minSize = 2 ** fl + ((idx - SMALL_BINS) & ((1 << SL_BITS) - 1)) * step;
  return { minSize, maxSize: minSize + step - 2 ** gshift };
}

/**
 * Reads the free lists of `heap` (see the file's comment).
 * @example
 * ```ts
 * import { Heap } from "vmheap";
 * import { freeLists } from "vmheap/viz";
 *
 * const heap = new Heap();
 * const blocks = [32, 1000, 32, 1000, 32].map((n) => heap.malloc(n));
 * heap.free(blocks[1]);
 * heap.free(blocks[3]); // two free chunks of the same size: one bin, two entries
 * const { ok, lists } = freeLists(heap);
 * console.log(ok, lists.map((l) => `bin ${l.bin} (${l.minSize}..${l.maxSize} B): ${l.chunks.map((c) => c.toString(16)).join(" -> ")}`)); // true [ 'bin 63 (1008..1008 B): c70 -> 850' ]
 * ```
 */
export function freeLists(heap: Pick<Heap, "chunks" | "base" | "alignment" | "memory">, chunks: readonly ChunkInfo[] = heap.chunks()): FreeLists {
  // An allocator that lists its own bins (the glibc model's `binLists()`).
  const own = (heap as { binLists?: () => FreeList[] }).binLists;
  if (typeof own === "function") return { ok: true, lists: own.call(heap), victim: 0 };
  const read = wordReader(heap.memory);
  if (read === null) return NONE;
  const hdr = heap.base;
  if (read(hdr + 4 * H_MAGIC) !== MAGIC) return NONE;
  const gshift = Math.log2(heap.alignment);
  const W = heap.alignment / 2;
  const nbins = binCount(gshift);
  const bins = hdr + 4 * (H_BINMAP + ((nbins + 31) >>> 5));
  const free = new Set(chunks.filter((c) => c.kind === "free").map((c) => c.address));
  const seen = new Set<number>();
  const lists: FreeList[] = [];
  for (let i = 0; i < nbins; i++) {
    const head = read(bins + 4 * i);
    if (head === null) return NONE;
    if (head === 0) continue;
    const list: number[] = [];
    for (let c: number | null = head; c !== 0; c = read(c + 2 * W)) {
      if (c === null || !free.has(c) || seen.has(c)) return NONE;
      seen.add(c);
      list.push(c);
    }
    lists.push({ bin: i, ...binRange(i, gshift), chunks: list });
  }
  const victim = read(hdr + 4 * H_DV);
  if (victim === null || (victim !== 0 && (!free.has(victim) || seen.has(victim)))) return NONE;
  return { ok: true, lists, victim };
}
