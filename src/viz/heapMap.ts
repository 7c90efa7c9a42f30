/**
 * Text pictures of a {@link Heap}: a map of its chunks, a table of them, and glibc's
 * `mallinfo2` fields. Pure functions of the heap's state: same heap, same text.
 */
import { ArgumentError, checkOptions, type OptionKeys } from "../errors.js";
import type { ChunkInfo, Heap, MallInfo } from "../heap/Heap.js";

/** Options for {@link heapMap}. */
export interface HeapMapOptions {
  /** Cells per row. @defaultValue 64 */
  width?: number;
  /**
   * Most rows the map should take: the scale doubles from 16 bytes per cell until the heap
   * fits. Ignored when `bytesPerCell` is given. @defaultValue 8
   */
  rows?: number;
  /** A fixed scale, e.g. to compare two maps cell for cell. @defaultValue chosen from `rows` */
  bytesPerCell?: number;
  /**
   * Also draw the heap's header, from `heap.base` up to the first chunk, with
   * {@link MAP_GLYPHS.header}: the map then starts at the base. @defaultValue false
   */
  header?: boolean;
}

/** The keys of {@link HeapMapOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<HeapMapOptions> = { width: 1, rows: 1, bytesPerCell: 1, header: 1 };

/** Cell characters of {@link heapMap}, one per chunk kind. */
export const MAP_GLYPHS = {
  /** A live block. */
  used: "█",
  /** A live block right after another live block: alternating keeps neighbours apart. */
  usedNext: "▓",
  /** A free chunk, in a bin. */
  free: ".",
  /** The top chunk: free space at the end of the heap, up to the break. */
  top: "~",
  /** The heap's own chunk map. */
  meta: "m",
  /** The heap's header (counters and bin heads), below the first chunk; drawn on request. */
  header: "h",
} as const;

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new ArgumentError(`heapMap: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

const hex = (n: number, digits: number): string => "0x" + n.toString(16).padStart(digits, "0");

/**
 * Draws the chunks of `heap.chunks()`, lowest address first, as rows of `width` cells, each
 * cell standing for `bytesPerCell` bytes; every chunk gets at least one cell, so a tiny chunk
 * in a coarse map pushes its right neighbours over by a cell. Each row starts with the address
 * of a byte its first cell stands for. The last line is the legend: the scale, the characters
 * (see {@link MAP_GLYPHS}) and the span drawn. The heap's header, below the first chunk, is
 * drawn only with the `header` option (it counts as a chunk in the legend's total).
 * @param heap - the heap, or anything with its `chunks()`
 * @returns the map, lines joined with `"\n"`, no trailing newline
 * @throws ArgumentError when an option is not a positive integer
 * @example
 * ```ts
 * import { Heap, heapMap } from "vmheap";
 *
 * const heap = new Heap();
 * const blocks = [100, 300, 40, 700, 200].map((n) => heap.malloc(n));
 * heap.free(blocks[1]);
 * heap.free(blocks[3]);
 * console.log(heapMap(heap, { width: 40, rows: 4 }));
 * // 0x0710 mmmmmmmmm███..........██................
 * // 0x0c00 ......███████~~~~~~~~~~~~~~~~~~~~~~~~~~~
 * // 0x1100 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
 * // 0x1600 ~~~~~~~~~~~~~~~~~
 * // █▓ used (shades alternate)  . free  ~ top  m chunk map   1 cell = 32 B (≥ 1 per chunk)   0x710..0x1820: 4368 B in 7 chunks
 * ```
 */
export function heapMap(heap: Pick<Heap, "chunks"> & Partial<Pick<Heap, "base">>, opts: HeapMapOptions = {}): string {
  checkOptions(opts, "heapMap", OPTION_KEYS);
  const width = positiveInt("width", opts.width, 64);
  const rows = positiveInt("rows", opts.rows, 8);
  const chunks: (ChunkInfo | { address: number; size: number; kind: "header" })[] = heap.chunks();
  const base = heap.base;
  if (opts.header === true) {
    if (base === undefined) throw new ArgumentError("heapMap: the header option needs the heap's base");
    if (chunks.length > 0 && base < chunks[0]!.address) chunks.unshift({ address: base, size: chunks[0]!.address - base, kind: "header" });
  }
  const origin = chunks.length > 0 ? chunks[0]!.address : 0;
  const last = chunks[chunks.length - 1];
  const end = last !== undefined ? last.address + last.size : origin;
  let scale = 16;
  if (opts.bytesPerCell !== undefined) {
    scale = positiveInt("bytesPerCell", opts.bytesPerCell, 16);
  } else {
    // One extra cell per chunk at most comes from the one-cell minimum.
    while (scale < end - origin && Math.ceil((end - origin) / scale) + chunks.length > width * rows) scale *= 2;
  }

  const cells: string[] = [];
  const addrs: number[] = [];
  let afterSolid = false; // the previous chunk was a live block drawn with MAP_GLYPHS.used
  for (const c of chunks) {
    let ch: string;
    if (c.kind === "used") ch = afterSolid ? MAP_GLYPHS.usedNext : MAP_GLYPHS.used;
    else ch = MAP_GLYPHS[c.kind];
    // Each chunk ends at the cell its end address rounds to, so rounding errors never add up.
    const stop = Math.max(cells.length + 1, Math.round((c.address + c.size - origin) / scale));
    for (let i = 0; cells.length < stop; i++) {
      cells.push(ch);
      addrs.push(Math.min(c.address + i * scale, c.address + c.size - 1));
    }
    afterSolid = ch === MAP_GLYPHS.used;
  }

  const digits = Math.max(1, end.toString(16).length);
  const lines: string[] = [];
  for (let i = 0; i < cells.length; i += width) {
    lines.push(`${hex(addrs[i]!, digits)} ${cells.slice(i, i + width).join("")}`);
  }
  const g = MAP_GLYPHS;
  const header = chunks[0]?.kind === "header";
  lines.push(
    `${g.used}${g.usedNext} used (shades alternate)  ${g.free} free  ${g.top} top  ${g.meta} chunk map${header ? `  ${g.header} header` : ""}   1 cell = ${scale} B (≥ 1 per chunk)   ` +
      `${hex(origin, 0)}..${hex(end, 0)}: ${end - origin} B in ${chunks.length - (header ? 1 : 0)} chunks${header ? " and the header" : ""}`,
  );
  return lines.join("\n");
}

/**
 * A table of `heap.chunks()`, one row per chunk: its address (hex), size in bytes, kind, and
 * for a live block the pointer `malloc` returned (hex) and its usable size (`-` for the
 * other kinds), then a line of totals.
 * @param heap - the heap, or anything with its `chunks()`
 * @returns the table, lines joined with `"\n"`, no trailing newline
 * @example
 * ```ts
 * import { Heap, chunkTable } from "vmheap";
 *
 * const heap = new Heap();
 * const a = heap.malloc(100);
 * heap.malloc(40);
 * heap.free(a);
 * console.log(chunkTable(heap));
 * // address  size  kind  ptr     usable
 * // -------  ----  ----  ------  ------
 * // 0x0710    272  meta  -            -
 * // 0x0820    112  free  -            -
 * // 0x0890     48  used  0x08a0      40
 * // 0x08c0   3936  top   -            -
 * // 4 chunks, 4368 bytes: 1 used, 1 free, 1 top, 1 meta
 * ```
 */
export function chunkTable(heap: Pick<Heap, "chunks">): string {
  const chunks: ChunkInfo[] = heap.chunks();
  const last = chunks[chunks.length - 1];
  const digits = Math.max(1, (last !== undefined ? last.address + last.size : 0).toString(16).length);
  const rows = chunks.map((c) => [
    hex(c.address, digits),
    String(c.size),
    c.kind,
    c.kind === "used" ? hex(c.ptr, digits) : "-",
    c.kind === "used" ? String(c.usable) : "-",
  ]);
  const head = ["address", "size", "kind", "ptr", "usable"];
  const rightAligned = [false, true, false, false, true];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string =>
    r.map((v, i) => (rightAligned[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ").trimEnd();
  const total = chunks.reduce((n, c) => n + c.size, 0);
  const count = (k: ChunkInfo["kind"]): number => chunks.filter((c) => c.kind === k).length;
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    `${chunks.length} chunks, ${total} bytes: ${count("used")} used, ${count("free")} free, ${count("top")} top, ${count("meta")} meta`,
  ].join("\n");
}

/** glibc's `mallinfo2` fields, in `<malloc.h>` order, with what each one counts here. */
const MALLINFO_FIELDS: ReadonlyArray<readonly [keyof MallInfo, string]> = [
  ["arena", "bytes obtained through brk (the heap's header included)"],
  ["ordblks", "free chunks (the top chunk included)"],
  ["smblks", "free fastbin chunks (no fastbins: always 0)"],
  ["hblks", "blocks in their own mapping"],
  ["hblkhd", "bytes in blocks in their own mapping"],
  ["usmblks", "unused (always 0, as in glibc)"],
  ["fsmblks", "bytes in free fastbin chunks (always 0)"],
  ["uordblks", "bytes in use (arena - fordblks)"],
  ["fordblks", "bytes free (free chunks and the top)"],
  ["keepcost", "bytes in the top chunk (what trimming can release from)"],
];

/**
 * glibc's `struct mallinfo2` (as {@link Heap.mallinfo} returns it) as text: one line per
 * field, in `<malloc.h>` order, names and values aligned, with what each field counts.
 * @returns the lines joined with `"\n"`, no trailing newline
 * @example
 * ```ts
 * import { Heap, formatMallinfo } from "vmheap";
 *
 * const heap = new Heap();
 * heap.malloc(1000);
 * console.log(formatMallinfo(heap.mallinfo()));
 * // arena     6176  bytes obtained through brk (the heap's header included)
 * // ordblks      1  free chunks (the top chunk included)
 * // smblks       0  free fastbin chunks (no fastbins: always 0)
 * // hblks        0  blocks in their own mapping
 * // hblkhd       0  bytes in blocks in their own mapping
 * // usmblks      0  unused (always 0, as in glibc)
 * // fsmblks      0  bytes in free fastbin chunks (always 0)
 * // uordblks  3088  bytes in use (arena - fordblks)
 * // fordblks  3088  bytes free (free chunks and the top)
 * // keepcost  3088  bytes in the top chunk (what trimming can release from)
 * ```
 */
export function formatMallinfo(info: MallInfo): string {
  const values = MALLINFO_FIELDS.map(([k]) => String(info[k]));
  const nameWidth = Math.max(...MALLINFO_FIELDS.map(([k]) => k.length));
  const valueWidth = Math.max(...values.map((v) => v.length));
  return MALLINFO_FIELDS.map(([k, what], i) => `${k.padEnd(nameWidth)}  ${values[i]!.padStart(valueWidth)}  ${what}`).join("\n");
}
