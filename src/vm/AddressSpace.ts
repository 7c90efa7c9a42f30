/**
 * A process's virtual address space (Linux `struct mm_struct`): its regions (`Vma`), its page
 * table and MMU, and the page-fault handler that makes memory lazy, copy-on-write and
 * swappable.
 *
 * ```text
 *   mmap ──▶ VmaList (what is valid)          read/write ──▶ Mmu ──TLB/walk──▶ RAM
 *                                                               │ fault
 *                                                               ▼
 *   handleFault(va, access):  no VMA ─────────────▶ SegmentationFault
 *                             VMA forbids access ─▶ ProtectionFault
 *                             file page past EOF ─▶ BusError
 *                             PTE absent ─────────▶ anonymous: zero frame (read) / zeroed frame (write)   minor
 *                                                   file: page-cache frame (read from the file: major)
 *                             PTE swapped ────────▶ frame ◀─ swap slot                                 major
 *                             write to shared ────▶ copy the frame (COW)                                minor
 *
 *   frame needed: at maxResidentPages, or no free frame ─▶ evict a victim (fifo · lru · clock):
 *     anonymous / private copy (refcount 1) ─▶ swap slot, PTE = SWAPPED | slot
 *     file page (mapped once: cache + PTE)  ─▶ PTE cleared, written back to the file when
 *       dirty (a clean page is dropped as it is)
 *     private page shared by fork (refcount k) ─▶ one swap slot with k references; every
 *       sharer's PTE = SWAPPED | slot (the sharers are found at the same address in the other
 *       spaces over this RAM: there is no reverse map)
 *     file page mapped k times ─▶ every PTE cleared (found through the file's mappings in
 *       the spaces over this RAM), written back when dirty, frame freed
 *     shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS: a hidden file, `ShmemFile`) ─▶
 *       as a file page, but to a swap slot the file keeps (no swap: it stays); its next
 *       fault is a major one
 *   RAM full and nothing of this space can go ─▶ another live space over the same RAM evicts
 *     one of its pages (global reclaim); only then OutOfMemoryError
 *   swap-in with RAM and swap full: the page leaves its slot for a buffer so the victim can
 *     take the slot (an exchange); if even that fails, the page goes back to swap intact
 * ```
 *
 * LRU is exact: the MMU stamps every access (`trackUse`), and eviction takes the resident page
 * with the oldest stamp (a scan, O(resident · log resident) per eviction: a teaching model).
 *
 * Resident pages are kept in a `Map` from page number to 1, in the order they became
 * resident: the FIFO queue, and the clock's circle (second chance moves a page to the back).
 * Pages mapping the zero frame take no frame and are not resident (not in VmRSS).
 */
