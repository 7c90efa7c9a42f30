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
 * is reclaimed, the frame is written back into {@link MemFile.bytes} and freed; the next
 * fault reads it from the bytes again (a major fault).
 *
 * Coherence holds among address spaces over the same `PhysicalMemory`. Mappers over different
 * memories each have their own cache; {@link MemFile.sync} writes every cached page back.
 */
import { ArgumentError } from "../errors.js";
import type { PhysicalMemory } from "../memory/PhysicalMemory.js";

let fileCount = 0;

/**
 * A file to map with `mmap(…, file, offset)`: a byte array and a name for `/proc/self/maps`.
 * The bytes are used in place (not copied): they are the file. A file never grows through a
 * mapping: stores past the end of file, in its last partial page or past it, reach the page
 * (other mappers see them) but are not written back, as with Linux.
 */
export class MemFile {
  /** The file's contents (up to date for pages not in a page cache; see {@link sync}). */
  readonly bytes: Uint8Array;
  /** The name shown in `/proc/self/maps`. @defaultValue `"/memfd:N (deleted)"` */
  readonly name: string;
  /** Page caches, one per physical memory the file is mapped over: file page → frame. */
  private readonly caches: Map<PhysicalMemory, Map<number, number>>;

  /**
   * @param bytes - the contents (kept, not copied)
   * @param name - the path shown in `/proc/self/maps`
   */
  constructor(bytes: Uint8Array, name?: string) {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`MemFile: bytes must be a Uint8Array, got ${String(bytes)}`);
    if (name !== undefined && (typeof name !== "string" || name === "")) throw new ArgumentError(`MemFile: name must be a non-empty string, got ${String(name)}`);
    this.bytes = bytes;
    this.name = name ?? `/memfd:${fileCount++} (deleted)`;
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

  /**
   * Writes file page `page` back from its cached frame and drops the cache's reference (the
   * frame is freed when no mapping holds it). Does nothing when the page is not cached.
   */
  evict(memory: PhysicalMemory, page: number): void {
    const c = this.caches.get(memory);
    const frame = c?.get(page);
    if (c === undefined || frame === undefined) return;
    this.writeBack(memory, page, frame);
    c.delete(page);
    if (c.size === 0) this.caches.delete(memory);
    memory.unref(frame);
  }

  /** Writes every cached page back into {@link bytes} (`msync`), keeping the cache. */
  sync(): void {
    for (const [memory, c] of this.caches) for (const [page, frame] of c) this.writeBack(memory, page, frame);
  }

  private writeBack(memory: PhysicalMemory, page: number, frame: number): void {
    const ps = memory.pageSize;
    const from = page * ps;
    const n = Math.max(0, Math.min(ps, this.bytes.length - from));
    if (n > 0) this.bytes.set(memory.frameBytes(frame).subarray(0, n), from);
  }
}
