/**
 * A file in memory, the backing of file mappings, with its page cache.
 *
 * ```text
 *   bytes   ┌──────── page 0 ────────┬──────── page 1 ────────┬── … ──┬─ last page ─┐
 *           │ file contents          │                        │       │ EOF │ zeros │
 *           └────────────────────────┴────────────────────────┴── … ──┴─────────────┘
 *   cache   per PhysicalMemory: file page number ─▶ frame (the page cache, `struct address_space`)
 *
 *   a cached frame holds one reference for the cache itself, plus one per PTE mapping it:
 *   refCount(frame) = 1 + mappers   (so a mapped cache frame is always shared, never "exclusive")
 * ```
 *
 * Every `MAP_SHARED` mapper of a file page maps the one cached frame, so a store through one
 * mapping is seen by every other at once; a `MAP_PRIVATE` mapper maps the same frame
 * read-only and copy-on-write. When the last mapping of a cached page goes away, or the page
 * is reclaimed, the frame is freed, written back into {@link MemFile.bytes} first when it is
 * dirty (written through a mapping since it was read; a clean page is dropped as it is); the
 * next fault reads it from the bytes again (a major fault).
 *
 * Coherence holds among address spaces over the same `PhysicalMemory`. Mappers over different
 * memories each have their own cache; {@link MemFile.sync} writes every cached page back.
 */
import { ArgumentError, checkOptions, type OptionKeys } from "../errors.js";
import type { PhysicalMemory } from "../memory/PhysicalMemory.js";
import type { SwapSpace } from "./Swap.js";

let fileCount = 0;

/** Options for {@link MemFile}. */
export interface MemFileOptions {
  /** Whether the file is open for writing. @defaultValue true */
  writable?: boolean;
  /** The device column of `/proc/self/maps`, `major:minor` in hex. @defaultValue see {@link MemFile.device} */
  device?: string;
  /** The inode column of `/proc/self/maps`. @defaultValue see {@link MemFile.inode} */
  inode?: number;
}

/** The keys of {@link MemFileOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<MemFileOptions> = { writable: 1, device: 1, inode: 1 };

/** A file's inode number from its path (FNV-1a), six digits like the inodes of a small file system. */
function inodeOf(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193) >>> 0;
  return 100000 + (h % 900000);
}

/**
 * Called by {@link MemFile.sync} for each physical memory the file is cached in, after the
 * write-back: the address spaces over that memory clear the dirty bits of their PTEs mapping
 * the file (Linux's `page_mkclean`), so a page written back is clean until written again.
 * Set by AddressSpace.ts (which knows the address spaces); internal.
 */
let cleaner: ((file: MemFile, memory: PhysicalMemory) => void) | null = null;

/** Installs the {@link cleaner} (AddressSpace.ts, once). @internal */
export function setCleaner(fn: (file: MemFile, memory: PhysicalMemory) => void): void {
  cleaner = fn;
}

/**
 * A file to map with `mmap(…, file, offset)`: a byte array and a name for `/proc/self/maps`.
 * The bytes are used in place (not copied): they are the file. A file never grows through a
 * mapping: stores past the end of file, in its last partial page or past it, reach the page
 * (other mappers see them) but are not written back, as with Linux.
 * @example
 * ```ts
 * import { AddressSpace, MAP_PRIVATE, MAP_SHARED, MemFile, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
 *
 * const ram = new PhysicalMemory({ frames: 16 });
 * const file = new MemFile(new TextEncoder().encode("shared text"), "/data/notes.txt");
 * const p = new AddressSpace({ memory: ram });
 * const q = new AddressSpace({ memory: ram });
 * const a = p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
 * const b = q.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0);
 * // one page-cache frame: a MAP_SHARED store is seen by every mapper at once
 * p.write8(a, "S".charCodeAt(0));
 * console.log(String.fromCharCode(q.read8(b)), file.cachedPages(ram)); // S 1
 * // a MAP_PRIVATE store copies the page: the file never sees it
 * q.write8(b, "X".charCodeAt(0));
 * file.sync();
 * console.log(new TextDecoder().decode(file.bytes), String.fromCharCode(p.read8(a))); // Shared text S
 * ```
 */
export class MemFile {
  /** The file's contents (up to date for pages not in a page cache; see {@link sync}). */
  readonly bytes: Uint8Array;
  /** The name shown in `/proc/self/maps`. @defaultValue `"/memfd:N (deleted)"` */
  readonly name: string;
  /**
   * Whether the file is open for writing. A read-only file cannot be mapped `MAP_SHARED`
   * with `PROT_WRITE`, nor `mprotect`ed to it (EACCES), as with a file opened `O_RDONLY`.
   * @defaultValue true
   */
  readonly writable: boolean;
  /**
   * The device column of `/proc/self/maps` (`major:minor` in hex). @defaultValue `"fe:00"` (a
   * disk, as the root file system of a virtual machine) for a named file, `"00:01"` (the
   * kernel's internal shmem mount, as Linux shows a memfd) for an unnamed one
   */
  readonly device: string;
  /**
   * The inode column of `/proc/self/maps`. @defaultValue for a named file a number derived
   * from its name (the same path is the same inode, as on a file system); for an unnamed one
   * 1024 + N, a memfd's number
   */
  readonly inode: number;
  /** Page caches, one per physical memory the file is mapped over: file page → frame. */
  private readonly caches: Map<PhysicalMemory, Map<number, number>>;
  /** Cached pages written through a mapping since they were read (per physical memory). */
  private readonly dirty = new Map<PhysicalMemory, Set<number>>();

