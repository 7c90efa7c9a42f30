/**
 * A recorder: calls a heap's malloc family for you and keeps, for every call, its arguments,
 * result and errno, what happened inside the heap (splits, merges, bin moves, the break,
 * mappings) and in its address space (faults, evictions, swap-ins, copy-on-write copies), and
 * how the state changed, as plain JSON that a {@link Player} steps through.
 *
 * ```text
 *   rec.malloc(100) ─▶ snapshot before ─▶ heap.malloc(100) ─▶ snapshot after
 *                                          │ as.on(event)         │
 *                                          ▼                      ▼
 *   step { op: "malloc", args: [100], result, errno, vm: [fault…], heap: [split…], diff }
 * ```
 *
 * Heap events are read from the snapshots (see `events.ts`), not reported by the engine: the
 * heap is the same object, as fast as ever, whether a recorder drives it or not. Changes made
 * between two recorded calls (the program's stores faulting pages in; on linear memory also
 * another caller of the heap) are kept too, as a step of their own (`op: "outside"`), so that
 * every step applies to the state the previous one left.
 *
 * Reading a process's heap is itself a run of loads through its address space, so the
 * recorder reads it once per recorded call, after it; between calls it looks only at the
 * address space (a snapshot of that reads the page table, without side effects).
 */
import { ArgumentError, checkOptions, type OptionKeys } from "../errors.js";
import type { Heap, HeapMemory } from "../heap/Heap.js";
import { AddressSpace, type VmEvent } from "../vm/AddressSpace.js";
import { diffIsEmpty, diffStates, type RecordedState, type StateDiff } from "./diff.js";
import { heapEvents, type HeapEvent } from "./events.js";
import { snapshotAddressSpace, snapshotHeap } from "./snapshot.js";

/** Version of the {@link Recording} shape. */
export const RECORDING_VERSION = 1;

/** The heap calls a {@link HeapRecorder} makes and records. */
export type HeapCall = "malloc" | "calloc" | "realloc" | "reallocarray" | "free" | "posixMemalign" | "alignedAlloc" | "memalign" | "mallocTrim" | "mallopt";

/** One step of a recording: a heap call, a {@link HeapRecorder.run} action, or what changed between two of them. */
export interface RecordedStep {
  /** A heap call; `"run"`: an action given to {@link HeapRecorder.run}; `"outside"`: changes between two recorded steps. */
  op: HeapCall | "run" | "outside";
  /** The call as C would write it (`malloc(100)`, `free(0x4b0)`), or the action's label. */
  label: string;
  /** The call's arguments (pointers as numbers); empty for `"run"` and `"outside"`. */
  args: number[];
  /** What the call returned (a pointer, `0`/`1` for `mallocTrim`/`mallopt`, the pointer for `posixMemalign`); null for `free`, `"outside"`, a `run` that returned no number, and a call that threw. */
  result: number | null;
  /** `posixMemalign`'s return code (0, EINVAL or ENOMEM); absent for the other calls. */
  err?: number;
  /** The heap's `errno` after the step. */
  errno: number;
  /** The error the call threw (`DoubleFreeError`, …), or null. */
  error: {
    /** The error's class: `"DoubleFreeError"`, … */
    name: string;
    /** Its message, as thrown. */
    message: string;
  } | null;
  /** What happened inside the heap, derived from its chunks before and after. */
  heap: HeapEvent[];
  /** The address space's events during the step, in order (empty without an address space). */
  vm: VmEvent[];
  /**
   * Events the recorder's own reads caused after the step: reading a process heap's chunk
   * headers faults in a header page that was swapped out. Not the program's doing; their
   * effect on the address space is in `diff`. Empty without memory pressure.
   */
  probe: VmEvent[];
  /** How the state changed: applied forwards and backwards by a {@link Player}. */
  diff: StateDiff;
}

/** A recording (version 1): the state it starts from and its steps. JSON as it stands. */
export interface Recording {
  /** Always `"vmheap-recording"`. */
  format: "vmheap-recording";
  /** {@link RECORDING_VERSION}. */
  version: number;
  /** The state before the first step. */
  initial: RecordedState;
  /** The steps, in order. */
  steps: RecordedStep[];
}

/** Options for a {@link HeapRecorder}. */
export interface RecorderOptions {
  /**
   * The address space whose events and state are recorded, or null for none.
   * @defaultValue the heap's memory when it is an {@link AddressSpace} (a process's heap), else null
   */
  addressSpace?: AddressSpace | null;
}

/** The keys of {@link RecorderOptions}, for `checkOptions`. */
const OPTION_KEYS: OptionKeys<RecorderOptions> = { addressSpace: 1 };

/** What a {@link HeapRecorder} drives: any heap (`new Heap()`, `process.heap`). */
export type RecordableHeap = Pick<
  Heap<HeapMemory>,
  | "memory"
  | "errno"
  | "base"
  | "alignment"
  | "malloc"
  | "calloc"
  | "realloc"
  | "reallocarray"
  | "free"
  | "posixMemalign"
  | "alignedAlloc"
  | "memalign"
  | "mallocTrim"
  | "mallopt"
  | "mallocUsableSize"
  | "mallinfo"
  | "mallocFootprint"
  | "mallocMaxFootprint"
  | "chunks"
