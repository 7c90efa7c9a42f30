/**
 * The fault curve as SVG: misses against the number of frames, one line per replacement
 * policy. A curve that goes up, more frames giving more misses, is Bélády's anomaly; each such
 * point is ringed.
 *
 * ```text
 *  misses
 *   12 ┤●
 *   10 ┤ ╲     ◯  ← ringed: more misses than with one frame fewer
 *    8 ┤  ●──●╱ ╲
 *      └─┬──┬──┬──┬─ frames
 * ```
 */
import { ArgumentError } from "../errors.js";
import { COLORS, SERIES, el, legend, num, svgDocument, text, tooltip } from "./svg.js";

/** One policy's curve. */
export interface FaultSeries {
  /** The policy's name. */
  readonly name: string;
  /** Misses for each entry of {@link FaultCurveData.frames}. */
  readonly misses: readonly number[];
}

/** What {@link faultCurveSvg} draws. */
export interface FaultCurveData {
  /** Frame counts, increasing. */
  readonly frames: readonly number[];
  /** One curve per policy: its misses at each frame count. */
  readonly series: readonly FaultSeries[];
  /** Length of the reference string: the y axis goes up to it (every reference a miss). */
  readonly references?: number;
  /** The picture's title. @defaultValue "Misses against frames" */
  readonly title?: string;
}

const DASHES = [undefined, "7 3", "2 3", "9 3 2 3", "4 4", "1 2"] as const;

/**
 * Draws the fault curve. Lines that coincide are drawn a few px apart so that each stays
 * visible; every point is a `<circle class="point">` with `data-frames` and `data-misses`, each
 * anomaly (a point above the one before it) a `<circle class="anomaly">`.
 * @throws ArgumentError when a series does not have one value per frame count
 * @example
 * ```ts
 * import { faultCurve, faultCurveSvg } from "vmheap/viz";
 *
 * const refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
 * const { frames, misses } = faultCurve(refs, 5, ["fifo", "lru", "opt"]);
 * // FIFO misses more with 4 frames than with 3 (Bélády's anomaly); LRU and OPT never do
 * console.log(frames, misses);
 * // [ 1, 2, 3, 4, 5 ] {
 * //   fifo: [ 12, 12, 9, 10, 5 ],
 * //   lru: [ 12, 12, 10, 8, 5 ],
 * //   opt: [ 12, 9, 7, 6, 5 ]
 * // }
 * const svg = faultCurveSvg({ frames, series: ["fifo", "lru", "opt"].map((name) => ({ name, misses: misses[name]! })) });
 * console.log(svg.match(/<title>(.*)<\/title>/)?.[1]); // Misses against frames
 * ```
 */
