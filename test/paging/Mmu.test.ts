import { describe, expect, it } from "vitest";
import { AlignmentFault, ArgumentError, MemoryFault, OutOfMemoryError, ProtectionFault, SegmentationFault, VmError } from "../../src/errors.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { MAX_FAULT_RETRIES, Mmu, type FaultHandler } from "../../src/paging/Mmu.js";
import { PageTable } from "../../src/paging/PageTable.js";
import { ACCESSED, COW, DIRTY, EXEC, PRESENT, USER, WRITABLE, makePte, pteFrame, pteUpdate } from "../../src/paging/pte.js";
import { Tlb } from "../../src/paging/Tlb.js";
import { machine, thrown, type Machine } from "./helpers/vmKit.js";

const RW = USER | WRITABLE;
const RO = USER;
const RX = USER | EXEC;

/** Maps the page holding `va` to a fresh zeroed frame with `flags`; returns the frame. */
function map(m: Machine, va: number, flags: number): number {
  const f = m.mem.allocFrame(true);
  m.pt.set(va, makePte(f, flags));
  return f;
}

function fault(fn: () => unknown): MemoryFault {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(MemoryFault);
  return e as MemoryFault;
}

describe("Mmu: construction", () => {
  it("makes its own page table and TLB when not given them", () => {
    const mem = new PhysicalMemory({ frames: 4, shared: false });
    const mmu = new Mmu({ memory: mem });
    expect(mmu.pageTable.addressBits).toBe(32);
    expect(mmu.pageTable.pageSize).toBe(4096);
    expect(mmu.tlb.size).toBe(64);
    expect(mmu.alignment).toBe("ignore");
    expect(mmu.onFault).toBeNull();
    expect(mmu.lastUse).toBeNull();
    const wide = new Mmu({ memory: mem, addressBits: 48, tlb: { entries: 8, ways: 2 } });
    expect(wide.pageTable.levels).toEqual([9, 9, 9, 9]);
    expect(wide.tlb.ways).toBe(2);
    const tlb = new Tlb({ entries: 2 });
    expect(new Mmu({ memory: mem, tlb }).tlb).toBe(tlb);
  });

  it("refuses a page table whose pages are not the memory's frames, and unknown alignment policies", () => {
    const mem = new PhysicalMemory({ frames: 4, shared: false });
    expect(() => new Mmu({ memory: mem, pageTable: new PageTable({ pageSize: 256, addressBits: 16 }) })).toThrow(/page table's pages \(256 bytes\) are not the memory's frames \(4096 bytes\)/);
    expect(() => new Mmu({ memory: mem, alignment: "strict" as unknown as "trap" })).toThrow(ArgumentError);
  });
});

