import { ArgumentError, DetachedMemoryError, VmError, checkOptions, type OptionKeys } from "../errors.js";

/** Bytes in a WebAssembly page: `WebAssembly.Memory` grows in these units. */
export const WASM_PAGE = 65536;

/**
 * Default reservation of a fresh {@link LinearMemory}: 256 MiB. A fixed-size buffer costs
 * nothing until its pages are written (a 1 GiB `SharedArrayBuffer` adds about 2 MiB to RSS),
 * and a fixed size keeps reads fast (1.65 ns per typed-array read, against 13 ns for a growable
 * `SharedArrayBuffer`), so the whole reservation is made up front and `grow` only moves the
 * logical end. 256 MiB is small enough for browsers to grant.
 */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** Default logical size of a fresh {@link LinearMemory}: one WebAssembly page. */
export const DEFAULT_INITIAL_BYTES = WASM_PAGE;

/** Options for a fresh memory made by {@link LinearMemory}. */
export interface FreshMemoryOptions {
  /** Logical size at start, in bytes. @defaultValue 65536 */
  initialBytes?: number;
  /** Reservation: the most the memory can grow to, in bytes. @defaultValue 268435456 (256 MiB) */
  maxBytes?: number;
  /**
   * Back the memory with a `SharedArrayBuffer` (so workers can share it).
   * @defaultValue `true` where `SharedArrayBuffer` exists, else `false`
   */
  shared?: boolean;
}

/** Options wrapping an existing buffer. */
export interface BufferMemoryOptions {
  /** The bytes. A resizable `ArrayBuffer` or growable `SharedArrayBuffer` can grow; a fixed one cannot. */
  buffer: ArrayBuffer | SharedArrayBuffer;
}

/** Options wrapping a `WebAssembly.Memory` (shared with a compiled module). */
export interface WasmMemoryOptions {
  /** The module's memory. Grown with `memory.grow` in 64 KiB pages; it never shrinks. */
  wasm: WebAssembly.Memory;
  /** The most bytes this wrapper lets the memory grow to. @defaultValue 4 GiB */
  maxBytes?: number;
}

/** Every way to make a {@link LinearMemory}. */
export type LinearMemoryOptions = FreshMemoryOptions | BufferMemoryOptions | WasmMemoryOptions;

const OPTIONS: OptionKeys<FreshMemoryOptions & BufferMemoryOptions & WasmMemoryOptions> = { initialBytes: 1, maxBytes: 1, shared: 1, buffer: 1, wasm: 1 };

/** The ES2024 growth members of `ArrayBuffer` / `SharedArrayBuffer`, where the runtime has them. */
interface GrowthMembers {
  resizable?: boolean;
  growable?: boolean;
  maxByteLength?: number;
  resize?(n: number): void;
  grow?(n: number): void;
}

/**
 * Whether the bytes of `memory` can change under a fixed-length view of them: grow (a
 * `WebAssembly.Memory`, or a resizable `ArrayBuffer` / growable `SharedArrayBuffer`, grown by
 * another wrapper of the same buffer, another heap, or a module) or go away (an `ArrayBuffer`
 * can be detached: transferred to a worker). Such a view must be re-checked before use. A
 * fresh shared memory reserves its whole `SharedArrayBuffer` up front, so never does.
 */
export function growsUnderViews(memory: LinearMemory): boolean {
  if (memory.wasm !== null || !memory.shared) return true;
  const g = memory.buffer as unknown as GrowthMembers;
  return g.resizable === true || g.growable === true;
}

/**
 * Whether `buffer` is detached (transferred away: `postMessage`, `structuredClone` with
 * `transfer`, `ArrayBuffer.prototype.transfer`). Only a detached buffer refuses a view of it;
 * an empty one (a resizable buffer resized to 0) does not. Cold: called once a length reads 0.
 */
