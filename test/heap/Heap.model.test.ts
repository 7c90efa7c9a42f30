/**
 * Model-based tests of `Heap` with fast-check (`fc.commands` + `fc.modelRun`).
 *
 * The model is deliberately naive and shares nothing with the implementation: a list of live
 * blocks { ptr, size, usable, seed }. Every block's whole usable area is filled with a
 * position-dependent pattern of its seed when it is allocated, so a block that moves, overlaps
 * another, or has metadata written into it shows up as a pattern mismatch. Every command
 * checks alignment, no overlap, the touched blocks' contents, and `check()`; each run ends with
 * a full contents verify, `check()`, and freeing everything.
 *
 * It runs against both kinds of heap (helpers/heapKit.ts TARGETS): a `Heap` on linear memory
 * and a process's heap (`process.heap`), whose blocks at or over the mmap threshold get
 * mappings of their own. In a process the model also knows where a block must be: a request
 * at or over the threshold in a mapping (outside the brk heap), any other in the brk heap, and
 * `mallinfo().hblks` counts exactly the live blocks outside the brk heap. Attaching a second
 * `Heap` to the memory is linear-only.
 *
 * Reproduce a failure with FC_SEED=<printed seed> (and the printed path, via fc's `path`);
 * FC_RUNS=n changes the number of runs (process heaps are slower: they default to fewer).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Heap, LinearMemory } from "../../src/index.js";
import {
  ILP32,
  chunkFor,
  KiB,
  LINEAR,
  LP64,
  MiB,
  PROCESS,
  fcSeed,
  fillPattern,
  firstNonZero,
  inMemory,
  patternByte,
  patternMismatch,
  processOf,
  readMem,
  type AnyHeap,
  type DataModelSpec,
  type HeapTarget,
} from "./helpers/heapKit.js";

interface Block {
  ptr: number;
  /** Bytes asked for. */
  size: number;
  /** `mallocUsableSize(ptr)` when it was allocated: all of it holds the pattern. */
  usable: number;
  seed: number;
}

interface Model {
  readonly spec: DataModelSpec;
  readonly target: HeapTarget;
  /** The heap's mmap threshold (process heaps only; linear memory has no mapping source). */
  readonly mmapThreshold: number;
  /** Whether the break has a limit (a process's dataLimit): a small request may then be mapped. */
  readonly brkLimited: boolean;
  live: Block[];
  nextSeed: number;
}

interface Real {
  heap: AnyHeap;
}

type HeapCommand = fc.Command<Model, Real>;

const hex = (x: number): string => `0x${x.toString(16)}`;

function fail(msg: string): never {
  throw new Error(msg);
}

function verifyRange(heap: AnyHeap, b: Block, from: number, to: number, what: string): void {
  const at = patternMismatch(heap, b.ptr, to, b.seed, from);
  if (at !== -1) fail(`${what}: block ${hex(b.ptr)} (size ${b.size}, usable ${b.usable}) byte ${at} is ${readMem(heap, b.ptr + at, 1)[0]}, expected ${patternByte(b.seed, at)}`);
}

/** The whole usable area of `b`. */
function verifyBlock(heap: AnyHeap, b: Block, what: string): void {
  verifyRange(heap, b, 0, b.usable, what);
}

/** Cheap sentinels on every live block: the first and last 16 bytes, where headers would land. */
function verifyEdges(m: Model, r: Real, what: string): void {
  for (const b of m.live) {
    verifyRange(r.heap, b, 0, Math.min(16, b.usable), what);
    verifyRange(r.heap, b, Math.max(0, b.usable - 16), b.usable, what);
  }
}

function fill(heap: AnyHeap, b: Block): void {
  fillPattern(heap, b.ptr, b.usable, b.seed);
}

/** Whether block `ptr` lies in the brk heap (in a process, the others have mappings of their own). */
function inBrkHeap(m: Model, r: Real, ptr: number): boolean {
  return m.target.mapsBigBlocks ? ptr >= r.heap.base && ptr < processOf(r.heap).sbrk(0) : true;
}

/**
 * In a process, where a block of `size` bytes just handed out must be: in a mapping of its own
 * at or over the mmap threshold, else in the brk heap (the break has no limit here).
 */
function expectPlace(m: Model, r: Real, b: Block, size: number, what: string): void {
  if (!m.target.mapsBigBlocks) return;
  const mapped = !inBrkHeap(m, r, b.ptr);
  if (m.brkLimited && mapped && size < m.mmapThreshold) return; // the break is full: glibc falls back to mmap too
  if (mapped !== size >= m.mmapThreshold) fail(`${what}: ${hex(b.ptr)} is ${mapped ? "a mapped block" : "in the brk heap"}, threshold ${m.mmapThreshold}`);
}