describe("Mmu.translate", () => {
  it("turns a virtual address into frame · pageSize + offset", () => {
    const m = machine();
    const f = map(m, 0x0804_8000, RW);
    expect(m.mmu.translate(0x0804_8123, "read")).toBe(f * 4096 + 0x123);
    expect(m.mmu.translate(0x0804_8fff, "write")).toBe(f * 4096 + 0xfff);
  });

  it("misses and walks the first time, hits afterwards, for any offset in the page", () => {
    const m = machine();
    map(m, 0x1000, RW);
    m.mmu.translate(0x1000, "read");
    expect([m.mmu.hits, m.mmu.misses, m.mmu.walks]).toEqual([0, 1, 1]);
    m.mmu.translate(0x1004, "read");
    m.mmu.translate(0x1ffc, "read");
    expect([m.mmu.hits, m.mmu.misses, m.mmu.walks]).toEqual([2, 1, 1]);
    m.mmu.resetCounters();
    expect([m.mmu.hits, m.mmu.misses, m.mmu.walks, m.mmu.faults, m.mmu.alignmentFixups]).toEqual([0, 0, 0, 0, 0]);
  });

  it("sets ACCESSED on any access and DIRTY on a write, in the PTE", () => {
    const m = machine();
    map(m, 0x1000, RW);
    map(m, 0x2000, RX);
    m.mmu.translate(0x1000, "read");
    expect(m.pt.get(0x1000) & (ACCESSED | DIRTY)).toBe(ACCESSED);
    m.mmu.translate(0x2000, "exec");
    expect(m.pt.get(0x2000) & (ACCESSED | DIRTY)).toBe(ACCESSED);
  });

  it("sets DIRTY on the first write even when a read already filled the TLB entry", () => {
    const m = machine();
    map(m, 0x1000, RW);
    m.mmu.translate(0x1000, "read");
    m.mmu.translate(0x1008, "read");
    expect(m.pt.get(0x1000) & DIRTY).toBe(0);
    expect([m.mmu.hits, m.mmu.misses, m.mmu.walks]).toEqual([1, 1, 1]);
    m.mmu.translate(0x1010, "write"); // tag hit, but the cached entry is clean: walk
    expect(m.pt.get(0x1000) & DIRTY).toBe(DIRTY);
    expect([m.mmu.hits, m.mmu.misses, m.mmu.walks]).toEqual([1, 2, 2]);
    m.mmu.translate(0x1018, "write"); // now the entry is dirty: a plain hit
    m.mmu.translate(0x101c, "read");
    expect([m.mmu.hits, m.mmu.misses, m.mmu.walks]).toEqual([3, 2, 2]);
    expect(m.mmu.tlb.occupancy).toBe(1);
  });

  it("does not set ACCESSED again on TLB hits: clearing it (clock) needs an invalidate to be seen", () => {
    const m = machine();
    map(m, 0x1000, RW);
    m.mmu.translate(0x1000, "read");
    m.pt.set(0x1000, pteUpdate(m.pt.get(0x1000), 0, ACCESSED));
    m.mmu.translate(0x1000, "read");
    expect(m.pt.get(0x1000) & ACCESSED).toBe(0); // served by the TLB
    m.mmu.invalidate(0x1000);
    m.mmu.translate(0x1000, "read");
    expect(m.pt.get(0x1000) & ACCESSED).toBe(ACCESSED);
  });

  it("keeps serving a stale translation until the page is invalidated (the owner's job, as on hardware)", () => {
    const m = machine();
    const f1 = map(m, 0x1000, RW);
    expect(m.mmu.translate(0x1000, "read")).toBe(f1 * 4096);
    const f2 = m.mem.allocFrame();
    m.pt.set(0x1000, makePte(f2, RW));
    expect(m.mmu.translate(0x1000, "read")).toBe(f1 * 4096);
    m.mmu.invalidate(0x1000);
    expect(m.mmu.translate(0x1000, "read")).toBe(f2 * 4096);
    m.pt.clear(0x1000);
    m.mmu.flush();
    expect(fault(() => m.mmu.translate(0x1000, "read"))).toBeInstanceOf(SegmentationFault);
  });

  it("rejects an unknown access kind and non-integer addresses", () => {
    const m = machine();
    map(m, 0x1000, RW);
    m.mmu.translate(0x1000, "read");
    expect(() => m.mmu.translate(0x1000, "fetch" as unknown as "read")).toThrow(ArgumentError);
    for (const va of [0x1000 + 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => m.mmu.translate(va, "read"), String(va)).toThrow(/address must be an integer/);
    }
  });

  it("rejects addresses and values that are not numbers, on a TLB hit as on a miss, storing nothing", () => {
    const m = machine();
    map(m, 0x1000, RW);
    m.mmu.write32(0x1000, 0x11223344);
    const bad: unknown[] = ["4096", "0x1000", 4096n, Symbol("a"), null, undefined, {}, [4096], true];
    const calls: Array<[string, (va: number) => unknown]> = [
      ["translate", (va) => m.mmu.translate(va, "read")],
      ["read8", (va) => m.mmu.read8(va)],
      ["read16", (va) => m.mmu.read16(va)],
      ["read32", (va) => m.mmu.read32(va)],
      ["read64", (va) => m.mmu.read64(va)],
      ["write8", (va) => m.mmu.write8(va, 1)],
      ["write16", (va) => m.mmu.write16(va, 1)],
      ["write32", (va) => m.mmu.write32(va, 1)],
      ["write64", (va) => m.mmu.write64(va, 1n)],
      ["readBytes", (va) => m.mmu.readBytes(va, 4)],
      ["writeBytes", (va) => m.mmu.writeBytes(va, new Uint8Array(4))],
    ];
    for (const flush of [false, true]) {
      for (const [name, call] of calls) {
        for (const va of bad) {
          if (flush) m.mmu.flush();
          else m.mmu.translate(0x1000, "write"); // the page's translation is in the TLB
          expect(() => call(va as number), `${name}(${typeof va})`).toThrow(ArgumentError);
        }
      }
    }
    expect(() => m.mmu.read8("4096" as unknown as number)).toThrow(/address must be an integer, got "4096"/);
    expect(() => m.mmu.read8(4096n as unknown as number)).toThrow(/got 4096n/);
    // Values: a number for the narrow stores, a bigint for write64.
    for (const v of ["5", 5n, null, undefined, {}] as unknown[]) {
      expect(() => m.mmu.write8(0x1000, v as number)).toThrow(ArgumentError);
      expect(() => m.mmu.write16(0x1001, v as number)).toThrow(ArgumentError);
      expect(() => m.mmu.write32(0x1000, v as number)).toThrow(ArgumentError);
    }
    expect(() => m.mmu.write64(0x1000, 5 as unknown as bigint)).toThrow(/value must be a bigint/);
    expect(m.mmu.read32(0x1000)).toBe(0x11223344);
    expect(m.mmu.read32(0x1004)).toBe(0);
  });

  it("works in a 48-bit space, with page numbers beyond 2^32", () => {
    const m = machine({ addressBits: 48 });
    const va = 0x7fff_dead_b000;
    const f = map(m, va, RW);
    expect(m.mmu.translate(va + 0xee, "write")).toBe(f * 4096 + 0xee);
    expect(m.mmu.translate(va + 0xef, "read")).toBe(f * 4096 + 0xef);
    expect(m.mmu.hits).toBe(1);
    m.mmu.write32(va + 0x10, 0x12345678);
    expect(m.mmu.read32(va + 0x10)).toBe(0x12345678);
    expect(fault(() => m.mmu.read8(2 ** 48))).toBeInstanceOf(SegmentationFault);
  });

  it("names the frame when a PTE points past RAM", () => {
    const m = machine({ frames: 4 });
    m.pt.set(0x1000, makePte(100, RW));
    const e = thrown(() => m.mmu.translate(0x1000, "read"));
    expect(e).toBeInstanceOf(VmError);
    expect((e as Error).message).toMatch(/names frame 100, but RAM has frames 0 to 4/);
  });
});

