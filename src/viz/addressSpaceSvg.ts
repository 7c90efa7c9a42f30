/**
 * An address space as SVG: on the left a log axis of addresses from 4 KiB to the top of user
 * space, each region marked where it lies; on the right one row per region, highest first as
 * in the textbook drawings (stack on top, text at the bottom), with the state of its pages.
 *
 * ```text
 *   2^47 ┬                 7ffffffde000-7ffffffff000 rw-p [stack]   ▮▮▯▯▯▯▯▯ …
 *        ┼▬ ─────────────  (one row per region, its pages coloured by state)
 *   2^32 ┼
 *   2^22 ┼▬ ─────────────  00400000-00403000 r-xp /usr/bin/demo     ▮▮▮
 *   2^12 ┴
 * ```
 *
 * A log axis because the regions of a process sit at addresses 2^22 and 2^47 apart: to scale,
 * everything below the stack would be one pixel.
 */
import { COLORS, el, hex, legend, num, bytes, svgDocument, text, tooltip } from "./svg.js";
import { PAGE_STATES, type PageState, type SpaceLike, regionPages, spaceOf } from "./pages.js";
import { checkOptions, type OptionKeys } from "../errors.js";

/** Options of {@link addressSpaceSvg}. */
export interface AddressSpaceSvgOptions {
  /** The picture's title. @defaultValue "Address space: N regions" */
  title?: string;
  /** Regions with at most this many pages get one cell per page; bigger ones a bar of proportions. @defaultValue 96 */
  maxCells?: number;
}

/** The keys of {@link AddressSpaceSvgOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<AddressSpaceSvgOptions> = { title: 1, maxCells: 1 };

/** Fill of each page state. */
export const PAGE_COLORS: Record<PageState, string> = {
  resident: COLORS.resident,
  shared: COLORS.shared,
  zero: COLORS.zeroPage,
  swapped: COLORS.swapped,
  untouched: COLORS.untouched,
};

const STATE_LABEL: Record<PageState, string> = {
  resident: "resident (a frame of its own)",
  shared: "resident, frame shared",
  zero: "mapped to the zero page",
  swapped: "in swap",
  untouched: "not touched yet",
};

/**
 * Draws the regions of an address space (or a process) and the state of their pages. Each
 * region is a `<g class="region">` (`data-start`, `data-end`, `data-pages`, and
 * `data-resident`, `data-shared`, `data-zero`, `data-swapped` counts); small regions hold one
 * `<rect class="page">` per page with `data-state`.
 * @example
 * ```ts
 * import { PhysicalMemory, Process } from "vmheap";
 * import { addressSpaceSvg } from "vmheap/viz";
 *
 * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }), text: new Uint8Array(4096) });
 * proc.heap.malloc(100);
 * const svg = addressSpaceSvg(proc); // writeFileSync("maps.svg", svg)
 * console.log(svg.match(/<title>(.*)<\/title>/)?.[1]); // Address space: 10 regions
 * ```
 */
