/**
 * What docs/heap.md says is not guaranteed ("An overflow that runs over a whole chunk header,
 * writing it back as it was, into the next chunk is not detected"), shown: once the chunk map
 * has moved, a block lies right below it, and that block's overflow, writing the map's header
 * back as it was, can rewrite the map. Here it turns a live block into a free chunk (its header
 * forged by an overflow of the block before it, a link to it in a freed block), and malloc hands
 * the live block out again. If the heap ever closes this, this test fails: change the docs.
 */
import { describe, expect, it } from "vitest";
import { Heap, type DataModel } from "../../src/index.js";
import { H_BITMAP } from "../../src/heap/header.js";

describe.each(["lp64", "wasm32", "ilp32"] as DataModel[])("an overflow into the moved chunk map (%s)", (model) => {
  it("writing the map's header back as it was, it makes a live block free: malloc hands it out again", () => {
    const memory = new WebAssembly.Memory({ initial: 8, maximum: 64 });
    const heap = new Heap({ memory, dataModel: model });
    const W = model === "lp64" ? 8 : 4;
    const gshift = model === "ilp32" ? 3 : 4;
    const dv = (): DataView => new DataView(memory.buffer);
    const L0 = heap.malloc(100);
    const L = heap.malloc(100); // the live block the attack hands out again
    const F = heap.malloc(100);
    heap.malloc(100);
    heap.malloc(20_000); // past the first map's coverage: a new map is carved from the top
    const chunks = heap.chunks();
    const at = chunks.findIndex((c) => c.kind === "meta");
    const B = chunks[at - 1]!;
    expect(B.kind, "a block lies right below the moved map").toBe("used");
    // The overflow of B: its own bytes, the map's chunk header as it was, then the map's words
    // up to L's mark, all as they were but L's pair, now "a free chunk starts here".
    const arena = chunks[0]!.address;
    const g = (L - 2 * W - arena) >>> gshift;
    const word = dv().getUint32(heap.base + 4 * H_BITMAP, true) + 4 * (g >>> 4);
    const run = new Uint8Array(memory.buffer).slice(B.ptr, word + 4);
    const pair = (g & 15) * 2;
    new DataView(run.buffer).setUint32(word - B.ptr, (new DataView(run.buffer).getUint32(word - B.ptr, true) & ~(3 << pair)) | (1 << pair), true);
    new Uint8Array(memory.buffer).set(run, B.ptr);
    // An overflow of L0 into L's size field (in use bit clear), and L's own bytes as a free chunk's links.
    const size = dv().getUint32(L - W, true) & ~7;
    dv().setUint32(L - W, size | 2, true);
    dv().setUint32(L, 0, true);
    dv().setUint32(L + W, F - 2 * W, true);
    // A use after free: freed F's forward link names L's chunk.
    heap.free(F);
    dv().setUint32(F, L - 2 * W, true);
    expect(L0).toBeLessThan(L);
    expect(heap.malloc(100)).toBe(F);
    expect(heap.malloc(100), "the live block handed out again").toBe(L);
  });
});
