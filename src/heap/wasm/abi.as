// The C ABI of the heap's wasm engine (AssemblyScript; compiled by scripts/gen-wasm-engine.mjs):
// the functions a wasm32 module imports as its malloc family, over the engine that
// engine.generated.as translates from Heap.ts. The same rules as the JavaScript imports
// (src/heap/wasm/abi.ts, where they are explained): size_t and pointers unsigned, errno
// numbers of the module's libc, errno set on failure (through JavaScript: only on the cold
// path), posix_memalign alignments that are multiples of sizeof(void *) = 4.

import {
  attachHeader, takeErrno, mallocImpl, freeImpl, callocImpl, reallocImpl, memalignImpl, usableImpl, trimImpl,
  reallocarray as reallocarrayImpl,
} from "./engine";
import { setBreak } from "./host";
import { ALIGN } from "./layout";

/** Sets heap.errno (a Linux number) and the C program's errno (in the module's numbering). */
// @ts-ignore: decorator
@external("env", "errno") declare function jsErrno(code: i32): void;

/** The highest header or first chunk address a heap can have (scripts/gen-wasm-engine.mjs, MAX_HEAP_ADDRESS). */
const MAX_HEAP_ADDRESS: u32 = 0x7fff_0000;
/** The lowest first chunk address (scripts/gen-wasm-engine.mjs, MIN_ARENA). */
const MIN_ARENA: u32 = 16;
const LINUX_EINVAL: i32 = 22;
const LINUX_ENOMEM: i32 = 12;
/** What posix_memalign returns for EINVAL and ENOMEM: the module's libc's numbers. */
let einval: i32 = 28;
let enomem: i32 = 48;

/**
 * Points the engine at a heap: its header `hdr`, first chunk `arena`, the break's word, floor
 * and ceiling, the memory's reservation, and the module's EINVAL and ENOMEM.
 */
export function init(hdr: u32, arena: u32, brkWord: u32, brkStart: u32, brkLimit: u32, maxBytes: f64, einvalCode: i32, enomemCode: i32): void {
  // The engine's arithmetic counts on these addresses being at most MAX_HEAP_ADDRESS (a heap
  // never spans more than MAX_HEAP_BYTES, Heap.ts), the first chunk past MIN_ARENA (it follows
  // the header): some sums of them are made in 32 bits.
  if (hdr > MAX_HEAP_ADDRESS || arena > MAX_HEAP_ADDRESS || arena < MIN_ARENA) unreachable();
  attachHeader(<i32>hdr, <i32>arena);
  setBreak(<usize>brkWord, <i64>brkStart, <i64>brkLimit, <i64>maxBytes);
  einval = einvalCode;
  enomem = enomemCode;
}

/** After a call returned NULL: the errno it set, if any, goes to JavaScript. */
function flush(): void {
  const e = takeErrno();
  if (e != 0) jsErrno(<i32>e);
}

export function malloc(size: u32): u32 {
  const p = mallocImpl(<i64>size);
  if (p == 0) flush();
  return <u32>p;
}

/** free(3): free(NULL) does nothing (Heap.free's first check; freeImpl is what follows it). */
export function free(ptr: u32): void {
  if (ptr == 0) return;
  freeImpl(<i64>ptr);
}

export function calloc(nmemb: u32, size: u32): u32 {
  const p = callocImpl(<i64>nmemb, <i64>size);
  if (p == 0) flush();
  return <u32>p;
}

export function realloc(ptr: u32, size: u32): u32 {
  const p = reallocImpl(<i64>ptr, <i64>size);
  if (p == 0) flush();
  return <u32>p;
}

export function reallocarray(ptr: u32, nmemb: u32, size: u32): u32 {
  const p = reallocarrayImpl(<i64>ptr, <i64>nmemb, <i64>size);
  if (p == 0) flush();
  return <u32>p;
}

/** posix_memalign(3): never touches errno; the pointer (4 bytes) at memptr on success only. */
export function posix_memalign(memptr: u32, alignment: u32, size: u32): i32 {
  if (alignment < 4 || (alignment & (alignment - 1)) != 0) return einval;
  // An alignment under the heap's own is what malloc gives anyway.
  const p = memalignImpl(max<i64>(<i64>alignment, <i64>ALIGN), <i64>size);
  takeErrno();
  if (p == 0) return enomem;
  store<u32>(<usize>memptr, <u32>p);
  return 0;
}

/** aligned_alloc(3): an alignment that is not a power of two is EINVAL. */
export function aligned_alloc(alignment: u32, size: u32): u32 {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    jsErrno(LINUX_EINVAL);
    return 0;
  }
  const p = memalignImpl(<i64>alignment, <i64>size);
  if (p == 0) flush();
  return <u32>p;
}

/** memalign(3): an alignment that is not a power of two is rounded up to one (Heap.memalign). */
export function memalign(alignment: u32, size: u32): u32 {
  if (alignment > 0x4000_0000) {
    jsErrno(LINUX_ENOMEM); // a valid alignment no heap of at most 2 GiB can give
    return 0;
  }
  let a = alignment;
  if (a != 0 && (a & (a - 1)) != 0) a = <u32>1 << (32 - clz<u32>(a - 1));
  const p = memalignImpl(<i64>a, <i64>size);
  if (p == 0) flush();
  return <u32>p;
}

/**
 * The general path of Heap's memalign family (memalignImpl): for a Heap whose JavaScript
 * calls run on this engine, after the JavaScript API has checked its arguments.
 */
export function memalign_impl(alignment: u32, size: u32): u32 {
  const p = memalignImpl(<i64>alignment, <i64>size);
  if (p == 0) flush();
  return <u32>p;
}

export function malloc_usable_size(ptr: u32): u32 {
  return <u32>usableImpl(<i64>ptr);
}

export function malloc_trim(pad: u32): i32 {
  return <i32>trimImpl(<i64>pad);
}
