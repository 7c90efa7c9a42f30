// spec/vm.md, "pages and faults", against this machine's Linux: the model runs the cases of
// scripts/linux/faults.c and must print what the real program printed
// (test/fixtures/linux/faults.txt; bash scripts/linux/record.sh records it again).
import { describe, expect, it } from "vitest";
import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PhysicalMemory, PROT_READ, PROT_WRITE } from "../../src/index.js";
import { modelled, recorded } from "./helpers/linuxFaults.js";

const real = recorded();
const model = modelled();

describe("pages and faults, as Linux counts them", () => {
  it("'Mapping 256 anonymous pages adds 1 MiB to vmSize, 0 to vmRss, 0 faults'", () => {
    expect(real.get("map-256")).toBe("map-256 vmsize=1024 rss=0 minflt=0 majflt=0");
    expect(model.get("map-256")).toBe(real.get("map-256"));
  });

  it("'writing each page once adds 1 MiB to vmRss and 256 minor faults'", () => {
    expect(real.get("write-256")).toBe("write-256 vmsize=0 rss=1024 minflt=256 majflt=0");
    expect(model.get("write-256")).toBe(real.get("write-256"));
  });

  it("'The first touch of a page is a minor fault ... (a read may map a shared zero page instead)': reading 256 fresh pages is 256 minor faults and no resident bytes", () => {
    expect(real.get("read-fresh-256")).toBe("read-fresh-256 vmsize=0 rss=0 minflt=256 majflt=0");
    expect(model.get("read-fresh-256")).toBe(real.get("read-fresh-256"));
  });

  it("'fresh anonymous pages read as zeros (the zero page), copied on the first write': writing them after the read is 256 more minor faults and 1 MiB resident", () => {
    expect(model.get("write-after-read-256")).toBe(real.get("write-after-read-256"));
  });

  it("a page read through the zero page takes no frame until it is written", () => {
    const memory = new PhysicalMemory({ frames: 64 });
    const as = new AddressSpace({ memory });
    const a = as.mmap(0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const free0 = memory.freeFrames;
    for (let i = 0; i < 8; i++) expect(as.read32(a + i * 4096 + 8)).toBe(0);
    expect(memory.freeFrames).toBe(free0);
    as.write8(a + 3 * 4096, 1);
    expect(memory.freeFrames).toBe(free0 - 1);
    expect(as.read8(a + 3 * 4096)).toBe(1);
    expect(as.read8(a + 4 * 4096)).toBe(0);
  });
});

describe("alignment, as Linux counts it", () => {
  it("'An access that crosses a page boundary touches both pages': a 4-byte write across two fresh pages is 2 minor faults", () => {
    expect(real.get("write-across-pages")).toBe("write-across-pages vmsize=0 rss=8 minflt=2 majflt=0");
    expect(model.get("write-across-pages")).toBe(real.get("write-across-pages"));
  });
});
