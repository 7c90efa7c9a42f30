/**
 * The remote frees of a concurrent heap's arena are linked through the first word of each
 * freed block: freed memory, which a program may overwrite before the arena's owner frees them.
 * docs/heap.md promises that whatever bytes a program writes into freed memory, malloc never
 * returns memory that overlaps a live block and no call hangs.
 */
import { describe, expect, it } from "vitest";
import { runWithDeadline } from "./helpers/deadline.js";
import type { RemoteOutcome } from "./helpers/remoteList.js";

const scenarios = new URL("./helpers/remoteList.ts", import.meta.url);

describe("a use after free of a block on another arena's remote frees", () => {
  it("a link overwritten with a live block's address: the owner's mallocs never return the live block", async () => {
    const r = await runWithDeadline(scenarios, "linkToLiveBlock", [], 10_000);
    expect(r.status, JSON.stringify(r)).toBe("done");
    const o = (r as { result: RemoteOutcome }).result;
    if (o.threw !== null) expect(o.threw).toMatch(/^(HeapCorruptionError|DoubleFreeError|InvalidPointerError)/);
    for (const q of o.got) expect(q === 0 || q + 100 <= o.live || o.live + 100 <= q, `malloc(100) = 0x${q.toString(16)}, the live block 0x${o.live.toString(16)}`).toBe(true);
    expect(o.intact).toBe(true);
  }, 60_000);

  it("a link overwritten so that the list runs in a circle through a non-block: the owner's next malloc returns", async () => {
    const r = await runWithDeadline(scenarios, "linkInACircle", [], 10_000);
    expect(r.status, JSON.stringify(r)).toBe("done");
  }, 60_000);
});
