/**
 * Robustness of `Heap` against a buggy program: writes past the end of a block, writes into
 * freed blocks, and garbage passed to free(). heap.md: a smashed header is "detected at the
 * latest by the next free/realloc/check touching it — never a silent wrong answer or an
 * infinite loop"; bad pointers throw before any state changes.
 *
 * The corruption scenarios run in a worker thread with a deadline each (helpers/isolated.ts):
 * a heap that loops on damaged metadata is reported as hung instead of hanging the run.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, DoubleFreeError, InvalidPointerError } from "../../src/index.js";
import {
  NEIGHBOURS,
  SIZE_TRANSFORMS,
  SMASH_OPS,
  smashVerdict,
  uafVerdict,
  type Outcome,
  type UafLink,
  type UafTarget,
} from "./helpers/corruption.js";
import { TARGETS, expectUnchanged, fcSeed, fillMem, memoryEnd, snapshot, type AnyHeap } from "./helpers/heapKit.js";
import { runIsolated, type Job, type JobResult } from "./helpers/isolated.js";

const seed = fcSeed("Heap.robustness");
/** Runs of each fast-check property over corruption (each run builds a heap). */
const CORRUPTION_RUNS = 150;

const GARBAGE: Record<string, number[]> = {
  "0xab x16": Array<number>(16).fill(0xab),
  "0xff x8": Array<number>(8).fill(0xff),
  "zeros x8": Array<number>(8).fill(0),
  "text x16": [..."overflow!overflow"].slice(0, 16).map((ch) => ch.charCodeAt(0)),
  "0x41 x12": Array<number>(12).fill(0x41),
};

const jobs: Job[] = [];
const expectations = new Map<string, (r: unknown) => string | null>();
function addJob<N extends Job["name"]>(id: string, name: N, params: Job<N>["params"], timeoutMs: number, verdict: (r: unknown) => string | null): string {
  jobs.push({ id, name, params, timeoutMs } as Job);
  expectations.set(id, verdict);
  return id;
}

// Overflow into the next chunk's header with garbage: the op touching it must detect it.
const smashGarbage: [string, string][] = [];
for (const neighbour of NEIGHBOURS) {
  for (const op of SMASH_OPS) {
    for (const [g, bytes] of Object.entries(GARBAGE)) {
      const id = addJob(`smash/${neighbour}/${op}/${g}`, "smash", { neighbour, op, bytes, offset: 0 }, 5000, (r) => smashVerdict(r as Outcome));
      smashGarbage.push([`${g} over the header of a${neighbour === "in-use" ? "n" : ""} ${neighbour === "top" ? "top chunk" : `${neighbour} neighbour`}, then ${op}`, id]);
    }
  }
}
// Plausible-looking damage: detected by the op or, at the latest, by the check() right after.
const smashPlausible: [string, string][] = [];
for (const neighbour of NEIGHBOURS) {
  for (const op of SMASH_OPS) {
    for (const transform of SIZE_TRANSFORMS) {
      const id = addJob(`smash/${neighbour}/${op}/${transform}`, "smash", { neighbour, op, bytes: [], offset: 0, transform }, 5000, (r) => smashVerdict(r as Outcome));
      smashPlausible.push([`${transform} on the size of the ${neighbour === "top" ? "top chunk" : `${neighbour} neighbour`}, then ${op}`, id]);
    }
  }
}
// Only the high half of the 8-byte size field (lp64): the size is now over 4 GiB.
const smashHigh: [string, string][] = NEIGHBOURS.map((neighbour) => [
  neighbour,
  addJob(`smash/${neighbour}/free/high-half`, "smash", { neighbour, op: "free", bytes: [1, 0, 0, 0], offset: 4 }, 5000, (r) => smashVerdict(r as Outcome)),
]);
// Use after free: named link values written into a freed block, checked or not.
const uafNamed: [string, string][] = [];
for (const link of ["self", "live", "zero", "other-free", "misaligned", "outside"] as Exclude<UafLink, null>[]) {
  for (const target of ["head", "middle", "tail"] as UafTarget[]) {
    for (const size of [100, 2000]) {
      for (const mode of ["check", "traffic"] as const) {
        const id = addJob(`uaf/${link}/${target}/${size}/${mode}`, "useAfterFree", { target, size, link, bytes: [], mode }, 5000, (r) => uafVerdict(r as Outcome, mode));
        uafNamed.push([`fd := ${link}, in the ${target} of a ${size < 1000 ? "small" : "large"} bin, then ${mode === "check" ? "check()" : "malloc/free traffic"}`, id]);
      }
    }
  }
}
// fast-check over random garbage, in the worker too.
const props: [string, string][] = [];
for (const neighbour of NEIGHBOURS) {
  props.push([
    `random 8..16 garbage bytes over the header of the ${neighbour === "top" ? "top chunk" : `${neighbour} neighbour`}: detected as for the fixed cases`,
    addJob(`prop/smash/${neighbour}`, "smashProperty", { neighbour, seed, numRuns: CORRUPTION_RUNS }, 60_000, (r) => r as string | null),
  ]);
}
for (const mode of ["check", "traffic"] as const) {
  props.push([
    mode === "check" ? "random bytes over a freed block's links: check() detects a changed link" : "random bytes over a freed block's links: malloc never hands out a live block, nor hangs",
    addJob(`prop/uaf/${mode}`, "uafProperty", { mode, seed, numRuns: CORRUPTION_RUNS }, 60_000, (r) => r as string | null),
  ]);
}

