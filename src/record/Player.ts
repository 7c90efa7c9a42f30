/**
 * A player: the state of a recorded heap (and address space) at any step, reached forwards or
 * backwards, for a timeline that steps through a program's allocations.
 *
 * ```text
 *   initial ─step 1─▶ state 1 ─step 2─▶ state 2 ─ … ─▶ state n       stateAt(k): after k steps
 *              ◀── each step's diff applies both ways ──▶
 *   kept: the state where the player stands, and one state every 64 steps it has passed;
 *   stateAt(k) starts from whichever of them is nearest k
 * ```
 */
import { errnoName } from "../errno.js";
import { ArgumentError, hex } from "../errors.js";
import { applyDiff, type RecordedState } from "./diff.js";
import { describeHeapEvent } from "./events.js";
import { RECORDING_VERSION, type RecordedStep, type Recording } from "./Recorder.js";
import { checkAddressSpaceSnapshot, checkHeapSnapshot } from "./snapshot.js";

/** A state a {@link Player} rebuilt: after `step` steps. */
export interface PlayerState extends RecordedState {
  /** Steps applied to the initial state: 0 … `player.length`. */
  step: number;
}

/** Steps between two states the player keeps (a seek applies at most half this many steps past a kept state it has visited). */
const KEEP_EVERY = 64;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks that `v` is a {@link Recording} this version of vmheap reads: its format tag and
 * version, its initial snapshots, and the shape of each step.
 * @throws ArgumentError saying what is wrong
 * @example
 * ```ts
 * import { ArgumentError, Heap, HeapRecorder, checkRecording } from "vmheap";
 *
 * const rec = new HeapRecorder(new Heap());
 * rec.malloc(10);
 * const json: unknown = JSON.parse(JSON.stringify(rec.recording()));
 * checkRecording(json); // passes: json is a Recording from here on
 * console.log(json.steps.length); // 1
 * try {
 *   checkRecording({ format: "vmheap-recording", version: 99 });
 * } catch (e) {
 *   console.log(e instanceof ArgumentError, (e as Error).message); // true recording: version 99 is not supported (this is version 1)
 * }
 * ```
 */
export function checkRecording(v: unknown): asserts v is Recording {
  if (!isObj(v)) throw new ArgumentError("recording: not an object");
  if (v.format !== "vmheap-recording") throw new ArgumentError(`recording: format must be "vmheap-recording", got ${JSON.stringify(v.format)}`);
  if (v.version !== RECORDING_VERSION) throw new ArgumentError(`recording: version ${String(v.version)} is not supported (this is version ${RECORDING_VERSION})`);
  if (!isObj(v.initial)) throw new ArgumentError("recording: initial must be { heap, as }");
  checkHeapSnapshot(v.initial.heap, "recording: initial.heap");
  if (v.initial.as !== null) checkAddressSpaceSnapshot(v.initial.as, "recording: initial.as");
  if (!Array.isArray(v.steps)) throw new ArgumentError("recording: steps must be a list");
  v.steps.forEach((s: unknown, i) => {
    if (!isObj(s) || typeof s.op !== "string" || typeof s.label !== "string" || !isObj(s.diff) || !Array.isArray(s.heap) || !Array.isArray(s.vm) || !Array.isArray(s.probe)) {
      throw new ArgumentError(`recording: step ${i + 1} must have op, label, heap, vm, probe and diff`);
    }
  });
}

/**
 * One line for a step: the call and its result, then what happened inside, e.g.
 * `malloc(100) = 0x4b0: split top 0x4a0 (63376 B) into used 0x4a0 (112 B) + top 0x510 (63264 B)`.
 * @example
 * ```ts
 * import { Heap, HeapRecorder, describeStep } from "vmheap";
 *
 * const rec = new HeapRecorder(new Heap());
 * const p = rec.malloc(100);
 * rec.realloc(p, 50);
 * rec.malloc(-1);
 * console.log(rec.recording().steps.map(describeStep).join("\n"));
 * // malloc(100) = 0x830: split top 0x820 (4096 B) into used 0x820 (112 B) + top 0x890 (3984 B)
 * // realloc(0x830, 50) = 0x830: reshaped used 0x820 (112 B) + top 0x890 (3984 B) into used 0x820 (64 B) + top 0x860 (4032 B)
 * // malloc(-1) = NULL (errno ENOMEM)
 * ```
 */
