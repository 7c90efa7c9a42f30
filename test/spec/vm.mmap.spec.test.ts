// spec/vm.md, "mmap / munmap / mprotect (errors as in Linux)": how the calls split and merge
// regions, step by step, against this machine's Linux (scripts/linux/regions.c, which printed
// test/fixtures/linux/regions.txt: each step's result and the maps lines in its window).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AddressSpace,
  BusError,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MemFile,
  MemoryFault,
  MREMAP_MAYMOVE,
  PhysicalMemory,
  Process,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  ProtectionFault,
  SegmentationFault,
  snapshotAddressSpace,
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

// Where vm.md is silent ("do what a C/Linux programmer would expect"): scripts/linux/file-edges.c,
// test/fixtures/linux/file-edges.txt, replayed on the model.
describe("mmap's edges, as Linux has them", () => {
  const fixture = readFileSync(new URL("../fixtures/linux/file-edges.txt", import.meta.url), "utf8");
  const recordedEdges = new Map(fixture.trim().split("\n").map((l) => [l.split(" ")[0]!, l]));
  const space = new AddressSpace({ memory: new PhysicalMemory({ frames: 64 }), addressBits: 48 });
  const edges = new Map<string, string>();
  const put = (label: string, what: string) => edges.set(label, `${label} ${what}`);
  const outcome = (f: () => number | void): string => {
    try {
      const v = f();
      return v === undefined ? "ok" : String(v);
    } catch (e) {
      if (e instanceof BusError) return "SIGBUS";
      if (e instanceof SegmentationFault || e instanceof ProtectionFault) return "SIGSEGV";
      throw e;
    }
  };
  const mapped = (r: number) => (r === MAP_FAILED ? `-1 errno ${space.errno}` : "ok");

  const u = space.mmap(0, P, PROT_READ | 0x80, ANON);
  put("mmap-prot-unknown-bit", mapped(u));
  put("mmap-prot-unknown-bit-read", outcome(() => space.read8(u)));
  put("mmap-prot-unknown-bit-write", outcome(() => space.write8(u, 7)));
  const r = space.mprotect(u, P, PROT_READ | 0x80);
  put("mprotect-prot-unknown-bit", `${r} errno ${r === -1 ? space.errno : 0}`);

  const ten = new MemFile(new TextEncoder().encode("0123456789"), "/tmp/file-edges.bin");
  const priv = space.mmap(0, 3 * P, RW, MAP_PRIVATE, ten, 0);
  const shared = space.mmap(0, 3 * P, RW, MAP_SHARED, ten, 0);
  put("map-3-pages-of-10-byte-file", mapped(priv));
  put("private-read-last-byte", outcome(() => space.read8(priv + 9)));
  put("private-read-past-eof-same-page", outcome(() => space.read8(priv + 100)));
  put("private-read-next-page", outcome(() => space.read8(priv + P + 1)));
  put("private-write-next-page", outcome(() => space.write8(priv + P + 1, 7)));
  put("private-read-third-page", outcome(() => space.read8(priv + 2 * P)));
  put("shared-write-past-eof-same-page", outcome(() => space.write8(shared + 100, 7)));
  put("private-sees-it-before-its-copy", outcome(() => space.read8(priv + 100)));
  put("shared-read-next-page", outcome(() => space.read8(shared + P)));
  put("shared-write-next-page", outcome(() => space.write8(shared + P, 7)));
  ten.sync();
  put("file-size-after", String(ten.size));

  const s = space.mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS);
  space.write8(s, 1);
  const g = space.mremap(s, P, 2 * P, MREMAP_MAYMOVE);
  put("shared-anon-mremap-grow", mapped(g));
  put("shared-anon-grown-first-page", outcome(() => space.read8(g)));
  put("shared-anon-grown-new-page", outcome(() => space.read8(g + P)));

  it("the recording and the model have the same cases", () => {
    expect([...edges.keys()]).toEqual([...recordedEdges.keys()]);
  });
  it("mmap ignores prot bits it does not know (mprotect says EINVAL, as vm.md has it)", () => {
    for (const l of ["mmap-prot-unknown-bit", "mmap-prot-unknown-bit-read", "mmap-prot-unknown-bit-write", "mprotect-prot-unknown-bit"]) expect(edges.get(l)).toBe(recordedEdges.get(l));
  });
  it("a file mapping's last page reads zeros past the end of the file; a page wholly past it is a BusError (SIGBUS), read or write, private or shared", () => {
    expect(recordedEdges.get("private-read-next-page")).toBe("private-read-next-page SIGBUS");
    for (const l of ["map-3-pages-of-10-byte-file", "private-read-last-byte", "private-read-past-eof-same-page", "private-read-next-page", "private-write-next-page", "private-read-third-page", "shared-read-next-page", "shared-write-next-page"]) {
      expect(edges.get(l)).toBe(recordedEdges.get(l));
    }
  });
  it("a store past the end of file in its last page reaches the page (a private mapping not yet copied sees it) but never grows the file", () => {
    for (const l of ["shared-write-past-eof-same-page", "private-sees-it-before-its-copy", "file-size-after"]) expect(edges.get(l)).toBe(recordedEdges.get(l));
  });
  it("the pages mremap adds to shared anonymous memory are past the end of its hidden file: BusError", () => {
    for (const l of ["shared-anon-mremap-grow", "shared-anon-grown-first-page", "shared-anon-grown-new-page"]) expect(edges.get(l)).toBe(recordedEdges.get(l));
  });
  it("BusError is a MemoryFault with the address and the access, named in the message", () => {
    const e = (() => { try { space.write8(priv + 2 * P + 5, 1); } catch (x) { return x; } return null; })() as BusError;
    expect(e).toBeInstanceOf(MemoryFault);
    expect(e.name).toBe("BusError");
    expect([e.address, e.access]).toEqual([priv + 2 * P + 5, "write"]);
    expect(e.message).toBe(`Bus error: write at 0x${(priv + 2 * P + 5).toString(16)} (past the end of /tmp/file-edges.bin)`);
  });
});

