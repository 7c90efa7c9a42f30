/**
 * The memory-management unit: turns virtual addresses into physical ones through a TLB and,
 * on a miss, a page walk; raises page faults; loads and stores through the translation.
 *
 * ```text
 *   va ─▶ vpn, offset ─▶ TLB hit? ──yes──▶ pa = frame · pageSize + offset      (fast path)
 *                          │ no (absent, or cached flags lack the access's bits)
 *                          ▼
 *                     page walk (PageTable) ─ PTE allows? ──yes──▶ set A (and D on a write),
 *                          │ no                                     fill the TLB, pa
 *                          ▼
 *                     onFault(va, access, pte, size) ── true ──▶ walk again   (demand paging, COW)
 *                          │ false / no handler
 *                          ▼
 *                     SegmentationFault (no PTE) · ProtectionFault (PTE forbids the access)
 * ```
 *
 * Byte order is little-endian (x86, wasm). Every access is a user-mode access: a PTE without
 * USER faults like one without PRESENT, but as a protection fault.
 */
import { AlignmentFault, ArgumentError, OutOfMemoryError, checkInstance, checkOptions, ProtectionFault, SegmentationFault, VmError, type Access, type OptionKeys } from "../errors.js";
import { PhysicalMemory } from "../memory/PhysicalMemory.js";
import { PageTable } from "./PageTable.js";
import { ACCESSED, DIRTY, EXEC, FRAME_SHIFT, PRESENT, USER, WRITABLE } from "./pte.js";
import { NEED_EXEC, NEED_READ, NEED_WRITE, Tlb, type TlbOptions } from "./Tlb.js";

/** What the MMU does with a misaligned multi-byte access. */
export type AlignmentPolicy = "ignore" | "fixup" | "trap";

/**
 * Called on a page fault, with the faulting byte address, the access, the PTE the walk found
 * (0 when none) and the access's size in bytes. It either repairs the page table (maps a
 * frame, copies a copy-on-write page, reads the page back from swap) and returns `true`, so
 * the MMU walks again, or throws the fault itself (`SegmentationFault`, `ProtectionFault`,
 * `OutOfMemoryError`). Returning `false` makes the MMU throw the default fault.
 *
 * The MMU re-walks the faulting page and refills its TLB entry itself; a handler that changes
 * *other* PTEs (evicting a victim page) must invalidate them ({@link Mmu.invalidate}).
 */
export type FaultHandler = (address: number, access: Access, pte: number, size: number) => boolean;

/** Options for {@link Mmu}. */
export interface MmuOptions {
  /** The RAM that frame numbers in PTEs refer to. */
  memory: PhysicalMemory;
  /**
   * The page table to walk. Its page size must be the memory's.
   * @defaultValue a fresh `PageTable` with the memory's page size and `addressBits`
   */
  pageTable?: PageTable;
  /** Address width when the MMU makes its own page table. @defaultValue 32 */
  addressBits?: number;
  /** The TLB, or options for a fresh one. @defaultValue 64 entries, 4-way, LRU */
  tlb?: Tlb | TlbOptions;
  /** Misaligned multi-byte accesses: see {@link Mmu.alignment}. @defaultValue "ignore" */
  alignment?: AlignmentPolicy;
  /** The page-fault handler. @defaultValue none: every fault throws */
  onFault?: FaultHandler | null;
  /**
   * Stamp each access in {@link Mmu.lastUse} (per frame), for exact LRU page replacement.
   * Costs one store per access. @defaultValue false
   */
  trackUse?: boolean;
}

/** The keys of {@link MmuOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<MmuOptions> = { memory: 1, pageTable: 1, addressBits: 1, tlb: 1, alignment: 1, onFault: 1, trackUse: 1 };

/**
 * Faults one access may take before the MMU gives up on its handler: enough for a swap-in,
 * then a copy-on-write, then a retry; a handler that keeps returning `true` without fixing
 * anything is a bug and gets a `VmError`.
 */
