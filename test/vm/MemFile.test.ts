import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/errors.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { thrown } from "./helpers/asKit.js";

describe("MemFile and its page cache", () => {
  it("caches a page in a frame (zeros past EOF), writes it back on evict and sync", () => {
    const mem = new PhysicalMemory({ frames: 4, pageSize: 16, shared: false });
    const f = new MemFile(new Uint8Array(20).map((_, i) => i + 1), "f");
    expect(f.size).toBe(20);
    const fr = mem.allocFrame();
    f.cache(mem, 1, fr);
    expect(f.cachedFrame(mem, 1)).toBe(fr);
    expect(f.cachedFrame(mem, 0)).toBe(-1);
    expect([...mem.frameBytes(fr)]).toEqual([17, 18, 19, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(thrown(() => f.cache(mem, 1, fr))).toBeInstanceOf(ArgumentError);
    mem.frameBytes(fr)[0] = 99;
    mem.frameBytes(fr)[10] = 99; // past EOF: not written back
    f.sync();
    expect(f.bytes[16]).toBe(99);
    expect(f.bytes.length).toBe(20);
    mem.frameBytes(fr)[1] = 98;
    f.evict(mem, 1);
    expect(f.bytes[17]).toBe(98);
    expect(f.cachedPages(mem)).toBe(0);
    expect(mem.freeFrames).toBe(4);
    f.evict(mem, 1);
    expect(thrown(() => new MemFile([1, 2] as unknown as Uint8Array))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new MemFile(new Uint8Array(1), 5 as unknown as string))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new MemFile(new Uint8Array(1), ""))).toBeInstanceOf(ArgumentError);
    expect(new MemFile(new Uint8Array(1), "/data/f").name).toBe("/data/f");
  });
});
