/**
 * Typed errors. Everything vmheap throws extends {@link VmError}, sets `name`, and words its
 * message as glibc or Linux does where they have words for it (`free(): double free detected`).
 */

/** An address as C prints it with `%#x`; a bad argument as itself (negative: -0x…; fractional, NaN: as is). */
export function hex(address: number): string {
  if (!Number.isInteger(address)) return String(address);
  return address < 0 ? `-0x${(-address).toString(16)}` : `0x${address.toString(16)}`;
}

/** Base class of every error vmheap throws. */
export class VmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad argument that C would not even compile or that has no C-style result (a wrong type). */
export class ArgumentError extends VmError {}

/**
 * Throws an {@link ArgumentError} unless `opts` is an options object (so a missing or `null`
 * argument is reported as such, not as a `TypeError` from reading its fields).
 */
export function checkOptions(opts: unknown, where: string): void {
  if (typeof opts !== "object" || opts === null) throw new ArgumentError(`${where}: options must be an object, got ${opts === null ? "null" : typeof opts}`);
}

/** Throws an {@link ArgumentError} unless `v` is an instance of `type`. */
export function checkInstance(v: unknown, type: abstract new (...args: never[]) => unknown, what: string): void {
  if (!(v instanceof type)) throw new ArgumentError(`${what} must be a ${type.name}, got ${v === null ? "null" : typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v}`);
}

/** A misuse of the malloc family, or a heap found corrupted. */
export class HeapError extends VmError {
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

/** `free`/`realloc` of a block that is already free (glibc: `free(): double free detected`). */
export class DoubleFreeError extends HeapError {
  constructor(operation: string, address: number) {
    super(`${operation}(): double free detected (pointer ${hex(address)})`, operation, address);
  }
}

/**
 * `free`/`realloc` of a pointer the heap never returned: out of range, interior (`p + 1`) or
 * misaligned (glibc: `free(): invalid pointer`).
 */
export class InvalidPointerError extends HeapError {
  constructor(operation: string, address: number) {
    super(`${operation}(): invalid pointer (${hex(address)})`, operation, address);
  }
}

/**
 * The heap's own bookkeeping is broken, usually by a write past the end of a block
 * (glibc: `corrupted size vs. prev_size`, `free(): invalid next size (normal)`).
 */
export class HeapCorruptionError extends HeapError {
  constructor(what: string, operation: string, address: number) {
    super(`${operation === "check" ? "check()" : `${operation}()`}: ${what} (chunk at ${hex(address)})`, operation, address);
  }
}

/** The kind of access that faulted. */
export type Access = "read" | "write" | "exec";

/** A memory access the address space refused. Carries the address and the access. */
export class MemoryFault extends VmError {
  readonly address: number;
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

/** No mapping covers the address (SIGSEGV, `SEGV_MAPERR`). */
export class SegmentationFault extends MemoryFault {
  constructor(address: number, access: Access, size = 1) {
    super(`Segmentation fault: ${access} at ${hex(address)} (no mapping)`, address, access, size);
  }
}

/** A mapping covers the address but forbids the access (SIGSEGV, `SEGV_ACCERR`). */
export class ProtectionFault extends MemoryFault {
  constructor(address: number, access: Access, size = 1) {
    super(`Segmentation fault: ${access} at ${hex(address)} (permission denied)`, address, access, size);
  }
}

/** A misaligned multi-byte access in an address space that traps them (SIGBUS, `BUS_ADRALN`). */
export class AlignmentFault extends MemoryFault {
  constructor(address: number, access: Access, size: number) {
    super(`Bus error: misaligned ${size}-byte ${access} at ${hex(address)}`, address, access, size);
  }
}

/** No free frame and no swap slot left: the request cannot be met without losing data. */
export class OutOfMemoryError extends VmError {
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
 */
export class FrameError extends VmError {
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
