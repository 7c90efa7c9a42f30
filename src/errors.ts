/**
 * Typed errors. Everything vmheap throws extends {@link VmError}, sets `name`, and words its
 * message as glibc or Linux does where they have words for it (`free(): double free detected`).
 */

/** An address as C prints it with `%#x`; a bad argument as itself (negative: -0x…; fractional, NaN: as is). */
export function hex(address: number): string {
  if (!Number.isInteger(address)) return String(address);
  return address < 0 ? `-0x${(-address).toString(16)}` : `0x${address.toString(16)}`;
}

/**
 * A value as an error message shows it: a number as {@link hex}, a string quoted, a bigint with
 * its `n`, an object by its class (`a Float32Array`, `an Object`), a function as such, anything
 * else as `String` gives it.
 */
export function show(v: unknown): string {
  if (typeof v === "number") return hex(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "function") return "a function";
  if (typeof v !== "object" || v === null) return String(v);
  const name = (v.constructor as { name?: string } | undefined)?.name || "object";
  return `${/^[AEIOaeio]/.test(name) ? "an" : "a"} ${name}`; // (a Uint8Array: "U" sounds "you")
}

/**
 * The `name` of an error of class `cls`: its name written out, which a minifier renaming the
 * class leaves as it is; for a subclass that a program made of it, that class's own name.
 */
function named(e: Error, cls: abstract new (...a: never[]) => Error, name: string): string {
  return e.constructor === cls ? name : e.constructor.name;
}

/**
 * Base class of every error vmheap throws.
 * @example
 * ```ts
 * import { Heap, HeapError, VmError } from "vmheap";
 *
 * const heap = new Heap();
 * try {
 *   heap.free(12345);
 * } catch (e) {
 *   // every error vmheap throws is a VmError, with its class's name in `name`
 *   console.log(e instanceof VmError, e instanceof HeapError, (e as VmError).name); // true true InvalidPointerError
 * }
 * ```
 */
