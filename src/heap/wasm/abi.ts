/**
 * The C ABI of a wasm32 module's malloc family, as the module sees it through its imports.
 *
 * What C code compiled with clang `--target=wasm32-*` expects of `malloc` and friends, and what
 * differs from the `Heap` methods a JavaScript caller uses:
 * - arguments arrive as signed i32 and are `size_t` / pointers: read unsigned;
 * - `errno` numbers are the module's libc's: wasi-libc, Emscripten and musl-on-wasm use the
 *   WASI numbering (`EINVAL` = 28, `ENOMEM` = 48), not Linux's (22, 12);
 * - a failing call sets the C program's own `errno`, which lives in the module's memory at an
 *   address the module exports: wasi-libc's `errno` global, or musl's `__errno_location()`;
 * - `posix_memalign(memptr, alignment, size)` accepts any power of two that is a multiple of
 *   `sizeof(void *)`, which is 4 on wasm32, and writes the pointer (4 bytes) at `memptr`.
 *
 * {@link jsImports} builds these functions over the heap's JavaScript engine (each call crosses
 * from wasm into JavaScript); the wasm engine (`vmheap/wasm`) exports the same functions from
 * WebAssembly, so that the module's calls stay wasm-to-wasm.
 */
import { Errno } from "../../errno.js";
import { ArgumentError, checkOptions, hex, type OptionKeys } from "../../errors.js";
import { LinearMemory } from "../../memory/LinearMemory.js";
import type { Heap, HeapMemory } from "../Heap.js";
import type { WasmEngineBinaries } from "./engine.js";

/** `errno` numbers of WASI (wasi-libc, and Emscripten and musl, which share them). */
export const WASI_ERRNO = {
  /** Invalid argument. */
  EINVAL: 28,
  /** Cannot allocate memory. */
  ENOMEM: 48,
} as const;
/** `errno` numbers of Linux (the numbering of {@link Errno}). */
export const LINUX_ERRNO = {
  /** Invalid argument. */
  EINVAL: Errno.EINVAL,
  /** Cannot allocate memory. */
  ENOMEM: Errno.ENOMEM,
} as const;

/**
 * The numbering of `errno` values in the module's C library.
 * @inline
 */
export type ErrnoNumbering = "wasi" | "linux";

/** A C pointer width's `sizeof(void *)` on wasm32: `posix_memalign` alignments are multiples of it. */
export const WASM32_POINTER = 4;

/**
 * The `errno` value of the module's libc for a heap error code (which has Linux's number, as
 * `heap.errno` does): `ENOMEM` and `EINVAL`, the only two the malloc family sets.
 */
export function moduleErrno(numbering: ErrnoNumbering, linux: number): number {
  const table = numbering === "linux" ? LINUX_ERRNO : WASI_ERRNO;
  return linux === Errno.EINVAL ? table.EINVAL : linux === Errno.ENOMEM ? table.ENOMEM : linux;
}

/**
 * Options for {@link Heap.wasmImports}.
 * @inline
 */
export interface WasmImportOptions {
  /**
   * The `errno` numbering of the module's C library: `"wasi"` for wasi-libc, Emscripten and
   * musl (`EINVAL` = 28, `ENOMEM` = 48), `"linux"` for Linux's (22, 12).
   * @defaultValue "wasi"
   */
  errno?: ErrnoNumbering;
  /**
   * The module's instance, once it exists: a failing call sets the C program's `errno` where
   * the module exports it: its `errno` global (wasi-libc: link with
   * `-Wl,--export-if-defined=errno`) or its `__errno_location()` function (musl, Emscripten).
   * Without it, or without either export, only `heap.errno` is set.
   */
  instance?: () => WebAssembly.Instance | undefined;
  /**
   * The engine that runs the calls: `wasmEngine` from `vmheap/wasm` (the heap's own algorithm
   * compiled to WebAssembly), so that the module's calls are wasm-to-wasm. Without it, the
   * imports are JavaScript functions over the heap's JavaScript engine.
   */
  engine?: WasmEngineBinaries;
}

/** The keys of {@link WasmImportOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<WasmImportOptions> = { errno: 1, instance: 1, engine: 1 };

/**
 * The malloc family with the C ABI of wasm32, to pass as a module's `env` imports. Every
 * argument is an i32 read as unsigned; pointers and sizes are returned as i32.
 * @inline
 */
export interface WasmImports {
  /** `void *malloc(size_t size)` */
  malloc: (size: number) => number;
  /** `void free(void *ptr)` */
  free: (ptr: number) => void;
  /** `void *calloc(size_t nmemb, size_t size)` */
  calloc: (nmemb: number, size: number) => number;
  /** `void *realloc(void *ptr, size_t size)` */
  realloc: (ptr: number, size: number) => number;
  /** `void *reallocarray(void *ptr, size_t nmemb, size_t size)` */
  reallocarray: (ptr: number, nmemb: number, size: number) => number;
  /** `int posix_memalign(void **memptr, size_t alignment, size_t size)`: 0, EINVAL or ENOMEM (the module's numbers). */
  posix_memalign: (memptr: number, alignment: number, size: number) => number;
  /** `void *aligned_alloc(size_t alignment, size_t size)` */
  aligned_alloc: (alignment: number, size: number) => number;
  /** `void *memalign(size_t alignment, size_t size)` */
  memalign: (alignment: number, size: number) => number;
  /** `size_t malloc_usable_size(void *ptr)` */
  malloc_usable_size: (ptr: number) => number;
}

