/**
 * An aligned allocation (`memalign`, `aligned_alloc`, `posix_memalign`) takes a padded chunk and
 * frees the parts before and after the aligned block. Damage next to that chunk (a smashed
 * header, a bin whose head is no free chunk, a missing footer) is noticed by those frees: the
 * call must be refused before it takes the chunk, leaving memory as it was (no chunk leaked, no
 * block handed out over it). Each case damages the heap as a C program can (a write into freed
 * memory, an overflow just past a block), in every data model, on the wasm engine, on a
 * concurrent heap (its logged engine, with and without arenas) and in a process's heap.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, PhysicalMemory, Process, type DataModel } from "../../src/index.js";
import { compileWasmEngine, firstChange, make, label, SETUPS, wasmEngine, type Setup } from "./helpers/engineSetups.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

const CINUSE = 1;
const PINUSE = 2;
const ALIGN = 64;

/** A heap as the cases see it: its calls, its words, a copy of the bytes that must not change. */
interface Kit {
  heap: Heap;
  W: number;
  A: number;
  min: number;
  chunkFor(n: number): number;
  rd(a: number): number;
  wr(a: number, v: number): void;
  bytes(): Uint8Array;
  /** Frees block `p` into the heap's bins (past a concurrent heap's front cache). */
  free(p: number): void;
}

function plain(s: Setup): Kit {
  const k = make(s);
  return { ...k, rd: (a) => k.dv().getUint32(a, true), wr: (a, v) => k.dv().setUint32(a, v >>> 0, true), free: (p) => k.heap.free(p) };
}

/**
 * A concurrent heap on shared memory: its bytes from the first chunk on (the lock and the call
 * log, below it, change on every call). With arenas, a thread's small frees wait in its
 * arena's front cache: mallinfo() gives them back to the heap, as the plain heap's frees are.
 */
function concurrent(arenas: boolean): Kit {
  const heap = new Heap({ memory: new SharedArrayBuffer(4 << 20), concurrent: true, arenas });
  const dv = (): DataView => new DataView(heap.memory.buffer as ArrayBufferLike as ArrayBuffer);
  const from = heap.chunks()[0]!.address;
  return {
    heap,
    W: 8,
    A: 16,
    min: 32,
    chunkFor: (n) => Math.max(32, (n + 8 + 15) & ~15),
    rd: (a) => dv().getUint32(a, true),
    wr: (a, v) => dv().setUint32(a, v >>> 0, true),
    bytes: () => new Uint8Array(heap.memory.buffer as ArrayBufferLike).slice(from),
    free: (p) => {
      heap.free(p);
      heap.mallinfo();
    },
  };
}

/** A process's heap (`process.heap`): its bytes read through the process's address space. */
function inProcess(model: "lp64" | "ilp32"): Kit {
  const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 2048, shared: false }), addressBits: model === "ilp32" ? 32 : 48, heap: { dataModel: model } });
  const heap = proc.heap;
  const W = model === "lp64" ? 8 : 4;
  const A = model === "ilp32" ? 8 : 16;
  const min = 4 * W;
  return {
    heap,
    W,
    A,
    min,
    chunkFor: (n) => Math.max(min, (n + W + A - 1) & ~(A - 1)),
    rd: (a) => proc.as.read32(a) >>> 0,
    wr: (a, v) => proc.as.write32(a, v >>> 0),
    bytes: () => {
      const top = heap.chunks().at(-1)!;
      return proc.as.readBytes(heap.base, top.address + top.size - heap.base);
    },
    free: (p) => heap.free(p),
  };
}

type Entry = "memalign" | "alignedAlloc" | "posixMemalign";
const ENTRIES: Entry[] = ["memalign", "alignedAlloc", "posixMemalign"];

function call(heap: Heap, entry: Entry, alignment: number, size: number): number {
  if (entry === "posixMemalign") {
    const { err, ptr } = heap.posixMemalign(alignment, size);
    return err === 0 ? ptr : 0;
  }
  return heap[entry](alignment, size);
}

/** Where an aligned block of `size` bytes goes in chunk `c` of which it keeps `kept` bytes: the parts freed before and after it. */
function parts(k: Kit, c: number, kept: number, size: number): { lead: number; tail: number } {
  const W2 = 2 * k.W;
  let p = c + W2;
  let lead = 0;
  if (p % ALIGN !== 0) {
    p = Math.ceil(p / ALIGN) * ALIGN;
    if (p - W2 - c < k.min) p += ALIGN;
    lead = p - W2 - c;
  }
  return { lead, tail: kept - lead - k.chunkFor(size) };
}

/**
 * Makes the bin of chunks of `size` bytes have a head that is no free chunk: two free chunks of
 * that size, and a use after free that points the head's forward link at live block `L` (whose
 * own bytes hold the back link glibc's check wants), so that the malloc that pops the head
 * leaves `L`'s chunk at the head.
 */
