/**
 * Player: checks what it is given, seeks forwards and backwards over long recordings (past
 * the states it keeps every 64 steps), hands out copies, and refuses steps that do not apply.
 */
import { describe, expect, it } from "vitest";
import { ArgumentError, Heap, HeapRecorder, Player, checkRecording, describeStep, snapshotHeap, type HeapSnapshot, type Recording } from "../../src/index.js";
import { thrown } from "../helpers/common.js";

/** A recording of `n` calls on a small heap, with the heap's snapshot after each call. */
function recorded(n: number): { recording: Recording; after: HeapSnapshot[] } {
  const heap = new Heap({ maxBytes: 16 * 1024 * 1024 });
  const rec = new HeapRecorder(heap);
  const after = [snapshotHeap(heap)];
  const live: number[] = [];
  let x = 12345;
  const rnd = (m: number): number => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % m;
  };
  for (let i = 0; i < n; i++) {
    if (live.length > 0 && rnd(3) === 0) rec.free(live.splice(rnd(live.length), 1)[0]!);
    else if (live.length > 0 && rnd(4) === 0) {
      const j = rnd(live.length);
      live[j] = rec.realloc(live[j]!, 1 + rnd(3000));
    } else live.push(rec.malloc(1 + rnd(2000)));
    after.push(snapshotHeap(heap));
  }
  return { recording: rec.recording(), after };
}

describe("Player", () => {
  it("reaches every step of a long recording, in any order, through the states it keeps", () => {
    const { recording, after } = recorded(300);
    const player = new Player(recording);
    expect(player.length).toBe(300);
    const order = [300, 0, 299, 1, 150, 64, 63, 65, 128, 200, 191, 257, 256, 3, 300, 100];
    for (const k of order) expect(player.stateAt(k).heap).toEqual(after[k]);
    for (let k = 300; k >= 0; k -= 7) expect(player.stateAt(k).heap).toEqual(after[k]);
    for (let k = 0; k <= 300; k += 5) expect(player.stateAt(k).heap).toEqual(after[k]);
  });

  it("hands out copies: changing one changes nothing else", () => {
    const { recording, after } = recorded(10);
    const player = new Player(recording);
    const s = player.stateAt(5);
    s.heap.chunks.length = 0;
    s.heap.mallinfo.arena = -1;
    expect(player.stateAt(5).heap).toEqual(after[5]);
    expect(player.stateAt(6).heap).toEqual(after[6]);
    expect(recording.initial.heap).toEqual(after[0]);
  });

  it("describes a step by number", () => {
    const { recording } = recorded(3);
    const player = new Player(recording);
    expect(player.describe(1)).toMatch(/^malloc\(\d+\) = 0x[0-9a-f]+: split top /);
    for (const bad of [0, 4, 1.5, Number.NaN]) expect(thrown(() => player.describe(bad))).toBeInstanceOf(ArgumentError);
  });

  it("counts a step's faults by cause, and its evictions", () => {
    const step = recorded(1).recording.steps[0]!;
    const fault = (cause: "anonymous" | "swap-in") => ({ type: "fault" as const, kind: "minor" as const, cause, address: 4096, access: "read" as const });
    const s = { ...step, heap: [], diff: {}, vm: [fault("anonymous"), fault("swap-in"), fault("anonymous"), { type: "evict" as const, address: 0, frame: 1, to: "swap" as const, slot: 0 }] };
    expect(describeStep(s)).toMatch(/: 3 page faults \(2 anonymous, 1 swap-in\); 1 eviction$/);
  });

  it("refuses a step out of range", () => {
    const player = new Player(recorded(3).recording);
    for (const bad of [-1, 4, 0.5, Number.NaN, Infinity]) {
      const e = thrown(() => player.stateAt(bad));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toMatch(/step must be an integer from 0 to 3/);
    }
  });

  it("refuses what is not a recording it reads, saying why", () => {
    const good = recorded(2).recording;
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [[], /not an object/],
      [{ ...good, format: "other" }, /format must be "vmheap-recording", got "other"/],
      [{ ...good, version: 2 }, /version 2 is not supported \(this is version 1\)/],
      [{ ...good, initial: null }, /initial must be/],
      [{ ...good, initial: { heap: { ...good.initial.heap, format: "x" }, as: null } }, /initial\.heap: format must be "vmheap-heap"/],
      [{ ...good, initial: { heap: good.initial.heap, as: { format: "vmheap-address-space", version: 1 } } }, /initial\.as: regions/],
      [{ ...good, steps: {} }, /steps must be a list/],
      [{ ...good, steps: [{ op: "malloc" }] }, /step 1 must have op, label, heap, vm, probe and diff/],
    ];
    for (const [v, msg] of cases) {
      const e = thrown(() => new Player(v as Recording));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as Error).message).toMatch(msg);
      expect(thrown(() => checkRecording(v))).toBeInstanceOf(ArgumentError);
    }
  });

  it("refuses steps that do not apply to the state before them (an edited recording)", () => {
    const { recording } = recorded(4);
    // Through JSON, as a recording is edited: no record shared between the state and a step.
    const structuredClone = (r: Recording): Recording => JSON.parse(JSON.stringify(r)) as Recording;
    const broken = structuredClone(recording);
    broken.steps.splice(1, 1); // a step missing: the next one starts from another state
    const player = new Player(broken);
    expect(player.stateAt(1).step).toBe(1);
    const e = thrown(() => player.stateAt(3));
    expect(e).toBeInstanceOf(ArgumentError);
    expect((e as Error).message).toMatch(/^recording: step 2 does not apply forwards: /);

    const edited = structuredClone(recording);
    edited.steps[0]!.diff.totals!["mallinfo.uordblks"]![0] += 16;
    expect((thrown(() => new Player(edited).stateAt(1)) as Error).message).toMatch(/step 1 does not apply forwards: mallinfo\.uordblks is \d+, the change expects \d+/);

    const moved = structuredClone(recording);
    moved.steps[0]!.diff.chunks!.removed[0]!.size += 16;
    expect((thrown(() => new Player(moved).stateAt(1)) as Error).message).toMatch(/step 1 does not apply forwards: the record at \d+ is not as the change expects/);

    const extra = structuredClone(recording);
    extra.steps[0]!.diff.chunks!.removed.push({ address: 1, size: 16, kind: "free", ptr: 0, usable: 0 });
    expect((thrown(() => new Player(extra).stateAt(1)) as Error).message).toMatch(/the record at 1 the change drops is missing/);

    // Backwards too: a state reached, then a step edited under it.
    const back = structuredClone(recording);
    const p2 = new Player(back);
    p2.stateAt(2);
    back.steps[1]!.diff.totals!["mallinfo.uordblks"]![1] += 16;
    expect((thrown(() => p2.stateAt(1)) as Error).message).toMatch(/^recording: step 2 does not apply backwards: /);
  });

  it("passes on an error that is not about the recording", () => {
    const { recording } = recorded(2);
    const odd = structuredClone(recording);
    Object.defineProperty(odd.steps[0]!.diff, "chunks", {
      get() {
        throw new RangeError("odd");
      },
    });
    expect(thrown(() => new Player(odd).stateAt(1))).toBeInstanceOf(RangeError);
  });
});
