/**
 * Just enough of the WebAssembly binary format to set a heap up for a module before it is
 * instantiated: the memory it imports (its limits, and whether it is shared) and the value of
 * an exported i32 global (`__heap_base`), which `WebAssembly.Module`'s reflection does not
 * give; and the engine's binary with its memory import made shared, for a shared memory.
 */
import { ArgumentError } from "../../errors.js";

/** The limits of a module's imported memory, in 64 KiB pages. */
export interface MemoryLimits {
  /** `env.memory`'s import module and name. */
  readonly module: string;
  /** The import's name (`"memory"`). */
  readonly name: string;
  /** The memory's initial size, in 64 KiB pages. */
  readonly initial: number;
  /** Undefined when the module sets no maximum. */
  readonly maximum: number | undefined;
  /** Whether the memory is shared (a `SharedArrayBuffer`, for threads). */
  readonly shared: boolean;
}

const SEC_IMPORT = 2;
const SEC_GLOBAL = 6;
const SEC_EXPORT = 7;
const KIND_FUNC = 0;
const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;
const KIND_TAG = 4;

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.b.length) throw new ArgumentError("wasm: truncated module");
    return this.b[this.pos++]!;
  }
  /** An unsigned LEB128 number (up to 32 bits). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new ArgumentError("wasm: malformed LEB128");
    }
  }
  /** A signed LEB128 number of up to 32 bits. */
  s32(): number {
    let result = 0;
    let shift = 0;
    let x: number;
    do {
      x = this.byte();
      result |= (x & 0x7f) << shift;
      shift += 7;
    } while ((x & 0x80) !== 0 && shift < 35);
    return shift < 32 && (x & 0x40) !== 0 ? result | (-1 << shift) : result;
  }
  name(): string {
    const n = this.u32();
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  limits(): { flags: number; min: number; max: number | undefined } {
    const flags = this.byte();
    const min = this.u32();
    return { flags, min, max: (flags & 1) !== 0 ? this.u32() : undefined };
  }
  /** Skips a constant expression (a global's initial value) after its first opcode `op`. */
  skipConst(op: number): void {
    if (op === 0x41 || op === 0x23 || op === 0xd2) this.s32(); // i32.const, global.get, ref.func
    else if (op === 0x42) while ((this.byte() & 0x80) !== 0); // i64.const
    else if (op === 0x43) this.pos += 4;
    else if (op === 0x44) this.pos += 8;
    else if (op === 0xd0) this.byte(); // ref.null
    else throw new ArgumentError(`wasm: constant expression opcode 0x${op.toString(16)} not read`);
    if (this.byte() !== 0x0b) throw new ArgumentError("wasm: constant expression not read");
  }
}

function bytesOf(source: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (source instanceof Uint8Array) return source;
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return new Uint8Array(source);
}

/** Each section: id, start and end of its contents. */
function sections(b: Uint8Array): Array<{ id: number; start: number; end: number; headerStart: number }> {
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new ArgumentError("wasm: not a WebAssembly module");
  const r = new Reader(b);
  r.pos = 8;
  const out = [];
  while (r.pos < b.length) {
    const headerStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    out.push({ id, start: r.pos, end: r.pos + size, headerStart });
    r.pos += size;
  }
  return out;
}

interface Import {
  module: string;
  name: string;
  kind: number;
  /** Where the memory's limits start and end (memory imports). */
  limitsAt?: number;
  limitsEnd?: number;
  limits?: { flags: number; min: number; max: number | undefined };
}

function imports(b: Uint8Array): { list: Import[]; section: ReturnType<typeof sections>[number] | undefined } {
  const section = sections(b).find((s) => s.id === SEC_IMPORT);
  const list: Import[] = [];
  if (section === undefined) return { list, section };
  const r = new Reader(b);
  r.pos = section.start;
  for (let n = r.u32(); n > 0; n--) {
    const module = r.name();
    const name = r.name();
    const kind = r.byte();
    const entry: Import = { module, name, kind };
    if (kind === KIND_FUNC) r.u32();
    else if (kind === KIND_TABLE) {
      r.byte();
      r.limits();
    } else if (kind === KIND_MEMORY) {
      entry.limitsAt = r.pos;
      entry.limits = r.limits();
      entry.limitsEnd = r.pos;
    } else if (kind === KIND_GLOBAL) {
      r.byte();
      r.byte();
    } else if (kind === KIND_TAG) {
      r.byte();
      r.u32();
    } else throw new ArgumentError(`wasm: unknown import kind ${kind}`);
    list.push(entry);
  }
  return { list, section };
}

