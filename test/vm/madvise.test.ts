import { describe, expect, it } from "vitest";
import {
  MADV_DONTNEED,
  MADV_FREE,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/constants.js";
import { Errno } from "../../src/errno.js";
import * as root from "../../src/index.js";
import type { VmEvent } from "../../src/vm/AddressSpace.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { space } from "./helpers/asKit.js";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const PS = 4096;
const BASE = 0x10000000;

/** Writes `pages` pages at `a`, each with a byte saying which page it is (page i holds i + 1). */
function fill(as: ReturnType<typeof space>, a: number, pages: number): void {
  for (let i = 0; i < pages; i++) as.write8(a + i * PS + 5, i + 1);
}

describe("madvise: the constants", () => {
  it("has Linux's numbers and is exported from the package root", () => {
    expect([MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE]).toEqual([0, 1, 2, 3, 4, 8]);
    expect(root.MADV_DONTNEED).toBe(4);
    expect(root.MADV_FREE).toBe(8);
  });
});

describe("madvise(MADV_DONTNEED)", () => {
  it("private anonymous: the frames go (RSS falls), the mapping stays, the next touch is a fresh zero page (a minor fault)", () => {
    const as = space();
    const a = as.mmap(BASE, 8 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 8);
    const free = as.memory.freeFrames;
    const before = as.status();
    expect(before.vmRss).toBe(8 * PS);
    expect(as.madvise(a + 2 * PS, 4 * PS, MADV_DONTNEED)).toBe(0);
    const after = as.status();
    expect(after.vmRss).toBe(4 * PS);
    expect(after.vmSize).toBe(before.vmSize);
    expect(as.memory.freeFrames).toBe(free + 4);
    expect(as.maps()).toBe(`10000000-10008000 rw-p 00000000 00:00 0 \n`);
    // The pages outside the range keep their data.
    for (const i of [0, 1, 6, 7]) expect(as.read8(a + i * PS + 5)).toBe(i + 1);
    expect(as.status().minorFaults).toBe(after.minorFaults);
    // Inside: zeros, each first touch a minor fault (a read maps the zero page: no RSS).
    expect(as.read8(a + 2 * PS + 5)).toBe(0);
    expect(as.status().minorFaults).toBe(after.minorFaults + 1);
    expect(as.status().vmRss).toBe(4 * PS);
    as.write8(a + 3 * PS, 9);
    expect(as.status().minorFaults).toBe(after.minorFaults + 2);
    expect(as.status().vmRss).toBe(5 * PS);
    expect(as.read8(a + 3 * PS + 5)).toBe(0);
    as.check();
    as.memory.check();
  });

  it("rounds the length up to whole pages and accepts a range over several regions", () => {
    const as = space();
    as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 2 * PS, 2 * PS, PROT_READ, ANON | MAP_FIXED);
    fill(as, BASE, 2);
    as.read8(BASE + 2 * PS);
    expect(as.madvise(BASE + PS, PS + 1, MADV_DONTNEED)).toBe(0);
    expect(as.read8(BASE + 5)).toBe(1);
    expect(as.read8(BASE + PS + 5)).toBe(0);
    expect(as.regions()).toHaveLength(2);
    as.check();
  });

  it("works on PROT_NONE memory (the pages go, the protection stays)", () => {
    const as = space();
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 2);
    as.mprotect(a, 2 * PS, PROT_NONE);
    expect(as.madvise(a, 2 * PS, MADV_DONTNEED)).toBe(0);
    expect(as.status().vmRss).toBe(0);
    expect(as.regionAt(a)!.prot).toBe(PROT_NONE);
    as.check();
  });

  it("frees the swap slots of swapped-out pages; they come back as zeros", () => {
    const as = space({ frames: 64, swapSlots: 16, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(BASE, 6 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 6);
    expect(as.status().vmSwap).toBe(4 * PS);
    expect(as.swap!.freeSlots).toBe(12);
    expect(as.madvise(a, 6 * PS, MADV_DONTNEED)).toBe(0);
    expect(as.status().vmSwap).toBe(0);
    expect(as.status().vmRss).toBe(0);
    expect(as.swap!.freeSlots).toBe(16);
    for (let i = 0; i < 6; i++) expect(as.read8(a + i * PS + 5)).toBe(0);
    expect(as.status().majorFaults).toBe(0);
    as.check();
  });

  it("private file mapping: the private copies are lost, the next read sees the file again", () => {
    const bytes = new Uint8Array(2 * PS).fill(7);
    const f = new MemFile(bytes, "/data");
    const as = space();
    const a = as.mmap(0, 2 * PS, RW, MAP_PRIVATE, f, 0);
    as.write8(a, 1);
    expect(as.read8(a)).toBe(1);
    expect(as.madvise(a, 2 * PS, MADV_DONTNEED)).toBe(0);
    expect(as.status().vmRss).toBe(0);
    expect(as.read8(a)).toBe(7);
    expect(bytes[0]).toBe(7);
    as.check();
  });

  it("shared file mapping: the contents stay (a dirty page is written back to the file)", () => {
    const bytes = new Uint8Array(PS);
    const f = new MemFile(bytes, "/shared");
    const as = space();
    const a = as.mmap(0, PS, RW, MAP_SHARED, f, 0);
    as.write8(a + 3, 42);
    expect(as.madvise(a, PS, MADV_DONTNEED)).toBe(0);
    expect(as.status().vmRss).toBe(0);
    expect(bytes[3]).toBe(42);
    expect(as.read8(a + 3)).toBe(42);
    as.check();
  });

  it("shared anonymous memory keeps its contents, also for the other side of a fork", () => {
    const as = space();
    const a = as.mmap(0, PS, RW, MAP_SHARED | MAP_ANONYMOUS);
    as.write8(a, 5);
    const child = as.fork();
    expect(as.madvise(a, PS, MADV_DONTNEED)).toBe(0);
    expect(child.read8(a)).toBe(5);
    expect(as.read8(a)).toBe(5);
    child.close();
    expect(as.madvise(a, PS, MADV_DONTNEED)).toBe(0);
    expect(as.read8(a)).toBe(5);
    as.check();
  });

  it("after fork: the child's pages go, the parent's copy is untouched", () => {
    const as = space();
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 2);
    const child = as.fork();
    expect(child.madvise(a, 2 * PS, MADV_DONTNEED)).toBe(0);
    expect(child.read8(a + 5)).toBe(0);
    expect(as.read8(a + 5)).toBe(1);
    as.write8(a + PS + 5, 3); // no longer shared: written in place
    expect(as.read8(a + PS + 5)).toBe(3);
    as.check();
    child.check();
    as.memory.check();
  });
});