export class VmError extends Error {
  /** `"VmError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, VmError, "VmError");
  constructor(message: string) {
    super(message);
  }
}

/**
 * A bad argument that C would not even compile or that has no C-style result (a wrong type).
 * @example
 * ```ts
 * import { ArgumentError, PhysicalMemory } from "vmheap";
 *
 * try {
 *   new PhysicalMemory({ frames: 0 });
 * } catch (e) {
 *   console.log(e instanceof ArgumentError, (e as Error).message); // true PhysicalMemory: frames must be an integer from 1 to 16777215, got 0
 * }
 * ```
 */
export class ArgumentError extends VmError {
  /** `"ArgumentError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, ArgumentError, "ArgumentError");
}

/**
 * The {@link ArgumentError} for an argument of the wrong type: C would not compile the call
 * (`malloc("100")`, `malloc(16n)`), so there is no C result to give. The message names the
 * call and shows the value: `malloc(): size must be a number, got "100"`.
 */
export function notNumber(op: string, what: string, value: unknown): ArgumentError {
  return new ArgumentError(`${op}(): ${what} must be a number, got ${show(value)}`);
}

/**
 * The valid keys of an options type, as a record (`{ memory: 1, base: 1 }`) for
 * {@link checkOptions}. Typed so that the compiler lists any key of `T` left out.
 */
export type OptionKeys<T> = { readonly [K in keyof T]-?: 1 };

/**
 * Throws an {@link ArgumentError} unless `opts` is an options object (so a missing or `null`
 * argument is reported as such, not as a `TypeError` from reading its fields) whose keys are
 * all in `known`. An unknown key names the closest valid one (`maxbytes` → "did you mean
 * maxBytes?"), or lists them all when none is close: a misspelt option would otherwise be
 * ignored without a word and its default used.
 */
export function checkOptions(opts: unknown, where: string, known: object): void {
  if (typeof opts !== "object" || opts === null) throw new ArgumentError(`${where}: options must be an object, got ${opts === null ? "null" : typeof opts}`);
  for (const key of Object.keys(opts)) {
    if (!Object.hasOwn(known, key)) throw new ArgumentError(`${where}: unknown option ${JSON.stringify(key)} (${closest(key, Object.keys(known))})`);
  }
}

/** `did you mean NAME?` for the valid name nearest `key`, or the list of valid names when none is near. */
function closest(key: string, names: string[]): string {
  const k = key.toLowerCase();
  let best = "";
  let bestDistance = Infinity;
  for (const name of names) {
    const d = editDistance(k, name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  // Up to a third of the key's letters wrong (at least one): a slip, not another word.
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? `did you mean ${best}?` : `options: ${names.join(", ")}`;
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // Rows i - 2, i - 1 and i of the table; a swap of neighbours looks two rows back.
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** Throws an {@link ArgumentError} unless `v` is an instance of `type`. */
export function checkInstance(v: unknown, type: abstract new (...args: never[]) => unknown, what: string): void {
  if (!(v instanceof type)) throw new ArgumentError(`${what} must be a ${type.name}, got ${v === null ? "null" : typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v}`);
}

/**
 * A misuse of the malloc family, or a heap found corrupted.
 * @example
 * ```ts
 * import { Heap, HeapError } from "vmheap";
 *
 * const heap = new Heap();
 * const p = heap.malloc(40);
 * try {
 *   heap.realloc(p + 16, 100);
 * } catch (e) {
 *   if (!(e instanceof HeapError)) throw e;
 *   console.log(e.name, e.operation, e.address === p + 16); // InvalidPointerError realloc true
 * }
 * ```
 */
export class HeapError extends VmError {
  /** `"HeapError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, HeapError, "HeapError");
  /** The pointer the failing call was given (0 when not about one pointer). */
  readonly address: number;
  /** The operation that detected the problem: `"free"`, `"realloc"`, `"check"`, ... */
  readonly operation: string;
  constructor(message: string, operation: string, address: number) {
    super(message);
    this.operation = operation;
    this.address = address;
  }
}

/**
 * `free`/`realloc` of a block that is already free (glibc: `free(): double free detected`).
 * @example
 * ```ts
 * import { DoubleFreeError, Heap } from "vmheap";
 *
 * const heap = new Heap();
 * const p = heap.malloc(40);
 * heap.free(p);
 * try {
 *   heap.free(p);
 * } catch (e) {
 *   console.log(e instanceof DoubleFreeError, (e as Error).message); // true free(): double free detected (pointer 0x830)
 * }
 * ```
 */
export class DoubleFreeError extends HeapError {
  /** `"DoubleFreeError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, DoubleFreeError, "DoubleFreeError");
  constructor(operation: string, address: number) {
    super(`${operation}(): double free detected (pointer ${hex(address)})`, operation, address);
  }
}

/**
 * `free`/`realloc` of a pointer the heap never returned: out of range, interior (`p + 1`) or
 * misaligned (glibc: `free(): invalid pointer`).
 * @example
 * ```ts
 * import { Heap, InvalidPointerError } from "vmheap";
 *
 * const heap = new Heap();
 * const p = heap.malloc(40);
 * try {
 *   heap.free(p + 1); // misaligned
 * } catch (e) {
 *   console.log(e instanceof InvalidPointerError, (e as Error).message); // true free(): invalid pointer (0x831)
 * }
 * ```
 */
export class InvalidPointerError extends HeapError {
  /** `"InvalidPointerError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, InvalidPointerError, "InvalidPointerError");
  /**
   * @param what how the message shows the pointer, when not as its address: a typed array
   *   passed for a block, say (`free(): invalid pointer (a Float32Array over another buffer)`)
   */
  constructor(operation: string, address: number, what = hex(address)) {
    super(`${operation}(): invalid pointer (${what})`, operation, address);
  }
}

/**
 * The memory's `ArrayBuffer` was detached: transferred to a worker with `postMessage`, by
 * `structuredClone(buffer, { transfer: [buffer] })` or by `buffer.transfer()`. Its bytes, and
 * the heap in them, now live where the buffer went: open the heap there with `Heap.attach`.
 * Every later call on a heap or memory over the old buffer throws this.
 * @example
 * ```ts
 * import { DetachedMemoryError, Heap, LinearMemory } from "vmheap";
 *
 * // a heap over a plain ArrayBuffer, whose bytes are then moved away
 * const heap = new Heap({ memory: new LinearMemory({ shared: false }) });
 * const p = heap.malloc(100);
 * const moved = structuredClone(heap.memory.buffer, { transfer: [heap.memory.buffer as ArrayBuffer] });
 * try {
 *   heap.malloc(100);
 * } catch (e) {
 *   console.log(e instanceof DetachedMemoryError, (e as Error).message); // true LinearMemory: the ArrayBuffer was detached (transferred with postMessage, structuredClone or transfer()): its bytes, and any heap in them, are where it was sent; open that heap there with Heap.attach(buffer)
 * }
 * // the heap went with the bytes
 * console.log(Heap.attach(moved).mallocUsableSize(p)); // 104
 * ```
 */
export class DetachedMemoryError extends VmError {
  /** `"DetachedMemoryError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, DetachedMemoryError, "DetachedMemoryError");
}

/**
 * The heap's own bookkeeping is broken, usually by a write past the end of a block
 * (glibc: `corrupted size vs. prev_size`, `free(): invalid next size (normal)`).
 * @example
 * ```ts
 * import { Heap, HeapCorruptionError } from "vmheap";
 *
 * const heap = new Heap();
 * const p = heap.malloc(24);
 * heap.malloc(24);
 * // one 32-bit store past the 24 bytes: the next chunk's size field
 * heap.memory.dv.setUint32(p + 24, 1, true);
 * try {
 *   heap.free(p);
 * } catch (e) {
 *   console.log(e instanceof HeapCorruptionError, (e as Error).message); // true free(): double free or corruption (!prev) (chunk at 0x820)
 * }
 * ```
 */
export class HeapCorruptionError extends HeapError {
  /** `"HeapCorruptionError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, HeapCorruptionError, "HeapCorruptionError");
  constructor(what: string, operation: string, address: number) {
    // The address is a word the heap read (a link, a head, the victim): a forged one of 2^31 or
    // more comes out of a signed 32-bit read as a negative number; it names the same address.
    const at = address < 0 && address >= -0x8000_0000 ? address >>> 0 : address;
    super(`${operation === "check" ? "check()" : `${operation}()`}: ${what} (chunk at ${hex(at)})`, operation, at);
  }
}

/** The kind of access that faulted. */
export type Access = "read" | "write" | "exec";

/**
 * A memory access the address space refused. Carries the address and the access.
 * @example
 * ```ts
 * import { AddressSpace, MemoryFault, PhysicalMemory } from "vmheap";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }) });
 * try {
 *   as.write32(0x1000, 1); // nothing mapped there
 * } catch (e) {
 *   if (!(e instanceof MemoryFault)) throw e;
 *   console.log(e.name, e.address.toString(16), e.access, e.size); // SegmentationFault 1000 write 4
 * }
 * ```
 */
export class MemoryFault extends VmError {
  /** `"MemoryFault"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, MemoryFault, "MemoryFault");
  /** The virtual address that faulted (the first byte of the access). */
  readonly address: number;
  /** What the access was: `"read"`, `"write"` or `"exec"`. */
  readonly access: Access;
  /** Bytes of the access (1, 2, 4, 8, or a range's length). */
  readonly size: number;
  constructor(message: string, address: number, access: Access, size = 1) {
    super(message);
    this.address = address;
    this.access = access;
    this.size = size;
  }
}

/**
 * No mapping covers the address (SIGSEGV, `SEGV_MAPERR`).
 * @example
 * ```ts
 * import { AddressSpace, PhysicalMemory, SegmentationFault } from "vmheap";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }) });
 * try {
 *   as.read8(0); // NULL: page 0 is never mapped
 * } catch (e) {
 *   console.log(e instanceof SegmentationFault, (e as Error).message); // true Segmentation fault: read at 0x0 (no mapping)
 * }
 * ```
 */
export class SegmentationFault extends MemoryFault {
  /** `"SegmentationFault"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, SegmentationFault, "SegmentationFault");
  constructor(address: number, access: Access, size = 1) {
    super(`Segmentation fault: ${access} at ${hex(address)} (no mapping)`, address, access, size);
  }
}

/**
 * A mapping covers the address but forbids the access (SIGSEGV, `SEGV_ACCERR`).
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PhysicalMemory, ProtectionFault } from "vmheap";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }) });
 * const ro = as.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
 * try {
 *   as.write8(ro, 1);
 * } catch (e) {
 *   console.log(e instanceof ProtectionFault, (e as Error).message); // true Segmentation fault: write at 0x7ffff7fff000 (permission denied)
 * }
 * ```
 */
export class ProtectionFault extends MemoryFault {
  /** `"ProtectionFault"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, ProtectionFault, "ProtectionFault");
  constructor(address: number, access: Access, size = 1) {
    super(`Segmentation fault: ${access} at ${hex(address)} (permission denied)`, address, access, size);
  }
}

/**
 * A misaligned multi-byte access in an address space that traps them (SIGBUS, `BUS_ADRALN`).
 * @example
 * ```ts
 * import { AddressSpace, AlignmentFault, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PhysicalMemory } from "vmheap";
 *
 * // an address space that traps misaligned accesses, like SPARC or an ARM with strict alignment
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }), alignment: "trap" });
 * const a = as.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
 * try {
 *   as.read32(a + 2);
 * } catch (e) {
 *   console.log(e instanceof AlignmentFault, (e as Error).message); // true Bus error: misaligned 4-byte read at 0x7ffff7fff002
 * }
 * ```
 */
export class AlignmentFault extends MemoryFault {
  /** `"AlignmentFault"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, AlignmentFault, "AlignmentFault");
  constructor(address: number, access: Access, size: number) {
    super(`Bus error: misaligned ${size}-byte ${access} at ${hex(address)}`, address, access, size);
  }
}

/**
 * An access to a page of a file mapping that lies wholly past the end of the file (SIGBUS,
 * `BUS_ADRERR`): the file has no page there to map. The rest of the file's last page reads as
 * zeros; the page after it is a bus error, as with Linux (also for the pages that `mremap`
 * adds to shared anonymous memory, whose hidden file keeps its size).
 * @example
 * ```ts
 * import { AddressSpace, BusError, MAP_PRIVATE, MemFile, PROT_READ, PhysicalMemory } from "vmheap";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }) });
 * const file = new MemFile(new TextEncoder().encode("0123456789"), "/tmp/ten-bytes");
 * const a = as.mmap(0, 2 * 4096, PROT_READ, MAP_PRIVATE, file, 0);
 * // past the end of file but in its last page: zeros
 * console.log(as.read8(a + 100)); // 0
 * try {
 *   as.read8(a + 4096);
 * } catch (e) {
 *   console.log(e instanceof BusError, (e as Error).message); // true Bus error: read at 0x7ffff7fff000 (past the end of /tmp/ten-bytes)
 * }
 * ```
 */
export class BusError extends MemoryFault {
  /** `"BusError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, BusError, "BusError");
  constructor(address: number, access: Access, size: number, file: string) {
    super(`Bus error: ${access} at ${hex(address)} (past the end of ${file})`, address, access, size);
  }
}

/**
 * No free frame and no swap slot left: the request cannot be met without losing data.
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, OutOfMemoryError, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
 *
 * // two frames of RAM and no swap: the third page written has nowhere to go
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 2 }) });
 * const a = as.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * as.write8(a, 1);
 * as.write8(a + 4096, 1);
 * try {
 *   as.write8(a + 8192, 1);
 * } catch (e) {
 *   if (!(e instanceof OutOfMemoryError)) throw e;
 *   console.log(e.message, e.address === a + 8192, e.access); // Out of memory: write at 0x7ffff7fff000: no free frame among 2 and no page to evict (no swap) true write
 * }
 * ```
 */
export class OutOfMemoryError extends VmError {
  /** `"OutOfMemoryError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, OutOfMemoryError, "OutOfMemoryError");
  /** The address whose access needed a frame (NaN when none did). */
  readonly address: number;
  /** That access (`"read"`, `"write"` or `"exec"`), or null. */
  readonly access: Access | null;
  constructor(message: string, address = Number.NaN, access: Access | null = null) {
    super(message);
    this.address = address;
    this.access = access;
  }
}

/**
 * A physical frame misused by the code that manages frames: freed twice, referenced or released
 * while free, a frame number out of range, or a write aimed at the read-only zero frame. In
 * Linux this is a kernel bug (`BUG: Bad page state`); here it is a bug in the address-space code
 * (or a test) above `PhysicalMemory`, so it is thrown, never returned.
 * @example
 * ```ts
 * import { FrameError, PhysicalMemory } from "vmheap";
 *
 * const ram = new PhysicalMemory({ frames: 4 });
 * try {
 *   ram.ref(3); // frame 3 was never allocated
 * } catch (e) {
 *   if (!(e instanceof FrameError)) throw e;
 *   console.log(e.operation, e.frame, e.message); // ref 3 ref(): reference to a free frame (frame 3)
 * }
 * ```
 */
export class FrameError extends VmError {
  /** `"FrameError"` (also in a bundle whose minifier renamed the class). */
  override name = named(this, FrameError, "FrameError");
  /** The frame number the failing call was given. */
  readonly frame: number;
  /** The operation that detected the problem: `"freeFrame"`, `"ref"`, `"unref"`, ... */
  readonly operation: string;
  constructor(what: string, operation: string, frame: number) {
    super(`${operation}(): ${what} (frame ${frame})`);
    this.operation = operation;
    this.frame = frame;
  }
}
