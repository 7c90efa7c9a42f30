/**
 * The page-table-entry layout (`pte.ts`) as one object, for the package root: names like
 * `USER` and `COW` are too generic to export there one by one.
 *
 * An object literal rather than `export * as pte`: a bundler drops an unused literal, but a
 * namespace re-export becomes a call at load time that keeps every PTE helper in every bundle
 * of the package, a heap-only one included. The type makes the compiler list any name of
 * `pte.ts` left out here.
 */
import type * as PteModule from "./pte.js";
import { PRESENT, WRITABLE, USER, EXEC, ACCESSED, DIRTY, COW, SWAPPED, FLAGS_MASK, FRAME_SHIFT, MAX_PTE_FRAME, PERM_MASK, makePte, makeSwapPte, pteFrame, pteSwapSlot, pteFlags, pteWithFrame, pteUpdate, isPresent, isSwapped, describePte } from "./pte.js";

/**
 * The page-table-entry bit layout and its helpers: `pte.PRESENT`, `pte.makePte(frame, flags)`, ...
 * @namespace
 */
export const pte: typeof PteModule = { PRESENT, WRITABLE, USER, EXEC, ACCESSED, DIRTY, COW, SWAPPED, FLAGS_MASK, FRAME_SHIFT, MAX_PTE_FRAME, PERM_MASK, makePte, makeSwapPte, pteFrame, pteSwapSlot, pteFlags, pteWithFrame, pteUpdate, isPresent, isSwapped, describePte };
