/**
 * What happened inside the heap during a call, read from how its chunks changed (not from the
 * engine: the same reading works for any allocator that lists its chunks, and the heap's hot
 * paths stay as they are).
 *
 * ```text
 *   chunks that went and came, grouped where they overlap:
 *     [top              ]  ──▶  [used][top         ]     split    1 → n
 *     [free][used][free ]  ──▶  [free             ]      merge    n → 1
 *     [used][free       ]  ──▶  [used    ][free   ]      reshape  n → m
 *     [free ]              ──▶  [used ]                  mark     same bytes, other kind
 *     [free ] (unsorted)   ──▶  [free ] (small)          rebin    same chunk, other bin
 *     [top  ]              ──▶  [top        ]            resize   the top, after the break moved
 *                          ──▶  [meta][top  ]            new      the heap's first chunks
 *   and besides: a free chunk went (bin-out) or came (bin-in); the top's end moved (brk);
 *   a block with a mapping of its own came (mmap) or went (munmap): from the heap's list of
 *   mapped blocks, or a used chunk past the top (allocators that list them with their chunks)
 * ```
 */
import type { ChunkInfo } from "../heap/Heap.js";
import type { ListChange } from "./diff.js";
import type { MappedBlockInfo } from "./snapshot.js";

/** One thing a heap call did, derived from the chunks before and after it. */
export type HeapEvent =
  /** One chunk became several: a block carved from a free chunk or the top, a block shrunk in place. */
  | {
      /** What happened. */
      type: "split";
      /** The chunk before. */
      from: ChunkInfo;
      /** The chunks it became, lowest first. */
      into: ChunkInfo[];
    }
  /** Several chunks became one: a freed block coalesced with free neighbours or the top, a block grown into its free neighbour. */
  | {
      /** What happened. */
      type: "merge";
      /** The chunks before, lowest first. */
      from: ChunkInfo[];
      /** The chunk they became. */
      into: ChunkInfo;
    }
  /** Several chunks became several others: a block grown or shrunk with its free neighbour taking the rest. */
  | {
      /** What happened. */
      type: "reshape";
      /** The chunks before, lowest first. */
      from: ChunkInfo[];
      /** The chunks after, lowest first. */
      into: ChunkInfo[];
    }
  /** One chunk kept its bytes and changed kind: a free chunk handed out whole, a block freed between two blocks. */
  | {
      /** What happened. */
      type: "mark";
      /** The chunk before. */
      from: ChunkInfo;
      /** The same chunk after. */
      into: ChunkInfo;
    }
  /** A free chunk moved from one bin to another (allocators that say which bin: glibc's tcache, fastbins, unsorted, small, large). */
  | {
      /** What happened. */
      type: "rebin";
      /** The chunk in its old bin (`bin`). */
      from: ChunkInfo;
      /** The same chunk in its new bin. */
      into: ChunkInfo;
    }
  /** One chunk kept its address and changed size: the top, when the break moved. */
  | {
      /** What happened. */
      type: "resize";
      /** The chunk before. */
      from: ChunkInfo;
      /** The same chunk after. */
      into: ChunkInfo;
    }
  /** Chunks where there were none: the heap set up on its first call. */
  | {
      /** What happened. */
      type: "new";
      /** The chunks, lowest first. */
      into: ChunkInfo[];
    }
  /** Chunks gone with nothing in their place. */
  | {
      /** What happened. */
      type: "gone";
      /** The chunks, lowest first. */
      from: ChunkInfo[];
    }
  /** A free chunk became available for reuse (it went into a bin; in vmheap also: became the designated victim). */
  | {
      /** What happened. */
      type: "bin-in";
      /** The free chunk. */
      chunk: ChunkInfo;
    }
  /** A free chunk stopped being available (taken from its bin, or merged into a bigger one). */
  | {
      /** What happened. */
      type: "bin-out";
      /** The free chunk. */
      chunk: ChunkInfo;
    }
  /** The end of the top chunk moved: `sbrk` grew the heap, or a trim gave memory back. */
  | {
      /** What happened. */
      type: "brk";
      /** The top's end (the break) before. */
      from: number;
      /** The top's end after. */
      to: number;
    }
  /** A block got a mapping of its own. */
  | {
      /** What happened. */
      type: "mmap";
      /** The block and its mapping. */
      block: MappedBlockInfo;
    }
  /** A block's own mapping was unmapped. */
  | {
      /** What happened. */
      type: "munmap";
      /** The block and the mapping it had. */
      block: MappedBlockInfo;
    };