export function describeStep(step: RecordedStep): string {
  let head = step.label;
  // errno is sticky, as in C: name it only where this step set it.
  const setErrno = step.diff.totals?.errno !== undefined ? ` (errno ${errnoName(step.errno)})` : "";
  if (step.error !== null) head += ` threw ${step.error.name}: ${step.error.message}`;
  else if (step.op === "posixMemalign") head += step.err === 0 ? ` = 0, ptr ${hex(step.result ?? 0)}` : ` = ${errnoName(step.err ?? 0)}`;
  else if (step.op === "mallocTrim" || step.op === "mallopt" || (step.op === "run" && step.result !== null)) head += ` = ${String(step.result)}`;
  else if (step.result !== null) head += step.result === 0 ? ` = NULL${setErrno}` : ` = ${hex(step.result)}`;
  const inside = step.heap.map(describeHeapEvent);
  // Faults by cause: "15 page faults (anonymous)", "3 page faults (2 anonymous, 1 swap-in)".
  const causes = new Map<string, number>();
  for (const e of step.vm) if (e.type === "fault") causes.set(e.cause, (causes.get(e.cause) ?? 0) + 1);
  const faults = [...causes.values()].reduce((a, b) => a + b, 0);
  if (faults > 0) {
    const why = causes.size === 1 ? [...causes.keys()][0]! : [...causes].map(([c, n]) => `${n} ${c}`).join(", ");
    inside.push(`${faults} page fault${faults === 1 ? "" : "s"} (${why})`);
  }
  const evictions = step.vm.filter((e) => e.type === "evict").length;
  if (evictions > 0) inside.push(`${evictions} eviction${evictions === 1 ? "" : "s"}`);
  const d = step.diff;
  const pages = d.pages === undefined ? 0 : new Set([...d.pages.removed, ...d.pages.added].map((p) => p.address)).size;
  if (pages > 0) inside.push(`${pages} page${pages === 1 ? "" : "s"} changed`);
  if (d.regions !== undefined) inside.push("regions changed");
  return inside.length > 0 ? `${head}: ${inside.join("; ")}` : head;
}

/**
 * Steps through a {@link Recording}: `stateAt(k)` is the heap (and address space) after the
 * first `k` steps, rebuilt from the recorded changes, in any order. Needs no heap: a recording
 * read from JSON plays anywhere.
 * @example
 * ```ts
 * import { Heap, HeapRecorder, Player, describeStep } from "vmheap";
 *
 * const rec = new HeapRecorder(new Heap());
 * const p = rec.malloc(100);
 * rec.free(p);
 * // a recording is plain JSON: store it, send it, play it elsewhere
 * const player = new Player(JSON.parse(JSON.stringify(rec.recording())));
 * console.log(player.length, player.stateAt(1).heap.chunks.map((c) => c.kind)); // 2 [ 'meta', 'used', 'top' ]
 * // the state before malloc, rebuilt from the recorded changes
 * console.log(player.stateAt(0).heap.mallinfo.uordblks); // 2080
 * console.log(describeStep(player.steps[1])); // free(0x830): merged used 0x820 (112 B) + top 0x890 (3984 B) into top 0x820 (4096 B)
 * ```
 */
export class Player {
  /** The recording's steps. */
  readonly steps: readonly RecordedStep[];
  private readonly kept: Map<number, RecordedState>;
  private at: number;
  private cur: RecordedState;

  /** @throws ArgumentError when `recording` is not a version-1 recording */
  constructor(recording: Recording) {
    checkRecording(recording);
    this.steps = recording.steps;
    this.cur = recording.initial;
    this.at = 0;
    this.kept = new Map([[0, this.cur]]);
  }

  /** Number of steps: `stateAt` takes 0 … `length`. */
  get length(): number {
    return this.steps.length;
  }

  /**
   * The state after the first `step` steps (0: the initial state), as a fresh copy the caller
   * may keep or change.
   * @throws ArgumentError when `step` is not an integer from 0 to `length`, or when the
   *   recording's steps do not apply to one another (a hand-edited or truncated recording)
   */
  stateAt(step: number): PlayerState {
    if (!Number.isInteger(step) || step < 0 || step > this.steps.length) {
      throw new ArgumentError(`Player.stateAt: step must be an integer from 0 to ${this.steps.length}, got ${String(step)}`);
    }
    this.seek(step);
    return { step, ...structuredClone(this.cur) };
  }

  /** One line describing step `step` (1 … `length`): the step that leads to `stateAt(step)`. */
  describe(step: number): string {
    if (!Number.isInteger(step) || step < 1 || step > this.steps.length) {
      throw new ArgumentError(`Player.describe: step must be an integer from 1 to ${this.steps.length}, got ${String(step)}`);
    }
    return describeStep(this.steps[step - 1]!);
  }

  private seek(k: number): void {
    // Start from the nearest of: where the player stands, and the kept states around k.
    let from = this.at;
    for (const c of [Math.floor(k / KEEP_EVERY) * KEEP_EVERY, Math.ceil(k / KEEP_EVERY) * KEEP_EVERY]) {
      if (this.kept.has(c) && Math.abs(c - k) < Math.abs(from - k)) from = c;
    }
    if (from !== this.at) {
      this.cur = this.kept.get(from)!;
      this.at = from;
    }
    while (this.at < k) {
      this.cur = this.apply(this.at + 1, true);
      this.at++;
      if (this.at % KEEP_EVERY === 0) this.kept.set(this.at, this.cur);
    }
    while (this.at > k) {
      this.cur = this.apply(this.at, false);
      this.at--;
    }
  }

  /** Step `n` (1-based) applied forwards to the state before it, or backwards to the state after it. */
  private apply(n: number, forward: boolean): RecordedState {
    try {
      return applyDiff(this.cur, this.steps[n - 1]!.diff, forward);
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(`recording: step ${n} does not apply ${forward ? "forwards" : "backwards"}: ${e.message}`);
      throw e;
    }
  }
}
