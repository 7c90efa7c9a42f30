/**
 * A picture of a heap as SVG: its chunks in address order, coloured by state, folded into
 * rows; the header below the first chunk; the bins under the chunks, each linked to the free
 * chunks of its list in list order.
 *
 * ```text
 *   0x0710 [hdr][meta][used][used'][ free ][used][     top      ]    one rect per chunk piece
 *                                 ▲                                  (a chunk crossing a row
 *                        bin 70 ──┘                                   end is drawn in pieces)
 * ```
 *
 * To scale, a chunk's width is its size; on the log scale, a constant plus the log of its size,
 * so that a 32-byte chunk beside a 1 MiB top stays visible. Same heap, same bytes.
 */
import type { ChunkInfo, HeapMemory, Heap as HeapOf } from "../heap/Heap.js";
import { ArgumentError, checkOptions, type OptionKeys } from "../errors.js";
import { type FreeLists, freeLists } from "./freeLists.js";
import { COLORS, SERIES, arrowMarker, bytes, el, hex, legend, num, svgDocument, text, textWidth, tooltip } from "./svg.js";

type Heap = HeapOf<HeapMemory>;

/** Options of {@link heapSvg}. */
export interface HeapSvgOptions {
  /** Width of the picture in px. @defaultValue 960 */
  width?: number;
  /**
   * `"linear"`: widths proportional to bytes; `"log"`: to the log of the size; `"auto"`: linear
   * when the smallest chunk still gets 6 px in at most `maxRows` rows, else log.
   * @defaultValue "auto"
   */
  scale?: "linear" | "log" | "auto";
  /** Most rows of chunks on the linear scale. @defaultValue 12 */
  maxRows?: number;
  /** Draw the bins and their links to the free chunks (when there are at most 120 free chunks). @defaultValue true */
  links?: boolean;
  /** The picture's title. @defaultValue "The heap: N chunks" */
  title?: string;
}

/** The keys of {@link HeapSvgOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<HeapSvgOptions> = { width: 1, scale: 1, maxRows: 1, links: 1, title: 1 };

type Piece = { x: number; row: number; w: number };
type Item = { kind: ChunkInfo["kind"] | "header"; address: number; size: number; chunk: ChunkInfo | null; fill: string; pieces: Piece[] };

const GUTTER = 84; // room for the row's address on the left
const ROW_H = 30;
const ROW_GAP = 26; // room for the links between rows
const MIN_PX = 2;
const LANES = 5; // links run in lanes 4 px apart: in the gap under each row, and in the right margin
/** Most free chunks whose links are drawn: past this the lines would hide the chunks. */
const MAX_LINKED = 32;

/**
 * Draws `heap` as an SVG picture (a string: no DOM needed). Every chunk of `heap.chunks()` is
 * one `<g class="chunk">` holding its rects (`data-kind`, `data-address`, `data-size`), the
 * header (when the heap has a `base` below its first chunk) a `<g class="header">`; live
 * chunks alternate two shades of blue so that neighbours stay apart.
 * @param heap - the heap (its `chunks()`; its `base`, `alignment` and `memory` for the header and the free lists)
 * @throws ArgumentError on a bad option
 * @example
 * ```ts
 * import { Heap } from "vmheap";
 * import { heapSvg } from "vmheap/viz";
 *
 * const heap = new Heap();
 * const a = heap.malloc(100);
 * heap.malloc(2000);
 * heap.free(a);
 * const svg = heapSvg(heap, { scale: "log" }); // writeFileSync("heap.svg", svg), or put it in a page
 * console.log(svg.match(/<title>(.*)<\/title>/)?.[1], svg.match(/<desc>(.*)<\/desc>/)?.[1]); // The heap: 4 chunks 4 chunks from 0x0 to 0x1820
 * ```
 */
