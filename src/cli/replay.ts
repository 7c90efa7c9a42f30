/**
 * `vmheap replay TRACE`: runs a CS:APP allocation trace on a process's heap and reports how
 * well the allocator used its memory, the figures of the malloc lab and two fragmentation
 * measures, defined in {@link REPLAY_HELP}.
 */
import type { HeapMemory, Heap as HeapOf } from "../heap/Heap.js";

type Heap = HeapOf<HeapMemory>;
import { PhysicalMemory } from "../memory/PhysicalMemory.js";
import { Process } from "../vm/Process.js";
import { heapMap } from "../viz/heapMap.js";
import { heapSvg } from "../viz/heapSvg.js";
import { type Command, type Io, guarded, inputError, intOption, parse, printJson, printText, usageError, writePicture } from "./command.js";
import { type Trace, livePeak, parseTrace } from "./trace.js";

/** The allocators a trace can run on. */
export type Allocator = "vmheap" | "glibc";
const ALLOCATORS: readonly Allocator[] = ["vmheap", "glibc"];

/** The heap's state at one moment of a replay. */
export interface HeapSnapshot {
  /** Payload bytes of the live blocks: the sum of the sizes the trace asked for. */
  liveBytes: number;
  /**
   * Bytes of the footprint not free: the live blocks' chunks (header, alignment padding,
   * rounding up to the minimum chunk), the allocator's own metadata in the heap, and the whole
   * mappings of mapped blocks. For vmheap, `mallinfo().uordblks + hblkhd`.
   */
  inUseBytes: number;
  /**
   * Bytes in chunks no live block holds: free chunks (in a bin, or glibc's tcache and
   * fastbins, which glibc's `mallinfo` counts as in use) and the top chunk.
   */
  freeBytes: number;
  /** The largest single free chunk (the top chunk counts). */
  largestFree: number;
  /** `(inUseBytes − liveBytes) / inUseBytes`: the share of used memory that holds no payload. */
  internalFragmentation: number;
  /** `1 − largestFree / freeBytes` (0 when nothing is free): how scattered the free memory is. */
  externalFragmentation: number;
  /** `mallocFootprint()`: bytes obtained from the system now. */
  footprint: number;
}

/** What {@link replayTrace} measures. */
export interface ReplayStats {
  /** Operations replayed. */
  ops: number;
  mallocs: number;
  frees: number;
  reallocs: number;
  /** The most payload bytes live at once. */
  peakLive: number;
  /** Index of the first operation after which `peakLive` is reached (-1: never any). */
  peakOp: number;
  /** `mallocMaxFootprint()` after the replay: the most bytes the heap held from brk and mmap at once. */
  maxFootprint: number;
  /** `peakLive / maxFootprint` (0 when the heap never held anything). */
  utilization: number;
  /** Internal fragmentation at the peak (see {@link HeapSnapshot}). */
  internalFragmentation: number;
  /** External fragmentation at the peak (see {@link HeapSnapshot}). */
  externalFragmentation: number;
  /** The heap right after the peak operation. */
  atPeak: HeapSnapshot;
  /** The heap after the last operation. */
  atEnd: HeapSnapshot;
}

/** The heap's figures now, with `liveBytes` of payload live. */
export function snapshot(heap: Heap, liveBytes: number): HeapSnapshot {
  let freeBytes = 0;
  let largestFree = 0;
  for (const c of heap.chunks()) {
    if (c.kind !== "free" && c.kind !== "top") continue;
    freeBytes += c.size;
    if (c.size > largestFree) largestFree = c.size;
  }
  const inUseBytes = heap.mallocFootprint() - freeBytes;
  return {
    liveBytes,
    inUseBytes,
    freeBytes,
    largestFree,
    internalFragmentation: inUseBytes === 0 ? 0 : (inUseBytes - liveBytes) / inUseBytes,
    externalFragmentation: freeBytes === 0 ? 0 : 1 - largestFree / freeBytes,
    footprint: heap.mallocFootprint(),
  };
}