/** Checks a pointer just handed out for `size` bytes: aligned, big enough, inside memory, overlapping no live block. */
function admit(m: Model, r: Real, ptr: number, size: number, align: number, what: string, replacing: Block | null = null): Block {
  if (ptr === 0) fail(`${what} returned NULL (errno ${r.heap.errno})`);
  if (ptr % align !== 0 || ptr % m.spec.align !== 0) fail(`${what} returned ${hex(ptr)}, not ${Math.max(align, m.spec.align)}-aligned`);
  const usable = r.heap.mallocUsableSize(ptr);
  if (usable < size) fail(`${what}: usable size ${usable} < ${size}`);
  if (!inMemory(r.heap, ptr, usable)) fail(`${what}: ${hex(ptr)}+${usable} runs past the end of memory`);
  for (const b of m.live) {
    if (b === replacing) continue;
    if (ptr < b.ptr + b.usable && b.ptr < ptr + Math.max(usable, 1)) fail(`${what}: ${hex(ptr)}+${usable} overlaps live block ${hex(b.ptr)}+${b.usable}`);
  }
  return { ptr, size, usable, seed: m.nextSeed++ };
}

/** After every command: the heap's own walk, and the model's totals against mallinfo(). */
function afterEach(m: Model, r: Real, what: string): void {
  r.heap.check();
  const info = r.heap.mallinfo();
  if (info.uordblks + info.fordblks !== info.arena) fail(`${what}: uordblks + fordblks != arena`);
  // Every live block in the brk heap is one in-use chunk of usable + W bytes; the rest is the
  // heap's own. The others (in a process) each have a mapping of whole pages.
  let chunks = 0;
  let mapped = 0;
  let mappedBytes = 0;
  for (const b of m.live) {
    if (inBrkHeap(m, r, b.ptr)) {
      chunks += b.usable + m.spec.W;
    } else {
      mapped++;
      mappedBytes += b.usable;
    }
  }
  if (info.uordblks < chunks) fail(`${what}: uordblks ${info.uordblks} < the live blocks' chunks (${chunks})`);
  if (!m.target.mapsBigBlocks) {
    if (info.hblks !== 0 || info.hblkhd !== 0) fail(`${what}: mmapped blocks on linear memory`);
  } else {
    if (info.hblks !== mapped) fail(`${what}: hblks ${info.hblks}, but ${mapped} live blocks are outside the brk heap`);
    if (info.hblkhd < mappedBytes || info.hblkhd % 4096 !== 0 || (mapped === 0) !== (info.hblkhd === 0)) fail(`${what}: hblkhd ${info.hblkhd} for ${mapped} mapped blocks of ${mappedBytes} usable bytes`);
    if (r.heap.mallocFootprint() !== info.arena + info.hblkhd) fail(`${what}: footprint ${r.heap.mallocFootprint()} != arena + hblkhd`);
  }
  verifyEdges(m, r, what);
}

class MallocCommand implements HeapCommand {
  constructor(readonly size: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const what = this.toString();
    const b = admit(m, r, r.heap.malloc(this.size), this.size, 1, what);
    expectPlace(m, r, b, this.size, what);
    fill(r.heap, b);
    m.live.push(b);
    afterEach(m, r, what);
  }
  toString(): string {
    return `malloc(${this.size})`;
  }
}

class CallocCommand implements HeapCommand {
  constructor(readonly n: number, readonly size: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const what = this.toString();
    const total = this.n * this.size;
    const b = admit(m, r, r.heap.calloc(this.n, this.size), total, 1, what);
    expectPlace(m, r, b, total, what);
    const i = firstNonZero(r.heap, b.ptr, total);
    if (i !== -1) fail(`${what}: byte ${i} of ${hex(b.ptr)} is ${readMem(r.heap, b.ptr + i, 1)[0]}, not 0`);
    fill(r.heap, b);
    m.live.push(b);
    afterEach(m, r, what);
  }
  toString(): string {
    return `calloc(${this.n}, ${this.size})`;
  }
}

