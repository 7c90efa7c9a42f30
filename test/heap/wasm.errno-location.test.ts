/**
 * A module whose errno location lies outside its memory (a broken `__errno_location`, a bad
 * `errno` global): a failing call says so with an ArgumentError, not a bare RangeError, on both
 * engines; a sound location gets the module's ENOMEM.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, Heap } from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

describe.each([false, true])("the module's errno location (wasm engine: %s)", (engine) => {
  const imports = (at: number) => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 4 });
    const heap = engine ? new Heap({ memory, base: 4096, dataModel: "wasm32", engine: wasmEngine }) : new Heap({ memory, base: 4096, dataModel: "wasm32" });
    const exports = { errno: new WebAssembly.Global({ value: "i32", mutable: false }, at) };
    const fns = heap.wasmImports({ ...(engine ? { engine: wasmEngine } : {}), instance: () => ({ exports }) as unknown as WebAssembly.Instance });
    return { memory, fns };
  };

  it("outside the memory: a failing malloc throws an ArgumentError that names it", () => {
    const { fns } = imports(0x7fff_fff0);
    expect(() => fns.malloc(0x7fff_ffff)).toThrow(ArgumentError);
    expect(() => fns.malloc(0x7fff_ffff)).toThrow(/errno at 0x7ffffff0 is outside its memory/);
  });

  it("inside it: a failing malloc returns 0 and sets the module's ENOMEM (48)", () => {
    const { memory, fns } = imports(1024);
    expect(fns.malloc(0x7fff_ffff)).toBe(0);
    expect(new DataView(memory.buffer).getInt32(1024, true)).toBe(48);
  });
});