let results: Map<string, JobResult> | null = null;
beforeAll(async () => {
  results = await runIsolated(jobs);
}, 600_000);

function expectScenario(id: string): void {
  const r = results?.get(id);
  if (r === undefined) return expect.fail(`scenario ${id} did not run`);
  if (r.status === "hung") return expect.fail(`scenario ${id} hung (no answer within ${r.timeoutMs} ms)`);
  if (r.status === "error") return expect.fail(`scenario ${id} failed to run: ${r.message}`);
  const verdict = expectations.get(id)!(r.result);
  expect(verdict, `${id}: ${JSON.stringify(r.result)}`).toBeNull();
}

describe("a write past the end of a block that smashes the next header", () => {
  describe("garbage (an impossible size): the next free/realloc/check touching it throws HeapCorruptionError in glibc's words", () => {
    it.each(smashGarbage)("%s", (_, id) => expectScenario(id));
  });
  describe("plausible sizes and flags: detected by the op touching it or the check() after it (over the top: or absorbed)", () => {
    it.each(smashPlausible)("%s", (_, id) => expectScenario(id));
  });
  describe("only the high half of the 8-byte size field", () => {
    it.each(smashHigh)("next chunk %s, then free: the size is over 4 GiB, free detects it", (_, id) => expectScenario(id));
  });
});

describe("use after free: writes into a freed block's free-list links", () => {
  it.each(uafNamed)("%s: detected or harmless, never a block handed out twice, never a hang", (_, id) => expectScenario(id));
});

describe(`fast-check over corruption (seed ${seed}, ${CORRUPTION_RUNS} runs each)`, () => {
  it.each(props)("%s", (_, id) => expectScenario(id));
});

