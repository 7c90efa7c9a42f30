/**
 * A malloc that grows the heap past its chunk map's coverage moves the map and frees its old
 * chunk. When a free chunk next to the old chunk has smashed links (a use after free), that free
 * would fail: the malloc must be refused before the break moves, leaving memory as it was.
 * In every data model and on the wasm engine.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { HeapCorruptionError } from "../../src/index.js";
import { compileWasmEngine, firstChange, make, label, SETUPS, wasmEngine } from "./helpers/engineSetups.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

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
