/** Shared helpers for the address-space tests. */
import { PhysicalMemory } from "../../../src/memory/PhysicalMemory.js";
import { AddressSpace, type AddressSpaceOptions } from "../../../src/vm/AddressSpace.js";
import { SwapSpace } from "../../../src/vm/Swap.js";

export { fcSeed, thrown } from "../../helpers/common.js";

/** Options for {@link space}: the address space's, plus RAM and swap sizes. */
export interface SpaceOptions extends Partial<Omit<AddressSpaceOptions, "memory" | "swap">> {
  frames?: number;
  pageSize?: number;
  swapSlots?: number;
}

/** An address space over fresh ArrayBuffer-backed RAM (and a swap when `swapSlots` is given). */
export function space(o: SpaceOptions = {}): AddressSpace {
  const { frames, pageSize, swapSlots, ...rest } = o;
  const memory = new PhysicalMemory({ frames: frames ?? 1024, pageSize: pageSize ?? 4096, shared: false });
  return new AddressSpace({ memory, ...(swapSlots !== undefined ? { swap: new SwapSpace({ slots: swapSlots }) } : {}), ...rest });
}
