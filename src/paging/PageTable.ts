/**
 * A multi-level radix page table (x86's page directory → page table, or the four levels
 * PML4 → PDPT → PD → PT of x86-64), with any geometry: the virtual page number is cut into one
 * index per level, root first.
 *
 * ```text
 *   virtual address (addressBits = Σ levels + pageShift), here levels = [10, 10], 4 KiB pages
 *   31          22 21          12 11                   0
 *  ┌──────────────┬──────────────┬──────────────────────┐
 *  │ index L0     │ index L1     │ offset in page       │
 *  └──────┬───────┴──────┬───────┴──────────────────────┘
 *         │              │          vpn = va / pageSize (bits 31–12)
 *         ▼              ▼
 *   root table ──▶ leaf table ──▶ PTE (pte.ts): frame · flags
 * ```
 *
 * Every table lives in one `Uint32Array` store (`words`), one header word before each table:
 *
 * ```text
 *   words  ┌──────┬─────────────────────────┬──────┬──────────────────┬─ …
 *          │ used │ root: 2^levels[0] words │ used │ a level-k table  │
 *          └──────┴─────────────────────────┴──────┴──────────────────┴─ …
 *            t−1    t = the table's id: the word index of its entry 0 (the root's id is 1)
 *
 *   used             number of non-zero entries in the table
 *   directory entry  id of the next-level table; 0 = none (0 is never an id)
 *   leaf entry       a PTE (pte.ts); 0 = none
 *   freed table      all entries 0; its header links the next free table of the same level
 * ```
 *
 * Invariants (checked by {@link PageTable.check}): every table but the root has `used > 0`
 * (a table whose last entry is cleared is freed at once and unlinked from its parent, as Linux's
 * `free_pgtables` does for an unmapped range); each table is reachable from exactly one
 * directory entry; `entryCount` is the number of non-zero leaf entries.
 */
import { ArgumentError, VmError, checkOptions, type OptionKeys } from "../errors.js";
import { DEFAULT_PAGE_SIZE, isValidPageSize } from "../memory/PhysicalMemory.js";

/** Largest virtual address width supported: 52 bits, so every address is an exact JS integer. */
export const MAX_ADDRESS_BITS = 52;
/** Most levels a page table may have. */
export const MAX_LEVELS = 8;
/** Most index bits one level may have (a table of 2^24 entries, 64 MiB). */
export const MAX_LEVEL_BITS = 24;

/** Options for {@link PageTable}. */
export interface PageTableOptions {
  /** Bytes per page, a power of two from 16 to 2^30. @defaultValue 4096 */
  pageSize?: number;
  /**
   * Index bits per level, root first: `[10, 10]` is 32-bit x86 with 4 KiB pages, `[9, 9, 9, 9]`
   * is x86-64, `[4, 4]` a 16-bit textbook machine with 256-byte pages.
   * @defaultValue derived from `addressBits`: the fewest levels whose tables of 4-byte entries
   *   fit in a page, the bits spread evenly (extra bits at the root) — 2 levels for 32-bit and
   *   4 levels for 48-bit addresses with 4 KiB pages
   */
  levels?: readonly number[];
  /**
   * Virtual address width in bits. Given with `levels`, it must equal `Σ levels + log2(pageSize)`.
   * @defaultValue 32 (or `Σ levels + log2(pageSize)` when `levels` is given)
   */
  addressBits?: number;
}

/** The keys of {@link PageTableOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<PageTableOptions> = { pageSize: 1, levels: 1, addressBits: 1 };

/** One step of a {@link PageTable.walk}: which entry of which table was read. */
export interface WalkStep {
  /** 0 for the root, `levels.length − 1` for the leaf level. */
  readonly level: number;
  /** The index into this level's table taken from the virtual address. */
  readonly index: number;
  /** The table's id (its word index in the store; what the parent's entry holds). */
  readonly table: number;
  /** Byte address of the table in the page-table store (`table · 4`), like CR3 or a PDE's address. */
  readonly tableAddress: number;
  /** Byte address of the entry read: `tableAddress + index · 4`. */
  readonly entryAddress: number;
  /** The entry: at a directory level the next table's id (0 = none), at the leaf the PTE. */
  readonly entry: number;
  /** Whether this is the leaf level (the entry is a PTE). */
  readonly leaf: boolean;
}

/**
 * The index bits per level that {@link PageTableOptions.levels} defaults to.
 * @example
 * ```ts
 * import { defaultLevels } from "vmheap";
 *
 * console.log(defaultLevels(32, 4096), defaultLevels(48, 4096), defaultLevels(16, 256)); // [ 10, 10 ] [ 9, 9, 9, 9 ] [ 4, 4 ]
 * ```
 */