/**
 * The memory a module imports, or undefined when it defines its own.
 * @example
 * ```ts
 * import { memoryImport } from "vmheap";
 *
 * // (module (import "env" "memory" (memory 2 256))
 * //         (global (export "__heap_base") i32 (i32.const 0x10400)))
 * const bytes = new Uint8Array([
 *   0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
 *   0x02, 0x11, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x01, 0x02, 0x80, 0x02, // imports
 *   0x06, 0x08, 0x01, 0x7f, 0x00, 0x41, 0x80, 0x88, 0x04, 0x0b, // globals
 *   0x07, 0x0f, 0x01, 0x0b, 0x5f, 0x5f, 0x68, 0x65, 0x61, 0x70, 0x5f, 0x62, 0x61, 0x73, 0x65, 0x03, 0x00, // exports
 * ]);
 * console.log(WebAssembly.validate(bytes), memoryImport(bytes));
 * // true {
 * //   module: 'env',
 * //   name: 'memory',
 * //   initial: 2,
 * //   maximum: 256,
 * //   shared: false
 * // }
 *
 * // size the memory you give the module (and the heap) by what it asks for
 * const { initial, maximum } = memoryImport(bytes)!;
 * const memory = new WebAssembly.Memory({ initial, maximum });
 * console.log(memory.buffer.byteLength); // 131072
 * ```
 */
export function memoryImport(source: ArrayBuffer | ArrayBufferView): MemoryLimits | undefined {
  const m = imports(bytesOf(source)).list.find((i) => i.kind === KIND_MEMORY);
  if (m === undefined) return undefined;
  const l = m.limits!;
  return { module: m.module, name: m.name, initial: l.min, maximum: l.max, shared: (l.flags & 2) !== 0 };
}

/**
 * The value of the i32 global a module exports as `name` (such as `__heap_base`, which
 * `wasm-ld` exports with `-Wl,--export=__heap_base`), or undefined.
 * @example
 * ```ts
 * import { Heap, exportedGlobal } from "vmheap";
 *
 * // (module (import "env" "memory" (memory 2 256))
 * //         (global (export "__heap_base") i32 (i32.const 0x10400)))
 * const bytes = new Uint8Array([
 *   0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
 *   0x02, 0x11, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x01, 0x02, 0x80, 0x02, // imports
 *   0x06, 0x08, 0x01, 0x7f, 0x00, 0x41, 0x80, 0x88, 0x04, 0x0b, // globals
 *   0x07, 0x0f, 0x01, 0x0b, 0x5f, 0x5f, 0x68, 0x65, 0x61, 0x70, 0x5f, 0x62, 0x61, 0x73, 0x65, 0x03, 0x00, // exports
 * ]);
 * const heapBase = exportedGlobal(bytes, "__heap_base")!;
 * console.log(heapBase.toString(16), exportedGlobal(bytes, "__data_end")); // 10400 undefined
 * // the heap starts where the module's static data ends
 * const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 2, maximum: 256 }), base: heapBase, dataModel: "wasm32" });
 * console.log(heap.base.toString(16), heap.malloc(16) > heapBase); // 10400 true
 * ```
 */
export function exportedGlobal(source: ArrayBuffer | ArrayBufferView, name: string): number | undefined {
  const b = bytesOf(source);
  const secs = sections(b);
  const exp = secs.find((s) => s.id === SEC_EXPORT);
  if (exp === undefined) return undefined;
  const r = new Reader(b);
  r.pos = exp.start;
  let index = -1;
  for (let n = r.u32(); n > 0; n--) {
    const ename = r.name();
    const kind = r.byte();
    const i = r.u32();
    if (ename === name && kind === KIND_GLOBAL) index = i;
  }
  if (index < 0) return undefined;
  // Global indices count imported globals first.
  const imported = imports(b).list.filter((i) => i.kind === KIND_GLOBAL).length;
  if (index < imported) return undefined;
  const glob = secs.find((s) => s.id === SEC_GLOBAL);
  if (glob === undefined) return undefined;
  r.pos = glob.start;
  const count = r.u32();
  for (let g = 0; g < count; g++) {
    r.byte(); // value type
    r.byte(); // mutability
    const op = r.byte();
    if (g === index - imported) return op === 0x41 ? r.s32() >>> 0 : undefined; // i32.const
    r.skipConst(op);
  }
  return undefined;
}

function leb(n: number): number[] {
  const out = [];
  do {
    let x = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) x |= 0x80;
    out.push(x);
  } while (n > 0);
  return out;
}

/**
 * `bytes` with its memory import declared shared (with a maximum of 65536 pages, which any
 * shared memory fits): an unshared memory import cannot take a shared memory, nor the other
 * way round, so the engine is compiled once and declared shared when the heap's memory is.
 */
export function withSharedMemoryImport(bytes: Uint8Array): Uint8Array {
  const { list, section } = imports(bytes);
  const m = list.find((i) => i.kind === KIND_MEMORY);
  if (m === undefined || section === undefined) throw new ArgumentError("wasm: the module imports no memory");
  const limits = [0x03, ...leb(m.limits!.min), ...leb(65536)];
  const body = [...bytes.subarray(section.start, m.limitsAt!), ...limits, ...bytes.subarray(m.limitsEnd!, section.end)];
  const head = [SEC_IMPORT, ...leb(body.length)];
  const out = new Uint8Array(section.headerStart + head.length + body.length + (bytes.length - section.end));
  out.set(bytes.subarray(0, section.headerStart), 0);
  out.set(head, section.headerStart);
  out.set(body, section.headerStart + head.length);
  out.set(bytes.subarray(section.end), section.headerStart + head.length + body.length);
  return out;
}
