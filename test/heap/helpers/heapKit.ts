/**
 * Test helpers for the heap: the glibc size arithmetic written out independently of
 * `src/heap/chunk.ts`, block patterns, and snapshots of a heap's whole state, for both kinds
 * of heap: a `Heap` on linear memory and a process's heap (`process.heap`), whose memory is
 * the process's address space. {@link TARGETS} lists both, for `describe.each`.
 */
import { expect } from "vitest";
import { AddressSpace, Heap, LinearMemory, PhysicalMemory, Process, type DataModel, type HeapOptions, type MallInfo } from "../../../src/index.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The numbers a C data model fixes, as heap.md states them. */
export interface DataModelSpec {
  readonly name: "lp64" | "ilp32";
  /** Bytes in a size field (and a pointer). */
  readonly W: number;
  /** Alignment of every returned pointer. */
  readonly align: number;
  /** Smallest chunk. */
  readonly minChunk: number;
}

export const LP64: DataModelSpec = { name: "lp64", W: 8, align: 16, minChunk: 32 };
export const ILP32: DataModelSpec = { name: "ilp32", W: 4, align: 8, minChunk: 16 };

/** glibc's `request2size`: chunk = max(MINSIZE, (n + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK). */
export function chunkFor(m: DataModelSpec, n: number): number {
  const c = Math.floor((n + m.W + m.align - 1) / m.align) * m.align;
  return Math.max(m.minChunk, c);
}

/** What `malloc_usable_size` reports for `malloc(n)`: the chunk minus one size field. */
export function usableFor(m: DataModelSpec, n: number): number {
  return chunkFor(m, n) - m.W;
}

/**
 * A heap on a small fresh memory (a 256 MiB reservation per test adds up): `maxBytes`
 * defaults to 16 MiB here.
 */
export function newHeap(opts: HeapOptions = {}): Heap<LinearMemory> {
  return new Heap({ maxBytes: 16 * MiB, ...opts });
}

// ───────────────────────── targets: where a heap runs ─────────────────────────

/** A heap of either kind: on linear memory, or inside a process. */
export type AnyHeap = Heap;

/** Options both kinds of heap understand. */
export interface TargetOptions {
  dataModel?: DataModel;
  mmapThreshold?: number;
  trimThreshold?: number;
  topPad?: number;
  /**
   * The most the heap may grow to: `maxBytes` of the linear memory; in a process, the break's
   * limit (`dataLimit`, RLIMIT_DATA), which does not limit mapped blocks.
   * @defaultValue 16 MiB on linear memory ({@link newHeap}); unlimited in a process
   */
  maxBytes?: number;
  /** Frames of RAM of a process (ignored on linear memory). @defaultValue 8192 (32 MiB) */
  frames?: number;
}

/** Where a heap runs, and how the tests reach its bytes. */
export interface HeapTarget {
  readonly name: "linear" | "process";
  /** Whether requests at or over the mmap threshold get mappings of their own. */
  readonly mapsBigBlocks: boolean;
  /** A fresh heap. */
  make(opts?: TargetOptions): AnyHeap;
  /** A copy of `[addr, addr + len)`. */
  read(heap: AnyHeap, addr: number, len: number): Uint8Array;
  /** Writes `bytes` at `addr`. */
  write(heap: AnyHeap, addr: number, bytes: Uint8Array): void;
  /** Sets `[addr, addr + len)` to `byte`. */
  fill(heap: AnyHeap, addr: number, len: number, byte: number): void;
  /** Every byte of the heap's memory, as regions, lowest first. */
  regions(heap: AnyHeap): MemRegion[];
}

/** A run of bytes of a heap's memory, starting at address `start`. */
export interface MemRegion {
  start: number;
  bytes: Uint8Array;
}

const linearMemory = (heap: AnyHeap): LinearMemory => heap.memory as LinearMemory;
const space = (heap: AnyHeap): AddressSpace => heap.memory as AddressSpace;

/** A `Heap` on a fresh {@link LinearMemory}: `newHeap`. */
export const LINEAR: HeapTarget = {
  name: "linear",
  mapsBigBlocks: false,
  make: (opts = {}) => {
    const { frames: _frames, ...rest } = opts;
    return newHeap(rest);
  },
  read: (heap, addr, len) => linearMemory(heap).u8.slice(addr, addr + len),
  write: (heap, addr, bytes) => linearMemory(heap).u8.set(bytes, addr),
  fill: (heap, addr, len, byte) => {
    linearMemory(heap).u8.fill(byte, addr, addr + len);
  },
  regions: (heap) => [{ start: 0, bytes: linearMemory(heap).u8.slice() }],
};

const processes = new WeakMap<AnyHeap, Process>();

/** The process a heap made by {@link PROCESS} runs in. */
export function processOf(heap: AnyHeap): Process {
  const p = processes.get(heap);
  if (p === undefined) throw new Error("not a process heap made by PROCESS.make");
  return p;
}