describe("Mmu: faults", () => {
  it("no PTE: SegmentationFault with the address, the access and the size", () => {
    const m = machine();
    const e = fault(() => m.mmu.read32(0x4000));
    expect(e).toBeInstanceOf(SegmentationFault);
    expect(e.name).toBe("SegmentationFault");
    expect([e.address, e.access, e.size]).toEqual([0x4000, "read", 4]);
    expect(e.message).toBe("Segmentation fault: read at 0x4000 (no mapping)");
    expect(m.mmu.faults).toBe(1);
    // A negative address (outside any space) reads as C would print it.
    const neg = fault(() => m.mmu.read8(-0x1000));
    expect([neg.address, neg.message]).toEqual([-0x1000, "Segmentation fault: read at -0x1000 (no mapping)"]);
    const w = fault(() => m.mmu.write8(0x4001, 1));
    expect([w.address, w.access, w.size]).toEqual([0x4001, "write", 1]);
  });

  it("a write to a read-only page, a fetch from a non-exec page: ProtectionFault", () => {
    const m = machine();
    map(m, 0x1000, RO);
    map(m, 0x2000, RW);
    m.mmu.read8(0x1000);
    const w = fault(() => m.mmu.write8(0x1004, 1));
    expect(w).toBeInstanceOf(ProtectionFault);
    expect([w.address, w.access]).toEqual([0x1004, "write"]);
    expect(w.message).toBe("Segmentation fault: write at 0x1004 (permission denied)");
    const x = fault(() => m.mmu.translate(0x2000, "exec"));
    expect(x).toBeInstanceOf(ProtectionFault);
    expect(x.access).toBe("exec");
    expect(m.pt.get(0x1000) & DIRTY).toBe(0);
  });

  it("a present page without USER (how PROT_NONE keeps its frame) faults on every access", () => {
    const m = machine();
    const f = m.mem.allocFrame();
    m.pt.set(0x1000, makePte(f, WRITABLE | EXEC));
    for (const a of ["read", "write", "exec"] as const) expect(fault(() => m.mmu.translate(0x1000, a))).toBeInstanceOf(ProtectionFault);
    expect(m.pt.get(0x1000) & ACCESSED).toBe(0);
  });

  it("addresses outside the address space are segmentation faults (no walk, no handler)", () => {
    let called = 0;
    const m = machine({ levels: [4, 4], pageSize: 256, onFault: () => ++called > 0 });
    for (const va of [-1, -256, 0x10000, 2 ** 40]) {
      const e = fault(() => m.mmu.read8(va));
      expect(e).toBeInstanceOf(SegmentationFault);
      expect(e.address).toBe(va);
    }
    expect(called).toBe(0);
    expect(m.mmu.walks).toBe(0);
  });

  it("demand paging: the handler maps a frame and returns true; the access then succeeds", () => {
    const calls: [number, string, number, number][] = [];
    const m: Machine = machine({
      onFault: (va, access, pte, size) => {
        calls.push([va, access, pte, size]);
        m.pt.set(va, makePte(m.mem.allocFrame(true), RW));
        return true;
      },
    });
    expect(m.mmu.read32(0x5000)).toBe(0);
    expect(calls).toEqual([[0x5000, "read", 0, 4]]);
    m.mmu.write32(0x5004, 99);
    expect(m.mmu.read32(0x5004)).toBe(99);
    expect(calls).toHaveLength(1);
    expect([m.mmu.faults, m.mmu.walks]).toEqual([1, 3]); // fault walk, re-walk, first-write walk
  });

  it("copy-on-write: the handler copies a shared frame; the other mapping keeps the old bytes", () => {
    const mem = new PhysicalMemory({ frames: 8, shared: false });
    const parent = new Mmu({ memory: mem });
    const child = new Mmu({ memory: mem });
    const shared = mem.allocFrame(true);
    mem.ref(shared);
    mem.u8[shared * 4096 + 8] = 0x11;
    const cowPte = makePte(shared, USER | COW);
    parent.pageTable.set(0x1000, cowPte);
    child.pageTable.set(0x1000, cowPte);
    const onCow =
      (mmu: Mmu): FaultHandler =>
      (va, access, pte) => {
        if (access !== "write" || (pte & COW) === 0) return false;
        const copy = mem.allocFrame();
        mem.copyFrame(copy, pteFrame(pte));
        mem.unref(pteFrame(pte));
        mmu.pageTable.set(va, makePte(copy, USER | WRITABLE));
        return true;
      };
    parent.onFault = onCow(parent);
    child.onFault = onCow(child);
    expect(child.read8(0x1008)).toBe(0x11); // reads share the frame
    child.write8(0x1008, 0x22);
    expect(child.read8(0x1008)).toBe(0x22);
    expect(parent.read8(0x1008)).toBe(0x11);
    expect(mem.refCount(shared)).toBe(1);
    expect(mem.sharedFrames).toBe(0);
    expect(child.faults).toBe(1);
    mem.check();
  });

  it("a handler returning false gets the default fault; a handler's own fault propagates", () => {
    const m = machine({ onFault: () => false });
    map(m, 0x1000, RO);
    expect(fault(() => m.mmu.write8(0x1000, 1))).toBeInstanceOf(ProtectionFault);
    expect(fault(() => m.mmu.read8(0x9000))).toBeInstanceOf(SegmentationFault);
    m.mmu.onFault = (va, access) => {
      throw new ProtectionFault(va, access, 1);
    };
    expect(fault(() => m.mmu.read8(0x9000))).toBeInstanceOf(ProtectionFault);
  });

  it("a handler that returns true without fixing anything gets a VmError after MAX_FAULT_RETRIES", () => {
    let calls = 0;
    const m = machine({ onFault: () => ++calls > 0 });
    const e = thrown(() => m.mmu.read8(0x3000));
    expect(e).toBeInstanceOf(VmError);
    expect(e).not.toBeInstanceOf(MemoryFault);
    expect((e as Error).message).toMatch(/returned true 8 times for a read at 0x3000/);
    expect(calls).toBe(MAX_FAULT_RETRIES);
  });

  it("a chain of faults on one access (swap-in, then copy-on-write) is followed to the end", () => {
    const m: Machine = machine({
      onFault: (va, access, pte) => {
        if (pte === 0) m.pt.set(va, makePte(m.mem.allocFrame(true), USER | COW)); // "swapped in" read-only
        else if (access === "write" && (pte & COW) !== 0) m.pt.set(va, makePte(pteFrame(pte), RW));
        else return false;
        return true;
      },
    });
    m.mmu.write8(0x2000, 5);
    expect(m.mmu.read8(0x2000)).toBe(5);
    expect(m.mmu.faults).toBe(2);
  });
});

