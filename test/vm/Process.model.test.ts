/**
 * Model-based test of `Process`: random brk / sbrk (valid and invalid), byte and 32-bit loads
 * and stores in text, data, bss, the heap, the stack (grow-down on demand, and past its limit)
 * and anonymous mmap regions, mmap / munmap, fork and exit, over at most three live processes
 * sharing one RAM. The model knows nothing of frames or page tables: per process an interval
 * map of mapped regions (protection and `/proc/self/maps` name), a sparse byte map of contents,
 * the expected break and errno. Every access must throw exactly the fault the model predicts
 * (type, address, access) or return the model's bytes; every brk/sbrk must return what
 * vm.md's rules give; `maps()` must list the model's regions, with one `[heap]` line covering
 * exactly [start_brk, page-up(break)) while nothing clobbered the heap, start_brk being the end
 * of bss rounded up to a page as Linux's ELF loader sets it. The program's five lines, the vdso
 * and the stack are where vm.md's layout puts them (derived here, not read from the process).
 *
 * FC_SEED=n reproduces a run (the seed is printed); FC_RUNS=n changes the number of runs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { Errno } from "../../src/errno.js";
import { MemoryFault, ProtectionFault, SegmentationFault, type Access } from "../../src/errors.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { Process, TEXT_BASE_32, TEXT_BASE_64, VDSO_LAYOUT } from "../../src/vm/Process.js";
import { fcSeed, thrown } from "./helpers/asKit.js";

const PS = 4096;
const FRAMES = 512;
const RW = PROT_READ | PROT_WRITE;
const NUM_RUNS = Number(process.env.FC_RUNS ?? 100);
/** Linux maps 128 KiB of stack plus the argument pages at exec. */
const INITIAL_STACK = 128 * 1024 + PS;
/** Pages of the window above the heap start where the test maps and unmaps with MAP_FIXED. */
const ZONE_A_PAGES = 14;
/** Pages of the window just below the mmap base (where top-down mmap puts regions). */
const ZONE_B_PAGES = 12;
const MAX_PROCS = 3;

const up = (n: number): number => Math.ceil(n / PS) * PS;
const down = (n: number): number => Math.floor(n / PS) * PS;
const hex = (n: number): string => "0x" + n.toString(16);

// ───────────────────────────────── variants ─────────────────────────────────

interface Variant {
  label: string;
  addressBits: 32 | 48;
  text: Uint8Array;
  data: Uint8Array;
  bssSize: number;
  stackSize?: number;
  dataLimit?: number;
}

const TEXT = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 1) & 0xff);
const DATA = Uint8Array.from({ length: 50 }, (_, i) => 200 - i);

const VARIANTS: Variant[] = [
  { label: "48-bit, bss ends mid-page, no data limit, 256 KiB stack", addressBits: 48, text: TEXT, data: DATA, bssSize: 10000, stackSize: 256 * 1024 },
  { label: "32-bit, bss ends mid-page, data limit, 8 MiB stack", addressBits: 32, text: TEXT, data: DATA, bssSize: 10000, dataLimit: DATA.length + 10 * PS + 123 },
  { label: "48-bit, bss ends within data's last page, no data limit, 64 KiB stack", addressBits: 48, text: TEXT, data: DATA, bssSize: 9, stackSize: 64 * 1024 },
  { label: "48-bit, bss ends on a page boundary, data limit, 128 KiB stack (all mapped at exec)", addressBits: 48, text: TEXT, data: DATA, bssSize: 2 * PS - DATA.length, stackSize: 128 * 1024, dataLimit: DATA.length + 6 * PS },
  { label: "32-bit, empty image (a page per segment, start_brk right after), no data limit, 64 KiB stack", addressBits: 32, text: new Uint8Array(0), data: new Uint8Array(0), bssSize: 0, stackSize: 64 * 1024 },
];

/** Where things are, derived from the variant by vm.md / Linux's rules (not read from the process). */
interface Layout {
  base: number;
  startCode: number;
  endCode: number;
  startData: number;
  endData: number;
  /** The byte after bss (not a field of the process's layout). */
  endBss: number;
  /** The end of bss rounded up to a page (Linux set_brk). */
  startBrk: number;
  /** First page of the heap: start_brk. */
  heapBase: number;
  brkLimit: number;
  mmapBase: number;
  vvar: number;
  vdso: number;
  stackTop: number;
  stackLimit: number;
  initialStack: number;
  /** The program's lines: [start, end, prot]. */
  program: Array<[number, number, number]>;
  /** The end of the data's file-backed line. */
  dataEnd: number;
}