// "/proc/self/maps": which lines are [heap] and [stack] (scripts/linux/names.c,
// test/fixtures/linux/names.txt). Heap lines relative to the break at main, cut there.
describe("'[heap]' and '[stack]' lines, named by position as Linux names them", () => {
  const text = readFileSync(new URL("../fixtures/linux/names.txt", import.meta.url), "utf8");
  const real = new Map<string, string[]>();
  let cur: string[] = [];
  for (const l of text.trim().split("\n")) {
    if (l.startsWith("== ")) real.set(l.slice(3), (cur = []));
    else cur.push(l);
  }
  const p = Process.spawn({ memory: new PhysicalMemory({ frames: 512 }) });
  const as = p.as;
  const b0 = p.sbrk(0);
  const model = new Map<string, string[]>();
  const snap = (title: string) => {
    const lines: string[] = [];
    for (const l of p.maps().trim().split("\n")) {
      const [range, perms] = l.split(" ") as [string, string];
      const [lo, hi] = range.split("-").map((x) => parseInt(x, 16)) as [number, number];
      const name = l.length > 73 ? l.slice(73) : "";
      if (hi > b0 && lo < b0 + 16 * P) lines.push(`+${(Math.max(lo, b0) - b0).toString(16)}-+${(hi - b0).toString(16)} ${perms} ${name}`);
      else if (lo >= 0x7ffffff00000 && lo < 2 ** 47) lines.push(`${range} ${perms} ${name}`);
    }
    model.set(title, lines);
  };
  p.sbrk(8 * P);
  snap("heap grown 8 pages");
  as.mmap(b0 + 2 * P, P, PROT_READ, ANON | MAP_FIXED);
  snap("fixed read-only page inside the heap");
  as.munmap(b0 + 4 * P, P);
  snap("hole inside the heap");
  as.mprotect(b0 + 2 * P, P, RW);
  snap("the heap page made read-write again");
  as.mmap(b0 + 4 * P, P, RW, ANON | MAP_FIXED);
  snap("hole filled read-write");
  as.mmap(0x7ffffffe0000, P, PROT_READ, ANON | MAP_FIXED);
  snap("fixed read-only page low in the stack");
  as.mprotect(0x7ffffffe0000, P, RW);
  snap("the stack page made read-write again");

  it("the recording and the model have the same steps", () => expect([...model.keys()]).toEqual([...real.keys()]));
  for (const [title, lines] of real) it(title, () => expect(model.get(title)).toEqual(lines));
  it("regionName() and a snapshot's regions name each region as maps() does", () => {
    const stackPart = as.regions().find((v) => v.start === 0x7ffffffde000)!;
    expect(as.regionName(stackPart)).toBe("");
    expect(as.regionName(as.regionAt(b0 + 2 * P)!)).toBe("[heap]");
    const names = p.maps().trim().split("\n").map((l) => (l.length > 73 ? l.slice(73) : ""));
    expect(snapshotAddressSpace(as).regions.map((r) => r.name)).toEqual(names.filter((n) => n !== "[vsyscall]"));
  });
});
