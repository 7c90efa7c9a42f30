/**
 * What glibc's allocator needs from the memory it runs on: loads and stores, and the system
 * calls it makes (`mmap`, `munmap`, `mremap`, `madvise`). A process's {@link AddressSpace}
 * has all of them; `LinearSpace` gives them over a {@link LinearMemory}, where there is
 * no mmap (glibc then takes every block from the break, as it does when mmap fails).
 */
import { MAP_FAILED } from "../../constants.js";
import { SegmentationFault, type Access } from "../../errors.js";
import type { LinearMemory } from "../../memory/LinearMemory.js";

/** The memory glibc's allocator runs on (an `AddressSpace`, or a `LinearSpace`). */
export interface GlibcMemory {
  /** Bytes per page (what glibc's `GLRO(dl_pagesize)` holds): the unit of brk, mmap and trim. */
  readonly pageSize: number;
  /** The little-endian 16-bit value at `va`. */
  read16(va: number): number;
  /** Stores a 16-bit value at `va`, little-endian. */
  write16(va: number, v: number): void;
  /** The little-endian 32-bit value at `va` (unsigned). */
  read32(va: number): number;
  /** Stores a 32-bit value at `va`, little-endian. */
  write32(va: number, v: number): void;
  /** A copy of the `length` bytes from `va`. */
  readBytes(va: number, length: number): Uint8Array;
  /** Stores `bytes` from `va`. */
  writeBytes(va: number, bytes: Uint8Array): void;
  /** `mmap(2)` of anonymous memory: the address, or `MAP_FAILED` (-1). */
  mmap(addr: number, length: number, prot: number, flags: number): number;
  /** `munmap(2)`: 0, or -1. */
  munmap(addr: number, length: number): number;
  /** `mremap(2)`: the mapping's (new) address, or `MAP_FAILED` (-1). */
  mremap(oldAddress: number, oldSize: number, newSize: number, flags: number): number;
  /** `madvise(2)` (glibc's trim uses `MADV_DONTNEED`): 0, or -1. */
  madvise(addr: number, length: number, advice: number): number;
}

/**
 * A {@link LinearMemory} seen as glibc's allocator sees a process: bytes up to the memory's
 * length, no mappings (`mmap` fails), and `madvise(MADV_DONTNEED)` zero-filling the pages it
 * names (what the program sees after Linux drops them). An access outside the memory is a
 * {@link SegmentationFault}, as a wild pointer in a process would be.
 */
export class LinearSpace implements GlibcMemory {
  readonly pageSize = 4096;
  constructor(readonly memory: LinearMemory) {}

  private at(va: number, n: number, access: Access): number {
    if (!(va >= 0 && va + n <= this.memory.byteLength)) throw new SegmentationFault(va, access, n);
    return va;
  }
  read16(va: number): number {
    return this.memory.dv.getUint16(this.at(va, 2, "read"), true);
  }
  write16(va: number, v: number): void {
    this.memory.dv.setUint16(this.at(va, 2, "write"), v, true);
  }
  read32(va: number): number {
    return this.memory.dv.getUint32(this.at(va, 4, "read"), true);
  }
  write32(va: number, v: number): void {
    this.memory.dv.setUint32(this.at(va, 4, "write"), v, true);
  }
  readBytes(va: number, length: number): Uint8Array {
    return this.memory.u8.slice(this.at(va, length, "read"), va + length);
  }
  writeBytes(va: number, bytes: Uint8Array): void {
    this.memory.u8.set(bytes, this.at(va, bytes.length, "write"));
  }
  mmap(): number {
    return MAP_FAILED;
  }
  munmap(): number {
    return -1;
  }
  mremap(): number {
    return MAP_FAILED;
  }
  madvise(addr: number, length: number): number {
    this.memory.u8.fill(0, this.at(addr, length, "write"), addr + length);
    return 0;
  }
}
