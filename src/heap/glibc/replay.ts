/**
 * Replays an allocation trace on the glibc model and prints what happened in the same text a
 * small C driver prints when it replays the trace through a real glibc (see
 * `scripts/glibc/`): one line per call with the returned address relative to the heap
 * start, the chunk's size word, `malloc_usable_size` and the break, `mallinfo2` every 200
 * calls, and optionally every non-zero word of the heap. Two runs agree line for line when
 * the model places every block where glibc does.
 *
 * Trace lines (CS:APP's `a`/`f`/`r`, plus the rest of the family):
 * ```text
 * a id size        malloc          c id nmemb size   calloc        t pad          malloc_trim
 * f id             free            m id align size   memalign      o param value  mallopt
 * r id size        realloc         p id align size   posix_memalign
 *                                  A id align size   aligned_alloc
 * s increment      sbrk by the program itself (behind malloc's back)
 * ```
 */
import { ArgumentError, checkOptions, type OptionKeys } from "../../errors.js";
import { PhysicalMemory } from "../../memory/PhysicalMemory.js";
import { Process } from "../../vm/Process.js";
import type { ProcessHeapOptions } from "../PagedHeap.js";
import type { GlibcHeap, GlibcHeapOptions } from "./GlibcHeap.js";
import { ARENA_SIZE, IS_MMAPPED } from "./layout.js";

/** Options of {@link replayGlibcTrace}. */
export interface GlibcReplayOptions {
  /** Also print every non-zero 8-byte word of the heap at the end (as the driver's `-d`). @defaultValue false */
  dump?: boolean;
  /** RAM for the process, in 4 KiB frames. @defaultValue 262144 (1 GiB, taken lazily) */
  frames?: number;
  /**
   * Where the heap starts (the initial break, page-aligned). Large alignments and the
   * safe-linked words depend on the absolute address, so compare with a real run at its own
   * heap start. @defaultValue the process's own start_brk
   */
  heapStart?: number;
  /** Run `heap.check()` after the last call (throws HeapCorruptionError if the heap is inconsistent). @defaultValue false */
  check?: boolean;
  /**
   * Where `main_arena` stands. Only bytes of a pointer into it show its absolute address: a
   * `malloc(1)` under `M_PERTURB` overwrites the low byte of a stale link to a bin, and the
   * dump shows what is left. Give a real run's address to compare such dumps.
   * @defaultValue the model's (0x7ffff7e19c80)
   */
  arenaAddress?: number;
}

/** The keys of {@link GlibcReplayOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<GlibcReplayOptions> = { dump: 1, frames: 1, heapStart: 1, check: 1, arenaAddress: 1 };

const TWO32 = 4294967296;
const hex = (n: number): string => n.toString(16);

/** One parsed trace operation. */
interface Op {
  text: string;
  kind: string;
  args: number[];
}

/** Parses the operations of a trace (after its four header lines). @throws ArgumentError naming the line */
export function parseTrace(text: string): Op[] {
  const lines = text.split("\n");
  const ops: Op[] = [];
  const arity: Record<string, number> = { a: 2, f: 1, r: 2, c: 3, m: 3, p: 3, A: 3, t: 1, o: 2, s: 1 };
  for (let i = 4; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    const kind = parts[0]!;
    const args = parts.slice(1).map(Number);
    if (arity[kind] === undefined || args.length !== arity[kind] || args.some((n) => !Number.isFinite(n))) {
      throw new ArgumentError(`trace line ${i + 1}: cannot read "${line}"`);
    }
    ops.push({ text: parts.join(" "), kind, args });
  }
  return ops;
}

/**
 * Runs `trace` on the glibc model in a fresh process and returns the driver's lines (without
 * its first, `#`, line).
 * @example
 * ```ts
 * import { replayGlibcTrace } from "vmheap";
 *
 * // CS:APP trace format: four header lines, then one call per line
 * const trace = ["0", "2", "4", "1", "a 0 100", "a 1 2000", "f 0", "r 1 5000"].join("\n");
 * console.log(replayGlibcTrace(trace).join("\n"));
 * // 0 a 0 100 -> H+2a0 sz=0x71 us=104 brk=0x21000
 * // 1 a 1 2000 -> H+310 sz=0x7e1 us=2008 brk=0x21000
 * // 2 f 0 -> - brk=0x21000
 * // 3 r 1 5000 -> H+310 sz=0x1391 us=5000 brk=0x21000
 * // mi arena=135168 ordblks=1 smblks=0 hblks=0 hblkhd=0 usmblks=0 fsmblks=0 uordblks=5776 fordblks=129392 keepcost=129392
 * ```
 */
