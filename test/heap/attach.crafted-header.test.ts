/**
 * Heap.attach of a copy of a heap whose header words were rewritten (the top, the end and the
 * break, the chunk map's address and coverage, the trim and top-pad settings, the designated
 * victim, the bin bitmap and bin heads): as a crafted buffer handed to `attach` would be. Attach
 * must refuse the copy with HeapCorruptionError, or the heap it opens must keep the promise for
 * the copy's live blocks (docs/heap.md, "What the heap guarantees"): no block it hands out
 * overlaps one of them, the chunk map or the header, or leaves the arena; no byte below `base`
 * or above the heap's limit changes; every error is one of the heap's typed errors.
 * (forgery.ts forges the chunk map of such copies; this forges the header.)
 */
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidPointerError, M_TRIM_THRESHOLD, type DataModel, type LinearMemory } from "../../src/index.js";
import { H_BINMAP, H_BITMAP, H_BRK, H_COVER, H_DV, H_END, H_MAXFOOT, H_SUMMARY, H_TOP, H_TOPPAD, H_TRIM } from "../../src/heap/header.js";
import { fcSeed, rng } from "./helpers/heapKit.js";

const BASE = 0x2000;
const LIMIT = 1 << 20;
const PAGES = LIMIT / 65536 + 1; // a page above the limit, as a guard
const COPIES = 150;
const guard = (i: number): number => (i * 131 + 17) & 0xff;

