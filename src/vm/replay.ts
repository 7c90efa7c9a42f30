/**
 * Page replacement on paper: replays a reference string against `frames` page frames under a
 * policy, the way textbooks draw it (one column per reference). For teaching, and to check the
 * real {@link AddressSpace} against the textbook numbers.
 *
 * ```text
 *   refs    1  2  3  4  1  2  5  1  2  3  4  5      FIFO, 3 frames: 9 misses
 *   frame0  1  1  1  4  4  4  5  5  5  5  5  5
 *   frame1     2  2  2  1  1  1  1  1  3  3  3
 *   frame2        3  3  3  2  2  2  2  2  4  4
 *           *  *  *  *  *  *  *        *  *
 * ```
 */
import { ArgumentError } from "../errors.js";

/** A policy {@link simulateReplacement} knows: the three an address space has, and Bélády's optimal. */
export type ReplayPolicy = "fifo" | "lru" | "clock" | "opt";

/** One reference of a replay. */
export interface ReplayStep {
  /** The page referenced. */
  readonly page: number;
  /** Whether it was resident. */
  readonly hit: boolean;
  /** The page evicted to make room, or null. */
  readonly evicted: number | null;
  /** The frames after the reference, frame by frame (null = empty). */
  readonly frames: readonly (number | null)[];
}

/** The outcome of {@link simulateReplacement}. */
export interface ReplayResult {
  /** References that found their page absent (page faults), the first loads included. */
  readonly misses: number;
  /** References that found their page resident. */
  readonly hits: number;
  /** One step per reference, in order: what a textbook draws as a column. */
  readonly trace: readonly ReplayStep[];
}

/**
 * Replays `refs` with `frames` frames: `fifo` evicts the page loaded first, `lru` the page used
 * least recently, `clock` the first page after the hand whose reference bit is clear (clearing
 * bits as it passes; a hit sets the bit; a loaded page starts with its bit set), `opt` the
 * page used again furthest in the future (Bélády's MIN, ties to the lowest frame).
 * @example
 * ```ts
 * import { simulateReplacement } from "vmheap";
 *
 * // Bélády's anomaly: FIFO misses more with 4 frames than with 3 on this string
 * const refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
 * const misses = (policy: "fifo" | "lru" | "clock" | "opt") => [3, 4].map((n) => simulateReplacement(refs, n, policy).misses);
 * console.log(misses("fifo"), misses("lru"), misses("clock"), misses("opt")); // [ 9, 10 ] [ 10, 8 ] [ 9, 10 ] [ 7, 6 ]
 * const fifo = simulateReplacement(refs, 3, "fifo");
 * console.log(fifo.trace.map((s) => (s.hit ? "." : "*")).join(" "), fifo.trace[6].evicted, fifo.trace[6].frames); // * * * * * * * . . * * . 4 [ 5, 1, 2 ]
 * ```
 */
export function simulateReplacement(refs: readonly number[], frames: number, policy: ReplayPolicy): ReplayResult {
  if (!Number.isInteger(frames) || frames < 1) throw new ArgumentError(`simulateReplacement: frames must be a positive integer, got ${String(frames)}`);
  if (policy !== "fifo" && policy !== "lru" && policy !== "clock" && policy !== "opt") throw new ArgumentError(`simulateReplacement: unknown policy ${String(policy)}`);
  const slots: (number | null)[] = new Array<number | null>(frames).fill(null);
  const loaded = new Array<number>(frames).fill(0);
  const used = new Array<number>(frames).fill(0);
  const refBit = new Array<boolean>(frames).fill(false);
  let hand = 0;
  let misses = 0;
  let hits = 0;
  const trace: ReplayStep[] = [];
  for (let t = 0; t < refs.length; t++) {
    const page = refs[t]!;
    let i = slots.indexOf(page);
    let evicted: number | null = null;
    const hit = i >= 0;
    if (hit) {
      hits++;
      used[i] = t;
      refBit[i] = true;
    } else {
      misses++;
      i = slots.indexOf(null);
      if (i < 0) {
        i = victim(policy, t);
        evicted = slots[i]!;
      }
      slots[i] = page;
      loaded[i] = t;
      used[i] = t;
      refBit[i] = true;
      if (policy === "clock") hand = (i + 1) % frames;
    }
    trace.push({ page, hit, evicted, frames: [...slots] });
  }
  return { misses, hits, trace };

  function victim(p: ReplayPolicy, t: number): number {
    if (p === "fifo") return argMin(loaded);
    if (p === "lru") return argMin(used);
    if (p === "clock") {
      for (;;) {
        if (!refBit[hand]) return hand;
        refBit[hand] = false;
        hand = (hand + 1) % frames;
      }
    }
    // opt: the resident page whose next use is furthest away (never again = Infinity).
    let best = 0;
    let bestNext = -1;
    for (let k = 0; k < frames; k++) {
      let next = Infinity;
      for (let u = t + 1; u < refs.length; u++) {
        if (refs[u] === slots[k]) {
          next = u;
          break;
        }
      }
      if (next > bestNext) {
        best = k;
        bestNext = next;
      }
    }
    return best;
  }
}

function argMin(a: readonly number[]): number {
  let m = 0;
  for (let k = 1; k < a.length; k++) if (a[k]! < a[m]!) m = k;
  return m;
}