function layoutOf(v: Variant, mmapBase: number): Layout {
  // Linux's TASK_SIZE: x86-64's ends a page below 2^47, an i386 process's at 0xffffe000 (the
  // stack ends there: test/fixtures/linux/task-top.txt, i386.txt).
  const taskSize = v.addressBits === 32 ? 0xffffe000 : 2 ** 47 - PS;
  // The program: a header page at the base, then text, rodata, relro and data, each from a
  // page boundary and at least a page long (rodata and relro are empty here).
  const seg = (n: number): number => Math.max(PS, up(n));
  const base = v.addressBits === 32 ? TEXT_BASE_32 : TEXT_BASE_64;
  const startCode = base + PS;
  const endCode = startCode + v.text.length;
  const rodata = startCode + seg(v.text.length);
  const relro = rodata + PS;
  const startData = relro + PS; // relro is empty: the read-write segment starts with the data
  const endData = startData + v.data.length;
  const dataEnd = startData + seg(v.data.length);
  const endBss = endData + v.bssSize;
  const startBrk = Math.max(up(endBss), dataEnd);
  const stackTop = taskSize;
  const stackSize = up(v.stackSize ?? 8 * 1024 * 1024);
  // RLIMIT_DATA as brk(2) checks it: (brk - start_brk) + (end_data - start_data) <= limit.
  const brkLimit = v.dataLimit === undefined ? mmapBase : Math.min(mmapBase, startBrk + v.dataLimit - v.data.length);
  // The vdso is the first thing mmap places: at the top of the mmap area.
  const vvar = mmapBase - VDSO_LAYOUT.vvar - VDSO_LAYOUT.vvarVclock - VDSO_LAYOUT.vdso;
  return {
    base,
    vvar,
    vdso: mmapBase - VDSO_LAYOUT.vdso,
    program: [
      [base, startCode, PROT_READ],
      [startCode, rodata, PROT_READ | PROT_EXEC],
      [rodata, relro, PROT_READ],
      [relro, startData, PROT_READ],
      [startData, dataEnd, RW],
    ],
    dataEnd,
    startCode,
    endCode,
    startData,
    endData,
    endBss,
    startBrk,
    heapBase: startBrk,
    brkLimit,
    mmapBase,
    stackTop,
    stackLimit: stackTop - stackSize,
    initialStack: stackTop - Math.min(stackSize, up(INITIAL_STACK)),
  };
}

// ───────────────────────────────── the model ─────────────────────────────────

interface Region {
  start: number;
  end: number;
  prot: number;
  /** The name column of /proc/self/maps ("" for plain anonymous memory). */
  name: string;
}

/** Disjoint page-aligned regions, sorted; not merged (comparisons merge both sides). */
class Regions {
  constructor(public list: Region[] = []) {}

  clone(): Regions {
    return new Regions(this.list.map((r) => ({ ...r })));
  }

  find(va: number): Region | undefined {
    return this.list.find((r) => r.start <= va && va < r.end);
  }

  overlaps(start: number, end: number): boolean {
    return this.list.some((r) => r.start < end && start < r.end);
  }

  remove(start: number, end: number): void {
    const out: Region[] = [];
    for (const r of this.list) {
      if (r.end <= start || r.start >= end) out.push(r);
      else {
        if (r.start < start) out.push({ ...r, end: start });
        if (r.end > end) out.push({ ...r, start: end });
      }
    }
    this.list = out;
  }

  add(r: Region): void {
    this.remove(r.start, r.end);
    this.list.push(r);
    this.list.sort((a, b) => a.start - b.start);
  }

  total(): number {
    return this.list.reduce((n, r) => n + (r.end - r.start), 0);
  }
}

/** Touching regions with the same perms and name, joined: how two maps listings are compared. */
function normalize(list: readonly { start: number; end: number; perms: string; name: string }[]): string[] {
  const out: { start: number; end: number; perms: string; name: string }[] = [];
  for (const r of list) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end === r.start && last.perms === r.perms && last.name === r.name) last.end = r.end;
    else out.push({ ...r });
  }
  return out.map((r) => `${hex(r.start)}-${hex(r.end)} ${r.perms} ${r.name}`);
}

