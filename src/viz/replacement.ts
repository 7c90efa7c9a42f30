/**
 * The page-replacement policies of OSTEP's paging-policy exercise (chapter 22): the four of
 * {@link simulateReplacement} (FIFO, LRU, CLOCK, OPT) plus RAND (a seeded random victim) and
 * MRU (the page used most recently), each replayed on paper over a reference string.
 */
import { type ReplayPolicy, type ReplayResult, type ReplayStep, simulateReplacement } from "../vm/replay.js";

/** A policy `vmheap pagesim` knows. */
export type PagePolicy = ReplayPolicy | "rand" | "mru";

/** Every policy, in the order tables list them. */
export const PAGE_POLICIES: readonly PagePolicy[] = ["fifo", "lru", "opt", "clock", "rand", "mru"];

/**
 * A small seeded generator (mulberry32): the same seed gives the same numbers on every
 * platform, so a random reference string or a RAND run can be repeated exactly.
 * @returns a function giving numbers in [0, 1)
 * @example
 * ```ts
 * import { seededRandom } from "vmheap/viz";
 *
 * const rnd = seededRandom(1);
 * console.log(rnd().toFixed(6), rnd().toFixed(6), seededRandom(1)().toFixed(6)); // 0.627074 0.002736 0.627074
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` page numbers drawn uniformly from `[0, pages)` by {@link seededRandom}(seed).
 * @example
 * ```ts
 * import { randomRefs, simulate } from "vmheap/viz";
 *
 * const refs = randomRefs(12, 5, 42);
 * // the same seed, the same string
 * console.log(refs.join(" "), randomRefs(12, 5, 42).join(" ") === refs.join(" ")); // 3 2 4 3 0 2 1 3 4 2 1 4 true
 * console.log(simulate(refs, 3, "lru").misses, simulate(refs, 3, "opt").misses); // 10 6
 * ```
 */
export function randomRefs(n: number, pages: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(rnd() * pages));
}

/**
 * Replays `refs` with `frames` frames under `policy`. FIFO, LRU, CLOCK and OPT are
 * {@link simulateReplacement}'s; RAND evicts the frame a {@link seededRandom}(seed) draws, MRU
 * the page referenced most recently (ties cannot happen: one page per time step). An empty
 * frame is always filled first, the lowest one first.
 * @param seed - RAND's seed (the other policies ignore it) @defaultValue 0
 * @example
 * ```ts
 * import { simulate } from "vmheap/viz";
 *
 * console.log(simulate([1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5], 3, "mru").misses); // 7
 * ```
 */
export function simulate(refs: readonly number[], frames: number, policy: PagePolicy, seed = 0): ReplayResult {
  if (policy !== "rand" && policy !== "mru") return simulateReplacement(refs, frames, policy);
  // Let simulateReplacement check `frames` and word the error the same way.
  simulateReplacement([], frames, "fifo");
  const rnd = seededRandom(seed);
  const slots: (number | null)[] = new Array<number | null>(frames).fill(null);
  const used = new Array<number>(frames).fill(-1);
  const trace: ReplayStep[] = [];
  let hits = 0;
  refs.forEach((page, t) => {
    let i = slots.indexOf(page);
    let evicted: number | null = null;
    const hit = i >= 0;
    if (hit) hits++;
    else {
      i = slots.indexOf(null);
      if (i < 0) {
        if (policy === "rand") i = Math.floor(rnd() * frames);
        else i = used.indexOf(Math.max(...used));
        evicted = slots[i]!;
      }
      slots[i] = page;
    }
    used[i] = t;
    trace.push({ page, hit, evicted, frames: [...slots] });
  });
  return { hits, misses: refs.length - hits, trace };
}

/**
 * Misses for every frame count from 1 to `maxFrames`, per policy: the fault curve. A policy
 * suffers Bélády's anomaly where a curve goes up.
 * @example
 * ```ts
 * import { anomalies, faultCurve } from "vmheap/viz";
 *
 * const { frames, misses } = faultCurve([1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5], 5, ["fifo", "lru"]);
 * console.log(frames, misses.fifo, misses.lru, anomalies(frames, misses.fifo)); // [ 1, 2, 3, 4, 5 ] [ 12, 12, 9, 10, 5 ] [ 12, 12, 10, 8, 5 ] [ 4 ]
 * ```
 */
export function faultCurve(
  refs: readonly number[],
  maxFrames: number,
  policies: readonly PagePolicy[],
  seed = 0,
): {
  /** The frame counts: 1 to `maxFrames`. */
  frames: number[];
  /** Per policy, the misses at each frame count. */
  misses: Record<string, number[]>;
} {
  const frames = Array.from({ length: maxFrames }, (_, i) => i + 1);
  const misses: Record<string, number[]> = {};
  for (const p of policies) misses[p] = frames.map((f) => simulate(refs, f, p, seed).misses);
  return { frames, misses };
}

/**
 * The frame counts `f` (from `frames`) where `misses[f]` exceeds the count for `f − 1` frames.
 * @example
 * ```ts
 * import { anomalies } from "vmheap/viz";
 *
 * // FIFO on 1 2 3 4 1 2 5 1 2 3 4 5: 12, 12, 9, 10, 5 misses with 1 to 5 frames
 * console.log(anomalies([1, 2, 3, 4, 5], [12, 12, 9, 10, 5])); // [ 4 ]
 * ```
 */
export function anomalies(frames: readonly number[], misses: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < frames.length; i++) if (misses[i]! > misses[i - 1]!) out.push(frames[i]!);
  return out;
}
