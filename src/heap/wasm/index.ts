/**
 * `vmheap/wasm`: the heap's wasm engine, for the heap of a C or Rust module compiled to wasm32.
 *
 * The engine is the heap's own algorithm (src/heap/Heap.ts) compiled to WebAssembly, one binary
 * per data model, carried here as base64 so that nothing is downloaded at run time, and kept
 * out of the package's root so that importing the heap alone stays small. Pass it to
 * `heap.wasmImports({ engine: wasmEngine })`: the module's malloc, free, ... are then the
 * engine's wasm exports, called wasm-to-wasm, on the same heap the JavaScript API sees.
 *
 * A module's set-up (`bytes` its code, `heapBase` its exported `__heap_base`):
 * ```ts
 * import { Heap } from "vmheap";
 * import { wasmEngine } from "vmheap/wasm";
 *
 * const memory = new WebAssembly.Memory({ initial: 2, maximum: 16384 });
 * const heap = new Heap({ memory, base: heapBase, dataModel: "wasm32" });
 * let instance: WebAssembly.Instance | undefined;
 * const env = { memory, ...heap.wasmImports({ engine: wasmEngine, instance: () => instance }) };
 * instance = (await WebAssembly.instantiate(bytes, { env })).instance;
 * ```
 *
 * @example
 * The engine's functions, called here from JavaScript as a module would call them:
 * ```ts
 * import { Heap } from "vmheap";
 * import { wasmEngine } from "vmheap/wasm";
 *
 * const memory = new WebAssembly.Memory({ initial: 2, maximum: 16384 });
 * const heap = new Heap({ memory, base: 0x10400, dataModel: "wasm32" });
 * const env = heap.wasmImports({ engine: wasmEngine });
 * const p = env.malloc(100);
 * // one heap: what the engine allocated, the JavaScript API sees, and the other way round
 * console.log(p.toString(16), heap.mallocUsableSize(p), env.malloc_usable_size(heap.malloc(10))); // 10c20 108 12
 * heap.free(p);
 * console.log(env.malloc(100) === p); // true
 * ```
 * @packageDocumentation
 * @module vmheap/wasm
 */
import { ENGINE_HASH, ENGINE_MESSAGES, ENGINE_OPS, ENGINE_WASM } from "./engine.generated.js";
import { wasmEngineLink, type WasmEngineBinaries } from "./engine.js";

/** The heap's wasm engine: pass it as `engine` to `heap.wasmImports()`. */
export const wasmEngine: WasmEngineBinaries = { hash: ENGINE_HASH, wasm: ENGINE_WASM, ops: ENGINE_OPS, messages: ENGINE_MESSAGES, link: wasmEngineLink };

export type { WasmEngineBinaries };