class ReallocCommand implements HeapCommand {
  constructor(readonly pick: number, readonly size: number) {}
  check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  run(m: Model, r: Real): void {
    const i = this.pick % m.live.length;
    const old = m.live[i]!;
    const what = `realloc(${hex(old.ptr)} [size ${old.size}], ${this.size})`;
    verifyBlock(r.heap, old, `${what}, before`);
    const errno = r.heap.errno;
    const q = r.heap.realloc(old.ptr, this.size);
    if (this.size === 0) {
      if (q !== 0) fail(`${what} returned ${hex(q)}, not 0`);
      if (r.heap.errno !== errno) fail(`${what} changed errno`);
      m.live.splice(i, 1);
      afterEach(m, r, what);
      return;
    }
    const b = admit(m, r, q, this.size, 1, what, old);
    b.seed = old.seed; // the kept prefix must still hold the old pattern
    verifyRange(r.heap, b, 0, Math.min(old.size, this.size), `${what} kept bytes`);
    // Growing within the usable size, and shrinking, happen in place.
    if (this.size <= old.usable && q !== old.ptr) fail(`${what} moved the block to ${hex(q)} although ${this.size} <= usable ${old.usable}`);
    // Resized in place, a block stays where it was (a mapped block in its mapping); moved, it
    // goes where a new block of that size goes.
    if (q !== old.ptr) expectPlace(m, r, b, this.size, what);
    else if (inBrkHeap(m, r, q) !== inBrkHeap(m, r, old.ptr)) fail(`${what}: resized in place but changed heaps`);
    fill(r.heap, b);
    m.live[i] = b;
    afterEach(m, r, what);
  }
  toString(): string {
    return `realloc(#${this.pick}, ${this.size})`;
  }
}

class FreeCommand implements HeapCommand {
  constructor(readonly pick: number) {}
  check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  run(m: Model, r: Real): void {
    const i = this.pick % m.live.length;
    const b = m.live[i]!;
    const what = `free(${hex(b.ptr)})`;
    verifyBlock(r.heap, b, `${what}, before`);
    const errno = r.heap.errno;
    r.heap.free(b.ptr);
    if (r.heap.errno !== errno) fail(`${what} changed errno`);
    m.live.splice(i, 1);
    afterEach(m, r, what);
  }
  toString(): string {
    return `free(#${this.pick})`;
  }
}

class PosixMemalignCommand implements HeapCommand {
  constructor(readonly alignment: number, readonly size: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const what = this.toString();
    const errno = r.heap.errno;
    const { err, ptr } = r.heap.posixMemalign(this.alignment, this.size);
    if (err !== 0) fail(`${what}: err ${err}`);
    if (r.heap.errno !== errno) fail(`${what} changed errno`);
    const b = admit(m, r, ptr, this.size, this.alignment, what);
    // glibc's _int_memalign asks _int_malloc for the chunk plus the alignment plus a minimum
    // chunk: that padded request is what meets the mmap threshold.
    const padded = this.alignment <= m.spec.align ? this.size : chunkFor(m.spec, this.size) + this.alignment + m.spec.minChunk;
    expectPlace(m, r, b, padded, what);
    fill(r.heap, b);
    m.live.push(b);
    afterEach(m, r, what);
  }
  toString(): string {
    return `posixMemalign(${this.alignment}, ${this.size})`;
  }
}

/** Replaces the heap object by a fresh one attached to the same memory: all state is in memory. */
class AttachCommand implements HeapCommand {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const before = r.heap.mallinfo();
    if (!(r.heap.memory instanceof LinearMemory)) fail("attach on a process heap");
    r.heap = Heap.attach(r.heap.memory);
    expect(r.heap.mallinfo()).toEqual(before);
    for (const b of m.live) {
      if (r.heap.mallocUsableSize(b.ptr) !== b.usable) fail(`attach: usable size of ${hex(b.ptr)} is ${r.heap.mallocUsableSize(b.ptr)}, was ${b.usable}`);
      verifyBlock(r.heap, b, "attach");
    }
    afterEach(m, r, "attach");
  }
  toString(): string {
    return "attach";
  }
}

class TrimCommand implements HeapCommand {
  constructor(readonly pad: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const what = this.toString();
    const f0 = r.heap.mallocFootprint();
    const released = r.heap.mallocTrim(this.pad);
    const f1 = r.heap.mallocFootprint();
    if (released === 1 ? f1 >= f0 : f1 !== f0) fail(`${what} returned ${released} but the footprint went ${f0} -> ${f1}`);
    for (const b of m.live) verifyBlock(r.heap, b, what);
    afterEach(m, r, what);
  }
  toString(): string {
    return `mallocTrim(${this.pad})`;
  }
}

/** Mostly small, some up to 20 KiB, rarely over the 128 KiB trim threshold. */
const sizeArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 16, arbitrary: fc.nat(512) },
  { weight: 4, arbitrary: fc.integer({ min: 513, max: 20 * KiB }) },
  { weight: 1, arbitrary: fc.integer({ min: 128 * KiB, max: 256 * KiB }) },
);

