/**
 * The little SVG every picture is made of: escaped text, elements as strings, numbers printed
 * the same way everywhere, one palette and one legend. No DOM: the pictures are built as
 * strings, so they work in Node and in browsers alike, and the same state always gives the
 * same bytes.
 */

/** Escapes text for an SVG text node or attribute value. */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A coordinate, to two decimals at most, without trailing zeros: stable text for snapshots. */
export function num(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

type Attrs = Record<string, string | number | undefined>;

/** An element: attributes in the order given (undefined ones left out), then its children. */
export function el(name: string, attrs: Attrs, ...children: string[]): string {
  let a = "";
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    a += ` ${k}="${typeof v === "number" ? num(v) : esc(v)}"`;
  }
  return children.length === 0 ? `<${name}${a}/>` : `<${name}${a}>${children.join("")}</${name}>`;
}

/** A text element; `text` is escaped. */
export function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el("text", { x, y, ...attrs }, esc(content));
}

/** A `<title>` child: the tooltip a browser shows over the element. */
export function tooltip(content: string): string {
  return `<title>${esc(content)}</title>`;
}

/** Font size of ordinary labels, in px. */
export const FONT = 12;
/** Width of one character of the monospace font, per px of font size (close for common monospace fonts). */
export const CHAR = 0.6;

/** The width text takes in the pictures' monospace font. */
export function textWidth(content: string, size = FONT): number {
  return [...content].length * size * CHAR;
}

/**
 * Colours, chosen to stay apart for the common colour-vision deficiencies (after Paul Tol's
 * schemes) and to be readable with black text on top.
 */
export const COLORS = {
  used: "#4477aa",
  usedAlt: "#88aadd",
  free: "#ee9955",
  top: "#e8e8e8",
  meta: "#bbbb55",
  header: "#777777",
  resident: "#55aa66",
  shared: "#aa66aa",
  zeroPage: "#bbbbbb",
  swapped: "#dd5544",
  untouched: "#f2f2f2",
  ink: "#222222",
  faint: "#888888",
  grid: "#dddddd",
} as const;

/** Colours for a series of owners or policies, in order. */
export const SERIES = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"] as const;

/** One entry of a {@link legend}. */
export interface LegendItem {
  /** The swatch: a fill colour, or a short SVG fragment drawn in a 14×14 box at (0, 0). */
  readonly fill?: string;
  readonly swatch?: string;
  readonly label: string;
}

/**
 * A legend: swatches and labels, left to right, wrapping at `width`.
 * @returns the SVG fragment and the height it takes
 */
export function legend(items: readonly LegendItem[], x: number, y: number, width: number): { svg: string; height: number } {
  const parts: string[] = [];
  let cx = x;
  let cy = y;
  for (const it of items) {
    const w = 20 + textWidth(it.label) + 18;
    if (cx > x && cx + w > x + width) {
      cx = x;
      cy += 20;
    }
    const sw = it.swatch ?? el("rect", { width: 14, height: 14, fill: it.fill ?? "none", stroke: COLORS.ink, "stroke-width": 0.5 });
    parts.push(el("g", { transform: `translate(${num(cx)},${num(cy)})` }, sw, text(20, 11.5, it.label)));
    cx += w;
  }
  return { svg: el("g", { class: "legend" }, ...parts), height: cy - y + 20 };
}

/** The whole picture: size, title (also the accessible name), a description, the body. */
export function svgDocument(width: number, height: number, title: string, description: string, body: string[]): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" font-family="ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="${FONT}" fill="${COLORS.ink}">` +
    `\n<title>${esc(title)}</title>\n<desc>${esc(description)}</desc>\n` +
    el("rect", { width, height, fill: "#ffffff" }) +
    "\n" +
    // One part a line: snapshot diffs then show what changed.
    body.map((b) => b + "\n").join("") +
    "</svg>\n"
  );
}

/** An arrowhead marker for paths, `id` unique within the picture. */
export function arrowMarker(id: string, color: string): string {
  return el(
    "marker",
    { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: color }),
  );
}

/** `0x…` in lower case. */
export const hex = (n: number): string => "0x" + n.toString(16);

/** A byte count for people: `512 B`, `4 KiB`, `1.5 MiB`. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}
