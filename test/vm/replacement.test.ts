import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { ArgumentError, OutOfMemoryError } from "../../src/errors.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { AddressSpace, type ReplacementPolicy, type VmEvent } from "../../src/vm/AddressSpace.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { simulateReplacement } from "../../src/vm/replay.js";
import { SwapSpace } from "../../src/vm/Swap.js";
import { fcSeed, space, thrown } from "./helpers/asKit.js";

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const BELADY = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];

/** Per reference, whether a real address space with `frames` resident pages hit (no fault) when writing it. */
function realHits(refs: number[], frames: number, policy: ReplacementPolicy, pageSize = 4096): boolean[] {
  const as = space({ frames: 64, pageSize, swapSlots: 64, maxResidentPages: frames, replacement: policy });
  const a = as.mmap(0, 8 * pageSize, RW, ANON);
  const hits: boolean[] = [];
  for (const r of refs) {
    const before = as.status();
    as.write8(a + r * pageSize, r);
    const after = as.status();
    hits.push(after.minorFaults + after.majorFaults === before.minorFaults + before.majorFaults);
  }
  for (const r of refs) expect(as.read8(a + r * pageSize)).toBe(r);
  return hits;
}

function realMisses(refs: number[], frames: number, policy: ReplacementPolicy, pageSize = 4096): number {
  return realHits(refs, frames, policy, pageSize).filter((h) => !h).length;
}

describe("simulateReplacement (on paper)", () => {
  it("FIFO: 9 misses with 3 frames, 10 with 4 (Belady's anomaly)", () => {
    expect(simulateReplacement(BELADY, 3, "fifo").misses).toBe(9);
    expect(simulateReplacement(BELADY, 4, "fifo").misses).toBe(10);
  });

  it("LRU: 10 misses with 3 frames, 8 with 4", () => {
    expect(simulateReplacement(BELADY, 3, "lru").misses).toBe(10);
    expect(simulateReplacement(BELADY, 4, "lru").misses).toBe(8);
  });

  it("OPT: 7 with 3 frames, 6 with 4; never worse than the others", () => {
    expect(simulateReplacement(BELADY, 3, "opt").misses).toBe(7);
    expect(simulateReplacement(BELADY, 4, "opt").misses).toBe(6);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (refs, n) => {
        const opt = simulateReplacement(refs, n, "opt").misses;
        for (const p of ["fifo", "lru", "clock"] as const) expect(opt).toBeLessThanOrEqual(simulateReplacement(refs, n, p).misses);
      }),
      { seed: fcSeed("replay opt ≤ others"), numRuns: 200 },
    );
  });

  it("rejects a bad frame count or policy", () => {
    expect(thrown(() => simulateReplacement([1], 0, "fifo"))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => simulateReplacement([1], 2, "mru" as "lru"))).toBeInstanceOf(ArgumentError);
  });

  it("traces each reference: hit, victim, frames", () => {
    const r = simulateReplacement([1, 2, 1, 3], 2, "fifo");
    expect(r.hits).toBe(1);
    expect(r.trace.map((s) => s.hit)).toEqual([false, false, true, false]);
    expect(r.trace[3]!.evicted).toBe(1);
    expect(r.trace[3]!.frames).toEqual([3, 2]);
  });

  it("clock gives a second chance", () => {
    // 1,2,3 loaded (bits set); 4: the hand clears all three and evicts 1; 1 again evicts 2 (bit clear).
    const r = simulateReplacement([1, 2, 3, 4, 1], 3, "clock");
    expect(r.trace[3]!.evicted).toBe(1);
    expect(r.trace[4]!.evicted).toBe(2);
  });
});

