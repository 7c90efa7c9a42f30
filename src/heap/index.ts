/**
 * vmheap/heap: the heap alone, for programs that want a malloc over linear memory and nothing
 * else (a bundle of `import { Heap } from "vmheap/heap"` is about half the size of the same
 * import from the root). It is the same class as the root's `Heap`, without the arenas of
 * concurrent heaps: `new Heap({ concurrent: true })` and `Heap.attach` of a concurrent heap's
 * memory need the root entry, `import { Heap } from "vmheap"`, and throw an `ArgumentError`
 * that says so here. Everything else (the malloc family, typed-array views, `check()`,
 * `mallinfo()`, `wasmImports()`, attaching a heap that is not concurrent) is the same.
 * @packageDocumentation
 * @module vmheap/heap
 */
export { Errno, errnoName, type ErrnoValue } from "../errno.js";
export { VmError, ArgumentError, HeapError, DoubleFreeError, InvalidPointerError, HeapCorruptionError, DetachedMemoryError } from "../errors.js";
export { M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX } from "../constants.js";
export {
  LinearMemory,
  WASM_PAGE,
  DEFAULT_MAX_BYTES,
  DEFAULT_INITIAL_BYTES,
  type LinearMemoryOptions,
  type FreshMemoryOptions,
  type BufferMemoryOptions,
  type WasmMemoryOptions,
} from "../memory/LinearMemory.js";
import { Heap as HeapClass, type HeapMemory } from "./Heap.js";
export {
  DEFAULT_MMAP_THRESHOLD,
  DEFAULT_TRIM_THRESHOLD,
  MAX_HEAP_BYTES,
  type HeapOptions,
  type AttachOptions,
  type MallInfo,
  type DataModel,
  type ChunkInfo,
  type MappedBlock,
  type HeapMemory,
} from "./Heap.js";
export type { TypedArray, TypedArrayConstructor } from "./views.js";
export type { WasmImports, WasmImportOptions, ErrnoNumbering } from "./wasm/abi.js";
export { MAX_REQUEST } from "./chunk.js";
/**
 * The malloc family over linear memory, with C semantics; all its state lives in the memory it
 * manages. The root entry's `Heap` (the same class), without concurrent heaps: for those,
 * `import { Heap } from "vmheap"`.
 * @example
 * ```ts
 * import { Heap } from "vmheap/heap";
 *
 * const heap = new Heap();
 * const a = heap.mallocArray(Float64Array, 4)!;
 * a.set([1, 2, 3, 4]);
 * const b = heap.resizeArray(a, 8)!;
 * console.log(b.length, b[3]); // 8 4
 * heap.free(b);
 * heap.check();
 * try {
 *   new Heap({ memory: new SharedArrayBuffer(1 << 20), concurrent: true });
 * } catch (e) {
 *   console.log((e as Error).name); // ArgumentError
 * }
 * ```
 * @class
 */
export const Heap = HeapClass;
export type Heap<M extends HeapMemory = HeapMemory> = HeapClass<M>;
