/**
 * The heap's wasm engine, seen from JavaScript: compiles the binaries that `vmheap/wasm`
 * carries, instantiates one on the heap's `WebAssembly.Memory` for each set of imports, and
 * turns the engine's two calls out (`fail`, `errno`: cold paths only) into the library's typed
 * errors and the module's `errno`.
 *
 * The engine is Heap.ts's own algorithm compiled to WebAssembly (scripts/gen-wasm-engine.mjs):
 * it reads and writes the same header, chunks and bitmap as the JavaScript engine, so the heap
 * is one heap whichever engine a call goes through. The binaries (tens of kilobytes) live in
 * the `vmheap/wasm` subpath so that importing the heap alone stays small; this loader is small
 * and lives with the heap, so that the errors it throws are the very classes users import.
 */
import { Errno } from "../../errno.js";
import { ArgumentError, DoubleFreeError, HeapCorruptionError, InvalidPointerError } from "../../errors.js";
import { LinearMemory } from "../../memory/LinearMemory.js";
import { FLAG_CONCURRENT, H_ARENA, H_BRK, H_BRK_START, H_CONFIG, H_LIMIT } from "../header.js";
import type { DataModel, Heap, HeapMemory } from "../Heap.js";
import { checkImportOptions, moduleErrno, setModuleErrno, type ErrnoNumbering, type WasmImportOptions, type WasmImports } from "./abi.js";
import { withSharedMemoryImport } from "./binary.js";

/**
 * The compiled engine as `vmheap/wasm` exports it (`wasmEngine`): one binary per data model,
 * and the tables that name what its `fail` reports.
 */
export interface WasmEngineBinaries {
  /** sha256 of everything the binaries were built from. */
  readonly hash: string;
  /** The engine for each data model, base64. */
  readonly wasm: { readonly [model in DataModel]: string };
  /** Operation names, by the number the engine reports. */
  readonly ops: readonly string[];
  /** HeapCorruptionError messages, by the number the engine reports. */
  readonly messages: readonly string[];
  /**
   * How a heap runs on the engine and hands it to modules: the loader. It travels with the
   * binaries (in `vmheap/wasm`) so that a program importing only the heap does not carry it.
   * @internal
   */
  readonly link: WasmEngineLink;
}

/** The loader's entry points, as a {@link Heap} calls them. @internal */
export interface WasmEngineLink {
  /** The general path of a heap made with `engine` (see {@link runOnWasmEngine}). */
  run(heap: Heap<HeapMemory>, engine: WasmEngineBinaries): Record<string, (...args: number[]) => number | void>;
  /** A module's imports run by the engine (see {@link wasmEngineImports}). */
  imports(heap: Heap<HeapMemory>, engine: WasmEngineBinaries, opts: WasmImportOptions): WasmImports;
}

/** The loader, for `vmheap/wasm` to attach to its binaries. @internal */
export const wasmEngineLink: WasmEngineLink = { run: runOnWasmEngine, imports: wasmEngineImports };

/** The exports of an engine instance: the C ABI, `init`, and what a Heap's own calls use. */
interface EngineExports extends WasmImports {
  init(hdr: number, arena: number, brkWord: number, brkStart: number, brkLimit: number, maxBytes: number, einval: number, enomem: number): void;
  malloc_trim(pad: number): number;
  memalign_impl(alignment: number, size: number): number;
}

/** Error classes by the `kind` the engine reports (the order of ERROR_KINDS in the generator). */
const KINDS = ["HeapCorruptionError", "DoubleFreeError", "InvalidPointerError"] as const;

const compiled = new WeakMap<WasmEngineBinaries, Map<string, WebAssembly.Module>>();

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function checkBinaries(engine: WasmEngineBinaries): void {
  if (engine === null || typeof engine !== "object" || typeof engine.wasm !== "object" || !Array.isArray(engine.ops) || !Array.isArray(engine.messages)) {
    throw new ArgumentError("wasmImports: engine must be the wasmEngine of vmheap/wasm");
  }
}

/** The engine's module for a data model, for a shared or an unshared memory (compiled once). */
function moduleFor(engine: WasmEngineBinaries, model: DataModel, shared: boolean): WebAssembly.Module {
  checkBinaries(engine);
  let cache = compiled.get(engine);
  if (cache === undefined) compiled.set(engine, (cache = new Map()));
  const key = `${model}:${shared}`;
  let m = cache.get(key);
  if (m === undefined) {
    const bytes = decode(engine.wasm[model]);
    m = new WebAssembly.Module(shared ? (withSharedMemoryImport(bytes) as Uint8Array<ArrayBuffer>) : bytes);
    cache.set(key, m);
  }
  return m;
}

/**
 * Compiles the engine's modules for every data model ahead of time, off the main thread where
 * the runtime can (`WebAssembly.compile`): browsers refuse to compile modules of more than a
 * few kilobytes synchronously on their main thread, which `wasmImports` otherwise does.
 * @example
 * ```ts
 * import { Heap, compileWasmEngine } from "vmheap";
 * import { wasmEngine } from "vmheap/wasm";
 *
 * // once, early (in a browser: before the first wasmImports on the main thread)
 * await compileWasmEngine(wasmEngine);
 * const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 2, maximum: 256 }), base: 0x10400, dataModel: "wasm32" });
 * const env = heap.wasmImports({ engine: wasmEngine }); // no compilation here any more
 * console.log(heap.mallocUsableSize(env.malloc(24))); // 28
 * ```
 */
