/**
 * A realloc that shrinks a block frees the tail it cuts off. When the bin that tail would join
 * has a head that is no free chunk (a use after free put a live block's chunk there), the
 * realloc must be refused before it writes the tail's header into the block: the block stays
 * whole, no interior pointer becomes a block, and growing it later keeps its bytes. In every
 * data model, on the wasm engine, and in a process's heap.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { HeapCorruptionError } from "../../src/index.js";
import { compileWasmEngine, firstChange, make, label, SETUPS, wasmEngine } from "./helpers/engineSetups.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

/**
 * The heap the tests below damage: P (200 bytes) between guards, whose shrink to 1 byte leaves
 * a tail of `tail` bytes (the next chunk in use: no merge); two freed chunks of the tail's size
 * class, F2 the bin's head; then a use after free: F2's forward link names live block L's
 * chunk, and L (the program's own bytes) holds the back link glibc's check wants, so the malloc
 * that takes F2 makes L's chunk the bin's head.
 */
function stage(
  heap: { malloc(n: number): number; free(p: number): void },
  W: number,
  min: number,
  chunkFor: (n: number) => number,
  write32: (at: number, v: number) => void,
): { P: number; tail: number } {
  const guard = (): number => heap.malloc(1);
  guard();
  const P = heap.malloc(200);
  guard();
  const tail = chunkFor(200) - min;
  const F1 = heap.malloc(tail - W);
  guard();
  const F2 = heap.malloc(tail - W);
  guard();
  const L = heap.malloc(100);
  guard();
  heap.free(F1);
  heap.free(F2);
  write32(F2, L - 2 * W);
  write32(L + W, F2 - 2 * W);
  expect(heap.malloc(tail - W)).toBe(F2);
  return { P, tail };
}

describe.each(SETUPS)("a rejected call changes nothing ($model, engine $engine)", (s) => {
  it(`realloc that shrinks a block, when the bin its tail would join has a head that is no free chunk (${label(s)})`, () => {
    const { heap, W, min, chunkFor, dv, bytes } = make(s);
    const { P } = stage(heap, W, min, chunkFor, (at, v) => dv().setUint32(at, v, true));
    // P's bytes, as the program wrote them.
    const u8 = new Uint8Array(heap.memory.buffer);
    for (let i = 0; i < 200; i++) u8[P + i] = (i * 7 + 1) & 0xff;
    const before = bytes();
    let err: unknown = null;
    let q = -1;
    try {
      q = heap.realloc(P, 1);
    } catch (e) {
      err = e;
    }
    if (err === null) {
      // Accepted: the block shrank in place, its first byte kept.
      expect(q).toBe(P);
      return;
    }
    expect(err).toBeInstanceOf(HeapCorruptionError);
    // Rejected: P is still the program's, all 200 bytes of it, and nothing else changed either.
    const after = new Uint8Array(heap.memory.buffer);
    for (let i = 0; i < 200; i++) if (after[P + i] !== ((i * 7 + 1) & 0xff)) expect.fail(`realloc threw "${(err as Error).message}" after writing into live block 0x${P.toString(16)} at byte ${i}`);
    const at = firstChange(before, bytes());
    expect(at, `realloc threw "${(err as Error).message}" after changing memory at 0x${at.toString(16)}`).toBe(-1);
  });

  it(`after that rejected realloc, the block is still whole: no interior pointer is a block, and growing it keeps its bytes (${label(s)})`, () => {
    const { heap, W, min, chunkFor, dv } = make(s);
    const { P } = stage(heap, W, min, chunkFor, (at, v) => dv().setUint32(at, v, true));
    const u8 = (): Uint8Array => new Uint8Array(heap.memory.buffer);
    for (let i = 0; i < 200; i++) u8()[P + i] = (i * 7 + 1) & 0xff;
    try {
      heap.realloc(P, 1);
    } catch (e) {
      expect(e).toBeInstanceOf(HeapCorruptionError);
    }
    // P + min lies inside P's 200 bytes (unless the shrink succeeded, when it is P's old tail).
    const interior = heap.mallocUsableSize(P + min);
    const q = heap.realloc(P, 3000); // the program grows its block: all 200 bytes must follow it
    expect(q).not.toBe(0);
    const lost = Array.from({ length: 200 }, (_, i) => i).find((i) => u8()[q + i] !== ((i * 7 + 1) & 0xff));
    expect(lost, `realloc(P, 3000) lost P's bytes from byte ${lost} on (mallocUsableSize(P + ${min}) was ${interior})`).toBeUndefined();
  });

});

describe.each(["lp64", "ilp32"] as const)("process.heap (%s): a rejected realloc that shrinks changes nothing", (model) => {
  it("the bin its tail would join has a head that is no free chunk: the block's bytes stay the program's", async () => {
    const { PhysicalMemory, Process } = await import("../../src/index.js");
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 2048, shared: false }), addressBits: model === "ilp32" ? 32 : 48, heap: { dataModel: model } });
    const heap = proc.heap;
    const as = proc.as;
    const W = model === "lp64" ? 8 : 4;
    const A = model === "ilp32" ? 8 : 16;
    const min = 4 * W;
    const chunkFor = (n: number): number => Math.max(min, (n + W + A - 1) & ~(A - 1));
    const { P } = stage(heap, W, min, chunkFor, (at, v) => as.write32(at, v));
    const data = Uint8Array.from({ length: 200 }, (_, i) => (i * 7 + 1) & 0xff);
    as.writeBytes(P, data);
    let err: unknown = null;
    try {
      heap.realloc(P, 1);
    } catch (e) {
      err = e;
    }
    if (err === null) return;
    expect(err).toBeInstanceOf(HeapCorruptionError);
    expect(Buffer.from(as.readBytes(P, 200)).equals(Buffer.from(data)), `realloc threw "${(err as Error).message}" after writing into the block it refused to shrink`).toBe(true);
  });
});