export const MAX_FAULT_RETRIES = 8;

// Access kinds, as indices (the hot path passes numbers, not strings).
const READ = 0;
const WRITE = 1;
const EXECUTE = 2;
const ACCESS_NAMES: readonly Access[] = ["read", "write", "exec"];
/** What the walk needs from the PTE per kind (DIRTY is the walk's to set, not to need). */
const WALK_NEEDS = [PRESENT | USER, PRESENT | USER | WRITABLE, PRESENT | USER | EXEC] as const;

const ALIGN_IGNORE = 0;
const ALIGN_FIXUP = 1;
const ALIGN_TRAP = 2;

/** Round trips before a two-page store gives up on keeping both pages resident. */
const MAX_PAIR_ROUNDS = 4;

/**
 * An MMU over one page table (one address space) and the machine's RAM.
 *
 * - {@link translate}: the translation, as the hardware does it.
 * - `read8/16/32/64`, `write8/16/32/64`: loads and stores of unsigned little-endian values
 *   (64-bit ones as `bigint`). An access that crosses a page boundary translates both pages
 *   and can fault on either; a store checks both pages before writing a byte, so a faulting
 *   store changes nothing.
 * - {@link readBytes} / {@link writeBytes}: byte ranges, page by page, like `memcpy`: a fault
 *   part-way leaves the bytes before it written.
 *
 * Counters: {@link hits} and {@link misses} (the TLB's), {@link walks}, {@link faults},
 * {@link alignmentFixups}.
 * @example
 * ```ts
 * import { Mmu, PhysicalMemory, pte } from "vmheap";
 *
 * const ram = new PhysicalMemory({ frames: 16 });
 * const mmu = new Mmu({ memory: ram });
 * // map page 0x10 (address 0x10000) to a fresh frame, read-write
 * const frame = ram.allocFrame(true);
 * mmu.pageTable.set(0x10000, pte.makePte(frame, pte.WRITABLE | pte.USER));
 * mmu.write32(0x10010, 0xcafe);
 * console.log(mmu.translate(0x10010, "read").toString(16), mmu.read32(0x10010).toString(16)); // 1010 cafe
 * console.log(mmu.hits, mmu.misses, mmu.walks, mmu.faults); // 2 1 1 0
 * // a page fault handler that maps any page on first touch (demand paging)
 * mmu.onFault = (va) => {
 *   mmu.pageTable.set(va, pte.makePte(ram.allocFrame(true), pte.WRITABLE | pte.USER));
 *   return true;
 * };
 * console.log(mmu.read8(0x20000), mmu.faults); // 0 1
 * try {
 *   new Mmu({ memory: ram }).read8(0x30000); // no handler, no mapping
 * } catch (e) {
 *   console.log((e as Error).message); // Segmentation fault: read at 0x30000 (no mapping)
 * }
 * ```
 */
export class Mmu {
  /** The RAM. */
  readonly memory: PhysicalMemory;
  /** The page table walked on a TLB miss. */
  readonly pageTable: PageTable;
  /** The TLB. */
  readonly tlb: Tlb;
  /** Bytes per page. */
  readonly pageSize: number;
  /**
   * Misaligned multi-byte accesses (address not a multiple of the size):
   * `"ignore"`: done as asked, like x86; `"fixup"`: done as single-byte accesses and counted in
   * {@link alignmentFixups}, like a kernel fixing up an alignment trap; `"trap"`: an
   * {@link AlignmentFault} (SIGBUS), before any translation.
   */
  readonly alignment: AlignmentPolicy;
  /** The page-fault handler; `null` makes every fault throw. May be replaced at any time. */
  onFault: FaultHandler | null;
  /**
   * With `trackUse`: per frame, the {@link useClock} value of the last access to it (0 = never).
   * `null` otherwise.
   */
  readonly lastUse: Float64Array | null;
  /** With `trackUse`: bumped on every access; the stamp written into {@link lastUse}. */
  useClock: number;
  /** Page walks done (TLB misses, and re-walks after a fault was handled). */
  walks: number;
  /** Page faults raised (walks that found no PTE allowing the access). */
  faults: number;
  /** Misaligned accesses carried out piecewise under the `"fixup"` policy. */
  alignmentFixups: number;
  /**
   * The page (its first address) a two-page store holds while it brings in the other page, or
   * −1. The fault handler must not evict it (see {@link AddressSpace}): else two pages competing
   * for one frame would push each other out for ever.
   */
  pinnedPage: number;

