// The host of the heap's wasm engine (AssemblyScript; compiled by scripts/gen-wasm-engine.mjs).
//
// engine.generated.as is Heap.ts's engine translated; it reaches the world only through what
// this file gives it, as Heap.ts reaches it through `this.host` (src/heap/host.ts), and the
// module's memory itself (its metadata words are 32-bit loads and stores, as Heap.ts's
// Int32Array `m`; memmove and memset are memory.copy and memory.fill):
// - Math.min/max and exact integer division on JavaScript's numbers (i64 here);
// - the program break, kept in a word of the heap's header as LinearHost's Brk keeps it, over
//   the module's own memory: memory.grow in 64 KiB pages, never shrinking (Brk and
//   LinearMemory's rules, for a WebAssembly.Memory);
// - the errors: `fail` calls into JavaScript, which throws the library's typed error.

// @ts-ignore: decorator
@external("env", "fail") declare function jsFail(kind: i32, msg: i32, op: i32, at: f64): void;

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

/** Throws the typed error `kind` in JavaScript (see engine.generated.ts for the tables). */
export function fail(kind: i32, msg: i32, op: i32, at: f64): void {
  jsFail(kind, msg, op, at);
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