>;

const hex = (n: number): string => (Number.isInteger(n) && n >= 0 ? "0x" + n.toString(16) : String(n));

/**
 * Drives a heap and records every call, as a {@link Recording} a {@link Player} can step
 * through forwards and backwards. Call the heap through the recorder (`rec.malloc(n)` instead
 * of `heap.malloc(n)`). Calls made on a heap over linear memory directly are still caught, as
 * an `"outside"` step without their arguments; on a process's heap they show in the next
 * recorded step's changes. Each recorded call costs a snapshot or two, O(chunks) (and
 * O(pages) with an address space): a tool for teaching and debugging, not for production.
 *
 * With a process's heap, the snapshot after each call reads chunk headers through the address
 * space: like any load, that sets accessed bits and TLB entries, and faults in a header page
 * that was swapped out (such faults are in the step's `probe` list, not in `vm`).
 * @example
 * ```ts
 * import { Heap, HeapRecorder, Player, describeHeapEvent } from "vmheap";
 *
 * const rec = new HeapRecorder(new Heap());
 * const p = rec.malloc(100);
 * rec.free(p);
 * const player = new Player(rec.recording()); // or from JSON.parse(JSON.stringify(...))
 * console.log(player.steps.map((s) => s.label)); // [ 'malloc(100)', 'free(0x830)' ]
 * console.log(player.steps[0].heap.map(describeHeapEvent).join("\n")); // split top 0x820 (4096 B) into used 0x820 (112 B) + top 0x890 (3984 B)
 * // the chunks right after malloc(100)
 * console.log(player.stateAt(1).heap.chunks.map((c) => `${c.kind} ${c.size}`)); // [ 'meta 272', 'used 112', 'top 3984' ]
 * ```
 */
export class HeapRecorder {
  /** The heap recorded. */
  readonly heap: RecordableHeap;
  /** The address space recorded, or null. */
  readonly addressSpace: AddressSpace | null;

  private readonly initial: RecordedState;
  private readonly steps: RecordedStep[];
  /** The state after the last step. */
  private last: RecordedState;
  /** Events since the last step ended. */
  private pending: VmEvent[];
  /** Set while the recorder reads the heap: the reads' own events are not the program's. */
  private probing: boolean;
  /** Events the recorder's reads caused since the last step ended. */
  private probed: VmEvent[];
  private readonly unsubscribe: (() => void) | null;

  constructor(heap: RecordableHeap, opts: RecorderOptions = {}) {
    checkOptions(opts, "HeapRecorder", OPTION_KEYS);
    if (typeof heap !== "object" || heap === null || typeof heap.chunks !== "function" || typeof heap.malloc !== "function") {
      throw new ArgumentError("HeapRecorder: heap must be a Heap (or have its malloc family and chunks())");
    }
    const as = opts.addressSpace !== undefined ? opts.addressSpace : heap.memory instanceof AddressSpace ? heap.memory : null;
    if (as !== null && !(as instanceof AddressSpace)) throw new ArgumentError("HeapRecorder: addressSpace must be an AddressSpace or null");
    this.heap = heap;
    this.addressSpace = as;
    this.steps = [];
    this.pending = [];
    this.probing = false;
    this.probed = [];
    this.unsubscribe = as === null ? null : as.on((e) => {
      (this.probing ? this.probed : this.pending).push(e);
    });
    this.initial = this.snapshot(true);
    this.probed = [];
    this.last = this.initial;
  }

  /** Steps recorded so far. */
  get length(): number {
    return this.steps.length;
  }

  /** `malloc(size)`, recorded. */
  malloc(size: number): number {
    return this.call("malloc", [size], () => this.heap.malloc(size));
  }
  /** `calloc(nmemb, size)`, recorded. */
  calloc(nmemb: number, size: number): number {
    return this.call("calloc", [nmemb, size], () => this.heap.calloc(nmemb, size));
  }
  /** `realloc(ptr, size)`, recorded. */
  realloc(ptr: number, size: number): number {
    return this.call("realloc", [ptr, size], () => this.heap.realloc(ptr, size));
  }
  /** `reallocarray(ptr, nmemb, size)`, recorded. */
  reallocarray(ptr: number, nmemb: number, size: number): number {
    return this.call("reallocarray", [ptr, nmemb, size], () => this.heap.reallocarray(ptr, nmemb, size));
  }
  /** `free(ptr)`, recorded (a throw, e.g. `DoubleFreeError`, is recorded and rethrown). */
  free(ptr: number): void {
    this.call("free", [ptr], () => {
      this.heap.free(ptr);
      return null;
    });
  }
  /** `posix_memalign`, recorded: the step's `result` is the pointer, its `err` the return code. */
  posixMemalign(alignment: number, size: number): {
    /** 0, or the error: EINVAL or ENOMEM */
    err: number;
    /** The block, or 0 */
    ptr: number;
  } {
    let r = { err: 0, ptr: 0 };
    this.call("posixMemalign", [alignment, size], () => {
      r = this.heap.posixMemalign(alignment, size);
      return r.ptr;
    }, (s) => {
      s.err = r.err;
    });
    return r;
  }
  /** `aligned_alloc(alignment, size)`, recorded. */
  alignedAlloc(alignment: number, size: number): number {
    return this.call("alignedAlloc", [alignment, size], () => this.heap.alignedAlloc(alignment, size));
  }
  /** `memalign(alignment, size)`, recorded. */
  memalign(alignment: number, size: number): number {
    return this.call("memalign", [alignment, size], () => this.heap.memalign(alignment, size));
  }
  /** `malloc_trim(pad)`, recorded. */
  mallocTrim(pad = 0): 0 | 1 {
    return this.call("mallocTrim", [pad], () => this.heap.mallocTrim(pad));
  }
  /** `mallopt(param, value)`, recorded. */
  mallopt(param: number, value: number): 0 | 1 {
    return this.call("mallopt", [param, value], () => this.heap.mallopt(param, value));
  }

