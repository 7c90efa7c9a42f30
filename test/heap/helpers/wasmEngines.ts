/**
 * The engines a wasm module's heap imports can run on, for `describe.each`: the heap's
 * JavaScript engine (each call crosses into JavaScript) and its wasm engine (wasm-to-wasm).
 */
import type { WasmImportOptions } from "../../../src/heap/wasm/abi.js";
import { wasmEngine } from "../../../src/heap/wasm/index.js";

/** Options of `heap.wasmImports()` that choose each engine. */
export const ENGINES = {
  js: (): WasmImportOptions => ({}),
  wasm: (): WasmImportOptions => ({ engine: wasmEngine }),
};

export type EngineName = keyof typeof ENGINES;
