import { describe, expect, it } from "vitest";
import {
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/constants.js";
import { Errno } from "../../src/errno.js";
import { AlignmentFault, ArgumentError, BusError, OutOfMemoryError, ProtectionFault, SegmentationFault, VmError } from "../../src/errors.js";
import { USER, WRITABLE, makePte, makeSwapPte } from "../../src/paging/pte.js";
import { Brk } from "../../src/heap/Brk.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { AddressSpace, type VmEvent } from "../../src/vm/AddressSpace.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { SwapSpace } from "../../src/vm/Swap.js";
import { space, thrown } from "./helpers/asKit.js";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const PS = 4096;
const BASE = 0x10000000;

describe("AddressSpace: construction", () => {
  it("defaults to 48-bit addresses, clock replacement and no resident limit", () => {
    const as = space();
    expect(as.addressBits).toBe(48);
    expect(as.taskSize).toBe(2 ** 47 - PS); // x86-64's TASK_SIZE_MAX (test/fixtures/linux/task-top.txt)
    expect(as.replacement).toBe("clock");
    expect(as.maxResidentPages).toBe(Infinity);
    expect(as.mmu.pageTable.addressBits).toBe(48);
  });

  it("rejects bad options", () => {
    const memory = new PhysicalMemory({ frames: 4, shared: false });
    expect(thrown(() => new AddressSpace({ memory, maxResidentPages: 0 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, maxResidentPages: 1.5 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, addressBits: 40 as 32 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, replacement: "random" as "lru" }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, mmapMinAddr: 3 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, mmapBase: 4097 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, swap: {} as SwapSpace }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new AddressSpace({ memory, swap: 3 as unknown as SwapSpace }))).toBeInstanceOf(ArgumentError);
  });
});

describe("mmap: errors as in Linux", () => {
  it("length 0 → EINVAL", () => {
    const as = space();
    expect(as.mmap(0, 0, RW, ANON)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
  });

  it("neither or both of MAP_PRIVATE / MAP_SHARED → EINVAL", () => {
    const as = space();
    expect(as.mmap(0, PS, RW, MAP_ANONYMOUS)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
    as.errno = 0;
    expect(as.mmap(0, PS, RW, MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
  });

  it("MAP_FIXED with an unaligned address → EINVAL", () => {
    const as = space();
    expect(as.mmap(BASE + 1, PS, RW, ANON | MAP_FIXED)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
  });

  it("unaligned offset → EINVAL", () => {
    const as = space();
    const f = new MemFile(new Uint8Array(3 * PS));
    expect(as.mmap(0, PS, PROT_READ, MAP_PRIVATE, f, 100)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
  });

  it("a file mapping without a file → EBADF", () => {
    const as = space();
    expect(as.mmap(0, PS, PROT_READ, MAP_PRIVATE)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EBADF);
  });

  it("without a file or MAP_ANONYMOUS, bad arguments are still EINVAL (length 0, flags, unaligned fixed address)", () => {
    const as = space();
    for (const [len, flags, addr] of [
      [0, MAP_PRIVATE, 0],
      [PS, 0, 0],
      [PS, MAP_SHARED | MAP_PRIVATE, 0],
      [PS, MAP_PRIVATE | MAP_FIXED, PS + 1],
      [PS, MAP_PRIVATE | MAP_FIXED_NOREPLACE, PS + 1],
    ] as const) {
      as.errno = 0;
      expect(as.mmap(addr, len, PROT_READ, flags)).toBe(MAP_FAILED);
      expect(as.errno).toBe(Errno.EINVAL);
    }
  });

  it("unknown prot bits are ignored, as Linux's mmap does (test/fixtures/linux/file-edges.txt); bits past 31 → EINVAL; fixed beyond user space → ENOMEM", () => {
    const as = space();
    const u = as.mmap(0, PS, PROT_READ | 0x80, ANON);
    expect(u).not.toBe(MAP_FAILED);
    expect(as.maps()).toContain(" r--p ");
    expect(() => as.write8(u, 1)).toThrow(ProtectionFault);
    expect(as.munmap(u, PS)).toBe(0);
    // Bits past 31 cannot come from a C int: not lost to a 32-bit mask, refused.
    for (const prot of [2 ** 32, 2 ** 32 + RW, 2 ** 53, 2 ** 64]) {
      as.errno = 0;
      expect(as.mmap(0, PS, prot, ANON)).toBe(MAP_FAILED);
      expect(as.errno).toBe(Errno.EINVAL);
    }
    expect(as.mmap(as.taskSize - PS, 2 * PS, RW, ANON | MAP_FIXED)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.maps()).toBe("");
  });

  it("a negative length is a huge size_t: ENOMEM; an offset that is not a safe integer: EINVAL", () => {
    const as = space();
    for (const length of [-1, -PS]) {
      as.errno = 0;
      expect(as.mmap(0, length, RW, ANON)).toBe(MAP_FAILED);
      expect(as.errno).toBe(Errno.ENOMEM);
    }
    as.errno = 0;
    expect(as.mmap(0, -1.5, RW, ANON)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
    const file = new MemFile(new Uint8Array(PS));
    for (const offset of [2 ** 53, 2 ** 64]) {
      as.errno = 0;
      expect(as.mmap(0, PS, PROT_READ, MAP_PRIVATE, file, offset)).toBe(MAP_FAILED);
      expect(as.errno).toBe(Errno.EINVAL);
    }
    expect(as.maps()).toBe("");
  });

  it("no room → ENOMEM; a fixed mapping at page 0 (below mmapMinAddr) → EPERM", () => {
    const as = space();
    expect(as.mmap(0, as.taskSize + PS, RW, ANON)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.mmap(0, PS, RW, ANON | MAP_FIXED)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EPERM);
    const small = space({ addressBits: 32, mmapMinAddr: 0xfff00000 }); // up to 0xffffe000: 0xfe000 bytes
    expect(small.mmap(0, 0x7f000, RW, ANON)).not.toBe(MAP_FAILED);
    expect(small.mmap(0, 0x7f000, RW, ANON)).not.toBe(MAP_FAILED);
    expect(small.mmap(0, PS, RW, ANON)).toBe(MAP_FAILED);
    expect(small.errno).toBe(Errno.ENOMEM);
  });

  it("rounds length up to whole pages", () => {
    const as = space();
    const a = as.mmap(0, 1, RW, ANON);
    expect(a % PS).toBe(0);
    expect(as.status().vmSize).toBe(PS);
    expect(as.regionAt(a)!.end - a).toBe(PS);
  });

  it("MAP_FIXED replaces what it overlaps, splitting the old region", () => {
    const as = space();
    expect(as.mmap(BASE, 4 * PS, PROT_READ, ANON | MAP_FIXED)).toBe(BASE);
    as.read8(BASE + PS); // resident zero page in the replaced part
    expect(as.mmap(BASE + PS, PS, RW, ANON | MAP_FIXED)).toBe(BASE + PS);
    const r = as.regions().map((v) => [v.start - BASE, v.end - BASE, v.prot]);
    expect(r).toEqual([
      [0, PS, PROT_READ],
      [PS, 2 * PS, RW],
      [2 * PS, 4 * PS, PROT_READ],
    ]);
    as.write8(BASE + PS, 7);
    expect(as.read8(BASE + PS)).toBe(7);
  });

  it("MAP_FIXED drops the replaced pages' contents", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.write8(BASE, 9);
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    expect(as.read8(BASE)).toBe(0);
    expect(as.status().vmRss).toBe(0);
    as.memory.check();
  });

  it("MAP_FIXED_NOREPLACE on an overlap → EEXIST, nothing changed", () => {
    const as = space();
    as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    expect(as.mmap(BASE + PS, 2 * PS, PROT_READ, ANON | MAP_FIXED_NOREPLACE)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EEXIST);
    expect(as.regions().length).toBe(1);
    expect(as.mmap(BASE + 2 * PS, PS, PROT_READ, ANON | MAP_FIXED_NOREPLACE)).toBe(BASE + 2 * PS);
  });

  it("a taken hint is moved, not an error; a free hint is used", () => {
    const as = space();
    expect(as.mmap(BASE, PS, RW, ANON)).toBe(BASE);
    const b = as.mmap(BASE, PS, RW, ANON);
    expect(b).not.toBe(MAP_FAILED);
    expect(b).not.toBe(BASE);
    expect(as.regions().length).toBeGreaterThanOrEqual(1);
    expect(as.status().vmSize).toBe(2 * PS);
  });

  it("places mappings top-down below mmapBase, without overlap", () => {
    const as = space();
    const a = as.mmap(0, PS, RW, ANON);
    const b = as.mmap(0, 2 * PS, PROT_READ, ANON);
    expect(a + PS).toBe(as.mmapBase);
    expect(b + 2 * PS).toBe(a);
  });

  it("merges a new anonymous mapping with an equal neighbour", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + PS, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 3 * PS, PS, RW, ANON | MAP_FIXED);
    expect(as.regions().length).toBe(2);
    as.mmap(BASE + 2 * PS, PS, RW, ANON | MAP_FIXED);
    expect(as.regions().length).toBe(1);
  });
});

describe("munmap", () => {
  it("unaligned address or length 0 → EINVAL", () => {
    const as = space();
    expect(as.munmap(BASE + 1, PS)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    as.errno = 0;
    expect(as.munmap(BASE, 0)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
  });

  it("a range with nothing mapped is not an error", () => {
    const as = space();
    expect(as.munmap(BASE, 16 * PS)).toBe(0);
  });

  it("the middle of a region splits it; the hole faults", () => {
    const as = space();
    as.mmap(BASE, 3 * PS, RW, ANON | MAP_FIXED);
    for (let i = 0; i < 3; i++) as.write8(BASE + i * PS, i + 1);
    expect(as.munmap(BASE + PS, PS)).toBe(0);
    expect(as.regions().map((v) => [v.start, v.end])).toEqual([
      [BASE, BASE + PS],
      [BASE + 2 * PS, BASE + 3 * PS],
    ]);
    expect(thrown(() => as.read8(BASE + PS))).toBeInstanceOf(SegmentationFault);
    expect(as.read8(BASE)).toBe(1);
    expect(as.read8(BASE + 2 * PS)).toBe(3);
    expect(as.status().vmRss).toBe(2 * PS);
    as.memory.check();
  });

  it("frees the frames it unmaps", () => {
    const as = space({ frames: 16 });
    const free = as.memory.freeFrames;
    const a = as.mmap(0, 8 * PS, RW, ANON);
    for (let i = 0; i < 8; i++) as.write8(a + i * PS, 1);
    expect(as.memory.freeFrames).toBe(free - 8);
    as.munmap(a, 8 * PS);
    expect(as.memory.freeFrames).toBe(free);
    as.pageTable.check();
  });
});

describe("mprotect", () => {
  it("unaligned address → EINVAL; length 0 → 0; unknown prot bits → EINVAL", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    expect(as.mprotect(BASE + 1, PS, PROT_READ)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    expect(as.mprotect(BASE, 0, PROT_READ)).toBe(0);
    expect(as.mprotect(BASE, PS, 0x40)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    as.write8(BASE, 7);
    for (const prot of [2 ** 32, 2 ** 32 + PROT_READ, 2 ** 53, -1]) {
      as.errno = 0;
      expect(as.mprotect(BASE, PS, prot)).toBe(-1);
      expect(as.errno).toBe(Errno.EINVAL);
    }
    // A negative length wraps the range (Linux: end <= start): ENOMEM.
    as.errno = 0;
    expect(as.mprotect(BASE, -1, PROT_READ)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
    // Nothing changed: still read-write, data intact.
    as.write8(BASE + 1, 8);
    expect([as.read8(BASE), as.read8(BASE + 1)]).toEqual([7, 8]);
    expect(as.maps()).toContain(" rw-p ");
  });

  it("an address so large that adding the length changes nothing is not mapped: ENOMEM (madvise: EINVAL)", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    for (const addr of [1e300, Number.MAX_VALUE, 2 ** 80, 2 ** 64]) {
      if (addr !== 2 ** 64) expect(addr + PS).toBe(addr); // the range [addr, addr + PS) is empty in doubles
      as.errno = 0;
      expect(as.mprotect(addr, PS, PROT_READ)).toBe(-1);
      expect(as.errno).toBe(Errno.ENOMEM);
      as.errno = 0;
      expect(as.madvise(addr, PS, MADV_DONTNEED)).toBe(-1);
      expect(as.errno).toBe(Errno.EINVAL);
    }
    expect(as.maps()).toContain(" rw-p ");
  });

  it("a range with an unmapped page → ENOMEM", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 2 * PS, PS, RW, ANON | MAP_FIXED);
    expect(as.mprotect(BASE, 3 * PS, PROT_READ)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
    as.errno = 0;
    expect(as.mprotect(BASE + 3 * PS, PS, PROT_READ)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
  });

  it("changes the mapped prefix before the hole, as Linux does", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 2 * PS, PS, RW, ANON | MAP_FIXED);
    expect(as.mprotect(BASE, 3 * PS, PROT_READ)).toBe(-1);
    expect(as.regionAt(BASE)!.prot).toBe(PROT_READ);
    expect(as.regionAt(BASE + 2 * PS)!.prot).toBe(RW);
  });

  it("protecting the middle leaves three regions; restoring merges them back", () => {
    const as = space();
    as.mmap(BASE, 3 * PS, RW, ANON | MAP_FIXED);
    expect(as.mprotect(BASE + PS, PS, PROT_READ)).toBe(0);
    expect(as.regions().map((v) => v.prot)).toEqual([RW, PROT_READ, RW]);
    expect(as.mprotect(BASE + PS, PS, RW)).toBe(0);
    expect(as.regions().length).toBe(1);
  });

  it("takes effect on resident pages at once (TLB included)", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.write8(BASE, 5);
    as.mprotect(BASE, PS, PROT_READ);
    expect(as.read8(BASE)).toBe(5);
    expect(thrown(() => as.write8(BASE, 6))).toBeInstanceOf(ProtectionFault);
    as.mprotect(BASE, PS, PROT_NONE);
    expect(thrown(() => as.read8(BASE))).toBeInstanceOf(ProtectionFault);
    as.mprotect(BASE, PS, RW);
    as.write8(BASE, 6);
    expect(as.read8(BASE)).toBe(6);
  });
});

describe("faults and lazy allocation", () => {
  it("no mapping → SegmentationFault; forbidden access → ProtectionFault", () => {
    const as = space();
    expect(thrown(() => as.read8(BASE))).toBeInstanceOf(SegmentationFault);
    as.mmap(BASE, PS, PROT_READ, ANON | MAP_FIXED);
    as.mmap(BASE + PS, PS, PROT_NONE, ANON | MAP_FIXED);
    expect(as.read8(BASE)).toBe(0);
    const e = thrown(() => as.write8(BASE, 1)) as ProtectionFault;
    expect(e).toBeInstanceOf(ProtectionFault);
    expect(e.address).toBe(BASE);
    expect(e.access).toBe("write");
    expect(thrown(() => as.read8(BASE + PS))).toBeInstanceOf(ProtectionFault);
    expect(thrown(() => as.mmu.translate(BASE, "exec"))).toBeInstanceOf(ProtectionFault);
  });

  it("PROT_EXEC allows instruction fetches", () => {
    const as = space();
    as.mmap(BASE, PS, PROT_READ | PROT_EXEC, ANON | MAP_FIXED);
    expect(() => as.mmu.translate(BASE, "exec")).not.toThrow();
  });

  it("mapping 256 anonymous pages adds 1 MiB VmSize, 0 RSS, 0 faults; writing each adds 1 MiB RSS and 256 minor faults", () => {
    const as = space({ frames: 300 });
    const s0 = as.status();
    const a = as.mmap(0, 256 * PS, RW, ANON);
    const s1 = as.status();
    expect(s1.vmSize - s0.vmSize).toBe(1 << 20);
    expect(s1.vmRss).toBe(0);
    expect(s1.minorFaults + s1.majorFaults).toBe(0);
    for (let i = 0; i < 256; i++) as.write8(a + i * PS + 7, i);
    const s2 = as.status();
    expect(s2.vmRss).toBe(1 << 20);
    expect(s2.minorFaults).toBe(256);
    expect(s2.majorFaults).toBe(0);
    for (let i = 0; i < 256; i++) expect(as.read8(a + i * PS + 7)).toBe(i);
    expect(as.status().minorFaults).toBe(256);
  });

  it("a first read maps the shared zero page (no frame, no RSS); the first write copies it", () => {
    const as = space();
    const a = as.mmap(0, 4 * PS, RW, ANON);
    const free = as.memory.freeFrames;
    for (let i = 0; i < 4; i++) expect(as.read32(a + i * PS)).toBe(0);
    expect(as.memory.freeFrames).toBe(free);
    expect(as.status().vmRss).toBe(0);
    expect(as.status().minorFaults).toBe(4);
    as.write32(a, 0xdeadbeef);
    expect(as.read32(a)).toBe(0xdeadbeef);
    expect(as.status().minorFaults).toBe(5);
    expect(as.status().vmRss).toBe(PS);
    expect(as.read32(a + PS)).toBe(0);
    as.memory.check();
  });

  it("16-bit, 32-bit and byte-range accesses, also across a page boundary", () => {
    const as = space();
    const a = as.mmap(0, 2 * PS, RW, ANON);
    as.write16(a + 2, 0xbeef);
    expect(as.read16(a + 2)).toBe(0xbeef);
    as.write32(a + PS - 2, 0x11223344);
    expect(as.read32(a + PS - 2)).toBe(0x11223344);
    expect([...as.readBytes(a + PS - 2, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    as.writeBytes(a + PS - 1, new Uint8Array([1, 2, 3]));
    expect([...as.readBytes(a + PS - 1, 3)]).toEqual([1, 2, 3]);
  });

  it("an access crossing into an unmapped page faults there and stores nothing", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.write8(BASE + PS - 2, 0x11);
    const e = thrown(() => as.write32(BASE + PS - 2, 0xaabbccdd)) as SegmentationFault;
    expect(e).toBeInstanceOf(SegmentationFault);
    expect(e.address).toBe(BASE + PS);
    expect(as.read8(BASE + PS - 2)).toBe(0x11);
    expect(thrown(() => as.read16(BASE + PS - 1))).toBeInstanceOf(SegmentationFault);
  });

  it("alignment: fixup counts misaligned accesses, trap raises AlignmentFault", () => {
    const fx = space({ alignment: "fixup" });
    const a = fx.mmap(0, PS, RW, ANON);
    fx.write32(a + 1, 5);
    expect(fx.read32(a + 1)).toBe(5);
    expect(fx.status().alignmentFixups).toBe(2);
    const tr = space({ alignment: "trap" });
    const b = tr.mmap(0, PS, RW, ANON);
    expect(thrown(() => tr.read32(b + 2))).toBeInstanceOf(AlignmentFault);
  });

  it("works with 16-byte pages (48-bit) and 1 KiB pages (32-bit), swap included", () => {
    for (const [pageSize, addressBits] of [[16, 48], [1024, 32]] as const) {
      const as = space({ pageSize, addressBits, frames: 8, swapSlots: 64, replacement: "lru" });
      const a = as.mmap(0, 20 * pageSize, RW, ANON);
      for (let i = 0; i < 20 * pageSize; i += 4) as.write32(a + i, i * 2654435761);
      for (let i = 0; i < 20 * pageSize; i += 4) expect(as.read32(a + i)).toBe((i * 2654435761) >>> 0);
      expect(as.status().swapOuts).toBeGreaterThan(0);
      as.check();
    }
  });

  it("32-bit address spaces place mappings below 4 GiB", () => {
    const as = space({ addressBits: 32 });
    const a = as.mmap(0, PS, RW, ANON);
    expect(a).toBeLessThan(2 ** 32);
    as.write8(a, 1);
    expect(as.maps().startsWith(a.toString(16).padStart(8, "0"))).toBe(true);
  });
});

describe("file mappings", () => {
  it("msync (MemFile.sync) leaves the pages clean: a page written back once is not written back again", () => {
    const memory = new PhysicalMemory({ frames: 64, shared: false });
    const as = new AddressSpace({ memory, maxResidentPages: 1 });
    const f = new MemFile(new Uint8Array(2 * PS));
    const a = as.mmap(0, 2 * PS, RW, MAP_SHARED, f, 0);
    as.write8(a, 5);
    f.sync();
    expect(f.bytes[0]).toBe(5);
    f.bytes[0] = 6; // the file changes after the sync; the cached page is clean
    as.read8(a + PS); // reclaim drops page 0 without writing it back
    expect(f.bytes[0]).toBe(6);
    expect(as.read8(a)).toBe(6);
    // A write after a sync makes the page dirty again (the TLB does not keep the old dirty bit).
    as.write8(a + 1, 7);
    f.sync();
    as.write8(a + 2, 8);
    as.read8(a + PS);
    expect([f.bytes[1], f.bytes[2]]).toEqual([7, 8]);
    as.check();
  });

  it("EEXIST and ENOMEM come before EACCES; a denied MAP_FIXED replaces nothing", () => {
    const as = space();
    const ro = new MemFile(new Uint8Array(PS), "/ro", { writable: false });
    const a = as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.write8(a, 3);
    expect(as.mmap(a, PS, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, ro, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EEXIST);
    expect(as.mmap(0, as.taskSize + PS, RW, MAP_SHARED, ro, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.mmap(a, PS, RW, MAP_SHARED | MAP_FIXED, ro, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EACCES);
    expect(as.read8(a)).toBe(3);
  });

  it("a read-only file: no MAP_SHARED write access (EACCES), private copies allowed", () => {
    const as = space();
    const f = new MemFile(Uint8Array.from({ length: PS }, (_, i) => i & 0xff), "/etc/ro", { writable: false });
    expect(f.writable).toBe(false);
    expect(as.mmap(0, PS, RW, MAP_SHARED, f, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EACCES);
    expect(as.maps()).toBe("");
    const shared = as.mmap(0, PS, PROT_READ, MAP_SHARED, f, 0);
    expect(as.read8(shared + 5)).toBe(5);
    as.errno = 0;
    expect(as.mprotect(shared, PS, RW)).toBe(-1);
    expect(as.errno).toBe(Errno.EACCES);
    expect(thrown(() => as.write8(shared, 1))).toBeInstanceOf(ProtectionFault);
    const priv = as.mmap(0, PS, RW, MAP_PRIVATE, f, 0);
    as.write8(priv, 99); // a private copy
    expect([as.read8(priv), as.read8(shared), f.bytes[0]]).toEqual([99, 0, 0]);
    expect(thrown(() => new MemFile(new Uint8Array(1), "x", { writable: "no" as unknown as boolean }))).toBeInstanceOf(ArgumentError);
    as.check();
  });

  it("reclaim drops a clean page as it is and writes a dirty one back (also one dirtied by a mapper gone since)", () => {
    const memory = new PhysicalMemory({ frames: 64, shared: false });
    const as = new AddressSpace({ memory, maxResidentPages: 1 });
    const other = new AddressSpace({ memory });
    const f = new MemFile(new Uint8Array(3 * PS));
    const a = as.mmap(0, 3 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    expect(as.read8(a)).toBe(0); // page 0 cached, clean
    f.bytes[0] = 42; // the file changes under the clean cached page
    as.read8(a + PS); // reclaim: page 0 goes without a write-back
    expect(f.bytes[0]).toBe(42);
    expect(as.read8(a)).toBe(42); // read again from the file
    as.write8(a, 43); // dirty
    as.read8(a + PS); // reclaim writes it back
    expect(f.bytes[0]).toBe(43);
    // Written through another mapping that is gone by the time the page is reclaimed.
    const b = other.mmap(0, PS, PROT_READ | PROT_WRITE, MAP_SHARED, f, 2 * PS);
    expect(as.read8(a + 2 * PS)).toBe(0); // cached for both
    other.write8(b, 77);
    expect(other.munmap(b, PS)).toBe(0); // the cache keeps the page, marked dirty
    expect(f.bytes[2 * PS]).toBe(0);
    as.read8(a); // reclaim: written back
    expect(f.bytes[2 * PS]).toBe(77);
    as.check();
    other.check();
  });

  function file(n: number, name?: string): MemFile {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 255;
    return new MemFile(b, name);
  }

  it("reads the file at the offset; a page read from the file is a major fault, a cached one minor", () => {
    const f = file(3 * PS);
    const as = space();
    const a = as.mmap(0, 2 * PS, PROT_READ, MAP_PRIVATE, f, PS);
    expect(as.read8(a)).toBe(f.bytes[PS]);
    expect(as.read8(a + PS + 5)).toBe(f.bytes[2 * PS + 5]);
    expect(as.status().majorFaults).toBe(2);
    const b = as.mmap(0, PS, PROT_READ, MAP_PRIVATE, f, PS);
    expect(as.read8(b + 1)).toBe(f.bytes[PS + 1]);
    expect(as.status().minorFaults).toBe(1);
  });

  it("the last page reads zeros past the end of the file; a page wholly past it is a BusError, as with Linux (test/fixtures/linux/file-edges.txt)", () => {
    const f = file(100);
    const as = space();
    const a = as.mmap(0, 2 * PS, PROT_READ, MAP_PRIVATE, f);
    expect(as.read8(a + 99)).toBe(f.bytes[99]);
    expect(as.read8(a + 100)).toBe(0);
    expect(() => as.read8(a + PS)).toThrow(BusError);
  });

  it("MAP_SHARED mappings of one file see each other's writes at once, across address spaces", () => {
    const f = file(2 * PS);
    const memory = new PhysicalMemory({ frames: 64, shared: false });
    const p = new AddressSpace({ memory });
    const q = new AddressSpace({ memory });
    const a = p.mmap(0, 2 * PS, RW, MAP_SHARED, f);
    const a2 = p.mmap(0, 2 * PS, RW, MAP_SHARED, f);
    const b = q.mmap(0, PS, RW, MAP_SHARED, f, PS);
    expect(q.read8(b)).toBe(f.bytes[PS]);
    p.write8(a + PS, 0xaa);
    expect(q.read8(b)).toBe(0xaa);
    expect(p.read8(a2 + PS)).toBe(0xaa);
    q.write32(b + 8, 0x01020304);
    expect(p.read32(a + PS + 8)).toBe(0x01020304);
  });

  it("a MAP_PRIVATE write is invisible to other mappers and to the file", () => {
    const f = file(PS);
    const orig = f.bytes[10]!;
    const memory = new PhysicalMemory({ frames: 64, shared: false });
    const p = new AddressSpace({ memory });
    const q = new AddressSpace({ memory });
    const priv = p.mmap(0, PS, RW, MAP_PRIVATE, f);
    const sh = q.mmap(0, PS, RW, MAP_SHARED, f);
    expect(p.read8(priv + 10)).toBe(orig);
    p.write8(priv + 10, orig ^ 0xff);
    expect(p.read8(priv + 10)).toBe(orig ^ 0xff);
    expect(q.read8(sh + 10)).toBe(orig);
    f.sync();
    expect(f.bytes[10]).toBe(orig);
    p.munmap(priv, PS);
    q.munmap(sh, PS);
    memory.check();
    expect(memory.freeFrames).toBe(memory.frames);
  });

  it("a private page not yet written sees a shared mapper's write (same cached frame)", () => {
    const f = file(PS);
    const as = space();
    const priv = as.mmap(0, PS, PROT_READ, MAP_PRIVATE, f);
    const sh = as.mmap(0, PS, RW, MAP_SHARED, f);
    expect(as.read8(priv)).toBe(f.bytes[0]);
    as.write8(sh, 0x5a);
    expect(as.read8(priv)).toBe(0x5a);
  });

  it("shared writes reach the file when the last mapping goes (or on sync)", () => {
    const f = file(PS);
    const as = space();
    const a = as.mmap(0, PS, RW, MAP_SHARED, f);
    as.write8(a + 3, 0x77);
    expect(f.bytes[3]).not.toBe(0x77);
    f.sync();
    expect(f.bytes[3]).toBe(0x77);
    as.write8(a + 4, 0x66);
    as.munmap(a, PS);
    expect(f.bytes[4]).toBe(0x66);
    expect(f.cachedPages(as.memory)).toBe(0);
  });

  it("shared anonymous memory is shared with a fork's child", () => {
    const as = space();
    const a = as.mmap(0, PS, RW, MAP_SHARED | MAP_ANONYMOUS);
    as.write8(a, 1);
    const child = as.fork();
    child.write8(a, 2);
    expect(as.read8(a)).toBe(2);
    expect(as.maps()).toContain("rw-s");
    expect(as.maps()).toContain("/dev/zero (deleted)");
  });
});

describe("shared anonymous memory (shmem)", () => {
  const SHARED = MAP_SHARED | MAP_ANONYMOUS;

  it("a mapping takes no frame and no host memory up front, whatever its size", () => {
    const as = space({ frames: 16 });
    const before = process.memoryUsage().arrayBuffers;
    const a = as.mmap(0, 2 ** 40, RW, SHARED); // 1 TiB
    expect(a).not.toBe(MAP_FAILED);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    expect(as.memory.freeFrames).toBe(16);
    expect(as.status().vmSize).toBe(2 ** 40);
    expect(as.read8(a + 2 ** 39)).toBe(0);
    as.write8(a + 2 ** 39, 5);
    expect(as.read8(a + 2 ** 39)).toBe(5);
    expect(as.status().vmRss).toBe(PS);
  });

  it("without swap its pages cannot be reclaimed: OutOfMemoryError when RAM is full, data intact", () => {
    const as = space({ frames: 4 });
    const a = as.mmap(0, 8 * PS, RW, SHARED);
    for (let i = 0; i < 4; i++) as.write8(a + i * PS, 10 + i);
    expect(thrown(() => as.write8(a + 4 * PS, 1))).toBeInstanceOf(OutOfMemoryError);
    for (let i = 0; i < 4; i++) expect(as.read8(a + i * PS)).toBe(10 + i);
    as.check();
  });

  it("with swap its pages go to swap and come back with a major fault, contents intact", () => {
    const as = space({ frames: 4, swapSlots: 16 });
    const swap = (as as unknown as { swap: SwapSpace }).swap;
    const a = as.mmap(0, 8 * PS, RW, SHARED);
    for (let i = 0; i < 8; i++) as.write32(a + i * PS + 8, 0x1000 + i);
    const s1 = as.status();
    expect(s1.swapOuts).toBeGreaterThanOrEqual(4);
    expect(swap.freeSlots).toBe(16 - s1.swapOuts);
    expect(s1.vmRss).toBe(4 * PS);
    expect(s1.vmSwap).toBe(0); // Linux's VmSwap leaves shmem out
    const major = s1.majorFaults;
    for (let i = 0; i < 8; i++) expect(as.read32(a + i * PS + 8)).toBe(0x1000 + i);
    const s2 = as.status();
    expect(s2.majorFaults - major).toBe(s2.swapIns - s1.swapIns);
    expect(s2.swapIns - s1.swapIns).toBeGreaterThanOrEqual(4);
    as.check();
  });

  it("a fork's child shares the pages through swap; the slots go when the last region goes", () => {
    const memory = new PhysicalMemory({ frames: 6, shared: false });
    const swap = new SwapSpace({ slots: 32 });
    const as = new AddressSpace({ memory, swap });
    const a = as.mmap(0, 8 * PS, RW, SHARED);
    const child = as.fork();
    for (let i = 0; i < 8; i++) as.write8(a + i * PS, i + 1); // more than RAM holds: some go to swap
    for (let i = 0; i < 8; i++) expect(child.read8(a + i * PS)).toBe(i + 1);
    for (let i = 0; i < 8; i++) child.write8(a + i * PS, 100 + i);
    for (let i = 0; i < 8; i++) expect(as.read8(a + i * PS)).toBe(100 + i);
    expect(swap.freeSlots).toBeLessThan(32);
    // The parent unmaps: the child still maps the memory, so its pages stay.
    expect(as.munmap(a, 8 * PS)).toBe(0);
    for (let i = 0; i < 8; i++) expect(child.read8(a + i * PS)).toBe(100 + i);
    // The child goes too: every frame and slot is free again.
    child.close();
    expect(swap.freeSlots).toBe(32);
    expect(memory.freeFrames).toBe(memory.frames);
  });

  it("a break that shrinks over it frees what it held in swap, as munmap does", () => {
    const memory = new PhysicalMemory({ frames: 3, shared: false });
    const swap = new SwapSpace({ slots: 8 });
    const as = new AddressSpace({ memory, swap });
    const brk = new Brk(as, { start: BASE });
    expect(brk.sbrk(12 * PS)).toBe(BASE);
    // The program maps shared memory over the top of its heap (MAP_FIXED replaces those pages).
    const a = as.mmap(BASE + 8 * PS, 4 * PS, RW, SHARED | MAP_FIXED);
    for (let i = 0; i < 4; i++) as.write8(a + i * PS, 1 + i); // more than RAM: some go to swap
    expect(swap.freeSlots).toBeLessThan(8);
    // Shrinking the break unmaps everything above it, that region included (Linux's brk).
    expect(brk.brk(BASE + PS)).toBe(0);
    expect(as.regionAt(a)).toBeNull();
    expect(swap.freeSlots).toBe(8);
    as.close();
    expect(memory.freeFrames).toBe(memory.frames);
  });

  it("a page in swap comes back when RAM and swap are both full (it gives its slot to the victim)", () => {
    const memory = new PhysicalMemory({ frames: 2, shared: false });
    const swap = new SwapSpace({ slots: 2 });
    const as = new AddressSpace({ memory, swap });
    const a = as.mmap(0, 4 * PS, RW, SHARED);
    for (let i = 0; i < 4; i++) as.write8(a + i * PS, 10 + i); // 2 in RAM, 2 in swap: both full
    expect(swap.freeSlots).toBe(0);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 4; i++) expect(as.read8(a + i * PS)).toBe(10 + i);
    as.check();
    as.close();
    expect([memory.freeFrames, swap.freeSlots]).toEqual([memory.frames, 2]);
  });

  it("its hidden file cannot be mapped again (EBADF)", () => {
    const as = space();
    const a = as.mmap(0, PS, RW, SHARED);
    as.write8(a, 70);
    const file = as.regionAt(a)!.file!;
    for (const flags of [MAP_PRIVATE, MAP_SHARED]) {
      as.errno = 0;
      expect(as.mmap(0, PS, RW, flags, file, 0)).toBe(MAP_FAILED);
      expect(as.errno).toBe(Errno.EBADF);
    }
    expect(as.read8(a)).toBe(70);
  });

  it("unmapping part of the region keeps the rest; mapping over it with MAP_FIXED frees what it held", () => {
    const memory = new PhysicalMemory({ frames: 3, shared: false });
    const swap = new SwapSpace({ slots: 8 });
    const as = new AddressSpace({ memory, swap });
    const a = as.mmap(0, 6 * PS, RW, SHARED);
    for (let i = 0; i < 6; i++) as.write8(a + i * PS, 50 + i);
    expect(as.munmap(a, 2 * PS)).toBe(0);
    for (let i = 2; i < 6; i++) expect(as.read8(a + i * PS)).toBe(50 + i);
    expect(as.mmap(a + 2 * PS, 4 * PS, RW, ANON | MAP_FIXED)).toBe(a + 2 * PS);
    expect(swap.freeSlots).toBe(8);
    for (let i = 2; i < 6; i++) expect(as.read8(a + i * PS)).toBe(0);
  });
});

describe("fork", () => {
  it("the child reads the parent's resident pages without faulting", () => {
    const as = space({ frames: 600 });
    const a = as.mmap(0, 256 * PS, RW, ANON);
    for (let i = 0; i < 256; i++) as.write8(a + i * PS, i);
    const child = as.fork();
    for (let i = 0; i < 256; i++) expect(child.read8(a + i * PS)).toBe(i);
    const s = child.status();
    expect(s.minorFaults + s.majorFaults).toBe(0);
    expect(s.vmRss).toBe(256 * PS);
    expect(s.vmSize).toBe(256 * PS);
  });

  it("a child writing 256 pages takes 256 minor faults; the parent's data is unchanged", () => {
    const as = space({ frames: 600 });
    const a = as.mmap(0, 256 * PS, RW, ANON);
    for (let i = 0; i < 256; i++) as.write8(a + i * PS, i);
    const pf = as.status().minorFaults;
    const child = as.fork();
    for (let i = 0; i < 256; i++) child.write8(a + i * PS, 255 - i);
    expect(child.status().minorFaults).toBe(256);
    for (let i = 0; i < 256; i++) {
      expect(as.read8(a + i * PS)).toBe(i);
      expect(child.read8(a + i * PS)).toBe(255 - i);
    }
    // The parent's pages became its own again once the child copied: its writes still fault
    // (the pages are write-protected since the fork) but reuse the frames, as Linux's
    // do_wp_page does: 256 minor faults, no frame taken.
    const free = as.memory.freeFrames;
    for (let i = 0; i < 256; i++) as.write8(a + i * PS, 1);
    expect(as.status().minorFaults).toBe(pf + 256);
    expect(as.memory.freeFrames).toBe(free);
    for (let i = 0; i < 256; i++) expect(child.read8(a + i * PS)).toBe(255 - i);
    // Once writable again, no more faults.
    for (let i = 0; i < 256; i++) as.write8(a + i * PS, 2);
    expect(as.status().minorFaults).toBe(pf + 256);
    as.memory.check();
  });

  it("the parent writing after fork copies too; the child keeps the old data", () => {
    const as = space();
    const a = as.mmap(0, PS, RW, ANON);
    as.write8(a, 1);
    const child = as.fork();
    as.write8(a, 2);
    expect(child.read8(a)).toBe(1);
    expect(as.read8(a)).toBe(2);
  });

  it("costs time in proportion to the pages mapped: the page tables are copied, not the bytes", () => {
    const as = space();
    const a = as.mmap(0, 8 * PS, RW, ANON);
    for (let i = 0; i < 8; i++) as.write8(a + i * PS, i);
    const free = as.memory.freeFrames;
    const child = as.fork();
    expect(as.memory.freeFrames).toBe(free);
    expect(as.memory.sharedFrames).toBe(8);
    expect(child.maps()).toBe(as.maps());
  });

  it("close() releases every frame", () => {
    const as = space({ frames: 64 });
    const a = as.mmap(0, 8 * PS, RW, ANON);
    for (let i = 0; i < 8; i++) as.write8(a + i * PS, i);
    const child = as.fork();
    child.write8(a, 9);
    child.close();
    as.close();
    expect(as.memory.freeFrames).toBe(64);
    as.memory.check();
  });
});

describe("/proc/self/maps", () => {
  it("is byte-exact: hex ≥ 8 digits, perms, offset, dev, inode, names at column 73", () => {
    const as = space();
    // libc's device and inode as this machine's maps show them.
    const f = new MemFile(new Uint8Array(4 * PS), "/usr/lib/libc.so.6", { device: "fe:00", inode: 339380 });
    as.mmap(0x55752a0c9000, 0x3d000, RW, ANON | MAP_FIXED);
    as.label(0x55752a0c9000, 0x3d000, "[heap]");
    as.mmap(0x7f2292614000, PS, RW, ANON | MAP_FIXED);
    as.mmap(0x7f2292620000, 2 * PS, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, f, 2 * PS);
    as.mmap(0x7f2292630000, PS, RW, MAP_SHARED | MAP_FIXED, f);
    as.mmap(0x7f2292640000, PS, PROT_NONE, ANON | MAP_FIXED);
    as.nameAnon(0x7f2292640000, PS, "guard");
    as.mmap(0x1000, PS, PROT_READ, ANON | MAP_FIXED);
    expect(as.maps()).toBe(
      "00001000-00002000 r--p 00000000 00:00 0 \n" +
        "55752a0c9000-55752a106000 rw-p 00000000 00:00 0                          [heap]\n" +
        "7f2292614000-7f2292615000 rw-p 00000000 00:00 0 \n" +
        "7f2292620000-7f2292622000 r-xp 00002000 fe:00 339380                     /usr/lib/libc.so.6\n" +
        "7f2292630000-7f2292631000 rw-s 00000000 fe:00 339380                     /usr/lib/libc.so.6\n" +
        "7f2292640000-7f2292641000 ---p 00000000 00:00 0                          [anon:guard]\n",
    );
    for (const line of as.maps().split("\n")) if (line.includes("[")) expect(line.indexOf("[")).toBe(73);
  });

  it("named regions do not merge with unnamed ones; a split file region shows its own offset", () => {
    const as = space();
    const f = new MemFile(new Uint8Array(4 * PS), "data.bin");
    as.mmap(BASE, 4 * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, f);
    as.mprotect(BASE + 2 * PS, PS, RW);
    const lines = as.maps().trimEnd().split("\n");
    expect(lines.length).toBe(3);
    expect(lines[1]!.slice(0, 39 + String(f.inode).length)).toBe(`10002000-10003000 rw-p 00002000 fe:00 ${f.inode} `);
    // Back to read-only: still its own line, as Linux keeps VM_ACCOUNT on a private file
    // mapping once writable (test/vm/maps.test.ts checks this against the kernel).
    as.mprotect(BASE + 2 * PS, PS, PROT_READ);
    expect(as.maps().trimEnd().split("\n").length).toBe(3);
    as.mmap(BASE + 4 * PS, PS, PROT_READ, ANON | MAP_FIXED);
    as.mmap(BASE + 5 * PS, PS, PROT_READ, ANON | MAP_FIXED);
    as.nameAnon(BASE + 5 * PS, PS, "x");
    expect(as.regions().length).toBe(3 + 2);
    as.nameAnon(BASE + 5 * PS, PS, null);
    expect(as.regions().length).toBe(3 + 1);
  });

  it("label and nameAnon check their range", () => {
    const as = space();
    expect(as.label(BASE + 1, PS, "x")).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    expect(as.nameAnon(BASE, PS, "x")).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
  });
});

describe("events", () => {
  it("reports mmap, faults, mprotect and munmap; unsubscribes", () => {
    const as = space();
    const seen: VmEvent[] = [];
    const off = as.on((e) => seen.push(e));
    const a = as.mmap(0, PS, RW, ANON);
    as.read8(a);
    as.write8(a, 1);
    as.mprotect(a, PS, PROT_READ);
    as.munmap(a, PS);
    off();
    as.mmap(0, PS, RW, ANON);
    expect(seen.map((e) => (e.type === "fault" ? `${e.kind}:${e.cause}` : e.type))).toEqual(["mmap", "minor:zero-page", "minor:cow", "mprotect", "munmap"]);
  });
});

describe("check()", () => {
  it("passes on a busy space and finds broken invariants", () => {
    const as = space();
    const a = as.mmap(BASE, 4 * PS, RW, ANON | MAP_FIXED);
    as.write8(a, 1);
    as.read8(a + PS);
    as.fork().check();
    as.check();
    const stray = space();
    stray.pageTable.set(BASE, makePte(1, USER));
    expect((thrown(() => stray.check()) as Error).message).toMatch(/outside every region/);
    const shared = space();
    shared.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    shared.pageTable.set(BASE, makePte(shared.memory.zeroFrame, USER | WRITABLE));
    expect((thrown(() => shared.check()) as Error).message).toMatch(/writable but its frame is shared/);
    const swapped = space();
    swapped.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    swapped.pageTable.set(BASE, makeSwapPte(3, USER));
    expect(thrown(() => swapped.check())).toBeInstanceOf(VmError);
    const lost = space();
    lost.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    lost.pageTable.set(BASE, makePte(lost.memory.allocFrame(), USER));
    expect((thrown(() => lost.check()) as Error).message).toMatch(/not in the resident set/);
  });
});

describe("moveBreak: a Brk over an address space", () => {
  it("grows a [heap] region to the page-rounded break, refuses a mapping in the way, shrinks by whole pages", () => {
    const as = space();
    const start = BASE + 0x123;
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED); // the page holding the start (bss)
    const brk = new Brk(as, { start });
    expect(brk.sbrk(2 * PS)).toBe(start);
    expect(brk.current).toBe(start + 2 * PS);
    const lines = as.maps().trimEnd().split("\n");
    expect(lines[1]).toBe(`10001000-10003000 rw-p 00000000 00:00 0 `.padEnd(73, " ") + "[heap]");
    as.write8(start + 2 * PS - 1, 7);
    expect(as.read8(start + 2 * PS - 1)).toBe(7);
    as.mmap(BASE + 4 * PS, PS, PROT_READ, ANON | MAP_FIXED);
    expect(brk.brk(BASE + 4 * PS + 1)).toBe(-1);
    expect(brk.errno).toBe(Errno.ENOMEM);
    expect(brk.current).toBe(start + 2 * PS);
    expect(brk.brk(start + 10)).toBe(0);
    expect(as.regionAt(BASE + PS)).toBeNull();
    expect(as.read8(start + 10)).toBe(0);
    expect(brk.brk(start + 2 * PS)).toBe(0);
    expect(as.read8(start + 2 * PS - 1)).toBe(0);
    expect(as.moveBreak(-1, 5)).toBe(false);
    as.check();
  });

  it("keeps a page of gap below the next mapping, as Linux's brk does", () => {
    const as = space();
    as.mmap(BASE + 4 * PS, PS, RW, ANON | MAP_FIXED);
    const brk = new Brk(as, { start: BASE });
    expect(brk.brk(BASE + 4 * PS)).toBe(-1); // right up to the mapping: no gap left
    expect(brk.errno).toBe(Errno.ENOMEM);
    expect(brk.current).toBe(BASE);
    expect(brk.brk(BASE + 3 * PS)).toBe(0); // one page of gap
    expect(brk.brk(BASE + 3 * PS + 1)).toBe(-1);
    expect(brk.current).toBe(BASE + 3 * PS);
    as.check();
  });

  it("starts at mmapMinAddr by default and never maps below it: page 0 stays unmapped", () => {
    const as = space();
    const brk = new Brk(as);
    expect(brk.start).toBe(as.mmapMinAddr);
    expect(brk.sbrk(100)).toBe(as.mmapMinAddr);
    as.write8(as.mmapMinAddr + 99, 1);
    expect(thrown(() => as.read8(0))).toBeInstanceOf(SegmentationFault);
    const low = new Brk(space(), { start: 0 });
    expect(low.sbrk(100)).toBe(-1);
    expect(low.errno).toBe(Errno.ENOMEM);
    expect(low.current).toBe(0);
  });

  it("a break starting inside a page nobody mapped maps that page when it first grows", () => {
    const as = space();
    const start = BASE + 0x10;
    const brk = new Brk(as, { start });
    expect(brk.sbrk(100)).toBe(start); // stays inside the first page
    as.write8(start, 1);
    as.write8(start + 99, 2);
    expect(as.maps().trimEnd()).toBe(`10000000-10001000 rw-p 00000000 00:00 0 `.padEnd(73, " ") + "[heap]");
    expect(brk.sbrk(-100)).toBe(start + 100); // back to the start: the page holding the break stays
    expect(as.regionAt(BASE)).not.toBeNull();
    expect(brk.sbrk(2 * PS)).toBe(start);
    as.write8(start + 2 * PS - 1, 3);
    expect(as.regionAt(BASE)!.end).toBe(BASE + 3 * PS);
    as.check();
  });
});

describe("stacks that grow down", () => {
  it("a touch below the stack extends it, down to its limit, keeping Linux's guard gap above an accessible region", () => {
    const as = space();
    const top = 0x7ff000000000;
    as.mmap(top - 2 * PS, 2 * PS, RW, ANON | MAP_FIXED);
    as.label(top - 2 * PS, 2 * PS, "[stack]");
    expect(as.setGrowsDown(top - PS, top - 8 * PS)).toBe(0);
    as.write8(top - 5 * PS + 3, 1);
    expect(as.regionAt(top - 5 * PS)!.start).toBe(top - 5 * PS);
    expect(as.regions().length).toBe(1);
    expect(as.maps()).toContain("7fefffffb000-7ff000000000 rw-p 00000000 00:00 0");
    expect(as.maps().trimEnd().endsWith("[stack]")).toBe(true);
    expect(as.read8(top - 5 * PS + 3)).toBe(1);
    expect(thrown(() => as.write8(top - 8 * PS - 1, 1))).toBeInstanceOf(SegmentationFault);
    as.mmap(top - 8 * PS, PS, PROT_READ, ANON | MAP_FIXED);
    // Linux keeps stack_guard_gap (256 pages) above an accessible region (test/spec: stack-gap)
    expect(thrown(() => as.write8(top - 6 * PS, 1))).toBeInstanceOf(SegmentationFault);
    expect(as.regionAt(top - PS)!.start).toBe(top - 5 * PS);
    // a PROT_NONE region is no obstacle: the stack grows right down to it
    expect(as.mprotect(top - 8 * PS, PS, PROT_NONE)).toBe(0);
    as.write8(top - 7 * PS, 1);
    expect(as.regionAt(top - PS)!.start).toBe(top - 7 * PS);
    expect(as.status().vmSize).toBe(8 * PS);
    expect(as.setGrowsDown(top, top - PS)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.setGrowsDown(top - PS, top - PS)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    as.check();
  });
});
