/**
 * Attacks on the hardened default heap, as an adversary would make them (how2heap's techniques
 * adapted to this allocator), each against the promise of docs/heap.md ("What the heap
 * guarantees"): no block that overlaps a live one, the header or the chunk map, or lies outside
 * the arena; no metadata write outside the arena; no hang; damage reported with the library's
 * typed errors. Each case here once broke the promise.
 */
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, type DataModel } from "../../src/index.js";
import { binCount } from "../../src/heap/bins.js";
import { H_BINMAP, H_BITMAP, H_DV, H_TOP } from "../../src/heap/header.js";

/** The numbers of a data model: W (size field), A (alignment). */
const layoutOf = (model: DataModel): { W: number; A: number; shift: number } =>
  model === "lp64" ? { W: 8, A: 16, shift: 4 } : model === "wasm32" ? { W: 4, A: 16, shift: 4 } : { W: 4, A: 8, shift: 3 };

/** Whether `[p, p + n)` overlaps `[q, q + m)`. */
const overlap = (p: number, n: number, q: number, m: number): boolean => p < q + m && q < p + n;

/**
 * Word access to a heap's bytes, and its chunk map: pair `v` at the granule of chunk `c`, a size
 * word after it (as src/heap/chunk.ts draws them).
 */
function bytesOf(heap: Heap, buf: ArrayBufferLike, model: DataModel) {
  const { W, shift } = layoutOf(model);
  const dv = new DataView(buf);
  const word = (i: number): number => dv.getUint32(heap.base + 4 * i, true);
  const setWord = (i: number, v: number): void => dv.setUint32(heap.base + 4 * i, v >>> 0, true);
  const arena = heap.chunks()[0]!.address;
  const map = word(H_BITMAP);
  const mapWordAt = (c: number): number => map + 4 * ((c - arena) >>> (shift + 4));
  const setPair = (c: number, v: number): void => {
    const a = mapWordAt(c);
    const sh = (((c - arena) >>> shift) & 15) * 2;
    dv.setUint32(a, ((dv.getUint32(a, true) & ~(3 << sh)) | (v << sh)) >>> 0, true);
  };
  const setSizeWord = (c: number, size: number): void => dv.setUint32(mapWordAt(c) + 4, ((size >>> shift) << 2) | 2, true);
  const setHead = (c: number, size: number, flags: number): void => {
    dv.setUint32(c + W, size | flags, true);
    if (W === 8) dv.setUint32(c + 12, 0, true);
  };
  const setFooter = (c: number, size: number): void => dv.setUint32(c + size, size, true);
  const binSlot = (idx: number): number => heap.base + 4 * (H_BINMAP + ((binCount(shift) + 31) >>> 5)) + 4 * idx;
  return { W, dv, word, setWord, arena, map, setPair, setSizeWord, setHead, setFooter, binSlot };
}

/**
 * Attaches to `buf` and asks for `n` bytes: attach must refuse the buffer with
 * HeapCorruptionError, or the block must not overlap `[x, x + len)`.
 */
function attachAndTake(buf: ArrayBufferLike, n: number, x: number, len: number): void {
  let heap: Heap;
  try {
    heap = Heap.attach(buf as ArrayBuffer);
  } catch (e) {
    expect(e).toBeInstanceOf(HeapCorruptionError);
    return;
  }
  let q = 0;
  try {
    q = heap.malloc(n);
  } catch (e) {
    expect(e).toBeInstanceOf(HeapCorruptionError);
    return;
  }
  expect(q !== 0 && overlap(q, n, x, len), `malloc(${n}) = 0x${q.toString(16)} overlaps 0x${x.toString(16)}+${len}`).toBe(false);
}

