/**
 * A free chunk whose forward link names the chunk itself (a use-after-free write of its own
 * address into `fd`, and into `bk`, which then "names it back"): glibc's link check passes it.
 * Taking it would leave its bin's head on the block just handed out, and the remainder's insert
 * would write into that block (or throw once the heap had changed). malloc must refuse it
 * before anything changes, in every data model, on the JavaScript engine (the 64-bit fast path
 * and the general path) and on the wasm engine.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, type DataModel, type LinearMemory } from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

const MODELS: { model: DataModel; engine: boolean }[] = [
  { model: "lp64", engine: false },
  { model: "ilp32", engine: false },
  { model: "wasm32", engine: false },
  { model: "lp64", engine: true },
  { model: "wasm32", engine: true },
];

/**
 * A heap holding a free chunk, made by freeing a block of `size` bytes (between two live
 * guards; it may merge with a free neighbour), its links forged to name itself; the chunk's size.
 */
function selfLinked(model: DataModel, engine: boolean, size: number): { heap: Heap<LinearMemory>; chunkSize: number } {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 64 });
  const heap = engine ? new Heap({ memory, dataModel: model, engine: wasmEngine }) : new Heap({ memory, dataModel: model });
  heap.malloc(16);
  const p = heap.malloc(size);
  heap.malloc(4096); // (too big for the hole a moved chunk map leaves: it keeps p's chunk off the top)
  heap.free(p);
  const W = model === "lp64" ? 8 : 4;
  const chunk = heap.chunks().find((k) => k.address <= p - 2 * W && p < k.address + k.size)!;
  expect(chunk.kind).toBe("free"); // in a bin
  const dv = new DataView(heap.memory.buffer);
  dv.setUint32(chunk.address + 2 * W, chunk.address, true); // fd = the chunk
  dv.setUint32(chunk.address + 3 * W, chunk.address, true); // bk = the chunk
  return { heap, chunkSize: chunk.size };
}

describe.each(MODELS)("a free chunk linked to itself ($model, wasm engine: $engine)", ({ model, engine }) => {
  // An exact fit (the small bin's head); a smaller request that splits it (the remainder
  // becomes the designated victim); a large chunk split by a request whose remainder goes back
  // to the same bin, written through the bin's head.
  it.each([
    ["an exact fit", 200, (chunk: number) => chunk - (model === "lp64" ? 8 : 4)],
    ["a split whose remainder becomes the victim", 200, (chunk: number) => chunk >> 1],
    ["a split whose remainder goes to the same bin", 60000, () => 1100],
  ])("%s: malloc refuses it before anything changes", (_what, size, request) => {
    const { heap, chunkSize } = selfLinked(model, engine, size);
    const before = heap.memory.u8.slice();
    expect(() => heap.malloc(request(chunkSize))).toThrow(HeapCorruptionError);
    expect(Buffer.compare(heap.memory.u8, before)).toBe(0);
  });
});

describe.each(MODELS)("a free neighbour linked to itself ($model, wasm engine: $engine)", ({ model, engine }) => {
  // free() of a block next to it would unlink it: its bin's head (or its neighbours) would be
  // left on the chunk that merges away.
  it.each([
    ["the block before it", 0],
    ["the block after it", 2],
  ])("free() of %s refuses to merge with it before anything changes", (_what, which) => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 64 });
    const heap = engine ? new Heap({ memory, dataModel: model, engine: wasmEngine }) : new Heap({ memory, dataModel: model });
    const W = model === "lp64" ? 8 : 4;
    heap.malloc(16);
    const blocks = [heap.malloc(200), heap.malloc(200), heap.malloc(200)];
    heap.malloc(16);
    heap.free(blocks[1]!);
    const n = blocks[1]! - 2 * W;
    expect(heap.chunks().find((k) => k.address === n)?.kind).toBe("free");
    const dv = new DataView(heap.memory.buffer);
    dv.setUint32(n + 2 * W, n, true);
    dv.setUint32(n + 3 * W, n, true);
    const before = heap.memory.u8.slice();
    expect(() => heap.free(blocks[which]!)).toThrow(HeapCorruptionError);
    expect(Buffer.compare(heap.memory.u8, before)).toBe(0);
  });
});
