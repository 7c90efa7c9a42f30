/**
 * The heaps the attack tests run in turn: every data model in JavaScript, and the wasm engine
 * (wasm32, lp64), each on a small wasm memory; with the data model's numbers and a byte diff.
 */
import { Heap, type DataModel } from "../../../src/index.js";
import { wasmEngine } from "../../../src/heap/wasm/index.js";

export { compileWasmEngine } from "../../../src/heap/wasm/engine.js";
export { wasmEngine };

export type Setup = { model: DataModel; engine: boolean };
export const SETUPS: Setup[] = [
  { model: "lp64", engine: false },
  { model: "ilp32", engine: false },
  { model: "wasm32", engine: false },
  { model: "wasm32", engine: true },
  { model: "lp64", engine: true },
];
export const label = (s: Setup): string => `${s.model}${s.engine ? " on the wasm engine" : ""}`;

/** A heap on a wasm memory, its bytes, and its data model's numbers. */
export function make(s: Setup) {
  const memory = new WebAssembly.Memory({ initial: 8, maximum: 64 });
  const heap = s.engine ? new Heap({ memory, dataModel: s.model, engine: wasmEngine }) : new Heap({ memory, dataModel: s.model });
  const W = s.model === "lp64" ? 8 : 4;
  const A = s.model === "ilp32" ? 8 : 16;
  const min = s.model === "lp64" ? 32 : 16;
  const chunkFor = (n: number): number => Math.max(min, (n + W + A - 1) & ~(A - 1));
  const dv = (): DataView => new DataView(memory.buffer);
  const bytes = (): Uint8Array => new Uint8Array(memory.buffer).slice();
  return { heap, W, A, min, chunkFor, dv, bytes };
}

/** The first address where two copies of the memory differ, or -1. */
export function firstChange(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}