describe("madvise: errors as in Linux", () => {
  it("unaligned address → EINVAL, nothing dropped", () => {
    const as = space();
    const a = as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    fill(as, a, 1);
    expect(as.madvise(a + 1, PS, MADV_DONTNEED)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    expect(as.read8(a + 5)).toBe(1);
  });

  it("unknown advice → EINVAL (checked before the address)", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    for (const bad of [5, 6, 7, 1000, -1, 4.5]) {
      as.errno = 0;
      expect(as.madvise(BASE, PS, bad)).toBe(-1);
      expect(as.errno).toBe(Errno.EINVAL);
    }
    as.errno = 0;
    expect(as.madvise(BASE + 1, 0, 99)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
  });

  it("negative length → EINVAL; length 0 → 0 even where nothing is mapped", () => {
    const as = space();
    expect(as.madvise(BASE, -PS, MADV_DONTNEED)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    expect(as.madvise(BASE, 0, MADV_DONTNEED)).toBe(0);
  });

  it("a range with nothing mapped → ENOMEM", () => {
    const as = space();
    expect(as.madvise(BASE, PS, MADV_DONTNEED)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
  });

  it("a hole in the range → ENOMEM, but the mapped parts on both sides are advised (as Linux does)", () => {
    const as = space();
    as.mmap(BASE, PS, RW, ANON | MAP_FIXED);
    as.mmap(BASE + 2 * PS, PS, RW, ANON | MAP_FIXED);
    as.write8(BASE, 1);
    as.write8(BASE + 2 * PS, 2);
    expect(as.madvise(BASE, 3 * PS, MADV_DONTNEED)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.read8(BASE)).toBe(0);
    expect(as.read8(BASE + 2 * PS)).toBe(0);
    // A range running past the last mapping: also ENOMEM.
    as.write8(BASE, 1);
    expect(as.madvise(BASE, 2 * PS, MADV_DONTNEED)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
    expect(as.read8(BASE)).toBe(0);
  });

  it("the read-ahead hints are accepted and change nothing", () => {
    const as = space();
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 2);
    for (const hint of [MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED]) expect(as.madvise(a, 2 * PS, hint)).toBe(0);
    expect(as.status().vmRss).toBe(2 * PS);
    expect(as.read8(a + PS + 5)).toBe(2);
    expect(as.madvise(a + 2 * PS, PS, MADV_WILLNEED)).toBe(-1);
    expect(as.errno).toBe(Errno.ENOMEM);
  });
});

describe("madvise(MADV_FREE)", () => {
  it("pages stay resident and readable until memory is short", () => {
    const as = space();
    const a = as.mmap(BASE, 4 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 4);
    expect(as.madvise(a, 4 * PS, MADV_FREE)).toBe(0);
    expect(as.status().vmRss).toBe(4 * PS);
    for (let i = 0; i < 4; i++) expect(as.read8(a + i * PS + 5)).toBe(i + 1);
    as.check();
  });

  it("under pressure a clean lazily-freed page is dropped, not swapped (even without swap); a page written since is kept", () => {
    const events: VmEvent[] = [];
    const as = space({ frames: 64, maxResidentPages: 4, replacement: "fifo", onEvent: (e) => events.push(e) });
    const a = as.mmap(BASE, 8 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 4);
    expect(as.madvise(a, 4 * PS, MADV_FREE)).toBe(0);
    as.write8(a + 0 * PS + 5, 11); // written since: no longer free to drop
    as.write8(a + 4 * PS, 1); // at the limit: FIFO's oldest page (0) is dirty, no swap → page 1 goes
    const ev = events.filter((e) => e.type === "evict");
    expect(ev).toEqual([{ type: "evict", address: a + PS, frame: expect.any(Number) as number, to: "discard", slot: -1 }]);
    expect(as.status().vmRss).toBe(4 * PS);
    expect(as.status().swapOuts).toBe(0);
    expect(as.read8(a + 5)).toBe(11);
    expect(as.read8(a + PS + 5)).toBe(0); // dropped: a fresh zero page
    expect(as.read8(a + 2 * PS + 5)).toBe(3);
    as.check();
  });

  it("with swap, a page written after MADV_FREE is swapped and comes back intact", () => {
    const as = space({ frames: 64, swapSlots: 8, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(BASE, 4 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 2);
    as.madvise(a, 2 * PS, MADV_FREE);
    as.write8(a + 5, 21);
    as.write8(a + 2 * PS, 1); // evicts page 0 (dirty): to swap
    as.write8(a + 3 * PS, 1); // evicts page 1 (clean, lazily freed): dropped
    expect(as.status().swapOuts).toBe(1);
    expect(as.read8(a + 5)).toBe(21);
    expect(as.read8(a + PS + 5)).toBe(0);
    // Page 0 came back from swap clean; it was not given up again, so it is swapped, not dropped.
    as.write8(a + 2 * PS + 1, 1);
    as.write8(a + 3 * PS + 1, 1);
    expect(as.read8(a + 5)).toBe(21);
    as.check();
  });

  it("a page in swap is dropped at once (its slot freed)", () => {
    const as = space({ frames: 64, swapSlots: 8, maxResidentPages: 1, replacement: "fifo" });
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    fill(as, a, 2);
    expect(as.status().vmSwap).toBe(PS);
    expect(as.madvise(a, 2 * PS, MADV_FREE)).toBe(0);
    expect(as.status().vmSwap).toBe(0);
    expect(as.swap!.freeSlots).toBe(8);
    expect(as.read8(a + 5)).toBe(0);
    as.check();
  });

  it("a page still shared with a fork's child keeps its data", () => {
    const as = space({ frames: 64, maxResidentPages: 1, replacement: "fifo" });
    const a = as.mmap(BASE, 2 * PS, RW, ANON | MAP_FIXED);
    as.write8(a + 5, 1);
    const child = as.fork();
    expect(as.madvise(a, PS, MADV_FREE)).toBe(0);
    child.close();
    as.write8(a + PS, 1); // over the limit; page 0 is not lazily freed, there is no swap: it stays
    expect(as.read8(a + 5)).toBe(1);
  });

  it("file and shared mappings → EINVAL", () => {
    const as = space();
    const f = new MemFile(new Uint8Array(PS), "/f");
    const a = as.mmap(0, PS, RW, MAP_PRIVATE, f, 0);
    expect(as.madvise(a, PS, MADV_FREE)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
    const s = as.mmap(0, PS, RW, MAP_SHARED | MAP_ANONYMOUS);
    expect(as.madvise(s, PS, MADV_FREE)).toBe(-1);
    expect(as.errno).toBe(Errno.EINVAL);
  });
});
