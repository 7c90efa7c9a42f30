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
 * Reproduce a failure with FC_SEED=<printed seed> (and the printed path, via fc's `path`).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Heap } from "../../src/index.js";
import { ILP32, KiB, LP64, MiB, fcSeed, patternByte, type DataModelSpec } from "./helpers/heapKit.js";

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
  live: Block[];
  nextSeed: number;
}

interface Real {
  heap: Heap;
}

type HeapCommand = fc.Command<Model, Real>;

const hex = (x: number): string => `0x${x.toString(16)}`;

function fail(msg: string): never {
  throw new Error(msg);
}

/** First offset in `[from, to)` of `b` that lost its pattern, or -1. */
function mismatch(heap: Heap, b: Block, from: number, to: number): number {
  const u8 = heap.memory.u8;
  for (let i = from; i < to; i++) if (u8[b.ptr + i] !== patternByte(b.seed, i)) return i;
  return -1;
}

function verifyRange(heap: Heap, b: Block, from: number, to: number, what: string): void {
  const at = mismatch(heap, b, from, to);
  if (at !== -1) fail(`${what}: block ${hex(b.ptr)} (size ${b.size}, usable ${b.usable}) byte ${at} is ${heap.memory.u8[b.ptr + at]}, expected ${patternByte(b.seed, at)}`);
}

/** The whole usable area of `b`. */
function verifyBlock(heap: Heap, b: Block, what: string): void {
  verifyRange(heap, b, 0, b.usable, what);
}

/** Cheap sentinels on every live block: the first and last 16 bytes, where headers would land. */
function verifyEdges(m: Model, r: Real, what: string): void {
  for (const b of m.live) {
    verifyRange(r.heap, b, 0, Math.min(16, b.usable), what);
    verifyRange(r.heap, b, Math.max(0, b.usable - 16), b.usable, what);
  }
}

function fill(heap: Heap, b: Block): void {
  const u8 = heap.memory.u8;
  for (let i = 0; i < b.usable; i++) u8[b.ptr + i] = patternByte(b.seed, i);
}

/** Checks a pointer just handed out for `size` bytes: aligned, big enough, inside memory, overlapping no live block. */
function admit(m: Model, r: Real, ptr: number, size: number, align: number, what: string, replacing: Block | null = null): Block {
  if (ptr === 0) fail(`${what} returned NULL (errno ${r.heap.errno})`);
  if (ptr % align !== 0 || ptr % m.spec.align !== 0) fail(`${what} returned ${hex(ptr)}, not ${Math.max(align, m.spec.align)}-aligned`);
  const usable = r.heap.mallocUsableSize(ptr);
  if (usable < size) fail(`${what}: usable size ${usable} < ${size}`);
  if (ptr + usable > r.heap.memory.byteLength) fail(`${what}: ${hex(ptr)}+${usable} runs past the end of memory`);
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
  // Every live block is one in-use chunk of usable + W bytes; the rest is the heap's own.
  let chunks = 0;
  for (const b of m.live) chunks += b.usable + m.spec.W;
  if (info.uordblks < chunks) fail(`${what}: uordblks ${info.uordblks} < the live blocks' chunks (${chunks})`);
  if (info.hblks !== 0 || info.hblkhd !== 0) fail(`${what}: mmapped blocks on linear memory`);
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
    const u8 = r.heap.memory.u8;
    for (let i = 0; i < total; i++) if (u8[b.ptr + i] !== 0) fail(`${what}: byte ${i} of ${hex(b.ptr)} is ${u8[b.ptr + i]}, not 0`);
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

function commandArbs(spec: DataModelSpec): fc.Arbitrary<HeapCommand>[] {
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
      { weight: 1, arbitrary: fc.constant<HeapCommand>(new AttachCommand()) },
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

function runProperty(spec: DataModelSpec, numRuns: number, label: string): void {
  const seed = fcSeed(label);
  fc.assert(
    fc.property(fc.commands(commandArbs(spec), { maxCommands: 60, size: "max" }), (cmds) => {
      const real: Real = { heap: new Heap({ maxBytes: 64 * MiB, dataModel: spec.name }) };
      const model: Model = { spec, live: [], nextSeed: 1 };
      fc.modelRun(() => ({ model, real }), cmds);
      finish(model, real);
    }),
    { seed, numRuns },
  );
}

describe("Heap against a model of live blocks", () => {
  it("lp64: malloc, calloc, realloc, free, posixMemalign, attach, trim keep every block aligned, disjoint and intact", () => {
    runProperty(LP64, Number(process.env.FC_RUNS ?? 300), "Heap.model lp64");
  });

  it("ilp32: the same with 8-byte alignment and 4-byte fields", () => {
    runProperty(ILP32, Math.ceil(Number(process.env.FC_RUNS ?? 300) / 3), "Heap.model ilp32");
  });
});