/** `process.heap` of a fresh process (no image; 32-bit address space for "ilp32"). */
export const PROCESS: HeapTarget = {
  name: "process",
  mapsBigBlocks: true,
  make: (opts = {}) => {
    const heap: { dataModel?: DataModel; mmapThreshold?: number; trimThreshold?: number; topPad?: number } = {};
    if (opts.dataModel !== undefined) heap.dataModel = opts.dataModel;
    if (opts.mmapThreshold !== undefined) heap.mmapThreshold = opts.mmapThreshold;
    if (opts.trimThreshold !== undefined) heap.trimThreshold = opts.trimThreshold;
    if (opts.topPad !== undefined) heap.topPad = opts.topPad;
    const proc = Process.spawn({
      memory: new PhysicalMemory({ frames: opts.frames ?? 8192 }),
      addressBits: opts.dataModel === "ilp32" ? 32 : 48,
      ...(opts.maxBytes !== undefined ? { dataLimit: opts.maxBytes } : {}),
      heap,
    });
    const h = proc.heap;
    processes.set(h, proc);
    return h;
  },
  read: (heap, addr, len) => space(heap).readBytes(addr, len),
  write: (heap, addr, bytes) => space(heap).writeBytes(addr, bytes),
  fill: (heap, addr, len, byte) => space(heap).writeBytes(addr, new Uint8Array(len).fill(byte)),
  // Every mapped region: the [heap], the blocks' own mappings, and the rest of the process.
  regions: (heap) => space(heap).regions().map((v) => ({ start: v.start, bytes: space(heap).readBytes(v.start, v.end - v.start) })),
};

/** Both kinds of heap, for `describe.each(TARGETS)("$name", ...)`. */
export const TARGETS: readonly HeapTarget[] = [LINEAR, PROCESS];

/** The target `heap` belongs to. */
export function targetOf(heap: AnyHeap): HeapTarget {
  return heap.memory instanceof LinearMemory ? LINEAR : PROCESS;
}

/** A copy of `[addr, addr + len)` of the heap's memory. */
export const readMem = (heap: AnyHeap, addr: number, len: number): Uint8Array => targetOf(heap).read(heap, addr, len);
/** Writes `bytes` into the heap's memory at `addr`. */
export const writeMem = (heap: AnyHeap, addr: number, bytes: ArrayLike<number>): void => targetOf(heap).write(heap, addr, Uint8Array.from(bytes));
/** Sets `[addr, addr + len)` of the heap's memory to `byte`. */
export const fillMem = (heap: AnyHeap, addr: number, len: number, byte: number): void => targetOf(heap).fill(heap, addr, len, byte);
/** Copies `len` bytes from `src` to `dst` within the heap's memory (like `copyWithin`). */
export const copyMem = (heap: AnyHeap, dst: number, src: number, len: number): void => writeMem(heap, dst, readMem(heap, src, len));
/** The little-endian 32-bit word at `addr`. */
export const read32 = (heap: AnyHeap, addr: number): number => new DataView(readMem(heap, addr, 4).buffer).getUint32(0, true);
/** Writes a little-endian 32-bit word at `addr`. */
export function write32(heap: AnyHeap, addr: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  writeMem(heap, addr, b);
}
/** The little-endian 64-bit word at `addr`. */
export const read64 = (heap: AnyHeap, addr: number): bigint => new DataView(readMem(heap, addr, 8).buffer).getBigUint64(0, true);
/** Writes a little-endian 64-bit word at `addr`. */
export function write64(heap: AnyHeap, addr: number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  writeMem(heap, addr, b);
}

/**
 * The end of the heap's memory, where a pointer "past the end" starts: the linear memory's
 * length, or the process's break (the brk heap's end; mapped blocks live far above it).
 */
export function memoryEnd(heap: AnyHeap): number {
  return heap.memory instanceof LinearMemory ? heap.memory.byteLength : processOf(heap).sbrk(0);
}

/** Whether `[p, p + len)` is inside the heap's memory (in a process: one readable, writable region). */
export function inMemory(heap: AnyHeap, p: number, len: number): boolean {
  if (heap.memory instanceof LinearMemory) return p >= 0 && p + len <= heap.memory.byteLength;
  const v = heap.memory.regionAt(p);
  return v !== null && p + len <= v.end && (v.prot & 3) === 3;
}

/** Byte `i` of a block filled with `seed`: position-dependent, so a shifted copy is caught. */
export function patternByte(seed: number, i: number): number {
  return (seed * 151 + i * 29 + (i >>> 8) * 7 + 1) & 0xff;
}

