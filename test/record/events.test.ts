/**
 * heapEvents on hand-made chunk lists: the cases a real heap rarely or never produces (chunks
 * gone with nothing in their place, an empty top, a mapped block that changed in place), and
 * how groups are cut (touching chunks that only came stay one group; a changed chunk next to
 * another change does not).
 */
import { describe, expect, it } from "vitest";
import type { ChunkInfo } from "../../src/index.js";
import { diffList } from "../../src/record/diff.js";
import { describeHeapEvent, heapEvents } from "../../src/record/events.js";

const c = (address: number, size: number, kind: ChunkInfo["kind"], bin?: string): ChunkInfo => {
  const r: ChunkInfo = { address, size, kind, ptr: kind === "used" ? address + 16 : 0, usable: kind === "used" ? size - 8 : 0 };
  if (bin !== undefined) r.bin = bin;
  return r;
};
const events = (a: ChunkInfo[], b: ChunkInfo[]) => heapEvents(a, b, diffList(a, b, (x) => x.address), undefined);

describe("heapEvents", () => {
  it("names chunks that went with nothing in their place", () => {
    const e = events([c(0, 32, "free"), c(32, 32, "free"), c(64, 64, "used"), c(128, 64, "top")], [c(64, 64, "used"), c(128, 64, "top")]);
    expect(e.map((x) => x.type)).toEqual(["gone", "bin-out", "bin-out"]);
    expect(describeHeapEvent(e[0]!)).toBe("chunks gone: free 0x0 (32 B) + free 0x20 (32 B)");
  });

  it("keeps two changes side by side apart, and an empty top with its neighbour", () => {
    const e = events([c(0, 32, "used"), c(32, 32, "used"), c(64, 0, "top")], [c(0, 32, "free"), c(32, 32, "free"), c(64, 0, "top")]);
    expect(e.map((x) => x.type)).toEqual(["mark", "bin-in", "mark", "bin-in"]);
    const grown = events([c(0, 32, "used"), c(32, 0, "top")], [c(0, 32, "used"), c(32, 4096, "top")]);
    expect(grown.map((x) => x.type)).toEqual(["resize", "brk"]);
    expect(describeHeapEvent(grown[1]!)).toBe("brk 0x20 → 0x1020 (+4096 B)");
  });

  it("says 'bin' for an allocator that does not name its bins", () => {
    const [mark, binIn] = events([c(0, 32, "used"), c(32, 32, "top")], [c(0, 32, "free"), c(32, 32, "top")]);
    expect(mark!.type).toBe("mark");
    expect(describeHeapEvent(binIn!)).toBe("bin ← free 0x0 (32 B)");
    const [rebin] = events([c(0, 32, "free", "fastbin"), c(32, 32, "top")], [c(0, 32, "free", "tcache"), c(32, 32, "top")]);
    expect(describeHeapEvent(rebin!)).toBe("free 0x0 (32 B): fastbin → tcache");
  });

  it("ignores a mapped block that changed in place, in the heap's list or past the top", () => {
    const block = { ptr: 0x10010, start: 0x10000, length: 8192, usable: 8176 };
    expect(heapEvents([], [], undefined, { removed: [block], added: [{ ...block, usable: 8000 }] })).toEqual([]);
    const before = [c(0, 64, "top"), c(0x10000, 8192, "used")];
    const after = [c(0, 64, "top"), { ...c(0x10000, 8192, "used"), usable: 1 }];
    expect(events(before, after)).toEqual([]);
  });
});
