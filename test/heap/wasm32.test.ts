/**
 * The wasm32 data model (clang's wasm32, wasi-libc's dlmalloc): 4-byte fields, 16-byte
 * alignment. The header is 8 bytes and the alignment 16, so chunks start 8 bytes past a multiple
 * of 16: a model-based test holds the heap to the same rules as the other data models.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, M_TRIM_THRESHOLD, type LinearMemory } from "../../src/index.js";
import { fcSeed } from "../helpers/common.js";

interface Live {
  ptr: number;
  size: number;
  seed: number;
}

const pat = (seed: number, i: number): number => (seed * 13 + i * 7) & 0xff;

function fill(heap: Heap<LinearMemory>, b: Live): void {
  const u8 = heap.memory.u8;
  for (let i = 0; i < b.size; i++) u8[b.ptr + i] = pat(b.seed, i);
}

function intact(heap: Heap<LinearMemory>, b: Live, n = b.size): boolean {
  const u8 = heap.memory.u8;
  for (let i = 0; i < n; i++) if (u8[b.ptr + i] !== pat(b.seed, i)) return false;
  return true;
}

type Op =
  | { k: "malloc"; n: number }
  | { k: "calloc"; n: number }
  | { k: "realloc"; i: number; n: number }
  | { k: "free"; i: number }
  | { k: "memalign"; a: number; n: number }
  | { k: "trim" };

const size = fc.oneof({ weight: 6, arbitrary: fc.nat(64) }, { weight: 3, arbitrary: fc.nat(2000) }, { weight: 1, arbitrary: fc.nat(300_000) });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: size.map((n) => ({ k: "malloc" as const, n })) },
  { weight: 2, arbitrary: size.map((n) => ({ k: "calloc" as const, n })) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(), size).map(([i, n]) => ({ k: "realloc" as const, i, n })) },
  { weight: 7, arbitrary: fc.nat().map((i) => ({ k: "free" as const, i })) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(4, 8, 16, 32, 64, 256, 4096), size).map(([a, n]) => ({ k: "memalign" as const, a, n })) },
  { weight: 1, arbitrary: fc.constant({ k: "trim" as const }) },
);

describe("the wasm32 data model", () => {
  it("keeps every block 16-aligned, disjoint and intact, with check() passing, under random calls", () => {
    const seed = fcSeed("wasm32 model");
    let nextSeed = 1;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.constantFrom(0, 4, 1000, 4104), fc.boolean(), (ops, base, trimAlways) => {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 512 });
        const heap = new Heap({ memory, base, dataModel: "wasm32" });
        if (trimAlways) heap.mallopt(M_TRIM_THRESHOLD, 0);
        const live: Live[] = [];
        const add = (ptr: number, n: number): void => {
          expect(ptr % 16).toBe(0);
          expect(ptr).toBeGreaterThanOrEqual(base);
          expect(heap.mallocUsableSize(ptr)).toBeGreaterThanOrEqual(n);
          expect(heap.mallocUsableSize(ptr) % 16).toBe(12); // chunk − 4
          const b = { ptr, size: n, seed: nextSeed++ };
          for (const o of live) expect(b.ptr + b.size <= o.ptr || o.ptr + o.size <= b.ptr).toBe(true);
          fill(heap, b);
          live.push(b);
        };
        for (const o of ops) {
          if (o.k === "malloc") add(heap.malloc(o.n), o.n);
          else if (o.k === "calloc") {
            const p = heap.calloc(1, o.n);
            expect(heap.memory.u8.subarray(p, p + o.n).every((x) => x === 0)).toBe(true);
            add(p, o.n);
          } else if (o.k === "memalign") {
            const r = heap.posixMemalign(Math.max(o.a, 4), o.n);
            expect(r.err).toBe(0);
            expect(r.ptr % o.a).toBe(0);
            add(r.ptr, o.n);
          } else if (o.k === "trim") heap.mallocTrim(0);
          else if (live.length > 0) {
            const [b] = live.splice(o.i % live.length, 1) as [Live];
            expect(intact(heap, b)).toBe(true);
            if (o.k === "free") heap.free(b.ptr);
            else {
              const q = heap.realloc(b.ptr, o.n);
              if (o.n === 0) expect(q).toBe(0);
              else {
                expect(intact(heap, { ...b, ptr: q }, Math.min(b.size, o.n))).toBe(true);
                add(q, o.n);
              }
            }
          }
        }
        heap.check();
        for (const b of live) expect(intact(heap, b)).toBe(true);
        const other = Heap.attach(memory);
        expect(other.alignment).toBe(16);
        expect(other.mallinfo()).toEqual(heap.mallinfo());
        for (const b of live) other.free(b.ptr);
        heap.check();
        expect(heap.chunks().filter((c) => c.kind === "used")).toEqual([]);
      }),
      { seed, numRuns: 150 },
    );
  });

  it("check() and mallinfo() name a bin link that is not a chunk address (8 past a multiple of 16)", () => {
    const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 16 }), base: 64, dataModel: "wasm32" });
    const a = heap.malloc(100);
    heap.malloc(10);
    heap.free(a);
    expect((a - 8) % 16).toBe(8); // the chunk of a block
    heap.check();
    // the free chunk's fd link: point it at an aligned payload address instead of a chunk
    const dv = new DataView(heap.memory.buffer);
    dv.setUint32(a, a + 16, true);
    expect(() => heap.mallinfo()).toThrow(HeapCorruptionError);
    expect(() => heap.check()).toThrow(/points outside the heap|broken|bin/);
  });

  it("rejects a data model it does not know", () => {
    expect(() => new Heap({ dataModel: "wasm64" as never })).toThrow(/"lp64", "ilp32" or "wasm32"/);
  });
});
