/**
 * Model-based test of recording and playing: random heap calls are made through a
 * HeapRecorder; then, for random steps k visited in random order (forwards and backwards, far
 * and near jumps), `player.stateAt(k)` must equal the snapshot of a fresh heap (and, for a
 * process, of its address space) on which the first k calls were replayed directly, without a
 * recorder. The replay shares nothing with the player: it re-executes the calls.
 *
 * Runs on a heap over linear memory, on a process's heap (blocks at or over the mmap
 * threshold get mappings of their own; the address space's regions, pages and counters are
 * compared too) and on the glibc model over linear memory, each through a JSON round trip of
 * the recording.
 *
 * Reproduce a failure with FC_SEED=<printed seed>; FC_RUNS=n changes the number of runs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GlibcHeap, Heap, HeapRecorder, LinearMemory, PhysicalMemory, Player, Process, snapshotAddressSpace, snapshotHeap, type Recording } from "../../src/index.js";
import type { RecordedState } from "../../src/record/diff.js";
import { fcSeed } from "../helpers/common.js";

type Op =
  | { k: "malloc"; size: number }
  | { k: "calloc"; n: number; size: number }
  | { k: "realloc"; i: number; size: number }
  | { k: "free"; i: number }
  | { k: "memalign"; align: number; size: number }
  | { k: "posix"; align: number; size: number }
  | { k: "trim"; pad: number }
  | { k: "doubleFree"; i: number };

/** What a replay needs of a heap: the recorder and the heap both have these. */
type Calls = Pick<HeapRecorder, "malloc" | "calloc" | "realloc" | "free" | "memalign" | "posixMemalign" | "mallocTrim">;

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 600 }) },
  { weight: 2, arbitrary: fc.integer({ min: 600, max: 20_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 120_000, max: 300_000 }) }, // around the mmap threshold
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: size.map((s) => ({ k: "malloc" as const, size: s })) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("calloc" as const), n: fc.integer({ min: 0, max: 8 }), size: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("realloc" as const), i: fc.nat(), size }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("free" as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("memalign" as const), align: fc.constantFrom(16, 64, 256, 4096), size: fc.integer({ min: 1, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("posix" as const), align: fc.constantFrom(8, 24, 32, 1024), size: fc.integer({ min: 0, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("trim" as const), pad: fc.constantFrom(0, 4096) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("doubleFree" as const), i: fc.nat() }) },
);

/**
 * Runs `ops` against `h`, keeping its own table of live pointers (a free takes a live block by
 * index; a double free frees again a pointer freed before, which must throw).
 */
function replay(h: Calls, ops: readonly Op[], tick?: (n: number) => void, doubleFrees = true): void {
  const live: number[] = [];
  const freed: number[] = [];
  const keep = (p: number): void => {
    if (p !== 0) live.push(p);
  };
  for (let n = 0; n < ops.length; n++) {
    tick?.(n);
    const op = ops[n]!;
    switch (op.k) {
      case "malloc":
        keep(h.malloc(op.size));
        break;
      case "calloc":
        keep(h.calloc(op.n, op.size));
        break;
      case "realloc": {
        if (live.length === 0) break;
        const j = op.i % live.length;
        const q = h.realloc(live[j]!, op.size);
        if (q !== 0) live[j] = q;
        else if (op.size === 0) freed.push(...live.splice(j, 1));
        break;
      }
      case "free": {
        if (live.length === 0) break;
        const [p] = live.splice(op.i % live.length, 1);
        h.free(p!);
        freed.push(p!);
        break;
      }
      case "memalign":
        keep(h.memalign(op.align, op.size));
        break;
      case "posix":
        keep(h.posixMemalign(op.align, op.size).ptr);
        break;
      case "trim":
        h.mallocTrim(op.pad);
        break;
      case "doubleFree": {
        if (!doubleFrees) break;
        // Only pointers no live block has reused: freeing those again is a double free.
        const stale = freed.filter((p) => !live.includes(p));
        if (stale.length === 0) break;
        expect(() => h.free(stale[op.i % stale.length]!)).toThrow(/double free|invalid pointer/);
        break;
      }
    }
  }
  tick?.(ops.length);
}

interface Target {
  name: string;
  /** A fresh heap and its address space (null on linear memory), always the same. */
  make(): { heap: Heap; state(): RecordedState };
  runs: number;
  /** Whether every double free throws (glibc catches only some: the others corrupt its bins, as in C). */
  doubleFrees: boolean;
}

const LINEAR_T: Target = {
  name: "linear",
  make: () => {
    const heap = new Heap({ maxBytes: 32 * 1024 * 1024 });
    return { heap, state: () => ({ heap: snapshotHeap(heap), as: null }) };
  },
  runs: 60,
  doubleFrees: true,
};

const PROCESS_T: Target = {
  name: "process",
  make: () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 2048, shared: false }), heap: { mmapThreshold: 128 * 1024 } });
    const heap = proc.heap;
    return { heap, state: () => ({ heap: snapshotHeap(heap), as: snapshotAddressSpace(proc.as) }) };
  },
  runs: 25,
  doubleFrees: true,
};

const GLIBC_T: Target = {
  name: "glibc",
  make: () => {
    const heap = GlibcHeap.linear(new LinearMemory({ maxBytes: 32 * 1024 * 1024 }));
    return { heap, state: () => ({ heap: snapshotHeap(heap), as: null }) };
  },
  runs: 40,
  doubleFrees: false,
};

describe.each([LINEAR_T, PROCESS_T, GLIBC_T])("recording and playing a $name heap", (t) => {
  it("stateAt(k), in any order, equals a fresh replay of the first k calls", () => {
    const seed = fcSeed(`Player model (${t.name})`);
    const runs = Number(process.env.FC_RUNS ?? t.runs);
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: t.name === "process" ? 50 : 150 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }), (ops, picks) => {
        const { heap } = t.make();
        const rec = new HeapRecorder(heap);
        // opsBefore[k]: how many ops had run when step k began (an op that reaches no heap
        // call, a free with nothing live, makes no step; every other op makes one).
        const opsBefore: number[] = [];
        replay(rec, ops, (n) => {
          if (opsBefore.length === rec.length) opsBefore.push(n);
        }, t.doubleFrees);
        const recording = JSON.parse(JSON.stringify(rec.recording())) as Recording;
        rec.stop();
        const player = new Player(recording);
        // Every recorded call is one step (a call that changes nothing is still a step).
        const calls = player.length;
        expect(player.steps.every((s) => s.op !== "outside")).toBe(true);
        expect(opsBefore.length).toBe(calls + 1);
        const ks = [...picks.map((x) => Math.round(x * calls)), calls, 0, Math.floor(calls / 2)];
        for (const k of ks) {
          const fresh = t.make();
          replay(fresh.heap, ops.slice(0, opsBefore[k]), undefined, t.doubleFrees);
          const got = player.stateAt(k);
          expect(got.step).toBe(k);
          expect({ heap: got.heap, as: got.as }).toEqual(fresh.state());
        }
      }),
      { seed, numRuns: runs },
    );
  });
});
