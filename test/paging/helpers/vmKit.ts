/** Shared helpers for the paging and physical-memory tests. */
import { PhysicalMemory } from "../../../src/memory/PhysicalMemory.js";
import { Mmu, type AlignmentPolicy, type FaultHandler } from "../../../src/paging/Mmu.js";
import { PageTable } from "../../../src/paging/PageTable.js";
import type { TlbOptions } from "../../../src/paging/Tlb.js";

export { fcSeed, thrown } from "../../helpers/common.js";

/** `0x…` for messages. */
export function hex(n: number): string {
  return "0x" + n.toString(16);
}

/** A small machine: RAM, a page table and an MMU over them. */
export interface Machine {
  mem: PhysicalMemory;
  pt: PageTable;
  mmu: Mmu;
}

/** Options for {@link machine}. */
export interface MachineOptions {
  frames?: number;
  pageSize?: number;
  levels?: number[];
  addressBits?: number;
  tlb?: TlbOptions;
  alignment?: AlignmentPolicy;
  onFault?: FaultHandler;
  trackUse?: boolean;
}

/** Builds a {@link Machine} (ArrayBuffer-backed RAM: tests need no sharing). */
export function machine(o: MachineOptions = {}): Machine {
  const pageSize = o.pageSize ?? 4096;
  const mem = new PhysicalMemory({ frames: o.frames ?? 32, pageSize, shared: false });
  const pt = new PageTable({ pageSize, ...(o.levels ? { levels: o.levels } : {}), ...(o.addressBits !== undefined ? { addressBits: o.addressBits } : {}) });
  const mmu = new Mmu({
    memory: mem,
    pageTable: pt,
    ...(o.tlb ? { tlb: o.tlb } : {}),
    ...(o.alignment ? { alignment: o.alignment } : {}),
    ...(o.onFault ? { onFault: o.onFault } : {}),
    ...(o.trackUse !== undefined ? { trackUse: o.trackUse } : {}),
  });
  return { mem, pt, mmu };
}
