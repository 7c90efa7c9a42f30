/**
 * Virtual memory areas (Linux `struct vm_area_struct`): the regions `mmap` creates, kept in
 * address order, with the split and merge every `mmap`/`munmap`/`mprotect` needs.
 *
 * ```text
 *   VmaList  [ vma ][ vma ]   [ vma ]        [ vma ]       sorted by start, never overlapping
 *            start ≤ va < end: the region of va           (start and end are page-aligned)
 *
 *   split at a:   [start ……… a)[a ……… end)     the second half's file offset moves by a − start
 *   merge:        [s … m)[m … e) → [s … e)     when they touch and mergeable() holds
 * ```
 *
 * Invariants: `start < end`, both multiples of the page size; regions sorted and disjoint;
 * no two touching regions are {@link mergeable} (after {@link VmaList.mergeAround}).
 */
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "../constants.js";
import { VmError } from "../errors.js";
import type { MemFile } from "./MemFile.js";

/**
 * One region of an address space.
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }), addressBits: 32 });
 * const a = as.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * as.nameAnon(a, 4096, "buffers");
 * console.log(as.regions().map((v) => `${v.start.toString(16)}-${v.end.toString(16)} ${v.perms()} ${v.length} ${v.displayName()}`).join("\n"));
 * // f7ffd000-f7ffe000 rw-p 4096 [anon:buffers]
 * // f7ffe000-f8000000 rw-p 8192
 * ```
 */
export class Vma {
  /** First byte (page-aligned). */
  start: number;
  /** First byte past the region (page-aligned). */
  end: number;
  /** `PROT_*` bits. */
  prot: number;
  /** `MAP_SHARED` (true) or `MAP_PRIVATE` (false). */
  shared: boolean;
  /** The backing file, or null for anonymous private memory. */
  file: MemFile | null;
  /** Byte offset in the file of `start` (0 for anonymous memory). */
  offset: number;
  /**
   * The name shown in `/proc/self/maps` (`[heap]`, `[stack]`, `[anon:NAME]`), or null: the
   * file's name for a file mapping, nothing for anonymous memory.
   */
  name: string | null;
  /** Shared anonymous memory: backed by a hidden file, but shown (and merged) as anonymous. */
  anonShared: boolean;
  /**
   * A stack (`VM_GROWSDOWN`): a fault in the hole just below it extends it down to the faulting
   * page, but not below this address. -1: the region does not grow.
   */
  growsDownTo: number;
  /**
   * A private file mapping that has been writable (Linux `VM_ACCOUNT`: its copies are charged
   * to the commit limit). Linux never takes the flag back from a file mapping made read-only
   * again, so such a region does not merge with a neighbour that was never writable: that is
   * why a program's relro (loaded writable, then made read-only) keeps a maps line of its own
   * next to its read-only data. Always false for anonymous memory in the model.
   */
  accounted: boolean;

  constructor(start: number, end: number, prot: number, shared: boolean, file: MemFile | null, offset: number, name: string | null, anonShared = false) {
    this.start = start;
    this.end = end;
    this.prot = prot;
    this.shared = shared;
    this.file = file;
    this.offset = offset;
    this.name = name;
    this.anonShared = anonShared;
    this.growsDownTo = -1;
    this.accounted = file !== null && !shared && !anonShared && (prot & PROT_WRITE) !== 0;
  }

  /** Length in bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** A copy (for `fork`). */
  clone(): Vma {
    const v = new Vma(this.start, this.end, this.prot, this.shared, this.file, this.offset, this.name, this.anonShared);
    v.growsDownTo = this.growsDownTo;
    v.accounted = this.accounted;
    return v;
  }

  /** The file offset of byte `va` of the region. */
  fileOffset(va: number): number {
    return this.offset + (va - this.start);
  }

  /** `rw-p`: the perms column of `/proc/self/maps`. */
  perms(): string {
    const p = this.prot;
    return ((p & PROT_READ) !== 0 ? "r" : "-") + ((p & PROT_WRITE) !== 0 ? "w" : "-") + ((p & PROT_EXEC) !== 0 ? "x" : "-") + (this.shared ? "s" : "p");
  }

  /** The name column: the explicit name, else the file's name, else "". */
  displayName(): string {
    if (this.name !== null) return this.name;
    if (this.file !== null && !this.anonShared) return this.file.name;
    return this.anonShared ? "/dev/zero (deleted)" : "";
  }

  /**
   * Cuts the region at `at` (strictly inside): this keeps `[start, at)`, the returned region
   * is `[at, end)` with its file offset moved along.
   */
  splitAt(at: number): Vma {
    if (at <= this.start || at >= this.end) throw new VmError(`Vma.splitAt: 0x${at.toString(16)} is not inside [0x${this.start.toString(16)}, 0x${this.end.toString(16)})`);
    const tail = new Vma(at, this.end, this.prot, this.shared, this.file, this.fileOffset(at), this.name, this.anonShared);
    tail.growsDownTo = this.growsDownTo;
    tail.accounted = this.accounted;
    this.end = at;
    return tail;
  }
}

