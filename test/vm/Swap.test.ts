import { describe, expect, it } from "vitest";
import { ArgumentError, VmError } from "../../src/errors.js";
import { SwapSpace } from "../../src/vm/Swap.js";
import { thrown } from "./helpers/asKit.js";

describe("SwapSpace", () => {
  it("allocates slots until full, frees them at refcount 0", () => {
    const s = new SwapSpace({ slots: 2, pageSize: 16 });
    const a = s.alloc();
    const b = s.alloc();
    expect(s.alloc()).toBe(-1);
    expect(s.usedSlots).toBe(2);
    expect(s.ref(a)).toBe(2);
    expect(s.unref(a)).toBe(1);
    expect(s.unref(a)).toBe(0);
    expect(s.freeSlots).toBe(1);
    expect(s.refCount(b)).toBe(1);
    expect(thrown(() => s.unref(a))).toBeInstanceOf(VmError);
    expect(s.alloc()).toBe(a);
  });

  it("stores pages intact, allocating its buffer on first use", () => {
    const s = new SwapSpace({ slots: 3 });
    expect(s.pageSize).toBe(0);
    expect(thrown(() => s.write(s.alloc(), new Uint8Array(16)))).toBeInstanceOf(VmError);
    s.bind(16);
    expect(thrown(() => s.bind(32))).toBeInstanceOf(ArgumentError);
    const slot = s.alloc();
    s.write(slot, new Uint8Array(16).map((_, i) => i * 3));
    const out = new Uint8Array(16);
    s.read(slot, out);
    expect([...out]).toEqual([...new Uint8Array(16).map((_, i) => i * 3)]);
    expect(s.writes).toBe(1);
    expect(s.reads).toBe(1);
    expect(thrown(() => s.read(slot, new Uint8Array(8)))).toBeInstanceOf(ArgumentError);
  });

  it("rejects bad sizes and slots", () => {
    expect(thrown(() => new SwapSpace({ slots: 0 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new SwapSpace({ slots: 2 ** 24 + 1 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new SwapSpace({ slots: 1, pageSize: 0 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new SwapSpace({ slots: 1 }).refCount(5))).toBeInstanceOf(VmError);
  });
});