function poisonBin(k: Kit, size: number, L: number): void {
  const { heap, W } = k;
  const F1 = heap.malloc(size - W);
  guard(k);
  const F2 = heap.malloc(size - W);
  guard(k);
  k.free(F1);
  k.free(F2);
  k.wr(F2, L - 2 * W);
  k.wr(L + W, F2 - 2 * W);
  expect(heap.malloc(size - W)).toBe(F2);
}

/** A block in use between two chunks, of a size no case frees or poisons (3·ALIGN bytes). */
const guard = (k: Kit): number => k.heap.malloc(3 * ALIGN - k.W);

/** The sizes the part before an aligned block can have: its bins are the ones it may be freed into. */
const leadSizes = (k: Kit): number[] => Array.from({ length: ALIGN / k.A }, (_, i) => k.min + i * k.A);

/**
 * A free chunk F of the size memalign(ALIGN, size) asks for plus `extra` bytes, between a block
 * in use before it and live block L after it, placed (by a block of `pad` granules before it)
 * so that `want` holds for the parts memalign will free.
 */
function binChunk(mk: () => Kit, size: number, extra: number, want: (lead: number, tail: number) => boolean) {
  for (let pad = 0; pad < 2 * ALIGN; pad++) {
    const k = mk();
    const { heap, W, min, chunkFor } = k;
    const N = chunkFor(size) + ALIGN + min;
    heap.malloc(3 * ALIGN - W + pad * k.A); // (a size no case frees or poisons)
    const F = heap.malloc(N + extra - W);
    const L = heap.malloc(100);
    guard(k);
    const { lead, tail } = parts(k, F - 2 * W, extra >= min ? N : N + extra, size);
    if (!want(lead, tail)) continue;
    return { k, F, L, lead, tail };
  }
  throw new Error("no placement found");
}

/** The top chunk's address, placed by a block of `pad` granules so that `want` holds for the parts memalign will free. */
function topChunk(mk: () => Kit, size: number, prepare: (k: Kit, L: number) => void, want: (lead: number, tail: number) => boolean) {
  for (let pad = 0; pad < 2 * ALIGN; pad++) {
    const k = mk();
    const { heap, W, min, chunkFor } = k;
    const L = heap.malloc(100);
    guard(k);
    prepare(k, L);
    heap.malloc(3 * ALIGN - W + pad * k.A); // (a size no case frees or poisons)
    const top = heap.chunks().at(-1)!.address;
    const { lead, tail } = parts(k, top, chunkFor(size) + ALIGN + min, size);
    if (!want(lead, tail)) continue;
    return { k, top, L, lead, tail };
  }
  throw new Error("no placement found");
}

/**
 * Runs the aligned allocation, which meets the damage (in the chunk it takes or next to it): it
 * is refused with HeapCorruptionError, and memory is as it was (the break too).
 */
function expectRefused(k: Kit, entry: Entry, size: number): void {
  const footprint = k.heap.mallocFootprint();
  const before = k.bytes();
  let err: unknown = null;
  let q = -1;
  try {
    q = call(k.heap, entry, ALIGN, size);
  } catch (e) {
    err = e;
  }
  expect(err, `${entry} handed out 0x${q.toString(16)} over the damage`).toBeInstanceOf(HeapCorruptionError);
  expect(k.heap.mallocFootprint(), `${entry} threw "${(err as Error).message}" after the break moved`).toBe(footprint);
  const at = firstChange(before, k.bytes());
  expect(at, `${entry} threw "${(err as Error).message}" after changing memory at offset 0x${at.toString(16)}`).toBe(-1);
  if (entry === "memalign") expect((err as Error).message, "the error names the call").toMatch(/^(memalign|malloc)\(\)/);
}

/**
 * The cases: each damages a heap made by `mk` (whose size fields have `W` bytes) and makes one
 * aligned allocation; those from the top only when `topKnown`.
 */
