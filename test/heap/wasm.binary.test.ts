/**
 * The little of the wasm binary format the heap reads before a module is instantiated: the
 * memory it imports and its `__heap_base`, and the engine's memory import made shared.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, exportedGlobal, memoryImport } from "../../src/index.js";
import { withSharedMemoryImport } from "../../src/heap/wasm/binary.js";
import { sharedWasm } from "./helpers/wasmClient.js";

let wabtBytes: (text: string, threads?: boolean) => Uint8Array;
beforeAll(async () => {
  const wabt = await (await import("wabt")).default();
  wabtBytes = (text, threads = false) => {
    const m = wabt.parseWat("t.wat", text, { threads });
    try {
      return m.toBinary({}).buffer;
    } finally {
      m.destroy();
    }
  };
});

describe("reading a module before it is instantiated", () => {
  it("the memory it imports: limits, shared or not, its import name", () => {
    const a = wabtBytes(`(module (import "env" "memory" (memory 2 100)) (func (export "f")))`);
    expect(memoryImport(a)).toEqual({ module: "env", name: "memory", initial: 2, maximum: 100, shared: false });
    const b = wabtBytes(`(module (import "env" "f" (func)) (import "js" "mem" (memory 1 200000 shared)))`, true);
    expect(memoryImport(b)).toEqual({ module: "js", name: "mem", initial: 1, maximum: 200000, shared: true });
    const c = wabtBytes(`(module (import "env" "t" (table 1 funcref)) (import "env" "g" (global i32)) (import "env" "memory" (memory 3)))`);
    expect(memoryImport(c)).toEqual({ module: "env", name: "memory", initial: 3, maximum: undefined, shared: false });
    expect(memoryImport(wabtBytes(`(module (memory 1))`))).toBeUndefined();
    expect(memoryImport(wabtBytes(`(module)`))).toBeUndefined();
  });

  it("the value of an exported i32 global such as __heap_base (after imported globals and other initializers)", () => {
    const m = wabtBytes(`(module
      (import "env" "g" (global $imp i32))
      (global $a i64 (i64.const -123456789012))
      (global $b f32 (f32.const 1.5))
      (global $c f64 (f64.const 2.5))
      (global $d i32 (global.get $imp))
      (global $hb i32 (i32.const 11))
      (global $big i32 (i32.const -2147483648))
      (export "__heap_base" (global $hb))
      (export "big" (global $big))
      (export "imported" (global $imp))
      (export "computed" (global $d))
      (export "f" (func $f))
      (func $f))`);
    expect(exportedGlobal(m, "__heap_base")).toBe(11); // 11 is 0x0b, the end opcode: read, not scanned for
    expect(exportedGlobal(m, "big")).toBe(0x8000_0000);
    expect(exportedGlobal(m, "imported")).toBeUndefined();
    expect(exportedGlobal(m, "computed")).toBeUndefined();
    expect(exportedGlobal(m, "f")).toBeUndefined();
    expect(exportedGlobal(m, "nothing")).toBeUndefined();
    expect(exportedGlobal(wabtBytes(`(module)`), "__heap_base")).toBeUndefined();
    expect(exportedGlobal(new DataView(m.buffer, m.byteOffset, m.byteLength), "__heap_base")).toBe(11);
    expect(exportedGlobal(m.slice().buffer, "__heap_base")).toBe(11);
  });

  it("refuses what is not a module", () => {
    expect(() => memoryImport(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(ArgumentError);
    const m = wabtBytes(`(module (import "env" "memory" (memory 2 100)))`);
    expect(() => memoryImport(m.subarray(0, m.length - 3))).toThrow(/truncated/);
  });
});

describe("the engine's memory import, made shared", () => {
  it.skipIf(!sharedWasm)("a module importing an unshared memory then takes a shared one (and keeps its other imports and code)", () => {
    const m = wabtBytes(`(module
      (import "env" "f" (func $f (param i32)))
      (import "env" "memory" (memory 1))
      (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1))))`);
    const shared = withSharedMemoryImport(m);
    expect(memoryImport(shared)).toEqual({ module: "env", name: "memory", initial: 1, maximum: 65536, shared: true });
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true } as WebAssembly.MemoryDescriptor);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(shared as Uint8Array<ArrayBuffer>), { env: { memory, f: () => {} } });
    (inst.exports.store as (a: number, v: number) => void)(16, 42);
    expect(new Int32Array(memory.buffer)[4]).toBe(42);
    expect(() => withSharedMemoryImport(wabtBytes(`(module (memory 1))`))).toThrow(/imports no memory/);
  });
});