describe("Mmu: loads and stores", () => {
  it("round-trips 8-, 16-, 32- and 64-bit values, little-endian in RAM, unsigned", () => {
    const m = machine();
    const f = map(m, 0x1000, RW);
    const pa = f * 4096;
    m.mmu.write8(0x1000, 0x1ff);
    expect(m.mmu.read8(0x1000)).toBe(0xff);
    m.mmu.write16(0x1002, 0xbeef);
    expect(m.mmu.read16(0x1002)).toBe(0xbeef);
    expect([m.mem.u8[pa + 2], m.mem.u8[pa + 3]]).toEqual([0xef, 0xbe]);
    m.mmu.write32(0x1004, -1);
    expect(m.mmu.read32(0x1004)).toBe(0xffff_ffff);
    m.mmu.write32(0x1008, 0x0403_0201);
    expect([...m.mem.u8.subarray(pa + 8, pa + 12)]).toEqual([1, 2, 3, 4]);
    m.mmu.write64(0x1010, 0x0807_0605_0403_0201n);
    expect([...m.mem.u8.subarray(pa + 16, pa + 24)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(m.mmu.read64(0x1010)).toBe(0x0807_0605_0403_0201n);
    m.mmu.write64(0x1018, -1n);
    expect(m.mmu.read64(0x1018)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it("reads from a read-only page, faults on storing to it", () => {
    const m = machine();
    const f = map(m, 0x1000, RO);
    m.mem.dv.setUint32(f * 4096 + 4, 77, true);
    expect(m.mmu.read32(0x1004)).toBe(77);
    expect(fault(() => m.mmu.write32(0x1004, 1))).toBeInstanceOf(ProtectionFault);
    expect(m.mem.dv.getUint32(f * 4096 + 4, true)).toBe(77);
  });

  it("readBytes / writeBytes copy ranges over several pages in scattered frames", () => {
    const m = machine({ pageSize: 64, levels: [4, 6] });
    // Frames handed out in reverse page order, so contiguous virtual pages are not contiguous in RAM.
    const frames = [5, 3, 9, 1];
    for (let i = 0; i < 4; i++) {
      while (m.mem.refCount(frames[i]!) === 0) m.mem.allocFrame();
      m.pt.set(0x400 + i * 64, makePte(frames[i]!, RW));
    }
    const data = Uint8Array.from({ length: 200 }, (_, i) => (i * 7 + 1) & 0xff);
    m.mmu.writeBytes(0x410, data); // 0x410 … 0x4d7: pages 0–3
    expect([...m.mmu.readBytes(0x410, 200)]).toEqual([...data]);
    expect(m.mem.u8[5 * 64 + 0x10]).toBe(data[0]);
    expect(m.mem.u8[3 * 64]).toBe(data[48]);
    expect(m.mem.u8[9 * 64]).toBe(data[112]);
    expect(m.mmu.readBytes(0x410, 0)).toEqual(new Uint8Array(0));
    m.mmu.writeBytes(0x410, new Uint8Array(0));
    expect(() => m.mmu.readBytes(0x410, -1)).toThrow(ArgumentError);
    expect(() => m.mmu.readBytes(0x410, 1.5)).toThrow(/length must be an integer from 0 to 2\^32 - 1/);
    for (const length of [2 ** 32, 2 ** 33, Number.MAX_SAFE_INTEGER]) expect(() => m.mmu.readBytes(0x410, length)).toThrow(ArgumentError);
  });

  it("writeBytes is memcpy: a fault on a later page leaves the earlier pages written", () => {
    const m = machine({ pageSize: 64, levels: [4, 6] });
    map(m, 0x000, RW);
    map(m, 0x040, RO);
    const e = fault(() => m.mmu.writeBytes(0x030, new Uint8Array(32).fill(9)));
    expect(e).toBeInstanceOf(ProtectionFault);
    expect(e.address).toBe(0x040);
    expect(e.size).toBe(32);
    expect([...m.mmu.readBytes(0x030, 16)]).toEqual(Array(16).fill(9));
    expect([...m.mmu.readBytes(0x040, 16)]).toEqual(Array(16).fill(0));
    expect(fault(() => m.mmu.readBytes(0x070, 32)).address).toBe(0x080);
  });

  it("records each access's frame in lastUse with trackUse", () => {
    const m = machine({ trackUse: true });
    const a = map(m, 0x1000, RW);
    const b = map(m, 0x2000, RW);
    m.mmu.read8(0x1000); // miss
    m.mmu.read8(0x2000); // miss
    m.mmu.read8(0x1001); // hit
    const lu = m.mmu.lastUse!;
    expect(lu).toHaveLength(m.mem.totalFrames);
    expect(lu[a]).toBe(3);
    expect(lu[b]).toBe(2);
    expect(m.mmu.useClock).toBe(3);
  });
});

describe("Mmu: accesses crossing a page boundary", () => {
  it("split a value over two pages mapped to non-adjacent frames", () => {
    const m = machine({ pageSize: 16, levels: [4, 4], frames: 16 });
    m.mem.allocFrame();
    m.mem.allocFrame();
    const f0 = map(m, 0x00, RW); // frame 3
    m.mem.allocFrame();
    const f1 = map(m, 0x10, RW); // frame 5
    m.mmu.write32(0x0e, 0xddccbbaa);
    expect([m.mem.u8[f0 * 16 + 14], m.mem.u8[f0 * 16 + 15], m.mem.u8[f1 * 16], m.mem.u8[f1 * 16 + 1]]).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
    expect(m.mmu.read32(0x0e)).toBe(0xddccbbaa);
    m.mmu.write64(0x0b, 0x1122_3344_5566_7788n);
    expect(m.mmu.read64(0x0b)).toBe(0x1122_3344_5566_7788n);
    m.mmu.write16(0x0f, 0x4321);
    expect(m.mmu.read16(0x0f)).toBe(0x4321);
    expect(m.pt.get(0x00) & DIRTY).toBe(DIRTY);
    expect(m.pt.get(0x10) & DIRTY).toBe(DIRTY);
    expect(m.mmu.alignmentFixups).toBe(0);
  });

  it("a load faults on the second page with the address of its first byte", () => {
    const m = machine({ pageSize: 16, levels: [4, 4] });
    map(m, 0x00, RW);
    const e = fault(() => m.mmu.read32(0x0e));
    expect(e).toBeInstanceOf(SegmentationFault);
    expect([e.address, e.access, e.size]).toEqual([0x10, "read", 4]);
  });

  it("a load faults on the first page before touching the second", () => {
    const m = machine({ pageSize: 16, levels: [4, 4] });
    map(m, 0x10, RW);
    const e = fault(() => m.mmu.read64(0x0c));
    expect(e.address).toBe(0x0c);
    expect(m.pt.get(0x10) & ACCESSED).toBe(0);
  });

  it("a store that faults on either page writes nothing", () => {
    const m = machine({ pageSize: 16, levels: [4, 4] });
    map(m, 0x00, RW);
    map(m, 0x10, RO);
    const e = fault(() => m.mmu.write32(0x0e, 0xffff_ffff));
    expect(e).toBeInstanceOf(ProtectionFault);
    expect(e.address).toBe(0x10);
    expect([...m.mmu.readBytes(0x0c, 8)]).toEqual(Array(8).fill(0));
    map(m, 0x20, RO);
    map(m, 0x30, RW);
    expect(fault(() => m.mmu.write64(0x2d, 1n)).address).toBe(0x2d);
    expect([...m.mmu.readBytes(0x2c, 8)]).toEqual(Array(8).fill(0));
  });

  it("a store whose second page's fault evicts the first page translates the first again", () => {
    // A handler with room for two resident pages, FIFO: faulting page B in evicts page A.
    const ps = 16;
    let m!: Machine;
    const resident: number[] = [];
    const backing = new Map<number, Uint8Array>(); // vpn → saved bytes ("swap")
    const onFault: FaultHandler = (va) => {
      const vpn = Math.floor(va / ps);
      if (resident.length === 2) {
        const victim = resident.shift()!;
        const pte = m.pt.lookup(victim);
        backing.set(victim, m.mem.frameBytes(pteFrame(pte)).slice());
        m.mem.freeFrame(pteFrame(pte));
        m.pt.setVpn(victim, 0);
        m.mmu.invalidate(victim * ps);
      }
      const f = m.mem.allocFrame(true);
      const saved = backing.get(vpn);
      if (saved) m.mem.frameBytes(f).set(saved);
      m.pt.setVpn(vpn, makePte(f, RW));
      resident.push(vpn);
      return true;
    };
    m = machine({ pageSize: ps, levels: [4, 4], onFault });
    m.mmu.write8(0x00, 1); // A resident
    m.mmu.write8(0x20, 2); // C resident; queue [A, C]
    m.mmu.write32(0x0e, 0xddccbbaa); // B evicts A; A comes back evicting C; B stays
    expect(resident).toEqual([1, 0]);
    expect(m.mmu.read32(0x0e)).toBe(0xddccbbaa);
    expect(m.mmu.read8(0x00)).toBe(1);
  });

  it("gives up with an OutOfMemoryError when a fault handler that ignores the pin keeps one page only", () => {
    let m!: Machine;
    let resident = -1;
    const onFault: FaultHandler = (va) => {
      if (resident >= 0) {
        m.mem.freeFrame(pteFrame(m.pt.lookup(resident)));
        m.pt.setVpn(resident, 0);
        m.mmu.invalidate(resident * 16);
      }
      resident = Math.floor(va / 16);
      m.pt.setVpn(resident, makePte(m.mem.allocFrame(true), RW));
      return true;
    };
    m = machine({ pageSize: 16, levels: [4, 4], onFault });
    const e = thrown(() => m.mmu.write32(0x0e, 1));
    expect(e).toBeInstanceOf(OutOfMemoryError);
    expect((e as Error).message).toMatch(/the 4-byte store at 0xe needs its two pages resident at once/);
    expect(m.mmu.pinnedPage).toBe(-1);
  });
});

describe("Mmu: alignment policies", () => {
  const misaligned = [
    { size: 2, va: 0x101 },
    { size: 4, va: 0x102 },
    { size: 8, va: 0x104 },
  ];
  const store = (m: Machine, size: number, va: number, v: number): void => {
    if (size === 2) m.mmu.write16(va, v);
    else if (size === 4) m.mmu.write32(va, v);
    else m.mmu.write64(va, BigInt(v));
  };
  const load = (m: Machine, size: number, va: number): number => (size === 2 ? m.mmu.read16(va) : size === 4 ? m.mmu.read32(va) : Number(m.mmu.read64(va)));

  it('"ignore" (default): misaligned accesses just work and are not counted', () => {
    const m = machine({ pageSize: 256, levels: [4, 4] });
    map(m, 0x100, RW);
    for (const { size, va } of misaligned) {
      store(m, size, va, 0x1234);
      expect(load(m, size, va)).toBe(0x1234);
    }
    expect(m.mmu.alignmentFixups).toBe(0);
  });

  it('"fixup": misaligned accesses give the same results and each one is counted', () => {
    const m = machine({ pageSize: 256, levels: [4, 4], alignment: "fixup" });
    map(m, 0x100, RW);
    map(m, 0x200, RW);
    let n = 0;
    for (const { size, va } of misaligned) {
      store(m, size, va, 0x4321);
      expect(load(m, size, va)).toBe(0x4321);
      n += 2;
      expect(m.mmu.alignmentFixups).toBe(n);
    }
    // Aligned accesses and bytes are never fixed up.
    m.mmu.write32(0x110, 5);
    m.mmu.read64(0x118);
    m.mmu.read8(0x101);
    m.mmu.readBytes(0x101, 7);
    expect(m.mmu.alignmentFixups).toBe(n);
    // Crossing a page is misaligned by definition, and fixed up too.
    m.mmu.write32(0x1fe, 0xa1b2c3d4);
    expect(m.mmu.read32(0x1fe)).toBe(0xa1b2c3d4);
    expect(m.mmu.alignmentFixups).toBe(n + 2);
    // An access that faults was not fixed up: not counted.
    expect(fault(() => m.mmu.read32(0x2fe))).toBeInstanceOf(SegmentationFault);
    expect(fault(() => m.mmu.write16(0x301, 1))).toBeInstanceOf(SegmentationFault);
    expect(m.mmu.alignmentFixups).toBe(n + 2);
  });

  it('"trap": AlignmentFault (SIGBUS) with the address, access and size; nothing is written', () => {
    const m = machine({ pageSize: 256, levels: [4, 4], alignment: "trap" });
    map(m, 0x100, RW);
    for (const { size, va } of misaligned) {
      const w = fault(() => store(m, size, va, 0xffff));
      expect(w).toBeInstanceOf(AlignmentFault);
      expect(w.name).toBe("AlignmentFault");
      expect([w.address, w.access, w.size]).toEqual([va, "write", size]);
      expect(w.message).toBe(`Bus error: misaligned ${size}-byte write at 0x${va.toString(16)}`);
      const r = fault(() => load(m, size, va));
      expect([r.address, r.access, r.size]).toEqual([va, "read", size]);
    }
    expect([...m.mmu.readBytes(0x100, 16)]).toEqual(Array(16).fill(0));
    m.mmu.write32(0x104, 7); // aligned: fine
    expect(m.mmu.read32(0x104)).toBe(7);
    m.mmu.write8(0x103, 1); // bytes are always aligned
    expect(m.mmu.translate(0x103, "read")).toBeGreaterThan(0);
    // The trap comes before translation: even an unmapped address gets the alignment fault.
    expect(fault(() => m.mmu.read32(0x9001))).toBeInstanceOf(AlignmentFault);
  });

  it("a misaligned access at a non-integer address is an ArgumentError in every mode", () => {
    for (const alignment of ["ignore", "fixup", "trap"] as const) {
      const m = machine({ alignment });
      map(m, 0x1000, RW);
      expect(() => m.mmu.read32(4097.5)).toThrow(ArgumentError);
      expect(() => m.mmu.write16(4097.5, 1)).toThrow(ArgumentError);
    }
  });
});

describe("Mmu: physical memory sharing", () => {
  it("two address spaces mapping one frame see each other's writes", () => {
    const mem = new PhysicalMemory({ frames: 4, shared: false });
    const a = new Mmu({ memory: mem });
    const b = new Mmu({ memory: mem, addressBits: 48 });
    const f = mem.allocFrame(true);
    mem.ref(f);
    a.pageTable.set(0x1000, makePte(f, RW));
    b.pageTable.set(0x7000_0000_0000, makePte(f, RW));
    a.write32(0x1010, 0xcafe);
    expect(b.read32(0x7000_0000_0010)).toBe(0xcafe);
    expect(mem.sharedFrames).toBe(1);
    expect(PRESENT).toBe(1);
  });
});
