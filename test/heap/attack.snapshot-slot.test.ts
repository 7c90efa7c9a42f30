/**
 * Heap.attach(copy, { snapshot: true }) recovers every lock held in a copy of a concurrent
 * heap. docs/workers.md and docs/heap.md promise that a crafted or damaged buffer is refused
 * with HeapCorruptionError, that an attached copy never hangs, and that no metadata write lands
 * inside a live block. attach checks an arena slot's lock, owner and segment words, but recovery
 * then follows the slot's other words: the remote frees being freed (S_DETACHED) and the block
 * being pushed to another arena (S_PUSH, S_PUSH_TO).
 */
import { describe, expect, it } from "vitest";
import { runWithDeadline } from "./helpers/deadline.js";

const scenarios = new URL("./helpers/remoteList.ts", import.meta.url);
type Seen = { threw: string | null; ms: number; bigBefore: number; bigAfter: number };

describe("a crafted arena slot in a copy opened with { snapshot: true }", () => {
  it("remote frees being freed whose link names itself: attach returns (or refuses)", async () => {
    const r = await runWithDeadline(scenarios, "detachedInACircle", [], 10_000);
    expect(r.status, JSON.stringify(r)).toBe("done");
  }, 60_000);

  it("a block being pushed to arena 2·10^9: a HeapCorruptionError, not a RangeError", async () => {
    const r = await runWithDeadline(scenarios, "pushToFarArena", [], 10_000);
    expect(r.status, JSON.stringify(r)).toBe("done");
    const o = (r as { result: Seen }).result;
    if (o.threw !== null) expect(o.threw).toMatch(/^HeapCorruptionError/);
  }, 60_000);

  for (const value of [0x4000_0000, 7]) {
    it(`a block being pushed to an "arena" whose lock word lies in a live block of the main heap (holding 0x${value.toString(16)}): the block's bytes are not written`, async () => {
      const r = await runWithDeadline(scenarios, "pushToArenaInLiveBlock", [value], 30_000);
      expect(r.status, JSON.stringify(r)).toBe("done");
      const o = (r as { result: Seen }).result;
      expect(o.bigAfter, `the live word went from 0x${o.bigBefore.toString(16)} to 0x${(o.bigAfter >>> 0).toString(16)} (${o.threw ?? "no error"}, ${o.ms} ms)`).toBe(o.bigBefore);
      if (o.threw !== null) expect(o.threw).toMatch(/^HeapCorruptionError/);
    }, 90_000);
  }
});