describe("Heap.attach on a crafted buffer: a chunk map that the heap could not have written", () => {
  const models: DataModel[] = ["lp64", "wasm32", "ilp32"];
  const memories = [
    ["ArrayBuffer", (): ArrayBufferLike => new ArrayBuffer(1 << 20)],
    ["SharedArrayBuffer", (): ArrayBufferLike => new SharedArrayBuffer(1 << 20)],
  ] as const;
  for (const model of models) {
    for (const [kind, make] of memories) {
      it(`${model}, ${kind}: a free chunk marked inside the map's own chunk (the designated victim) is refused`, () => {
        const buf = make();
        const heap = new Heap({ memory: buf as ArrayBuffer, dataModel: model });
        heap.malloc(100);
        const b = bytesOf(heap, buf, model);
        const mapChunk = b.map - 2 * b.W;
        const c = mapChunk + 2 * layoutOf(model).A;
        b.setHead(c, 64, 2);
        b.setFooter(c, 64);
        b.setPair(c, 1);
        b.setPair(c + 64, 3);
        b.setWord(H_DV, c);
        attachAndTake(buf, 40, mapChunk, heap.chunks()[0]!.size);
      });

      it(`${model}, ${kind}: a free chunk whose size word spans a live block is refused`, () => {
        const buf = make();
        const heap = new Heap({ memory: buf as ArrayBuffer, dataModel: model });
        const a = heap.malloc(1000);
        const live = heap.malloc(100);
        heap.malloc(100);
        heap.free(a); // a: a free chunk of its own bin
        const b = bytesOf(heap, buf, model);
        const c = a - 2 * b.W;
        const chunks = heap.chunks();
        const liveChunk = chunks.find((x) => x.ptr === live)!;
        const size = liveChunk.address + liveChunk.size - c; // over the live block
        b.setHead(c, size, 2);
        b.setFooter(c, size);
        b.setSizeWord(c, size);
        // out of its bin, into the designated victim
        for (let i = 0; i < binCount(layoutOf(model).shift); i++) if (b.dv.getUint32(b.binSlot(i), true) === c) b.dv.setUint32(b.binSlot(i), 0, true);
        for (let i = H_BINMAP; i < H_BINMAP + ((binCount(layoutOf(model).shift) + 31) >>> 5); i++) b.setWord(i, 0);
        b.setWord(19, 0); // the bin summary
        b.setWord(H_DV, c);
        attachAndTake(buf, size - 2 * b.W, live, 100);
      });

      it(`${model}, ${kind}: a stale free mark above the top, reached later by a forged link, is refused`, () => {
        const buf = make();
        const heap = new Heap({ memory: buf as ArrayBuffer, dataModel: model });
        const a = heap.malloc(40); // a 48-byte chunk in every model
        heap.malloc(40);
        heap.free(a);
        const b = bytesOf(heap, buf, model);
        const top = b.word(H_TOP);
        const x = top + 208 - 48; // the last 48 bytes of the 208-byte chunk malloc(200) will carve
        b.setPair(x, 1);
        let h2: Heap;
        try {
          h2 = Heap.attach(buf as ArrayBuffer);
        } catch (e) {
          expect(e).toBeInstanceOf(HeapCorruptionError);
          return;
        }
        const live = h2.malloc(200);
        expect(live).toBe(top + 2 * b.W);
        // A free chunk forged in the live block over the stale mark (its back link naming a's
        // chunk), and a's forward link, in freed memory, naming it: a's bin then leads there.
        const c = a - 2 * b.W;
        b.setHead(x, 48, 2);
        b.dv.setUint32(x + 2 * b.W, 0, true);
        b.dv.setUint32(x + 3 * b.W, c, true);
        b.dv.setUint32(c + 2 * b.W, x, true);
        for (let i = 0; i < 2; i++) {
          let q = 0;
          try {
            q = h2.malloc(40);
          } catch (e) {
            expect(e).toBeInstanceOf(HeapCorruptionError);
            return;
          }
          expect(q !== 0 && overlap(q, 40, live, 200), `malloc(40) = 0x${q.toString(16)} inside live 0x${live.toString(16)}+200`).toBe(false);
        }
      });
    }
  }
});

