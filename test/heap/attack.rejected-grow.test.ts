/**
 * A malloc that grows the heap past its chunk map's coverage moves the map and frees its old
 * chunk. When a free chunk next to the old chunk has smashed links (a use after free), that free
 * would fail: the malloc must be refused before the break moves, leaving memory as it was.
 * In every data model and on the wasm engine.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, type DataModel } from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

type Setup = { model: DataModel; engine: boolean };
const SETUPS: Setup[] = [
  { model: "lp64", engine: false },
  { model: "ilp32", engine: false },
  { model: "wasm32", engine: false },
  { model: "wasm32", engine: true },
  { model: "lp64", engine: true },
];
const label = (s: Setup): string => `${s.model}${s.engine ? " on the wasm engine" : ""}`;

/** A heap on a wasm memory, its bytes, and its data model's numbers. */
function make(s: Setup) {
  const memory = new WebAssembly.Memory({ initial: 8, maximum: 64 });
  const heap = s.engine ? new Heap({ memory, dataModel: s.model, engine: wasmEngine }) : new Heap({ memory, dataModel: s.model });
  const W = s.model === "lp64" ? 8 : 4;
  const A = s.model === "ilp32" ? 8 : 16;
  const min = s.model === "lp64" ? 32 : 16;
  const chunkFor = (n: number): number => Math.max(min, (n + W + A - 1) & ~(A - 1));
  const dv = (): DataView => new DataView(memory.buffer);
  const bytes = (): Uint8Array => new Uint8Array(memory.buffer).slice();
  return { heap, W, A, min, chunkFor, dv, bytes };
}

/** The first address where two copies of the memory differ, or -1. */
function firstChange(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.each(SETUPS)("a rejected malloc changes nothing ($model, engine $engine)", (s) => {
  it(`malloc that grows the heap past its chunk map's coverage, when the free chunk after the old map has smashed links (${label(s)})`, () => {
    const { heap, W, dv, bytes } = make(s);
    // The first block sits right after the chunk map's first chunk (the arena's first chunk).
    const B0 = heap.malloc(100);
    const B1 = heap.malloc(100);
    expect(heap.chunks()[1]!.ptr).toBe(B0);
    heap.free(B0);
    // Use after free: B0's forward link names live block B1's chunk.
    dv().setUint32(B0, B1 - 2 * W, true);
    const footprint = heap.mallocFootprint();
    const before = bytes();
    let err: unknown = null;
    let q = -1;
    try {
      q = heap.malloc(20_000); // past the first map's 16 KiB: the map moves, its old chunk is freed
    } catch (e) {
      err = e;
    }
    if (err === null) {
      expect(q).toBeGreaterThan(B1);
      return;
    }
    expect(err).toBeInstanceOf(HeapCorruptionError);
    expect(heap.mallocFootprint(), "the break moved for a malloc that threw").toBe(footprint);
    const at = firstChange(before, bytes());
    expect(at, `malloc threw "${(err as Error).message}" after changing memory at 0x${at.toString(16)}`).toBe(-1);
  });
});
