// spec/vm.md, "sharing and copy-on-write": the model against this machine's Linux
// (scripts/linux/faults.c, test/fixtures/linux/faults.txt), and the frame counts behind it.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, MemFile, PhysicalMemory, PROT_READ, PROT_WRITE } from "../../src/index.js";
import { modelled, recorded } from "./helpers/linuxFaults.js";

const real = recorded();
const model = modelled();
const PS = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe("fork and copy-on-write, as Linux counts them", () => {
  it("'fork copies the page tables ..., so the child reads the parent's resident pages without faulting'", () => {
    expect(real.get("fork-child-read-256")).toBe("fork-child-read-256 vmsize=0 rss=0 minflt=0 majflt=0");
    expect(model.get("fork-child-read-256")).toBe(real.get("fork-child-read-256"));
  });

  it("'a child writing 256 pages causes 256 minor faults and the parent's data is unchanged'", () => {
    expect(real.get("fork-child-write-256")).toBe("fork-child-write-256 vmsize=0 rss=0 minflt=256 majflt=0");
    expect(model.get("fork-child-write-256")).toBe(real.get("fork-child-write-256"));
    expect(real.get("fork-parent-unchanged")).toBe("fork-parent-unchanged 1");
    expect(model.get("fork-parent-unchanged")).toBe(real.get("fork-parent-unchanged"));
  });

  it("'fork() share[s] frames read-only': the parent's own first write after the fork is a minor fault too, even once the child has gone", () => {
    expect(model.get("fork-parent-write-256-after-child-exit")).toBe(real.get("fork-parent-write-256-after-child-exit"));
  });

  it("'MAP_PRIVATE file mappings ... share frames read-only; the first write to such a page copies it (a minor fault) ... nobody else sees the write'", () => {
    expect(real.get("private-file-first-write")).toBe("private-file-first-write vmsize=0 rss=0 minflt=1 majflt=0");
    expect(model.get("private-file-first-write")).toBe(real.get("private-file-first-write"));
    expect(model.get("private-file-others-see")).toBe(real.get("private-file-others-see"));
  });

  it("a private page not yet copied shares the file's frame, so it sees a MAP_SHARED write; its copy does not", () => {
    expect(real.get("shared-write-seen-by-private")).toBe("shared-write-seen-by-private copied=3 uncopied=43");
    expect(model.get("shared-write-seen-by-private")).toBe(real.get("shared-write-seen-by-private"));
  });
});

describe("frames are reference-counted", () => {
  it("'Several pages, in one or several address spaces, may map one frame (frames are reference-counted)': a frame is freed when its last mapping goes", () => {
    const memory = new PhysicalMemory({ frames: 64 });
    const parent = new AddressSpace({ memory });
    const a = parent.mmap(0, 4 * PS, RW, ANON);
    for (let i = 0; i < 4; i++) parent.write8(a + i * PS, i + 1);
    const used = memory.frames - memory.freeFrames;
    const child = parent.fork();
    expect(parent.munmap(a, 4 * PS)).toBe(0);
    expect(memory.frames - memory.freeFrames).toBe(used); // the child still maps all four
    for (let i = 0; i < 4; i++) expect(child.read8(a + i * PS)).toBe(i + 1);
    expect(child.munmap(a, 4 * PS)).toBe(0);
    expect(memory.frames - memory.freeFrames).toBe(used - 4);
  });

  it("'A fork costs time in proportion to the pages mapped, never to the bytes they hold': forking 256 resident pages takes no frame", () => {
    const memory = new PhysicalMemory({ frames: 1024 });
    const parent = new AddressSpace({ memory });
    const a = parent.mmap(0, 256 * PS, RW, ANON);
    for (let i = 0; i < 256; i++) parent.write8(a + i * PS, 1);
    const free0 = memory.freeFrames;
    const child = parent.fork();
    expect(memory.freeFrames).toBe(free0);
    expect(child.status().vmRss).toBe(parent.status().vmRss);
  });
});

describe("'fork copies the page tables (as Linux does for private memory)' (scripts/linux/fork-tables.c, test/fixtures/linux/fork-tables.txt)", () => {
  const real = new Map(readFileSync(new URL("../fixtures/linux/fork-tables.txt", import.meta.url), "utf8").trim().split("\n").map((l) => l.split(" ") as [string, string]));
  const N = 16;
  const parent = new AddressSpace({ memory: new PhysicalMemory({ frames: 512 }) });
  const file = new MemFile(new Uint8Array(N * PS).fill(3), "/tmp/fork-tables.bin");
  const kinds = {
    "private-file-written": parent.mmap(0, N * PS, RW, MAP_PRIVATE, file, 0),
    "anon-read-only": parent.mmap(0, N * PS, RW, ANON),
    "anon-written": parent.mmap(0, N * PS, RW, ANON),
  };
  for (let i = 0; i < N; i++) {
    parent.write8(kinds["private-file-written"] + i * PS, 1);
    parent.read8(kinds["anon-read-only"] + i * PS);
    parent.write8(kinds["anon-written"] + i * PS, 1);
  }
  const child = parent.fork();
  const faults = (base: number) => {
    const f = child.status().minorFaults + child.status().majorFaults;
    for (let i = 0; i < N; i++) child.read8(base + i * PS);
    return String(child.status().minorFaults + child.status().majorFaults - f);
  };
  for (const kind of ["private-file-written", "anon-read-only", "anon-written"] as const) {
    it(`private memory (${kind}): the child reads the parent's 16 resident pages without a fault, as on Linux`, () => {
      expect(real.get(`fork-child-read-${kind}`)).toBe("0");
      expect(faults(kinds[kind])).toBe(real.get(`fork-child-read-${kind}`));
    });
  }
  // Linux leaves shared mappings (and private file pages never written) to fault in the child,
  // one minor fault per 64 KiB with fault-around (the recording's other lines); the model
  // copies those tables too, so its child does not fault there: a known difference, not checked.
});