/** The end of the top chunk (where the heap's break is), or -1 when there is no top (a heap not set up yet). */
const topEnd = (cs: readonly ChunkInfo[]): number => {
  for (let i = cs.length - 1; i >= 0; i--) if (cs[i]!.kind === "top") return cs[i]!.address + cs[i]!.size;
  return -1;
};

/** A used chunk past the top's end is a block in a mapping of its own, listed with the chunks. */
const asBlock = (c: ChunkInfo): MappedBlockInfo => ({ ptr: c.ptr, start: c.address, length: c.size, usable: c.usable });

/**
 * The heap events a change of chunks (and of mapped blocks) shows. `before` and `after` are
 * the chunk lists the change was made from, for the heap's end. Events come in address order:
 * first the reshaping of each group of overlapping chunks with its bin moves, then the break,
 * then the mappings.
 */
export function heapEvents(before: readonly ChunkInfo[], after: readonly ChunkInfo[], chunks: ListChange<ChunkInfo> | undefined, mapped: ListChange<MappedBlockInfo> | undefined): HeapEvent[] {
  const out: HeapEvent[] = [];
  const endA = topEnd(before);
  const endB = topEnd(after);
  // A used chunk past the top's end is a mapped block listed with the chunks.
  const inHeap = (c: ChunkInfo, end: number): boolean => end < 0 || c.kind !== "used" || c.address < end;
  if (chunks !== undefined) {
    // Sweep the old and new chunks in address order; a group ends where no chunk of it reaches
    // past the next one's start (chunks only added, or only removed, that touch stay together).
    // A chunk of size 0, an empty top, still covers its address. The top (old or new) reaches
    // to the end: what the heap grew or shrank by belongs with it.
    const all = [
      ...chunks.removed.filter((c) => inHeap(c, endA)).map((c) => ({ c, old: true })),
      ...chunks.added.filter((c) => inHeap(c, endB)).map((c) => ({ c, old: false })),
    ].sort((x, y) => x.c.address - y.c.address || Number(y.old) - Number(x.old));
    let from: ChunkInfo[] = [];
    let into: ChunkInfo[] = [];
    let reach = -1;
    const flush = (): void => {
      if (from.length + into.length > 0) group(from, into, out);
      from = [];
      into = [];
    };
    for (const { c, old } of all) {
      const oneSided = from.length === 0 ? !old : into.length === 0 && old;
      if (c.address > reach || (c.address === reach && !oneSided)) flush();
      (old ? from : into).push(c);
      reach = c.kind === "top" ? Infinity : Math.max(reach, c.address + Math.max(c.size, 1));
    }
    flush();
    const gone = chunks.removed.filter((c) => !inHeap(c, endA));
    const came = chunks.added.filter((c) => !inHeap(c, endB));
    for (const c of gone) if (!came.some((x) => x.address === c.address)) out.push({ type: "munmap", block: asBlock(c) });
    for (const c of came) if (!gone.some((x) => x.address === c.address)) out.push({ type: "mmap", block: asBlock(c) });
  }
  if (endA >= 0 && endB >= 0 && endA !== endB) out.push({ type: "brk", from: endA, to: endB });
  if (mapped !== undefined) {
    for (const block of mapped.removed) if (!mapped.added.some((x) => x.ptr === block.ptr)) out.push({ type: "munmap", block });
    for (const block of mapped.added) if (!mapped.removed.some((x) => x.ptr === block.ptr)) out.push({ type: "mmap", block });
  }
  return out;
}