  /**
   * @param bytes - the contents (kept, not copied)
   * @param name - the path shown in `/proc/self/maps`
   * @param opts - `writable: false` for a file open read-only; `device` and `inode` for `/proc/self/maps`
   */
  constructor(bytes: Uint8Array, name?: string | null, opts: MemFileOptions = {}) {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`MemFile: bytes must be a Uint8Array, got ${String(bytes)}`);
    if (name != null && (typeof name !== "string" || name === "")) throw new ArgumentError(`MemFile: name must be a non-empty string, got ${String(name)}`);
    checkOptions(opts, "MemFile", OPTION_KEYS);
    if (opts.writable !== undefined && typeof opts.writable !== "boolean") throw new ArgumentError(`MemFile: writable must be a boolean, got ${String(opts.writable)}`);
    if (opts.device !== undefined && (typeof opts.device !== "string" || !/^[0-9a-f]{2,}:[0-9a-f]{2,}$/.test(opts.device))) {
      throw new ArgumentError(`MemFile: device must be "major:minor" in hex (like "fe:00"), got ${String(opts.device)}`);
    }
    if (opts.inode !== undefined && (!Number.isSafeInteger(opts.inode) || opts.inode < 0)) throw new ArgumentError(`MemFile: inode must be a non-negative integer, got ${String(opts.inode)}`);
    this.bytes = bytes;
    this.writable = opts.writable ?? true;
    const n = fileCount++;
    this.name = name ?? `/memfd:${n} (deleted)`;
    this.device = opts.device ?? (name == null ? "00:01" : "fe:00");
    this.inode = opts.inode ?? (name == null ? 1024 + n : inodeOf(name));
    this.caches = new Map();
  }

  /** File size in bytes. */
  get size(): number {
    return this.bytes.length;
  }

  /** The frame caching file page `page` in `memory`, or -1. */
  cachedFrame(memory: PhysicalMemory, page: number): number {
    return this.caches.get(memory)?.get(page) ?? -1;
  }

  /** Number of pages cached in `memory`. */
  cachedPages(memory: PhysicalMemory): number {
    return this.caches.get(memory)?.size ?? 0;
  }

  /**
   * Puts a freshly allocated frame (reference count 1: the cache's) into the cache for file page
   * `page`, filled from the file (zeros past the end of file).
   */
  cache(memory: PhysicalMemory, page: number, frame: number): void {
    let c = this.caches.get(memory);
    if (c === undefined) this.caches.set(memory, (c = new Map()));
    if (c.has(page)) throw new ArgumentError(`MemFile.cache: page ${page} of ${this.name} is already cached`);
    this.fill(memory, page, frame);
    c.set(page, frame);
  }

  /** Copies file page `page` into `frame` (zeros past the end of file). */
  fill(memory: PhysicalMemory, page: number, frame: number): void {
    const ps = memory.pageSize;
    const dst = memory.frameBytes(frame);
    const from = page * ps;
    const n = Math.max(0, Math.min(ps, this.bytes.length - from));
    if (n > 0) dst.set(this.bytes.subarray(from, from + n));
    if (n < ps) dst.fill(0, n);
  }

  /** Notes that cached page `page` was written through a mapping (its PTE was dirty). */
  markDirty(memory: PhysicalMemory, page: number): void {
    let d = this.dirty.get(memory);
    if (d === undefined) this.dirty.set(memory, (d = new Set()));
    d.add(page);
  }

  /**
   * Drops the cache's reference to file page `page` (the frame is freed when no mapping holds
   * it), writing the page back first when it is dirty: `dirty` (a PTE mapping it now says
   * so) or marked by {@link markDirty}. A clean page is dropped as it is, as Linux drops clean
   * page-cache pages. Does nothing when the page is not cached.
   */
  evict(memory: PhysicalMemory, page: number, dirty = true): void {
    const frame = this.cachedFrame(memory, page);
    if (frame < 0) return;
    if (dirty || this.dirty.get(memory)?.has(page) === true) this.writeBack(memory, page, frame);
    this.uncache(memory, page);
  }

  /** Drops the cache's reference to page `page`'s frame (and its dirty mark) without writing it back. */
  protected uncache(memory: PhysicalMemory, page: number): void {
    const c = this.caches.get(memory);
    const frame = c?.get(page);
    if (c === undefined || frame === undefined) return;
    const d = this.dirty.get(memory);
    if (d !== undefined && d.delete(page) && d.size === 0) this.dirty.delete(memory);
    c.delete(page);
    if (c.size === 0) this.caches.delete(memory);
    memory.unref(frame);
  }

  /**
   * Writes every cached page back into {@link bytes} (`msync`), keeping the cache; the pages
   * are clean afterwards (the mappings' dirty bits are cleared) until written again.
   */
  sync(): void {
    for (const [memory, c] of this.caches) {
      for (const [page, frame] of c) this.writeBack(memory, page, frame);
      cleaner?.(this, memory);
    }
    this.dirty.clear();
  }

  protected writeBack(memory: PhysicalMemory, page: number, frame: number): void {
    const ps = memory.pageSize;
    const from = page * ps;
    const n = Math.max(0, Math.min(ps, this.bytes.length - from));
    if (n > 0) this.bytes.set(memory.frameBytes(frame).subarray(0, n), from);
  }
}