/**
 * Whether `b` can be absorbed into `a` (`a` ends where `b` starts): same protection, sharing,
 * name and {@link Vma.accounted}, and either both anonymous private, or the same file at contiguous offsets (as
 * Linux's `vma_merge`). Shared anonymous regions merge only with their own file's pages.
 * @example
 * ```ts
 * import { PROT_READ, PROT_WRITE, Vma, mergeable } from "vmheap";
 *
 * const a = new Vma(0x1000, 0x2000, PROT_READ | PROT_WRITE, false, null, 0, null);
 * const b = new Vma(0x2000, 0x3000, PROT_READ | PROT_WRITE, false, null, 0, null);
 * const c = new Vma(0x2000, 0x3000, PROT_READ, false, null, 0, null);
 * // same protection, both anonymous private: one region; different protection: two
 * console.log(mergeable(a, b), mergeable(a, c)); // true false
 * ```
 */
export function mergeable(a: Vma, b: Vma): boolean {
  if (a.end !== b.start || a.prot !== b.prot || a.shared !== b.shared || a.name !== b.name || a.file !== b.file || a.growsDownTo !== b.growsDownTo || a.accounted !== b.accounted) return false;
  return a.file === null || b.offset === a.fileOffset(a.end);
}

/**
 * The regions of one address space, sorted by address.
 * @example
 * ```ts
 * import { PROT_READ, Vma, VmaList } from "vmheap";
 *
 * const list = new VmaList();
 * list.insert(new Vma(0x1000, 0x2000, PROT_READ, false, null, 0, null));
 * list.insert(new Vma(0x2000, 0x4000, PROT_READ, false, null, 0, null));
 * list.mergeAround(0x1000, 0x4000);
 * console.log(list.count, list.totalBytes(), list.find(0x3fff)?.start.toString(16)); // 1 12288 1000
 * // munmap's work: cut [0x2000, 0x3000) out of the middle
 * list.remove(0x2000, 0x3000);
 * console.log(list.list.map((v) => `${v.start.toString(16)}-${v.end.toString(16)}`)); // [ '1000-2000', '3000-4000' ]
 * ```
 */
export class VmaList {
  /** The regions, lowest first. Read-only for callers. */
  readonly list: Vma[];

  constructor(list: Vma[] = []) {
    this.list = list;
  }

  /** Number of regions. */
  get count(): number {
    return this.list.length;
  }

  /** Index of the first region whose end is above `va` (`list.length` when none). */
  indexAfter(va: number): number {
    const l = this.list;
    let lo = 0;
    let hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid]!.end <= va) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The region holding `va`, or null (`find_vma` + a start check). */
  find(va: number): Vma | null {
    const v = this.list[this.indexAfter(va)];
    return v !== undefined && v.start <= va ? v : null;
  }

  /** Whether any region overlaps `[start, end)`. */
  overlaps(start: number, end: number): boolean {
    const v = this.list[this.indexAfter(start)];
    return v !== undefined && v.start < end;
  }

  /** The regions overlapping `[start, end)`, lowest first. */
  overlapping(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    for (let i = this.indexAfter(start); i < this.list.length && this.list[i]!.start < end; i++) out.push(this.list[i]!);
    return out;
  }

  /**
   * Splits regions so that `start` and `end` are region boundaries (a region straddling either
   * is cut in two). Afterwards every region overlapping `[start, end)` lies inside it.
   */
  splitAround(start: number, end: number): void {
    const l = this.list;
    let i = this.indexAfter(start);
    const a = l[i];
    if (a !== undefined && a.start < start && start < a.end) {
      l.splice(i + 1, 0, a.splitAt(start));
      i++;
    }
    const j = this.indexAfter(end);
    const b = l[j];
    if (b !== undefined && b.start < end && end < b.end) l.splice(j + 1, 0, b.splitAt(end));
  }

  /** Removes the parts of regions inside `[start, end)` (splitting those that straddle it). */
  remove(start: number, end: number): void {
    this.splitAround(start, end);
    const i = this.indexAfter(start);
    let j = i;
    while (j < this.list.length && this.list[j]!.start < end) j++;
    this.list.splice(i, j - i);
  }

  /** Inserts a region into a hole (the caller made sure nothing overlaps it). */
  insert(v: Vma): void {
    const i = this.indexAfter(v.start);
    const next = this.list[i];
    if (next !== undefined && next.start < v.end) throw new VmError(`VmaList.insert: [0x${v.start.toString(16)}, 0x${v.end.toString(16)}) overlaps a region`);
    this.list.splice(i, 0, v);
  }

  /** Merges mergeable neighbours among the regions touching `[start, end]`. */
  mergeAround(start: number, end: number): void {
    const l = this.list;
    let i = Math.max(0, this.indexAfter(start) - 1);
    while (i + 1 < l.length && l[i]!.start <= end) {
      const a = l[i]!;
      const b = l[i + 1]!;
      if (mergeable(a, b)) {
        a.end = b.end;
        l.splice(i + 1, 1);
      } else i++;
    }
  }

  /** Total bytes mapped. */
  totalBytes(): number {
    let n = 0;
    for (const v of this.list) n += v.end - v.start;
    return n;
  }

  /** A deep copy (for `fork`). */
  clone(): VmaList {
    return new VmaList(this.list.map((v) => v.clone()));
  }
}
