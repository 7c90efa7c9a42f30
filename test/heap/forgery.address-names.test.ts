/**
 * A forged heap word of 2^31 or more (a link, a bin's head, the designated victim) comes out of
 * a signed 32-bit read as a negative number. The error that names it must name the address
 * that was written, as an unsigned one, on both engines.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { H_DV } from "../../src/heap/header.js";
import { Heap, HeapCorruptionError, type DataModel } from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

describe.each([
  ["lp64", false],
  ["wasm32", false],
  ["lp64", true],
  ["wasm32", true],
] as [DataModel, boolean][])("a designated victim forged to 0x80000000 (%s, wasm engine: %s)", (model, engine) => {
  it("malloc's HeapCorruptionError names 0x80000000, in its message and its address", () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 16 });
    const heap = engine ? new Heap({ memory, dataModel: model, engine: wasmEngine }) : new Heap({ memory, dataModel: model });
    heap.free(heap.malloc(64));
    new DataView(memory.buffer).setUint32(heap.base + 4 * H_DV, 0x8000_0000, true);
    let err: unknown = null;
    try {
      heap.malloc(100);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeapCorruptionError);
    expect((err as HeapCorruptionError).message).toBe("malloc(): memory corruption (designated victim) (chunk at 0x80000000)");
    expect((err as HeapCorruptionError).address).toBe(0x8000_0000);
  });
});

it("an address the heap was given keeps its sign: a negative pointer is the value that was passed", () => {
  expect(() => new Heap().free(-16)).toThrow("free(): invalid pointer (-0x10)");
});