describe.each(["lp64", "ilp32", "wasm32"] as const)("Heap.attach of a copy with a crafted header (%s)", (model: DataModel) => {
  const seed = fcSeed(`crafted header ${model}`);
  it(`refuses it, or keeps the copy's live blocks, its map and header out of every block (seed ${seed})`, () => {
    const rand = rng(seed);
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const W = model === "lp64" ? 8 : 4;
    const A = model === "ilp32" ? 8 : 16;
    let accepted = 0;
    let refused = 0;
    for (let copy = 0; copy < COPIES; copy++) {
      const mem = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
      const u8 = new Uint8Array(mem.buffer);
      for (let i = 0; i < BASE; i++) u8[i] = guard(i);
      for (let i = LIMIT; i < u8.length; i++) u8[i] = guard(i);
      const heap: Heap<LinearMemory> = new Heap({ memory: mem, base: BASE, maxBytes: LIMIT, dataModel: model });
      if (rand() < 0.5) heap.mallopt(M_TRIM_THRESHOLD, pick([0, 4096]));
      const blocks = new Map<number, number>();
      for (let i = int(3, 40); i > 0; i--) {
        const n = pick([8, 24, 100, 600, int(1, 5000), int(1, 30_000)]);
        const p = heap.malloc(n);
        if (p !== 0) blocks.set(p, n);
      }
      for (const p of [...blocks.keys()]) {
        if (rand() < 0.4) {
          heap.free(p);
          blocks.delete(p);
        }
      }
      const dv = new DataView(mem.buffer);
      const word = (i: number): number => dv.getUint32(BASE + 4 * i, true);
      const chunks = heap.chunks();
      const arena = chunks[0]!.address;
      // Plausible values: chunk starts and their neighbours, the top and end moved, coverage
      // halved or doubled, live blocks' chunks, and garbage.
      const value = (): number =>
        pick([
          pick(chunks).address,
          pick(chunks).address + pick([A, -A, 2 * W]),
          word(H_TOP) + A * int(-4, 4),
          word(H_END) + pick([-4096, 4096, 65536, -A]),
          int(0, LIMIT) & ~(A - 1),
          0,
          0xffff_ffff,
          0x7fff_ffff,
          word(H_COVER) * 2,
          word(H_COVER) / 2,
          pick([...blocks.keys(), BASE]) - 2 * W,
        ]) >>> 0;
      const words = [H_TOP, H_END, H_BRK, H_BITMAP, H_COVER, H_TRIM, H_TOPPAD, H_DV, H_MAXFOOT, H_SUMMARY, H_BINMAP, H_BINMAP + 1, H_BINMAP + 3 + int(0, 80)];
      const edits: string[] = [];
      for (let k = int(1, 3); k > 0; k--) {
        const i = pick(words);
        const v = value();
        dv.setUint32(BASE + 4 * i, v, true);
        edits.push(`word ${i} = 0x${v.toString(16)}`);
        if (i === H_END && rand() < 0.7) dv.setUint32(BASE + 4 * H_BRK, v, true); // the break agreeing
      }
      // Sometimes a top chunk header to match the crafted top and end.
      const top = word(H_TOP);
      if (rand() < 0.5 && top + 2 * W <= LIMIT) dv.setUint32(top + W, ((word(H_END) - top) | 2) >>> 0, true);
      const live = new Map([...blocks].map(([p, n]) => [p, Uint8Array.from({ length: n }, () => int(0, 255))]));
      for (const [p, bytes] of live) u8.set(bytes, p);
      const what = edits.join(", ");
      let h2: Heap;
      try {
        h2 = Heap.attach(mem, { base: BASE });
      } catch (e) {
        expect(e, what).toBeInstanceOf(HeapCorruptionError);
        refused++;
        continue;
      }
      accepted++;
      const mine = new Map<number, number>();
      const take = (q: number, n: number, call: string): void => {
        if (q === 0) return;
        const end = q + Math.max(n, 1);
        expect(q >= arena + 2 * W && end <= LIMIT, `${call} gave 0x${q.toString(16)}+${n}, outside the arena (${what})`).toBe(true);
        const ms = dv.getUint32(BASE + 4 * H_BITMAP, true) - 2 * W;
        const me = ms + (dv.getUint32(ms + W, true) & ~7);
        expect(q < me && ms + W < end, `${call} gave 0x${q.toString(16)}+${n}, over the chunk map (${what})`).toBe(false);
        for (const [p, bytes] of live) expect(q < p + bytes.length && p < end, `${call} gave 0x${q.toString(16)}+${n}, over live 0x${p.toString(16)} (${what})`).toBe(false);
        for (const [p, m] of mine) expect(q < p + m && p < end, `${call} gave 0x${q.toString(16)}+${n}, over its own 0x${p.toString(16)} (${what})`).toBe(false);
        u8.fill(0xee, q, q + n);
        mine.set(q, Math.max(n, 1));
      };
      for (let k = 0; k < 12; k++) {
        const r = rand();
        const n = pick([0, 8, 24, 100, 600, int(1, 5000), int(1, 60_000)]);
        try {
          if (r < 0.45) take(h2.malloc(n), n, `malloc(${n})`);
          else if (r < 0.6 && mine.size > 0) {
            const q = pick([...mine.keys()]);
            h2.free(q);
            mine.delete(q);
          } else if (r < 0.7 && mine.size > 0) {
            const q = pick([...mine.keys()]);
            const q2 = h2.realloc(q, n);
            if (q2 !== 0 || n === 0) mine.delete(q);
            take(q2, n, `realloc(0x${q.toString(16)}, ${n})`);
          } else if (r < 0.8) take(h2.memalign(A << int(1, 8), n), n, `memalign(${n})`);
          else if (r < 0.85) take(h2.calloc(1, n), n, `calloc(1, ${n})`);
          else if (r < 0.9) h2.mallocTrim(int(0, 5000));
          else if (live.size > 0) {
            const p = pick([...live.keys()]);
            h2.free(p);
            live.delete(p);
          }
        } catch (e) {
          if (!(e instanceof HeapCorruptionError || e instanceof DoubleFreeError || e instanceof InvalidPointerError)) expect.fail(`${String(e)} (${what})`);
        }
      }
      for (const [p, bytes] of live) {
        const at = bytes.findIndex((b, i) => u8[p + i] !== b);
        expect(at, `live block 0x${p.toString(16)} changed at byte ${at} (${what})`).toBe(-1);
      }
      expect(u8.subarray(0, BASE).every((b, i) => b === guard(i)), `a byte below base changed (${what})`).toBe(true);
      expect(u8.subarray(LIMIT).every((b, i) => b === guard(LIMIT + i)), `a byte above the limit changed (${what})`).toBe(true);
    }
    // Both outcomes happened: the checks refuse most copies, and some still open.
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  });
});