export function faultCurveSvg(data: FaultCurveData): string {
  const { frames, series } = data;
  if (frames.length === 0) throw new ArgumentError("faultCurveSvg: no frame counts");
  for (const s of series) {
    if (s.misses.length !== frames.length) throw new ArgumentError(`faultCurveSvg: series ${s.name} has ${s.misses.length} values for ${frames.length} frame counts`);
  }
  const title = data.title ?? "Misses against frames";
  const W = 760;
  const left = 64;
  const right = 190;
  const top = 52;
  const plotW = W - left - right;
  const plotH = 300;
  const maxY = Math.max(1, data.references ?? 0, ...series.flatMap((s) => s.misses));
  const stepY = niceStep(maxY / 8);
  const yMax = Math.ceil(maxY / stepY) * stepY;
  const x0 = frames[0]!;
  const x1 = frames[frames.length - 1]!;
  const px = (f: number): number => left + (x1 === x0 ? plotW / 2 : ((f - x0) / (x1 - x0)) * plotW);
  const py = (m: number): number => top + plotH - (m / yMax) * plotH;

  const body: string[] = [];
  body.push(text(16, 22, title, { "font-size": 15, "font-weight": "bold" }));
  body.push(text(16, 40, "ringed: more misses than with one frame fewer (Belady's anomaly); equal lines drawn apart", { fill: COLORS.faint, "font-size": 11 }));
  // Axes and grid.
  const grid: string[] = [];
  for (let m = 0; m <= yMax; m += stepY) {
    grid.push(el("line", { x1: left, y1: py(m), x2: left + plotW, y2: py(m), stroke: COLORS.grid }));
    grid.push(text(left - 8, py(m) + 4, String(m), { "text-anchor": "end" }));
  }
  const stepX = niceStep((x1 - x0) / 12);
  for (const f of frames) {
    if ((f - x0) % stepX !== 0) continue;
    grid.push(el("line", { x1: px(f), y1: top + plotH, x2: px(f), y2: top + plotH + 5, stroke: COLORS.ink }));
    grid.push(text(px(f), top + plotH + 18, String(f), { "text-anchor": "middle" }));
  }
  grid.push(el("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: COLORS.ink }));
  grid.push(el("line", { x1: left, y1: top, x2: left, y2: top + plotH, stroke: COLORS.ink }));
  grid.push(text(left + plotW / 2, top + plotH + 38, "frames", { "text-anchor": "middle" }));
  grid.push(text(18, top + plotH / 2, "misses", { "text-anchor": "middle", transform: `rotate(-90 18 ${num(top + plotH / 2)})` }));
  body.push(el("g", { class: "axes" }, ...grid));

  // The curves, each nudged by a few px so that equal ones stay apart.
  const n = series.length;
  const items = series.map((s, i) => {
    const color = SERIES[i % SERIES.length]!;
    const dash = DASHES[i % DASHES.length];
    const dy = n === 1 ? 0 : (i - (n - 1) / 2) * Math.min(3, 12 / n);
    const pts = frames.map((f, k) => ({ x: px(f), y: py(s.misses[k]!) + dy, f, m: s.misses[k]! }));
    const ups = pts.filter((_, k) => k > 0 && s.misses[k]! > s.misses[k - 1]!);
    const parts = [
      tooltip(`${s.name}: ${frames.map((f, k) => `${f} frames ${s.misses[k]}`).join(", ")}`),
      el("polyline", { points: pts.map((p) => `${num(p.x)},${num(p.y)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dash }),
      ...pts.map((p) => el("circle", { class: "point", cx: p.x, cy: p.y, r: 3, fill: color, "data-frames": p.f, "data-misses": p.m })),
      ...ups.map((p) => el("circle", { class: "anomaly", cx: p.x, cy: p.y, r: 8, fill: "none", stroke: "#cc3311", "stroke-width": 2, "data-frames": p.f, "data-misses": p.m })),
    ];
    return { g: el("g", { class: "series", "data-policy": s.name, "data-misses": s.misses.join(",") }, ...parts), color, dash, ups: ups.map((p) => p.f), name: s.name };
  });
  body.push(...items.map((i) => i.g));

  // Legend on the right: the line style of each policy, and where it goes up.
  const lg: string[] = [];
  items.forEach((it, i) => {
    const y = top + 8 + i * 34;
    const x = left + plotW + 24;
    lg.push(el("line", { x1: x, y1: y, x2: x + 28, y2: y, stroke: it.color, "stroke-width": 2, "stroke-dasharray": it.dash }));
    lg.push(text(x + 36, y + 4, it.name));
    if (it.ups.length > 0) lg.push(text(x + 36, y + 18, `up at ${it.ups.join(", ")} frames`, { "font-size": 10, fill: "#cc3311" }));
  });
  body.push(el("g", { class: "legend" }, ...lg));
  const foot = legend([{ swatch: el("circle", { cx: 7, cy: 7, r: 6, fill: "none", stroke: "#cc3311", "stroke-width": 2 }), label: "more frames, more misses" }], left, top + plotH + 50, plotW);
  body.push(foot.svg);
  const height = top + plotH + 50 + foot.height + 8;
  return svgDocument(W, height, title, `misses for ${x0} to ${x1} frames, policies ${series.map((s) => s.name).join(", ")}`, body);
}

/** 1, 2 or 5 times a power of ten, at least `raw` (and at least 1). */
function niceStep(raw: number): number {
  if (raw <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}