  private readonly inv: number;
  private readonly offMask: number;
  private readonly limit: number;
  private readonly align: number;
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  /** Bytes of a misaligned or page-crossing scalar, assembled here (no allocation). */
  private readonly scratch: Uint8Array;
  private readonly scratchDv: DataView;
  /** Other caches of this MMU's translations, told whenever TLB entries are dropped. */
  private readonly shootdowns: Array<(vpn: number) => void>;

  constructor(opts: MmuOptions) {
    checkOptions(opts, "Mmu", OPTION_KEYS);
    const memory = opts.memory;
    checkInstance(memory, PhysicalMemory, "Mmu: memory");
    const pageTable = opts.pageTable ?? new PageTable({ pageSize: memory.pageSize, addressBits: opts.addressBits ?? 32 });
    if (pageTable.pageSize !== memory.pageSize) {
      throw new ArgumentError(`Mmu: the page table's pages (${pageTable.pageSize} bytes) are not the memory's frames (${memory.pageSize} bytes)`);
    }
    const alignment = opts.alignment ?? "ignore";
    if (alignment !== "ignore" && alignment !== "fixup" && alignment !== "trap") {
      throw new ArgumentError(`Mmu: alignment must be "ignore", "fixup" or "trap", got ${String(alignment)}`);
    }
    this.memory = memory;
    this.pageTable = pageTable;
    this.tlb = opts.tlb instanceof Tlb ? opts.tlb : new Tlb(opts.tlb);
    this.pageSize = memory.pageSize;
    this.alignment = alignment;
    this.onFault = opts.onFault ?? null;
    this.lastUse = opts.trackUse === true ? new Float64Array(memory.totalFrames) : null;
    this.useClock = 0;
    this.walks = 0;
    this.faults = 0;
    this.alignmentFixups = 0;
    this.pinnedPage = -1;
    this.inv = 1 / memory.pageSize;
    this.offMask = memory.pageSize - 1;
    this.limit = pageTable.addressLimit;
    this.align = alignment === "ignore" ? ALIGN_IGNORE : alignment === "fixup" ? ALIGN_FIXUP : ALIGN_TRAP;
    this.u8 = memory.u8;
    this.dv = memory.dv;
    this.scratch = new Uint8Array(8);
    this.scratchDv = new DataView(this.scratch.buffer);
    this.shootdowns = [];
  }

  /**
   * Registers a cache of this MMU's translations (a process heap keeps one per access kind):
   * `listener(vpn)` is called whenever the TLB entry of page `vpn` is dropped, and with -1
   * when the whole TLB is flushed, like a TLB shootdown reaching another CPU.
   * @returns a function that unregisters the listener
   */
  onInvalidate(listener: (vpn: number) => void): () => void {
    this.shootdowns.push(listener);
    return () => {
      const i = this.shootdowns.indexOf(listener);
      if (i >= 0) this.shootdowns.splice(i, 1);
    };
  }

  /** TLB hits (translations served without a walk). */
  get hits(): number {
    return this.tlb.hits;
  }

  /** TLB misses (translations that needed a walk). */
  get misses(): number {
    return this.tlb.misses;
  }

  /** Zeroes every counter, the TLB's included. */
  resetCounters(): void {
    this.tlb.resetCounters();
    this.walks = 0;
    this.faults = 0;
    this.alignmentFixups = 0;
  }

