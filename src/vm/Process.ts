/**
 * A process: an address space laid out the way Linux lays out a static gcc binary on x86-64
 * with ASLR off (`setarch -R`), with its program break. Checked line by line against the real
 * thing: scripts/linux/layout.c, recorded in test/fixtures/linux/layout-*.txt.
 *
 * ```text
 *   48-bit (x86-64)                                                    maps line
 *   0xffffffffff600000 ── [vsyscall]  --xp, above user space (64-bit only)
 *   0x7ffffffff000 ┬ stack top: one page below 2^47 (TASK_SIZE_MAX)
 *                  │ [stack]  rw-p  132 KiB mapped, grows down on demand to top − stackSize
 *                  ┆ gap: stackSize + 256 guard pages, at least 128 MiB (Linux mmap_base)
 *   0x7ffff7fff000 ┼ mmapBase
 *                  │ [vdso]         r-xp  8 KiB   the first mappings of the process, placed
 *                  │ [vvar_vclock]  r--p  8 KiB   top-down from mmapBase as Linux's
 *   0x7ffff7ff7000 ┼ [vvar]         r--p 16 KiB   arch_setup_additional_pages does
 *                  │ mmap regions, placed top-down below the vdso
 *                  ┆ ... the break may grow up to a page below the lowest of them ...
 *   start_brk      ┼ [heap]   rw-p  break is byte-exact; the line ends at the page-rounded break
 *                  │ bss      rw-p  anonymous: the rest of bss past the data's last page
 *                  │ data     rw-p  from the file             ┐ one LOAD RW segment; relro is
 *                  │ relro    r--p  from the file             ┘ sealed after loading
 *                  │ rodata   r--p  from the file
 *   start_code     │ text     r-xp  from the file
 *   0x400000       ┴ headers  r--p  from the file (offset 0)
 * ```
 *
 * The program is a file (`MemFile`, named `path`, read-only) that `spawn` builds from the
 * options as GNU ld lays out a static executable: an ELF header page, then text, rodata,
 * relro, data, each from a page boundary and at least a page long, and bss after the data
 * (see `ElfImage.ts` for the rules and the file offsets). Its five segments are mapped
 * `MAP_PRIVATE` from that file, so they are demand-paged from it: the first touch of a page is
 * a major fault that reads the file (later ones, in another process over the same RAM, find
 * it in the page cache), and the first write to a data page copies it. `pie: true` loads the
 * same image at Linux's `ELF_ET_DYN_BASE` instead (0x555555554000; the model has no dynamic
 * loader, so nothing else is mapped for it). In a 32-bit space (i386 on a 64-bit kernel) the
 * program is at 0x08048000 (a PIE at 0x400000), the stack ends at 0xffffe000, and there is no
 * vsyscall page.
 *
 * Text starts at GNU ld's default base rounded up to the page size: pages of 8 MiB put a
 * 48-bit program at 0x800000, pages of 64 KiB a 32-bit one at 0x08050000, and pages up to 4
 * MiB (32 KiB in 32-bit) leave it where ld puts it. The initial break (`start_brk`) is the end
 * of bss rounded up to a page, as Linux's ELF loader sets it (`set_brk`); Linux also
 * randomizes it, the model does not. So `[heap]` is a region of its own from a page boundary:
 * the first `sbrk(n)` with n > 0 gives a `[heap]` line. From start_brk on the break moves byte
 * by byte.
 *
 * The malloc heap (`process.heap`) lives in this address space: it starts at the break when
 * first used, grows and trims it, and gives blocks at or over the mmap threshold mappings of
 * their own (see `PagedHeap`).
 */
import { MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../constants.js";
import { errnoName } from "../errno.js";
import { ArgumentError, VmError, checkInstance, checkOptions, type OptionKeys } from "../errors.js";
import { Brk, FieldCell } from "../heap/Brk.js";
import type { Heap } from "../heap/Heap.js";
import { PagedHeap, checkProcessHeapOptions, type ProcessHeapOptions } from "../heap/PagedHeap.js";
import { GlibcHeap } from "../heap/glibc/GlibcHeap.js";
import { PhysicalMemory } from "../memory/PhysicalMemory.js";
import type { AlignmentPolicy } from "../paging/Mmu.js";
import { AddressSpace, taskSizeOf, type ReplacementPolicy, type VmStatus } from "./AddressSpace.js";
import { buildImage, checkPart, layoutImage } from "./ElfImage.js";
import { MemFile } from "./MemFile.js";
import type { SwapSpace } from "./Swap.js";

/**
 * Where the program is loaded in a 48-bit space (its header page; text follows it): GNU ld's
 * default for non-PIE x86-64 executables (rounded up to the page size when pages are larger
 * than 4 MiB).
 */
export const TEXT_BASE_64 = 0x400000;
/**
 * Where the program is loaded in a 32-bit space: GNU ld's default for i386 executables
 * (rounded up to the page size when pages are larger than 32 KiB).
 */
export const TEXT_BASE_32 = 0x08048000;
/** Where a PIE is loaded in a 48-bit space with ASLR off: Linux's `ELF_ET_DYN_BASE`, 2/3 of the user space. */
export const PIE_BASE_64 = 0x555555554000;
/** Where a PIE is loaded in a 32-bit space: Linux's `ELF_ET_DYN_BASE` for 32-bit processes (from the kernel's source; not measured here). */
export const PIE_BASE_32 = 0x400000;
/** Bytes of the `[vvar]`, `[vvar_vclock]` and `[vdso]` mappings, as this machine's Linux 6.18 maps them. */
export const VDSO_LAYOUT = Object.freeze({ vvar: 16 * 1024, vvarVclock: 8 * 1024, vdso: 8 * 1024 });
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
  /** The program's code (`.text`), mapped read-execute after the header page. @defaultValue none: a page of zeros */
  text?: Uint8Array;
  /** The program's constants (`.rodata`), mapped read-only after text. @defaultValue none: a page of zeros */
  rodata?: Uint8Array;
  /**
   * Data read-only after relocation (`.data.rel.ro`, `.got`): mapped with the data, then made
   * read-only, as the C runtime does at startup. It ends where the data's first page starts.
   * @defaultValue none: a page of zeros
   */
  relro?: Uint8Array;
  /** The program's initialized data (`.data`), mapped read-write (copy-on-write from the file). @defaultValue none: a page of zeros */
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
  /** The program's path: its file's name, shown in `/proc/self/maps` on its five lines. @defaultValue "/a.out" */
  path?: string;
  /**
   * Load the program as a position-independent executable, at `PIE_BASE_64` (or
   * `PIE_BASE_32`) as Linux does with ASLR off, instead of GNU ld's fixed base.
   * @defaultValue false
   */
  pie?: boolean;
  /** Options of the malloc heap (`process.heap`): mmap and trim thresholds, top pad, data model. */
  heap?: ProcessHeapOptions;
}

