import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, LinearMemory } from "../../src/index.js";
import { CINUSE, PINUSE } from "../../src/heap/chunk.js";

// recover rebuilds the chunk map from the chunk headers (the map is stored without the undo
// log). A header smashed by the program before a worker died must not be adopted: the map,
// not the headers, decides what is a chunk. Three blocks of thread 77 (which keeps its arena's
// lock between calls, as a worker does until the end of its task), the first one's header
// smashed, thread 77 "dies", recover(77): then either recover or a later call refuses, or the
// neighbour's bytes are intact.
function smashThenRecover(smash: (m: Int32Array, sizeWord: number) => void): { threw: unknown; intact: boolean } {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 16 << 20 }), concurrent: true });
  const buf = (heap.memory as LinearMemory).buffer;
  const t77 = Heap.attach(buf, { threadId: 77 });
  const a = t77.malloc(40);
  const b = t77.malloc(40);
  t77.malloc(40);
  expect(b - a).toBe(48); // neighbours: a's chunk is 48 bytes
  const m = new Int32Array(buf);
  smash(m, (a - 8) >>> 2); // lp64: a chunk's size field is the word 8 bytes below its block
  const u8 = (heap.memory as LinearMemory).u8;
  u8.fill(0xbb, b, b + 40);
  let threw: unknown = null;
  try {
    heap.recover(77);
    heap.free(a);
    for (let i = 0; i < 4; i++) {
      const p = heap.malloc(80);
      if (p !== 0) u8.fill(0xcc, p, p + 80);
    }
  } catch (e) {
    threw = e;
  }
  return { threw, intact: u8.subarray(b, b + 40).every((v) => v === 0xbb) };
}

describe("recover does not adopt a smashed chunk header", () => {
  it("a live block's size enlarged over its live neighbour", () => {
    const r = smashThenRecover((m, w) => (m[w] = m[w]! + 48));
    expect(r.threw).toBeInstanceOf(HeapCorruptionError);
    expect((r.threw as Error).message).toMatch(/chunk header disagrees with the chunk map/);
    expect(r.intact).toBe(true);
  });

  it("a live block's in-use bit cleared (it would be handed out again)", () => {
    const r = smashThenRecover((m, w) => (m[w] = m[w]! & ~CINUSE));
    expect(r.threw).toBeInstanceOf(HeapCorruptionError);
    expect((r.threw as Error).message).toMatch(/chunk header disagrees with the chunk map/);
    expect(r.intact).toBe(true);
  });

  it("a cleared PINUSE flag (a flag recovery rewrites anyway) is no corruption", () => {
    const r = smashThenRecover((m, w) => (m[w] = m[w]! & ~PINUSE));
    expect(r.threw).toBeNull();
    expect(r.intact).toBe(true);
  });

  it("without a smash, recover and the calls after it go through", () => {
    const r = smashThenRecover(() => {});
    expect(r.threw).toBeNull();
    expect(r.intact).toBe(true);
  });
});