/**
 * Replays `trace` on `heap`: `a` is malloc, `r` realloc, `f` free, each on the pointer the
 * trace's id stands for.
 * @param name - the trace's name, for messages
 * @throws CliError (exit code 1) when the heap returns NULL (its memory is exhausted)
 */
export function replayTrace(heap: Heap, trace: Trace, name = "trace"): ReplayStats {
  const { peakLive, at } = livePeak(trace);
  const ptrs = new Float64Array(trace.ids);
  const sizes = new Float64Array(trace.ids);
  let live = 0;
  let mallocs = 0;
  let frees = 0;
  let reallocs = 0;
  let atPeak: HeapSnapshot | null = null;
  trace.ops.forEach((op, k) => {
    if (op.kind === "f") {
      heap.free(ptrs[op.id]!);
      frees++;
    } else {
      const p = op.kind === "a" ? heap.malloc(op.size) : heap.realloc(ptrs[op.id]!, op.size);
      if (p === 0) {
        const call = op.kind === "a" ? `malloc(${op.size})` : `realloc(ptr[${op.id}], ${op.size})`;
        throw inputError(`${name}:${op.line}: ${call} returned NULL (errno ${heap.errno}): the heap ran out of memory (try a larger --ram)`);
      }
      ptrs[op.id] = p;
      if (op.kind === "a") mallocs++;
      else reallocs++;
    }
    live += (op.kind === "f" ? 0 : op.size) - sizes[op.id]!;
    sizes[op.id] = op.kind === "f" ? 0 : op.size;
    if (k === at) atPeak = snapshot(heap, live);
  });
  const peak = atPeak ?? snapshot(heap, 0);
  const maxFootprint = heap.mallocMaxFootprint();
  return {
    ops: trace.ops.length,
    mallocs,
    frees,
    reallocs,
    peakLive,
    peakOp: at,
    maxFootprint,
    utilization: maxFootprint === 0 ? 0 : peakLive / maxFootprint,
    internalFragmentation: peak.internalFragmentation,
    externalFragmentation: peak.externalFragmentation,
    atPeak: peak,
    atEnd: snapshot(heap, live),
  };
}

