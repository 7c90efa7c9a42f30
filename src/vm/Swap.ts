/**
 * Swap space: a swap device (or file) of page-sized slots, with its slot allocator and the
 * per-slot reference counts Linux keeps in `swap_map`.
 *
 * ```text
 *   store   ┌────────┬────────┬────────┬─ … ─┬──────────┐   slots × pageSize bytes,
 *           │ slot 0 │ slot 1 │ slot 2 │     │ slot n−1 │   allocated on the first swap-out
 *           └────────┴────────┴────────┴─ … ─┴──────────┘   (the page size is learnt then)
 *   refs[s]   0: free · k ≥ 1: k swap PTEs name the slot (k > 1 after a fork)
 *   free[0 … freeTop)   stack of free slots: alloc pops, release pushes (O(1))
 * ```
 *
 * A swapped-out page's PTE holds its slot number (`pte.ts`, SWAPPED), so slot numbers stay
 * below 2^24.
 */
import { ArgumentError, VmError, checkOptions, type OptionKeys } from "../errors.js";
import { MAX_PTE_FRAME } from "../paging/pte.js";

/** Options for {@link SwapSpace}. */
export interface SwapSpaceOptions {
  /** Number of page-sized slots, 1 … 2^24. */
  slots: number;
  /**
   * Bytes per slot. @defaultValue the page size of the first address space that swaps to it;
   * every address space using one swap space must have that page size
   */
  pageSize?: number;
}

/** The keys of {@link SwapSpaceOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<SwapSpaceOptions> = { slots: 1, pageSize: 1 };

/**
 * A swap area shared by the address spaces given it (a parent and its forked children share
 * slots copy-on-write through {@link ref}). Reading or writing a slot is a plain copy; the
 * address space counts swap-ins and swap-outs.
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory, SwapSpace } from "vmheap";
 *
 * const swap = new SwapSpace({ slots: 4 });
 * // 3 frames of RAM for 5 pages: two of them must go to swap
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 3 }), swap, replacement: "fifo" });
 * const a = as.mmap(0, 5 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * for (let i = 0; i < 5; i++) as.write8(a + i * 4096, 10 + i);
 * console.log(swap.usedSlots, swap.freeSlots, swap.writes, swap.pageSize); // 2 2 2 4096
 * // page 0 went first (FIFO): reading it is a swap-in, and its byte is back
 * console.log(as.read8(a), swap.reads, as.status().majorFaults); // 10 1 1
 * ```
 */
export class SwapSpace {
  /** Number of slots. */
  readonly slots: number;
  /** Swap-outs written ({@link write} calls). */
  writes: number;
  /** Swap-ins read ({@link read} calls). */
  reads: number;

  private size: number;
  private store: Uint8Array | null;
  private readonly refs: Uint32Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;

  constructor(opts: SwapSpaceOptions) {
    checkOptions(opts, "SwapSpace", OPTION_KEYS);
    const slots = opts.slots;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_PTE_FRAME + 1) {
      throw new ArgumentError(`SwapSpace: slots must be an integer from 1 to ${MAX_PTE_FRAME + 1}, got ${String(slots)}`);
    }
    const ps = opts.pageSize;
    if (ps !== undefined && (!Number.isInteger(ps) || ps < 1)) throw new ArgumentError(`SwapSpace: pageSize must be a positive integer, got ${String(ps)}`);
    this.slots = slots;
    this.writes = 0;
    this.reads = 0;
    this.size = ps ?? 0;
    this.store = null;
    this.refs = new Uint32Array(slots);
    this.freeStack = new Int32Array(slots);
    let top = 0;
    for (let s = slots - 1; s >= 0; s--) this.freeStack[top++] = s;
    this.freeTop = top;
  }

  /** Bytes per slot (0 until the first address space binds it). */
  get pageSize(): number {
    return this.size;
  }

  /** Slots free. */
  get freeSlots(): number {
    return this.freeTop;
  }

  /** Slots in use. */
  get usedSlots(): number {
    return this.slots - this.freeTop;
  }

  /**
   * Fixes the slot size to `pageSize` (the first address space to use the swap does this).
   * @throws ArgumentError when the swap already has another page size
   */
  bind(pageSize: number): void {
    if (this.size === 0) this.size = pageSize;
    else if (this.size !== pageSize) throw new ArgumentError(`SwapSpace: slots are ${this.size} bytes, an address space with ${pageSize}-byte pages cannot use it`);
  }

  /** Takes a free slot with reference count 1; -1 when the swap is full. */
  alloc(): number {
    if (this.freeTop === 0) return -1;
    const s = this.freeStack[--this.freeTop]!;
    this.refs[s] = 1;
    return s;
  }

  /** One more swap PTE names slot `s` (fork). @returns the new count */
  ref(s: number): number {
    this.live(s, "ref");
    return ++this.refs[s]!;
  }

  /** One swap PTE fewer names slot `s`; at 0 the slot is free again. @returns the new count */
  unref(s: number): number {
    this.live(s, "unref");
    const r = --this.refs[s]!;
    if (r === 0) this.freeStack[this.freeTop++] = s;
    return r;
  }

  /** The reference count of slot `s` (0 = free). */
  refCount(s: number): number {
    this.check(s, "refCount");
    return this.refs[s]!;
  }

  /** Copies a page into slot `s` (a swap-out). */
  write(s: number, page: Uint8Array): void {
    this.live(s, "write");
    if (page.length !== this.size) throw new ArgumentError(`SwapSpace.write: a page is ${this.size} bytes, got ${page.length}`);
    this.bytes().set(page, s * this.size);
    this.writes++;
  }

  /** Copies slot `s` into `page` (a swap-in). */
  read(s: number, page: Uint8Array): void {
    this.live(s, "read");
    if (page.length !== this.size) throw new ArgumentError(`SwapSpace.read: a page is ${this.size} bytes, got ${page.length}`);
    page.set(this.bytes().subarray(s * this.size, (s + 1) * this.size));
    this.reads++;
  }

  private bytes(): Uint8Array {
    if (this.store === null) {
      if (this.size === 0) throw new VmError("SwapSpace: no page size yet (bind it first)");
      this.store = new Uint8Array(this.slots * this.size);
    }
    return this.store;
  }

  private check(s: number, op: string): void {
    if (!Number.isInteger(s) || s < 0 || s >= this.slots) throw new VmError(`SwapSpace.${op}: no slot ${String(s)} (the swap has ${this.slots})`);
  }

  private live(s: number, op: string): void {
    this.check(s, op);
    if (this.refs[s] === 0) throw new VmError(`SwapSpace.${op}: slot ${s} is free`);
  }
}
