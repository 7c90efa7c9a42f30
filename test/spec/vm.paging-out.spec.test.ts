// spec/vm.md, "paging out": the textbook sequences hit for hit, and a victim's frame reused.
import { describe, expect, it } from "vitest";
import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, PhysicalMemory, PROT_READ, PROT_WRITE, SwapSpace } from "../../src/index.js";

const PS = 4096;
const RW = PROT_READ | PROT_WRITE;
const BELADY = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

/** Touches `refs` (page numbers) in order and returns "H"/"M" per touch, with the victims evicted. */
function run(replacement: "fifo" | "lru", frames: number, refs: number[]): { pattern: string; victims: number[] } {
  const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 64 }), swap: new SwapSpace({ slots: 64 }), replacement, maxResidentPages: frames });
  const a = as.mmap(0, 8 * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS);
  const victims: number[] = [];
  const off = as.on((e) => { if (e.type === "evict") victims.push((e.address - a) / PS); });
  let pattern = "";
  for (const r of refs) {
    const s = as.status();
    as.write8(a + r * PS, r);
    const t = as.status();
    pattern += t.minorFaults + t.majorFaults > s.minorFaults + s.majorFaults ? "M" : "H";
  }
  off();
  for (const r of new Set(refs)) expect(as.read8(a + r * PS)).toBe(r); // the victims came back from swap intact
  return { pattern, victims };
}

describe("replacement: 'fifo and lru must give exactly the textbook hit/miss sequence'", () => {
  it("FIFO, 3 frames: MMMMMMMHHMMH (9 misses), victims 1 2 3 4 1 2", () => {
    expect(run("fifo", 3, BELADY)).toEqual({ pattern: "MMMMMMMHHMMH", victims: [1, 2, 3, 4, 1, 2] });
  });
  it("FIFO, 4 frames: MMMMHHMMMMMM (10 misses: Belady's anomaly), victims 1 2 3 4 5 1", () => {
    expect(run("fifo", 4, BELADY)).toEqual({ pattern: "MMMMHHMMMMMM", victims: [1, 2, 3, 4, 5, 1] });
  });
  it("LRU, 3 frames: MMMMMMMHHMMM (10 misses), victims 1 2 3 4 5 1 2", () => {
    expect(run("lru", 3, BELADY)).toEqual({ pattern: "MMMMMMMHHMMM", victims: [1, 2, 3, 4, 5, 1, 2] });
  });
  it("LRU, 4 frames: MMMMHHMHHMMM (8 misses), victims 3 4 5 1", () => {
    expect(run("lru", 4, BELADY)).toEqual({ pattern: "MMMMHHMHHMMM", victims: [3, 4, 5, 1] });
  });
});

describe("'when no frame is free ... a victim page is written to swap and its frame reused'", () => {
  it("with every frame taken, each new page evicts one to swap; the free count stays at zero and every page comes back intact", () => {
    const memory = new PhysicalMemory({ frames: 8 });
    const as = new AddressSpace({ memory, swap: new SwapSpace({ slots: 32 }) });
    const a = as.mmap(0, 24 * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    let filled = -1;
    for (let i = 0; i < 24; i++) {
      as.write32(a + i * PS + 4, 0x1000 + i);
      if (memory.freeFrames === 0 && filled < 0) filled = i;
    }
    expect(filled).toBeGreaterThanOrEqual(0);
    const s = as.status();
    expect(memory.freeFrames).toBe(0);
    expect(s.swapOuts).toBe(24 - (filled + 1));
    expect(s.vmSwap).toBe(s.swapOuts * PS);
    expect(s.vmRss + s.vmSwap).toBe(24 * PS);
    for (let i = 0; i < 24; i++) expect(as.read32(a + i * PS + 4)).toBe(0x1000 + i);
    expect(as.status().majorFaults).toBeGreaterThan(0);
    expect(as.status().swapIns).toBe(as.status().majorFaults);
  });
});