/**
 * Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`, Linux's shmem): a hidden file of
 * `length` bytes with no bytes of its own, made by `mmap` and shared by `fork`. A page never
 * written reads as zeros. Its pages live in the page cache (frames) and, when reclaimed, in
 * swap like private memory: an address space without swap cannot reclaim them. A page that
 * every mapper has unmapped while the region lives on elsewhere is kept aside (in `kept`),
 * and all of it goes when the last region mapping it goes ({@link ShmemFile.release}).
 */
export class ShmemFile extends MemFile {
  private readonly length: number;
  /** Pages in swap: file page → its swap space and slot. */
  private readonly slots = new Map<number, { swap: SwapSpace; slot: number }>();
  /** Pages unmapped by every mapper (not zero): file page → contents. */
  private readonly kept = new Map<number, Uint8Array>();

  constructor(length: number) {
    // Linux shows shared anonymous memory as a deleted /dev/zero on the internal shmem mount.
    super(new Uint8Array(0), "/dev/zero (deleted)", { device: "00:01", inode: 1024 + fileCount });
    this.length = length;
  }

  override get size(): number {
    return this.length;
  }

  /** The swap slot holding file page `page`, or -1 (its next fault is a major one when in swap). */
  slotOf(page: number): number {
    return this.slots.get(page)?.slot ?? -1;
  }

  /** Swap pages held. */
  get swappedPages(): number {
    return this.slots.size;
  }

  /** Fills `frame` with page `page`: from swap (freeing the slot), from `kept`, or zeros. */
  override fill(memory: PhysicalMemory, page: number, frame: number): void {
    const dst = memory.frameBytes(frame);
    const inSwap = this.slots.get(page);
    if (inSwap !== undefined) {
      inSwap.swap.read(inSwap.slot, dst);
      inSwap.swap.unref(inSwap.slot);
      this.slots.delete(page);
      return;
    }
    const kept = this.kept.get(page);
    if (kept !== undefined) {
      dst.set(kept);
      this.kept.delete(page);
    } else dst.fill(0);
  }

  /**
   * Reclaims cached page `page` to `slot` of `swap` (taken by the caller): the contents go to
   * the slot and the cache lets go of the frame, which no mapping holds any more.
   */
  swapOut(memory: PhysicalMemory, page: number, swap: SwapSpace, slot: number): void {
    const frame = this.cachedFrame(memory, page);
    if (frame < 0) throw new ArgumentError(`ShmemFile.swapOut: page ${page} is not cached`);
    swap.write(slot, memory.frameBytes(frame));
    this.slots.set(page, { swap, slot });
    this.uncache(memory, page);
  }

  /**
   * Takes page `page` out of its swap slot into `kept` and frees the slot (a swap-in with RAM
   * and swap both full: a victim may take the slot). @returns the swap space it was in
   */
  unswap(page: number): SwapSpace {
    const inSwap = this.slots.get(page);
    if (inSwap === undefined) throw new ArgumentError(`ShmemFile.unswap: page ${page} is not in swap`);
    const bytes = new Uint8Array(inSwap.swap.pageSize);
    inSwap.swap.read(inSwap.slot, bytes);
    inSwap.swap.unref(inSwap.slot);
    this.slots.delete(page);
    this.kept.set(page, bytes);
    return inSwap.swap;
  }

  /** Puts a page {@link unswap} took out back into a slot of `swap` (kept aside if swap is full). */
  reswap(page: number, swap: SwapSpace): void {
    const bytes = this.kept.get(page);
    const slot = bytes === undefined ? -1 : swap.alloc();
    if (slot < 0) return;
    swap.write(slot, bytes!);
    this.slots.set(page, { swap, slot });
    this.kept.delete(page);
  }

  /** Frees every swap slot and kept page: no region maps the memory any more. */
  release(): void {
    for (const { swap, slot } of this.slots.values()) swap.unref(slot);
    this.slots.clear();
    this.kept.clear();
  }

  /** Its pages have no copy but the cached one: kept whether dirty or not. */
  override evict(memory: PhysicalMemory, page: number): void {
    super.evict(memory, page, true);
  }

  protected override writeBack(memory: PhysicalMemory, page: number, frame: number): void {
    const bytes = memory.frameBytes(frame);
    if (bytes.some((b) => b !== 0)) this.kept.set(page, bytes.slice());
    else this.kept.delete(page);
  }
}
