/**
 * A process: an address space laid out the way Linux's ELF loader (`load_elf_binary`) lays out
 * a non-PIE x86-64 program, with its program break.
 *
 * ```text
 *   48-bit (x86-64)                               32-bit (i386 on a 64-bit kernel)
 *   0x7ffffffff000 ┬ stack top (one page below 2^47)   0xfffff000
 *                  │ [stack]  rw-  grows down on demand to stackTop − stackSize
 *                  ┆ guard gap (stackSize + 256 pages, at least 128 MiB)
 *   mmapBase       ┼ mmap regions, placed top-down below here
 *                  ┆ ... the break may grow up to here (or to the data limit) ...
 *   start_brk      ┼ [heap]   rw-  break is byte-exact; the line ends at the page-rounded break
 *                  ┆ the rest of bss's last page (zeros: start_brk is page-aligned, as in Linux)
 *   end_data       ┼ bss      rw-  zeros; its first bytes share data's last page, as in ELF
 *   start_data     ┼ data     rw-  the image's data bytes       (named after the program)
 *   0x400000       ┴ text     r-x  the image's code bytes       0x08048000
 * ```
 *
 * Text starts at GNU ld's default base, rounded up to the page size: pages of 8 MiB put a
 * 48-bit text at 0x800000, pages of 64 KiB a 32-bit text at 0x08050000, and pages up to 4 MiB
 * (32 KiB in 32-bit) leave it where ld puts it. Data starts at the first page boundary after
 * text; bss starts at the byte after the data (`end_data`). The initial break (`start_brk`) is
 * the end of bss rounded up to a page, as Linux's ELF loader sets it (`set_brk`: `start_brk =
 * brk = PAGE_ALIGN(end of bss)`; Linux also randomizes it, the model does not). So `[heap]` is
 * a region of its own from a page boundary: the first `sbrk(n)` with n > 0 gives a `[heap]`
 * line, and the rest of bss's last page stays in the bss (or data) mapping, reading zero. From
 * start_brk on the break moves byte by byte.
 *
 * The malloc heap (`process.heap`) lives in this address space: it starts at the break when
 * first used, grows and trims it, and gives blocks at or over the mmap threshold mappings of
 * their own (see `PagedHeap`).
 */
import { MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../constants.js";
import { errnoName } from "../errno.js";
import { ArgumentError, VmError, checkInstance, checkOptions } from "../errors.js";
import { Brk, FieldCell } from "../heap/Brk.js";
import type { Heap } from "../heap/Heap.js";
import { PagedHeap, checkProcessHeapOptions, type ProcessHeapOptions } from "../heap/PagedHeap.js";
import { GlibcHeap } from "../heap/glibc/GlibcHeap.js";
import { PhysicalMemory } from "../memory/PhysicalMemory.js";
import type { AlignmentPolicy } from "../paging/Mmu.js";
import { AddressSpace, type ReplacementPolicy, type VmStatus } from "./AddressSpace.js";
import type { SwapSpace } from "./Swap.js";

/**
 * Where text is loaded in a 48-bit space: GNU ld's default for non-PIE x86-64 executables
 * (rounded up to the page size when pages are larger than 4 MiB).
 */
export const TEXT_BASE_64 = 0x400000;
/**
 * Where text is loaded in a 32-bit space: GNU ld's default for i386 executables (rounded up to
 * the page size when pages are larger than 32 KiB).
 */
export const TEXT_BASE_32 = 0x08048000;
/** The main stack's default limit (`ulimit -s` 8192 KiB). */
export const DEFAULT_STACK_SIZE = 8 * 1024 * 1024;
/** How much stack is mapped at spawn before any growth (Linux maps 128 KiB plus the argument pages). */
export const INITIAL_STACK_BYTES = 128 * 1024 + 4096;
/** Smallest gap left for the stack below the mmap area (Linux `MIN_GAP`). */
const MIN_GAP = 128 * 1024 * 1024;
/** Pages of guard between the stack's limit and the mmap area (Linux `stack_guard_gap`). */
const STACK_GUARD_PAGES = 256;

/** Options for {@link Process.spawn}. */
export interface ProcessOptions {
  /** The RAM the process's pages live in (shared with its forked children). */
  memory: PhysicalMemory;
  /** The program's code, loaded read-execute at the text base. @defaultValue none: no text region */
  text?: Uint8Array;
  /** The program's initialized data, loaded read-write after text. @defaultValue none */
  data?: Uint8Array;
  /** Bytes of zero-initialized data (`.bss`) after the data. @defaultValue 0 */
  bssSize?: number;
  /** The most the main stack may grow to, in bytes (`RLIMIT_STACK`), rounded up to pages. @defaultValue 8 MiB */
  stackSize?: number;
  /**
   * The most bytes of heap plus data the break may give (`RLIMIT_DATA`, checked as `brk(2)`
   * checks it: `(break − start_brk) + (end_data − start_data) ≤ dataLimit`).
   * @defaultValue unlimited: the break may grow up to the mmap area
   */
  dataLimit?: number;
  /** Where evicted anonymous pages go. @defaultValue none */
  swap?: SwapSpace;
  /** Page-replacement policy. @defaultValue "clock" */
  replacement?: ReplacementPolicy;
  /** Most pages resident at once. @defaultValue no limit but RAM */
  maxResidentPages?: number;
  /** Virtual address width. @defaultValue 48 */
  addressBits?: 32 | 48;
  /** Misaligned multi-byte accesses. @defaultValue "ignore" */
  alignment?: AlignmentPolicy;
  /** The program's path, shown in `/proc/self/maps` on the text and data lines. @defaultValue "/a.out" */
  path?: string;
  /** Options of the malloc heap (`process.heap`): mmap and trim thresholds, top pad, data model. */
  heap?: ProcessHeapOptions;
}

/** The process's layout, like the fields of Linux's `mm_struct` (all byte addresses). */
export interface ProcessLayout {
  /** First byte of text (`start_code`): the text base rounded up to the page size. */
  readonly startCode: number;
  /** The byte after the text image (`end_code`). */
  readonly endCode: number;
  /** First byte of data, page-aligned (`start_data`). */
  readonly startData: number;
  /** The byte after the data image, where bss starts (`end_data`). */
  readonly endData: number;
  /** The initial break: the end of bss rounded up to a page, as Linux sets it (`start_brk`). */
  readonly startBrk: number;
  /** The highest break allowed (the mmap area, or the data limit). */
  readonly brkLimit: number;
  /** Top of the region `mmap` fills top-down. */
  readonly mmapBase: number;
  /** The byte after the stack: the initial stack pointer sits below it (`start_stack`). */
  readonly stackTop: number;
  /** The lowest address the stack may grow down to (`stackTop − stackSize`). */
  readonly stackLimit: number;
}

let nextPid = 1;

/**
 * A process: an {@link AddressSpace} holding text, data, bss, a heap grown by `brk`, mmap
 * regions and a stack that grows down on demand (see the file's diagram for the addresses),
 * with a malloc heap running inside it ({@link Process.heap}).
 */
export class Process {
  /** Process id: 1, 2, … in the order processes are spawned or forked. */
  readonly pid: number;
  /** The parent's pid, or 0 for a spawned process. */
  readonly ppid: number;
  /** The virtual address space. */
  readonly as: AddressSpace;
  /** Where everything is. */
  readonly layout: ProcessLayout;
  private readonly brkState: Brk;
  private readonly heapOptions: ProcessHeapOptions;
  private heapState: PagedHeap | GlibcHeap | null;

  private constructor(as: AddressSpace, layout: ProcessLayout, brk: Brk, ppid: number, heapOptions: ProcessHeapOptions, heap: PagedHeap | GlibcHeap | null) {
    this.pid = nextPid++;
    this.ppid = ppid;
    this.as = as;
    this.layout = layout;
    this.brkState = brk;
    this.heapOptions = heapOptions;
    this.heapState = heap;
  }

  /**
   * The process's malloc heap: a {@link Heap} with the same C semantics as on linear memory,
   * its metadata and blocks in this address space. It is set up on first use, as glibc's
   * malloc is on the first call: the break moves then (rounded up to 16, plus the heap's
   * header and first top). Small blocks come from `brk`, blocks at or over the mmap threshold
   * from `mmap`, unmapped again by `free`. Read and write blocks through {@link Process.as}.
   */
  get heap(): Heap<AddressSpace> {
    if (this.heapState === null) {
      const o = this.heapOptions;
      this.heapState = o.allocator === "glibc" ? GlibcHeap.create(this.as, this.brkState, o) : PagedHeap.create(this.as, this.brkState, o);
    }
    return this.heapState;
  }

  /**
   * Creates a process from a program image, as `execve(2)` would: text mapped read-execute,
   * data read-write, bss zeroed, an empty heap from the first page boundary after bss and the
   * stack at the top.
   * @throws ArgumentError on a bad option, or when the image does not fit
   */
  static spawn(opts: ProcessOptions): Process {
    checkOptions(opts, "Process.spawn");
    checkInstance(opts.memory, PhysicalMemory, "Process.spawn: memory");
    const text = opts.text ?? new Uint8Array(0);
    const data = opts.data ?? new Uint8Array(0);
    const bssSize = opts.bssSize ?? 0;
    const stackSizeIn = opts.stackSize ?? DEFAULT_STACK_SIZE;
    const dataLimit = opts.dataLimit ?? Infinity;
    const path = opts.path ?? "/a.out";
    if (!(text instanceof Uint8Array)) throw new ArgumentError("Process.spawn: text must be a Uint8Array");
    if (!(data instanceof Uint8Array)) throw new ArgumentError("Process.spawn: data must be a Uint8Array");
    if (!Number.isSafeInteger(bssSize) || bssSize < 0) throw new ArgumentError(`Process.spawn: bssSize must be a non-negative integer, got ${String(bssSize)}`);
    if (!Number.isSafeInteger(stackSizeIn) || stackSizeIn <= 0) throw new ArgumentError(`Process.spawn: stackSize must be a positive integer, got ${String(stackSizeIn)}`);
    if (dataLimit !== Infinity && (!Number.isSafeInteger(dataLimit) || dataLimit < 0)) throw new ArgumentError(`Process.spawn: dataLimit must be a non-negative integer, got ${String(dataLimit)}`);
    if (typeof path !== "string" || path === "") throw new ArgumentError("Process.spawn: path must be a non-empty string");
    checkProcessHeapOptions(opts.heap ?? {});

    const ps = opts.memory.pageSize;
    const up = (n: number): number => Math.ceil(n / ps) * ps;
    const addressBits = opts.addressBits ?? 48;
    const taskSize = addressBits === 32 ? 2 ** 32 : 2 ** 47;
    // Linux: the stack ends one page below the top of user space (x86-64 TASK_SIZE_MAX), and
    // mmap_base leaves the stack its rlimit plus a guard gap, clamped to [128 MiB, 5/6 of it].
    const stackTop = taskSize - ps;
    const stackSize = up(stackSizeIn);
    const gap = Math.min(Math.max(stackSize + STACK_GUARD_PAGES * ps, MIN_GAP), Math.floor((taskSize / 6) * 5));
    const mmapBase = Math.floor((taskSize - gap) / ps) * ps;
    if (stackSize >= stackTop - mmapBase) throw new ArgumentError(`Process.spawn: stackSize ${stackSize} does not fit below 0x${stackTop.toString(16)}`);

    // Mappings start on page boundaries: pages larger than the text base's alignment move it up
    // to the next one (4 KiB pages keep GNU ld's addresses).
    const startCode = up(addressBits === 32 ? TEXT_BASE_32 : TEXT_BASE_64);
    const endCode = startCode + text.length;
    const startData = up(endCode);
    const endData = startData + data.length;
    const endBss = endData + bssSize;
    // Linux set_brk: start_brk = brk = PAGE_ALIGN(end of bss), so the heap is a region of its own.
    const startBrk = up(endBss);
    if (startBrk > mmapBase) throw new ArgumentError(`Process.spawn: the image (${text.length + data.length + bssSize} bytes) does not fit below the mmap area`);
    const heapLimit = dataLimit === Infinity ? mmapBase : Math.min(mmapBase, startBrk + dataLimit - data.length);
    if (heapLimit < startBrk) throw new ArgumentError(`Process.spawn: dataLimit ${dataLimit} is smaller than the data (${data.length} bytes)`);

    const as = new AddressSpace({
      memory: opts.memory,
      addressBits,
      mmapBase,
      ...(opts.swap !== undefined ? { swap: opts.swap } : {}),
      ...(opts.replacement !== undefined ? { replacement: opts.replacement } : {}),
      ...(opts.maxResidentPages !== undefined ? { maxResidentPages: opts.maxResidentPages } : {}),
      ...(opts.alignment !== undefined ? { alignment: opts.alignment } : {}),
    });

    // Loading the image can run out of RAM (OutOfMemoryError): the half-built address space
    // then gives its frames and swap slots back, as a failed execve leaves nothing behind.
    try {
      const must = (r: number, what: string): void => {
        if (r === MAP_FAILED) throw new VmError(`Process.spawn: ${what} failed (${errnoName(as.errno)})`);
      };
      const fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      if (text.length > 0) {
        // An anonymous copy of the image rather than a file mapping: written, then sealed r-x.
        must(as.mmap(startCode, text.length, PROT_READ | PROT_WRITE, fixed), "mapping text");
        as.writeBytes(startCode, text);
        must(as.mprotect(startCode, text.length, PROT_READ | PROT_EXEC), "protecting text");
        must(as.label(startCode, text.length, path), "naming text");
      }
      if (data.length > 0) {
        must(as.mmap(startData, data.length, PROT_READ | PROT_WRITE, fixed), "mapping data");
        as.writeBytes(startData, data);
        // Named like Linux's file-backed data line, which also keeps it apart from bss.
        must(as.label(startData, data.length, path), "naming data");
      }
      // bss: its first bytes are the zeroed tail of data's last page; whole pages beyond it, up
      // to start_brk, are fresh anonymous memory (the zero page until written).
      const bssFrom = up(endData);
      if (startBrk > bssFrom) must(as.mmap(bssFrom, startBrk - bssFrom, PROT_READ | PROT_WRITE, fixed), "mapping bss");

      const stackStart = stackTop - Math.min(stackSize, up(INITIAL_STACK_BYTES));
      must(as.mmap(stackStart, stackTop - stackStart, PROT_READ | PROT_WRITE, fixed), "mapping the stack");
      must(as.label(stackStart, stackTop - stackStart, "[stack]"), "naming the stack");
      must(as.setGrowsDown(stackStart, stackTop - stackSize), "making the stack grow down");
    } catch (e) {
      as.close();
      throw e;
    }

    const brk = new Brk(as, { start: startBrk, limit: heapLimit });
    const layout: ProcessLayout = Object.freeze({
      startCode,
      endCode,
      startData,
      endData,
      startBrk,
      brkLimit: heapLimit,
      mmapBase,
      stackTop,
      stackLimit: stackTop - stackSize,
    });
    return new Process(as, layout, brk, 0, { ...(opts.heap ?? {}) }, null);
  }

  /** `errno` of the last failing `brk`/`sbrk` (ENOMEM). */
  get errno(): number {
    return this.brkState.errno;
  }
  set errno(value: number) {
    this.brkState.errno = value;
  }

  /** The current break, exact to the byte (what `sbrk(0)` returns). */
  get currentBreak(): number {
    return this.brkState.current;
  }

  /**
   * Sets the program break to `addr` — Linux `brk(2)` as glibc wraps it. Growing maps whole
   * pages named `[heap]`; shrinking unmaps the whole pages above the new page-rounded break,
   * so growing again gives zero-filled pages.
   * @returns 0, or -1 with {@link errno} = ENOMEM (below the heap start, past the limit, or
   *   into another mapping); the break is then unchanged
   */
  brk(addr: number): 0 | -1 {
    return this.brkState.brk(addr);
  }

  /**
   * Moves the break by `increment` bytes — `sbrk(3)`; `sbrk(0)` asks where it is.
   * @returns the previous break, or -1 with {@link errno} = ENOMEM (EINVAL for an increment
   *   that is not an integer) and the break unchanged
   */
  sbrk(increment: number): number {
    return this.brkState.sbrk(increment);
  }

  /**
   * A child process — `fork(2)`: a copy-on-write copy of the address space (same RAM and swap),
   * the same layout and break; from then on each moves its own break.
   */
  fork(): Process {
    const as = this.as.fork();
    const parent = this.brkState;
    const brk = new Brk(as, { start: parent.start, limit: parent.limit }, new FieldCell(parent.current));
    const h = this.heapState;
    const heap = h === null ? null : h instanceof GlibcHeap ? GlibcHeap.forkOf(h, as, brk) : PagedHeap.forkOf(h, as, brk);
    return new Process(as, this.layout, brk, this.pid, this.heapOptions, heap);
  }

  /** The text of `/proc/self/maps`, with the program's path, `[heap]` and `[stack]` named. */
  maps(): string {
    return this.as.maps();
  }

  /** The address space's counters (`/proc/self/status` and `getrusage`). */
  status(): VmStatus {
    return this.as.status();
  }

  /** Ends the process (`exit(2)`): every frame and swap slot it holds is released. */
  exit(): void {
    this.heapState?.close();
    this.as.close();
  }
}