export function addressSpaceSvg(space: SpaceLike, opts: AddressSpaceSvgOptions = {}): string {
  checkOptions(opts, "addressSpaceSvg", OPTION_KEYS);
  const as = spaceOf(space);
  const regions = regionPages(space).reverse(); // highest first
  const maxCells = opts.maxCells ?? 96;
  const W = 980;
  const title = opts.title ?? `Address space: ${regions.length} regions`;
  const axisX = 110;
  const top = 64;
  const rowH = 46;
  const rows = Math.max(regions.length, 1);
  const axisH = Math.max(rows * rowH, 8 * 34);
  const lo = Math.log2(as.pageSize);
  // The axis ends at the power of two just above user space (whose last page or two are not user space).
  const hi = Math.ceil(Math.log2(as.taskSize));
  // Address → y on the axis: the top of user space at the top.
  const ay = (a: number): number => top + ((hi - Math.log2(Math.max(a, as.pageSize))) / (hi - lo)) * axisH;

  const body: string[] = [];
  body.push(text(16, 22, title, { "font-size": 15, "font-weight": "bold" }));
  body.push(text(16, 40, `${as.addressBits}-bit address space, ${as.pageSize}-byte pages; addresses on a log axis; the rows are the lines of /proc/self/maps, highest first`, { fill: COLORS.faint, "font-size": 11 }));

  // The axis, with ticks at every 4th power of two.
  const axis: string[] = [el("line", { x1: axisX, y1: ay(2 ** hi), x2: axisX, y2: ay(as.pageSize), stroke: COLORS.ink })];
  for (let b = Math.ceil(lo / 4) * 4; b <= hi; b += 4) {
    axis.push(el("line", { x1: axisX - 4, y1: ay(2 ** b), x2: axisX, y2: ay(2 ** b), stroke: COLORS.ink }));
    axis.push(text(axisX - 8, ay(2 ** b) + 4, `2^${b}`, { "text-anchor": "end", "font-size": 10 }));
  }
  if (hi % 4 !== 0) axis.push(text(axisX - 8, ay(2 ** hi) + 4, `2^${hi}`, { "text-anchor": "end", "font-size": 10 }));
  body.push(el("g", { class: "axis" }, ...axis));

  const rowX = 300;
  const stripX = rowX;
  const stripW = W - stripX - 40;
  const groups: string[] = [];
  regions.forEach((r, i) => {
    const y = top + i * rowH + (axisH - rows * rowH) / 2;
    const count = (s: PageState): number => r.pages.filter((p) => p === s).length;
    const y0 = ay(r.end);
    const y1 = Math.max(ay(r.start), y0 + 3);
    const label = `${hex(r.start)}-${hex(r.end)} ${r.perms} ${r.name || "(anonymous)"}`;
    const n = r.pages.length;
    const parts: string[] = [
      tooltip(`${label}: ${n} pages, ${count("resident")} resident, ${count("shared")} shared, ${count("zero")} on the zero page, ${count("swapped")} in swap`),
      el("rect", { x: axisX - 2, y: y0, width: 14, height: y1 - y0, fill: COLORS.header, stroke: COLORS.ink, "stroke-width": 0.5 }),
      el("path", { d: `M${num(axisX + 12)},${num((y0 + y1) / 2)} C${num(axisX + 80)},${num((y0 + y1) / 2)} ${num(rowX - 80)},${num(y + 8)} ${num(rowX - 6)},${num(y + 8)}`, fill: "none", stroke: COLORS.faint }),
      text(rowX, y + 12, label, { "font-weight": "bold" }),
      text(W - 20, y + 12, `${bytes(r.end - r.start)}, ${n} page${n === 1 ? "" : "s"}`, { "text-anchor": "end", fill: COLORS.faint }),
    ];
    const sy = y + 18;
    const sh = 14;
    if (n <= maxCells) {
      const cw = Math.min(14, stripW / n);
      r.pages.forEach((p, k) => {
        parts.push(el("rect", { class: "page", "data-state": p, x: stripX + k * cw, y: sy, width: cw, height: sh, fill: PAGE_COLORS[p], stroke: "#ffffff", "stroke-width": cw > 4 ? 1 : 0 }));
      });
      parts.push(el("rect", { x: stripX, y: sy, width: cw * n, height: sh, fill: "none", stroke: COLORS.faint, "stroke-width": 0.5 }));
    } else {
      // Too many pages for a cell each: a bar split in proportion, with the counts.
      let x = stripX;
      const barW = stripW - 230;
      for (const s of PAGE_STATES) {
        const c = count(s);
        if (c === 0) continue;
        const w = Math.max(2, (c / n) * barW);
        parts.push(el("rect", { class: "share", "data-state": s, "data-count": c, x, y: sy, width: w, height: sh, fill: PAGE_COLORS[s] }));
        x += w;
      }
      parts.push(el("rect", { x: stripX, y: sy, width: x - stripX, height: sh, fill: "none", stroke: COLORS.faint, "stroke-width": 0.5 }));
      const counts = PAGE_STATES.filter((s) => s !== "untouched" && count(s) > 0).map((s) => `${count(s)} ${s}`);
      parts.push(text(x + 8, sy + 11, `${counts.length > 0 ? counts.join(", ") : "nothing touched"} (of ${n})`, { "font-size": 10, fill: COLORS.faint }));
    }
    groups.push(
      el(
        "g",
        { class: "region", "data-start": r.start, "data-end": r.end, "data-pages": n, "data-resident": count("resident"), "data-shared": count("shared"), "data-zero": count("zero"), "data-swapped": count("swapped") },
        ...parts,
      ),
    );
  });
  body.push(...groups);
  const st = as.status();
  const y = top + axisH + 24;
  body.push(text(16, y, `VmSize ${bytes(st.vmSize)}, VmRSS ${bytes(st.vmRss)} (the zero page not counted), VmSwap ${bytes(st.vmSwap)}`, { "font-size": 12 }));
  const lg = legend(
    PAGE_STATES.map((s) => ({ fill: PAGE_COLORS[s], label: STATE_LABEL[s] })),
    16,
    y + 14,
    W - 32,
  );
  body.push(lg.svg);
  return svgDocument(W, y + 14 + lg.height + 8, title, `${regions.length} regions; VmSize ${st.vmSize} bytes, VmRSS ${st.vmRss} bytes`, body);
}