/** Writes the pattern of `seed` into `[p + from, p + to)` (positions are relative to `p`). */
export function fillPattern(heap: AnyHeap, p: number, to: number, seed: number, from = 0): void {
  if (heap.memory instanceof LinearMemory) {
    const u8 = heap.memory.u8;
    for (let i = from; i < to; i++) u8[p + i] = patternByte(seed, i);
    return;
  }
  if (to <= from) return;
  const b = new Uint8Array(to - from);
  for (let i = from; i < to; i++) b[i - from] = patternByte(seed, i);
  heap.memory.writeBytes(p + from, b);
}

/** First offset in `[from, to)` of block `p` that does not hold the pattern of `seed`, or -1. */
export function patternMismatch(heap: AnyHeap, p: number, to: number, seed: number, from = 0): number {
  if (heap.memory instanceof LinearMemory) {
    const u8 = heap.memory.u8;
    for (let i = from; i < to; i++) if (u8[p + i] !== patternByte(seed, i)) return i;
    return -1;
  }
  if (to <= from) return -1;
  const b = heap.memory.readBytes(p + from, to - from);
  for (let i = from; i < to; i++) if (b[i - from] !== patternByte(seed, i)) return i;
  return -1;
}

/** Asserts that `[p, p + len)` holds the pattern of `seed`. */
export function expectPattern(heap: AnyHeap, p: number, len: number, seed: number, what = "block"): void {
  const at = patternMismatch(heap, p, len, seed);
  if (at !== -1) {
    expect.fail(
      `${what} 0x${p.toString(16)} (${len} bytes, seed ${seed}): byte ${at} is ${readMem(heap, p + at, 1)[0]}, expected ${patternByte(seed, at)}`,
    );
  }
}

/** First non-zero offset of `[p, p + len)`, or -1. */
export function firstNonZero(heap: AnyHeap, p: number, len: number): number {
  const u8 = heap.memory instanceof LinearMemory ? heap.memory.u8 : len > 0 ? heap.memory.readBytes(p, len) : new Uint8Array(0);
  const at = heap.memory instanceof LinearMemory ? p : 0;
  for (let i = 0; i < len; i++) if (u8[at + i] !== 0) return i;
  return -1;
}

/**
 * Everything observable about a heap: all bytes of its memory plus its counters. On linear
 * memory one region, the whole memory; in a process, every mapped region of its address
 * space (the [heap], the mapped blocks, and the rest).
 */
export interface HeapState {
  regions: MemRegion[];
  info: MallInfo;
  footprint: number;
  maxFootprint: number;
  errno: number;
}

export function snapshot(heap: AnyHeap): HeapState {
  return {
    regions: targetOf(heap).regions(heap),
    info: heap.mallinfo(),
    footprint: heap.mallocFootprint(),
    maxFootprint: heap.mallocMaxFootprint(),
    errno: heap.errno,
  };
}

/** Index of the first differing byte of two byte arrays (-1 when equal). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Asserts that nothing about the heap changed since `before` (not one byte of its memory). */
export function expectUnchanged(heap: AnyHeap, before: HeapState): void {
  const now = snapshot(heap);
  const span = (rs: MemRegion[]): string => rs.map((r) => `0x${r.start.toString(16)}+${r.bytes.length}`).join(", ");
  if (span(now.regions) !== span(before.regions)) expect.fail(`the heap's memory regions changed: [${span(before.regions)}] -> [${span(now.regions)}]`);
  for (const [i, r] of before.regions.entries()) {
    const n = now.regions[i]!;
    const at = firstDifference(r.bytes, n.bytes);
    if (at !== -1) expect.fail(`heap memory changed at 0x${(r.start + at).toString(16)}: ${r.bytes[at]} -> ${n.bytes[at]}`);
  }
  expect(now.info).toEqual(before.info);
  expect(now.footprint).toBe(before.footprint);
  expect(now.maxFootprint).toBe(before.maxFootprint);
  expect(now.errno).toBe(before.errno);
}

/** Whether the half-open ranges `[a, a + al)` and `[b, b + bl)` share a byte. */
export function overlaps(a: number, al: number, b: number, bl: number): boolean {
  return a < b + bl && b < a + al;
}

/** The usable regions of `ptrs`, sorted, and a failure if any two overlap. */
export function expectDisjoint(heap: AnyHeap, ptrs: readonly number[]): void {
  const ranges = ptrs.map((p) => [p, Math.max(1, heap.mallocUsableSize(p))] as const).sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < ranges.length; i++) {
    const [a, al] = ranges[i - 1]!;
    const [b] = ranges[i]!;
    if (a + al > b) expect.fail(`blocks overlap: 0x${a.toString(16)}+${al} and 0x${b.toString(16)}`);
  }
}

/** Deterministic pseudo-random numbers (mulberry32) for shuffles and garbage. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy of `xs` in a random order drawn from `rand`. */
export function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export { fcSeed, thrown } from "../../helpers/common.js";