export function replayGlibcTrace(trace: string, opts: GlibcReplayOptions = {}): string[] {
  checkOptions(opts, "replayGlibcTrace", OPTION_KEYS);
  const ops = parseTrace(trace);
  const memory = new PhysicalMemory({ frames: opts.frames ?? 262144 });
  // A heap start of the caller's choosing: a bss that reaches it from where an empty image's
  // bss starts (untouched bss costs nothing).
  let bssSize = 0;
  if (opts.heapStart !== undefined) {
    const probe = Process.spawn({ memory });
    bssSize = opts.heapStart - probe.layout.endData;
    probe.exit();
  }
  const heapOpts: ProcessHeapOptions & Pick<GlibcHeapOptions, "arenaAddress"> = { allocator: "glibc" };
  if (opts.arenaAddress !== undefined) heapOpts.arenaAddress = opts.arenaAddress;
  const proc = Process.spawn({ memory, heap: heapOpts, bssSize });
  const heap = proc.heap as GlibcHeap;
  const as = proc.as;
  const heap0 = proc.currentBreak;
  const ptr = new Map<number, number>();
  const out: string[] = [];
  const where = (p: number): string => {
    if (p === 0) return "0";
    const head = as.read32(p - 8);
    return (head & IS_MMAPPED) !== 0 ? `M+${hex(p % 4096)}` : `H+${hex(p - heap0)}`;
  };
  const detail = (p: number): string => {
    if (p === 0) return "";
    const lo = as.read32(p - 8);
    const hi = as.read32(p - 4);
    return ` sz=0x${hi !== 0 ? hex(hi) + lo.toString(16).padStart(8, "0") : hex(lo)} us=${heap.mallocUsableSize(p)}`;
  };
  const mi = (): string => {
    const m = heap.mallinfo();
    return `mi arena=${m.arena} ordblks=${m.ordblks} smblks=${m.smblks} hblks=${m.hblks} hblkhd=${m.hblkhd} usmblks=${m.usmblks} fsmblks=${m.fsmblks} uordblks=${m.uordblks} fordblks=${m.fordblks} keepcost=${m.keepcost}`;
  };
  ops.forEach((op, i) => {
    const [x = 0, y = 0, z = 0] = op.args;
    let ret: string;
    let p = 0;
    switch (op.kind) {
      case "a":
        p = heap.malloc(y);
        ptr.set(x, p);
        break;
      case "f":
        heap.free(ptr.get(x) ?? 0);
        ptr.set(x, 0);
        break;
      case "r":
        p = heap.realloc(ptr.get(x) ?? 0, y);
        ptr.set(x, p);
        break;
      case "c":
        p = heap.calloc(y, z);
        ptr.set(x, p);
        break;
      case "m":
        p = heap.memalign(y, z);
        ptr.set(x, p);
        break;
      case "A":
        p = heap.alignedAlloc(y, z);
        ptr.set(x, p);
        break;
      case "p": {
        const r = heap.posixMemalign(y, z);
        p = r.ptr;
        ptr.set(x, p);
        ret = `e${r.err}:${where(p)}`;
        break;
      }
    }
    switch (op.kind) {
      case "f":
        ret = "-";
        break;
      case "t":
        ret = String(heap.mallocTrim(x));
        break;
      case "o":
        ret = String(heap.mallopt(x, y));
        break;
      case "s": {
        const prev = proc.sbrk(x);
        ret = prev === -1 ? "-1" : `H+${hex(prev - heap0)}`;
        break;
      }
      case "p":
        break;
      default:
        ret = where(p);
    }
    const info = op.kind === "f" || op.kind === "t" || op.kind === "o" || op.kind === "s" ? "" : detail(p);
    out.push(`${i} ${op.text} -> ${ret!}${info} brk=0x${hex(proc.currentBreak - heap0)}`);
    if ((i + 1) % 200 === 0) out.push(mi());
  });
  out.push(mi());
  if (opts.check === true) heap.check();
  // One at a time: a heap filled by M_PERTURB has more words than push(...words) takes arguments.
  if (opts.dump === true) for (const w of dumpHeap(heap, heap0, proc.currentBreak)) out.push(w);
  return out;
}

/**
 * The driver's `w` lines: every non-zero word of the heap [heap0, brk), with pointers shown
 * relative to the heap (`H+`), to main_arena (`A+`), safe-linked (`S:`), and the tcache key as `K`.
 */
export function dumpHeap(heap: GlibcHeap, heap0: number, brk: number): string[] {
  const as = heap.memory;
  const st = heap.state;
  const arena = st.arena;
  const out: string[] = [];
  const inHeap = (v: number): boolean => v >= heap0 && v < brk;
  for (let a = heap0; a + 8 <= brk; a += 8) {
    const lo = as.read32(a);
    const hi = as.read32(a + 4);
    if (lo === 0 && hi === 0) continue;
    const v = hi * TWO32 + lo;
    let s: string;
    if (lo === st.tcacheKeyLo && hi === st.tcacheKeyHi) s = "K";
    else if (inHeap(v)) s = `H+${hex(v - heap0)}`;
    else if (v >= arena && v < arena + ARENA_SIZE) s = `A+${hex(v - arena)}`;
    else {
      const pos = Math.floor(a / 4096);
      const d = ((lo ^ (pos % TWO32)) >>> 0) + ((hi ^ Math.floor(pos / TWO32)) >>> 0) * TWO32;
      if (d === 0) s = "S:0";
      else if (inHeap(d)) s = `S:H+${hex(d - heap0)}`;
      else s = `0x${hi !== 0 ? hex(hi) + lo.toString(16).padStart(8, "0") : hex(lo)}`;
    }
    out.push(`w ${hex(a - heap0)} ${s}`);
  }
  return out;
}