import {
  MADV_DONTNEED,
  MADV_FREE,
  MADV_NORMAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../constants.js";
import { Errno } from "../errno.js";
import { ArgumentError, BusError, OutOfMemoryError, checkInstance, checkOptions, ProtectionFault, SegmentationFault, VmError, type Access, type OptionKeys } from "../errors.js";
import { PINNED, PhysicalMemory } from "../memory/PhysicalMemory.js";
import { Mmu, type AlignmentPolicy } from "../paging/Mmu.js";
import { PageTable } from "../paging/PageTable.js";
import { ACCESSED, COW, DIRTY, EXEC, PRESENT, SWAPPED, USER, WRITABLE, makePte, makeSwapPte, pteFrame, pteSwapSlot } from "../paging/pte.js";
import type { TlbOptions } from "../paging/Tlb.js";
import { MemFile, ShmemFile, setCleaner } from "./MemFile.js";
import { SwapSpace } from "./Swap.js";
import { Vma, VmaList, mergeable } from "./Vma.js";

/** Page-replacement policy. */
export type ReplacementPolicy = "fifo" | "lru" | "clock";

/** Options for {@link AddressSpace}. */
export interface AddressSpaceOptions {
  /** The RAM (shared with forked children). */
  memory: PhysicalMemory;
  /** Where evicted anonymous pages go. @defaultValue none: only file pages can be reclaimed */
  swap?: SwapSpace;
  /** Which resident page is evicted. @defaultValue "clock" */
  replacement?: ReplacementPolicy;
  /**
   * Most pages resident at once (a memory cgroup limit); at least 1. When it is reached and
   * no resident page can go (no swap for it, or sharers that cannot all be found, or the other
   * half of a store that crosses a page), a free frame is taken anyway: the limit is soft.
   * @defaultValue no limit but RAM
   */
  maxResidentPages?: number;
  /**
   * Virtual address width. 48: user space ends one page below 2^47, as on x86-64; 32: it ends
   * at 0xffffe000, as for an i386 process on a 64-bit kernel. @defaultValue 48
   */
  addressBits?: 32 | 48;
  /** Misaligned multi-byte accesses. @defaultValue "ignore" */
  alignment?: AlignmentPolicy;
  /** TLB options. @defaultValue 64 entries, 4-way */
  tlb?: TlbOptions;
  /**
   * Lowest address `mmap` may use (`vm.mmap_min_addr`): page 0 stays unmapped so NULL faults.
   * @defaultValue one page
   */
  mmapMinAddr?: number;
  /** Where top-down `mmap` placement starts (the gap below the stack). @defaultValue user top − 128 MiB */
  mmapBase?: number;
  /** A listener for every {@link VmEvent} (same as calling {@link AddressSpace.on}). */
  onEvent?: VmEventListener;
  /**
   * Show x86-64's `[vsyscall]` page (`ffffffffff600000-ffffffffff601000 --xp`) at the end of
   * {@link AddressSpace.maps}, as every 64-bit Linux process has it. It lies above user space:
   * no region holds it, it is not in VmSize, and touching it faults (vsyscall=xonly).
   * @defaultValue false
   */
  vsyscall?: boolean;
  /**
   * Linux's `mm->start_stack`, the initial stack pointer: the region holding it is the
   * `[stack]` line of {@link AddressSpace.maps}; a part of the stack that a `MAP_FIXED`,
   * `munmap` or `mprotect` cut off from it is shown without a name, as Linux shows it.
   * @defaultValue none: a region labelled `[stack]` keeps its name
   */
  startStack?: number;
}

/** The keys of {@link AddressSpaceOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<AddressSpaceOptions> = { memory: 1, swap: 1, replacement: 1, maxResidentPages: 1, addressBits: 1, alignment: 1, tlb: 1, mmapMinAddr: 1, mmapBase: 1, onEvent: 1, vsyscall: 1, startStack: 1 };

/** What {@link AddressSpace.status} reports, like `/proc/self/status` and `getrusage`. */
export interface VmStatus {
  /** Bytes mapped (VmSize). */
  vmSize: number;
  /** Bytes resident in frames (VmRSS); the zero page is not counted. */
  vmRss: number;
  /** Bytes in swap (VmSwap). */
  vmSwap: number;
  /** Faults served without I/O: first touch, copy-on-write, a page found in the page cache. */
  minorFaults: number;
  /** Faults that read a page: from swap, or from a file. */
  majorFaults: number;
  /** Pages read back from swap. */
  swapIns: number;
  /** Pages written out to swap. */
  swapOuts: number;
  /** Misaligned accesses carried out piecewise (alignment `"fixup"`). */
  alignmentFixups: number;
}

/** An event for teaching tools: what the address space just did. */
export type VmEvent =
  /** A page fault the address space handled. */
  | {
      /** What happened. */
      type: "fault";
      /** `"minor"`: no I/O; `"major"`: the page was read from swap or from a file. */
      kind: "minor" | "major";
      /** How it was served: the zero page mapped, a zeroed frame, a file page, a copy-on-write copy, a swap-in. */
      cause: "zero-page" | "anonymous" | "file" | "cow" | "swap-in";
      /** The faulting address. */
      address: number;
      /** The access that faulted. */
      access: Access;
    }
  /** A resident page was evicted to free its frame. */
  | {
      /** What happened. */
      type: "evict";
      /** The page's first address. */
      address: number;
      /** The frame it gave up. */
      frame: number;
      /** Where its contents went: a swap slot, back to its file, or nowhere (clean or lazily freed). */
      to: "swap" | "file" | "discard";
      /** The swap slot with `to: "swap"`, else -1. */
      slot: number;
    }
  /** A page was read back from swap. */
  | {
      /** What happened. */
      type: "swap-in";
      /** The page's first address. */
      address: number;
      /** The frame it now has. */
      frame: number;
      /** The swap slot it came from. */
      slot: number;
    }
  /** A successful `mmap`. */
  | {
      /** What happened. */
      type: "mmap";
      /** The mapping's address. */
      address: number;
      /** Its length in bytes. */
      length: number;
      /** Its `PROT_*` bits. */
      prot: number;
      /** Its `MAP_*` flags. */
      flags: number;
    }
  /** A successful `munmap`. */
  | {
      /** What happened. */
      type: "munmap";
      /** The range's first address. */
      address: number;
      /** Its length in bytes. */
      length: number;
    }
  /** A successful `mprotect`. */
  | {
      /** What happened. */
      type: "mprotect";
      /** The range's first address. */
      address: number;
      /** Its length in bytes. */
      length: number;
      /** The new `PROT_*` bits. */
      prot: number;
    }
  /** A successful `mremap`. */
  | {
      /** What happened. */
      type: "mremap";
      /** Where the mapping was. */
      oldAddress: number;
      /** Its old length in bytes. */
      oldLength: number;
      /** Where it is now (the same address when it grew or shrank in place). */
      address: number;
      /** Its new length in bytes. */
      length: number;
    };

/** Receives {@link VmEvent}s. */
export type VmEventListener = (event: VmEvent) => void;

const KNOWN_PROT = PROT_READ | PROT_WRITE | PROT_EXEC;

/**
 * Linux's `stack_guard_gap`, in pages: mmap places nothing closer than this below a stack
 * that grows down (`vm_start_gap`), so that the stack keeps room to grow.
 */
const STACK_GUARD_GAP_PAGES = 256;

/**
 * The open address spaces over each RAM, for global reclaim. A space stays until `close()`,
 * as a process holds its frames until it exits (frames of a space dropped without `close()`
 * are never freed either); the whole set goes with its RAM. Strong references: a `WeakRef`
 * made in a synchronous loop keeps its target alive until the loop yields, so a loop of
 * `fork(); close()` would pile up every child.
 */
const registry = new WeakMap<PhysicalMemory, Set<AddressSpace>>();

/**
 * After MemFile.sync() has written a file's pages back, its shared mappings over that memory
 * are clean again: their PTEs lose DIRTY (and their TLB entries go, so the next write sets it).
 * Installed by the first AddressSpace made, not at load time: a module-level call would keep
 * this module in every bundle that imports the package, the heap alone included.
 */
function cleanFile(file: MemFile, memory: PhysicalMemory): void {
  for (const s of registry.get(memory) ?? []) s.cleanFile(file);
}
const STACK_GAP = 2 ** 27;

/**
 * The first byte past user space (Linux's `TASK_SIZE`) of a space with `addressBits`-bit
 * addresses and `pageSize`-byte pages. x86-64 ends user space one page below 2^47
 * (`TASK_SIZE_MAX`); an i386 process on a 64-bit kernel ends it at `IA32_PAGE_OFFSET`,
 * 0xffffe000 (rounded down to a page). The stack of a process ends there; nothing can be
 * mapped or unmapped above it (test/fixtures/linux/task-top.txt and i386.txt).
 * @param addressBits - 32 or 48
 * @param pageSize - bytes per page
 * @returns 2^47 − pageSize, or 0xffffe000 rounded down to a page
 */
export function taskSizeOf(addressBits: 32 | 48, pageSize: number): number {
  return addressBits === 48 ? 2 ** 47 - pageSize : Math.floor(0xffffe000 / pageSize) * pageSize;
}

/**
 * A virtual address space over shared RAM: `mmap`, `munmap`, `mprotect`, loads and stores with
 * demand paging, copy-on-write `fork`, swapping, `/proc/self/maps` and counters.
 *
 * Accesses: a PROT_WRITE or PROT_EXEC mapping is also readable (x86 page tables cannot express
 * write-only); only PROT_NONE refuses reads. File pages past the end of the file read as zeros
 * (Linux raises SIGBUS there).
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory, SwapSpace } from "vmheap";
 *
 * const ram = new PhysicalMemory({ frames: 64 });
 * const as = new AddressSpace({ memory: ram, swap: new SwapSpace({ slots: 256 }), replacement: "lru" });
 * const a = as.mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * console.log(a.toString(16), as.status().vmSize, as.status().vmRss); // 7ffff7f00000 1048576 0
 * // the first write to a page takes a zeroed frame: a minor fault
 * as.write32(a, 42);
 * console.log(as.status().vmRss, as.status().minorFaults); // 4096 1
 * // fork: the child shares the frame until one of them writes (copy-on-write)
 * const child = as.fork();
 * child.write32(a, 7);
 * console.log(as.read32(a), child.read32(a), ram.usedFrames); // 42 7 3
 * console.log(as.maps()); // 7ffff7f00000-7ffff8000000 rw-p 00000000 00:00 0
 * ```
 */
export class AddressSpace {
  /** The RAM. */
  readonly memory: PhysicalMemory;
  /** The swap, or null. */
  readonly swap: SwapSpace | null;
  /** The page-replacement policy. */
  readonly replacement: ReplacementPolicy;
  /** The resident-page limit (Infinity when none). */
  readonly maxResidentPages: number;
  /** Virtual address width (32 or 48). */
  readonly addressBits: 32 | 48;
  /**
   * First byte past user space (Linux's `TASK_SIZE`): one page below 2^47 in a 48-bit space
   * (x86-64), 0xffffe000 rounded down to a page in a 32-bit one (i386 on a 64-bit kernel).
   */
  readonly taskSize: number;
  /** Lowest address `mmap` hands out. */
  readonly mmapMinAddr: number;
  /** Top of the region `mmap` fills top-down. */
  readonly mmapBase: number;
  /** Bytes per page. */
  readonly pageSize: number;
  /** Whether {@link maps} shows the `[vsyscall]` page (see {@link AddressSpaceOptions.vsyscall}). */
  readonly vsyscall: boolean;
  /** Linux's `mm->start_stack` (see {@link AddressSpaceOptions.startStack}), or NaN. */
  readonly startStack: number;
  /** The heap's start and the break, as the last {@link moveBreak} left them (`start_brk`, `brk`), or NaN. */
  private brkStart = Number.NaN;
  private brkEnd = Number.NaN;
  /** The MMU (and through it the page table and TLB). */
  readonly mmu: Mmu;
  /** The page table. */
  readonly pageTable: PageTable;
  /** `errno` of the last failing call. */
  errno: number;

  private readonly opts: AddressSpaceOptions;
  private vmas: VmaList;
  /** Resident pages (page number → 1), oldest first. */
  private readonly resident: Map<number, number>;
  /**
   * Pages given `MADV_FREE` (page numbers): dropped instead of swapped when reclaimed, unless
   * written since (their PTE is DIRTY again). An entry goes when its page leaves the frame.
   */
  private readonly lazy: Set<number>;
  private swapped: number;
  private minor: number;
  private major: number;
  private swapIns: number;
  private swapOuts: number;
  private readonly listeners: VmEventListener[];

  constructor(opts: AddressSpaceOptions) {
    checkOptions(opts, "AddressSpace", OPTION_KEYS);
    const memory = opts.memory;
    checkInstance(memory, PhysicalMemory, "AddressSpace: memory");
    setCleaner(cleanFile);
    const addressBits = opts.addressBits ?? 48;
    if (addressBits !== 32 && addressBits !== 48) throw new ArgumentError(`AddressSpace: addressBits must be 32 or 48, got ${String(addressBits)}`);
    const replacement = opts.replacement ?? "clock";
    if (replacement !== "fifo" && replacement !== "lru" && replacement !== "clock") {
      throw new ArgumentError(`AddressSpace: replacement must be "fifo", "lru" or "clock", got ${String(replacement)}`);
    }
    const max = opts.maxResidentPages ?? Infinity;
    if (max !== Infinity && (!Number.isInteger(max) || max < 1)) throw new ArgumentError(`AddressSpace: maxResidentPages must be an integer ≥ 1, got ${String(max)}`);
    const ps = memory.pageSize;
    this.memory = memory;
    if (opts.swap != null) checkInstance(opts.swap, SwapSpace, "AddressSpace: swap");
    this.swap = opts.swap ?? null;
    this.swap?.bind(ps);
    this.replacement = replacement;
    this.maxResidentPages = max;
    this.addressBits = addressBits;
    this.taskSize = taskSizeOf(addressBits, ps);
    this.pageSize = ps;
    const minAddr = opts.mmapMinAddr ?? ps;
    if (!Number.isInteger(minAddr) || minAddr < 0 || minAddr % ps !== 0 || minAddr >= this.taskSize) {
      throw new ArgumentError(`AddressSpace: mmapMinAddr must be a page-aligned address below 0x${this.taskSize.toString(16)}, got ${String(minAddr)}`);
    }
    this.mmapMinAddr = minAddr;
    // Without a stack to leave room for, the default base is the gap below 2^addressBits.
    const top = 2 ** (addressBits === 48 ? 47 : 32);
    const base = opts.mmapBase ?? Math.max(minAddr, Math.floor((top - Math.min(STACK_GAP, top / 8)) / ps) * ps);
    if (!Number.isInteger(base) || base % ps !== 0 || base < minAddr || base > this.taskSize) {
      throw new ArgumentError(`AddressSpace: mmapBase must be page-aligned, in [mmapMinAddr, 0x${this.taskSize.toString(16)}], got ${String(base)}`);
    }
    this.mmapBase = base;
    if (opts.vsyscall !== undefined && typeof opts.vsyscall !== "boolean") throw new ArgumentError(`AddressSpace: vsyscall must be a boolean, got ${String(opts.vsyscall)}`);
    if (opts.vsyscall === true && addressBits !== 48) throw new ArgumentError("AddressSpace: the vsyscall page exists only in 48-bit (x86-64) address spaces");
    this.vsyscall = opts.vsyscall ?? false;
    const startStack = opts.startStack ?? Number.NaN;
    if (opts.startStack !== undefined && (!isUint(startStack) || startStack >= this.taskSize)) {
      throw new ArgumentError(`AddressSpace: startStack must be an address in user space, got ${String(opts.startStack)}`);
    }
    this.startStack = startStack;
    this.pageTable = new PageTable({ pageSize: ps, addressBits });
    this.mmu = new Mmu({
      memory,
      pageTable: this.pageTable,
      alignment: opts.alignment ?? "ignore",
      trackUse: replacement === "lru",
      ...(opts.tlb !== undefined ? { tlb: opts.tlb } : {}),
      onFault: (va, access, pte, size) => this.handleFault(va, access, pte, size),
    });
    // Loads and stores go straight to the MMU: bound here, a call through the address space
    // costs nothing over calling the MMU (the prototype methods below document them).
    const mmu = this.mmu;
    this.read32 = mmu.read32.bind(mmu);
    this.write32 = mmu.write32.bind(mmu);
    this.read8 = mmu.read8.bind(mmu);
    this.write8 = mmu.write8.bind(mmu);
    this.errno = 0;
    this.opts = opts;
    this.vmas = new VmaList();
    this.resident = new Map();
    this.lazy = new Set();
    this.swapped = 0;
    this.minor = 0;
    this.major = 0;
    this.swapIns = 0;
    this.swapOuts = 0;
    this.listeners = opts.onEvent !== undefined ? [opts.onEvent] : [];
    let spaces = registry.get(memory);
    if (spaces === undefined) registry.set(memory, (spaces = new Set()));
    spaces.add(this);
  }

  // ───────────────────────────── events and introspection ─────────────────────────────

  /**
   * Subscribes to {@link VmEvent}s. @returns a function that unsubscribes
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * const seen: string[] = [];
   * const off = as.on((e) => seen.push(e.type === "fault" ? `${e.kind} fault (${e.cause}) at ${e.address.toString(16)}` : e.type));
   * const a = as.mmap(0x40000, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * as.read8(a); // maps the zero page
   * as.write8(a, 1); // copies it into a frame of its own
   * off();
   * as.write8(a + 4096, 1); // not seen: unsubscribed
   * console.log(seen.join("\n"));
   * // mmap
   * // minor fault (zero-page) at 40000
   * // minor fault (cow) at 40000
   * ```
   */
  on(listener: VmEventListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The regions, lowest first (copies). */
  regions(): Vma[] {
    return this.vmas.list.map((v) => v.clone());
  }

  /** The region holding `va` (a copy), or null. */
  regionAt(va: number): Vma | null {
    const v = this.vmas.find(va);
    return v === null ? null : v.clone();
  }

  /** Number of resident pages (frames this space maps, the zero page excluded). */
  get residentPages(): number {
    return this.resident.size;
  }

  /**
   * Counters, like `/proc/self/status` (sizes in bytes) and `getrusage` (faults).
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory, SwapSpace } from "vmheap";
   *
   * // room for 2 resident pages: touching 4 pushes 2 out to swap
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }), swap: new SwapSpace({ slots: 8 }), maxResidentPages: 2 });
   * const a = as.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * for (let i = 0; i < 4; i++) as.write8(a + i * 4096, i + 1);
   * console.log(as.status());
   * // {
   * //   vmSize: 16384,
   * //   vmRss: 8192,
   * //   vmSwap: 8192,
   * //   minorFaults: 4,
   * //   majorFaults: 0,
   * //   swapIns: 0,
   * //   swapOuts: 2,
   * //   alignmentFixups: 0
   * // }
   *
   * // reading page 0 brings it back: a major fault
   * console.log(as.read8(a), as.status().majorFaults, as.status().swapIns); // 1 1 1
   * ```
   */
  status(): VmStatus {
    const ps = this.pageSize;
    return {
      vmSize: this.vmas.totalBytes(),
      vmRss: this.resident.size * ps,
      vmSwap: this.swapped * ps,
      minorFaults: this.minor,
      majorFaults: this.major,
      swapIns: this.swapIns,
      swapOuts: this.swapOuts,
      alignmentFixups: this.mmu.alignmentFixups,
    };
  }

  /**
   * The name column of region `v`'s line in {@link maps}, as Linux's `show_map_vma` gives it: a
   * file's name; for private anonymous memory its label (`[heap]` for the heap, also for a
   * mapping made inside the heap's pages), but `[stack]` by position: the region holding
   * {@link startStack}, not a part of the stack cut off from it.
   * @param v - a region of this space (from {@link regions})
   */
  regionName(v: Vma): string {
    if (v.file !== null) return v.displayName();
    const n = v.name ?? "";
    if ((n === "" || n === "[stack]") && !Number.isNaN(this.startStack)) {
      if (v.start <= this.startStack && v.end >= this.startStack) return "[stack]";
      return n === "[stack]" ? "" : n;
    }
    return n;
  }

  /**
   * The text of `/proc/self/maps`: one line per region, lowest first, each ending in `\n`:
   * `start-end perms offset dev inode ` (`00:00 0` for anonymous memory, the file's
   * {@link MemFile.device} and {@link MemFile.inode} for a file mapping) then, for a named
   * region, spaces up to column 73 and the name; last, with {@link vsyscall}, the
   * `[vsyscall]` line.
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MemFile, PROT_EXEC, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * as.mmap(0, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE, new MemFile(new Uint8Array(8192), "/usr/bin/demo"), 0);
   * as.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * as.mmap(0, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
   * console.log(as.maps());
   * // 7ffff7ffc000-7ffff7ffd000 r--s 00000000 00:01 1025                       /dev/zero (deleted)
   * // 7ffff7ffd000-7ffff7ffe000 rw-p 00000000 00:00 0
   * // 7ffff7ffe000-7ffff8000000 r-xp 00000000 fe:00 604572                     /usr/bin/demo
   * ```
   */
  maps(): string {
    let out = "";
    for (const v of this.vmas.list) {
      const f = v.file;
      const where = f === null ? "00:00 0" : `${f.device} ${f.inode}`;
      // Shared anonymous memory is a shmem file too: a region cut from its middle shows its offset.
      let line = `${hex8(v.start)}-${hex8(v.end)} ${v.perms()} ${hex8(f !== null ? v.offset : 0)} ${where} `;
      const name = this.regionName(v);
      if (name !== "") line = line.padEnd(73, " ") + name;
      out += line + "\n";
    }
    // x86-64's vsyscall page: above user space, in no region (not in VmSize), execute-only.
    if (this.vsyscall) out += "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 ".padEnd(73, " ") + "[vsyscall]\n";
    return out;
  }

  /**
   * Checks the invariants of this space: regions sorted, page-aligned, disjoint and not
   * mergeable with a neighbour; every PTE inside a region; a PTE never both present and
   * swapped, COW never with WRITABLE, WRITABLE on a private page only when its frame is this
   * page's alone; the resident set and the swap count match the page table. Then the page
   * table's own check.
   * @throws VmError describing the first broken invariant
   */
  check(): void {
    const ps = this.pageSize;
    const bad = (what: string): never => {
      throw new VmError(`AddressSpace.check(): ${what}`);
    };
    const list = this.vmas.list;
    for (let i = 0; i < list.length; i++) {
      const v = list[i]!;
      if (v.start % ps !== 0 || v.end % ps !== 0 || v.start >= v.end) bad(`region [0x${v.start.toString(16)}, 0x${v.end.toString(16)}) is empty or unaligned`);
      const next = list[i + 1];
      if (next !== undefined && next.start < v.end) bad(`regions at 0x${v.start.toString(16)} and 0x${next.start.toString(16)} overlap`);
      if (next !== undefined && mergeable(v, next)) bad(`regions at 0x${v.start.toString(16)} and 0x${next.start.toString(16)} should have merged`);
    }
    let present = 0;
    let swapped = 0;
    const mem = this.memory;
    this.pageTable.forEach(0, this.pageTable.addressLimit, (va, pte) => {
      const v = this.vmas.find(va);
      if (v === null) bad(`PTE at 0x${va.toString(16)} outside every region`);
      if ((pte & PRESENT) !== 0) {
        if ((pte & SWAPPED) !== 0) bad(`PTE at 0x${va.toString(16)} is both present and swapped`);
        if ((pte & COW) !== 0 && (pte & WRITABLE) !== 0) bad(`PTE at 0x${va.toString(16)} is COW and writable`);
        const f = pteFrame(pte);
        if ((pte & WRITABLE) !== 0 && !v!.shared && (f === mem.zeroFrame || mem.refCount(f) !== 1)) bad(`private page at 0x${va.toString(16)} is writable but its frame is shared`);
        if (f !== mem.zeroFrame) {
          present++;
          if (!this.resident.has(va / ps)) bad(`page at 0x${va.toString(16)} has a frame but is not in the resident set`);
        }
      } else if ((pte & SWAPPED) !== 0) swapped++;
    });
    if (present !== this.resident.size) bad(`${present} pages have frames, the resident set holds ${this.resident.size}`);
    if (swapped !== this.swapped) bad(`${swapped} pages are in swap, the counter says ${this.swapped}`);
    this.pageTable.check();
  }

  // ───────────────────────────────── mmap family ─────────────────────────────────

  /**
   * Maps `length` bytes (rounded up to pages) — Linux `mmap(2)`.
   * @param addr - a hint, or with `MAP_FIXED` / `MAP_FIXED_NOREPLACE` the exact page-aligned address
   * @param prot - `PROT_*` bits
   * @param flags - exactly one of `MAP_SHARED` / `MAP_PRIVATE`, plus `MAP_ANONYMOUS`, `MAP_FIXED`, `MAP_FIXED_NOREPLACE`
   * @param file - the file for a file mapping (ignored with `MAP_ANONYMOUS`)
   * @param offset - byte offset in the file, page-aligned
   * @returns the address, or `MAP_FAILED` (-1) with {@link errno} set: EINVAL (length 0, bad
   *   flags or prot, unaligned fixed address or offset), EBADF (no file), EEXIST
   *   (`MAP_FIXED_NOREPLACE` over a mapping), ENOMEM (no room, or outside user space), EPERM
   *   (a fixed address below {@link mmapMinAddr})
   * @example
   * ```ts
   * import { AddressSpace, Errno, MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MemFile, PROT_READ, PROT_WRITE, PhysicalMemory, errnoName } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * // a hint is only a hint; MAP_FIXED means exactly there
   * const a = as.mmap(0x10000, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
   * console.log(a.toString(16)); // 10000
   * console.log(as.mmap(a, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE), errnoName(as.errno)); // -1 EEXIST
   * console.log(as.mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS) === MAP_FAILED, as.errno === Errno.EINVAL); // true true
   * // a file mapping reads the file's bytes; MAP_SHARED writes reach the file
   * const file = new MemFile(new TextEncoder().encode("hello, file"), "/tmp/hello.txt");
   * const f = as.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
   * as.writeBytes(f, new TextEncoder().encode("HELLO"));
   * file.sync();
   * console.log(new TextDecoder().decode(file.bytes)); // HELLO, file
   * ```
   */
  mmap(addr: number, length: number, prot: number, flags: number, file?: MemFile | null, offset = 0): number {
    const ps = this.pageSize;
    // A negative length is a huge size_t to Linux: ENOMEM, after the other checks of arguments.
    const negative = Number.isSafeInteger(length) && length < 0;
    if (!isUint(addr) || !(isUint(length) || negative) || !isUint(prot) || !Number.isInteger(flags) || !Number.isSafeInteger(offset)) return this.fail(Errno.EINVAL);
    if (offset < 0 || offset % ps !== 0) return this.fail(Errno.EINVAL);
    if (length === 0) return this.fail(Errno.EINVAL);
    const type = flags & (MAP_SHARED | MAP_PRIVATE);
    if (type !== MAP_SHARED && type !== MAP_PRIVATE) return this.fail(Errno.EINVAL);
    // Linux's mmap ignores prot bits it does not know (mprotect refuses them); bits past the
    // 32 of a C int cannot come from C at all.
    if (prot > 0xffffffff) return this.fail(Errno.EINVAL);
    prot &= KNOWN_PROT;
    const noReplace = (flags & MAP_FIXED_NOREPLACE) !== 0;
    const fixed = noReplace || (flags & MAP_FIXED) !== 0;
    if (fixed && addr % ps !== 0) return this.fail(Errno.EINVAL);
    // Bad arguments are EINVAL before a missing file is EBADF (Linux looks the file up first).
    const anonymous = (flags & MAP_ANONYMOUS) !== 0;
    // Shared anonymous memory's hidden file is not a file a program can open and map again.
    if (!anonymous && (!(file instanceof MemFile) || file instanceof ShmemFile)) return this.fail(Errno.EBADF);
    if (negative) return this.fail(Errno.ENOMEM);
    const len = Math.ceil(length / ps) * ps;
    if (len > this.taskSize) return this.fail(Errno.ENOMEM);
    // Linux checks the file's access mode after placing the mapping, before replacing anything.
    const denied = !anonymous && type === MAP_SHARED && (prot & PROT_WRITE) !== 0 && !file!.writable;
    let start: number;
    if (fixed) {
      if (addr + len > this.taskSize) return this.fail(Errno.ENOMEM);
      if (addr < this.mmapMinAddr) return this.fail(Errno.EPERM);
      const taken = this.vmas.overlaps(addr, addr + len);
      if (taken && noReplace) return this.fail(Errno.EEXIST);
      if (denied) return this.fail(Errno.EACCES);
      if (taken) this.unmapRange(addr, addr + len);
      start = addr;
    } else {
      // Linux rounds a hint down to its page, and one below mmap_min_addr up to it
      // (round_hint_to_min); a hint in a stack's guard gap is as taken as one on a mapping.
      let hint = addr - (addr % ps);
      if (hint !== 0 && hint < this.mmapMinAddr) hint = this.mmapMinAddr;
      if (hint !== 0 && hint + len <= this.taskSize && this.holeFits(hint, len)) start = hint;
      else {
        start = this.findHole(len);
        if (start < 0) return this.fail(Errno.ENOMEM);
      }
      if (denied) return this.fail(Errno.EACCES);
    }
    const shared = type === MAP_SHARED;
    let vma: Vma;
    if (anonymous) {
      // Shared anonymous memory is a hidden file (shmem), so a fork's child shares it.
      // Private anonymous memory mapped inside the heap's pages is heap to Linux (it names lines
      // by position): named so, it merges with the heap's pieces.
      const heap = start >= Math.floor(this.brkStart / ps) * ps && start + len <= Math.ceil(this.brkEnd / ps) * ps ? "[heap]" : null;
      vma = shared ? new Vma(start, start + len, prot, true, new ShmemFile(len), 0, null, true) : new Vma(start, start + len, prot, false, null, 0, heap);
    } else {
      vma = new Vma(start, start + len, prot, shared, file!, offset, null);
    }
    this.vmas.insert(vma);
    this.vmas.mergeAround(start, start + len);
    this.emit({ type: "mmap", address: start, length: len, prot, flags });
    return start;
  }

  /**
   * Unmaps the pages of `[addr, addr + length)` — Linux `munmap(2)`. Unmapping a range with
   * nothing mapped is not an error; the middle of a region splits it.
   * @returns 0, or -1 with {@link errno} = EINVAL (unaligned address, length 0, outside user space)
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PhysicalMemory, SegmentationFault } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * const a = as.mmap(0, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
   * // unmapping the middle page splits the region in two
   * console.log(as.munmap(a + 4096, 4096), as.regions().length); // 0 2
   * try {
   *   as.read8(a + 4096);
   * } catch (e) {
   *   console.log(e instanceof SegmentationFault, (e as Error).message); // true Segmentation fault: read at 0x7ffff7ffe000 (no mapping)
   * }
   * // nothing mapped there: still 0, as in Linux; an unaligned address: EINVAL
   * console.log(as.munmap(a + 4096, 4096), as.munmap(a + 1, 4096)); // 0 -1
   * ```
   */
  munmap(addr: number, length: number): 0 | -1 {
    const ps = this.pageSize;
    if (!isUint(addr) || !isUint(length) || addr % ps !== 0 || length === 0) return this.fail(Errno.EINVAL);
    const end = addr + Math.ceil(length / ps) * ps;
    if (end > this.taskSize) return this.fail(Errno.EINVAL);
    this.unmapRange(addr, end);
    this.emit({ type: "munmap", address: addr, length: end - addr });
    return 0;
  }

  /**
   * Changes the protection of the pages of `[addr, addr + length)` — Linux `mprotect(2)`.
   * As Linux does, the regions before the first hole are changed and then ENOMEM is returned.
   * @returns 0, or -1 with {@link errno}: EINVAL (unaligned address, unknown prot bits), ENOMEM
   *   (a page of the range is not mapped)
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory, ProtectionFault } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * const a = as.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * as.write8(a, 1);
   * console.log(as.mprotect(a, 4096, PROT_READ)); // 0
   * // the region split in two
   * console.log(as.maps());
   * // 7ffff7ffe000-7ffff7fff000 r--p 00000000 00:00 0
   * // 7ffff7fff000-7ffff8000000 rw-p 00000000 00:00 0
   *
   * try {
   *   as.write8(a, 2);
   * } catch (e) {
   *   console.log(e instanceof ProtectionFault, (e as Error).message); // true Segmentation fault: write at 0x7ffff7ffe000 (permission denied)
   * }
   * console.log(as.read8(a)); // 1
   * ```
   */
  mprotect(addr: number, length: number, prot: number): 0 | -1 {
    const ps = this.pageSize;
    if (!isUint(addr) || !Number.isInteger(length) || !Number.isInteger(prot) || addr % ps !== 0) return this.fail(Errno.EINVAL);
    if (length === 0) return 0;
    if (length < 0) return this.fail(Errno.ENOMEM); // a huge size_t: the range wraps (Linux: end <= start)
    if (prot < 0 || prot > KNOWN_PROT) return this.fail(Errno.EINVAL); // unknown bits (also past bit 31)
    const end = addr + Math.ceil(length / ps) * ps;
    // A range that wraps past 2^64 (or an address so large that adding the length changes
    // nothing): Linux's `end <= start` check, ENOMEM.
    if (wraps(addr, end)) return this.fail(Errno.ENOMEM);
    // The mapped prefix of the range: Linux stops at the first hole.
    let covered = addr;
    for (const v of this.vmas.overlapping(addr, end)) {
      if (v.start > covered) break;
      // Write access to a shared mapping of a read-only file: EACCES, nothing changed.
      if (v.shared && (prot & PROT_WRITE) !== 0 && v.file !== null && !v.file.writable) return this.fail(Errno.EACCES);
      covered = Math.min(v.end, end);
    }
    if (covered > addr) {
      this.vmas.splitAround(addr, covered);
      for (const v of this.vmas.overlapping(addr, covered)) {
        v.prot = prot;
        // A private file mapping made writable stays accounted (Linux keeps VM_ACCOUNT).
        if ((prot & PROT_WRITE) !== 0 && v.file !== null && !v.shared) v.accounted = true;
        this.pageTable.forEach(v.start, v.end, (va, pte) => {
          if ((pte & PRESENT) !== 0) this.pageTable.set(va, this.presentPte(v, pteFrame(pte), pte & (ACCESSED | DIRTY)));
        });
      }
      this.mmu.flush();
      this.vmas.mergeAround(addr, covered);
      this.emit({ type: "mprotect", address: addr, length: covered - addr, prot });
    }
    return covered < end ? this.fail(Errno.ENOMEM) : 0;
  }

  /**
   * Advises the kernel about the pages of `[addr, addr + length)` — Linux `madvise(2)`.
   *
   * - `MADV_DONTNEED`: the pages' frames and swap slots go at once (VmRSS falls) and the
   *   mappings stay. The next touch of private anonymous memory is a fresh zero page (a minor
   *   fault); a private file mapping reads the file again (its private copies are lost); shared
   *   memory keeps its contents (a dirty file page is written back). glibc's `malloc_trim`
   *   gives the whole free pages inside the heap back this way.
   * - `MADV_FREE`: private anonymous pages become lazily freeable: they stay resident, and when
   *   memory runs short they are dropped (not swapped) unless written since, so the next touch
   *   reads zeros; a page in swap is dropped at once. Other mappings: EINVAL.
   * - `MADV_NORMAL`, `MADV_RANDOM`, `MADV_SEQUENTIAL`, `MADV_WILLNEED`: read-ahead hints,
   *   accepted with no effect.
   *
   * As Linux does, holes in the range do not stop the advice from reaching the mapped parts,
   * but the call then fails with ENOMEM.
   * @returns 0, or -1 with {@link errno}: EINVAL (unaligned address, a negative length, an
   *   advice the model does not know, `MADV_FREE` on memory that is not private anonymous),
   *   ENOMEM (a page of the range is not mapped)
   * @example
   * ```ts
   * import { AddressSpace, MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * const a = as.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * as.write8(a, 99);
   * // MADV_DONTNEED drops the frame: the next read of private anonymous memory sees zeros
   * console.log(as.status().vmRss, as.madvise(a, 4096, MADV_DONTNEED), as.status().vmRss, as.read8(a)); // 4096 0 0 0
   * ```
   */
  madvise(addr: number, length: number, advice: number): 0 | -1 {
    const ps = this.pageSize;
    // Linux's order: the advice, then the address, then the length.
    if (!Number.isInteger(advice) || !(advice === MADV_DONTNEED || advice === MADV_FREE || (advice >= MADV_NORMAL && advice <= MADV_WILLNEED))) return this.fail(Errno.EINVAL);
    if (!isUint(addr) || addr % ps !== 0) return this.fail(Errno.EINVAL);
    // A negative length is a huge size_t whose end wraps around: EINVAL.
    if (!Number.isInteger(length) || length < 0) return this.fail(Errno.EINVAL);
    if (length === 0) return 0;
    const end = addr + Math.ceil(length / ps) * ps;
    if (wraps(addr, end)) return this.fail(Errno.EINVAL); // Linux: end < start
    let covered = addr;
    let hole = false;
    for (const v of this.vmas.overlapping(addr, end)) {
      if (v.start > covered) hole = true;
      const lo = Math.max(addr, v.start);
      const hi = Math.min(end, v.end);
      covered = hi;
      if (advice === MADV_DONTNEED) this.zap(lo, hi);
      else if (advice === MADV_FREE) {
        // Linux stops at the first mapping it cannot advise (the ones before keep the advice).
        if (v.file !== null || v.shared) return this.fail(Errno.EINVAL);
        this.lazyFree(lo, hi);
      }
    }
    return hole || covered < end ? this.fail(Errno.ENOMEM) : 0;
  }

  /**
   * Resizes the mapping at `oldAddr`, moving it if need be — Linux `mremap(2)`. Sizes round up
   * to whole pages.
   *
   * - Shrinking (or the same size) always works in place: the tail is unmapped.
   * - Growing works in place when `[oldAddr, oldAddr + oldSize)` ends where its region ends and
   *   the pages after it are free; the new pages are fresh (zero) memory of the same kind.
   * - Otherwise, with `MREMAP_MAYMOVE`, the pages move to a new place chosen as `mmap` places a
   *   mapping (top-down below {@link mmapBase}): their frames and swap slots go with them (no
   *   copy, no fault), the old range is unmapped. With `MREMAP_FIXED` too, the new place is
   *   exactly `newAddr`, and whatever was mapped there is unmapped first.
   * - `oldSize` 0 on a shared mapping maps the same pages a second time (with `MREMAP_MAYMOVE`).
   *
   * glibc's `realloc` of a block that has its own mapping uses `mremap(p, old, new,
   * MREMAP_MAYMOVE)`. Unlike Linux, which unmaps the `MREMAP_FIXED` destination before it checks
   * the old range, the model checks everything first: a failing call changes nothing.
   * @param newAddr - with `MREMAP_FIXED`, where the mapping goes (page-aligned); else ignored
   * @returns the mapping's (new) address, or `MAP_FAILED` (-1) with {@link errno}: EINVAL
   *   (unaligned `oldAddr` or `newAddr`, unknown flags, `MREMAP_FIXED` without
   *   `MREMAP_MAYMOVE`, `newSize` 0, `oldSize` 0 on a private mapping, overlapping old and new
   *   ranges), EFAULT (nothing mapped at `oldAddr`, or a growing old range that is not within
   *   one region), ENOMEM (cannot grow in place and may not move, or no room to move to),
   *   EPERM (a fixed `newAddr` below {@link mmapMinAddr})
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE, PhysicalMemory, errnoName } from "vmheap";
   *
   * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
   * const a = as.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * as.mmap(a + 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS); // in the way
   * as.write32(a, 1234);
   * // cannot grow in place, may not move: ENOMEM
   * console.log(as.mremap(a, 4096, 8192, 0), errnoName(as.errno)); // -1 ENOMEM
   * // MREMAP_MAYMOVE: the pages move, their contents with them
   * const b = as.mremap(a, 4096, 8192, MREMAP_MAYMOVE);
   * console.log(b !== a, as.read32(b)); // true 1234
   * ```
   */
  mremap(oldAddr: number, oldSize: number, newSize: number, flags: number, newAddr = 0): number {
    const ps = this.pageSize;
    const up = (n: number): number => Math.ceil(n / ps) * ps;
    if (!Number.isInteger(flags) || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) !== 0) return this.fail(Errno.EINVAL);
    const mayMove = (flags & MREMAP_MAYMOVE) !== 0;
    const fixed = (flags & MREMAP_FIXED) !== 0;
    if (fixed && !mayMove) return this.fail(Errno.EINVAL);
    if (!isUint(oldAddr) || oldAddr % ps !== 0 || !isUint(oldSize) || !isUint(newSize)) return this.fail(Errno.EINVAL);
    let oldLen = up(oldSize);
    const newLen = up(newSize);
    if (newLen === 0) return this.fail(Errno.EINVAL);
    const v = this.vmas.find(oldAddr);
    if (v === null) return this.fail(Errno.EFAULT);
    if (oldLen === 0 && !v.shared) return this.fail(Errno.EINVAL); // only shared memory can be mapped twice
    if (fixed) {
      if (!isUint(newAddr) || newAddr % ps !== 0 || newLen > this.taskSize || newAddr > this.taskSize - newLen) return this.fail(Errno.EINVAL);
      if (oldAddr + oldLen > newAddr && newAddr + newLen > oldAddr) return this.fail(Errno.EINVAL);
      // Linux unmaps the destination and the old tail before this check; the model checks first.
      if (Math.min(oldLen, newLen) > v.end - oldAddr) return this.fail(Errno.EFAULT);
      if (newAddr < this.mmapMinAddr) return this.fail(Errno.EPERM);
      this.unmapRange(newAddr, newAddr + newLen);
      if (oldLen > newLen) {
        this.unmapRange(oldAddr + newLen, oldAddr + oldLen);
        oldLen = newLen;
      }
      return this.moveRegion(oldAddr, oldLen, newAddr, newLen);
    }
    if (oldLen >= newLen) {
      // Always allowed, as in Linux: the tail goes, whatever it spans.
      if (oldLen > newLen) {
        this.unmapRange(oldAddr + newLen, oldAddr + oldLen);
        this.emit({ type: "mremap", oldAddress: oldAddr, oldLength: oldLen, address: oldAddr, length: newLen });
      }
      return oldAddr;
    }
    if (oldLen > v.end - oldAddr) return this.fail(Errno.EFAULT); // growing across regions
    const end = oldAddr + oldLen;
    // In place: the old range is the region's tail and the pages after it are free.
    if (oldLen > 0 && end === v.end && oldAddr + newLen <= this.taskSize && !this.vmas.overlaps(end, oldAddr + newLen)) {
      v.end = oldAddr + newLen;
      this.vmas.mergeAround(v.start, v.end);
      this.emit({ type: "mremap", oldAddress: oldAddr, oldLength: oldLen, address: oldAddr, length: newLen });
      return oldAddr;
    }
    if (!mayMove) return this.fail(Errno.ENOMEM);
    const to = this.findHole(newLen);
    if (to < 0) return this.fail(Errno.ENOMEM);
    return this.moveRegion(oldAddr, oldLen, to, newLen);
  }

  /**
   * Moves the pages of `[from, from + oldLen)`, inside one region, to `[to, to + newLen)` (free,
   * `newLen ≥ oldLen`): a region of the same kind is made there (the same file at the same
   * offset), the page-table entries move (frames and swap slots with them; the resident set
   * keeps its order) and the old range is unmapped. `oldLen` 0 maps a shared region again.
   * @returns `to`
   */
  private moveRegion(from: number, oldLen: number, to: number, newLen: number): number {
    const ps = this.pageSize;
    const v = this.vmas.find(from)!;
    const moved = new Vma(to, to + newLen, v.prot, v.shared, v.file, v.fileOffset(from), v.name, v.anonShared);
    moved.accounted = v.accounted;
    // The names the kernel gives by place do not travel: the moved memory is no longer the heap or the stack.
    if (moved.name === "[heap]" || moved.name === "[stack]") moved.name = null;
    const entries: Array<[number, number]> = [];
    this.pageTable.forEach(from, from + oldLen, (va, pte) => {
      entries.push([va, pte]);
      this.pageTable.clear(va);
      this.mmu.invalidate(va);
    });
    if (oldLen > 0) this.vmas.remove(from, from + oldLen);
    this.vmas.insert(moved);
    for (const [va, pte] of entries) this.pageTable.set(va - from + to, pte);
    if (entries.length > 0) {
      const shift = (to - from) / ps;
      const fromVpn = from / ps;
      const endVpn = (from + oldLen) / ps;
      const remap = (vpn: number): number => (vpn >= fromVpn && vpn < endVpn ? vpn + shift : vpn);
      const order = [...this.resident.keys()];
      this.resident.clear();
      for (const vpn of order) this.resident.set(remap(vpn), 1);
      const lazy = [...this.lazy];
      this.lazy.clear();
      for (const vpn of lazy) this.lazy.add(remap(vpn));
    }
    this.vmas.mergeAround(to, to + newLen);
    this.emit({ type: "mremap", oldAddress: from, oldLength: oldLen, address: to, length: newLen });
    return to;
  }

  /**
   * Names the anonymous memory of `[addr, addr + length)`, shown as `[anon:NAME]` in
   * {@link maps} — Linux `prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME)`; `null` removes the name.
   * @returns 0, or -1 with errno EINVAL (unaligned) or ENOMEM (a page not mapped)
   */
  nameAnon(addr: number, length: number, name: string | null): 0 | -1 {
    return this.label(addr, length, name === null ? null : `[anon:${name}]`);
  }

  /**
   * Sets the name column of `/proc/self/maps` for `[addr, addr + length)` verbatim (`[heap]`,
   * `[stack]`); `null` restores the default. Regions are split at the range's ends.
   * @returns 0, or -1 with errno EINVAL (unaligned) or ENOMEM (a page not mapped)
   */
  label(addr: number, length: number, text: string | null): 0 | -1 {
    const ps = this.pageSize;
    if (!isUint(addr) || !isUint(length) || addr % ps !== 0) return this.fail(Errno.EINVAL);
    if (length === 0) return 0;
    const end = addr + Math.ceil(length / ps) * ps;
    let covered = addr;
    for (const v of this.vmas.overlapping(addr, end)) {
      if (v.start > covered) break;
      covered = Math.min(v.end, end);
    }
    if (covered < end) return this.fail(Errno.ENOMEM);
    this.vmas.splitAround(addr, end);
    for (const v of this.vmas.overlapping(addr, end)) v.name = text;
    this.vmas.mergeAround(addr, end);
    return 0;
  }

  /**
   * Moves the program break from `oldBreak` to `newBreak` (the kernel side of `brk(2)`, so that
   * a `Brk` can run over this space): growing maps the whole pages between the page-rounded
   * breaks as anonymous read-write memory named `[heap]`, unless something is mapped there
   * (and, growing from `start` when it is not page-aligned, the page holding it, when nothing
   * maps it: Linux page-aligns the start of the heap, so that page is the heap's first);
   * shrinking unmaps the whole pages above the new page-rounded break (growing again gives
   * zero-filled pages).
   * @returns false when the pages cannot be had (a mapping in the way, or past user space)
   */
  moveBreak(oldBreak: number, newBreak: number, start = Number.NaN): boolean {
    const ps = this.pageSize;
    if (!isUint(oldBreak) || !isUint(newBreak)) return false;
    let o = Math.ceil(oldBreak / ps) * ps;
    const n = Math.ceil(newBreak / ps) * ps;
    // A heap that starts inside a page nobody mapped (a Brk whose start is not page-aligned,
    // on a page no mapping covers; a Process's start_brk is page-aligned) maps that page too
    // when it grows from its start. (Later, a page the program unmapped under the break stays
    // unmapped, as in Linux.)
    if (oldBreak === start && newBreak > oldBreak && o !== oldBreak && this.vmas.find(o - ps) === null) o -= ps;
    if (n > o) {
      // As Linux's brk: nothing below mmap_min_addr, and a page of gap below the next mapping.
      if (o < this.mmapMinAddr || n > this.taskSize || this.vmas.overlaps(o, n + ps)) return false;
      this.vmas.insert(new Vma(o, n, PROT_READ | PROT_WRITE, false, null, 0, "[heap]"));
      this.vmas.mergeAround(o, n);
      this.emit({ type: "mmap", address: o, length: n - o, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    } else if (n < o) {
      this.unmapRange(n, o);
      this.emit({ type: "munmap", address: n, length: o - n });
    }
    if (!Number.isNaN(start)) this.brkStart = start;
    this.brkEnd = newBreak;
    return true;
  }

  /**
   * Makes the region holding `addr` a stack that grows down on demand (Linux `MAP_GROWSDOWN`
   * with a limit, as `RLIMIT_STACK` gives the main stack): touching the hole below it extends it,
   * down to `lowest` (page-aligned), keeping Linux's guard gap of 256 pages above the next
   * region down unless that one is PROT_NONE.
   * @returns 0, or -1 with errno EINVAL (`lowest` unaligned or above the region) or ENOMEM
   *   (nothing mapped at `addr`)
   */
  setGrowsDown(addr: number, lowest: number): 0 | -1 {
    const v = isUint(addr) ? this.vmas.find(addr) : null;
    if (v === null) return this.fail(Errno.ENOMEM);
    if (!isUint(lowest) || lowest % this.pageSize !== 0 || lowest > v.start) return this.fail(Errno.EINVAL);
    v.growsDownTo = lowest;
    return 0;
  }

  /** Unmaps everything (process exit): every frame and swap slot is released. */
  close(): void {
    const shm = this.shmemIn(0, Infinity);
    for (const v of [...this.vmas.list]) this.zap(v.start, v.end);
    this.vmas = new VmaList();
    this.mmu.flush();
    registry.get(this.memory)?.delete(this);
    this.releaseShmem(shm);
  }

  // ───────────────────────────────── loads and stores ─────────────────────────────────

  /** Loads the byte at `va`. @throws SegmentationFault, ProtectionFault, OutOfMemoryError */
  read8(va: number): number {
    return this.mmu.read8(va);
  }
  /** Stores the low 8 bits of `v` at `va`. */
  write8(va: number, v: number): void {
    this.mmu.write8(va, v);
  }
  /** Loads the little-endian 16-bit value at `va`. */
  read16(va: number): number {
    return this.mmu.read16(va);
  }
  /** Stores the low 16 bits of `v` at `va`, little-endian. */
  write16(va: number, v: number): void {
    this.mmu.write16(va, v);
  }
  /** Loads the little-endian 32-bit value at `va`. */
  read32(va: number): number {
    return this.mmu.read32(va);
  }
  /** Stores the low 32 bits of `v` at `va`, little-endian. */
  write32(va: number, v: number): void {
    this.mmu.write32(va, v);
  }
  /** Copies `length` bytes from `va` out (a fresh array). */
  readBytes(va: number, length: number): Uint8Array {
    return this.mmu.readBytes(va, length);
  }
  /** Copies `bytes` in at `va` (a fault part-way leaves the earlier pages written). */
  writeBytes(va: number, bytes: Uint8Array): void {
    this.mmu.writeBytes(va, bytes);
  }

  // ─────────────────────────────────────── fork ───────────────────────────────────────

  /**
   * A copy-on-write child sharing this space's RAM and swap — Linux `fork(2)`. Page tables are
   * copied: private pages become read-only + COW in both (their frames and swap slots
   * referenced once more), shared pages stay shared. Costs time in proportion to the pages
   * mapped. The child's fault counters start at 0.
   * @example
   * ```ts
   * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
   *
   * const ram = new PhysicalMemory({ frames: 16 });
   * const parent = new AddressSpace({ memory: ram });
   * const a = parent.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
   * parent.write32(a, 1);
   * const child = parent.fork();
   * // one frame, two mappings: shared until a write
   * console.log(ram.sharedFrames, child.read32(a)); // 1 1
   * child.write32(a, 2);
   * console.log(ram.sharedFrames, parent.read32(a), child.read32(a), child.status().minorFaults); // 0 1 2 1
   * child.close();
   * ```
   */
  fork(): AddressSpace {
    const child = new AddressSpace({ ...this.opts, onEvent: undefined } as AddressSpaceOptions);
    child.vmas = this.vmas.clone();
    child.brkStart = this.brkStart;
    child.brkEnd = this.brkEnd;
    const mem = this.memory;
    const pt = this.pageTable;
    const cpt = child.pageTable;
    const zero = mem.zeroFrame;
    for (const v of this.vmas.list) {
      pt.forEach(v.start, v.end, (va, pte) => {
        if ((pte & PRESENT) === 0) {
          if ((pte & SWAPPED) !== 0) {
            this.swap!.ref(pteSwapSlot(pte));
            child.swapped++;
          }
          cpt.set(va, pte);
          return;
        }
        const f = pteFrame(pte);
        if (f !== zero) mem.ref(f);
        let p = pte;
        if (!v.shared && (p & WRITABLE) !== 0) {
          p = ((p & ~WRITABLE) | COW) >>> 0;
          pt.set(va, p);
        }
        cpt.set(va, (p & ~ACCESSED) >>> 0);
      });
    }
    for (const vpn of this.resident.keys()) child.resident.set(vpn, 1);
    this.mmu.flush();
    return child;
  }

  // ───────────────────────────────── the fault handler ─────────────────────────────────

  /** The MMU's fault hook: repairs the PTE of `va` and returns true, or throws the fault. */
  private handleFault(va: number, access: Access, pte: number, size: number): boolean {
    const v = this.vmas.find(va) ?? this.growStack(va);
    if (v === null) throw new SegmentationFault(va, access, size);
    const prot = v.prot;
    const allowed = access === "write" ? (prot & PROT_WRITE) !== 0 : access === "exec" ? (prot & PROT_EXEC) !== 0 : prot !== PROT_NONE;
    if (!allowed) throw new ProtectionFault(va, access, size);
    const ps = this.pageSize;
    const page = va - (va % ps);
    const mem = this.memory;
    if ((pte & PRESENT) !== 0) {
      const f = pteFrame(pte);
      if (access === "write" && (pte & WRITABLE) === 0 && !v.shared && (f === mem.zeroFrame || mem.refCount(f) > 1)) {
        // Copy-on-write: take a frame first (may evict, may throw), then let go of the shared one.
        // Pin the source so reclaim cannot drop it while a frame is found.
        if (f !== mem.zeroFrame) mem.ref(f);
        let nf: number;
        try {
          nf = this.getFrame(va, access);
        } finally {
          if (f !== mem.zeroFrame) mem.unref(f);
        }
        if (f === mem.zeroFrame) mem.zeroFill(nf);
        else mem.copyFrame(nf, f);
        this.dropFrame(v, page, f);
        this.pageTable.set(page, this.presentPte(v, nf, pte & ACCESSED));
        this.mmu.invalidate(page); // the old frame's translation is cached (TLB, heap caches)
        this.resident.delete(page / ps);
        this.resident.set(page / ps, 1);
        this.fault("minor", "cow", va, access);
        return true;
      }
      // The PTE is stale (the last sharer left, or permissions changed): recompute it. A write
      // to a copy-on-write page whose other sharers are gone keeps the frame: still a fault, as
      // Linux's do_wp_page counts reusing the page.
      this.pageTable.set(page, this.presentPte(v, f, pte & (ACCESSED | DIRTY)));
      this.mmu.invalidate(page);
      if (access === "write" && (pte & COW) !== 0 && !v.shared) this.fault("minor", "cow", va, access);
      return true;
    }
    if ((pte & SWAPPED) !== 0) {
      const slot = pteSwapSlot(pte);
      const swap = this.swap!;
      let nf: number;
      try {
        nf = this.getFrame(va, access);
        swap.read(slot, mem.frameBytes(nf));
        swap.unref(slot);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError) || swap.refCount(slot) !== 1) throw e;
        // RAM and swap both full: exchange. The page leaves its slot for a buffer, so that the
        // victim can take the slot; if even that fails the page goes back to swap, intact.
        const held = new Uint8Array(ps);
        swap.read(slot, held);
        swap.unref(slot);
        try {
          nf = this.getFrame(va, access);
        } catch (e2) {
          const back = swap.alloc();
          swap.write(back, held);
          this.pageTable.set(page, makeSwapPte(back, pte));
          throw e2;
        }
        mem.frameBytes(nf).set(held);
      }
      this.swapped--;
      this.pageTable.set(page, this.presentPte(v, nf, 0));
      this.resident.set(page / ps, 1);
      this.swapIns++;
      this.emitIf({ type: "swap-in", address: page, frame: nf, slot });
      this.fault("major", "swap-in", va, access);
      return true;
    }
    // First touch.
    if (v.file === null) {
      if (access !== "write") {
        this.pageTable.set(page, this.presentPte(v, mem.zeroFrame, 0));
        this.fault("minor", "zero-page", va, access);
      } else {
        const nf = this.getFrame(va, access);
        mem.zeroFill(nf);
        this.pageTable.set(page, this.presentPte(v, nf, 0));
        this.resident.set(page / ps, 1);
        this.fault("minor", "anonymous", va, access);
      }
      return true;
    }
    const file = v.file;
    const fpage = v.fileOffset(page) / ps;
    if (fpage * ps >= file.size) throw new BusError(va, access, size, v.displayName());
    let cf = file.cachedFrame(mem, fpage);
    const cached = cf >= 0;
    // Shared anonymous memory reclaimed to swap comes back from it: a major fault.
    const slot = !cached && file instanceof ShmemFile ? file.slotOf(fpage) : -1;
    if (!v.shared && access === "write") {
      // A private write to a page never read: copy straight from the cache or the file.
      const nf = this.getFrame(va, access);
      cf = file.cachedFrame(mem, fpage); // the eviction may have dropped it
      if (cf >= 0) mem.copyFrame(nf, cf);
      else file.fill(mem, fpage, nf);
      this.pageTable.set(page, this.presentPte(v, nf, 0));
      this.resident.set(page / ps, 1);
      this.fault(cf >= 0 ? "minor" : "major", "file", va, access);
      return true;
    }
    if (!cached) {
      try {
        cf = this.getFrame(va, access);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError) || slot < 0) throw e;
        // RAM and swap both full, as for a private page: the page leaves its slot (kept aside)
        // so that a victim can take the slot; if even that fails, it goes back to swap.
        const shm = file as ShmemFile;
        const swap = shm.unswap(fpage);
        try {
          cf = this.getFrame(va, access);
        } catch (e2) {
          shm.reswap(fpage, swap);
          throw e2;
        }
      }
      file.cache(mem, fpage, cf);
    }
    mem.ref(cf);
    this.pageTable.set(page, this.presentPte(v, cf, 0));
    this.resident.set(page / ps, 1);
    if (slot >= 0) {
      this.swapIns++;
      this.emitIf({ type: "swap-in", address: page, frame: cf, slot });
      this.fault("major", "swap-in", va, access);
    } else this.fault(cached || v.anonShared ? "minor" : "major", "file", va, access);
    return true;
  }

  /**
   * Stack growth (`expand_stack`): when the region just above `va` grows down and `va` is not
   * below its limit, the region is extended down to `va`'s page, keeping Linux's guard gap
   * (256 pages) above an accessible region below it. @returns the grown region, or null
   */
  private growStack(va: number): Vma | null {
    const list = this.vmas.list;
    const i = this.vmas.indexAfter(va);
    const up = list[i];
    if (up === undefined || up.growsDownTo < 0 || va < up.growsDownTo || va >= up.start) return null;
    const ps = this.pageSize;
    const start = va - (va % ps);
    // expand_downwards: the stack stays stack_guard_gap above an accessible region below it
    // (one that grows down itself, or a PROT_NONE one, it may meet).
    const below = list[i - 1];
    if (below !== undefined && below.growsDownTo < 0 && below.prot !== PROT_NONE && start - below.end < STACK_GUARD_GAP_PAGES * ps) return null;
    const old = up.start;
    up.start = start;
    this.emitIf({ type: "mmap", address: start, length: old - start, prot: up.prot, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    return up;
  }

  /**
   * The PTE for frame `f` in region `v`: USER unless PROT_NONE, EXEC with PROT_EXEC, WRITABLE
   * with PROT_WRITE when the frame is this page's alone (or the region is shared), else COW.
   */
  private presentPte(v: Vma, f: number, keep: number): number {
    const prot = v.prot;
    let flags = keep;
    if (prot !== PROT_NONE) flags |= USER;
    if ((prot & PROT_EXEC) !== 0) flags |= EXEC;
    if ((prot & PROT_WRITE) !== 0) {
      const mine = v.shared || (f !== this.memory.zeroFrame && this.memory.refCount(f) === 1);
      flags |= mine ? WRITABLE : COW;
    }
    return makePte(f, flags);
  }

  private fault(kind: "minor" | "major", cause: "zero-page" | "anonymous" | "file" | "cow" | "swap-in", address: number, access: Access): void {
    if (kind === "minor") this.minor++;
    else this.major++;
    if (this.listeners.length > 0) this.emit({ type: "fault", kind, cause, address, access });
  }

  // ───────────────────────────────── frames and reclaim ─────────────────────────────────

  /**
   * A frame for a fault: evicts first when at {@link maxResidentPages}, then when RAM is full.
   * @throws OutOfMemoryError when no frame is free and no page can be evicted
   */
  private getFrame(va: number, access: Access): number {
    // At the limit, one page goes (a page held by a two-page store may leave the space one over).
    while (this.resident.size >= this.maxResidentPages && this.evictOne()) {}
    for (;;) {
      const f = this.memory.allocFrame();
      if (f >= 0) return f;
      if (!this.evictOne() && !this.evictElsewhere()) {
        const swap = this.swap === null ? "no swap" : `swap: ${this.swap.freeSlots} free slots`;
        throw new OutOfMemoryError(`Out of memory: ${access} at 0x${va.toString(16)}: no free frame among ${this.memory.frames} and no page to evict (${swap})`, va, access);
      }
    }
  }

  /**
   * Global reclaim: RAM is full and nothing of this space can go, so another live address
   * space over the same RAM evicts one of its pages (by its own policy, to its own swap).
   */
  private evictElsewhere(): boolean {
    const spaces = registry.get(this.memory);
    if (spaces === undefined) return false;
    for (const other of spaces) if (other !== this && other.evictOne()) return true;
    return false;
  }

  /** Evicts one resident page by the policy. @returns false when none can be */
  private evictOne(): boolean {
    const ps = this.pageSize;
    if (this.replacement === "lru") {
      const lu = this.mmu.lastUse!;
      const candidates = [...this.resident.keys()].sort((a, b) => lu[pteFrame(this.pageTable.lookup(a))]! - lu[pteFrame(this.pageTable.lookup(b))]!);
      for (const vpn of candidates) if (this.tryEvict(vpn * ps)) return true;
      return false;
    }
    if (this.replacement === "fifo") {
      for (const vpn of this.resident.keys()) if (this.tryEvict(vpn * ps)) return true;
      return false;
    }
    // Clock: the oldest page with its accessed bit clear; a set bit is cleared and the page
    // goes to the back (a second chance). Two rounds see every page with A clear.
    for (let n = 2 * this.resident.size + 1; n > 0 && this.resident.size > 0; n--) {
      const vpn = this.resident.keys().next().value as number;
      const va = vpn * ps;
      const pte = this.pageTable.lookup(vpn);
      if ((pte & ACCESSED) !== 0) {
        this.pageTable.setVpn(vpn, (pte & ~ACCESSED) >>> 0);
        this.mmu.invalidate(va);
      } else if (this.tryEvict(va)) return true;
      this.resident.delete(vpn);
      this.resident.set(vpn, 1);
    }
    return false;
  }

  /** Evicts the page at `va` if it is not pinned and has somewhere to go. */
  private tryEvict(va: number): boolean {
    if (va === this.mmu.pinnedPage) return false; // half of a two-page store (Mmu.storeSlow)
    const mem = this.memory;
    const f = pteFrame(this.pageTable.get(va));
    const v = this.vmas.find(va)!;
    const rc = mem.refCount(f);
    if (v.file !== null) {
      const fpage = v.fileOffset(va) / this.pageSize;
      if (v.file.cachedFrame(mem, fpage) === f) return this.dropFilePage(v.file, fpage, f, rc, va);
    }
    if (rc === 1 && this.lazy.has(va / this.pageSize) && (this.pageTable.get(va) & DIRTY) === 0) return this.discard(va, f);
    if (this.swap === null || rc === PINNED || (rc > 1 && v.shared)) return false;
    return this.swapOut(va, f, rc);
  }

  /**
   * Drops a file's page-cache frame `f` (file page `fpage`) that `rc - 1` pages map: this
   * page at `va`, and when `rc > 2` pages of other mappings of the file, in this space or
   * others over this RAM (`MAP_SHARED`, or private ones not yet written, as after `fork`).
   * Those are found through the mappings of the file (Linux walks the file's `i_mmap` the
   * same way); when all are found, every PTE is cleared and the frame written back and freed,
   * so the next touch reads the file page again. Else it stays.
   */
  private dropFilePage(file: MemFile, fpage: number, f: number, rc: number, va: number): boolean {
    const mem = this.memory;
    const ps = this.pageSize;
    const hits: Array<[AddressSpace, number]> = rc === 2 ? [[this, va]] : [];
    if (rc > 2) {
      for (const s of registry.get(mem) ?? []) {
        for (const sv of s.vmas.list) {
          if (sv.file !== file) continue;
          const sva = sv.start + fpage * ps - sv.offset;
          if (sva < sv.start || sva >= sv.end) continue;
          const p = s.pageTable.get(sva);
          if ((p & PRESENT) !== 0 && pteFrame(p) === f) hits.push([s, sva]);
        }
      }
    }
    if (hits.length !== rc - 1) return false;
    const dirty = hits.some(([s, sva]) => (s.pageTable.get(sva) & DIRTY) !== 0);
    // Shared anonymous memory has no file to go back to: it goes to swap, or stays.
    const shmem = file instanceof ShmemFile;
    const slot = shmem && this.swap !== null ? this.swap.alloc() : -1;
    if (shmem && slot < 0) return false;
    for (const [s, sva] of hits) {
      s.pageTable.clear(sva);
      s.mmu.invalidate(sva);
      s.resident.delete(sva / ps);
      mem.unref(f);
    }
    if (shmem) {
      file.swapOut(mem, fpage, this.swap!, slot);
      this.swapOuts++;
      this.emitIf({ type: "evict", address: va, frame: f, to: "swap", slot });
    } else {
      file.evict(mem, fpage, dirty); // a clean page is dropped, a dirty one written back
      this.emitIf({ type: "evict", address: va, frame: f, to: "file", slot: -1 });
    }
    return true;
  }

  /**
   * Drops the clean `MADV_FREE` page at `va` (frame `f`, this page's alone): its contents were
   * given up, so nothing is written anywhere and the next touch is a fresh zero page.
   */
  private discard(va: number, f: number): boolean {
    this.pageTable.clear(va);
    this.mmu.invalidate(va);
    this.resident.delete(va / this.pageSize);
    this.lazy.delete(va / this.pageSize);
    this.memory.unref(f);
    this.emitIf({ type: "evict", address: va, frame: f, to: "discard", slot: -1 });
    return true;
  }

  /**
   * `MADV_FREE` over `[lo, hi)` of a private anonymous region: each resident page that is this
   * space's alone becomes clean and lazily freeable (a page still shared with a fork's other
   * side keeps its data, as Linux skips it); a page in swap is dropped at once.
   */
  private lazyFree(lo: number, hi: number): void {
    const mem = this.memory;
    this.pageTable.forEach(lo, hi, (va, pte) => {
      if ((pte & PRESENT) !== 0) {
        const f = pteFrame(pte);
        if (f === mem.zeroFrame || mem.refCount(f) !== 1) return;
        this.pageTable.set(va, (pte & ~(DIRTY | ACCESSED)) >>> 0);
        this.mmu.invalidate(va);
        this.lazy.add(va / this.pageSize);
      } else if ((pte & SWAPPED) !== 0) {
        this.swap!.unref(pteSwapSlot(pte));
        this.swapped--;
        this.pageTable.clear(va);
        this.mmu.invalidate(va);
      }
    });
  }

  /**
   * Swaps out the private page at `va`, whose frame `f` has `rc` references: this page alone,
   * or (`rc > 1`) a page shared copy-on-write by `fork`. There is no reverse map, so sharers
   * are looked for where fork puts them, at the same address in the other spaces over this
   * RAM; when all `rc` are found (and they use the same swap), one slot takes the page, every
   * sharer's entry points to it (the slot holds one reference per sharer) and the frame is
   * freed. Each sharer swaps it in on its own, into a frame of its own. Otherwise the page
   * stays (pinned).
   */
  private swapOut(va: number, f: number, rc: number): boolean {
    const mem = this.memory;
    const swap = this.swap!;
    let sharers: AddressSpace[] = [this];
    if (rc > 1) {
      sharers = [];
      for (const s of registry.get(mem) ?? []) {
        if (s.swap !== swap || va >= s.taskSize) continue;
        const p = s.pageTable.get(va);
        if ((p & PRESENT) === 0 || pteFrame(p) !== f) continue;
        const sv = s.vmas.find(va);
        if (sv === null || sv.shared) return false;
        sharers.push(s);
      }
      if (sharers.length !== rc) return false;
    }
    const slot = swap.alloc();
    if (slot < 0) return false;
    swap.write(slot, mem.frameBytes(f));
    for (let i = 1; i < rc; i++) swap.ref(slot);
    const vpn = va / this.pageSize;
    for (const s of sharers) {
      s.pageTable.set(va, makeSwapPte(slot, s.pageTable.get(va) & (USER | WRITABLE | EXEC)));
      s.mmu.invalidate(va);
      s.resident.delete(vpn);
      s.lazy.delete(vpn);
      s.swapped++;
      mem.unref(f);
    }
    this.swapOuts++;
    this.emitIf({ type: "evict", address: va, frame: f, to: "swap", slot });
    return true;
  }

  /** Lets go of frame `f` mapped at `page` of region `v` (a page-cache frame may be written back and freed). */
  private dropFrame(v: Vma, page: number, f: number, dirty = false): void {
    const mem = this.memory;
    if (f === mem.zeroFrame) return;
    if (v.file !== null) {
      const fpage = v.fileOffset(page) / this.pageSize;
      if (v.file.cachedFrame(mem, fpage) === f) {
        if (mem.unref(f) === 1) v.file.evict(mem, fpage, dirty);
        else if (dirty) v.file.markDirty(mem, fpage);
        return;
      }
    }
    mem.unref(f);
  }

  /** Drops every page of `[start, end)`: frames and swap slots released, TLB entries invalidated. */
  private zap(start: number, end: number): void {
    const ps = this.pageSize;
    for (const v of this.vmas.overlapping(start, end)) {
      const lo = Math.max(start, v.start);
      const hi = Math.min(end, v.end);
      this.pageTable.forEach(lo, hi, (va, pte) => {
        if ((pte & PRESENT) !== 0) {
          this.dropFrame(v, va, pteFrame(pte), (pte & DIRTY) !== 0);
          this.resident.delete(va / ps);
          this.lazy.delete(va / ps);
        } else if ((pte & SWAPPED) !== 0) {
          this.swap!.unref(pteSwapSlot(pte));
          this.swapped--;
        }
        this.pageTable.clear(va);
        this.mmu.invalidate(va);
      });
    }
  }

  /** Clears the dirty bits of this space's PTEs in shared mappings of `file` (after its write-back). @internal */
  cleanFile(file: MemFile): void {
    for (const v of this.vmas.list) {
      if (v.file !== file || !v.shared) continue;
      this.pageTable.forEach(v.start, v.end, (va, pte) => {
        if ((pte & (PRESENT | DIRTY)) === (PRESENT | DIRTY)) {
          this.pageTable.set(va, (pte & ~DIRTY) >>> 0);
          this.mmu.invalidate(va);
        }
      });
    }
  }

  /**
   * Unmaps `[start, end)` (munmap, MAP_FIXED, a shrinking brk): its pages go ({@link zap}), its
   * regions are removed or cut, and shared anonymous memory no region maps any more is freed.
   */
  private unmapRange(start: number, end: number): void {
    const shm = this.shmemIn(start, end);
    this.zap(start, end);
    this.vmas.remove(start, end);
    this.releaseShmem(shm);
  }

  /** The shared anonymous memories that regions of `[start, end)` map. */
  private shmemIn(start: number, end: number): ShmemFile[] {
    const out: ShmemFile[] = [];
    for (const v of this.vmas.overlapping(start, end)) if (v.file instanceof ShmemFile && !out.includes(v.file)) out.push(v.file);
    return out;
  }

  /** Frees what each of `files` holds in swap once no region over this RAM maps it any more. */
  private releaseShmem(files: readonly ShmemFile[]): void {
    for (const file of files) {
      let mapped = false;
      for (const s of registry.get(this.memory) ?? []) if (s.vmas.list.some((v) => v.file === file)) mapped = true;
      if (!mapped) file.release();
    }
  }

  /** Where a hole below `v` must end: its start, or for a stack the start of its guard gap (`vm_start_gap`). */
  private gapStart(v: Vma): number {
    return v.growsDownTo < 0 ? v.start : Math.max(0, v.start - STACK_GUARD_GAP_PAGES * this.pageSize);
  }

  /** Whether `[start, start + len)` is free, a stack's guard gap counting as taken. */
  private holeFits(start: number, len: number): boolean {
    const next = this.vmas.list[this.vmas.indexAfter(start)];
    return next === undefined || start + len <= this.gapStart(next);
  }

  /** Top-down search for a hole of `len` bytes below {@link mmapBase}, then above it. @returns -1 when none */
  private findHole(len: number): number {
    const list = this.vmas.list;
    let ceil = this.mmapBase;
    for (let i = list.length - 1; i >= -1; i--) {
      const v = i >= 0 ? list[i]! : null;
      const floor = v !== null ? v.end : this.mmapMinAddr;
      if (floor < ceil && ceil - floor >= len) return ceil - len;
      if (v !== null) ceil = Math.min(ceil, this.gapStart(v));
    }
    // Nothing below the base: bottom-up above it.
    let lo = this.mmapBase;
    for (const v of list) {
      if (v.end <= lo) continue;
      if (this.gapStart(v) - lo >= len) return lo;
      lo = Math.max(lo, v.end);
    }
    return this.taskSize - lo >= len ? lo : -1;
  }

  private fail(errno: number): -1 {
    this.errno = errno;
    return MAP_FAILED as -1;
  }

  private emit(e: VmEvent): void {
    for (const l of this.listeners) l(e);
  }

  private emitIf(e: VmEvent): void {
    if (this.listeners.length > 0) this.emit(e);
  }
}

/**
 * Whether `[addr, end)` wraps around a 64-bit address space as C's `start + len` would: `end`
 * past 2^64, or `addr` so large that the length was lost in rounding (`end === addr`).
 */
function wraps(addr: number, end: number): boolean {
  return end <= addr || end > 2 ** 64;
}

function isUint(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