/** Checks the options of {@link Heap.wasmImports}; returns the errno numbering. */
export function checkImportOptions(opts: WasmImportOptions): ErrnoNumbering {
  checkOptions(opts, "wasmImports", OPTION_KEYS);
  const numbering = opts.errno ?? "wasi";
  if (numbering !== "wasi" && numbering !== "linux") throw new ArgumentError(`wasmImports: errno must be "wasi" or "linux", got ${String(opts.errno)}`);
  if (opts.instance !== undefined && typeof opts.instance !== "function") throw new ArgumentError("wasmImports: instance must be a function returning the module's instance");
  return numbering;
}

/**
 * Sets the C program's `errno` to `value` (already in the module's numbering), where the
 * module says its `errno` is: its exported `__errno_location()` (musl, Emscripten), or its
 * exported `errno` global, the address of wasi-libc's `errno` (link with
 * `-Wl,--export-if-defined=errno`). Without either, nothing is written.
 */
export function setModuleErrno(heap: Heap<HeapMemory>, instance: WasmImportOptions["instance"], value: number): void {
  const exports = instance?.()?.exports;
  if (exports === undefined) return;
  const location = exports.__errno_location;
  const global = exports.errno;
  let addr: number;
  if (typeof location === "function") addr = (location as () => number)() >>> 0;
  else if (global instanceof WebAssembly.Global) addr = (global.value as number) >>> 0;
  else return;
  store32(heap, addr, value);
}

function store32(heap: Heap<HeapMemory>, addr: number, value: number): void {
  const mem = heap.memory;
  if (mem instanceof LinearMemory) {
    const dv = mem.dv;
    // (a module whose errno lies outside its own memory is broken: say so, not a bare RangeError)
    if (addr + 4 > dv.byteLength) throw new ArgumentError(`wasmImports: the module's errno at ${hex(addr)} is outside its memory`);
    dv.setInt32(addr, value, true);
  } else {
    mem.write32(addr, value);
  }
}

/** Whether an alignment is one `posix_memalign` accepts on wasm32: a power of two, a multiple of 4. */
export function validWasmAlignment(alignment: number): boolean {
  return alignment >= WASM32_POINTER && (alignment & (alignment - 1)) === 0;
}

/**
 * The C-ABI imports over the heap's JavaScript engine: each call of the module crosses into
 * JavaScript. The default of {@link Heap.wasmImports}; see {@link WasmImports}.
 */
export function jsImports(heap: Heap<HeapMemory>, opts: WasmImportOptions = {}): WasmImports {
  const numbering = checkImportOptions(opts);
  const instance = opts.instance;
  // A failing call (a NULL result where C says errno is set): the heap set heap.errno, the
  // module's errno follows in its own numbering. Cold: only on failure.
  const failed = (): 0 => {
    setModuleErrno(heap, instance, moduleErrno(numbering, heap.errno));
    return 0;
  };
  return {
    malloc: (size) => heap.malloc(size >>> 0) || failed(),
    free: (ptr) => heap.free(ptr >>> 0),
    calloc: (nmemb, size) => heap.calloc(nmemb >>> 0, size >>> 0) || failed(),
    realloc: (ptr, size) => {
      const p = ptr >>> 0;
      const n = size >>> 0;
      // realloc(p, 0) frees p and returns NULL without an error
      return heap.realloc(p, n) || (p !== 0 && n === 0 ? 0 : failed());
    },
    reallocarray: (ptr, nmemb, size) => {
      const p = ptr >>> 0;
      const a = nmemb >>> 0;
      const b = size >>> 0;
      return heap.reallocarray(p, a, b) || (p !== 0 && (a === 0 || b === 0) ? 0 : failed());
    },
    posix_memalign: (memptr, alignment, size) => {
      const a = alignment >>> 0;
      if (!validWasmAlignment(a)) return moduleErrno(numbering, Errno.EINVAL);
      // An alignment under the heap's own (4, or 8 in ilp32) is what malloc gives anyway.
      const r = heap.posixMemalign(Math.max(a, heap.alignment), size >>> 0);
      if (r.err !== 0) return moduleErrno(numbering, r.err);
      store32(heap, memptr >>> 0, r.ptr);
      return 0;
    },
    aligned_alloc: (alignment, size) => heap.alignedAlloc(alignment >>> 0, size >>> 0) || failed(),
    memalign: (alignment, size) => heap.memalign(alignment >>> 0, size >>> 0) || failed(),
    malloc_usable_size: (ptr) => heap.mallocUsableSize(ptr >>> 0),
  };
}
