/**
 * What each page of an address space is doing, read from its page table without touching the
 * MMU (no fault, no accessed bit, no counter moves): for pictures of regions and frames.
 *
 * ```text
 *   PTE 0                           untouched   no frame yet: the first access faults
 *   present, frame = zero frame     zero        reads the shared zero page; a write copies it
 *   present, frame refcount 1       resident    a frame of its own
 *   present, frame refcount > 1     shared      shared with another mapping (after fork: COW)
 *   swapped                         swapped     in swap; the next access is a major fault
 * ```
 */
import { isPresent, isSwapped, pteFrame } from "../paging/pte.js";
import type { AddressSpace } from "../vm/AddressSpace.js";
import type { Process } from "../vm/Process.js";

/** The state of one page, as drawn. */
export type PageState = "untouched" | "zero" | "resident" | "shared" | "swapped";

/** Every page state, in legend order. */
export const PAGE_STATES: readonly PageState[] = ["resident", "shared", "zero", "swapped", "untouched"];

/** An address space, or a process (its `as`). */
export type SpaceLike = AddressSpace | Pick<Process, "as">;

/** The address space of `s`. */
export function spaceOf(s: SpaceLike): AddressSpace {
  return "as" in s ? s.as : s;
}

/** One region of an address space with its pages' states. */
export interface RegionPages {
  /** The region's first byte. */
  readonly start: number;
  /** The first byte past it. */
  readonly end: number;
  /** `r-xp` etc., as in /proc/self/maps. */
  readonly perms: string;
  /** `[heap]`, a file's name, or "" for anonymous memory. */
  readonly name: string;
  /** The state of each page, lowest first. */
  readonly pages: readonly PageState[];
}

/**
 * The regions of `space`, lowest first, with the state of each of their pages.
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
 * import { regionPages } from "vmheap/viz";
 *
 * const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
 * const a = as.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * as.write8(a, 1); // resident
 * as.read8(a + 4096); // the zero page
 * console.log(regionPages(as).map((r) => `${r.perms} ${r.pages.join(" ")}`)); // [ 'rw-p resident zero untouched untouched' ]
 * ```
 */
export function regionPages(space: SpaceLike): RegionPages[] {
  const as = spaceOf(space);
  const ram = as.memory;
  const ps = as.pageSize;
  return as.regions().map((v) => {
    const pages = new Array<PageState>((v.end - v.start) / ps).fill("untouched");
    as.pageTable.forEach(v.start, v.end, (va, pte) => {
      const i = (va - v.start) / ps;
      if (isSwapped(pte)) pages[i] = "swapped";
      else if (isPresent(pte)) {
        const f = pteFrame(pte);
        pages[i] = f === ram.zeroFrame ? "zero" : ram.refCount(f) > 1 ? "shared" : "resident";
      }
    });
    return { start: v.start, end: v.end, perms: v.perms(), name: as.regionName(v), pages };
  });
}

/** Who maps a frame: the owner's index and the virtual address there. */
export interface FrameUse {
  /** The index of the space (in the list given) whose page maps the frame. */
  readonly owner: number;
  /** The page's virtual address. */
  readonly va: number;
}

/**
 * For each frame of the RAM the given spaces share, the pages that map it (owner index and
 * virtual address), from their page tables.
 * @example
 * ```ts
 * import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory } from "vmheap";
 * import { frameOwners } from "vmheap/viz";
 *
 * const parent = new AddressSpace({ memory: new PhysicalMemory({ frames: 16 }) });
 * const a = parent.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * parent.write8(a, 1);
 * parent.write8(a + 4096, 1);
 * const child = parent.fork();
 * child.write8(a, 2); // copy-on-write: the child gets a frame of its own for page 0
 * const owners = frameOwners([parent, child]);
 * console.log([...owners].map(([frame, uses]) => `frame ${frame}: ${uses.map((u) => ["parent", "child"][u.owner]).join(" + ")}`)); // [ 'frame 1: parent', 'frame 2: parent + child', 'frame 3: child' ]
 * ```
 */
export function frameOwners(spaces: readonly SpaceLike[]): Map<number, FrameUse[]> {
  const out = new Map<number, FrameUse[]>();
  spaces.forEach((s, owner) => {
    const as = spaceOf(s);
    as.pageTable.forEach(0, as.pageTable.addressLimit, (va, pte) => {
      if (!isPresent(pte)) return;
      const f = pteFrame(pte);
      let uses = out.get(f);
      if (uses === undefined) out.set(f, (uses = []));
      uses.push({ owner, va });
    });
  });
  return out;
}