// On both kinds of heap. In a process the 300 000-byte block is a mapped block (unmapped by its
// free), and a live mapped block is added.
describe.each(TARGETS)("garbage passed to free() ($name heap)", (target) => {
  /** A heap with live blocks, freed blocks (in bins, merged, in the top) and a trimmed region. */
  function busyHeap(): { heap: AnyHeap; live: Set<number> } {
    const heap = target.make({ maxBytes: 2 << 20 });
    const live = new Set<number>();
    const ps: number[] = [];
    for (let i = 0; i < 60; i++) ps.push(heap.malloc((i * 37) % 700));
    ps.push(heap.posixMemalign(256, 100).ptr, heap.malloc(5000), heap.calloc(10, 10));
    for (let i = 0; i < ps.length; i += 3) heap.free(ps[i]!);
    const big = heap.malloc(300_000);
    live.add(heap.malloc(16));
    heap.free(big);
    for (const [i, p] of ps.entries()) if (i % 3 !== 0) live.add(p);
    if (target.mapsBigBlocks) live.add(heap.malloc(200_000));
    fillMem(heap, ps[1]!, heap.mallocUsableSize(ps[1]!), 0x5c);
    heap.check();
    return { heap, live };
  }

  function arbitraryFrees(): void {
    const { heap, live } = busyHeap();
    const end = memoryEnd(heap);
    const from = target.mapsBigBlocks ? heap.base : 0; // a process's memory below the heap is its image, or nothing
    const liveList = [...live];
    const arg = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.nat({ max: end - from + 4096 }).map((x) => from + x),
      fc.nat({ max: end - from }).map((x) => (from + x) & ~15),
      fc.constantFrom(...liveList).chain((p) => fc.integer({ min: -64, max: 4096 }).map((d) => p + d)),
      fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53, -1, 0.5, Number.MIN_VALUE, Number.MAX_VALUE),
    );
    heap.errno = 7;
    const before = snapshot(heap);
    fc.assert(
      fc.property(arg, (x) => {
        if (live.has(x)) return; // a live block's own pointer is legitimately freeable
        if (x === 0) {
          heap.free(x);
        } else {
          let err: unknown = null;
          try {
            heap.free(x);
          } catch (e) {
            err = e;
          }
          if (!(err instanceof InvalidPointerError || err instanceof DoubleFreeError)) {
            throw new Error(`free(${x}) ${err === null ? "did not throw" : `threw ${String(err)}`}`);
          }
          if (!/^free\(\): (invalid pointer|double free detected)/.test(err.message)) throw new Error(`free(${x}): message ${err.message}`);
        }
        expectUnchanged(heap, before);
      }),
      { seed, numRuns: 2000 },
    );
    heap.check();
    for (const p of live) heap.free(p);
    heap.check();
  }

  it("arbitrary integers and doubles: 0 is a no-op, anything else throws InvalidPointerError or DoubleFreeError, changing nothing", () => {
    arbitraryFrees();
  });

  it("values of other types (cast) are refused with ArgumentError, changing nothing", () => {
    const { heap } = busyHeap();
    const before = snapshot(heap);
    for (const x of ["0x1000", "abc", {}, [], true, 16n]) {
      let err: unknown = null;
      try {
        heap.free(x as unknown as number);
      } catch (e) {
        err = e;
      }
      expect(err, `free(${typeof x})`).toBeInstanceOf(ArgumentError);
      expect((err as Error).message, `free(${typeof x})`).toMatch(/^free\(\): invalid pointer \(/);
    }
    for (const x of [null, undefined]) heap.free(x as unknown as number); // NULL-like: no-op
    expectUnchanged(heap, before);
    heap.check();
  });

  it("arbitrary garbage to realloc throws before any change too", () => {
    const { heap, live } = busyHeap();
    const before = snapshot(heap);
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1 }), fc.nat({ max: memoryEnd(heap) }).map((x) => x & ~15)), fc.nat(5000), (x, n) => {
        if (live.has(x) || x === 0) return;
        let err: unknown = null;
        try {
          heap.realloc(x, n);
        } catch (e) {
          err = e;
        }
        if (!(err instanceof InvalidPointerError || err instanceof DoubleFreeError)) throw new Error(`realloc(${x}, ${n}) ${err === null ? "did not throw" : `threw ${String(err)}`}`);
        expectUnchanged(heap, before);
      }),
      { seed, numRuns: 1000 },
    );
    heap.check();
  });
});
