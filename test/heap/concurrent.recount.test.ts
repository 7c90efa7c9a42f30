/**
 * A thread that dies in the middle of recounting its arena's front cache (when it takes an arena
 * used before, before a flush, in recover) loses no block: the recount that follows (recover's,
 * as for any lock the dead thread held) keeps every list whole. The death is simulated at each
 * store of the recount in turn: the arena's shared words are seen through a proxy that throws at
 * the n-th store (helpers/storeSpy.ts), leaving the buffer as a thread killed there would; then the recount runs again,
 * and every cached block must come back to its heap.
 */
import { describe, expect, it } from "vitest";
import { Heap, LinearMemory } from "../../src/index.js";
import { spyStores } from "./helpers/storeSpy.js";

interface Shared {
  v: Int32Array;
  slot: number;
  recountCache(s: number): void;
}

/** A concurrent heap whose thread 77 has freed blocks of many sizes into its front cache. */
function stage(): { heap: Heap; shared: Shared } {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 8 << 20 }), concurrent: true });
  const t77 = Heap.attach((heap.memory as LinearMemory).buffer, { threadId: 77 });
  const ps: number[] = [];
  for (let i = 0; i < 90; i++) ps.push(t77.malloc(8 + ((i * 53) % 1000)));
  for (const p of ps) t77.free(p);
  return { heap, shared: (t77 as unknown as { shared: Shared }).shared };
}

describe("a recount of an arena's front cache cut short", () => {
  it("at any store, loses no block: the next recount keeps every list, and every block goes back to its heap", () => {
    // The stores of one whole recount, and what the heap holds when every cached block is back.
    const whole = stage();
    const total = spyStores(whole.shared, () => {}, () => whole.shared.recountCache(whole.shared.slot));
    expect(total).toBeGreaterThan(100); // the lists' counts and the cached bitmap's words
    const held = whole.heap.mallinfo().uordblks;
    whole.heap.check();

    // Every store up to 80, then every 37th, and the last ones.
    const at = [...Array.from({ length: 80 }, (_, i) => i + 1), ...Array.from({ length: Math.ceil(total / 37) }, (_, i) => 81 + 37 * i), total - 2, total - 1, total].filter((n, i, a) => n <= total && a.indexOf(n) === i);
    const lost: number[] = [];
    for (const n of at) {
      const { heap, shared } = stage();
      let stores = 0;
      const die = (): void => {
        if (++stores === n) throw new Error("died");
      };
      expect(() => spyStores(shared, die, () => shared.recountCache(shared.slot))).toThrow("died");
      shared.recountCache(shared.slot); // recover's, for the arena whose lock the dead thread held
      heap.check();
      if (heap.mallinfo().uordblks !== held) lost.push(n);
    }
    expect(lost).toEqual([]);
  });
});