describe("a concurrent heap attached while its lock is held (a copy taken during a call, or a crafted one)", () => {
  const BASE = 0x2000;
  const TID = 1000; // the thread that "died" holding the lock
  /** A concurrent heap at BASE in a shared wasm memory, the bytes below BASE a pattern; its copy with the lock held by TID. */
  function lockedCopy(craft: (heap: Heap, mem: WebAssembly.Memory) => void = () => {}): { mem: WebAssembly.Memory; w: Int32Array; area: number } {
    const mem = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true });
    new Uint8Array(mem.buffer).fill(0xab, 0, BASE);
    const heap = new Heap({ memory: mem, base: BASE, concurrent: true });
    heap.malloc(100);
    craft(heap, mem);
    const area = (heap as unknown as { shared: { main: { areaWord: number } } }).shared.main.areaWord;
    const w = new Int32Array(mem.buffer);
    w[(BASE >>> 2) + 2] = TID + 1; // H_LOCK: held by TID
    return { mem, w, area };
  }
  const belowIntact = (mem: WebAssembly.Memory): boolean => new Uint8Array(mem.buffer, 0, BASE).every((b) => b === 0xab);

  it("recover() refuses an undo log that names a word below the heap's header: nothing is written there", () => {
    const { mem, w, area } = lockedCopy();
    const lg = area + 4; // the main log: count, then (word index, old value) pairs
    w[lg] = 2;
    w[lg + 1] = 0x40 >>> 2;
    w[lg + 2] = 0x12345678;
    const h2 = Heap.attach(mem, { base: BASE, threadId: 5 });
    expect(() => h2.recover(TID)).toThrow(HeapCorruptionError);
    expect(belowIntact(mem)).toBe(true);
  });

  it("recover() refuses to rebuild the chunk map where a crafted header puts it (below base)", () => {
    const { mem, w, area } = lockedCopy();
    const lg = area + 4;
    w[lg] = 2;
    w[lg + 1] = -1; // "rebuild the chunk map after the undo"
    w[lg + 2] = 0;
    w[(BASE >>> 2) + H_BITMAP] = 0x100; // the map's payload: below base
    const h2 = Heap.attach(mem, { base: BASE, threadId: 5 });
    expect(() => h2.recover(TID)).toThrow(HeapCorruptionError);
    expect(belowIntact(mem)).toBe(true);
  });

  it("after recover(), the first call on the main heap checks the header and chunk map attach could not: a free chunk forged over the map's chunk is never handed out", () => {
    let mapChunk = 0;
    let mapSize = 0;
    const { mem } = lockedCopy((heap, m) => {
      const b = bytesOf(heap, m.buffer, "lp64");
      mapChunk = b.map - 16;
      mapSize = heap.chunks().find((x) => x.kind === "meta")!.size;
      const c = mapChunk + 32;
      const size = 0x10_0000; // bigger than any free chunk: a request this big takes the victim
      b.setHead(c, size, 2);
      b.setPair(c, 1);
      b.setSizeWord(c, size);
      b.setWord(H_DV, c);
    });
    const h2 = Heap.attach(mem, { base: BASE, threadId: 5 });
    expect(h2.recover(TID)).toBe(true);
    for (let i = 0; i < 2; i++) {
      let q = 0;
      try {
        q = h2.malloc(0xf_0000); // (64 KiB or more: the main heap's)
      } catch (e) {
        expect(e).toBeInstanceOf(HeapCorruptionError);
        continue;
      }
      expect(q !== 0 && overlap(q, 0xf_0000, mapChunk, mapSize), `malloc = 0x${q.toString(16)}, over the chunk map at 0x${mapChunk.toString(16)}`).toBe(false);
    }
    expect(belowIntact(mem)).toBe(true);
  });
});

describe("a concurrent heap's arenas in a crafted buffer", () => {
  it("an arena whose list of segments runs in a circle is refused by attach (its first malloc walked the list for ever)", () => {
    const sab = new SharedArrayBuffer(16 << 20);
    const heap = new Heap({ memory: sab, concurrent: true });
    const p = heap.malloc(100); // from the thread's arena: its first segment (1 MiB-aligned)
    const seg = p & ~0xf_ffff;
    const copy = new SharedArrayBuffer(sab.byteLength);
    new Uint8Array(copy).set(new Uint8Array(sab));
    const w = new Int32Array(copy);
    expect(w[seg >>> 2]).toBe(0x67736d76); // the segment's magic, "vmsg"
    w[(seg >>> 2) + 3] = seg; // its next segment: itself
    // (Were attach to accept it, the call below would never return: attach must refuse.)
    expect(() => Heap.attach(copy, { snapshot: true })).toThrow(HeapCorruptionError);
    expect(() => Heap.attach(copy)).toThrow(HeapCorruptionError);
  });

  it("a segment whose heap's top was moved below the main heap's arena: no block is handed out there", () => {
    const sab = new SharedArrayBuffer(16 << 20);
    const heap = new Heap({ memory: sab, concurrent: true });
    const p = heap.malloc(100);
    const arena = heap.chunks()[0]!.address; // the main heap's first chunk
    const copy = new SharedArrayBuffer(sab.byteLength);
    new Uint8Array(copy).set(new Uint8Array(sab));
    const w = new Int32Array(copy);
    const seg = p & ~0xf_ffff;
    const sub = w[(seg >>> 2) + 4]!; // the segment's heap's header
    const top = 0x7f0; // in the main heap's header: its bin heads
    w[(sub >>> 2) + H_TOP] = top;
    w[(top + 8) >>> 2] = (w[(sub >>> 2) + 6]! - top) | 2; // a top size that agrees: up to its end
    w[(top + 12) >>> 2] = 0;
    let h2: Heap;
    try {
      h2 = Heap.attach(copy, { snapshot: true });
    } catch (e) {
      expect(e).toBeInstanceOf(HeapCorruptionError);
      return;
    }
    for (let i = 0; i < 3; i++) {
      let q = 0;
      try {
        q = h2.malloc(100);
      } catch (e) {
        expect(e).toBeInstanceOf(HeapCorruptionError);
        continue;
      }
      expect(q === 0 || q >= arena, `malloc(100) = 0x${q.toString(16)}, below the arena 0x${arena.toString(16)}`).toBe(true);
    }
  });
});
