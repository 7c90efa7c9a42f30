/**
 * A page-table walk as SVG: the virtual address cut into its fields, one table per level with
 * the entry the walk read, arrows from each index field to its entry and from each entry to
 * the table it points to, and at the end the frame and the physical address, or the fault.
 *
 * ```text
 *   [ PML4 254 | PDPT 72 | PD 418 | PT 359 | offset 0xabc ]
 *        │          │        │        │           │
 *   ┌────▼───┐  ┌───▼───┐ ┌──▼───┐ ┌──▼───┐   ┌───▼────────┐
 *   │[254] ●─┼─▶│[72] ●─┼▶│ ...  │▶│ PTE ●┼──▶│ frame 0x2a │ + offset = physical address
 *   └────────┘  └───────┘ └──────┘ └──────┘   └────────────┘
 * ```
 */
import type { WalkView } from "./walk.js";
import { COLORS, SERIES, arrowMarker, el, hex, legend, num, svgDocument, text, textWidth, tooltip } from "./svg.js";

const FAULT = "#cc3311";

/**
 * Draws a walk described by {@link walkView}. Each field of the address is a
 * `<g class="field">`, each table a `<g class="table">` (`data-level`, `data-index`,
 * `data-entry`); levels the walk did not reach are drawn faint, with `data-reached="false"`.
 * @example
 * ```ts
 * import { PageTable, pte } from "vmheap";
 * import { walkSvg, walkView } from "vmheap/viz";
 *
 * const table = new PageTable({ levels: [10, 10] });
 * table.set(0x12345678, pte.makePte(7, pte.WRITABLE));
 * const view = walkView(table, 0x12345678);
 * console.log(view.fields.map((f) => `${f.name} ${f.value}`), view.outcome, view.physicalAddress?.toString(16)); // [ 'PD 72', 'PT 837', 'offset 1656' ] mapped 7678
 * const svg = walkSvg(view); // writeFileSync("walk.svg", svg)
 * console.log(svg.match(/<title>(.*)<\/title>/)?.[1]); // Page-table walk of 0x12345678
 * ```
 */