  /**
   * The physical address of virtual address `va` for an access of this kind: TLB, then a
   * page walk, then the fault handler. Sets ACCESSED (and DIRTY for a write) in the PTE.
   * @throws SegmentationFault / ProtectionFault (or what the fault handler throws);
   *   ArgumentError when `va` is not an integer
   */
  translate(va: number, access: Access): number {
    if (access === "read") return this.tr(va, NEED_READ, READ, 1);
    if (access === "write") return this.tr(va, NEED_WRITE, WRITE, 1);
    if (access === "exec") return this.tr(va, NEED_EXEC, EXECUTE, 1);
    throw new ArgumentError(`Mmu.translate: access must be "read", "write" or "exec", got ${String(access)}`);
  }

  /** Drops the TLB entry of the page holding `va` (after its PTE changed). */
  invalidate(va: number): void {
    const vpn = Math.floor(va * this.inv);
    this.tlb.invalidate(vpn);
    for (const l of this.shootdowns) l(vpn);
  }

  /** Drops every TLB entry (after many PTEs changed). */
  flush(): void {
    this.tlb.flush();
    for (const l of this.shootdowns) l(-1);
  }

  /** Loads the byte at `va`. */
  read8(va: number): number {
    return this.u8[this.tr(va, NEED_READ, READ, 1)]!;
  }

  /** Loads the unsigned little-endian 16-bit value at `va`. */
  read16(va: number): number {
    if (typeof va !== "number" || (va & 1) !== 0) {
      this.loadSlow(va, 2);
      return this.scratchDv.getUint16(0, true);
    }
    return this.dv.getUint16(this.tr(va, NEED_READ, READ, 2), true);
  }

  /** Loads the unsigned little-endian 32-bit value at `va`. */
  read32(va: number): number {
    if (typeof va !== "number" || (va & 3) !== 0) {
      this.loadSlow(va, 4);
      return this.scratchDv.getUint32(0, true);
    }
    return this.dv.getUint32(this.tr(va, NEED_READ, READ, 4), true);
  }

  /** Loads the unsigned little-endian 64-bit value at `va`. */
  read64(va: number): bigint {
    if (typeof va !== "number" || (va & 7) !== 0) {
      this.loadSlow(va, 8);
      return this.scratchDv.getBigUint64(0, true);
    }
    return this.dv.getBigUint64(this.tr(va, NEED_READ, READ, 8), true);
  }

  /** Stores the low 8 bits of `v` at `va`. */
  write8(va: number, v: number): void {
    checkValue(v);
    this.u8[this.tr(va, NEED_WRITE, WRITE, 1)] = v;
  }

  /** Stores the low 16 bits of `v` at `va`, little-endian. */
  write16(va: number, v: number): void {
    checkValue(v);
    if (typeof va !== "number" || (va & 1) !== 0) {
      this.scratchDv.setUint16(0, v, true);
      this.storeSlow(va, 2);
      return;
    }
    this.dv.setUint16(this.tr(va, NEED_WRITE, WRITE, 2), v, true);
  }

  /** Stores the low 32 bits of `v` at `va`, little-endian. */
  write32(va: number, v: number): void {
    checkValue(v);
    if (typeof va !== "number" || (va & 3) !== 0) {
      this.scratchDv.setUint32(0, v, true);
      this.storeSlow(va, 4);
      return;
    }
    this.dv.setUint32(this.tr(va, NEED_WRITE, WRITE, 4), v, true);
  }

  /** Stores the low 64 bits of `v` at `va`, little-endian. */
  write64(va: number, v: bigint): void {
    if (typeof v !== "bigint") throw new ArgumentError(`Mmu.write64: value must be a bigint, got ${describe(v)}`);
    if (typeof va !== "number" || (va & 7) !== 0) {
      this.scratchDv.setBigUint64(0, v, true);
      this.storeSlow(va, 8);
      return;
    }
    this.dv.setBigUint64(this.tr(va, NEED_WRITE, WRITE, 8), v, true);
  }