function cases(mk: () => Kit, { W, topKnown }: { W: number; topKnown: boolean }, run: (name: string, fn: (entry: Entry) => void) => void): void {
  const min = 4 * W;
  const small = 24;
  const large = 1500;

  run("a chunk from a bin, taken whole, followed by a block whose header an overflow smashed (its in-use bit cleared)", (entry) => {
    const { k, F, L } = binChunk(mk, small, 0, (_lead, tail) => tail >= min);
    k.free(F);
    k.wr(L - k.W, k.rd(L - k.W) & ~CINUSE);
    expectRefused(k, entry, small);
  });

  run("a chunk from a bin, when the bin its leading part joins has a head that is no free chunk", (entry) => {
    const { k, F, L } = binChunk(mk, small, 0, (lead) => lead > 0);
    for (const s of leadSizes(k)) poisonBin(k, s, L);
    k.free(F);
    expectRefused(k, entry, small);
  });

  run("a chunk from a bin, when the bin its trailing part joins has a head that is no free chunk", (entry) => {
    const { k, F, L, tail } = binChunk(mk, small, 0, (lead, tail) => lead === min && tail >= min);
    poisonBin(k, tail, L);
    k.free(F);
    expectRefused(k, entry, small);
  });

  run("a chunk from a bin, aligned already, when the bin its trailing part joins has a head that is no free chunk", (entry) => {
    const { k, F, L, tail } = binChunk(mk, small, 0, (lead) => lead === 0);
    poisonBin(k, tail, L);
    k.free(F);
    expectRefused(k, entry, small);
  });

  for (const size of [small, large]) {
    run(`a chunk from a bin with a remainder (${size} bytes), when the block after it says its predecessor is in use (no footer for the remainder)`, (entry) => {
      const { k, F, L } = binChunk(mk, size, 4 * min, (_lead, tail) => tail >= min);
      k.free(F);
      k.wr(L - k.W, k.rd(L - k.W) | PINUSE);
      expectRefused(k, entry, size);
    });
  }

  run("a chunk from a bin whose header an overflow of the block before it smashed (its PINUSE cleared)", (entry) => {
    const { k, F } = binChunk(mk, small, 0, (lead, tail) => lead > 0 || tail >= min);
    k.free(F);
    k.wr(F - k.W, k.rd(F - k.W) & ~PINUSE);
    expectRefused(k, entry, small);
  });

  if (W === 8) {
    run("a chunk from a bin whose size field's high half an overflow smashed (8-byte size fields)", (entry) => {
      const { k, F } = binChunk(mk, small, 0, (lead) => lead > 0);
      k.free(F);
      k.wr(F - 4, 1);
      expectRefused(k, entry, small);
    });
  }

  run("the designated victim, when the block after it says its predecessor is in use", (entry) => {
    for (let pad = 0; pad < 2 * ALIGN; pad++) {
      const k = mk();
      const { heap, W, min, chunkFor } = k;
      const N = chunkFor(small) + ALIGN + min;
      heap.malloc(3 * ALIGN - W + pad * k.A); // (a size no case frees or poisons)
      const D = heap.malloc(N + 3 * min + min - W);
      const L = heap.malloc(100);
      guard(k);
      k.free(D);
      expect(heap.malloc(min - W)).toBe(D); // (from D's bin: the rest of D is the designated victim)
      const { tail } = parts(k, D - 2 * W + min, N, small);
      if (tail < min) continue;
      k.wr(L - W, k.rd(L - W) | PINUSE);
      expectRefused(k, entry, small);
      return;
    }
    throw new Error("no placement found");
  });

  if (topKnown) {
    run("the top, when the bin its leading part joins has a head that is no free chunk", (entry) => {
      const { k } = topChunk(mk, small, (k, L) => leadSizes(k).forEach((s) => poisonBin(k, s, L)), (lead) => lead > 0);
      expectRefused(k, entry, small);
    });

    run("the top, whose header an overflow of the last block smashed (its PINUSE cleared)", (entry) => {
      const { k, top } = topChunk(mk, small, () => {}, (lead, tail) => lead > 0 || tail >= min);
      k.wr(top + k.W, k.rd(top + k.W) & ~PINUSE);
      expectRefused(k, entry, small);
    });

    for (const size of [8_000, 40_000]) {
      run(`the top after the heap grows (${size} bytes${size > 16_384 ? ", the chunk map moves" : ""}), when a bin a leading part may join has a head that is no free chunk`, (entry) => {
        const k = mk();
        const L = k.heap.malloc(100);
        guard(k);
        for (const s of leadSizes(k)) poisonBin(k, s, L);
        expectRefused(k, entry, size);
      });
    }
  }
}

describe.each(SETUPS)("a refused aligned allocation changes nothing ($model, engine $engine)", (s) => {
  const mk = (): Kit => plain(s);
  cases(mk, { W: s.model === "lp64" ? 8 : 4, topKnown: true }, (name, fn) => it.each(ENTRIES)(`%s: ${name} (${label(s)})`, fn));
});

describe.each([true, false])("a concurrent heap (arenas %s): a refused aligned allocation changes nothing", (arenas) => {
  const mk = (): Kit => concurrent(arenas);
  // (With arenas, small blocks come from a segment's heap: no case from the main heap's top.)
  cases(mk, { W: 8, topKnown: !arenas }, (name, fn) => it(`memalign: ${name}`, () => fn("memalign")));
});

describe.each(["lp64", "ilp32"] as const)("process.heap (%s): a refused aligned allocation changes nothing", (model: DataModel) => {
  const mk = (): Kit => inProcess(model as "lp64" | "ilp32");
  cases(mk, { W: model === "lp64" ? 8 : 4, topKnown: true }, (name, fn) => it(`memalign: ${name}`, () => fn("memalign")));
});