export function defaultLevels(addressBits: number, pageSize: number): number[] {
  const pageShift = Math.log2(pageSize);
  const vpnBits = addressBits - pageShift;
  if (vpnBits < 1) throw new ArgumentError(`PageTable: ${addressBits}-bit addresses leave no page-number bits with ${pageSize}-byte pages`);
  // A table of 4-byte entries fits one page: pageShift − 2 index bits per level.
  const perTable = Math.max(1, pageShift - 2);
  const n = Math.min(MAX_LEVELS, Math.ceil(vpnBits / perTable));
  const base = Math.floor(vpnBits / n);
  const extra = vpnBits - base * n;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(base + (i < extra ? 1 : 0));
  return out;
}

/**
 * A radix page table mapping virtual page numbers (vpn = va / pageSize) to 32-bit PTEs (see
 * `pte.ts`). Tables are allocated on the first {@link set} below them and freed when their
 * last entry is cleared. No object per entry: every table is a slice of one `Uint32Array`.
 *
 * Addresses are byte addresses (`va`), page numbers are `vpn`; both are plain integers below
 * 2^addressBits and 2^(addressBits − pageShift).
 * @example
 * ```ts
 * import { PageTable, pte } from "vmheap";
 *
 * // 32-bit x86: two levels of 10 bits, 4 KiB pages
 * const pt = new PageTable({ pageSize: 4096, addressBits: 32 });
 * console.log(pt.levels, pt.pageCount); // [ 10, 10 ] 1048576
 * pt.set(0x0804_8000, pte.makePte(5, pte.USER | pte.EXEC));
 * console.log(pte.describePte(pt.get(0x0804_8123)), pt.entryCount, pt.tablePages); // frame 0x5 P - U X - - - - 1 2
 * // the walk: the root's entry 32 holds the leaf table's id, the leaf's entry 72 the PTE
 * console.log(pt.walk(0x0804_8123).map((s) => `level ${s.level} index ${s.index}: ${s.leaf ? pte.describePte(s.entry) : `table ${s.entry}`}`).join("\n"));
 * // level 0 index 32: table 1026
 * // level 1 index 72: frame 0x5 P - U X - - - -
 *
 * // clearing the last entry frees the leaf table
 * pt.clear(0x0804_8000);
 * console.log(pt.entryCount, pt.tablePages); // 0 1
 * ```
 */
export class PageTable {
  /** Bytes per page. */
  readonly pageSize: number;
  /** log2(pageSize). */
  readonly pageShift: number;
  /** Index bits per level, root first. */
  readonly levels: readonly number[];
  /** Virtual address width in bits. */
  readonly addressBits: number;
  /** Number of virtual pages: 2^(addressBits − pageShift). Valid vpns are `[0, pageCount)`. */
  readonly pageCount: number;
  /** First byte past the address space: 2^addressBits. */
  readonly addressLimit: number;
  /** Id of the root table (what CR3 would point to). */
  readonly root: number;

  private readonly leafLevel: number;
  /** Entries per table, per level. */
  private readonly sizes: Int32Array;
  /** vpns covered by one entry, per level (2^(bits of the levels below)). */
  private readonly spans: Float64Array;
  private _words: Uint32Array;
  /** Next unused word of the store. */
  private top: number;
  /** Head of the free-table list, per level (0 = empty). */
  private readonly freeHeads: Int32Array;
  private _tablePages: number;
  private tableWords: number;
  private _entryCount: number;
  /** Depth of forEach calls in progress: while > 0, emptied tables are freed afterwards. */
  private iterating: number;
  private prunePending: boolean;
  /** Scratch for {@link clear}: the table and index taken at each level. */
  private readonly pathTables: Int32Array;
  private readonly pathIndex: Int32Array;