const permsOf = (prot: number): string => ((prot & PROT_READ) !== 0 ? "r" : "-") + ((prot & PROT_WRITE) !== 0 ? "w" : "-") + ((prot & PROT_EXEC) !== 0 ? "x" : "-") + "p";

interface ModelProc {
  regions: Regions;
  /** Bytes ever written (or loaded from the image) and still mapped; everything else reads 0. */
  bytes: Map<number, number>;
  brk: number;
  /** The errno the process must show (set by failing brk/sbrk only). */
  errno: number;
  /**
   * Lowest address in [heapBase, page-up(brk)) a test mmap/munmap has replaced or removed
   * (Infinity when the heap is intact, so its [heap] line must be exactly the formula's).
   */
  clobbered: number;
}

interface Model {
  L: Layout;
  procs: ModelProc[];
}

interface Real {
  memory: PhysicalMemory;
  procs: Process[];
}

type Cmd = fc.Command<Model, Real>;

function dropBytes(m: ModelProc, start: number, end: number): void {
  for (const a of [...m.bytes.keys()]) if (a >= start && a < end) m.bytes.delete(a);
}

function unmap(m: ModelProc, start: number, end: number): void {
  m.regions.remove(start, end);
  dropBytes(m, start, end);
}

type Outcome = { fault: null } | { fault: typeof SegmentationFault | typeof ProtectionFault; address: number };

/**
 * One page's part of an access, as vm.md says: no region → grow the stack when the address is
 * in [stack limit, stack bottom) (keeping Linux's 256-page guard gap above an accessible region
 * below), else
 * SegmentationFault; a region forbidding the access → ProtectionFault.
 */
function touch(model: Model, m: ModelProc, va: number, access: Access): Outcome {
  let r = m.regions.find(va);
  if (r === undefined) {
    const above = m.regions.list.find((x) => x.start > va);
    const below = m.regions.list.filter((x) => x.end <= va).pop();
    if (above !== undefined && above.name === "[stack]" && va >= model.L.stackLimit && (below === undefined || below.prot === PROT_NONE || down(va) - below.end >= 256 * PS)) {
      above.start = down(va);
      r = above;
    } else return { fault: SegmentationFault, address: va };
  }
  const ok = access === "write" ? (r.prot & PROT_WRITE) !== 0 : (r.prot & PROT_READ) !== 0;
  return ok ? { fault: null } : { fault: ProtectionFault, address: va };
}

/** An access of `size` bytes at `va`, page by page in address order, as the MMU does it. */
function modelAccess(model: Model, m: ModelProc, va: number, size: number, access: Access): Outcome {
  const n1 = Math.min(size, PS - (va % PS));
  const first = touch(model, m, va, access);
  if (first.fault !== null || n1 === size) return first;
  return touch(model, m, va + n1, access);
}

/** brk(2) as vm.md, Linux and glibc's wrapper give it. */
function modelBrk(model: Model, m: ModelProc, addr: number): 0 | -1 {
  const L = model.L;
  if (!Number.isSafeInteger(addr) || addr < L.startBrk || addr > L.brkLimit) {
    m.errno = Errno.ENOMEM;
    return -1;
  }
  const o = up(m.brk);
  const n = up(addr);
  if (n > o) {
    // Linux's brk keeps a page of gap below the next mapping (newbrk + PAGE_SIZE <= next start).
    if (m.regions.overlaps(o, n + PS)) {
      m.errno = Errno.ENOMEM;
      return -1;
    }
    m.regions.add({ start: o, end: n, prot: RW, name: "[heap]" });
  } else if (n < o) {
    unmap(m, n, o);
    if (n <= m.clobbered) m.clobbered = Infinity;
  }
  m.brk = addr;
  return 0;
}

/** sbrk(3): the previous break, or -1; a non-integer increment is EINVAL (Brk's documented rule). */
function modelSbrk(model: Model, m: ModelProc, inc: number): number {
  if (!Number.isSafeInteger(inc)) {
    m.errno = Errno.EINVAL;
    return -1;
  }
  const old = m.brk;
  if (inc === 0) return old;
  return modelBrk(model, m, old + inc) === 0 ? old : -1;
}

// ───────────────────────────────── checks ─────────────────────────────────

interface MapsLine {
  start: number;
  end: number;
  perms: string;
  name: string;
}

