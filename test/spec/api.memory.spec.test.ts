// spec/api.md, "Memory backends": "`shared` defaults to `true` where `SharedArrayBuffer` exists
// and falls back to `ArrayBuffer` (browsers without cross-origin isolation) otherwise."
import { afterEach, describe, expect, it, vi } from "vitest";
import { Heap, LinearMemory } from "../../src/index.js";

describe("LinearMemory without SharedArrayBuffer", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("falls back to an ArrayBuffer, grows, and a Heap works over it", () => {
    vi.stubGlobal("SharedArrayBuffer", undefined);
    const m = new LinearMemory({ initialBytes: 64 * 1024, maxBytes: 1024 * 1024 });
    expect(m.u8.buffer).toBeInstanceOf(ArrayBuffer);
    expect(m.grow(64 * 1024)).toBe(64 * 1024);
    expect(m.u8.length).toBe(128 * 1024);
    const h = new Heap();
    expect(h.memory.u8.buffer).toBeInstanceOf(ArrayBuffer);
    const p = h.malloc(300 * 1024);
    expect(p).not.toBe(0);
    h.memory.u8[p + 300 * 1024 - 1] = 7;
    h.free(p);
    h.check();
  });
});