/** The heap of a fresh process with `ramBytes` of RAM, running `allocator`. */
export function processHeap(allocator: Allocator, ramBytes: number): Heap {
  const memory = new PhysicalMemory({ frames: Math.ceil(ramBytes / 4096) });
  return Process.spawn({ memory, heap: { allocator } }).heap;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The text of `vmheap replay --help`. */
export const REPLAY_HELP = `Usage: vmheap replay TRACE [--allocator vmheap|glibc] [--ram MIB] [--svg FILE] [--json]

Replays an allocation trace in the CS:APP malloc-lab format on the heap of a fresh simulated
process (small blocks from brk, blocks of 128 KiB or more from mmap) and reports:

  ops                    operations replayed (a: malloc, r: realloc, f: free)
  peakLive               the most payload bytes live at once: the sum of the sizes the trace
                         asked for by its live blocks (a realloc counts its new size)
  maxFootprint           the most bytes the heap held from brk and mmap at once
                         (mallocMaxFootprint())
  utilization            peakLive / maxFootprint
  internalFragmentation  at the peak: (inUse - live) / inUse, where live is the payload of the
                         live blocks and inUse every byte of the footprint that is not free:
                         the live blocks' chunks (headers, alignment padding, rounding up to the
                         minimum chunk), the allocator's own metadata, and the whole mappings of
                         mapped blocks
  externalFragmentation  at the peak: 1 - largestFree / free, where free is every byte in chunks
                         no live block holds (free chunks, glibc's tcache and fastbin chunks
                         included, and the top chunk) and largestFree the largest such chunk;
                         0 when nothing is free
and a map of the heap after the last operation.

A trace: four header lines (a size hint, the number of ids, the number of operations, the peak
payload), then one operation per line: 'a ID SIZE', 'r ID SIZE' or 'f ID'.

Options:
  --allocator NAME  vmheap (default), or glibc (glibc 2.36's ptmalloc2)
  --ram MIB         RAM of the simulated machine, in MiB (default 256)
  --svg FILE        also draw the final heap as an SVG picture into FILE
  --json            print the figures as JSON instead of text
  -h, --help        this text

Exit codes: 0 done, 1 bad trace (its line number is printed) or out of memory, 2 bad command line.

Example:
  vmheap replay traces/ls.rep
  vmheap replay traces/ls.rep --allocator glibc --json`;

/** `vmheap replay`. */
export const replayCommand: Command = {
  name: "replay",
  summary: "replay a CS:APP malloc trace: utilization, fragmentation, the final heap",
  help: REPLAY_HELP,
  run(args: readonly string[], io: Io): number {
    return guarded(io, () => {
      const { values, positionals } = parse("replay", args, { allocator: { type: "string" }, ram: { type: "string" }, svg: { type: "string" } }, 1);
      if (values.help) {
        printText(io, REPLAY_HELP);
        return 0;
      }
      const file = positionals[0];
      if (file === undefined) throw usageError("vmheap replay: which trace? (vmheap replay TRACE; see --help)");
      const allocator = (values.allocator ?? "vmheap") as Allocator;
      if (!ALLOCATORS.includes(allocator)) throw usageError(`vmheap replay: --allocator must be vmheap or glibc, got '${values.allocator!}'`);
      const ram = intOption("replay", "ram", values.ram, 256, 1);
      let text: string;
      try {
        text = io.readFile(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw inputError(`vmheap replay: cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (code ?? (e as Error).message)}`);
      }
      const trace = parseTrace(text, file);
      if (trace.declaredOps !== trace.ops.length) io.err(`vmheap replay: note: ${file}'s header says ${trace.declaredOps} operations, it has ${trace.ops.length}`);
      const heap = processHeap(allocator, ram * 1024 * 1024);
      const stats = replayTrace(heap, trace, file);
      if (values.svg !== undefined) writePicture(io, "replay", values.svg, heapSvg(heap, { title: `${file} replayed on ${allocator}: the heap after the last operation` }));
      if (values.json) {
        printJson(io, { trace: file, allocator, ...stats });
        return 0;
      }
      const row = (label: string, value: string | number, note = ""): void => io.out(`  ${label.padEnd(22)}${String(value).padStart(12)}${note ? "   " + note : ""}`);
      const p = stats.atPeak;
      io.out(`${file} on ${allocator}: ${trace.ids} ids, ${stats.ops} operations`);
      row("operations", stats.ops, `${stats.mallocs} malloc, ${stats.reallocs} realloc, ${stats.frees} free`);
      row("peak live bytes", stats.peakLive, stats.peakOp >= 0 ? `reached at line ${trace.ops[stats.peakOp]!.line}` : "");
      row("max footprint", stats.maxFootprint, "bytes from brk and mmap at their highest");
      row("utilization", pct(stats.utilization), "peak live / max footprint");
      io.out("  at the peak:");
      row("  in use", p.inUseBytes, "bytes held by live blocks, headers and metadata included");
      row("  internal frag.", pct(p.internalFragmentation), "(in use - live) / in use");
      row("  free", p.freeBytes, "bytes in free chunks and the top chunk");
      row("  largest free chunk", p.largestFree);
      row("  external frag.", pct(p.externalFragmentation), "1 - largest free / free");
      io.out(`the heap after the last operation (footprint ${stats.atEnd.footprint} bytes, ${stats.atEnd.liveBytes} live):`);
      printText(io, heapMap(heap).replace(/^/gm, "  "));
      if (values.svg !== undefined) io.out(`picture: ${values.svg}`);
      return 0;
    });
  },
};
