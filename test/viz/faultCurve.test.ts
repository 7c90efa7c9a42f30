/**
 * The page-replacement policies RAND and MRU, the fault curve, and its picture: checked on
 * Bélády's string and against simulateReplacement where the policies are the same.
 */
import { describe, expect, it } from "vitest";
import { ArgumentError, simulateReplacement } from "../../src/index.js";
import { faultCurveSvg } from "../../src/viz/faultCurveSvg.js";
import { PAGE_POLICIES, anomalies, faultCurve, randomRefs, seededRandom, simulate } from "../../src/viz/replacement.js";
import { elements, wellFormed } from "./scenes.js";

const BELADY = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

describe("replacement", () => {
  it("fifo, lru, clock and opt are simulateReplacement's", () => {
    for (const p of ["fifo", "lru", "clock", "opt"] as const) expect(simulate(BELADY, 3, p)).toEqual(simulateReplacement(BELADY, 3, p));
  });

  it("mru evicts the page used last", () => {
    // 1 2 3 fill; 4 evicts 3 (used last); 1 hit, 2 hit; 5 evicts 2 (used last)
    const r = simulate([1, 2, 3, 4, 1, 2, 5], 3, "mru");
    expect(r.trace.map((s) => s.evicted)).toEqual([null, null, null, 3, null, null, 2]);
    expect(r.misses).toBe(5);
  });

  it("rand evicts a resident page the seed decides, the same one every time", () => {
    const refs = randomRefs(300, 7, 11);
    const a = simulate(refs, 3, "rand", 5);
    expect(simulate(refs, 3, "rand", 5)).toEqual(a);
    let before: (number | null)[] = [null, null, null];
    for (const s of a.trace) {
      if (s.evicted !== null) expect(before).toContain(s.evicted);
      before = [...s.frames];
    }
    expect(new Set([1, 2, 3, 4, 5].map((seed) => simulate(refs, 3, "rand", seed).misses)).size).toBeGreaterThan(1);
  });

  it("seededRandom is uniform enough and repeatable; randomRefs stays in range", () => {
    const r = seededRandom(42);
    const xs = Array.from({ length: 10000 }, () => r());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(randomRefs(5, 10, 42)).toEqual(randomRefs(5, 10, 42));
    expect(randomRefs(1000, 4, 1).every((p) => p >= 0 && p < 4)).toBe(true);
  });

  it("rejects a bad frame count for every policy", () => {
    for (const p of PAGE_POLICIES) expect(() => simulate(BELADY, 0, p)).toThrow(ArgumentError);
  });

  it("the fault curve of Belady's string goes up for FIFO at 4 frames only", () => {
    const c = faultCurve(BELADY, 5, ["fifo", "lru", "opt"]);
    expect(c.misses.fifo).toEqual([12, 12, 9, 10, 5]);
    expect(c.misses.lru).toEqual([12, 12, 10, 8, 5]);
    expect(c.misses.opt).toEqual([12, 9, 7, 6, 5]);
    expect(anomalies(c.frames, c.misses.fifo!)).toEqual([4]);
    expect(anomalies(c.frames, c.misses.lru!)).toEqual([]);
  });
});

describe("faultCurveSvg", () => {
  const curve = faultCurve(BELADY, 5, PAGE_POLICIES);
  const data = { frames: curve.frames, series: PAGE_POLICIES.map((p) => ({ name: p, misses: curve.misses[p]! })), references: BELADY.length };

  it("matches its snapshot", async () => {
    await expect(faultCurveSvg(data)).toMatchFileSnapshot("__snapshots__/fault-curve.svg");
  });

  it("a point per policy and frame count, with its misses; rings where a curve goes up", () => {
    const svg = faultCurveSvg(data);
    expect(wellFormed(svg)).toBe(true);
    expect(elements(svg, "series").map((s) => s["data-policy"])).toEqual([...PAGE_POLICIES]);
    const points = elements(svg, "point");
    expect(points).toHaveLength(PAGE_POLICIES.length * 5);
    PAGE_POLICIES.forEach((p, i) => {
      expect(points.slice(i * 5, i * 5 + 5).map((pt) => Number(pt["data-misses"]))).toEqual(simulateOrSelf(p));
    });
    const rings = elements(svg, "anomaly").map((a) => [a["data-frames"], a["data-misses"]]);
    const expected = PAGE_POLICIES.flatMap((p) => anomalies(curve.frames, curve.misses[p]!).map((f) => [String(f), String(curve.misses[p]![f - 1])]));
    expect(rings).toEqual(expected);
    expect(rings).toContainEqual(["4", "10"]); // FIFO
    function simulateOrSelf(p: (typeof PAGE_POLICIES)[number]): number[] {
      return [1, 2, 3, 4, 5].map((f) => simulate(BELADY, f, p).misses);
    }
  });

  it("higher curves are drawn higher: y falls as misses grow", () => {
    const svg = faultCurveSvg(data);
    const pts = elements(svg, "point").slice(0, 5); // fifo
    const ys = pts.map((p) => Number(p.cy));
    // fifo: 12, 12, 9, 10, 5 misses
    expect(ys[2]!).toBeGreaterThan(ys[3]!);
    expect(ys[4]!).toBeGreaterThan(ys[2]!);
  });

  it("rejects series of the wrong length or no frame counts", () => {
    expect(() => faultCurveSvg({ frames: [1, 2], series: [{ name: "x", misses: [1] }] })).toThrow(ArgumentError);
    expect(() => faultCurveSvg({ frames: [], series: [] })).toThrow(ArgumentError);
  });
});