/** A maps line: anonymous (`00000000 00:00 0`) or from a file (an offset, a device and an inode). */
const LINE = /^([0-9a-f]{8,})-([0-9a-f]{8,}) ([r-][w-][x-][ps]) (?:00000000 00:00 0|[0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} [1-9]\d*) ( *)(.*)$/;
const VSYSCALL = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

/** The lines of maps() but the vsyscall one, which must end a 48-bit process's maps (and only those). */
function parseMaps(text: string, addressBits: 32 | 48): MapsLine[] {
  expect(text.endsWith("\n") || text === "").toBe(true);
  const all = text.split("\n").filter((l) => l !== "");
  if (addressBits === 48) expect(all.pop()).toBe(VSYSCALL);
  return all.map((l) => {
    const g = LINE.exec(l);
    expect(g, `maps line ${JSON.stringify(l)}`).not.toBeNull();
    const name = g![5]!;
    if (name !== "") expect(l.length - name.length, `name column of ${JSON.stringify(l)}`).toBe(73);
    else expect(g![4]).toBe("");
    return { start: parseInt(g![1]!, 16), end: parseInt(g![2]!, 16), perms: g![3]!, name };
  });
}

/** maps() and vmSize against the model; the [heap] line against the formula while the heap is intact. */
function checkMaps(model: Model, m: ModelProc, p: Process): void {
  const lines = parseMaps(p.maps(), p.as.addressBits);
  const want = m.regions.list.map((r) => ({ start: r.start, end: r.end, perms: permsOf(r.prot), name: r.name }));
  expect(normalize(lines), `pid ${p.pid} maps`).toEqual(normalize(want));
  expect(p.status().vmSize).toBe(m.regions.total());
  checkHeapLine(model, m, lines);
}

function checkHeapLine(model: Model, m: ModelProc, lines: MapsLine[]): void {
  const heap = lines.filter((l) => l.name === "[heap]");
  if (m.clobbered !== Infinity) return;
  // (While intact. A mapping made inside the heap is [heap] too, with its own protection.)
  expect(heap.every((l) => l.perms === "rw-p")).toBe(true);
  const { heapBase } = model.L;
  const top = up(m.brk);
  // The heap starts at start_brk, the page after bss, and its line ends at the page-rounded
  // break; no line while that range is empty.
  const want = top > heapBase ? [`${hex(heapBase)}-${hex(top)}`] : [];
  expect(
    heap.map((l) => `${hex(l.start)}-${hex(l.end)}`),
    `[heap] with break ${hex(m.brk)}, start_brk ${hex(model.L.startBrk)}`,
  ).toEqual(want);
}

function expectFault(e: unknown, out: Outcome & { address: number }, access: Access, size: number): void {
  expect(e, `expected ${out.fault!.name} at ${hex(out.address)}`).toBeInstanceOf(out.fault!);
  // Exactly that class: a ProtectionFault is not a SegmentationFault and vice versa.
  expect((e as MemoryFault).constructor).toBe(out.fault);
  expect((e as MemoryFault).address).toBe(out.address);
  expect((e as MemoryFault).access).toBe(access);
  expect((e as MemoryFault).size).toBe(size);
}

// ───────────────────────────────── addresses and values ─────────────────────────────────

type AddrBase = "text" | "data" | "endBss" | "startBrk" | "break" | "breakPage" | "inHeap" | "heap" | "zoneB" | "stackBottom" | "stackLimit" | "stackTop";

/** An address relative to something the model knows (the break and the stack bottom move). */
function resolve(model: Model, m: ModelProc, base: AddrBase, delta: number): number {
  const L = model.L;
  switch (base) {
    case "text":
      return L.startCode + delta;
    case "data":
      return L.startData + delta;
    case "endBss":
      return L.endBss + delta;
    case "startBrk":
      return L.startBrk + delta;
    case "break":
      return m.brk + delta;
    case "breakPage":
      return up(m.brk) + delta;
    case "inHeap":
      // Somewhere below the break (delta: a fraction in millionths), else just above start_brk.
      return m.brk > L.startBrk ? L.startBrk + Math.floor(((m.brk - L.startBrk) * delta) / 1e6) : L.startBrk + (delta % 8);
    case "heap":
      return L.heapBase + delta;
    case "zoneB":
      return L.mmapBase - ZONE_B_PAGES * PS + delta;
    case "stackBottom":
      return m.regions.list.find((r) => r.name === "[stack]")!.start + delta;
    case "stackLimit":
      return L.stackLimit + delta;
    case "stackTop":
      return L.stackTop + delta;
  }
}