  /**
   * Copies `length` bytes starting at `va` out of the address space (a fresh array), page by
   * page. Alignment policies do not apply to byte ranges.
   */
  readBytes(va: number, length: number): Uint8Array {
    checkAddress(va);
    checkLength(length, "readBytes");
    let out: Uint8Array;
    try {
      out = new Uint8Array(length);
    } catch {
      throw new ArgumentError(`Mmu.readBytes: cannot make an array of ${length} bytes to copy into`);
    }
    const u8 = this.u8;
    for (let done = 0; done < length; ) {
      const a = va + done;
      const n = Math.min(length - done, this.pageSize - (a & this.offMask));
      const pa = this.tr(a, NEED_READ, READ, length);
      out.set(u8.subarray(pa, pa + n), done);
      done += n;
    }
    return out;
  }

  /**
   * Copies `bytes` into the address space at `va`, page by page (a fault on a later page leaves
   * the earlier pages written, as `memcpy` would).
   */
  writeBytes(va: number, bytes: Uint8Array): void {
    checkAddress(va);
    checkInstance(bytes, Uint8Array, "Mmu.writeBytes: bytes");
    const length = bytes.length;
    const u8 = this.u8;
    for (let done = 0; done < length; ) {
      const a = va + done;
      const n = Math.min(length - done, this.pageSize - (a & this.offMask));
      const pa = this.tr(a, NEED_WRITE, WRITE, length);
      u8.set(bytes.subarray(done, done + n), pa);
      done += n;
    }
  }

  /**
   * The fast path: a TLB hit costs a tag compare and one masked compare of the cached flags.
   * Everything else (misses, faults, bad addresses) goes to {@link translateSlow}.
   */
  private tr(va: number, need: number, kind: number, size: number): number {
    if (typeof va === "number") {
      const vpn = Math.floor(va * this.inv);
      const off = va - vpn * this.pageSize;
      if ((off | 0) === off) {
        const f = this.tlb.find(vpn, need);
        if (f >= 0) {
          const lu = this.lastUse;
          if (lu !== null) lu[f] = ++this.useClock;
          return f * this.pageSize + off;
        }
      }
    }
    return this.translateSlow(va, kind, size);
  }

  /** The cold path: validate, walk, set A/D, fill the TLB; on a fault, ask the handler. */
  private translateSlow(va: number, kind: number, size: number): number {
    const access = ACCESS_NAMES[kind]!;
    checkAddress(va);
    if (va < 0 || va >= this.limit) throw new SegmentationFault(va, access, size);
    const pt = this.pageTable;
    const ps = this.pageSize;
    const vpn = Math.floor(va / ps);
    const off = va - vpn * ps;
    const need = WALK_NEEDS[kind]!;
    for (let attempt = 0; ; attempt++) {
      this.walks++;
      const slot = pt.leafSlot(vpn);
      const words = pt.words;
      const pte = slot < 0 ? 0 : words[slot]!;
      if ((pte & need) === need) {
        const updated = (pte | ACCESSED | (kind === WRITE ? DIRTY : 0)) >>> 0;
        if (updated !== pte) words[slot] = updated;
        const frame = updated >>> FRAME_SHIFT;
        if (frame >= this.memory.totalFrames) {
          throw new VmError(`Mmu: the PTE of 0x${va.toString(16)} names frame ${frame}, but RAM has frames 0 to ${this.memory.frames}`);
        }
        this.tlb.insert(vpn, frame, updated);
        const lu = this.lastUse;
        if (lu !== null) lu[frame] = ++this.useClock;
        return frame * ps + off;
      }
      this.faults++;
      const handler = this.onFault;
      if (handler === null || !handler(va, access, pte, size)) {
        throw (pte & PRESENT) === 0 ? new SegmentationFault(va, access, size) : new ProtectionFault(va, access, size);
      }
      if (attempt + 1 === MAX_FAULT_RETRIES) {
        throw new VmError(`Mmu: the fault handler returned true ${MAX_FAULT_RETRIES} times for a ${access} at 0x${va.toString(16)} without making it possible`);
      }
    }
  }