/** The keys of {@link ProcessOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<ProcessOptions> = { memory: 1, text: 1, data: 1, bssSize: 1, stackSize: 1, dataLimit: 1, swap: 1, replacement: 1, maxResidentPages: 1, addressBits: 1, alignment: 1, path: 1, heap: 1, rodata: 1, relro: 1, pie: 1 };

/** The process's layout, like the fields of Linux's `mm_struct` (all byte addresses). */
export interface ProcessLayout {
  /** Where the program is loaded: its ELF header page (the text base, or the PIE base). */
  readonly base: number;
  /** First byte of text (`start_code`): the page after the header page. */
  readonly startCode: number;
  /** The byte after the text image (`end_code`). */
  readonly endCode: number;
  /** First byte of the read-write segment, where relro starts (`start_data`). */
  readonly startData: number;
  /** The byte after the data image, where bss starts (`end_data`). */
  readonly endData: number;
  /** The initial break: the end of bss rounded up to a page, as Linux sets it (`start_brk`). */
  readonly startBrk: number;
  /** The highest break allowed (the mmap area, or the data limit). */
  readonly brkLimit: number;
  /** Top of the region `mmap` fills top-down (the vdso's end). */
  readonly mmapBase: number;
  /** First byte of `[vvar]`: below it `mmap` places everything else. */
  readonly vvar: number;
  /** First byte of `[vdso]`. */
  readonly vdso: number;
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
 * @example
 * ```ts
 * import { PhysicalMemory, Process } from "vmheap";
 *
 * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }), text: new Uint8Array(5000), data: new Uint8Array(100), bssSize: 4096, path: "/usr/bin/demo" });
 * const heap = proc.heap;
 * const small = heap.malloc(100); // from the break: the [heap] line
 * const big = heap.malloc(1 << 20); // at or over the mmap threshold: a mapping of its own
 * proc.as.writeBytes(small, new TextEncoder().encode("hello"));
 * console.log(small.toString(16), big.toString(16), heap.mallinfo().hblks); // 407830 7ffff7ef6010 1
 * console.log(proc.maps());
 * // 00400000-00401000 r--p 00000000 fe:00 604572                             /usr/bin/demo
 * // 00401000-00403000 r-xp 00001000 fe:00 604572                             /usr/bin/demo
 * // 00403000-00404000 r--p 00003000 fe:00 604572                             /usr/bin/demo
 * // 00404000-00405000 r--p 00004000 fe:00 604572                             /usr/bin/demo
 * // 00405000-00406000 rw-p 00005000 fe:00 604572                             /usr/bin/demo
 * // 00406000-00407000 rw-p 00000000 00:00 0
 * // 00407000-00409000 rw-p 00000000 00:00 0                                  [heap]
 * // 7ffff7ef6000-7ffff7ff7000 rw-p 00000000 00:00 0
 * // 7ffff7ff7000-7ffff7ffb000 r--p 00000000 00:00 0                          [vvar]
 * // 7ffff7ffb000-7ffff7ffd000 r--p 00000000 00:00 0                          [vvar_vclock]
 * // 7ffff7ffd000-7ffff7fff000 r-xp 00000000 00:00 0                          [vdso]
 * // 7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
 * // ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
 *
 * heap.free(big); // unmapped at once
 * const child = proc.fork();
 * console.log(child.ppid === proc.pid, new TextDecoder().decode(child.as.readBytes(small, 5))); // true hello
 * ```
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
   * Creates a process from a program image, as `execve(2)` would for a static executable: the
   * program's file built from the parts and mapped in five segments (header page, text, rodata,
   * relro, data), the rest of bss anonymous, an empty heap from the page after bss, the vdso at
   * the top of the mmap area and the stack at the top (see the file's diagram).
   * @throws ArgumentError on a bad option, or when the image does not fit
   * @example
   * ```ts
   * import { PhysicalMemory, Process } from "vmheap";
   *
   * const code = new Uint8Array(100); // the program's machine code
   * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 1024 }), text: code, bssSize: 4096 });
   * console.log(proc.maps());
   * // 00400000-00401000 r--p 00000000 fe:00 754419                             /a.out
   * // 00401000-00402000 r-xp 00001000 fe:00 754419                             /a.out
   * // 00402000-00403000 r--p 00002000 fe:00 754419                             /a.out
   * // 00403000-00404000 r--p 00003000 fe:00 754419                             /a.out
   * // 00404000-00405000 rw-p 00004000 fe:00 754419                             /a.out
   * // 7ffff7ff7000-7ffff7ffb000 r--p 00000000 00:00 0                          [vvar]
   * // 7ffff7ffb000-7ffff7ffd000 r--p 00000000 00:00 0                          [vvar_vclock]
   * // 7ffff7ffd000-7ffff7fff000 r-xp 00000000 00:00 0                          [vdso]
   * // 7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
   * // ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
   *
   * const { startCode, startData, startBrk, stackTop } = proc.layout;
   * console.log([startCode, startData, startBrk, stackTop].map((a) => a.toString(16))); // [ '401000', '404000', '405000', '7ffffffff000' ]
   * // a 32-bit process: i386's text base
   * const p32 = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }), text: code, addressBits: 32 });
   * console.log(p32.layout.startCode.toString(16), p32.layout.stackTop.toString(16)); // 8049000 ffffe000
   * ```
   */
  static spawn(opts: ProcessOptions): Process {
    checkOptions(opts, "Process.spawn", OPTION_KEYS);
    checkInstance(opts.memory, PhysicalMemory, "Process.spawn: memory");
    const text = checkPart(opts.text, "text");
    const rodata = checkPart(opts.rodata, "rodata");
    const relro = checkPart(opts.relro, "relro");
    const data = checkPart(opts.data, "data");
    const bssSize = opts.bssSize ?? 0;
    const stackSizeIn = opts.stackSize ?? DEFAULT_STACK_SIZE;
    const dataLimit = opts.dataLimit ?? Infinity;
    const path = opts.path ?? "/a.out";
    const pie = opts.pie ?? false;
    if (!Number.isSafeInteger(bssSize) || bssSize < 0) throw new ArgumentError(`Process.spawn: bssSize must be a non-negative integer, got ${String(bssSize)}`);
    if (!Number.isSafeInteger(stackSizeIn) || stackSizeIn <= 0) throw new ArgumentError(`Process.spawn: stackSize must be a positive integer, got ${String(stackSizeIn)}`);
    if (dataLimit !== Infinity && (!Number.isSafeInteger(dataLimit) || dataLimit < 0)) throw new ArgumentError(`Process.spawn: dataLimit must be a non-negative integer, got ${String(dataLimit)}`);
    if (typeof path !== "string" || path === "") throw new ArgumentError("Process.spawn: path must be a non-empty string");
    if (typeof pie !== "boolean") throw new ArgumentError(`Process.spawn: pie must be a boolean, got ${String(pie)}`);
    checkProcessHeapOptions(opts.heap ?? {});

    const ps = opts.memory.pageSize;
    const up = (n: number): number => Math.ceil(n / ps) * ps;
    const addressBits = opts.addressBits ?? 48;
    const wide = addressBits === 48;
    // Linux: the stack ends at the top of user space (x86-64's TASK_SIZE_MAX, one page below
    // 2^47; i386's IA32_PAGE_OFFSET, 0xffffe000), and mmap_base leaves the stack its rlimit plus
    // a guard gap, clamped to [128 MiB, 5/6 of it], below that top.
    const stackTop = taskSizeOf(addressBits, ps);
    const stackSize = up(stackSizeIn);
    const gap = Math.min(Math.max(stackSize + STACK_GUARD_PAGES * ps, MIN_GAP), Math.floor((stackTop / 6) * 5));
    const mmapBase = Math.floor((stackTop - gap) / ps) * ps;
    if (stackSize >= stackTop - mmapBase) throw new ArgumentError(`Process.spawn: stackSize ${stackSize} does not fit below 0x${stackTop.toString(16)}`);
    const vdsoBytes = up(VDSO_LAYOUT.vvar) + up(VDSO_LAYOUT.vvarVclock) + up(VDSO_LAYOUT.vdso);

    // Mappings start on page boundaries: pages larger than the base's alignment move it up to
    // the next one (4 KiB pages keep GNU ld's and Linux's addresses).
    const base = up(pie ? (wide ? PIE_BASE_64 : PIE_BASE_32) : wide ? TEXT_BASE_64 : TEXT_BASE_32);
    const parts = { text, rodata, relro, data, bssSize };
    const img = layoutImage(parts, ps, wide ? 64 : 32);
    const startBrk = base + img.brk;
    if (startBrk > mmapBase - vdsoBytes) {
      throw new ArgumentError(`Process.spawn: the image (${text.length + rodata.length + relro.length + data.length + bssSize} bytes) does not fit below the mmap area`);
    }
    const dataBytes = img.endData - img.dataStart; // what RLIMIT_DATA counts besides the heap
    const heapLimit = dataLimit === Infinity ? mmapBase : Math.min(mmapBase, startBrk + dataLimit - dataBytes);
    if (heapLimit < startBrk) throw new ArgumentError(`Process.spawn: dataLimit ${dataLimit} is smaller than the data (${dataBytes} bytes)`);
    // The file reaches at least the end of the last page mapped from it, as a linker's output
    // does (its section headers and symbols follow the data): an image with no data would
    // otherwise map a page wholly past the end of its file, a bus error to touch.
    const image = buildImage(parts, img, base, pie, wide ? 64 : 32);
    const mappedEnd = img.dataEnd - img.shift;
    const bytes = image.length >= mappedEnd ? image : new Uint8Array(mappedEnd);
    if (bytes !== image) bytes.set(image);
    const file = new MemFile(bytes, path, { writable: false });

    const as = new AddressSpace({
      memory: opts.memory,
      addressBits,
      mmapBase,
      vsyscall: wide,
      startStack: stackTop - 1, // in the stack's top page, where Linux's initial stack pointer is
      ...(opts.swap !== undefined ? { swap: opts.swap } : {}),
      ...(opts.replacement !== undefined ? { replacement: opts.replacement } : {}),
      ...(opts.maxResidentPages !== undefined ? { maxResidentPages: opts.maxResidentPages } : {}),
      ...(opts.alignment !== undefined ? { alignment: opts.alignment } : {}),
    });

    let vvar = 0;
    // A failing step leaves nothing behind: the half-built address space gives back whatever
    // it holds, as a failed execve does.
    try {
      const must = (r: number, what: string): number => {
        if (r === MAP_FAILED) throw new VmError(`Process.spawn: ${what} failed (${errnoName(as.errno)})`);
        return r;
      };
      const load = (rel: number, end: number, prot: number, what: string): void => {
        must(as.mmap(base + rel, end - rel, prot, MAP_PRIVATE | MAP_FIXED, file, rel - (rel >= img.rwStart ? img.shift : 0)), what);
      };
      // load_elf_binary: each PT_LOAD from its file, private (copy-on-write); the read-write one
      // whole, then its relro part sealed read-only as the C runtime does (_dl_protect_relro).
      load(0, img.textStart, PROT_READ, "mapping the ELF headers");
      load(img.textStart, img.rodataStart, PROT_READ | PROT_EXEC, "mapping text");
      load(img.rodataStart, img.rwStart, PROT_READ, "mapping rodata");
      load(img.rwStart, img.dataEnd, PROT_READ | PROT_WRITE, "mapping data");
      must(as.mprotect(base + img.rwStart, img.relroEnd - img.rwStart, PROT_READ), "sealing relro");
      // bss: its first bytes are the zeros past the end of the file in data's last page; whole
      // pages beyond it, up to start_brk, are fresh anonymous memory (the zero page until written).
      const anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      if (img.brk > img.dataEnd) must(as.mmap(base + img.dataEnd, img.brk - img.dataEnd, PROT_READ | PROT_WRITE, anon), "mapping bss");

      const stackStart = stackTop - Math.min(stackSize, up(INITIAL_STACK_BYTES));
      must(as.mmap(stackStart, stackTop - stackStart, PROT_READ | PROT_WRITE, anon), "mapping the stack");
      must(as.label(stackStart, stackTop - stackStart, "[stack]"), "naming the stack");
      must(as.setGrowsDown(stackStart, stackTop - stackSize), "making the stack grow down");

      // The vdso: the process's first mmap, so the top of the mmap area (map_vdso).
      vvar = must(as.mmap(0, vdsoBytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), "mapping the vdso");
      const vclock = vvar + up(VDSO_LAYOUT.vvar);
      const vdso = vclock + up(VDSO_LAYOUT.vvarVclock);
      must(as.mprotect(vdso, up(VDSO_LAYOUT.vdso), PROT_READ | PROT_EXEC), "making the vdso executable");
      must(as.label(vvar, vclock - vvar, "[vvar]"), "naming [vvar]");
      must(as.label(vclock, vdso - vclock, "[vvar_vclock]"), "naming [vvar_vclock]");
      must(as.label(vdso, up(VDSO_LAYOUT.vdso), "[vdso]"), "naming [vdso]");
    } catch (e) {
      as.close();
      throw e;
    }

    const brk = new Brk(as, { start: startBrk, limit: heapLimit });
    const layout: ProcessLayout = Object.freeze({
      base,
      startCode: base + img.textStart,
      endCode: base + img.textStart + text.length,
      startData: base + img.dataStart,
      endData: base + img.endData,
      startBrk,
      brkLimit: heapLimit,
      mmapBase,
      vvar,
      vdso: vvar + up(VDSO_LAYOUT.vvar) + up(VDSO_LAYOUT.vvarVclock),
      stackTop,
      stackLimit: stackTop - stackSize,
    });
    return new Process(as, layout, brk, 0, { ...(opts.heap ?? {}) }, null);
  }

  /** `errno` of the last failing `brk`/`sbrk` (ENOMEM). */
  get errno(): number {
    return this.brkState.errno;
  }
  /** Sets `errno` (a C program may reset it to 0 before a call, to tell failures apart). */
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
   * @example
   * ```ts
   * import { Errno, PhysicalMemory, Process } from "vmheap";
   *
   * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }), bssSize: 100 });
   * const start = proc.sbrk(0);
   * console.log(start.toString(16), proc.sbrk(100).toString(16), proc.currentBreak.toString(16)); // 405000 405000 405064
   * // the [heap] line ends at the page-rounded break
   * console.log(proc.maps().split("\n").find((l) => l.endsWith("[heap]"))); // 00405000-00406000 rw-p 00000000 00:00 0                                  [heap]
   * // below the heap's start: -1, ENOMEM, and the break stays
   * console.log(proc.brk(start - 4096), proc.errno === Errno.ENOMEM, proc.currentBreak.toString(16)); // -1 true 405064
   * ```
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

  /** The text of `/proc/self/maps`: the program's five lines, `[heap]`, the vdso, `[stack]`, `[vsyscall]`. */
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
