import { describe, expect, it } from "vitest";
import {
  MADV_FREE,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/constants.js";
import { Errno } from "../../src/errno.js";
import * as root from "../../src/index.js";
import { Brk } from "../../src/heap/Brk.js";
import type { VmEvent } from "../../src/vm/AddressSpace.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { space } from "./helpers/asKit.js";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const PS = 4096;
const BASE = 0x10000000;

describe("mremap: the constants", () => {
  it("has Linux's numbers and is exported from the package root", () => {
    expect([MREMAP_MAYMOVE, MREMAP_FIXED]).toEqual([1, 2]);
    expect(root.MREMAP_MAYMOVE).toBe(1);
    expect(root.MREMAP_FIXED).toBe(2);
  });
});

describe("mremap: in place", () => {
  it("shrinking unmaps the tail and frees its frames; the head keeps its data", () => {
    const as = space();
    const a = as.mmap(BASE, 4 * PS, RW, ANON | MAP_FIXED);
    for (let i = 0; i < 4; i++) as.write8(a + i * PS, i + 1);
    const free = as.memory.freeFrames;
    expect(as.mremap(a, 4 * PS, PS + 1, 0)).toBe(a); // sizes round up: 2 pages stay
    expect(as.regionAt(a)!.end).toBe(a + 2 * PS);
    expect(as.memory.freeFrames).toBe(free + 2);
    expect(as.status().vmRss).toBe(2 * PS);
    expect(as.read8(a + PS)).toBe(2);
    as.check();
  });

  it("growing into free pages keeps the address and the frames; the new pages are fresh zeros", () => {
    const as = space();
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    as.write8(a, 1);
    as.write8(a + PS, 2);
    const faults = as.status().minorFaults;
    expect(as.mremap(a, 2 * PS, 4 * PS, 0)).toBe(a);
    expect(as.status().vmSize).toBe(4 * PS);
    expect(as.read8(a) + as.read8(a + PS)).toBe(3);
    expect(as.status().minorFaults).toBe(faults);
    expect(as.read8(a + 3 * PS)).toBe(0);
    expect(as.maps()).toBe("10000000-10004000 rw-p 00000000 00:00 0 \n");
    as.check();
  });

  it("growing into a neighbour with the same attributes merges with it", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 3 * PS, PS, RW, ANON | MAP_FIXED);
    expect(as.mremap(BASE, PS, 3 * PS, 0)).toBe(BASE);
    expect(as.regions()).toHaveLength(1);
    as.check();
  });

  it("a file mapping grows in place over more of the file", () => {
    const bytes = new Uint8Array(3 * PS).map((_, i) => i >> 12);
    const f = new MemFile(bytes, "/file");
    const as = space();
    const a = as.mmap(BASE, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0);
    expect(as.mremap(a, PS, 3 * PS, 0)).toBe(a);
    expect(as.read8(a + 2 * PS)).toBe(2);
    expect(as.maps()).toContain(`10000000-10003000 r--p 00000000 fe:00 ${f.inode} `);
  });
});