describe("page replacement in a real address space", () => {
  it("FIFO gives the textbook numbers: 9 and 10 misses (Belady), hit for hit", () => {
    expect(realHits(BELADY, 3, "fifo")).toEqual(simulateReplacement(BELADY, 3, "fifo").trace.map((t) => t.hit));
    expect(realMisses(BELADY, 3, "fifo")).toBe(9);
    expect(realMisses(BELADY, 4, "fifo")).toBe(10);
  });

  it("LRU gives the textbook numbers: 10 and 8 misses", () => {
    expect(realMisses(BELADY, 3, "lru")).toBe(10);
    expect(realMisses(BELADY, 4, "lru")).toBe(8);
  });

  it("the same numbers reading a file mapping (clean file pages are dropped and read again)", () => {
    for (const [policy, c, want] of [["fifo", 3, 9], ["fifo", 4, 10], ["lru", 3, 10], ["lru", 4, 8]] as const) {
      const as = space({ frames: 64, maxResidentPages: c, replacement: policy });
      const f = new MemFile(new Uint8Array(8 * 4096).map((_, i) => i >> 12), "refs");
      const a = as.mmap(0, 8 * 4096, PROT_READ, MAP_PRIVATE, f);
      for (const r of BELADY) expect(as.read8(a + r * 4096)).toBe(r);
      const s = as.status();
      expect(s.majorFaults + s.minorFaults).toBe(want);
      expect(s.swapOuts).toBe(0);
    }
  });

  it("fifo, lru and clock match the paper replay on random reference strings (tiny pages)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 30 }), fc.integer({ min: 2, max: 5 }), fc.constantFrom<ReplacementPolicy>("fifo", "lru", "clock"), (refs, n, policy) => {
        expect(realHits(refs, n, policy, 64)).toEqual(simulateReplacement(refs, n, policy).trace.map((t) => t.hit));
      }),
      { seed: fcSeed("real vs replay"), numRuns: 200 },
    );
  });

  it("faults after the first touch are major faults that swap the page back in, intact", () => {
    const as = space({ frames: 64, swapSlots: 16, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(0, 4 * 4096, RW, ANON);
    for (let i = 0; i < 4; i++) as.write32(a + i * 4096 + 100, 0x1000 + i);
    const s = as.status();
    expect(s.swapOuts).toBe(2);
    expect(s.vmSwap).toBe(2 * 4096);
    expect(s.vmRss).toBe(2 * 4096);
    for (let i = 0; i < 4; i++) expect(as.read32(a + i * 4096 + 100)).toBe(0x1000 + i);
    const t = as.status();
    expect(t.swapIns).toBe(4);
    expect(t.majorFaults).toBe(4);
    expect(t.minorFaults).toBe(4);
  });

  it("clock clears the accessed bit and gives pages a second chance", () => {
    const events: VmEvent[] = [];
    const as = space({ frames: 64, swapSlots: 16, maxResidentPages: 3, replacement: "clock", onEvent: (e) => events.push(e) });
    const ps = 4096;
    const a = as.mmap(0, 8 * ps, RW, ANON);
    for (const p of [0, 1, 2]) as.write8(a + p * ps, p);
    as.write8(a + 3 * ps, 3); // all A set: clears 0, 1, 2, evicts 0
    const ev = events.filter((e) => e.type === "evict");
    expect(ev.map((e) => (e as { address: number }).address)).toEqual([a]);
    as.read8(a + 1 * ps); // re-sets A on page 1 (through a fresh walk: the TLB entry was dropped)
    as.write8(a + 4 * ps, 4); // 1 has A set again → second chance; 2 is evicted
    const ev2 = events.filter((e) => e.type === "evict");
    expect((ev2[1] as { address: number }).address).toBe(a + 2 * ps);
    for (let p = 0; p < 5; p++) expect(as.read8(a + p * ps)).toBe(p);
  });

  it("clean file pages are dropped, not swapped, and read back from the file", () => {
    const bytes = new Uint8Array(4 * 4096).map((_, i) => i & 255);
    const f = new MemFile(bytes, "f");
    const as = space({ frames: 64, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(0, 4 * 4096, PROT_READ, MAP_PRIVATE, f);
    for (let p = 0; p < 4; p++) expect(as.read8(a + p * 4096 + 1)).toBe(1);
    expect(as.status().swapOuts).toBe(0);
    expect(as.residentPages).toBe(2);
    expect(as.read8(a + 5)).toBe(5);
    expect(as.status().majorFaults).toBe(5);
  });

  it("dirty shared file pages are written back when evicted", () => {
    const f = new MemFile(new Uint8Array(4 * 4096), "f");
    const as = space({ frames: 64, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(0, 4 * 4096, RW, MAP_SHARED, f);
    for (let p = 0; p < 4; p++) as.write8(a + p * 4096, p + 1);
    expect(f.bytes[0]).toBe(1);
    expect(f.bytes[4096]).toBe(2);
    for (let p = 0; p < 4; p++) expect(as.read8(a + p * 4096)).toBe(p + 1);
  });

  it("no frame and no swap slot: OutOfMemoryError, and nothing mapped loses data", () => {
    const as = space({ frames: 4, swapSlots: 2 }); // 4 frames + 2 slots = 6 pages
    const ps = 4096;
    const a = as.mmap(0, 10 * ps, RW, ANON);
    for (let p = 0; p < 6; p++) as.write8(a + p * ps, p + 10);
    const e = thrown(() => as.write8(a + 6 * ps, 99)) as OutOfMemoryError;
    expect(e).toBeInstanceOf(OutOfMemoryError);
    // It names the access and the address, as faults do.
    expect(e.address).toBe(a + 6 * ps);
    expect(e.access).toBe("write");
    expect(e.message).toContain(`write at 0x${(a + 6 * ps).toString(16)}`);
    expect(thrown(() => as.read8(a + 6 * ps))).toBeUndefined(); // reads still map the zero page
    for (let p = 0; p < 6; p++) expect(as.read8(a + p * ps)).toBe(p + 10);
    as.munmap(a + 5 * ps, ps);
    as.write8(a + 6 * ps, 99);
    expect(as.read8(a + 6 * ps)).toBe(99);
    for (let p = 0; p < 5; p++) expect(as.read8(a + p * ps)).toBe(p + 10);
    as.memory.check();
  });

  it("RAM and swap full with no resident page able to go: the swap-in fails and the page stays in swap, intact", () => {
    const ps = 4096;
    const memory = new PhysicalMemory({ frames: 4, shared: false });
    const swap = new SwapSpace({ slots: 1 });
    const p = new AddressSpace({ memory, swap, replacement: "fifo" });
    const q = new AddressSpace({ memory }); // no swap: its anonymous pages have nowhere to go
    const a = p.mmap(0, ps, RW, ANON);
    p.write8(a, 42);
    const b = q.mmap(0, 4 * ps, RW, ANON);
    for (let i = 0; i < 4; i++) q.write8(b + i * ps, i + 1); // the last one takes a's frame (global reclaim)
    expect(p.status().vmSwap).toBe(ps);
    expect(thrown(() => p.read8(a))).toBeInstanceOf(OutOfMemoryError);
    expect(p.status().vmSwap).toBe(ps);
    expect(swap.usedSlots).toBe(1);
    q.munmap(b, 4 * ps);
    expect(p.read8(a)).toBe(42);
    memory.check();
  });


  it("global reclaim: a space with nothing to evict gets a frame by evicting another space's page", () => {
    const memory = new PhysicalMemory({ frames: 4, shared: false });
    const p = new AddressSpace({ memory, swap: new SwapSpace({ slots: 4 }), replacement: "fifo" });
    const q = new AddressSpace({ memory });
    const a = p.mmap(0, 4 * 4096, RW, ANON);
    for (let i = 0; i < 4; i++) p.write8(a + i * 4096, i + 1);
    const b = q.mmap(0, 4096, RW, ANON);
    q.write8(b, 9);
    expect(p.status().swapOuts).toBe(1);
    for (let i = 0; i < 4; i++) expect(p.read8(a + i * 4096)).toBe(i + 1);
    expect(q.read8(b)).toBe(9);
    p.close();
    const r = new AddressSpace({ memory });
    const c = r.mmap(0, 4 * 4096, RW, ANON);
    for (let i = 0; i < 3; i++) r.write8(c + i * 4096, 1);
    expect(thrown(() => r.write8(c + 3 * 4096, 1))).toBeInstanceOf(OutOfMemoryError); // p is gone, q has no swap
  });

  for (const policy of ["fifo", "lru", "clock"] as const) {
    it(`a store crossing two pages gets both while another space holds all the RAM (${policy})`, () => {
      for (const pageSize of [4096, 32]) {
        const memory = new PhysicalMemory({ frames: 4, pageSize, shared: false });
        const swap = new SwapSpace({ slots: 16 });
        const p = new AddressSpace({ memory, swap, replacement: policy });
        const q = new AddressSpace({ memory, swap, replacement: policy });
        const a = p.mmap(0, 4 * pageSize, RW, ANON);
        for (let i = 0; i < 4; i++) p.write8(a + i * pageSize, i + 1);
        const b = q.mmap(0, 2 * pageSize, RW, ANON);
        q.write32(b + pageSize - 2, 0x11223344);
        expect(q.read32(b + pageSize - 2)).toBe(0x11223344);
        for (let i = 0; i < 4; i++) expect(p.read8(a + i * pageSize)).toBe(i + 1);
      }
    });

    it(`maxResidentPages 1: every new page evicts the last, and a crossing store still works (${policy})`, () => {
      const as = space({ frames: 8, swapSlots: 8, maxResidentPages: 1, replacement: policy });
      const a = as.mmap(0, 4 * 4096, RW, ANON);
      for (let i = 0; i < 4; i++) as.write8(a + i * 4096, i + 1);
      expect(as.status().vmRss).toBe(4096);
      expect(as.status().swapOuts).toBe(3);
      as.write32(a + 4096 - 1, 0xa1b2c3d4);
      expect(as.read32(a + 4096 - 1)).toBe(0xa1b2c3d4);
      expect(as.read8(a + 2 * 4096)).toBe(3);
      expect(as.status().vmRss).toBe(4096);
    });
  }

  it("one frame of RAM: a store crossing two pages is OutOfMemoryError and stores nothing", () => {
    const as = space({ frames: 1, swapSlots: 4 });
    const a = as.mmap(0, 2 * 4096, RW, ANON);
    as.write8(a + 4096 - 2, 7);
    as.write8(a + 4096, 8);
    const e = thrown(() => as.write32(a + 4096 - 2, 0xffffffff));
    expect(e).toBeInstanceOf(OutOfMemoryError);
    expect((e as OutOfMemoryError).address).toBe(a + 4096); // the page that found no frame
    expect((e as OutOfMemoryError).access).toBe("write");
    expect(as.read8(a + 4096 - 2)).toBe(7);
    expect(as.read8(a + 4096 - 1)).toBe(0);
    expect(as.read8(a + 4096)).toBe(8);
  });

  it("without swap, a full RAM is OutOfMemoryError", () => {
    const as = space({ frames: 2 });
    const a = as.mmap(0, 4 * 4096, RW, ANON);
    as.write8(a, 1);
    as.write8(a + 4096, 2);
    expect(thrown(() => as.write8(a + 2 * 4096, 3))).toBeInstanceOf(OutOfMemoryError);
    expect(as.read8(a)).toBe(1);
  });

  it("after fork, swapped pages are shared through slot reference counts", () => {
    const memory = new PhysicalMemory({ frames: 64, pageSize: 256, shared: false });
    const swap = new SwapSpace({ slots: 32 });
    const as = new AddressSpace({ memory, swap, maxResidentPages: 2, replacement: "fifo" });
    const a = as.mmap(0, 6 * 256, RW, ANON);
    for (let p = 0; p < 6; p++) as.write8(a + p * 256, p + 1);
    expect(swap.usedSlots).toBe(4);
    const child = as.fork();
    expect(child.status().vmSwap).toBe(4 * 256);
    for (let p = 0; p < 6; p++) child.write8(a + p * 256 + 1, 50 + p);
    for (let p = 0; p < 6; p++) {
      expect(as.read8(a + p * 256)).toBe(p + 1);
      expect(as.read8(a + p * 256 + 1)).toBe(0);
      expect(child.read8(a + p * 256)).toBe(p + 1);
      expect(child.read8(a + p * 256 + 1)).toBe(50 + p);
    }
    child.close();
    as.close();
    expect(swap.usedSlots).toBe(0);
    memory.check();
  });

  it.each(["fifo", "lru", "clock"] as const)("%s: pages shared copy-on-write by fork are swapped out too, and both sides read their own data back", (replacement) => {
    // 3 frames: after fork every resident page is shared by two spaces.
    const memory = new PhysicalMemory({ frames: 3, pageSize: 256, shared: false });
    const swap = new SwapSpace({ slots: 32 });
    const as = new AddressSpace({ memory, swap, replacement });
    const a = as.mmap(0, 12 * 256, RW, ANON);
    for (let p = 0; p < 3; p++) as.write8(a + p * 256, p + 1);
    const child = as.fork();
    // Touching new pages needs frames: shared ones go to swap (one slot for both sides).
    for (let p = 3; p < 8; p++) as.write8(a + p * 256, 10 + p);
    for (let p = 3; p < 8; p++) child.write8(a + p * 256, 20 + p);
    for (let p = 0; p < 3; p++) child.write8(a + p * 256 + 1, 30 + p); // copy on write, after a swap-in
    for (let p = 0; p < 8; p++) {
      expect(as.read8(a + p * 256)).toBe(p < 3 ? p + 1 : 10 + p);
      expect(as.read8(a + p * 256 + 1)).toBe(0);
      expect(child.read8(a + p * 256)).toBe(p < 3 ? p + 1 : 20 + p);
      expect(child.read8(a + p * 256 + 1)).toBe(p < 3 ? 30 + p : 0);
    }
    expect(as.status().swapOuts + child.status().swapOuts).toBeGreaterThan(0);
    as.check();
    child.check();
    memory.check();
    child.close();
    as.close();
    expect(swap.usedSlots).toBe(0);
    memory.check();
  });

  it("file pages mapped by several spaces are dropped (written back) for all of them, and read again", () => {
    const ps = 4096;
    const memory = new PhysicalMemory({ frames: 4, shared: false });
    const f = new MemFile(new Uint8Array(8 * ps), "f");
    const p = new AddressSpace({ memory, swap: new SwapSpace({ slots: 4 }) });
    const q = new AddressSpace({ memory });
    const fp = p.mmap(0, 8 * ps, RW, MAP_SHARED, f);
    const fq = q.mmap(0x10000000, 8 * ps, RW, MAP_SHARED, f); // another address
    for (let i = 0; i < 8; i++) {
      p.write8(fp + i * ps, i + 1);
      expect(q.read8(fq + i * ps)).toBe(i + 1); // the same page cache frame
    }
    for (let i = 0; i < 8; i++) expect(q.read8(fq + i * ps)).toBe(i + 1); // read back from the file
    expect(f.bytes[0]).toBe(1); // written back when dropped
    // Private file pages shared by fork, never written: dropped too, without swap.
    const m2 = new PhysicalMemory({ frames: 4, shared: false });
    const g = new MemFile(Uint8Array.from({ length: 8 * ps }, (_, i) => (i >> 12) + 1), "g");
    const r = new AddressSpace({ memory: m2 });
    const gr = r.mmap(0, 8 * ps, PROT_READ, MAP_PRIVATE, g);
    const child = r.fork();
    for (let i = 0; i < 8; i++) {
      expect(r.read8(gr + i * ps)).toBe(i + 1);
      expect(child.read8(gr + i * ps)).toBe(i + 1);
    }
    p.check();
    q.check();
    r.check();
    child.check();
    memory.check();
    m2.check();
  });

  it("swap integrity: random reads and writes over 64 pages with 8 frames and 128 slots, every byte checked", () => {
    const seed = fcSeed("swap integrity");
    for (const policy of ["fifo", "lru", "clock"] as const) {
      fc.assert(
        fc.property(
          fc.array(fc.record({ page: fc.integer({ min: 0, max: 63 }), off: fc.integer({ min: 0, max: 63 }), v: fc.integer({ min: -1, max: 255 }) }), { minLength: 50, maxLength: 300 }),
          (ops) => {
            const ps = 64;
            const memory = new PhysicalMemory({ frames: 8, pageSize: ps, shared: false });
            const as = new AddressSpace({ memory, swap: new SwapSpace({ slots: 128 }), replacement: policy });
            const a = as.mmap(0, 64 * ps, RW, ANON);
            const model = new Uint8Array(64 * ps);
            for (const { page, off, v } of ops) {
              const va = page * ps + off;
              if (v < 0) expect(as.read8(a + va)).toBe(model[va]);
              else {
                as.write8(a + va, v);
                model[va] = v;
              }
            }
            expect([...as.readBytes(a, 64 * ps)]).toEqual([...model]);
            const s = as.status();
            expect(s.vmRss + s.vmSwap).toBeLessThanOrEqual(64 * ps);
            memory.check();
            as.pageTable.check();
          },
        ),
        { seed, numRuns: 40 },
      );
    }
  });
});
