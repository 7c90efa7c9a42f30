/**
 * The largest settings in the 32-bit data models and on the wasm engine: with `M_TOP_PAD` at
 * 1 GiB, `M_TRIM_THRESHOLD` at 0 or 2^31 − 1, requests near the largest size and alignments
 * near the largest alignment either fail with ENOMEM or give a sound block; no size the heap
 * derives overflows 32 bits (the wasm engine computes in i32 and i64), and `check()` passes
 * after every call. (hardening.test.ts checks the settings' bounds in the 64-bit model.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Errno, Heap, M_TOP_PAD, M_TRIM_THRESHOLD, type DataModel, type LinearMemory } from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

const SETUPS: Array<{ model: DataModel; engine: boolean }> = [
  { model: "ilp32", engine: false },
  { model: "wasm32", engine: false },
  { model: "wasm32", engine: true },
  { model: "lp64", engine: true },
];

/** Requests at the edges of what a heap of at most 2 GiB can hold. */
const SIZES = [0x7fff_0000, 0x7ffe_ffff, 0x7fff_0000 - 64, 0x4000_0000, 0x3fff_fff0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 0x10_0000];

describe.each(SETUPS)("the largest settings ($model, engine $engine)", ({ model, engine }) => {
  it.each([
    ["M_TOP_PAD 1 GiB", M_TOP_PAD, 2 ** 30],
    ["M_TRIM_THRESHOLD 0", M_TRIM_THRESHOLD, 0],
    ["M_TRIM_THRESHOLD 2^31 - 1", M_TRIM_THRESHOLD, 2 ** 31 - 1],
  ] as const)("%s: huge requests fail with ENOMEM or give a sound block, and the heap stays sound", (_name, param, value) => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 256 }); // 16 MiB at most
    const heap: Heap<LinearMemory> = engine ? new Heap({ memory, dataModel: model, engine: wasmEngine }) : new Heap({ memory, dataModel: model });
    expect(heap.mallopt(param, value)).toBe(1);
    let small = heap.malloc(100);
    expect(small).not.toBe(0);
    new Uint8Array(memory.buffer).fill(0x5a, small, small + 100);
    const fits = (p: number, n: number): void => {
      if (p === 0) {
        expect(heap.errno).toBe(Errno.ENOMEM);
        return;
      }
      expect(p + n <= memory.buffer.byteLength, `block 0x${p.toString(16)}+${n} past the memory`).toBe(true);
      if (p !== small) expect(p + n <= small || p >= small + 100).toBe(true);
    };
    for (const n of SIZES) {
      heap.errno = 0;
      fits(heap.malloc(n), n);
      heap.check();
      heap.errno = 0;
      fits(heap.calloc(1, n), n);
      heap.check();
      heap.errno = 0;
      const r = heap.realloc(small, n);
      if (r === 0) expect(heap.errno).toBe(Errno.ENOMEM); // the block stays
      else {
        fits(r, n);
        small = r;
      }
      expect(new Uint8Array(memory.buffer, small, 100).every((b) => b === 0x5a), `realloc(small, ${n}) kept the bytes`).toBe(true);
      heap.check();
      for (const a of [4096, 2 ** 29, 2 ** 30]) {
        heap.errno = 0;
        fits(heap.memalign(a, n), n);
        heap.check();
      }
    }
    // Big but possible: 4 MiB, aligned to 1 MiB, then freed; the small block intact throughout.
    const q = heap.memalign(1 << 20, 4 << 20);
    expect(q % (1 << 20)).toBe(0);
    fits(q, 4 << 20);
    heap.free(q);
    expect(heap.mallocTrim(2 ** 52)).toBeLessThanOrEqual(1);
    heap.check();
    expect(new Uint8Array(memory.buffer, small, 100).every((b) => b === 0x5a)).toBe(true);
  });
});
