import { Brk, type BreakCell } from "./Brk.js";
import { LinearMemory } from "../memory/LinearMemory.js";

/**
 * The two ways a heap touches the world, and nothing else: reading and writing its metadata
 * (32-bit words at 4-aligned addresses, plus copying and zeroing payload), and getting or
 * returning memory (`sbrk`, and `mmap`/`munmap` for big blocks where there is a mapping source).
 * The same heap engine runs over linear memory ({@link LinearHost}) and inside a simulated
 * process, whose host goes through the address space.
 */
export interface HeapHost {
  /** The 32-bit word at `addr` (a multiple of 4). */
  ld(addr: number): number;
  /** Stores a 32-bit word at `addr` (a multiple of 4). */
  st(addr: number, value: number): void;
  /** `memmove(dst, src, length)`. */
  copy(dst: number, src: number, length: number): void;
  /** `memset(addr, 0, length)`. */
  zero(addr: number, length: number): void;
  /** Moves the break by `increment` bytes; the previous break, or -1 when refused. */
  sbrk(increment: number): number;
  /** Maps `length` fresh zeroed bytes for one big block; the address, or -1 (none available). */
  mmap(length: number): number;
  /** Returns a mapping made by `mmap`. */
  munmap(addr: number, length: number): void;
  /** Picks up memory growth made by someone else (a wasm module's `memory.grow`). */
  sync(): void;
  /** Granularity of trimming and of mappings: the break gives back whole pages. */
  readonly pageSize: number;
  /**
   * The words the engine indexes directly: the whole linear memory (a heap address `a` is
   * word `a >>> 2`), or the RAM of a paged host, whose engine translates each word index first.
   */
  readonly u32: Int32Array;
}

/** Bytes a linear-memory heap gives back at a time when trimming (glibc trims whole pages). */
export const LINEAR_PAGE = 4096;

/**
 * A heap's host over a {@link LinearMemory}: metadata through one `Uint32Array` over the whole
 * buffer, memory from a {@link Brk} whose break is kept in a word of the heap's own header (so
 * a heap attached from another worker moves the same break). There is no mapping source:
 * big blocks come from the break too, as glibc does when `mmap` fails.
 */
export class LinearHost implements HeapHost {
  readonly pageSize = LINEAR_PAGE;
  readonly memory: LinearMemory;
  /** Words of the whole underlying buffer (refreshed when a wasm memory grows). */
  u32: Int32Array;
  u8: Uint8Array;
  /** For copies and fills of whole 8-byte words: on a SharedArrayBuffer, V8 copies word-wise views up to twice as fast as bytes. */
  f64: Float64Array;
  brk: Brk | null = null;
  private buf: ArrayBuffer | SharedArrayBuffer;

  constructor(memory: LinearMemory) {
    this.memory = memory;
    this.buf = memory.buffer;
    this.u32 = new Int32Array(this.buf, 0, this.buf.byteLength >>> 2);
    this.u8 = new Uint8Array(this.buf);
    this.f64 = new Float64Array(this.buf, 0, this.buf.byteLength >>> 3);
  }

  /** Starts the break at `start`, keeping its current value in the word at `cellAddr`. */
  attachBreak(start: number, limit: number, cellAddr: number): void {
    // Growing an unshared wasm memory detaches the old buffer: re-sync before writing the break.
    const cell: BreakCell = {
      get: () => this.ld(cellAddr),
      set: (v) => {
        this.sync();
        this.st(cellAddr, v);
      },
    };
    this.brk = new Brk(this.memory, { start, limit }, cell);
  }

  ld(addr: number): number {
    return this.u32[addr >>> 2]!;
  }
  st(addr: number, value: number): void {
    this.u32[addr >>> 2] = value;
  }
  copy(dst: number, src: number, length: number): void {
    if (((dst | src | length) & 7) === 0) this.f64.copyWithin(dst >>> 3, src >>> 3, (src + length) >>> 3);
    else this.u8.copyWithin(dst, src, src + length);
  }
  zero(addr: number, length: number): void {
    if (((addr | length) & 7) === 0) this.f64.fill(0, addr >>> 3, (addr + length) >>> 3);
    else this.u8.fill(0, addr, addr + length);
  }
  sbrk(increment: number): number {
    const r = this.brk!.sbrk(increment);
    if (increment > 0) this.sync();
    return r;
  }
  mmap(_length: number): number {
    return -1;
  }
  munmap(_addr: number, _length: number): void {}

  sync(): void {
    const b = this.memory.buffer;
    // Compare with the word view: u8 (made without a length) follows a resizable buffer by
    // itself, u32 and f64 (fixed lengths) do not.
    if (b !== this.buf || b.byteLength >>> 2 !== this.u32.length) {
      this.buf = b;
      this.u32 = new Int32Array(b, 0, b.byteLength >>> 2);
      this.u8 = new Uint8Array(b);
      this.f64 = new Float64Array(b, 0, b.byteLength >>> 3);
    }
  }
}
