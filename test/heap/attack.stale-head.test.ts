/**
 * Damage the heap notices only in the middle of a call: a bin's head left naming a chunk that
 * then merges away (a use after free of two links), and a crafted buffer whose break words are
 * out of range. The call must be refused with HeapCorruptionError before anything changes, in
 * every data model and on the wasm engine.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError } from "../../src/index.js";
import { compileWasmEngine, make, label, SETUPS, wasmEngine } from "./helpers/engineSetups.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

describe("Heap.attach of a crafted buffer", () => {
  it.each([
    ["the heap's limit below its header", 18, 0],
    ["the heap's limit 0xffffffff", 18, 0xffff_ffff],
    ["the break's start 0xffffffff", 8, 0xffff_ffff],
  ])("%s: refused with HeapCorruptionError", (_what, word, value) => {
    const heap = new Heap({ memory: new ArrayBuffer(1 << 20), base: 0x2000 });
    heap.malloc(100);
    const copy = heap.memory.buffer.slice(0);
    new DataView(copy).setUint32(0x2000 + 4 * word, value, true);
    let err: unknown = null;
    try {
      Heap.attach(copy, { base: 0x2000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeapCorruptionError);
  });
});

describe.each(SETUPS)("a bin head left naming a chunk that merged away ($model, engine $engine)", (s) => {
  /**
   * X and N are free, N the head of its own bin. A use after free makes X's forward link name N
   * and N's back link name X, so the malloc that pops X leaves N as the head of X's bin (the bin
   * of P's and N's sizes together). free's checks let that head pass when N is the neighbour
   * that merges; once merged, N is no chunk, and the free that merges it must not go on as if
   * the bin were sound.
   */
  function setUp() {
    const k = make(s);
    const { heap, W, chunkFor, dv } = k;
    heap.malloc(8);
    const P = heap.malloc(100);
    const N = heap.malloc(200);
    const Z = heap.malloc(8);
    const total = chunkFor(100) + chunkFor(200);
    const X = heap.malloc(total - W);
    heap.malloc(8);
    const B = heap.malloc(40);
    heap.malloc(8);
    heap.free(X);
    heap.free(B);
    heap.free(N);
    dv().setUint32(N + W, X - 2 * W, true);
    dv().setUint32(X, N - 2 * W, true);
    expect(heap.malloc(total - W)).toBe(X);
    return { ...k, P, N, Z, B, total };
  }

  it(`realloc that moves a block and throws leaves the block the program's (${label(s)})`, () => {
    const { heap, W, chunkFor, dv, P, Z, B, total } = setUp();
    const u8 = (): Uint8Array => new Uint8Array(heap.memory.buffer);
    for (let i = 0; i < 100; i++) u8()[P + i] = i + 1;
    let err: unknown = null;
    try {
      heap.realloc(P, 5000); // no room next to P: a new block, P's bytes copied, P freed
    } catch (e) {
      err = e;
    }
    if (err === null) return; // (P moved and is freed: nothing of P is the program's any more)
    expect(err).toBeInstanceOf(HeapCorruptionError);
    // realloc threw: P is still the program's block, so whatever the program stores in it
    // (links, as a free chunk's), and in freed B, no later call may hand P's bytes out again.
    const usable = heap.mallocUsableSize(P);
    dv().setUint32(P, 0, true);
    if (W === 8) dv().setUint32(P + 4, 0, true);
    dv().setUint32(P + W, B - 2 * W, true);
    if (W === 8) dv().setUint32(P + W + 4, 0, true);
    dv().setUint32(B, P - 2 * W, true);
    let q = 0;
    try {
      heap.free(Z);
      q = heap.malloc(total + chunkFor(8) - W);
    } catch (e) {
      expect(e).toBeInstanceOf(HeapCorruptionError);
    }
    expect(q === 0 || q + total <= P || q >= P + 100, `realloc threw "${(err as Error).message}"; then malloc handed out 0x${q.toString(16)}, over P 0x${P.toString(16)} (still the program's)`).toBe(true);
    expect(usable, `realloc threw "${(err as Error).message}", and P is no longer a live block`).toBeGreaterThanOrEqual(100);
  });

  it(`free of the block before the merged chunk: both engines name the stale head (${label(s)})`, () => {
    const { heap, P } = setUp();
    let err: unknown = null;
    try {
      heap.free(P);
    } catch (e) {
      err = e;
    }
    // The JavaScript engine reports the bin's head, which is no free chunk any more, when it
    // comes to push the merged chunk; the wasm engine must not link the chunk in front of it.
    expect(err).toBeInstanceOf(HeapCorruptionError);
  });
});