  /** Applies the alignment policy to a misaligned access. */
  private misaligned(va: number, size: number, kind: number): void {
    checkAddress(va);
    if (this.align === ALIGN_TRAP) throw new AlignmentFault(va, ACCESS_NAMES[kind]!, size);
  }

  /** A misaligned load (maybe crossing a page) into `scratch[0, size)`. */
  private loadSlow(va: number, size: number): void {
    this.misaligned(va, size, READ);
    const u8 = this.u8;
    const s = this.scratch;
    const n1 = Math.min(size, this.pageSize - (va & this.offMask));
    const pa1 = this.tr(va, NEED_READ, READ, size);
    for (let i = 0; i < n1; i++) s[i] = u8[pa1 + i]!;
    if (n1 < size) {
      const pa2 = this.tr(va + n1, NEED_READ, READ, size);
      for (let i = n1; i < size; i++) s[i] = u8[pa2 + i - n1]!;
    }
    if (this.align === ALIGN_FIXUP) this.alignmentFixups++; // fixed up (an access that faulted was not)
  }

  /**
   * A misaligned store (maybe crossing a page) of `scratch[0, size)`. Both pages are
   * translated for writing before any byte is stored, each held (pinned) while the other is
   * brought in; if the first was taken all the same (by another space's reclaim), both are
   * translated again.
   * @throws OutOfMemoryError when the two pages cannot be resident at once
   */
  private storeSlow(va: number, size: number): void {
    this.misaligned(va, size, WRITE);
    const u8 = this.u8;
    const s = this.scratch;
    const n1 = Math.min(size, this.pageSize - (va & this.offMask));
    let pa1 = this.tr(va, NEED_WRITE, WRITE, size);
    let pa2 = -1;
    if (n1 < size) {
      const page1 = va - (va & this.offMask);
      const page2 = page1 + this.pageSize;
      try {
        for (let round = 0; ; round++) {
          this.pinnedPage = page1;
          const before = this.faults;
          pa2 = this.tr(page2, NEED_WRITE, WRITE, size);
          if (this.faults === before) break;
          if (round === MAX_PAIR_ROUNDS) {
            throw new OutOfMemoryError(`Out of memory: the ${size}-byte store at 0x${va.toString(16)} needs its two pages resident at once`, va, "write");
          }
          this.pinnedPage = page2;
          pa1 = this.tr(va, NEED_WRITE, WRITE, size);
        }
      } finally {
        this.pinnedPage = -1;
      }
    }
    for (let i = 0; i < n1; i++) u8[pa1 + i] = s[i]!;
    for (let i = n1; i < size; i++) u8[pa2 + i - n1] = s[i]!;
    if (this.align === ALIGN_FIXUP) this.alignmentFixups++;
  }

}

/** How a bad argument reads in a message: strings quoted, bigints with their `n`. */
function describe(x: unknown): string {
  return typeof x === "string" ? JSON.stringify(x) : typeof x === "bigint" ? `${x}n` : String(x);
}

/** An address is an integer `number` (a string or a bigint is not, even when it would convert). */
function checkAddress(va: unknown): void {
  if (typeof va !== "number" || !Number.isInteger(va)) throw new ArgumentError(`Mmu: address must be an integer, got ${describe(va)}`);
}

/** A value to store is a `number` (its low bits are stored, as C converts to the access's width). */
function checkValue(v: unknown): void {
  if (typeof v !== "number") throw new ArgumentError(`Mmu: the value to store must be a number, got ${describe(v)}`);
}

function checkLength(length: number, op: string): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_BYTES) throw new ArgumentError(`Mmu.${op}: length must be an integer from 0 to 2^32 - 1, got ${describe(length)}`);
}

/** The longest byte range one call copies (a typed array's limit on 64-bit hosts). */
const MAX_BYTES = 2 ** 32 - 1;
