/**
 * A page-table walk as data for pictures and text: the virtual address cut into its index
 * fields and its offset, each step of {@link PageTable.walk} with a name, and the outcome.
 *
 * ```text
 *   va = 0x7f1234567abc, levels [9, 9, 9, 9], 4 KiB pages
 *   47      39 38      30 29      21 20      12 11          0
 *   ┌─────────┬──────────┬──────────┬──────────┬─────────────┐
 *   │ PML4 254│ PDPT 72  │ PD 418   │ PT 359   │ offset 0xabc│
 *   └─────────┴──────────┴──────────┴──────────┴─────────────┘
 *   root ─▶ PML4[254] ─▶ PDPT[72] ─▶ PD[418] ─▶ PT[359] = PTE ─▶ frame · 4096 + 0xabc
 * ```
 */
import type { PageTable, WalkStep } from "../paging/PageTable.js";
import { describePte, isPresent, isSwapped, pteFrame, pteSwapSlot } from "../paging/pte.js";

/** One field of a virtual address: a level's index, or the offset in the page. */
export interface AddressField {
  /** `PML4`, `PT`, …, or `offset`. */
  readonly name: string;
  /** The level whose index this is, or null for the offset. */
  readonly level: number | null;
  /** Highest bit of the field. */
  readonly hi: number;
  /** Lowest bit of the field. */
  readonly lo: number;
  /** The field's value. */
  readonly value: number;
}

/** A {@link WalkStep} with the name of its level's table. */
export interface NamedWalkStep extends WalkStep {
  /** `PML4`, `PDPT`, `PD`, `PT` (x86 names where the geometry is x86's), else `L0`, `L1`, … */
  readonly name: string;
}

/** How a walk ended. */
export type WalkOutcome =
  /** The leaf entry is present: the address translates. */
  | "mapped"
  /** The leaf entry says the page is in swap: a major fault reads it back. */
  | "swapped"
  /** A directory entry or the leaf entry is 0: nothing is mapped there, the MMU faults. */
  | "unmapped";

/** Everything a picture of a walk shows. */
export interface WalkView {
  /** The virtual address walked. */
  readonly va: number;
  /** The page table's address width in bits. */
  readonly addressBits: number;
  /** Bytes per page. */
  readonly pageSize: number;
  /** Index bits per level, root first. */
  readonly levels: readonly number[];
  /** The address's fields, highest bits first: one per level, then the offset. */
  readonly fields: readonly AddressField[];
  /** The steps taken, root first. */
  readonly steps: readonly NamedWalkStep[];
  /** How the walk ended. */
  readonly outcome: WalkOutcome;
  /** The leaf entry when the walk reached it, else null. */
  readonly pte: number | null;
  /** The PTE in words (`frame 0x2a P W U - - - - -`), or null. */
  readonly pteText: string | null;
  /** The frame of a mapped page, else null. */
  readonly frame: number | null;
  /** The swap slot of a swapped page, else null. */
  readonly swapSlot: number | null;
  /** `frame · pageSize + offset` of a mapped page, else null. */
  readonly physicalAddress: number | null;
}

/**
 * The names x86 gives its tables, for the geometries it uses; `L0`, `L1`, … otherwise.
 * @example
 * ```ts
 * import { levelNames } from "vmheap/viz";
 *
 * console.log(levelNames([9, 9, 9, 9]), levelNames([10, 10]), levelNames([4, 4])); // [ 'PML4', 'PDPT', 'PD', 'PT' ] [ 'PD', 'PT' ] [ 'L0', 'L1' ]
 * ```
 */
export function levelNames(levels: readonly number[]): string[] {
  const n = levels.length;
  const x86 = ["PML5", "PML4", "PDPT", "PD", "PT"];
  if (n <= 5 && levels.every((b) => b === 9)) return x86.slice(5 - n);
  if (n === 2 && levels[0] === 10 && levels[1] === 10) return ["PD", "PT"];
  return levels.map((_, i) => `L${i}`);
}

/**
 * Walks `va` in `table` and describes the walk.
 * @example
 * ```ts
 * import { PageTable, pte } from "vmheap";
 * import { walkView } from "vmheap/viz";
 *
 * const table = new PageTable({ addressBits: 48 }); // x86-64: four levels of 9 bits
 * table.set(0x7f1234567000, pte.makePte(0x2a, pte.WRITABLE | pte.USER));
 * const view = walkView(table, 0x7f1234567abc);
 * console.log(view.fields.map((f) => `${f.name}=${f.value}`).join(" "), view.pteText, view.physicalAddress?.toString(16)); // PML4=254 PDPT=72 PD=418 PT=359 offset=2748 frame 0x2a P W U - - - - - 2aabc
 * // an address with no mapping: the walk stops at the first empty entry
 * const miss = walkView(table, 0x1000);
 * console.log(miss.outcome, miss.steps.length); // unmapped 1
 * ```
 */
export function walkView(table: PageTable, va: number): WalkView {
  const steps = table.walk(va);
  const names = levelNames(table.levels);
  const fields: AddressField[] = [];
  let hi = table.addressBits - 1;
  table.levels.forEach((bits, level) => {
    const lo = hi - bits + 1;
    fields.push({ name: names[level]!, level, hi, lo, value: Math.floor(va / 2 ** lo) % 2 ** bits });
    hi = lo - 1;
  });
  fields.push({ name: "offset", level: null, hi: table.pageShift - 1, lo: 0, value: va % table.pageSize });
  const last = steps[steps.length - 1]!;
  const pte = last.leaf ? last.entry : null;
  const outcome: WalkOutcome = pte !== null && isPresent(pte) ? "mapped" : pte !== null && isSwapped(pte) ? "swapped" : "unmapped";
  const frame = outcome === "mapped" ? pteFrame(pte!) : null;
  return {
    va,
    addressBits: table.addressBits,
    pageSize: table.pageSize,
    levels: table.levels,
    fields,
    steps: steps.map((s) => ({ ...s, name: names[s.level]! })),
    outcome,
    pte,
    pteText: pte === null ? null : describePte(pte),
    frame,
    swapSlot: outcome === "swapped" ? pteSwapSlot(pte!) : null,
    physicalAddress: frame === null ? null : frame * table.pageSize + (va % table.pageSize),
  };
}