const pick = (n: number, i: number): number => i % n;

// ───────────────────────────────── commands ─────────────────────────────────

class AccessCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly base: AddrBase,
    readonly delta: number,
    readonly size: 1 | 4,
    readonly access: "read" | "write",
    readonly value: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = real.procs[i]!;
    const va = resolve(model, m, this.base, this.delta);
    if (va < 0) return;
    const out = modelAccess(model, m, va, this.size, this.access);
    if (this.access === "read") {
      const e = thrown(() => {
        const got = this.size === 1 ? p.as.read8(va) : p.as.read32(va);
        let want = 0;
        for (let k = this.size - 1; k >= 0; k--) want = want * 256 + (m.bytes.get(va + k) ?? 0);
        expect(got, `read${this.size * 8} at ${hex(va)}`).toBe(want);
      });
      if (out.fault === null) {
        if (e !== undefined) throw e;
      } else expectFault(e, out, "read", this.size);
    } else {
      const e = thrown(() => (this.size === 1 ? p.as.write8(va, this.value) : p.as.write32(va, this.value)));
      if (out.fault === null) {
        if (e !== undefined) throw e;
        for (let k = 0; k < this.size; k++) m.bytes.set(va + k, (this.value >>> (8 * k)) & 0xff);
      } else expectFault(e, out, "write", this.size); // a faulting store changes nothing
    }
    // Stack growth (or its absence) shows in maps.
    if (this.base.startsWith("stack")) checkMaps(model, m, p);
  }
  toString(): string {
    return `${this.access}${this.size * 8}(p${this.proc}, ${this.base}${this.delta >= 0 ? "+" : ""}${this.delta}${this.access === "write" ? `, ${this.value}` : ""})`;
  }
}

type BrkBase = "start" | "break" | "limit" | "heap" | "mmapBase" | "abs";

class BrkCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly base: BrkBase,
    readonly delta: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = real.procs[i]!;
    const L = model.L;
    const addr = this.delta + { start: L.startBrk, break: m.brk, limit: L.brkLimit, heap: L.heapBase, mmapBase: L.mmapBase, abs: 0 }[this.base];
    const want = modelBrk(model, m, addr);
    expect(p.brk(addr), `brk(${String(addr)}) with break ${hex(p.currentBreak)}`).toBe(want);
    expect(p.currentBreak).toBe(m.brk);
    expect(p.sbrk(0)).toBe(m.brk);
    expect(p.errno).toBe(m.errno);
    checkMaps(model, m, p);
  }
  toString(): string {
    return `brk(p${this.proc}, ${this.base}${this.delta >= 0 ? "+" : ""}${this.delta})`;
  }
}

type IncBase = "abs" | "toStart" | "toLimit" | "toHeap";

class SbrkCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly base: IncBase,
    readonly delta: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = real.procs[i]!;
    const L = model.L;
    const inc = this.delta + { abs: 0, toStart: L.startBrk - m.brk, toLimit: L.brkLimit - m.brk, toHeap: L.heapBase - m.brk }[this.base];
    const want = modelSbrk(model, m, inc);
    expect(p.sbrk(inc), `sbrk(${String(inc)}) with break ${hex(p.currentBreak)}`).toBe(want);
    expect(p.currentBreak).toBe(m.brk);
    expect(p.errno).toBe(m.errno);
    checkMaps(model, m, p);
  }
  toString(): string {
    return `sbrk(p${this.proc}, ${this.base}${this.delta >= 0 ? "+" : ""}${this.delta})`;
  }
}