export function heapSvg(heap: Pick<Heap, "chunks"> & Partial<Pick<Heap, "base" | "alignment" | "memory">>, opts: HeapSvgOptions = {}): string {
  checkOptions(opts, "heapSvg", OPTION_KEYS);
  const width = opts.width ?? 960;
  const maxRows = opts.maxRows ?? 12;
  if (!Number.isSafeInteger(width) || width < 400) throw new ArgumentError(`heapSvg: width must be an integer of at least 400, got ${String(width)}`);
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new ArgumentError(`heapSvg: maxRows must be a positive integer, got ${String(maxRows)}`);
  const scaleOpt = opts.scale ?? "auto";
  if (scaleOpt !== "linear" && scaleOpt !== "log" && scaleOpt !== "auto") throw new ArgumentError(`heapSvg: scale must be "linear", "log" or "auto", got ${String(scaleOpt)}`);

  const chunks = heap.chunks();
  const lists: FreeLists =
    opts.links !== false && heap.base !== undefined && heap.alignment !== undefined && heap.memory !== undefined
      ? freeLists(heap as Pick<Heap, "chunks" | "base" | "alignment" | "memory">, chunks)
      : { ok: false, lists: [], victim: 0 };
  const freeCount = chunks.filter((c) => c.kind === "free").length;
  const drawLinks = lists.ok && freeCount > 0 && freeCount <= MAX_LINKED;

  // ── the items, in address order: the header, then the chunks ──
  const items: Item[] = [];
  const first = chunks[0];
  if (first !== undefined && heap.base !== undefined && heap.base < first.address) {
    items.push({ kind: "header", address: heap.base, size: first.address - heap.base, chunk: null, fill: COLORS.header, pieces: [] });
  }
  let alt = false;
  for (const c of chunks) {
    let fill: string = c.kind === "free" ? COLORS.free : c.kind === "top" ? COLORS.top : c.kind === "meta" ? COLORS.meta : COLORS.used;
    if (c.kind === "used") {
      fill = alt ? COLORS.usedAlt : COLORS.used;
      alt = !alt;
    } else alt = false;
    items.push({ kind: c.kind, address: c.address, size: c.size, chunk: c, fill, pieces: [] });
  }

  // ── lay them out along one line, then fold it into rows ──
  const rowW = width - GUTTER - 16 - (drawLinks ? 4 * LANES + 8 : 0);
  const origin = items[0]?.address ?? 0;
  const end = items.length > 0 ? items[items.length - 1]!.address + items[items.length - 1]!.size : origin;
  const total = end - origin;
  const smallest = Math.min(...items.map((i) => i.size));
  const wantRows = total === 0 ? 1 : Math.ceil((6 * total) / (smallest * rowW));
  const scale = scaleOpt !== "auto" ? scaleOpt : wantRows <= maxRows ? "linear" : "log";
  const pxPerByte = total === 0 ? 0 : (Math.min(maxRows, Math.max(1, wantRows)) * rowW) / total;
  let pos = 0;
  for (const it of items) {
    const start = pos;
    if (scale === "linear") pos = Math.max(start + MIN_PX, (it.address + it.size - origin) * pxPerByte);
    else pos = start + 6 + 7 * Math.log2(it.size / 16 + 1);
    for (let p = start; p < pos - 1e-9; ) {
      const row = Math.floor(p / rowW + 1e-9);
      const stop = Math.min(pos, (row + 1) * rowW);
      it.pieces.push({ x: p - row * rowW, row, w: stop - p });
      p = stop;
    }
  }
  const rows = Math.max(1, Math.ceil(pos / rowW - 1e-9));

  const top0 = 46;
  const rowY = (r: number): number => top0 + r * (ROW_H + ROW_GAP);
  const body: string[] = [];
  const title = opts.title ?? `The heap: ${chunks.length} chunks`;
  body.push(el("defs", {}, arrowMarker("vmh-heap-arrow", COLORS.ink)));
  body.push(text(16, 22, title, { "font-size": 15, "font-weight": "bold" }));
  const scaleText = scale === "linear" ? `to scale, 1 px = ${num(1 / pxPerByte)} B` : "log scale: width = 6 + 7·log2(size/16 + 1) px";
  body.push(text(16, 38, `${hex(origin)}..${hex(end)}: ${total} B in ${chunks.length} chunks; ${scaleText}`, { fill: COLORS.faint }));

  // Row labels: the address of the first byte drawn in each row.
  const rowStart = new Array<number>(rows).fill(-1);
  for (const it of items) {
    const w = itemWidth(it);
    let before = 0;
    for (const p of it.pieces) {
      if (rowStart[p.row] === -1) rowStart[p.row] = it.address + Math.min(it.size - 1, Math.floor(((before / w) * it.size) / 16) * 16);
      before += p.w;
    }
  }
  const digits = Math.max(4, end.toString(16).length);
  rowStart.forEach((a, r) => body.push(text(GUTTER - 8, rowY(r) + 19, "0x" + a.toString(16).padStart(digits, "0"), { "text-anchor": "end", fill: COLORS.faint })));

  // The chunks.
  const centre = new Map<number, { x: number; y: number }>();
  for (const it of items) {
    const c = it.chunk;
    const what =
      c === null
        ? `header at ${hex(it.address)}: ${it.size} B (counters and bin heads; not a chunk)`
        : `${hex(c.address)}: ${c.kind === "meta" ? "metadata" : c.kind} chunk of ${c.size} B` +
          (c.kind === "used" ? `, malloc returned ${hex(c.ptr)}, usable ${c.usable} B` : "") +
          (c.address === lists.victim && c.kind === "free" ? ", the designated victim (in no bin)" : "");
    const parts: string[] = [tooltip(what)];
    for (const p of it.pieces) {
      const x = GUTTER + p.x;
      const y = rowY(p.row);
      parts.push(el("rect", { x, y, width: p.w, height: ROW_H, fill: it.fill, stroke: "#ffffff", "stroke-width": p.w > 3 ? 1 : 0 }));
    }
    const big = it.pieces.reduce((a, b) => (b.w > a.w ? b : a), it.pieces[0]!);
    const size = it.size < 10240 ? `${it.size} B` : bytes(it.size);
    const label = it.kind === "header" ? `header ${size}` : it.kind === "meta" ? `meta ${size}` : it.kind === "top" ? `top ${size}` : size;
    // The label that fits: with the size, else the kind alone (a tooltip has the rest).
    const fits = [label, it.kind === "header" ? "header" : it.kind === "top" ? "top" : ""].find((l) => l !== "" && textWidth(l, 10) + 6 <= big.w);
    if (fits !== undefined) {
      const ink = it.fill === COLORS.used || it.fill === COLORS.header ? "#ffffff" : COLORS.ink;
      parts.push(text(GUTTER + big.x + big.w / 2, rowY(big.row) + 19, fits, { "text-anchor": "middle", "font-size": 10, fill: ink }));
    }
    if (c !== null && c.address === lists.victim && c.kind === "free") {
      parts.push(el("rect", { x: GUTTER + big.x + 1.5, y: rowY(big.row) + 1.5, width: Math.max(0, big.w - 3), height: ROW_H - 3, fill: "none", stroke: COLORS.ink, "stroke-dasharray": "3 2" }));
    }
    centre.set(it.address, { x: GUTTER + big.x + big.w / 2, y: rowY(big.row) + ROW_H });
    const attrs = c === null ? { class: "header", "data-address": it.address, "data-size": it.size } : { class: "chunk", "data-kind": c.kind, "data-address": c.address, "data-size": c.size };
    body.push(el("g", attrs, ...parts));
  }

  // The bins and their lists. A link leaves a chunk (or a bin) downwards into the gap under
  // its row, runs along that gap and, when it must change rows, up or down the right margin,
  // then enters its target from below: lines run between the rows, never across a chunk.
  let y = rowY(rows) - ROW_GAP + 18;
  if (drawLinks) {
    const boxes: string[] = [];
    const links: string[] = [];
    const laneY = (row: number, k: number): number => rowY(row) + ROW_H + 6 + (k % LANES) * 4;
    const laneX = (k: number): number => GUTTER + rowW + 8 + (k % LANES) * 4;
    const rowOf = (c: number): number => Math.round((centre.get(c)!.y - top0 - ROW_H) / (ROW_H + ROW_GAP));
    let bx = GUTTER;
    let by = y + 24;
    lists.lists.forEach((l, i) => {
      const name = l.name ?? `bin ${l.bin}`;
      const label = l.minSize === l.maxSize ? `${name}: ${l.minSize}` : `${name}: ${l.minSize}-${l.maxSize}`;
      const w = textWidth(label, 11) + 12;
      if (bx + w > width - 16) {
        bx = GUTTER;
        by += 30;
      }
      const color = SERIES[i % (SERIES.length - 1)]!;
      boxes.push(
        el(
          "g",
          { class: "bin", "data-bin": l.bin, "data-chunks": l.chunks.join(" ") },
          tooltip(`${l.name ?? `bin ${l.bin}`} (chunks of ${l.minSize === l.maxSize ? `${l.minSize} B` : `${l.minSize} to ${l.maxSize} B`}): ${l.chunks.map(hex).join(" -> ")}`),
          el("rect", { x: bx, y: by, width: w, height: 20, rx: 3, fill: "#ffffff", stroke: color, "stroke-width": 2 }),
          text(bx + 6, by + 14, label, { "font-size": 11 }),
        ),
      );
      // The head link from the bin to its first chunk, then each fd link to the next chunk.
      let from = { x: bx + w / 2, y: by, row: rows }; // a bin sits as if in a row below the last
      l.chunks.forEach((c, k) => {
        const to = centre.get(c)!;
        const row = rowOf(c);
        const tx = to.x - 3; // arrive left of the centre, leave right of it
        const pts: [number, number][] = [[from.x, from.y]];
        const ly = laneY(from.row === rows ? rows - 1 : from.row, i);
        pts.push([from.x, ly]);
        if (row !== (from.row === rows ? rows - 1 : from.row)) {
          pts.push([laneX(i), ly], [laneX(i), laneY(row, i)]);
        }
        pts.push([tx, laneY(row, i)], [tx, to.y + 1]);
        const d = "M" + pts.map(([px, py]) => `${num(px)},${num(py)}`).join(" L");
        links.push(el("path", { class: k === 0 ? "link head" : "link fd", d, fill: "none", stroke: color, "stroke-width": 1.5, "stroke-linejoin": "round", "marker-end": "url(#vmh-heap-arrow)" }));
        from = { x: to.x + 3, y: to.y, row };
      });
      bx += w + 10;
    });
    body.push(text(16, by + 14 - (by - y - 24), "bins", { fill: COLORS.faint }));
    body.push(el("g", { class: "links" }, ...links), el("g", { class: "bins" }, ...boxes));
    y = by + 34;
  } else if (freeCount > 0) {
    const why = !lists.ok ? "the free lists of this heap cannot be read" : `${freeCount} free chunks: too many to link`;
    body.push(text(GUTTER, y + 14, `(bins not drawn: ${why})`, { fill: COLORS.faint }));
    y += 24;
  }

  const items2 = [
    { fill: COLORS.used, label: "used" },
    { fill: COLORS.usedAlt, label: "used (next to used: shades alternate)" },
    { fill: COLORS.free, label: "free, in a bin" },
    ...(lists.victim !== 0 ? [{ swatch: el("rect", { width: 14, height: 14, fill: COLORS.free, stroke: COLORS.ink, "stroke-dasharray": "3 2" }), label: "free, designated victim" }] : []),
    { fill: COLORS.top, label: "top (up to the break)" },
    { fill: COLORS.meta, label: "allocator metadata (chunk map; glibc: tcache)" },
    ...(items[0]?.kind === "header" ? [{ fill: COLORS.header, label: "heap header" }] : []),
    ...(drawLinks ? [{ swatch: el("path", { d: "M2,1 L2,10 L12,10 L12,3", fill: "none", stroke: COLORS.ink, "stroke-width": 1.5 }), label: "bin head / fd link" }] : []),
  ];
  const lg = legend(items2, 16, y + 4, width - 32);
  body.push(lg.svg);
  const height = y + 4 + lg.height + 8;
  return svgDocument(width, height, title, `${chunks.length} chunks from ${hex(origin)} to ${hex(end)}`, body);
}

function itemWidth(it: Item): number {
  return it.pieces.reduce((s, p) => s + p.w, 0);
}