export function walkSvg(view: WalkView): string {
  const W = 980;
  const n = view.levels.length;
  const body: string[] = [];
  const title = `Page-table walk of ${hex(view.va)}`;
  body.push(el("defs", {}, arrowMarker("vmh-walk-arrow", COLORS.ink), arrowMarker("vmh-walk-fault", FAULT)));
  body.push(text(16, 22, title, { "font-size": 15, "font-weight": "bold" }));
  body.push(text(16, 40, `${n} level${n === 1 ? "" : "s"} [${view.levels.join(", ")}], ${view.addressBits}-bit addresses, ${view.pageSize}-byte pages; tables at their addresses in the page-table store`, { fill: COLORS.faint, "font-size": 11 }));

  // ── the address, cut into fields, widths by bit count (with a floor for the labels) ──
  const barX = 16;
  const barW = W - 32;
  const barY = 78;
  const barH = 40;
  const floors = view.fields.map((f) => Math.max(96, textWidth(f.value.toString(2), 10) + 12));
  const bits = view.fields.map((f) => f.hi - f.lo + 1);
  const spare = barW - floors.reduce((a, b) => a + b, 0);
  const totalBits = bits.reduce((a, b) => a + b, 0);
  const widths = floors.map((fl, i) => fl + Math.max(0, (spare * bits[i]!) / totalBits));
  const scaleDown = Math.min(1, barW / widths.reduce((a, b) => a + b, 0));
  const fieldX: number[] = [];
  let x = barX;
  const fieldG: string[] = [];
  view.fields.forEach((f, i) => {
    const w = widths[i]! * scaleDown;
    fieldX.push(x + w / 2);
    const color = f.level === null ? COLORS.top : SERIES[f.level % SERIES.length]!;
    const binary = f.value.toString(2).padStart(bits[i]!, "0");
    const label = f.level === null ? `offset ${hex(f.value)}` : `${f.name} index ${f.value}`;
    fieldG.push(
      el(
        "g",
        { class: "field", "data-name": f.name, "data-hi": f.hi, "data-lo": f.lo, "data-value": f.value },
        tooltip(`bits ${f.hi}..${f.lo}: ${label}`),
        text(x + w / 2, barY - 6, f.hi === f.lo ? String(f.hi) : `${f.hi}..${f.lo}`, { "text-anchor": "middle", "font-size": 10, fill: COLORS.faint }),
        el("rect", { x, y: barY, width: w, height: barH, fill: color, "fill-opacity": 0.35, stroke: COLORS.ink }),
        text(x + w / 2, barY + 16, textWidth(binary, 10) + 6 <= w ? binary : "…", { "text-anchor": "middle", "font-size": 10 }),
        text(x + w / 2, barY + 33, label, { "text-anchor": "middle", "font-weight": "bold", "font-size": textWidth(label) + 6 <= w ? 12 : 10 }),
      ),
    );
    x += w;
  });
  body.push(el("g", { class: "address" }, ...fieldG));

  // ── the tables, left to right, then the frame ──
  const cols = n + 1;
  const colW = (W - 32) / cols;
  const boxW = Math.min(170, colW - 28);
  const tY = 200;
  const boxH = 96;
  const entryY = tY + 40;
  const tables: string[] = [];
  const arrows: string[] = [];
  const reached = view.steps.length;
  for (let level = 0; level < n; level++) {
    const cx = 16 + colW * level + colW / 2;
    const bx = cx - boxW / 2;
    const step = view.steps[level];
    const field = view.fields[level]!;
    const color = SERIES[level % SERIES.length]!;
    const stopped = step !== undefined && step.entry === 0;
    const parts: string[] = [];
    if (step === undefined) {
      parts.push(
        tooltip(`${field.name}: not reached`),
        el("rect", { x: bx, y: tY, width: boxW, height: boxH, fill: "none", stroke: COLORS.faint, "stroke-dasharray": "4 3" }),
        text(cx, tY + 18, `${field.name} table`, { "text-anchor": "middle", fill: COLORS.faint }),
        text(cx, tY + 56, "not reached", { "text-anchor": "middle", fill: COLORS.faint }),
      );
      tables.push(el("g", { class: "table", "data-level": level, "data-reached": "false" }, ...parts));
      continue;
    }
    const entryText = step.leaf ? (step.entry === 0 ? "none" : view.pteText!.replace(/ (- )*-?$/, "")) : step.entry === 0 ? "empty" : `-> ${hex(step.entry * 4)}`;
    parts.push(
      tooltip(`${field.name} table at ${hex(step.tableAddress)}: entry ${step.index} at ${hex(step.entryAddress)} holds ${hex(step.entry)}`),
      el("rect", { x: bx, y: tY, width: boxW, height: boxH, fill: "#ffffff", stroke: color, "stroke-width": 2 }),
      text(cx, tY + 16, `${field.name} table`, { "text-anchor": "middle", "font-weight": "bold" }),
      text(cx, tY + 30, `at ${hex(step.tableAddress)}`, { "text-anchor": "middle", "font-size": 10, fill: COLORS.faint }),
      text(bx + 8, entryY - 4, "⋮", { fill: COLORS.faint }),
      el("rect", { x: bx + 4, y: entryY, width: boxW - 8, height: 22, fill: stopped ? FAULT : color, "fill-opacity": stopped ? 0.25 : 0.35, stroke: stopped ? FAULT : COLORS.ink }),
      text(bx + 10, entryY + 15, `[${step.index}] = ${hex(step.entry)}`, { "font-size": 11 }),
      text(bx + 8, entryY + 36, "⋮", { fill: COLORS.faint }),
      text(cx, tY + boxH - 6, fitText(entryText, boxW - 8, 10), { "text-anchor": "middle", "font-size": 10, fill: stopped ? FAULT : COLORS.ink }),
    );
    tables.push(el("g", { class: "table", "data-level": level, "data-index": step.index, "data-entry": step.entry, "data-reached": "true" }, ...parts));
    // The index field selects the entry.
    arrows.push(curve(fieldX[level]!, barY + barH, bx + boxW / 2, tY - 1, color, "vmh-walk-arrow", "index"));
    // The entry leads to the next table, or to the frame.
    if (!stopped && level < n - 1) arrows.push(el("path", { class: "arrow next", d: `M${num(bx + boxW - 6)},${num(entryY + 11)} L${num(bx + colW - 4)},${num(tY + 20)}`, fill: "none", stroke: COLORS.ink, "stroke-width": 1.5, "marker-end": "url(#vmh-walk-arrow)" }));
  }
  // The last column: the frame and the physical address, or where it went wrong.
  const fx = 16 + colW * n + colW / 2;
  const fbx = fx - boxW / 2;
  const off = view.fields[view.fields.length - 1]!;
  const last = view.steps[reached - 1]!;
  const endParts: string[] = [];
  if (view.outcome === "mapped") {
    endParts.push(
      tooltip(`frame ${hex(view.frame!)}: physical ${hex(view.frame! * view.pageSize)}..${hex((view.frame! + 1) * view.pageSize - 1)}`),
      el("rect", { x: fbx, y: tY, width: boxW, height: boxH, fill: COLORS.resident, "fill-opacity": 0.3, stroke: COLORS.ink, "stroke-width": 2 }),
      text(fx, tY + 18, `frame ${hex(view.frame!)}`, { "text-anchor": "middle", "font-weight": "bold" }),
      text(fx, tY + 34, `at ${hex(view.frame! * view.pageSize)}`, { "text-anchor": "middle", "font-size": 10, fill: COLORS.faint }),
      el("rect", { x: fbx + 4, y: entryY, width: boxW - 8, height: 22, fill: COLORS.top, stroke: COLORS.ink }),
      text(fx, entryY + 15, `+ ${hex(off.value)}`, { "text-anchor": "middle", "font-size": 11 }),
      text(fx, tY + boxH - 6, fitText(`= ${hex(view.physicalAddress!)}`, boxW - 8, 11), { "text-anchor": "middle", "font-weight": "bold" }),
    );
    const lx = 16 + colW * (n - 1) + colW / 2 + boxW / 2;
    arrows.push(el("path", { class: "arrow frame", d: `M${num(lx - 6)},${num(entryY + 11)} L${num(fbx - 4)},${num(tY + 20)}`, fill: "none", stroke: COLORS.ink, "stroke-width": 1.5, "marker-end": "url(#vmh-walk-arrow)" }));
    arrows.push(curve(fieldX[fieldX.length - 1]!, barY + barH, fx, tY - 1, COLORS.faint, "vmh-walk-arrow", "offset"));
  } else {
    const why = view.outcome === "swapped" ? `in swap, slot ${view.swapSlot!}` : last.leaf ? "no PTE" : `empty ${last.name} entry`;
    const then = view.outcome === "swapped" ? "major fault" : "page fault";
    endParts.push(
      el("rect", { x: fbx, y: tY, width: boxW, height: boxH, fill: FAULT, "fill-opacity": 0.12, stroke: FAULT, "stroke-width": 2 }),
      text(fx, tY + 30, then, { "text-anchor": "middle", "font-weight": "bold", fill: FAULT }),
      text(fx, tY + 52, fitText(why, boxW - 8, 11), { "text-anchor": "middle", "font-size": 11, fill: FAULT }),
    );
    const lx = 16 + colW * (reached - 1) + colW / 2 + boxW / 2;
    // Straight to the next column; below the tables it skipped when the walk stopped early.
    const d =
      reached === n
        ? `M${num(lx - 6)},${num(entryY + 11)} L${num(fbx - 4)},${num(tY + 20)}`
        : `M${num(lx - 6)},${num(entryY + 11)} C${num(lx + 30)},${num(entryY + 80)} ${num(fbx - 30)},${num(entryY + 80)} ${num(fbx - 4)},${num(tY + boxH - 20)}`;
    arrows.push(el("path", { class: "arrow fault", d, fill: "none", stroke: FAULT, "stroke-width": 1.5, "stroke-dasharray": "5 3", "marker-end": "url(#vmh-walk-fault)" }));
  }
  tables.push(el("g", { class: "result", "data-outcome": view.outcome }, ...endParts));
  body.push(el("g", { class: "arrows" }, ...arrows), el("g", { class: "tables" }, ...tables));

  const summary =
    view.outcome === "mapped"
      ? `physical address = frame ${hex(view.frame!)} × ${view.pageSize} + offset ${hex(off.value)} = ${hex(view.physicalAddress!)}  (PTE ${view.pteText!})`
      : view.outcome === "swapped"
        ? `the PTE says the page is in swap slot ${view.swapSlot!}: an access takes a major fault`
        : `the walk found no entry at level ${last.level} (${last.name}): an access faults`;
  body.push(text(16, tY + boxH + 40, summary, { "font-size": 13 }));
  const lg = legend(
    [
      ...view.levels.map((_, i) => ({ fill: SERIES[i % SERIES.length]!, label: `${view.steps[i]?.name ?? view.fields[i]!.name} index` })),
      { fill: COLORS.top, label: "offset in page" },
      ...(view.outcome === "mapped" ? [{ fill: COLORS.resident, label: "frame" }] : [{ fill: FAULT, label: "fault" }]),
    ],
    16,
    tY + boxH + 58,
    W - 32,
  );
  body.push(lg.svg);
  return svgDocument(W, tY + boxH + 58 + lg.height + 8, title, summary, body);
}

function curve(x1: number, y1: number, x2: number, y2: number, color: string, marker: string, cls: string): string {
  const my = (y1 + y2) / 2;
  return el("path", { class: `arrow ${cls}`, d: `M${num(x1)},${num(y1)} C${num(x1)},${num(my)} ${num(x2)},${num(my)} ${num(x2)},${num(y2)}`, fill: "none", stroke: color, "stroke-width": 1.5, "marker-end": `url(#${marker})` });
}

/** `s`, cut with an ellipsis to fit `width` px at `size`. */
function fitText(s: string, width: number, size: number): string {
  if (textWidth(s, size) <= width) return s;
  const keep = Math.max(1, Math.floor(width / (size * 0.6)) - 1);
  return [...s].slice(0, keep).join("") + "…";
}
