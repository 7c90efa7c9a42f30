// The host of the heap's wasm engine (AssemblyScript; compiled by scripts/gen-wasm-engine.mjs).
//
// engine.generated.as is Heap.ts's engine translated; it reaches the world only through what
// this file gives it, as Heap.ts reaches it through `this.host` (src/heap/host.ts):
// - JavaScript's integer operations on the engine's numbers. A JavaScript number is an i64
//   here, and JavaScript's bitwise operators work on the low 32 bits and give a signed
//   (`>>>`: unsigned) 32-bit result: each helper does exactly that, and binaryen folds the
//   conversions away where the values are known to fit;
// - metadata words (32-bit loads and stores, as Heap.ts's Int32Array `m`), memmove and memset;
// - the program break, kept in a word of the heap's header as LinearHost's Brk keeps it, over
//   the module's own memory: memory.grow in 64 KiB pages, never shrinking (Brk and
//   LinearMemory's rules, for a WebAssembly.Memory);
// - the errors: `fail` calls into JavaScript, which throws the library's typed error.

// @ts-ignore: decorator
@external("env", "fail") declare function jsFail(kind: i32, msg: i32, op: i32, at: f64): void;

// @ts-ignore: decorator
@inline export function band(a: i64, b: i64): i64 { return <i64>(<i32>a & <i32>b); }
// @ts-ignore: decorator
@inline export function bor(a: i64, b: i64): i64 { return <i64>(<i32>a | <i32>b); }
// @ts-ignore: decorator
@inline export function bxor(a: i64, b: i64): i64 { return <i64>(<i32>a ^ <i32>b); }
// @ts-ignore: decorator
@inline export function bnot(a: i64): i64 { return <i64>~<i32>a; }
// wasm's i32 shifts take the count modulo 32, as JavaScript's do.
// @ts-ignore: decorator
@inline export function shl(a: i64, b: i64): i64 { return <i64>(<i32>a << <i32>b); }
// @ts-ignore: decorator
@inline export function sar(a: i64, b: i64): i64 { return <i64>(<i32>a >> <i32>b); }
// @ts-ignore: decorator
@inline export function shr(a: i64, b: i64): i64 { return <i64>(<u32><i32>a >>> <u32>b); }
// @ts-ignore: decorator
@inline export function clz32(a: i64): i64 { return <i64>clz<u32>(<u32>a); }

// @ts-ignore: decorator
@inline export function imin(a: i64, b: i64): i64 { return a < b ? a : b; }
// @ts-ignore: decorator
@inline export function imax(a: i64, b: i64): i64 { return a > b ? a : b; }

/** Math.ceil(a / b) for b > 0. */
export function ceilDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return q * b < a ? q + 1 : q;
}
/** Math.floor(a / b) for b > 0. */
export function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return q * b > a ? q - 1 : q;
}

/** The 32-bit word at byte address `a` (a multiple of 4), signed as an Int32Array reads it. */
// @ts-ignore: decorator
@inline export function load32(a: i64): i64 { return <i64>load<i32>(<usize>a); }
/** Stores the low 32 bits of `v` (an Int32Array's store: ToInt32). */
// @ts-ignore: decorator
@inline export function store32(a: i64, v: i64): void { store<i32>(<usize>a, <i32>v); }

export function hostCopy(dst: i64, src: i64, length: i64): void {
  memory.copy(<usize>dst, <usize>src, <usize>length);
}
export function hostZero(a: i64, length: i64): void {
  memory.fill(<usize>a, 0, <usize>length);
}

/** Throws the typed error `kind` in JavaScript (see engine.generated.ts for the tables). */
export function fail(kind: i32, msg: i32, op: i32, at: i64): void {
  jsFail(kind, msg, op, <f64>at);
}

// The break: where it lives, its floor and ceiling, the memory's reservation (setBreak).
let brkAt: usize = 0;
let brkStart: i64 = 0;
let brkLimit: i64 = 0;
let maxBytes: i64 = 0;

/** Where the break is kept (the header's break word) and its rules (Brk's start and limit, LinearMemory's maxBytes). */
export function setBreak(at: usize, start: i64, limit: i64, max: i64): void {
  brkAt = at;
  brkStart = start;
  brkLimit = limit;
  maxBytes = max;
}

/**
 * sbrk(3) over the module's memory (Brk.sbrk and Brk.brk with a LinearMemory's moveBreak): the
 * previous break, or -1 when the break would go below its start or past its limit, or the
 * memory cannot grow. The memory grows to the next 4 KiB boundary, in whole 64 KiB pages.
 */
export function hostSbrk(increment: i64): i64 {
  const old = <i64>load<i32>(brkAt);
  if (increment == 0) return old;
  const addr = old + increment;
  if (addr < brkStart || addr > brkLimit) return -1;
  const want = min<i64>(ceilDiv(addr, 4096) * 4096, max<i64>(addr, maxBytes));
  const have = <i64>memory.size() << 16;
  if (want > have) {
    if (want > maxBytes) return -1;
    if (memory.grow(<i32>((want - have + 65535) >> 16)) < 0) return -1;
  }
  store<i32>(brkAt, <i32>addr);
  return old;
}
