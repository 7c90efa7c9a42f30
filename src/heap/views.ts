/**
 * Typed-array views of heap blocks: `heap.mallocArray(Float32Array, n)` is `malloc(n * 4)`
 * handed back as a `Float32Array` over the block, and `heap.free(view)` frees it.
 *
 * ```text
 *   memory.buffer ┌────────┬──────────────────────────────┬─────────
 *                 │ header │ block p: n elements          │ ...
 *                 └────────┴──────────────────────────────┴─────────
 *   view = new Float32Array(memory.buffer, p, n)   view.byteOffset === p: the view IS the pointer
 * ```
 *
 * A view is nothing but the block's pointer (its `byteOffset`) and length: no state is kept
 * beside the heap, so a view is valid exactly as long as its block and its buffer are.
 * Blocks are aligned to 16 (8 in the 32-bit model), so every element type is aligned,
 * `BigInt64Array` and `Float64Array` included.
 *
 * A buffer that changes under a view makes the view stale: a non-shared `WebAssembly.Memory`
 * detaches its old buffer when it grows (a view of it then has length 0 and byteOffset 0), and
 * a shared one gives a new buffer object whose views see the new bytes. Keep the pointer
 * (`view.byteOffset`) while the view is good and make a new view with {@link Heap.view} after
 * a growth. A heap on a fresh `LinearMemory` (the default) never changes its buffer.
 *
 * These functions use only the heap's public calls: all the checks of the malloc family apply.
 * @module
 */
import { Errno } from "../errno.js";
import { ArgumentError, InvalidPointerError, notNumber, show } from "../errors.js";
import { LinearMemory } from "../memory/LinearMemory.js";
import { MAX_REQUEST } from "./chunk.js";
import type { Heap, HeapMemory } from "./Heap.js";

/** The typed arrays a heap makes views of: every one JavaScript has. */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A typed-array class (`Float32Array`, `BigInt64Array`, ..., or a subclass of one): what
 * {@link Heap.mallocArray} takes. The view's type follows the class: `mallocArray(Float32Array, n)`
 * is a `Float32Array | null`.
 */
export interface TypedArrayConstructor<T extends TypedArray = TypedArray> {
  /** The view type (inference reads it from here: `Float32Array.prototype` is a `Float32Array`). */
  readonly prototype: T;
  /** Bytes per element. */
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
}

/** Any heap: views need its public calls and its memory. */
type AnyHeap = Heap<HeapMemory>;

/** The heap's linear memory, or the error for a process's heap, which has no buffer to view. */
function linear(heap: AnyHeap, op: string): LinearMemory {
  const memory = heap.memory;
  if (memory instanceof LinearMemory) return memory;
  throw new ArgumentError(
    `${op}(): a process's heap has no linear buffer to view: read and write its blocks through heap.memory, the process's AddressSpace (readBytes, writeBytes, read32, ...)`,
  );
}

/** `ctor.BYTES_PER_ELEMENT`, once `ctor` is known to be a typed-array class. */
function elementSize(ctor: TypedArrayConstructor, op: string): number {
  // Every typed-array class inherits from %TypedArray%, the prototype of Uint8Array.
  if (typeof ctor !== "function" || !(ctor.prototype instanceof Object.getPrototypeOf(Uint8Array))) {
    throw new ArgumentError(`${op}(): the first argument must be a typed-array class (Float32Array, BigInt64Array, ...), got ${show(ctor)}`);
  }
  return ctor.BYTES_PER_ELEMENT;
}

/** Whether `length` elements of `size` bytes are a request the heap could meet: else C's result, 0 with ENOMEM. */
function possible(length: number, size: number, op: string): boolean {
  if (typeof length !== "number") throw notNumber(op, "length", length);
  return Number.isSafeInteger(length) && length >= 0 && length * size <= MAX_REQUEST;
}

/**
 * `heap.mallocArray(ctor, length)` (`zero`: `callocArray`): a view of `length` elements over a
 * new block, or null with `errno = ENOMEM`.
 */
