import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/errors.js";
import {
  ACCESSED,
  COW,
  DIRTY,
  EXEC,
  FLAGS_MASK,
  FRAME_SHIFT,
  MAX_PTE_FRAME,
  PERM_MASK,
  PRESENT,
  SWAPPED,
  USER,
  WRITABLE,
  describePte,
  isPresent,
  isSwapped,
  makePte,
  makeSwapPte,
  pteFlags,
  pteFrame,
  pteSwapSlot,
  pteUpdate,
  pteWithFrame,
} from "../../src/paging/pte.js";
import { MAX_FRAMES } from "../../src/memory/PhysicalMemory.js";
import { fcSeed } from "./helpers/vmKit.js";

const ALL = [PRESENT, WRITABLE, USER, EXEC, ACCESSED, DIRTY, COW, SWAPPED];

describe("PTE layout", () => {
  it("has the bits drawn in the diagram: P W U X A D C S at bits 0–7, frame above", () => {
    expect(ALL).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    expect(FLAGS_MASK).toBe(0xff);
    expect(FRAME_SHIFT).toBe(8);
    expect(ALL.reduce((a, b) => a | b, 0)).toBe(FLAGS_MASK);
    expect(PERM_MASK).toBe(PRESENT | WRITABLE | USER | EXEC);
  });

  it("holds frame numbers up to 2^24 − 1, the most frames PhysicalMemory allows", () => {
    expect(MAX_PTE_FRAME).toBe(2 ** 24 - 1);
    expect(MAX_FRAMES).toBe(MAX_PTE_FRAME + 1);
    expect(pteFrame(makePte(2 ** 20, 0))).toBe(2 ** 20);
    const top = makePte(MAX_PTE_FRAME, FLAGS_MASK);
    expect(top).toBe(0xffff_ff7f); // every bit but SWAPPED
    expect(top).toBeGreaterThan(0); // unsigned, as a Uint32Array stores it
    expect(pteFrame(top)).toBe(MAX_PTE_FRAME);
  });

  it("round-trips frame and flags through makePte / pteFrame / pteFlags", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_PTE_FRAME }), fc.integer({ min: 0, max: 255 }), (frame, flags) => {
        const pte = makePte(frame, flags);
        expect(pte).toBeGreaterThanOrEqual(0);
        expect(pte).toBeLessThanOrEqual(0xffff_ffff);
        expect(pteFrame(pte)).toBe(frame);
        expect(pteFlags(pte)).toBe((flags & ~SWAPPED) | PRESENT);
        expect(isPresent(pte)).toBe(true);
        expect(isSwapped(pte)).toBe(false);
        // The stored value survives a Uint32Array.
        expect(new Uint32Array([pte])[0]).toBe(pte);
      }),
      { seed: fcSeed("pte frame round trip") },
    );
  });

  it("round-trips swap slots: not present, SWAPPED, slot in the high bits, other flags kept", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_PTE_FRAME }), fc.integer({ min: 0, max: 255 }), (slot, flags) => {
        const pte = makeSwapPte(slot, flags);
        expect(pteSwapSlot(pte)).toBe(slot);
        expect(isSwapped(pte)).toBe(true);
        expect(isPresent(pte)).toBe(false);
        expect(pte & (FLAGS_MASK & ~PRESENT & ~SWAPPED)).toBe(flags & ~PRESENT & ~SWAPPED);
        expect(pte).not.toBe(0); // never mistaken for "no entry", even slot 0
      }),
      { seed: fcSeed("pte swap round trip") },
    );
    expect(makeSwapPte(0)).toBe(SWAPPED);
  });

  it("pteWithFrame replaces the frame and keeps the flags; pteUpdate sets and clears bits", () => {
    const pte = makePte(5, WRITABLE | USER | DIRTY);
    const moved = pteWithFrame(pte, 0x123456);
    expect(pteFrame(moved)).toBe(0x123456);
    expect(pteFlags(moved)).toBe(pteFlags(pte));
    const cow = pteUpdate(pte, COW, WRITABLE | DIRTY);
    expect(cow & WRITABLE).toBe(0);
    expect(cow & DIRTY).toBe(0);
    expect(cow & COW).toBe(COW);
    expect(pteFrame(cow)).toBe(5);
    expect(pteUpdate(makePte(MAX_PTE_FRAME, 0), ACCESSED, 0)).toBeGreaterThan(0);
  });

  it("refuses frame numbers and slots that do not fit 24 bits", () => {
    for (const bad of [-1, MAX_PTE_FRAME + 1, 1.5, Number.NaN]) {
      expect(() => makePte(bad, 0)).toThrow(ArgumentError);
      expect(() => makeSwapPte(bad)).toThrow(ArgumentError);
      expect(() => pteWithFrame(makePte(1, 0), bad)).toThrow(/frame must be an integer from 0 to 16777215/);
    }
  });

  it("isSwapped is false for a present entry even when bit 7 were set by hand, and for 0", () => {
    expect(isSwapped((PRESENT | SWAPPED) >>> 0)).toBe(false);
    expect(isSwapped(0)).toBe(false);
    expect(isPresent(0)).toBe(false);
  });

  it("describes entries for pictures", () => {
    expect(describePte(0)).toBe("none");
    expect(describePte(makePte(0x1f, WRITABLE | USER | ACCESSED | DIRTY))).toBe("frame 0x1f P W U - A D - -");
    expect(describePte(makePte(2, USER | EXEC | COW))).toBe("frame 0x2 P - U X - - C -");
    expect(describePte(makeSwapPte(12, USER))).toBe("swap 12 - - U - - - - S");
  });
});
