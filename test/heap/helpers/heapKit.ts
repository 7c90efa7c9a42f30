/**
 * Test helpers for the heap: the glibc size arithmetic written out independently of
 * `src/heap/chunk.ts`, block patterns, and snapshots of a heap's whole state.
 */
import { expect } from "vitest";
import { Heap, type HeapOptions, type MallInfo } from "../../../src/index.js";

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
export function newHeap(opts: HeapOptions = {}): Heap {
  return new Heap({ maxBytes: 16 * MiB, ...opts });
}

/** Byte `i` of a block filled with `seed`: position-dependent, so a shifted copy is caught. */
export function patternByte(seed: number, i: number): number {
  return (seed * 151 + i * 29 + (i >>> 8) * 7 + 1) & 0xff;
}

/** Writes the pattern of `seed` into `[p + from, p + to)` (positions are relative to `p`). */
export function fillPattern(heap: Heap, p: number, to: number, seed: number, from = 0): void {
  const u8 = heap.memory.u8;
  for (let i = from; i < to; i++) u8[p + i] = patternByte(seed, i);
}

/** First offset in `[from, to)` of block `p` that does not hold the pattern of `seed`, or -1. */
export function patternMismatch(heap: Heap, p: number, to: number, seed: number, from = 0): number {
  const u8 = heap.memory.u8;
  for (let i = from; i < to; i++) if (u8[p + i] !== patternByte(seed, i)) return i;
  return -1;
}

/** Asserts that `[p, p + len)` holds the pattern of `seed`. */
export function expectPattern(heap: Heap, p: number, len: number, seed: number, what = "block"): void {
  const at = patternMismatch(heap, p, len, seed);
  if (at !== -1) {
    expect.fail(
      `${what} 0x${p.toString(16)} (${len} bytes, seed ${seed}): byte ${at} is ${heap.memory.u8[p + at]}, expected ${patternByte(seed, at)}`,
    );
  }
}

/** First non-zero offset of `[p, p + len)`, or -1. */
export function firstNonZero(heap: Heap, p: number, len: number): number {
  const u8 = heap.memory.u8;
  for (let i = 0; i < len; i++) if (u8[p + i] !== 0) return i;
  return -1;
}

/** Everything observable about a heap: all bytes of its memory plus its counters. */
export interface HeapState {
  bytes: Uint8Array;
  info: MallInfo;
  footprint: number;
  maxFootprint: number;
  errno: number;
}

export function snapshot(heap: Heap): HeapState {
  return {
    bytes: heap.memory.u8.slice(),
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
export function expectUnchanged(heap: Heap, before: HeapState): void {
  const now = snapshot(heap);
  const at = firstDifference(before.bytes, now.bytes);
  if (at !== -1) expect.fail(`heap memory changed at 0x${at.toString(16)}: ${before.bytes[at]} -> ${now.bytes[at]}`);
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
export function expectDisjoint(heap: Heap, ptrs: readonly number[]): void {
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