describe("mremap: moving", () => {
  it("moves the frames, not the bytes: same RSS, no fault, no frame taken, the old range unmapped", () => {
    const as = space();
    const a = as.mmap(BASE, 4 * PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 4 * PS, PS, PROT_READ, ANON | MAP_FIXED); // in the way
    for (let i = 0; i < 4; i++) as.write32(a + i * PS + 8, 0x1000 + i);
    const before = as.status();
    const free = as.memory.freeFrames;
    const probe = as.mmap(0, 6 * PS, RW, ANON);
    as.munmap(probe, 6 * PS);
    const b = as.mremap(a, 4 * PS, 6 * PS, MREMAP_MAYMOVE);
    expect(b).toBe(probe); // placed as mmap places
    expect(as.regionAt(a)).toBeNull();
    expect(as.memory.freeFrames).toBe(free);
    for (let i = 0; i < 4; i++) expect(as.read32(b + i * PS + 8)).toBe(0x1000 + i);
    const after = as.status();
    expect(after.minorFaults).toBe(before.minorFaults);
    expect(after.vmRss).toBe(before.vmRss);
    expect(after.vmSize).toBe(before.vmSize + 2 * PS);
    expect(as.read8(b + 5 * PS)).toBe(0);
    as.check();
    as.memory.check();
  });

  it("without MREMAP_MAYMOVE a blocked grow is ENOMEM and changes nothing", () => {
    const as = space();
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 2 * PS, PS, PROT_READ, ANON | MAP_FIXED);
    as.write8(a, 9);
    const maps = as.maps();
    expect(as.mremap(a, 2 * PS, 3 * PS, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.maps()).toBe(maps);
    expect(as.read8(a)).toBe(9);
  });

  it("swapped-out pages move with their slots and come back intact", () => {
    const as = space({ frames: 64, swapSlots: 16, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(BASE, 6 * PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 6 * PS, PS, PROT_READ, ANON | MAP_FIXED);
    for (let i = 0; i < 6; i++) as.write8(a + i * PS, 10 + i);
    expect(as.status().vmSwap).toBe(4 * PS);
    const b = as.mremap(a, 6 * PS, 8 * PS, MREMAP_MAYMOVE);
    expect(b).not.toBe(a);
    expect(as.status().vmSwap).toBe(4 * PS);
    as.check();
    for (let i = 0; i < 6; i++) expect(as.read8(b + i * PS)).toBe(10 + i);
    // Four came back from swap, evicting the two resident ones, which came back too.
    expect(as.status().majorFaults).toBe(6);
    as.check();
  });

  it("the resident set keeps its order: FIFO evicts the moved pages in the order they came", () => {
    const events: VmEvent[] = [];
    const as = space({ frames: 64, swapSlots: 16, maxResidentPages: 3, replacement: "fifo", onEvent: (e) => events.push(e) });
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    const c = as.mmap(BASE + 8 * PS, 2 * PS, RW, ANON | MAP_FIXED);
    as.write8(a, 1); // oldest
    as.write8(c, 2);
    as.write8(a + PS, 3);
    const b = as.mremap(a, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 32 * PS);
    expect(b).toBe(BASE + 32 * PS);
    as.write8(c + PS, 4); // evicts the oldest: the moved first page
    const ev = events.filter((e) => e.type === "evict") as Array<{ address: number }>;
    expect(ev.map((e) => e.address)).toEqual([b]);
    expect(as.read8(b)).toBe(1);
    as.check();
  });

  it("MREMAP_FIXED replaces what is at the destination (its frames freed) and may shrink while moving", () => {
    const as = space();
    const a = as.mmap(BASE, 3 * PS, RW, ANON | MAP_FIXED);
    for (let i = 0; i < 3; i++) as.write8(a + i * PS, i + 1);
    const d = as.mmap(BASE + 64 * PS, 4 * PS, RW, ANON | MAP_FIXED);
    for (let i = 0; i < 4; i++) as.write8(d + i * PS, 0x55);
    expect(as.status().vmRss).toBe(7 * PS);
    expect(as.mremap(a, 3 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, d)).toBe(d);
    expect(as.status().vmRss).toBe(2 * PS + 2 * PS); // 2 moved, 2 left of the destination's 4
    expect(as.read8(d)).toBe(1);
    expect(as.read8(d + PS)).toBe(2);
    expect(as.read8(d + 2 * PS)).toBe(0x55);
    expect(as.regionAt(a)).toBeNull();
    as.check();
    as.memory.check();
  });

  it("a private file mapping moves with its offset; the page cache frames stay shared", () => {
    const bytes = new Uint8Array(4 * PS).map((_, i) => (i >> 12) + 1);
    const f = new MemFile(bytes, "/lib.so");
    const as = space();
    const a = as.mmap(BASE, 4 * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0);
    expect(as.read8(a + 2 * PS)).toBe(3);
    const b = as.mremap(a + 2 * PS, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 32 * PS);
    const line = (range: string, off: string): string => `${range} r--p ${off} fe:00 ${f.inode} `.padEnd(73) + "/lib.so\n";
    expect(as.maps()).toBe(line("10000000-10002000", "00000000") + line("10020000-10022000", "00002000"));
    expect(as.read8(b)).toBe(3);
    expect(as.read8(b + PS)).toBe(4);
    as.check();
  });

  it("shared anonymous memory: oldSize 0 maps the same pages again; a private mapping → EINVAL", () => {
    const as = space();
    const s = as.mmap(0, PS, RW, MAP_SHARED | MAP_ANONYMOUS);
    as.write8(s, 1);
    const t = as.mremap(s, 0, PS, MREMAP_MAYMOVE);
    expect(t).not.toBe(MAP_FAILED);
    expect(t).not.toBe(s);
    as.write8(t + 1, 2);
    expect(as.read8(s + 1)).toBe(2);
    expect(as.read8(t)).toBe(1);
    expect(as.mremap(s, 0, PS, 0)).toBe(MAP_FAILED); // may not move: no room "after" a 0-byte range
    expect(as.errno).toBe(Errno.ENOMEM);
    const p = as.mmap(0, PS, RW, ANON);
    expect(as.mremap(p, 0, PS, MREMAP_MAYMOVE)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
    as.check();
  });

  it("a moved [heap] or [stack] is no longer named so; [anon:NAME] keeps its name", () => {
    const as = space();
    const brk = new Brk(as, { start: BASE });
    brk.sbrk(2 * PS);
    const h = as.mremap(BASE, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 64 * PS);
    expect(as.maps()).toBe(`${h.toString(16).padStart(8, "0")}-${(h + 2 * PS).toString(16).padStart(8, "0")} rw-p 00000000 00:00 0 \n`);
    const n = as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.nameAnon(n, PS, "buf");
    const m = as.mremap(n, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 32 * PS);
    expect(as.regionAt(m)!.name).toBe("[anon:buf]");
  });

  it("lazily-freed pages stay lazily freed where they move", () => {
    const as = space({ frames: 64, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.write8(a, 1);
    as.madvise(a, PS, MADV_FREE);
    const b = as.mremap(a, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 16 * PS);
    const c = as.mmap(BASE + 32 * PS, 2 * PS, RW, ANON | MAP_FIXED);
    as.write8(c, 1);
    as.write8(c + PS, 1); // at the limit, no swap: the moved clean page is dropped
    expect(as.read8(b)).toBe(0);
    as.check();
  });

  it("emits an mremap event", () => {
    const events: VmEvent[] = [];
    const as = space({ onEvent: (e) => events.push(e) });
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    as.mremap(a, 2 * PS, PS, 0);
    const b = as.mremap(a, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 16 * PS);
    expect(events.filter((e) => e.type === "mremap")).toEqual([
      { type: "mremap", oldAddress: a, oldLength: 2 * PS, address: a, length: PS },
      { type: "mremap", oldAddress: a, oldLength: PS, address: b, length: PS },
    ]);
  });
});

describe("mremap: errors", () => {
  it("EINVAL for bad numbers, unknown flags (MREMAP_DONTUNMAP is not modelled) and a negative size", () => {
    const as = space();
    const a = as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    for (const [o, os, ns, fl] of [
      [a, PS, 2 * PS, 4],
      [a, PS, 2 * PS, 1.5],
      [a, -PS, PS, MREMAP_MAYMOVE],
      [a, PS, -PS, MREMAP_MAYMOVE],
      [-PS, PS, PS, MREMAP_MAYMOVE],
    ] as const) {
      as.errno = 0;
      expect(as.mremap(o, os, ns, fl)).toBe(MAP_FAILED);
      expect(as.errno).toBe(Errno.EINVAL);
    }
  });

  it("MREMAP_FIXED past user space → EINVAL; below mmap_min_addr → EPERM; nothing changed", () => {
    const as = space();
    const a = as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.write8(a, 1);
    expect(as.mremap(a, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, as.taskSize)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EINVAL);
    expect(as.mremap(a, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EPERM);
    expect(as.read8(a)).toBe(1);
  });

  it("MREMAP_FIXED from an old range across regions → EFAULT before the destination is touched", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + PS, PS, PROT_READ, ANON | MAP_FIXED);
    const d = as.mmap(BASE + 64 * PS, 2 * PS, RW, ANON | MAP_FIXED);
    as.write8(d, 7);
    expect(as.mremap(BASE, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, d)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.EFAULT);
    expect(as.read8(d)).toBe(7);
  });

  it("no room anywhere to move to → ENOMEM", () => {
    const as = space({ addressBits: 32, mmapMinAddr: 2 ** 31 });
    const a = as.mmap(2 ** 31, PS, RW, ANON | MAP_FIXED);
    as.mmap(2 ** 31 + PS, PS, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
    expect(as.mremap(a, PS, 2 ** 31, MREMAP_MAYMOVE)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.ENOMEM);
  });

  it("growing at the top of user space without room → ENOMEM", () => {
    const as = space();
    const a = as.mmap(as.taskSize - PS, PS, RW, ANON | MAP_FIXED);
    expect(as.mremap(a, PS, 2 * PS, 0)).toBe(MAP_FAILED);
    expect(as.errno).toBe(Errno.ENOMEM);
  });
});