  /**
   * Runs `fn` as one step labelled `label`: anything that is not a heap call, such as the
   * program's loads and stores (`as.write32(p, 1)`: its faults are the step's events).
   * @returns what `fn` returned (it is the step's `result` when a number)
   * @example
   * ```ts
   * import { HeapRecorder, PhysicalMemory, Process, describeStep } from "vmheap";
   *
   * const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 1024 }) });
   * const rec = new HeapRecorder(proc.heap); // records proc.as too
   * const p = rec.malloc(8000);
   * // the program's own stores are a step too: their page faults are its events
   * rec.run("write the block", () => proc.as.writeBytes(p, new Uint8Array(8000).fill(7)));
   * console.log(describeStep(rec.recording().steps[1])); // write the block: 1 page fault (anonymous); 1 page changed
   * ```
   */
  run<R>(label: string, fn: () => R): R {
    if (typeof label !== "string") throw new ArgumentError("HeapRecorder.run: label must be a string");
    if (typeof fn !== "function") throw new ArgumentError("HeapRecorder.run: fn must be a function");
    let value!: R;
    this.call("run", [], () => {
      value = fn();
      return typeof value === "number" ? value : null;
    }, undefined, label);
    return value;
  }

  /**
   * The recording so far: the initial state and every step (changes made since the last step
   * first become an `"outside"` step). Plain data: `JSON.stringify` it as it is.
   */
  recording(): Recording {
    this.catchUp();
    return { format: "vmheap-recording", version: RECORDING_VERSION, initial: this.initial, steps: this.steps.slice() };
  }

  /** Stops listening to the address space's events. The recorder must not be used afterwards. */
  stop(): void {
    this.unsubscribe?.();
  }

  /**
   * The state now. `readHeap` false: the heap as the last step left it (a process's heap is
   * not read between calls), with the address space read afresh.
   */
  private snapshot(readHeap: boolean): RecordedState {
    const as = this.addressSpace;
    let heap = this.last?.heap;
    if (readHeap || as === null) {
      this.probing = true;
      try {
        heap = snapshotHeap(this.heap);
      } finally {
        this.probing = false;
      }
    }
    return { heap: heap!, as: as === null ? null : snapshotAddressSpace(as) };
  }

  /** Records the changes made since the last step as an `"outside"` step, if there are any. */
  private catchUp(): void {
    const now = this.snapshot(false);
    const diff = diffStates(this.last, now);
    if (this.pending.length === 0 && diffIsEmpty(diff)) return;
    this.push(now, diff, { op: "outside", label: "outside the recorder", args: [], result: null, error: null });
  }

  private push(after: RecordedState, diff: StateDiff, s: Pick<RecordedStep, "op" | "label" | "args" | "result" | "error">): RecordedStep {
    const step: RecordedStep = {
      op: s.op,
      label: s.label,
      args: s.args,
      result: s.result,
      errno: after.heap.errno,
      error: s.error,
      heap: heapEvents(this.last.heap.chunks, after.heap.chunks, diff.chunks, diff.mapped),
      vm: this.pending,
      probe: this.probed,
      diff,
    };
    this.pending = [];
    this.probed = [];
    this.steps.push(step);
    this.last = after;
    return step;
  }

  private call<R extends number | null>(op: HeapCall | "run", args: number[], fn: () => R, extra?: (s: RecordedStep) => void, label?: string): R {
    this.catchUp();
    let result: R | null = null;
    let error: unknown = null;
    try {
      result = fn();
    } catch (e) {
      error = e;
    }
    const after = this.snapshot(true);
    const text = label ?? `${op}(${args.map((a, i) => (i === 0 && (op === "realloc" || op === "reallocarray" || op === "free") ? hex(a) : String(a))).join(", ")})`;
    const err = error === null ? null : error instanceof Error ? { name: error.name, message: error.message } : { name: "Error", message: String(error) };
    const step = this.push(after, diffStates(this.last, after), { op, label: text, args, result: error === null ? result : null, error: err });
    if (extra !== undefined && error === null) extra(step);
    if (error !== null) throw error;
    return result as R;
  }
}