  constructor(opts: PageTableOptions = {}) {
    checkOptions(opts, "PageTable", OPTION_KEYS);
    const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!isValidPageSize(pageSize)) throw new ArgumentError(`PageTable: pageSize must be a power of two from 16 to 2^30, got ${String(pageSize)}`);
    const pageShift = Math.log2(pageSize);
    let levels: number[];
    if (opts.levels !== undefined) {
      levels = [...opts.levels];
      if (levels.length < 1 || levels.length > MAX_LEVELS) throw new ArgumentError(`PageTable: levels must have 1 to ${MAX_LEVELS} entries, got ${levels.length}`);
      for (const b of levels) {
        if (!Number.isInteger(b) || b < 1 || b > MAX_LEVEL_BITS) throw new ArgumentError(`PageTable: each level must have 1 to ${MAX_LEVEL_BITS} index bits, got ${String(b)}`);
      }
    } else {
      const ab = opts.addressBits ?? 32;
      if (!Number.isInteger(ab) || ab > MAX_ADDRESS_BITS) throw new ArgumentError(`PageTable: addressBits must be an integer up to ${MAX_ADDRESS_BITS}, got ${String(ab)}`);
      levels = defaultLevels(ab, pageSize);
    }
    const vpnBits = levels.reduce((a, b) => a + b, 0);
    const addressBits = vpnBits + pageShift;
    if (addressBits > MAX_ADDRESS_BITS) throw new ArgumentError(`PageTable: ${addressBits}-bit addresses exceed the ${MAX_ADDRESS_BITS} bits a JS number holds exactly`);
    if (opts.addressBits !== undefined && opts.addressBits !== addressBits) {
      throw new ArgumentError(`PageTable: levels [${levels.join(", ")}] with ${pageSize}-byte pages give ${addressBits}-bit addresses, not ${opts.addressBits}`);
    }
    this.pageSize = pageSize;
    this.pageShift = pageShift;
    this.levels = Object.freeze(levels);
    this.addressBits = addressBits;
    this.pageCount = 2 ** vpnBits;
    this.addressLimit = 2 ** addressBits;
    const n = levels.length;
    this.leafLevel = n - 1;
    this.sizes = new Int32Array(n);
    this.spans = new Float64Array(n);
    let below = 0;
    for (let l = n - 1; l >= 0; l--) {
      this.sizes[l] = 2 ** levels[l]!;
      this.spans[l] = 2 ** below;
      below += levels[l]!;
    }
    this._words = new Uint32Array(Math.max(1024, 2 * (1 + this.sizes[0]!)));
    this.top = 0;
    this.freeHeads = new Int32Array(n);
    this._tablePages = 0;
    this.tableWords = 0;
    this._entryCount = 0;
    this.iterating = 0;
    this.prunePending = false;
    this.pathTables = new Int32Array(n);
    this.pathIndex = new Int32Array(n);
    this.root = this.allocTable(0);
  }

  /**
   * The store holding every table (see the diagram above). For the MMU's walk: read it fresh
   * each time, it is replaced when the store grows. Write only through {@link set} /
   * {@link clear}, except to change the flags of a non-zero leaf entry in place.
   */
  get words(): Uint32Array {
    return this._words;
  }

  /** Number of page-table pages (tables) allocated, the root included. */
  get tablePages(): number {
    return this._tablePages;
  }

  /** Bytes the allocated tables take (4 bytes per entry). */
  get tableBytes(): number {
    return this.tableWords * 4;
  }

  /** Number of non-zero leaf entries (present or swapped pages). */
  get entryCount(): number {
    return this._entryCount;
  }

  /** The virtual page number of `va`. */
  vpnOf(va: number): number {
    return Math.floor(va / this.pageSize);
  }

  /** The PTE of virtual page `vpn`, or 0 when there is none. */
  lookup(vpn: number): number {
    this.checkVpn(vpn);
    const slot = this.leafSlot(vpn);
    return slot < 0 ? 0 : this._words[slot]!;
  }

  /** The PTE of the page holding byte address `va`, or 0 when there is none. */
  get(va: number): number {
    return this.lookup(this.vpnFromVa(va));
  }

  /**
   * Sets the PTE of the page holding `va`, allocating the tables on the way. Setting 0 is
   * {@link clear}. The caller keeps the TLB coherent (`Mmu.invalidate`) when it changes or
   * removes an entry that may be cached.
   * @param pte - a 32-bit PTE (see `pte.ts`)
   */
  set(va: number, pte: number): void {
    this.setVpn(this.vpnFromVa(va), pte);
  }

  /** {@link set} by virtual page number. */
  setVpn(vpn: number, pte: number): void {
    this.checkVpn(vpn);
    if (!Number.isInteger(pte) || pte < 0 || pte > 0xffff_ffff) throw new ArgumentError(`PageTable: a PTE is a 32-bit unsigned integer, got ${String(pte)}`);
    if (pte === 0) {
      this.clearVpn(vpn);
      return;
    }
    let t = this.root;
    for (let level = 0; level < this.leafLevel; level++) {
      const i = this.indexAt(vpn, level);
      let child = this._words[t + i]!;
      if (child === 0) {
        child = this.allocTable(level + 1); // may replace this._words
        this._words[t + i] = child;
        this._words[t - 1]++;
      }
      t = child;
    }
    const slot = t + this.indexAt(vpn, this.leafLevel);
    const w = this._words;
    if (w[slot] === 0) {
      w[t - 1]++;
      this._entryCount++;
    }
    w[slot] = pte;
  }

  /**
   * Removes the PTE of the page holding `va`, and frees the tables left empty.
   * @returns the PTE that was there (0 when none)
   */
  clear(va: number): number {
    return this.clearVpn(this.vpnFromVa(va));
  }

  /** {@link clear} by virtual page number. */
  clearVpn(vpn: number): number {
    this.checkVpn(vpn);
    let t = this.root;
    const w = this._words;
    for (let level = 0; level < this.leafLevel; level++) {
      const i = this.indexAt(vpn, level);
      this.pathTables[level] = t;
      this.pathIndex[level] = i;
      t = w[t + i]!;
      if (t === 0) return 0;
    }
    const slot = t + this.indexAt(vpn, this.leafLevel);
    const old = w[slot]!;
    if (old === 0) return 0;
    w[slot] = 0;
    w[t - 1]--;
    this._entryCount--;
    if (this.iterating > 0) {
      this.prunePending = true;
      return old;
    }
    for (let level = this.leafLevel; level > 0 && w[t - 1] === 0; level--) {
      this.freeTable(t, level);
      const parent = this.pathTables[level - 1]!;
      w[parent + this.pathIndex[level - 1]!] = 0;
      w[parent - 1]--;
      t = parent;
    }
    return old;
  }

  /**
   * The word index in {@link words} of the leaf entry for `vpn`, or -1 when a table on the way
   * is missing. For the MMU: no checks, `vpn` must be valid. The index stays valid until an
   * entry on the path is cleared.
   */
  leafSlot(vpn: number): number {
    const w = this._words;
    let t = this.root;
    for (let level = 0; level < this.leafLevel; level++) {
      t = w[t + this.indexAt(vpn, level)]!;
      if (t === 0) return -1;
    }
    return t + this.indexAt(vpn, this.leafLevel);
  }

  /**
   * Calls `fn(va, pte)` for each non-zero leaf entry of a page overlapping `[start, end)`, in
   * address order, skipping absent subtrees (so a sparse 48-bit space costs what is mapped).
   * For `fork` (copy the entries) and `munmap` (drop them). `fn` may {@link set} or
   * {@link clear} entries; tables emptied meanwhile are freed when the outermost call returns.
   * Entries `fn` adds further on in the range may or may not be visited.
   */
  forEach(start: number, end: number, fn: (va: number, pte: number) => void): void {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > this.addressLimit) {
      throw new ArgumentError(`PageTable.forEach: need 0 ≤ start ≤ end ≤ 2^${this.addressBits}, got [${String(start)}, ${String(end)})`);
    }
    if (start === end) return;
    const lo = Math.floor(start / this.pageSize);
    const hi = Math.ceil(end / this.pageSize);
    this.iterating++;
    try {
      this.visit(this.root, 0, 0, lo, hi, fn);
    } finally {
      this.iterating--;
      if (this.iterating === 0 && this.prunePending) {
        this.prunePending = false;
        this.prune(this.root, 0);
      }
    }
  }

  /**
   * The walk the MMU does for `va`, step by step from the root: the table, the index taken from
   * the address, and the entry read. It stops at the first empty directory entry, or at the
   * leaf (whose entry is the PTE, possibly 0). For teaching and pictures; allocates.
   */
  walk(va: number): WalkStep[] {
    const vpn = this.vpnFromVa(va);
    const steps: WalkStep[] = [];
    let t = this.root;
    for (let level = 0; level <= this.leafLevel; level++) {
      const index = this.indexAt(vpn, level);
      const entry = this._words[t + index]!;
      steps.push({ level, index, table: t, tableAddress: t * 4, entryAddress: (t + index) * 4, entry, leaf: level === this.leafLevel });
      if (entry === 0 || level === this.leafLevel) break;
      t = entry;
    }
    return steps;
  }

  /**
   * Walks every table and checks the invariants drawn at the top of this file.
   * @throws VmError describing the first broken invariant
   */
  check(): void {
    const counts = { tables: 0, words: 0, leaves: 0 };
    this.checkTable(this.root, 0, counts);
    if (counts.tables !== this._tablePages) throw new VmError(`PageTable.check(): ${counts.tables} tables reachable, the counter says ${this._tablePages}`);
    if (counts.words !== this.tableWords) throw new VmError(`PageTable.check(): reachable tables hold ${counts.words} entries, the counter says ${this.tableWords}`);
    if (counts.leaves !== this._entryCount) throw new VmError(`PageTable.check(): ${counts.leaves} leaf entries, the counter says ${this._entryCount}`);
    for (let level = 0; level <= this.leafLevel; level++) {
      for (let t = this.freeHeads[level]!; t !== 0; t = this._words[t - 1]!) {
        for (let i = 0; i < this.sizes[level]!; i++) {
          if (this._words[t + i] !== 0) throw new VmError(`PageTable.check(): freed table ${t} holds ${this._words[t + i]} at index ${i}`);
        }
      }
    }
  }

  private checkTable(t: number, level: number, counts: { tables: number; words: number; leaves: number }): void {
    counts.tables++;
    counts.words += this.sizes[level]!;
    let used = 0;
    for (let i = 0; i < this.sizes[level]!; i++) {
      const e = this._words[t + i]!;
      if (e === 0) continue;
      used++;
      if (level === this.leafLevel) counts.leaves++;
      else {
        if (e >= this.top) throw new VmError(`PageTable.check(): table ${t} index ${i} points past the store (${e})`);
        this.checkTable(e, level + 1, counts);
      }
    }
    if (used !== this._words[t - 1]) throw new VmError(`PageTable.check(): table ${t} (level ${level}) has ${used} entries, its header says ${this._words[t - 1]}`);
    if (used === 0 && t !== this.root) throw new VmError(`PageTable.check(): table ${t} (level ${level}) is empty but not freed`);
  }

  private visit(t: number, level: number, base: number, lo: number, hi: number, fn: (va: number, pte: number) => void): void {
    const span = this.spans[level]!;
    const i0 = base >= lo ? 0 : Math.floor((lo - base) / span);
    const i1 = Math.min(this.sizes[level]!, Math.ceil((hi - base) / span));
    const leaf = level === this.leafLevel;
    for (let i = i0; i < i1; i++) {
      const e = this._words[t + i]!; // re-read: fn may grow the store
      if (e === 0) continue;
      if (leaf) fn((base + i) * this.pageSize, e);
      else this.visit(e, level + 1, base + i * span, lo, hi, fn);
    }
  }

  /** Frees every empty table below `t`; returns whether `t` itself is now empty. */
  private prune(t: number, level: number): boolean {
    if (level < this.leafLevel) {
      const w = this._words;
      for (let i = 0, n = this.sizes[level]!; i < n; i++) {
        const child = w[t + i]!;
        if (child !== 0 && this.prune(child, level + 1)) {
          this.freeTable(child, level + 1);
          w[t + i] = 0;
          w[t - 1]--;
        }
      }
    }
    return this._words[t - 1] === 0;
  }

  private indexAt(vpn: number, level: number): number {
    // The quotient may exceed 2^32 in wide address spaces; `&` keeps its low 32 bits, and the
    // index is among them.
    return Math.floor(vpn / this.spans[level]!) & (this.sizes[level]! - 1);
  }

  private allocTable(level: number): number {
    const size = this.sizes[level]!;
    let t = this.freeHeads[level]!;
    if (t !== 0) {
      this.freeHeads[level] = this._words[t - 1]!;
      this._words[t - 1] = 0;
    } else {
      const need = this.top + 1 + size;
      if (need > this._words.length) {
        const grown = new Uint32Array(Math.max(need, 2 * this._words.length));
        grown.set(this._words);
        this._words = grown;
      }
      t = this.top + 1;
      this.top = need;
    }
    this._tablePages++;
    this.tableWords += size;
    return t;
  }

  private freeTable(t: number, level: number): void {
    this._words[t - 1] = this.freeHeads[level]!;
    this.freeHeads[level] = t;
    this._tablePages--;
    this.tableWords -= this.sizes[level]!;
  }

  private vpnFromVa(va: number): number {
    if (!Number.isInteger(va) || va < 0 || va >= this.addressLimit) {
      throw new ArgumentError(`PageTable: address ${String(va)} is outside the ${this.addressBits}-bit address space`);
    }
    return Math.floor(va / this.pageSize);
  }

  private checkVpn(vpn: number): void {
    if (!Number.isInteger(vpn) || vpn < 0 || vpn >= this.pageCount) {
      throw new ArgumentError(`PageTable: page number ${String(vpn)} is outside [0, ${this.pageCount})`);
    }
  }
}