class MmapCmd implements Cmd {
  constructor(
    readonly proc: number,
    /** A page of zone A (MAP_FIXED), or -1: no address, placed top-down below the mmap base. */
    readonly page: number,
    readonly n: number,
    readonly prot: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = real.procs[i]!;
    const len = this.n * PS;
    let want: number;
    if (this.page >= 0) want = model.L.heapBase + this.page * PS;
    else {
      // The highest free range that ends at or below the mmap base: its end is the base or the
      // start of some region.
      const tops = [model.L.mmapBase, ...m.regions.list.map((r) => r.start).filter((s) => s <= model.L.mmapBase)].sort((a, b) => b - a);
      want = tops.map((t) => t - len).find((s) => s >= PS && !m.regions.overlaps(s, s + len)) ?? -1;
      expect(want).toBeGreaterThan(0);
    }
    const got = p.as.mmap(this.page >= 0 ? want : 0, len - 7, this.prot, MAP_PRIVATE | MAP_ANONYMOUS | (this.page >= 0 ? MAP_FIXED : 0));
    expect(got, `mmap errno ${p.as.errno}`).toBe(want);
    if (want < up(m.brk) && want + len > model.L.heapBase) m.clobbered = Math.min(m.clobbered, Math.max(want, model.L.heapBase));
    unmap(m, want, want + len);
    // Inside the heap's pages, a mapping is [heap] to Linux, which names lines by position
    // (test/fixtures/linux/names.txt).
    const inHeap = want >= model.L.heapBase && want + len <= up(m.brk);
    m.regions.add({ start: want, end: want + len, prot: this.prot, name: inHeap ? "[heap]" : "" });
    checkMaps(model, m, p);
  }
  toString(): string {
    return `mmap(p${this.proc}, ${this.page >= 0 ? `zoneA page ${this.page}` : "top-down"}, ${this.n} pages, prot ${this.prot})`;
  }
}

class MunmapCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly zone: "A" | "B",
    readonly page: number,
    readonly n: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = real.procs[i]!;
    const a = (this.zone === "A" ? model.L.heapBase : model.L.mmapBase - ZONE_B_PAGES * PS) + this.page * PS;
    expect(p.as.munmap(a, this.n * PS)).toBe(0);
    if (a < up(m.brk) && a + this.n * PS > model.L.heapBase && m.regions.overlaps(a, a + this.n * PS)) m.clobbered = Math.min(m.clobbered, Math.max(a, model.L.heapBase));
    unmap(m, a, a + this.n * PS);
    checkMaps(model, m, p);
  }
  toString(): string {
    return `munmap(p${this.proc}, zone ${this.zone} page ${this.page}, ${this.n} pages)`;
  }
}

class ForkCmd implements Cmd {
  constructor(readonly proc: number) {}
  check(model: Model): boolean {
    return model.procs.length < MAX_PROCS;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const parent = real.procs[i]!;
    const m = model.procs[i]!;
    const child = parent.fork();
    expect(child.ppid).toBe(parent.pid);
    expect(child.currentBreak).toBe(m.brk);
    // errno right after fork is not specified by vm.md: take the child's, then track it.
    const cm: ModelProc = { regions: m.regions.clone(), bytes: new Map(m.bytes), brk: m.brk, errno: child.errno, clobbered: m.clobbered };
    real.procs.push(child);
    model.procs.push(cm);
    checkMaps(model, cm, child);
    expect(child.status().minorFaults + child.status().majorFaults).toBe(0);
  }
  toString(): string {
    return `fork(p${this.proc})`;
  }
}

class ExitCmd implements Cmd {
  constructor(readonly proc: number) {}
  check(model: Model): boolean {
    return model.procs.length > 1;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    real.procs[i]!.exit();
    real.procs.splice(i, 1);
    model.procs.splice(i, 1);
  }
  toString(): string {
    return `exit(p${this.proc})`;
  }
}

// ───────────────────────────────── arbitraries ─────────────────────────────────

const proc = fc.nat(MAX_PROCS - 1);
/** Offsets in a page: often the first few bytes, so that accesses collide. */
const inPage = fc.oneof(fc.nat(7), fc.nat(PS - 1), fc.constantFrom(PS - 1, PS - 2));
/** Offsets from a boundary: mostly within a few bytes of it, so off-by-ones show. */
const near = (min: number, max: number): fc.Arbitrary<number> => fc.oneof(fc.integer({ min: Math.max(min, -8), max: Math.min(max, 8) }), fc.integer({ min, max }));
const heapDelta = fc.tuple(fc.nat(ZONE_A_PAGES + 1), inPage).map(([k, o]) => k * PS + o);