export async function compileWasmEngine(engine: WasmEngineBinaries): Promise<void> {
  checkBinaries(engine);
  let cache = compiled.get(engine);
  if (cache === undefined) compiled.set(engine, (cache = new Map()));
  for (const model of Object.keys(engine.wasm) as DataModel[]) {
    for (const shared of [false, true]) {
      const key = `${model}:${shared}`;
      if (cache.has(key)) continue;
      const bytes = decode(engine.wasm[model]);
      cache.set(key, await WebAssembly.compile(shared ? (withSharedMemoryImport(bytes) as Uint8Array<ArrayBuffer>) : bytes));
    }
  }
}

/** An engine instance on `heap`: its exports, attached to the heap's header. */
function instantiate(heap: Heap<HeapMemory>, engine: WasmEngineBinaries, numbering: ErrnoNumbering, instance: WasmImportOptions["instance"]): EngineExports {
  const mem = heap.memory;
  if (!(mem instanceof LinearMemory) || mem.wasm === null) throw new ArgumentError("the wasm engine runs a heap on a WebAssembly.Memory");
  const hdr = heap.base;
  const words = new Int32Array(mem.buffer, hdr, 32);
  if ((words[H_CONFIG]! >>> 16) & FLAG_CONCURRENT) throw new ArgumentError("a concurrent heap takes its lock in JavaScript: the wasm engine does not run it");
  const module = moduleFor(engine, heap.dataModel, mem.shared);
  const env = {
    memory: mem.wasm,
    fail(kind: number, msg: number, op: number, at: number): never {
      const name = engine.ops[op] ?? "malloc";
      if (KINDS[kind] === "DoubleFreeError") throw new DoubleFreeError(name, at);
      if (KINDS[kind] === "InvalidPointerError") throw new InvalidPointerError(name, at);
      throw new HeapCorruptionError(engine.messages[msg] ?? "corrupted heap", name, at);
    },
    errno(code: number): void {
      heap.errno = code;
      setModuleErrno(heap, instance, moduleErrno(numbering, code));
    },
  };
  const exports = new WebAssembly.Instance(module, { env }).exports as unknown as EngineExports;
  exports.init(hdr, words[H_ARENA]!, hdr + 4 * H_BRK, words[H_BRK_START]!, words[H_LIMIT]!, mem.maxBytes, moduleErrno(numbering, Errno.EINVAL), moduleErrno(numbering, Errno.ENOMEM));
  return exports;
}

/**
 * The C-ABI imports of `heap` run by its wasm engine: a new engine instance on the heap's
 * `WebAssembly.Memory`, attached to the heap's header. See {@link Heap.wasmImports}.
 * @throws ArgumentError when the heap is not on a `WebAssembly.Memory`, or is concurrent (the
 *   engine takes no lock)
 */
export function wasmEngineImports(heap: Heap<HeapMemory>, engine: WasmEngineBinaries, opts: WasmImportOptions): WasmImports {
  const numbering = checkImportOptions(opts);
  checkBinaries(engine);
  let exports: EngineExports;
  try {
    exports = instantiate(heap, engine, numbering, opts.instance);
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(`wasmImports: ${e.message}`);
    throw e;
  }
  const { malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign, malloc_usable_size } = exports;
  return { malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign, malloc_usable_size };
}

/** A C size_t or pointer: what the engine takes. Anything else is the JavaScript engine's to answer. */
const isU32 = (x: unknown): x is number => typeof x === "number" && x >>> 0 === x;

/**
 * The general path of a Heap run by its wasm engine (HeapOptions.engine): `mallocImpl`,
 * `freeImpl`, ... for `heap` to take as its own. The JavaScript API checks its arguments first
 * as always; values a C caller could pass (size_t, pointers) go to the engine, and anything
 * else (a fraction, a negative number, a string) to the JavaScript engine's own method, which
 * gives the answer the API documents. Either way it is the same algorithm on the same bytes.
 * @throws ArgumentError when the heap is not on a `WebAssembly.Memory`, or is concurrent
 */
export function runOnWasmEngine(heap: Heap<HeapMemory>, engine: WasmEngineBinaries): Record<string, (...args: number[]) => number | void> {
  checkBinaries(engine);
  let ex: EngineExports;
  try {
    ex = instantiate(heap, engine, "linux", undefined);
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(`Heap: ${e.message}`);
    throw e;
  }
  // The JavaScript engine's methods, for the arguments the engine does not take.
  const js = Object.getPrototypeOf(heap) as Record<string, (...args: number[]) => number | void>;
  return {
    mallocImpl: (size) => (isU32(size) ? ex.malloc(size) >>> 0 : js.mallocImpl!.call(heap, size)),
    freeImpl: (ptr) => (isU32(ptr) ? ex.free(ptr) : js.freeImpl!.call(heap, ptr)),
    callocImpl: (nmemb, size) => (isU32(nmemb) && isU32(size) ? ex.calloc(nmemb, size) >>> 0 : js.callocImpl!.call(heap, nmemb, size)),
    reallocImpl: (ptr, size) => (isU32(ptr) && isU32(size) ? ex.realloc(ptr, size) >>> 0 : js.reallocImpl!.call(heap, ptr, size)),
    memalignImpl: (alignment, size) => (isU32(alignment) && isU32(size) ? ex.memalign_impl(alignment, size) >>> 0 : js.memalignImpl!.call(heap, alignment, size)),
    usableImpl: (ptr) => (isU32(ptr) ? ex.malloc_usable_size(ptr) >>> 0 : js.usableImpl!.call(heap, ptr)),
    trimImpl: (pad) => (isU32(pad) ? ex.malloc_trim(pad) : js.trimImpl!.call(heap, pad)),
  };
}