function commandArbs(spec: DataModelSpec, target: HeapTarget): fc.Arbitrary<HeapCommand>[] {
  const minAlign = spec.W; // a power of two and a multiple of the pointer size
  const alignments: number[] = [];
  for (let a = Math.max(minAlign, 16); a <= 4096; a *= 2) alignments.push(a);
  if (spec.align < 16) alignments.push(spec.align);
  return [
    fc.oneof(
      { weight: 8, arbitrary: sizeArb.map((n): HeapCommand => new MallocCommand(n)) },
      { weight: 2, arbitrary: fc.oneof(fc.tuple(fc.nat(40), fc.nat(300)), fc.tuple(fc.constant(1), sizeArb)).map(([n, s]): HeapCommand => new CallocCommand(n, s)) },
      { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 12, arbitrary: sizeArb })).map(([i, n]): HeapCommand => new ReallocCommand(i, n)) },
      { weight: 7, arbitrary: fc.nat().map((i): HeapCommand => new FreeCommand(i)) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...alignments), sizeArb).map(([a, n]): HeapCommand => new PosixMemalignCommand(a, n)) },
      // Attaching a second Heap to the same memory is for linear memory only.
      { weight: target === LINEAR ? 1 : 0, arbitrary: fc.constant<HeapCommand>(new AttachCommand()) },
      { weight: 1, arbitrary: fc.constantFrom(0, 4096, 64 * KiB).map((pad): HeapCommand => new TrimCommand(pad)) },
    ),
  ];
}

/** The end of every run: all contents, check(), then free everything and check() again. */
function finish(m: Model, r: Real): void {
  for (const b of m.live) verifyBlock(r.heap, b, "final verify");
  r.heap.check();
  for (const b of m.live.splice(0)) {
    verifyBlock(r.heap, b, "final free");
    r.heap.free(b.ptr);
  }
  r.heap.check();
  const info = r.heap.mallinfo();
  if (info.uordblks + info.fordblks !== info.arena) fail("after freeing everything: uordblks + fordblks != arena");
  if (r.heap.mallocMaxFootprint() < r.heap.mallocFootprint()) fail("max footprint below the footprint");
}

function runProperty(target: HeapTarget, spec: DataModelSpec, numRuns: number, label: string, mmapThreshold = 128 * KiB, dataLimit?: number): void {
  const seed = fcSeed(label);
  fc.assert(
    fc.property(fc.commands(commandArbs(spec, target), { maxCommands: 60, size: "max" }), (cmds) => {
      const heap = target === LINEAR ? new Heap({ maxBytes: 64 * MiB, dataModel: spec.name }) : target.make({ dataModel: spec.name, mmapThreshold, ...(dataLimit !== undefined ? { maxBytes: dataLimit } : {}) });
      const real: Real = { heap };
      const model: Model = { spec, target, mmapThreshold, brkLimited: dataLimit !== undefined, live: [], nextSeed: 1 };
      fc.modelRun(() => ({ model, real }), cmds);
      finish(model, real);
    }),
    { seed, numRuns },
  );
}

const FC_RUNS = process.env.FC_RUNS === undefined ? null : Number(process.env.FC_RUNS);
/** Runs for the linear heap (fast), and for a process's heap (every access goes through an MMU). */
const LINEAR_RUNS = FC_RUNS ?? 300;
const PROCESS_RUNS = FC_RUNS ?? 150;

describe("Heap against a model of live blocks", () => {
  it("lp64: malloc, calloc, realloc, free, posixMemalign, attach, trim keep every block aligned, disjoint and intact", () => {
    runProperty(LINEAR, LP64, LINEAR_RUNS, "Heap.model lp64");
  });

  it("ilp32: the same with 8-byte alignment and 4-byte fields", () => {
    runProperty(LINEAR, ILP32, Math.ceil(LINEAR_RUNS / 3), "Heap.model ilp32");
  });
});

describe("process.heap against the same model (blocks at or over the mmap threshold in mappings of their own)", () => {
  it("lp64, default 128 KiB threshold: malloc, calloc, realloc, free, posixMemalign, trim", () => {
    runProperty(PROCESS, LP64, PROCESS_RUNS, "Heap.model process lp64");
  });

  it("lp64, 8 KiB threshold: mapped blocks are frequent (malloc, realloc into and out of mappings)", () => {
    runProperty(PROCESS, LP64, Math.ceil(PROCESS_RUNS / 2), "Heap.model process lp64 mmap 8 KiB", 8 * KiB);
  });

  it("ilp32 (a 32-bit process), default threshold", () => {
    runProperty(PROCESS, ILP32, Math.ceil(PROCESS_RUNS / 3), "Heap.model process ilp32");
  });

  it("ilp32 (a 32-bit process), 8 KiB threshold", () => {
    runProperty(PROCESS, ILP32, Math.ceil(PROCESS_RUNS / 3), "Heap.model process ilp32 mmap 8 KiB", 8 * KiB);
  });

  it("lp64 with a 256 KiB data limit: the break fills up, and requests fall back to mappings", () => {
    runProperty(PROCESS, LP64, Math.ceil(PROCESS_RUNS / 2), "Heap.model process lp64 dataLimit", 128 * KiB, 256 * KiB);
  });
});
