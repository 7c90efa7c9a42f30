/**
 * `vmheap pagesim`: OSTEP's paging-policy exercise. Replays a reference string with a number
 * of frames under a policy and shows every reference (hit or miss, the victim, the frames), or
 * with `--compare` every policy side by side and the fault curve over frame counts, where
 * Bélády's anomaly shows as a curve going up.
 */
import { faultCurveSvg } from "../viz/faultCurveSvg.js";
import { type Command, type Io, guarded, intOption, parse, parseNumber, printJson, printText, usageError, writePicture } from "./command.js";
import { PAGE_POLICIES, type PagePolicy, anomalies, faultCurve, randomRefs, simulate } from "../viz/replacement.js";

/** The text of `vmheap pagesim --help`. */
export const PAGESIM_HELP = `Usage: vmheap pagesim [--policy P] [--frames N] (--refs LIST | --random N [--seed S] [--pages M])
                      [--compare [--max-frames K]] [--svg FILE] [--json]

Page replacement on paper, as in OSTEP's paging-policy exercise: each reference is a hit when
its page is in one of the frames, otherwise a miss that loads it, evicting a victim when every
frame is full. Printed for every reference: hit or miss, the victim, the frames after it.

Policies (the victim when all frames are full):
  fifo    the page loaded first
  lru     the page used least recently
  opt     the page used again furthest in the future (Belady's MIN; never again counts as
          furthest, ties go to the lowest frame)
  clock   the first page after the hand whose reference bit is clear, clearing bits on the way
          (a hit or a load sets the bit)
  rand    a frame drawn by a seeded generator (mulberry32, from --seed)
  mru     the page used most recently

Options:
  --policy P        one of the above (default fifo)
  --frames N        number of frames (default 3)
  --refs LIST       the reference string: page numbers separated by commas, e.g. 1,2,3,4,1,2
  --random N        instead, N references drawn uniformly from pages 0..M-1
  --seed S          seed of --random and of rand (default 0)
  --pages M         pages --random draws from (default 10)
  --compare         every policy side by side, and misses for 1..K frames (the fault curve);
                    an arrow marks a count where more frames gave more misses (Belady's anomaly)
  --max-frames K    the largest frame count of --compare (default: the distinct pages, at most 16)
  --svg FILE        draw the fault curve (of --policy, or of every policy with --compare)
  --json            print {policy, frames, refs, hits, misses, steps: [{ref, hit, victim, frames}]}
                    (with --compare: {refs, frames, policies: {P: {hits, misses}}, curve})
  -h, --help        this text

Example:
  vmheap pagesim --policy fifo --frames 3 --refs 1,2,3,4,1,2,5,1,2,3,4,5     (9 misses)
  vmheap pagesim --compare --refs 1,2,3,4,1,2,5,1,2,3,4,5`;

function parseRefs(text: string): number[] {
  const parts = text.split(/[,\s]+/).filter((s) => s !== "");
  if (parts.length === 0) throw usageError("vmheap pagesim: --refs needs at least one page number");
  return parts.map((p) => {
    const v = parseNumber(p);
    if (v === null) throw usageError(`vmheap pagesim: --refs: '${p}' is not a page number (whole numbers separated by commas)`);
    return v;
  });
}

const showFrames = (frames: readonly (number | null)[], width: number): string =>
  "[" + frames.map((f) => (f === null ? "." : String(f)).padStart(width)).join(" ") + " ]";

