/**
 * Physical memory as SVG: a grid of frames, each coloured by the process that maps it; a frame
 * mapped by several processes (copy-on-write after fork, shared memory) is split between their
 * colours and shows its reference count.
 *
 * ```text
 *   frame 0   [Z][P][P][P][PC][PC][C][ ][ ][ ] …     Z zero page, P parent, C child,
 *   frame 32  [ ][ ][ ] …                           PC both (count 2), [ ] free
 * ```
 */
import type { PhysicalMemory } from "../memory/PhysicalMemory.js";
import { COLORS, SERIES, el, hex, legend, svgDocument, text, tooltip } from "./svg.js";
import { type SpaceLike, frameOwners } from "./pages.js";
import { checkOptions, type OptionKeys } from "../errors.js";

/** A process or address space to colour frames by, and its name in the legend. */
export interface FrameOwner {
  /** The owner's name in the legend (`"parent"`, `"child"`, a pid). */
  readonly name: string;
  /** Its address space, or a process. */
  readonly space: SpaceLike;
}

/** Options of {@link framesSvg}. */
export interface FramesSvgOptions {
  /** Frames per row. @defaultValue 32 */
  columns?: number;
  /**
   * Frames drawn, from frame 0. @defaultValue the highest frame in use, rounded up to a whole
   * row (all of RAM when it is smaller)
   */
  frames?: number;
  /** The picture's title. @defaultValue "Physical memory: N of M frames in use" */
  title?: string;
}

/** The keys of {@link FramesSvgOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<FramesSvgOptions> = { columns: 1, frames: 1, title: 1 };

/**
 * Draws the frames of `memory` and who maps them. Each frame is a `<g class="frame">` with
 * `data-frame`, `data-refs` (its reference count; 0 when free), `data-owners` (owner indices)
 * and `data-state`: `free`, `zero`, `owned`, `shared` (more than one mapping) or `other`
 * (in use, but by no owner given: a page-cache page, or a process not passed in).
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
 * import { framesSvg } from "vmheap/viz";
 *
 * const ram = new PhysicalMemory({ frames: 32 });
 * const parent = new AddressSpace({ memory: ram });
 * const a = parent.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * for (let i = 0; i < 4; i++) parent.write8(a + i * 4096, 1);
 * const child = parent.fork();
 * child.write8(a, 2); // the child's own copy of page 0; pages 1-3 stay shared
 * const svg = framesSvg(ram, [{ name: "parent", space: parent }, { name: "child", space: child }]); // writeFileSync("frames.svg", svg)
 * console.log(svg.match(/<title>(.*)<\/title>/)?.[1]); // Physical memory: 6 of 33 frames in use (the zero page included)
 * ```
 */
export function framesSvg(memory: PhysicalMemory, owners: readonly FrameOwner[], opts: FramesSvgOptions = {}): string {
  checkOptions(opts, "framesSvg", OPTION_KEYS);
  const columns = opts.columns ?? 32;
  const uses = frameOwners(owners.map((o) => o.space));
  let highest = 0;
  for (let f = memory.totalFrames - 1; f > 0; f--) {
    if (memory.refCount(f) !== 0) {
      highest = f;
      break;
    }
  }
  const shown = Math.min(memory.totalFrames, opts.frames ?? Math.max(columns, Math.ceil((highest + 1) / columns) * columns));
  const W = 980;
  const gx = 96;
  const cell = Math.min(26, (W - gx - 20) / columns);
  const top = 56;
  const rows = Math.ceil(shown / columns);
  const used = memory.usedFrames;
  const title = opts.title ?? `Physical memory: ${used} of ${memory.totalFrames} frames in use (the zero page included)`;
  const body: string[] = [];
  body.push(text(16, 22, title, { "font-size": 15, "font-weight": "bold" }));
  body.push(text(16, 40, `frames 0..${shown - 1} of ${memory.totalFrames} (${memory.pageSize}-byte frames); a number is the reference count of a shared frame`, { fill: COLORS.faint, "font-size": 11 }));
  const colorOf = (i: number): string => SERIES[i % (SERIES.length - 1)]!;
  for (let r = 0; r < rows; r++) body.push(text(gx - 8, top + r * cell + cell / 2 + 4, `frame ${r * columns}`, { "text-anchor": "end", "font-size": 10, fill: COLORS.faint }));
  const cells: string[] = [];
  for (let f = 0; f < shown; f++) {
    const x = gx + (f % columns) * cell;
    const y = top + Math.floor(f / columns) * cell;
    const refs = f === memory.zeroFrame ? 0 : memory.refCount(f);
    const u = uses.get(f) ?? [];
    const who = [...new Set(u.map((x) => x.owner))];
    const state = f === memory.zeroFrame ? "zero" : refs === 0 ? "free" : who.length === 0 ? "other" : refs > 1 ? "shared" : "owned";
    const parts: string[] = [];
    const desc =
      state === "zero"
        ? `frame ${f}: the zero page (shared by every untouched page that was read)`
        : state === "free"
          ? `frame ${f}: free`
          : `frame ${f}, ${refs} reference${refs === 1 ? "" : "s"}: ${u.map((x) => `${owners[x.owner]!.name} at ${hex(x.va)}`).join(", ") || "no owner shown"}`;
    parts.push(tooltip(desc));
    if (state === "zero" || state === "free" || state === "other") {
      const fill = state === "zero" ? COLORS.zeroPage : state === "free" ? COLORS.untouched : COLORS.header;
      parts.push(el("rect", { x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, fill }));
      if (state === "zero") parts.push(text(x + cell / 2, y + cell / 2 + 4, "0", { "text-anchor": "middle", "font-size": 10 }));
    } else {
      // Split between the owners' colours, one vertical slice each.
      const sw = (cell - 2) / who.length;
      who.forEach((o, k) => parts.push(el("rect", { x: x + 1 + k * sw, y: y + 1, width: sw, height: cell - 2, fill: colorOf(o) })));
      if (refs > 1) {
        parts.push(el("rect", { x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, fill: "none", stroke: COLORS.ink, "stroke-width": 1.5 }));
        parts.push(el("circle", { cx: x + cell / 2, cy: y + cell / 2, r: 6.5, fill: "#ffffff" }));
        parts.push(text(x + cell / 2, y + cell / 2 + 3.5, String(refs), { "text-anchor": "middle", "font-size": 10, "font-weight": "bold" }));
      }
    }
    cells.push(el("g", { class: "frame", "data-frame": f, "data-refs": refs, "data-state": state, "data-owners": who.join(" ") }, ...parts));
  }
  body.push(el("g", { class: "frames" }, ...cells));
  const y = top + rows * cell + 20;
  const lg = legend(
    [
      ...owners.map((o, i) => ({ fill: colorOf(i), label: o.name })),
      {
        swatch:
          el("rect", { width: 7, height: 14, fill: colorOf(0) }) +
          el("rect", { x: 7, width: 7, height: 14, fill: colorOf(1) }) +
          el("rect", { width: 14, height: 14, fill: "none", stroke: COLORS.ink, "stroke-width": 2 }),
        label: "shared (split by mapper)",
      },
      { fill: COLORS.zeroPage, label: "zero page" },
      { fill: COLORS.header, label: "in use by no owner shown" },
      { fill: COLORS.untouched, label: "free" },
    ],
    16,
    y,
    W - 32,
  );
  body.push(lg.svg);
  return svgDocument(W, y + lg.height + 8, title, `${used} frames in use, ${memory.sharedFrames} shared; owners ${owners.map((o) => o.name).join(", ")}`, body);
}