function addrArb(v: Variant): fc.Arbitrary<[AddrBase, number]> {
  const stackBytes = up(v.stackSize ?? 8 * 1024 * 1024);
  return fc.oneof(
    fc.tuple(fc.constant<AddrBase>("text"), fc.integer({ min: -2, max: v.text.length + 8 })),
    fc.tuple(fc.constant<AddrBase>("data"), fc.integer({ min: -1, max: v.data.length + 40 })),
    fc.tuple(fc.constant<AddrBase>("endBss"), fc.integer({ min: -24, max: 24 })),
    fc.tuple(fc.constant<AddrBase>("startBrk"), fc.integer({ min: -24, max: 24 })),
    fc.tuple(fc.constant<AddrBase>("break"), fc.integer({ min: -24, max: 24 })),
    fc.tuple(fc.constant<AddrBase>("breakPage"), fc.integer({ min: -8, max: 8 })),
    fc.tuple(fc.constant<AddrBase>("inHeap"), fc.nat(999_999)),
    fc.tuple(fc.constant<AddrBase>("heap"), heapDelta),
    fc.tuple(fc.constant<AddrBase>("zoneB"), fc.tuple(fc.nat(ZONE_B_PAGES - 1), inPage).map(([k, o]) => k * PS + o)),
    fc.tuple(fc.constant<AddrBase>("stackBottom"), near(-3 * PS, 64)),
    fc.tuple(fc.constant<AddrBase>("stackLimit"), near(-2 * PS, PS)),
    fc.tuple(fc.constant<AddrBase>("stackTop"), fc.oneof(fc.integer({ min: -64, max: 8 }), fc.integer({ min: -stackBytes - 2 * PS, max: -1 }))),
  );
}