/** `vmheap pagesim`. */
export const pagesimCommand: Command = {
  name: "pagesim",
  summary: "page replacement on a reference string: fifo, lru, opt, clock, rand, mru",
  help: PAGESIM_HELP,
  run(args: readonly string[], io: Io): number {
    return guarded(io, () => {
      const { values } = parse(
        "pagesim",
        args,
        {
          policy: { type: "string" },
          frames: { type: "string" },
          refs: { type: "string" },
          random: { type: "string" },
          seed: { type: "string" },
          pages: { type: "string" },
          compare: { type: "boolean" },
          "max-frames": { type: "string" },
          svg: { type: "string" },
        },
        0,
      );
      if (values.help) {
        printText(io, PAGESIM_HELP);
        return 0;
      }
      const policy = (values.policy ?? "fifo") as PagePolicy;
      if (!PAGE_POLICIES.includes(policy)) throw usageError(`vmheap pagesim: --policy must be one of ${PAGE_POLICIES.join(", ")}, got '${values.policy!}'`);
      const frames = intOption("pagesim", "frames", values.frames, 3, 1);
      const seed = intOption("pagesim", "seed", values.seed, 0);
      if ((values.refs === undefined) === (values.random === undefined)) throw usageError("vmheap pagesim: give either --refs LIST or --random N (see --help)");
      const refs =
        values.refs !== undefined
          ? parseRefs(values.refs)
          : randomRefs(intOption("pagesim", "random", values.random, 0, 1), intOption("pagesim", "pages", values.pages, 10, 1), seed);
      const distinct = new Set(refs).size;
      const maxFrames = intOption("pagesim", "max-frames", values["max-frames"], Math.min(16, Math.max(distinct, frames)), 1);

      const curvePolicies = values.compare ? PAGE_POLICIES : [policy];
      const curve = faultCurve(refs, maxFrames, curvePolicies, seed);
      if (values.svg !== undefined) {
        const series = curvePolicies.map((p) => ({ name: p, misses: curve.misses[p]! }));
        writePicture(io, "pagesim", values.svg, faultCurveSvg({ frames: curve.frames, series, references: refs.length, title: `Misses against frames, ${refs.length} references` }));
      }

      if (values.compare) return compare(io, refs, frames, seed, curve, values.json === true);

      const r = simulate(refs, frames, policy, seed);
      const steps = r.trace.map((s) => ({ ref: s.page, hit: s.hit, victim: s.evicted, frames: s.frames }));
      if (values.json) {
        printJson(io, { policy, frames, refs, hits: r.hits, misses: r.misses, hitRate: r.hits / refs.length, steps });
        return 0;
      }
      const w = Math.max(1, ...refs.map((p) => String(p).length));
      io.out(`${policy.toUpperCase()} with ${frames} frame${frames === 1 ? "" : "s"}, ${refs.length} references${values.random !== undefined ? ` (random, seed ${seed})` : ""}`);
      io.out(`  ${"ref".padStart(Math.max(3, w))}  result  ${"victim".padEnd(Math.max(6, w))}  frames after`);
      for (const s of steps) {
        io.out(
          `  ${String(s.ref).padStart(Math.max(3, w))}  ${s.hit ? "hit " : "miss"}    ${(s.victim === null ? "-" : String(s.victim)).padEnd(Math.max(6, w))}  ${showFrames(s.frames, w)}`,
        );
      }
      io.out(`  ${r.hits} hits, ${r.misses} misses: hit rate ${((100 * r.hits) / refs.length).toFixed(1)}%`);
      if (values.svg !== undefined) io.out(`picture: ${values.svg}`);
      return 0;
    });
  },
};

function compare(io: Io, refs: readonly number[], frames: number, seed: number, curve: ReturnType<typeof faultCurve>, json: boolean): number {
  const per = Object.fromEntries(PAGE_POLICIES.map((p) => {
    const r = simulate(refs, frames, p, seed);
    return [p, { hits: r.hits, misses: r.misses }];
  }));
  const belady = Object.fromEntries(PAGE_POLICIES.map((p) => [p, anomalies(curve.frames, curve.misses[p]!)]));
  if (json) {
    printJson(io, { refs, frames, seed, policies: per, curve: { frames: curve.frames, misses: curve.misses }, belady });
    return 0;
  }
  io.out(`${refs.length} references, ${new Set(refs).size} distinct pages: ${refs.length > 40 ? refs.slice(0, 40).join(",") + ",..." : refs.join(",")}`);
  io.out("");
  io.out(`with ${frames} frame${frames === 1 ? "" : "s"}:`);
  io.out("  policy   hits  misses  hit rate");
  for (const p of PAGE_POLICIES) {
    const { hits, misses } = per[p]!;
    io.out(`  ${p.padEnd(7)}${String(hits).padStart(6)}${String(misses).padStart(8)}  ${((100 * hits) / refs.length).toFixed(1).padStart(7)}%`);
  }
  io.out("");
  io.out("misses by number of frames (^ : more than with one frame fewer, Belady's anomaly):");
  io.out("  frames" + PAGE_POLICIES.map((p) => p.padStart(8)).join(""));
  curve.frames.forEach((f, i) => {
    const cells = PAGE_POLICIES.map((p) => {
      const m = curve.misses[p]!;
      const up = i > 0 && m[i]! > m[i - 1]!;
      return (String(m[i]) + (up ? "^" : " ")).padStart(8);
    });
    io.out(`  ${String(f).padStart(6)}${cells.join("")}`.trimEnd());
  });
  const hit = PAGE_POLICIES.filter((p) => belady[p]!.length > 0);
  io.out(
    hit.length === 0
      ? "no policy gets more misses from more frames on this string"
      : hit.map((p) => `${p}: more misses at ${belady[p]!.map((f) => `${f} frames`).join(", ")}`).join("; "),
  );
  return 0;
}
