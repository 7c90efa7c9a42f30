/**
 * The wasm engine under the forgeries a C program can make: the same calls on two heaps of one
 * data model (wasm32, whose JavaScript heap takes the general path, and lp64, whose JavaScript
 * heap takes the written-out fast paths), one on the JavaScript engine and one on the wasm engine, with the same bytes written between
 * the calls into freed blocks, into live blocks and just past them (fake sizes and flags, links
 * to live blocks, to the header, to the top, to the chunk map, garbage such as 0xffffffff). The
 * engines must agree on every answer, errno and error (type and message) and leave the same
 * bytes in memory: the wasm engine keeps the JavaScript engine's promises (docs/heap.md, "What
 * the heap guarantees"), which the forgery fuzzer checks there, also where its 32-bit and
 * 64-bit arithmetic meets sizes and addresses no sound heap holds.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidPointerError, M_TOP_PAD, M_TRIM_THRESHOLD, type DataModel, type LinearMemory } from "../../src/index.js";
import { H_BITMAP, H_DV, H_END, H_TOP } from "../../src/heap/header.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";
import { fcSeed, rng } from "./helpers/heapKit.js";

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

const BASE = 0x1000; // a module's data below the heap
const LIMIT = 1 << 20;
const ROUNDS = 12; // fresh pairs of heaps
const CALLS = 200; // calls per round

function heapPair(dataModel: DataModel): [Heap<LinearMemory>, Heap<LinearMemory>] {
  const make = (engine: boolean): Heap<LinearMemory> => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: LIMIT / 65536 });
    return engine ? new Heap({ memory, base: BASE, dataModel, engine: wasmEngine }) : new Heap({ memory, base: BASE, dataModel });
  };
  return [make(false), make(true)];
}

/** What a call did: its value and errno, or the error it threw. */
function outcome(heap: Heap, call: (h: Heap) => number): string {
  try {
    const v = call(heap);
    return `${v} (errno ${heap.errno})`;
  } catch (e) {
    if (!(e instanceof HeapCorruptionError || e instanceof DoubleFreeError || e instanceof InvalidPointerError)) throw e;
    return `${e.name}: ${e.message}`;
  }
}

describe.each(["wasm32", "lp64"] as const)("the wasm engine under forged bytes (%s)", (model) => {
  const seed = fcSeed(`wasm engine forgeries, ${model}`);
  const W = model === "lp64" ? 8 : 4;
  it(`answers, errors and memory as the JavaScript engine's, call for call (seed ${seed})`, () => {
    const rand = rng(seed);
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    let errors = 0;
    let calls = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const heaps = heapPair(model);
      const views = (): DataView[] => heaps.map((h) => new DataView(h.memory.buffer));
      const word = (i: number): number => views()[0]!.getUint32(BASE + 4 * i, true);
      const live: number[] = [];
      const freed: number[] = [];
      const forged = (): number => {
        const q = live.length > 0 ? pick(live) : BASE;
        return pick([
          int(0, 0xffff) & ~15, q - 2 * W, q, q + 16 * int(0, 64), int(16, 600) & ~15, (int(16, 600) & ~15) | int(0, 7),
          word(H_TOP), word(H_DV), word(H_BITMAP) - 2 * W, freed.length > 0 ? pick(freed) - 2 * W : 0,
          0, 0xffff_ffff, 0x8000_0000, 0x7fff_ffff, int(0, 0xffff_ffff),
        ]);
      };
      for (let i = 0; i < CALLS; i++) {
        // A store of the program's: into a freed block (a use after free) or a live one, around
        // its start or just past its end (the next chunk's header); both heaps get the same.
        if (rand() < 0.4) {
          const from = rand() < 0.5 && freed.length > 0 ? pick(freed) : live.length > 0 ? pick(live) : 0;
          const at = from + pick([-4, 0, 4, 8, 12, 4 * int(0, 40)]);
          const v = forged();
          // (Not into the chunk map's chunk: a freed block's memory can become the map when the map
          // grows, and writes into it then are outside the promise, docs/heap.md.)
          const map = word(H_BITMAP) - 2 * W;
          const mapEnd = map + (views()[0]!.getUint32(map + W, true) & ~7);
          if (from !== 0 && at > BASE + 0x100 && at + 4 <= word(H_END) && !(at + 4 > map + W && at < mapEnd)) for (const dv of views()) dv.setUint32(at, v >>> 0, true);
        }
        const r = rand();
        const n = pick([0, 1, 12, 24, 100, 500, int(0, 3000), int(0, 40_000)]);
        const q = live.length > 0 ? pick(live) : 0;
        const align = 16 << int(1, 8);
        const pad = int(0, 5000);
        const opt = pick([M_TRIM_THRESHOLD, M_TOP_PAD]);
        const optValue = pick([0, 4096, 65536]);
        const call = (h: Heap): number => {
          if (r < 0.3) return h.malloc(n);
          if (r < 0.5) return (h.free(q), -1);
          if (r < 0.7) return h.realloc(q, n);
          if (r < 0.78) return h.calloc(1, n);
          if (r < 0.88) return h.memalign(align, n);
          if (r < 0.92) return h.mallocTrim(pad);
          if (r < 0.95) return h.mallopt(opt, optValue);
          return h.mallocUsableSize(q);
        };
        const [js, wasm] = heaps.map((h) => outcome(h, call));
        calls++;
        const what = `round ${round}, call ${i} (r ${r.toFixed(3)}, n ${n}, q 0x${q.toString(16)})`;
        expect(wasm, what).toBe(js);
        const [a, b] = heaps.map((h) => new Uint8Array(h.memory.buffer));
        const end = Math.max(a!.length, b!.length);
        for (let x = 0; x < end; x++) if (a![x] !== b![x]) expect.fail(`${what}: the engines left different bytes at 0x${x.toString(16)} (${a![x]} / ${b![x]})`);
        if (!/^-?\d/.test(js!)) {
          errors++;
          continue;
        }
        const v = Number(js!.split(" ")[0]);
        const drop = (p: number): void => {
          live.splice(live.indexOf(p), 1);
          freed.push(p);
          if (freed.length > 32) freed.shift();
        };
        if ((r < 0.3 || (r >= 0.7 && r < 0.88)) && v !== 0) live.push(v);
        else if (r >= 0.3 && r < 0.5 && q !== 0) drop(q);
        else if (r >= 0.5 && r < 0.7 && q !== 0 && (n === 0 || v !== 0)) {
          drop(q);
          if (v !== 0) live.push(v);
        }
      }
    }
    expect(calls).toBe(ROUNDS * CALLS);
    // The forgeries reached the heaps: both engines reported the same damage many times.
    expect(errors).toBeGreaterThan(20);
  });
});