function commandsFor(v: Variant): fc.Arbitrary<Cmd>[] {
  const addr = addrArb(v);
  const access = fc.tuple(proc, addr, fc.constantFrom<1 | 4>(1, 1, 4), fc.integer({ min: 0, max: 0xffffffff })).map(([p, [b, d], size, value]) => ({ p, b, d, size, value }));
  const small = fc.oneof(fc.integer({ min: -24, max: 24 }), fc.constantFrom(0, 1, -1, PS, -PS, 2 * PS - 1, -(2 * PS - 1)));
  const nonInteger = fc.constantFrom(0.5, -0.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
  const brk = fc.oneof(
    fc.tuple(fc.constantFrom<BrkBase>("start", "break", "limit", "heap", "mmapBase"), small),
    fc.tuple(fc.constant<BrkBase>("heap"), heapDelta),
    fc.tuple(fc.constantFrom<BrkBase>("start", "break"), nonInteger),
    fc.tuple(fc.constant<BrkBase>("abs"), fc.constantFrom(0, -1, -PS, 2 ** 53, Number.MAX_SAFE_INTEGER, 2 ** 64)),
  );
  const sbrk = fc.oneof(
    fc.tuple(fc.constant<IncBase>("abs"), fc.oneof(small, fc.integer({ min: -3 * PS, max: 3 * PS }))),
    fc.tuple(fc.constantFrom<IncBase>("toStart", "toLimit", "toHeap"), fc.integer({ min: -2, max: 2 })),
    fc.tuple(fc.constant<IncBase>("abs"), fc.oneof(nonInteger, fc.constantFrom(2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER))),
  );
  const prot = fc.constantFrom(RW, RW, PROT_READ, PROT_NONE);
  return [
    access.map((a) => new AccessCmd(a.p, a.b, a.d, a.size, "read", 0)),
    access.map((a) => new AccessCmd(a.p, a.b, a.d, a.size, "read", 0)),
    access.map((a) => new AccessCmd(a.p, a.b, a.d, a.size, "write", a.value)),
    access.map((a) => new AccessCmd(a.p, a.b, a.d, a.size, "write", a.value)),
    access.map((a) => new AccessCmd(a.p, a.b, a.d, a.size, "write", a.value)),
    fc.tuple(proc, brk).map(([p, [b, d]]) => new BrkCmd(p, b, d)),
    fc.tuple(proc, brk).map(([p, [b, d]]) => new BrkCmd(p, b, d)),
    fc.tuple(proc, sbrk).map(([p, [b, d]]) => new SbrkCmd(p, b, d)),
    fc.tuple(proc, sbrk).map(([p, [b, d]]) => new SbrkCmd(p, b, d)),
    fc.tuple(proc, fc.integer({ min: -1, max: ZONE_A_PAGES - 1 }), fc.integer({ min: 1, max: 3 }), prot).map(([p, k, n, pr]) => new MmapCmd(p, k, n, pr)),
    fc.tuple(proc, fc.constantFrom<"A" | "B">("A", "B"), fc.nat(ZONE_A_PAGES - 1), fc.integer({ min: 1, max: 4 })).map(([p, z, k, n]) => new MunmapCmd(p, z, k, n)),
    proc.map((p) => new ForkCmd(p)),
    proc.map((p) => new ExitCmd(p)),
  ];
}

// ───────────────────────────────── setup and final checks ─────────────────────────────────

function setup(v: Variant): { model: Model; real: Real; freeAtStart: number } {
  const memory = new PhysicalMemory({ frames: FRAMES, pageSize: PS, shared: false });
  const freeAtStart = memory.freeFrames;
  const p = Process.spawn({
    memory,
    text: v.text,
    data: v.data,
    bssSize: v.bssSize,
    addressBits: v.addressBits,
    ...(v.stackSize !== undefined ? { stackSize: v.stackSize } : {}),
    ...(v.dataLimit !== undefined ? { dataLimit: v.dataLimit } : {}),
  });
  const L = layoutOf(v, p.layout.mmapBase);
  expect(L.mmapBase % PS).toBe(0);
  expect(L.mmapBase).toBeGreaterThanOrEqual(L.startBrk + ZONE_A_PAGES * PS);
  expect(L.mmapBase).toBeLessThan(L.stackLimit);
  const { endBss: _e, heapBase: _h, initialStack: _s, program: _p, dataEnd: _d, ...published } = L;
  expect(p.layout).toEqual(published);

  const regions = new Regions();
  const bytes = new Map<number, number>();
  for (const [start, end, prot] of L.program) regions.add({ start, end, prot, name: "/a.out" });
  if (L.startBrk > L.dataEnd) regions.add({ start: L.dataEnd, end: L.startBrk, prot: RW, name: "" });
  regions.add({ start: L.vvar, end: L.vvar + VDSO_LAYOUT.vvar, prot: PROT_READ, name: "[vvar]" });
  regions.add({ start: L.vvar + VDSO_LAYOUT.vvar, end: L.vdso, prot: PROT_READ, name: "[vvar_vclock]" });
  regions.add({ start: L.vdso, end: L.mmapBase, prot: PROT_READ | PROT_EXEC, name: "[vdso]" });
  regions.add({ start: L.initialStack, end: L.stackTop, prot: RW, name: "[stack]" });
  v.text.forEach((b, k) => bytes.set(L.startCode + k, b));
  v.data.forEach((b, k) => bytes.set(L.startData + k, b));
  const m: ModelProc = { regions, bytes, brk: L.startBrk, errno: 0, clobbered: Infinity };
  const model: Model = { L, procs: [m] };
  expect(p.errno).toBe(0);
  checkMaps(model, m, p);
  return { model, real: { memory, procs: [p] }, freeAtStart };
}

/** Every byte the model holds, read back; the space's own invariants; then every frame released. */
function finish(model: Model, real: Real, freeAtStart: number): void {
  for (let i = 0; i < real.procs.length; i++) {
    const m = model.procs[i]!;
    const p = real.procs[i]!;
    checkMaps(model, m, p);
    expect(p.currentBreak).toBe(m.brk);
    for (const [a, b] of m.bytes) expect(p.as.read8(a), `pid ${p.pid} byte at ${hex(a)}`).toBe(b);
    p.as.check();
  }
  real.memory.check();
  for (const p of real.procs.splice(0)) p.exit();
  expect(real.memory.freeFrames).toBe(freeAtStart);
}

describe("Process against a model (fc.commands)", () => {
  for (const v of VARIANTS) {
    it(`brk/sbrk, faults, contents, maps and fork match the model (${v.label})`, () => {
      fc.assert(
        fc.property(fc.commands(commandsFor(v), { maxCommands: 50, size: "max" }), (cmds) => {
          const { model, real, freeAtStart } = setup(v);
          try {
            fc.modelRun(() => ({ model, real }), cmds);
            finish(model, real, freeAtStart);
          } finally {
            // After a failure: still release what the processes hold.
            for (const p of real.procs) p.exit();
          }
        }),
        { seed: fcSeed(`Process model, ${v.label}`), numRuns: NUM_RUNS },
      );
    }, Math.max(60_000, NUM_RUNS * 100)); // about 15 ms a run: leave room for a large FC_RUNS
  }
});
