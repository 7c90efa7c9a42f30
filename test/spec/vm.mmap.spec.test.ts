// spec/vm.md, "mmap / munmap / mprotect (errors as in Linux)": how the calls split and merge
// regions, step by step, against this machine's Linux (scripts/linux/regions.c, which printed
// test/fixtures/linux/regions.txt: each step's result and the maps lines in its window).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AddressSpace,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MemFile,
  PhysicalMemory,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/index.js";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const LO = 0x10000000;
const HI = 0x40000000;

/** The recorded steps: label → result line and window lines. */
function recorded(): Map<string, string[]> {
  const text = readFileSync(new URL("../fixtures/linux/regions.txt", import.meta.url), "utf8");
  const steps = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of text.trim().split("\n")) {
    if (line.startsWith("== ")) steps.set(line.split(" ")[1]!, (current = [line]));
    else current.push(line);
  }
  return steps;
}

/** A file's inode differs between the machine and the model: compare the rest. */
const normal = (line: string) => line.replace(/^(\S+ \S+ \S+ \S+) \d+ +(?=\S)/, "$1 INODE ");

const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 256 }), addressBits: 48 });
const file = new MemFile(new Uint8Array(8 * P), "/tmp/regions.bin");
const model = new Map<string, string[]>();
function step(label: string, r: number): void {
  const lines = [r === -1 ? `== ${label} -1 errno ${as.errno}` : `== ${label} ${r.toString(16)}`];
  for (const l of as.maps().split("\n")) {
    const start = parseInt(l.split("-")[0]!, 16);
    if (l !== "" && start >= LO && start < HI) lines.push(l);
  }
  model.set(label, lines);
}
const map = (addr: number, len: number, prot: number, flags: number, offset?: number) =>
  offset === undefined ? as.mmap(addr, len, prot, flags) : as.mmap(addr, len, prot, flags, file, offset);

// The steps of regions.c, in its order (each acts on what the ones before left).
step("map-3-pages", map(0x10000000, 3 * P, RW, ANON | MAP_FIXED));
step("fixed-readonly-over-middle", map(0x10001000, P, PROT_READ, ANON | MAP_FIXED));
step("fixed-rw-over-middle-merges", map(0x10001000, P, RW, ANON | MAP_FIXED));
step("munmap-middle", as.munmap(0x10001000, P));
step("map-into-hole-merges", map(0x10001000, P, RW, ANON | MAP_FIXED));
step("mprotect-middle", as.mprotect(0x10001000, P, PROT_READ | PROT_EXEC));
step("mprotect-first-none", as.mprotect(0x10000000, P, PROT_NONE));
step("mprotect-all-back", as.mprotect(0x10000000, 3 * P, RW));
step("length-1-rounds-up", map(0x11000000, 1, RW, ANON | MAP_FIXED));
step("adjacent-below-merges", map(0x10fff000, P, RW, ANON | MAP_FIXED));
step("adjacent-other-prot-stays", map(0x11001000, P, PROT_READ, ANON | MAP_FIXED));
step("munmap-across-two-and-a-hole", as.munmap(0x10002000, 0x11000000 - 0x10002000 + P));
step("fixed-over-two-regions", map(0x10fff000, 3 * P, PROT_READ | PROT_EXEC, ANON | MAP_FIXED));
step("shared-anon", map(0x12000000, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED));
step("private-anon-beside-shared-stays", map(0x12002000, P, RW, ANON | MAP_FIXED));
step("file-private", map(0x13000000, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, P));
step("file-private-next-offset-merges", map(0x13002000, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 3 * P));
step("file-private-gap-in-offset-stays", map(0x13003000, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 6 * P));
step("file-shared", map(0x13100000, P, RW, MAP_SHARED | MAP_FIXED, 0));
step("file-offset-unaligned", map(0x13200000, P, PROT_READ, MAP_PRIVATE, 100));
step("file-mprotect-middle", as.mprotect(0x13001000, P, RW));
step("file-munmap-first-page", as.munmap(0x13000000, P));
step("mprotect-hole", as.mprotect(0x10fff000, 0x12000000 - 0x10fff000 + P, PROT_READ));
step("munmap-unaligned-length", as.munmap(0x12000000, 1));

const real = recorded();

const sentence: Record<string, string> = {
  "map-3-pages": "mmap with MAP_FIXED maps exactly there",
  "fixed-readonly-over-middle": "'MAP_FIXED replaces whatever it overlaps (splitting regions)'",
  "fixed-rw-over-middle-merges": "'Adjacent anonymous regions with equal attributes merge' (MAP_FIXED back to the neighbours' protection)",
  "munmap-middle": "'unmapping the middle of a region splits it'",
  "map-into-hole-merges": "'Adjacent anonymous regions with equal attributes merge' (the hole filled)",
  "mprotect-middle": "'protecting the middle of a region leaves three regions'",
  "mprotect-first-none": "PROT_NONE shows as ---p",
  "mprotect-all-back": "'Adjacent anonymous regions with equal attributes merge' (mprotect over all three)",
  "length-1-rounds-up": "'length rounds up to whole pages'",
  "adjacent-below-merges": "'Adjacent anonymous regions with equal attributes merge' (a new region just below)",
  "adjacent-other-prot-stays": "adjacent anonymous regions with different protections stay apart",
  "munmap-across-two-and-a-hole": "'unmapping a range with nothing mapped is not an error' (a range over two regions' ends and a hole)",
  "fixed-over-two-regions": "'MAP_FIXED replaces whatever it overlaps' (two regions at once)",
  "shared-anon": "shared anonymous memory shows as a deleted /dev/zero",
  "private-anon-beside-shared-stays": "private anonymous memory does not merge with shared",
  "file-private": "a file mapping shows its offset, device, inode and name",
  "file-private-next-offset-merges": "file mappings of the same file at contiguous offsets merge",
  "file-private-gap-in-offset-stays": "file mappings whose offsets are not contiguous stay apart",
  "file-shared": "a shared file mapping shows 's'",
  "file-offset-unaligned": "'unaligned offset → EINVAL'",
  "file-mprotect-middle": "protecting the middle of a file mapping leaves three regions with their offsets",
  "file-munmap-first-page": "unmapping a file mapping's first page",
  "mprotect-hole": "'a range with any unmapped page → ENOMEM' (the region before the hole changed)",
  "munmap-unaligned-length": "munmap's length rounds up; a shared anonymous region cut at the front shows its offset",
};

describe("regions after mmap, munmap and mprotect, as Linux shows them", () => {
  it("the recording and the model have the same steps", () => {
    expect([...model.keys()]).toEqual([...real.keys()]);
    expect(Object.keys(sentence)).toEqual([...real.keys()]);
  });
  for (const [label, lines] of real) {
    it(`${label}: ${sentence[label] ?? ""}`, () => {
      expect(model.get(label)?.map(normal)).toEqual(lines.map(normal));
    });
  }
});