/** The event for one group of overlapping chunks that went (`from`) and came (`into`), then its bin moves. */
function group(from: ChunkInfo[], into: ChunkInfo[], out: HeapEvent[]): void {
  if (from.length === 1 && into.length === 1) {
    const [f, t] = [from[0]!, into[0]!];
    if (f.size !== t.size) out.push({ type: "resize", from: f, into: t });
    else if (f.kind === t.kind && f.kind === "free") {
      out.push({ type: "rebin", from: f, into: t });
      return; // it stayed free: no bin-out, bin-in
    } else out.push({ type: "mark", from: f, into: t });
  } else if (from.length === 0) out.push({ type: "new", into });
  else if (into.length === 0) out.push({ type: "gone", from });
  else if (from.length === 1) out.push({ type: "split", from: from[0]!, into });
  else if (into.length === 1) out.push({ type: "merge", from, into: into[0]! });
  else out.push({ type: "reshape", from, into });
  for (const c of from) if (c.kind === "free") out.push({ type: "bin-out", chunk: c });
  for (const c of into) if (c.kind === "free") out.push({ type: "bin-in", chunk: c });
}

const hex = (n: number): string => "0x" + n.toString(16);
const chunk = (c: ChunkInfo): string => `${c.kind} ${hex(c.address)} (${c.size} B)`;
const list = (cs: readonly ChunkInfo[]): string => cs.map(chunk).join(" + ");
/** "tcache", "fastbin", "unsorted bin", "small bin", "large bin"; "bin" for an allocator that does not say. */
const binOf = (c: ChunkInfo): string => (c.bin === undefined ? "bin" : /bin$|^tcache$/.test(c.bin) ? c.bin : `${c.bin} bin`);

/**
 * One line of English for a heap event, e.g. `split top 0x4a0 (63376 B) into used 0x4a0
 * (112 B) + top 0x510 (63264 B)`.
 * @example
 * ```ts
 * import { Heap, HeapRecorder, describeHeapEvent } from "vmheap";
 *
 * const rec = new HeapRecorder(new Heap());
 * const a = rec.malloc(100);
 * rec.malloc(100);
 * rec.free(a);
 * const last = rec.recording().steps[2];
 * console.log(last.heap.map((e) => `${e.type}: ${describeHeapEvent(e)}`).join("\n"));
 * // mark: 0x820 (112 B): used → free
 * // bin-in: bin ← free 0x820 (112 B)
 * ```
 */
export function describeHeapEvent(e: HeapEvent): string {
  switch (e.type) {
    case "split":
      return `split ${chunk(e.from)} into ${list(e.into)}`;
    case "merge":
      return `merged ${list(e.from)} into ${chunk(e.into)}`;
    case "reshape":
      return `reshaped ${list(e.from)} into ${list(e.into)}`;
    case "mark":
      return `${hex(e.from.address)} (${e.from.size} B): ${e.from.kind} → ${e.into.kind}`;
    case "rebin":
      return `free ${hex(e.from.address)} (${e.from.size} B): ${binOf(e.from)} → ${binOf(e.into)}`;
    case "resize":
      return `${e.from.kind} ${hex(e.from.address)}: ${e.from.size} B → ${e.into.size} B`;
    case "new":
      return `new chunks ${list(e.into)}`;
    case "gone":
      return `chunks gone: ${list(e.from)}`;
    case "bin-in":
      return `${binOf(e.chunk)} ← free ${hex(e.chunk.address)} (${e.chunk.size} B)`;
    case "bin-out":
      return `${binOf(e.chunk)} → free ${hex(e.chunk.address)} (${e.chunk.size} B)`;
    case "brk":
      return `brk ${hex(e.from)} → ${hex(e.to)} (${e.to > e.from ? "+" : ""}${e.to - e.from} B)`;
    case "mmap":
      return `mmap ${hex(e.block.start)} (${e.block.length} B) for ${hex(e.block.ptr)}`;
    case "munmap":
      return `munmap ${hex(e.block.start)} (${e.block.length} B) of ${hex(e.block.ptr)}`;
  }
}