function isDetached(buffer: ArrayBuffer | SharedArrayBuffer): boolean {
  const d = (buffer as { detached?: boolean }).detached; // ES2024; older engines: the view test
  if (d !== undefined) return d;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

function detachedError(): DetachedMemoryError {
  return new DetachedMemoryError(
    "LinearMemory: the ArrayBuffer was detached (transferred with postMessage, structuredClone or transfer()): " +
      "its bytes, and any heap in them, are where it was sent; open that heap there with Heap.attach(buffer)",
  );
}

function sharedAvailable(): boolean {
  return typeof SharedArrayBuffer === "function";
}

function checkSize(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ArgumentError(`LinearMemory: ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Contiguous bytes addressed from 0: "WebAssembly-style" linear memory, over a
 * `SharedArrayBuffer` (the default where it exists), an `ArrayBuffer`, or a
 * `WebAssembly.Memory`.
 *
 * A fresh memory reserves `maxBytes` up front in one fixed-size buffer and grows by moving its
 * logical end (`byteLength`) inside the reservation, so growth never copies and never changes
 * the buffer. `u8` and `dv` cover `[0, byteLength)` and are always current: read them from the
 * memory each time rather than keeping them (they are replaced on growth, and a
 * `WebAssembly.Memory` replaces its buffer whenever it grows).
 *
 * @example
 * ```ts
 * import { LinearMemory } from "vmheap";
 *
 * const mem = new LinearMemory({ initialBytes: 65536, maxBytes: 1 << 20 });
 * mem.dv.setUint32(0, 0xdeadbeef, true);
 * console.log(mem.byteLength, mem.shared, mem.u8[0].toString(16)); // 65536 true ef
 * // grow returns the old size; the bytes stay where they were
 * console.log(mem.grow(65536), mem.byteLength, mem.dv.getUint32(0, true).toString(16)); // 65536 131072 deadbeef
 * // past maxBytes: -1, and nothing changes
 * console.log(mem.grow(1 << 20), mem.byteLength); // -1 131072
 *
 * // a WebAssembly.Memory: the views follow its buffer when the module grows it
 * const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
 * const wrapped = new LinearMemory({ wasm });
 * wasm.grow(1);
 * console.log(wrapped.byteLength, wrapped.u8.length); // 131072 131072
 * ```
 */
export class LinearMemory {
  /** The most bytes this memory can grow to. */
  readonly maxBytes: number;
  /** Whether the bytes live in a `SharedArrayBuffer`. */
  readonly shared: boolean;
  /** The wrapped `WebAssembly.Memory`, or `null`. */
  readonly wasm: WebAssembly.Memory | null;
  private _buffer: ArrayBuffer | SharedArrayBuffer;
  private _byteLength: number;
  // Views are made on first use after a change: growth is frequent (a heap moves its break in
  // page steps) and must not allocate.
  private _u8: Uint8Array | null = null;
  private _dv: DataView | null = null;
  private readonly _kind: 0 | 1 | 2; // 0 reservation, 1 caller's buffer, 2 wasm
  /** An `ArrayBuffer` of ours or the caller's (not shared, not wasm): it can be detached under us. */
  private readonly _detachable: boolean;
  /**
   * A shared `WebAssembly.Memory`'s buffers before its growths: each growth gives a new
   * `SharedArrayBuffer` object, and the old ones still show the same bytes (see {@link owns}).
   */
  private _past: WeakSet<ArrayBuffer | SharedArrayBuffer> | null = null;

  constructor(opts: LinearMemoryOptions = {}) {
    checkOptions(opts, "LinearMemory", OPTIONS);
    if ("wasm" in opts && opts.wasm !== undefined) {
      if (!(opts.wasm instanceof WebAssembly.Memory)) throw new ArgumentError("LinearMemory: wasm must be a WebAssembly.Memory");
      this._kind = 2;
      this.wasm = opts.wasm;
      this._buffer = opts.wasm.buffer;
      this._byteLength = this._buffer.byteLength;
      this.shared = sharedAvailable() && this._buffer instanceof SharedArrayBuffer;
      this.maxBytes = checkSize("maxBytes", opts.maxBytes ?? 4 * 1024 * 1024 * 1024);
    } else if ("buffer" in opts && opts.buffer !== undefined) {
      const b = opts.buffer;
      const isShared = sharedAvailable() && b instanceof SharedArrayBuffer;
      if (!isShared && !(b instanceof ArrayBuffer)) throw new ArgumentError("LinearMemory: buffer must be an ArrayBuffer or SharedArrayBuffer");
      if (b.byteLength === 0 && isDetached(b)) throw detachedError();
      this._kind = 1;
      this.wasm = null;
      this._buffer = b;
      this._byteLength = b.byteLength;
      this.shared = isShared;
      const g = b as unknown as GrowthMembers;
      this.maxBytes = (g.resizable === true || g.growable === true) && g.maxByteLength !== undefined ? g.maxByteLength : b.byteLength;
    } else {
      const o = opts as FreshMemoryOptions;
      const maxBytes = checkSize("maxBytes", o.maxBytes ?? Math.max(DEFAULT_MAX_BYTES, o.initialBytes ?? 0));
      const initial = checkSize("initialBytes", o.initialBytes ?? Math.min(DEFAULT_INITIAL_BYTES, maxBytes));
      if (initial > maxBytes) throw new ArgumentError(`LinearMemory: initialBytes (${initial}) exceeds maxBytes (${maxBytes})`);
      const wantShared = o.shared ?? sharedAvailable();
      if (wantShared && !sharedAvailable()) throw new ArgumentError("LinearMemory: SharedArrayBuffer is not available here");
      this._kind = 0;
      this.wasm = null;
      try {
        this._buffer = wantShared ? new SharedArrayBuffer(maxBytes) : new ArrayBuffer(maxBytes);
      } catch (e) {
        throw new VmError(`LinearMemory: cannot reserve ${maxBytes} bytes (${(e as Error).message}); pass a smaller maxBytes`);
      }
      this.shared = wantShared;
      this.maxBytes = maxBytes;
      this._byteLength = initial;
    }
    this._detachable = this._kind !== 2 && !this.shared;
  }

  /** The logical size in bytes: addresses `[0, byteLength)` are usable. */
  get byteLength(): number {
    if (this._kind !== 0 || this._detachable) this.sync();
    return this._byteLength;
  }

  /**
   * Bytes `[0, byteLength)`. Always current: read it from the memory each time.
   * @throws DetachedMemoryError once the buffer was transferred away (as every member that
   *   reaches the bytes does)
   */
  get u8(): Uint8Array {
    if (this._kind !== 0 || this._detachable) this.sync();
    return (this._u8 ??= new Uint8Array(this._buffer, 0, this._byteLength));
  }

  /** A `DataView` of `[0, byteLength)`. Always current: read it from the memory each time. */
  get dv(): DataView {
    if (this._kind !== 0 || this._detachable) this.sync();
    return (this._dv ??= new DataView(this._buffer, 0, this._byteLength));
  }

  /**
   * The whole underlying buffer (for a fresh memory, the entire reservation). Pass it to a
   * worker and wrap it there with `new LinearMemory({ buffer })` to share the bytes. (An
   * `ArrayBuffer` passed with `postMessage(…, [buffer])` is detached here: every later use of
   * this memory throws DetachedMemoryError. A `SharedArrayBuffer` is shared, not moved.)
   */
  get buffer(): ArrayBuffer | SharedArrayBuffer {
    if (this._kind === 2 || this._detachable) this.sync();
    return this._buffer;
  }

  /**
   * Whether `buffer` holds this memory's bytes: it is the memory's buffer, or, for a shared
   * `WebAssembly.Memory`, a buffer the memory had before a growth (each growth gives a new
   * `SharedArrayBuffer` object, and the old ones still show the same bytes). A non-shared wasm
   * memory's old buffers are detached by its growth: they hold nothing any more.
   */
  owns(buffer: ArrayBufferLike): boolean {
    const b = this.buffer;
    return buffer === b || (this._past !== null && this._past.has(buffer));
  }

  /**
   * Grows the memory by `deltaBytes` (a `WebAssembly.Memory` by whole 64 KiB pages).
   * @returns the old `byteLength`, or `-1` when the memory cannot grow that far
   */
  grow(deltaBytes: number): number {
    if (!Number.isSafeInteger(deltaBytes) || deltaBytes < 0) return -1;
    const old = this.byteLength;
    if (deltaBytes === 0) return old;
    const want = old + deltaBytes;
    if (want > this.maxBytes) return -1;
    if (this._kind === 0) {
      this._byteLength = want;
    } else if (this._kind === 2) {
      try {
        this.wasm!.grow(Math.ceil(deltaBytes / WASM_PAGE));
      } catch {
        return -1;
      }
    } else {
      const b = this._buffer as unknown as GrowthMembers;
      try {
        if (b.resizable === true && b.resize) b.resize(want);
        else if (b.growable === true && b.grow) b.grow(want);
        else return -1;
      } catch {
        return -1;
      }
      this._byteLength = want;
    }
    this.refresh();
    return old;
  }

  /**
   * Makes sure `[0, end)` is usable, growing if needed.
   * @returns `false` when the memory cannot grow that far
   */
  ensure(end: number): boolean {
    const len = this.byteLength;
    return end <= len || this.grow(end - len) !== -1;
  }

  /**
   * Picks up a growth made elsewhere (by a wasm module's `memory.grow`, or another wrapper),
   * and refuses a buffer that was detached.
   */
  private sync(): void {
    if (this._kind === 2) {
      if (this.wasm!.buffer !== this._buffer) this.refresh();
      return;
    }
    const length = this._buffer.byteLength;
    if (length === 0 && this._detachable && isDetached(this._buffer)) throw detachedError();
    if (this._kind === 1 && length !== this._byteLength) {
      this._byteLength = length;
      this.refresh();
    }
  }

  private refresh(): void {
    if (this._kind === 2) {
      if (this.shared) (this._past ??= new WeakSet()).add(this._buffer);
      this._buffer = this.wasm!.buffer;
      this._byteLength = this._buffer.byteLength;
    }
    this._u8 = null;
    this._dv = null;
  }
}