export function allocArray<T extends TypedArray>(heap: AnyHeap, ctor: TypedArrayConstructor<T>, length: number, zero: boolean): T | null {
  const op = zero ? "callocArray" : "mallocArray";
  const memory = linear(heap, op);
  const size = elementSize(ctor, op);
  if (!possible(length, size, op)) {
    heap.errno = Errno.ENOMEM;
    return null;
  }
  const p = zero ? heap.calloc(length, size) : heap.malloc(length * size);
  // The buffer after the call: growing a wasm memory replaces it.
  return p === 0 ? null : new ctor(memory.buffer, p, length);
}

/**
 * The block a view covers (its `byteOffset`), for `free` and `resizeArray`: the view must be
 * over this heap's buffer. Whether a block starts there, `free`/`realloc` then check.
 * @throws ArgumentError for anything but a typed array or `DataView`; InvalidPointerError for
 *   a view of another buffer or of a detached one
 */
export function blockOf(heap: AnyHeap, view: ArrayBufferView, op: string): number {
  if (!ArrayBuffer.isView(view)) throw new ArgumentError(`${op}(): invalid pointer (${show(view)}): a pointer is a number, or a typed array over a block`);
  const memory = linear(heap, op);
  const own = memory.owns(view.buffer);
  // (No block starts at 0: the heap's header comes first; and free(0) would be a no-op.)
  if (own && view.byteOffset !== 0) return view.byteOffset;
  // A detached buffer reads as empty, and its views as empty at offset 0: the pointer is gone.
  const stale = !own && view.buffer.byteLength === 0 && view.byteOffset === 0 && view.byteLength === 0;
  throw new InvalidPointerError(
    op,
    view.byteOffset,
    own
      ? `${show(view)} at offset 0`
      : stale
        ? `${show(view)} over a detached buffer: the memory grew or was transferred since the view was made; keep the pointer (view.byteOffset) and re-make views with heap.view()`
        : `${show(view)} over another buffer than this heap's`,
  );
}

/**
 * `heap.resizeArray(view, length)`: `realloc` of the view's block to `length` elements of the
 * view's type; a new view, or null with `errno = ENOMEM` and the old view still valid and owned.
 */
export function resizeArray<T extends TypedArray>(heap: AnyHeap, view: T, length: number): T | null {
  const p = blockOf(heap, view, "resizeArray");
  const ctor = view.constructor as TypedArrayConstructor<T>;
  const size = elementSize(ctor, "resizeArray");
  if (typeof length !== "number") throw notNumber("resizeArray", "length", length);
  // reallocarray checks the block, then the product (0 with ENOMEM, the block intact). Never
  // 0 bytes: realloc(p, 0) frees the block, and an empty view still owns one.
  const q = length === 0 ? heap.realloc(p, 1) : heap.reallocarray(p, length, size);
  return q === 0 ? null : new ctor(linear(heap, "resizeArray").buffer, q, length);
}

/**
 * `heap.view(ctor, ptr, length)`: a view of `length` elements over live block `ptr`, e.g. to
 * re-make a view after a wasm memory grew.
 */
export function viewOf<T extends TypedArray>(heap: AnyHeap, ctor: TypedArrayConstructor<T>, ptr: number, length: number): T {
  const memory = linear(heap, "view");
  const size = elementSize(ctor, "view");
  if (typeof ptr !== "number") throw new ArgumentError(`view(): invalid pointer (${show(ptr)}): a pointer is a number`);
  if (typeof length !== "number") throw notNumber("view", "length", length);
  const usable = heap.mallocUsableSize(ptr);
  if (usable === 0) throw new InvalidPointerError("view", ptr, `${show(ptr)}: not a block in use`);
  if (!Number.isSafeInteger(length) || length < 0 || length * size > usable) {
    throw new ArgumentError(`view(): ${String(length)} elements of ${size} bytes do not fit the block at ${show(ptr)} (${usable} bytes usable)`);
  }
  return new ctor(memory.buffer, ptr, length);
}
