import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/errors.js";
import { MAX_ADDRESS_BITS, PageTable, defaultLevels } from "../../src/paging/PageTable.js";
import { DIRTY, USER, WRITABLE, makePte, makeSwapPte } from "../../src/paging/pte.js";
import { fcSeed, hex } from "./helpers/vmKit.js";

describe("PageTable: geometry", () => {
  it("defaults to 32-bit addresses, 4 KiB pages, two levels of 10 bits (i386)", () => {
    const pt = new PageTable();
    expect(pt.pageSize).toBe(4096);
    expect(pt.pageShift).toBe(12);
    expect(pt.addressBits).toBe(32);
    expect(pt.levels).toEqual([10, 10]);
    expect(pt.pageCount).toBe(2 ** 20);
    expect(pt.addressLimit).toBe(2 ** 32);
    expect(pt.tablePages).toBe(1); // the root
    expect(pt.tableBytes).toBe(4096);
    expect(pt.entryCount).toBe(0);
  });

  it("derives four levels of 9 bits for 48-bit addresses (x86-64)", () => {
    const pt = new PageTable({ addressBits: 48 });
    expect(pt.levels).toEqual([9, 9, 9, 9]);
    expect(pt.addressLimit).toBe(2 ** 48);
  });

  it("derives small geometries from the page size: 16-bit with 256-byte pages is [4, 4]", () => {
    expect(defaultLevels(16, 256)).toEqual([4, 4]);
    expect(defaultLevels(32, 65536)).toEqual([8, 8]);
    expect(defaultLevels(32, 1024)).toEqual([8, 7, 7]); // extra bits at the root
    expect(defaultLevels(32, 16)).toHaveLength(8); // at most 8 levels
    expect(defaultLevels(32, 16).reduce((a, b) => a + b)).toBe(28);
    expect(new PageTable({ addressBits: 16, pageSize: 256 }).levels).toEqual([4, 4]);
  });

  it("takes explicit levels, root first, and works out the address width", () => {
    const pt = new PageTable({ levels: [2, 3, 5], pageSize: 64 });
    expect(pt.addressBits).toBe(16);
    expect(pt.pageCount).toBe(1024);
    expect(pt.tableBytes).toBe(4 * 4); // root: 4 entries
    const flat = new PageTable({ levels: [20] }); // a single-level table: 4 MiB of entries
    expect(flat.tableBytes).toBe(4 * 2 ** 20);
    expect(new PageTable({ levels: [10, 10], addressBits: 32 }).addressBits).toBe(32);
  });

  it("rejects bad geometry with ArgumentError", () => {
    const bad = [
      { pageSize: 100 },
      { pageSize: 8 },
      { levels: [] },
      { levels: [1, 1, 1, 1, 1, 1, 1, 1, 1] },
      { levels: [0, 10] },
      { levels: [25] },
      { levels: [10.5, 10] },
      { levels: [10, 10], addressBits: 48 },
      { levels: [20, 21] }, // 53 bits
      { addressBits: 64 },
      { addressBits: 12 }, // no page-number bits with 4 KiB pages
      { addressBits: 31.5 },
    ];
    for (const opts of bad) expect(() => new PageTable(opts), JSON.stringify(opts)).toThrow(ArgumentError);
    expect(MAX_ADDRESS_BITS).toBe(52);
  });
});

describe("PageTable: set, get, clear", () => {
  it("maps a page: get by any address inside it, lookup by page number", () => {
    const pt = new PageTable();
    const pte = makePte(7, WRITABLE | USER);
    pt.set(0x0804_8123, pte);
    expect(pt.get(0x0804_8000)).toBe(pte);
    expect(pt.get(0x0804_8fff)).toBe(pte);
    expect(pt.lookup(0x08048)).toBe(pte);
    expect(pt.vpnOf(0x0804_8123)).toBe(0x08048);
    expect(pt.get(0x0804_9000)).toBe(0);
    expect(pt.get(0x0804_7fff)).toBe(0);
    expect(pt.entryCount).toBe(1);
    expect(pt.tablePages).toBe(2); // root + one leaf table
    pt.check();
  });

  it("allocates tables on the way down, shares them between neighbours, and frees them when empty", () => {
    const pt = new PageTable({ addressBits: 48 });
    pt.set(0x1000, makePte(1, 0));
    expect(pt.tablePages).toBe(4);
    pt.set(0x2000, makePte(2, 0)); // same leaf table
    expect(pt.tablePages).toBe(4);
    pt.set(0x7fff_ffff_f000, makePte(3, 0)); // a far-away page: a new path of 3 tables
    expect(pt.tablePages).toBe(7);
    expect(pt.tableBytes).toBe(7 * 512 * 4);
    pt.check();
    expect(pt.clear(0x1000)).toBe(makePte(1, 0));
    expect(pt.tablePages).toBe(7); // the leaf table still holds 0x2000
    expect(pt.clear(0x2000)).toBe(makePte(2, 0));
    expect(pt.tablePages).toBe(4); // the whole low path is gone
    expect(pt.clear(0x2000)).toBe(0); // nothing there: not an error
    expect(pt.clear(0x5000_0000_0000)).toBe(0); // no tables there either
    expect(pt.clear(0x7fff_ffff_f123)).toBe(makePte(3, 0));
    expect(pt.tablePages).toBe(1);
    expect(pt.entryCount).toBe(0);
    pt.check();
  });

  it("overwrites in place, and set(va, 0) is clear", () => {
    const pt = new PageTable();
    pt.set(0x5000, makePte(1, 0));
    pt.set(0x5000, makePte(2, DIRTY));
    expect(pt.entryCount).toBe(1);
    expect(pt.get(0x5000)).toBe(makePte(2, DIRTY));
    pt.set(0x5000, 0);
    expect(pt.entryCount).toBe(0);
    expect(pt.tablePages).toBe(1);
    pt.check();
  });

  it("keeps swap entries (not present but not empty)", () => {
    const pt = new PageTable();
    pt.set(0x3000, makeSwapPte(0));
    expect(pt.get(0x3000)).toBe(makeSwapPte(0));
    expect(pt.entryCount).toBe(1);
  });

  it("reuses freed tables", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    pt.set(0x1200, makePte(1, 0));
    const table = pt.walk(0x1200)[1]!.table;
    pt.clear(0x1200);
    pt.set(0x3400, makePte(2, 0));
    expect(pt.walk(0x3400)[1]!.table).toBe(table);
    pt.check();
  });

  it("grows its store when tables run out of room, keeping every entry", () => {
    const pt = new PageTable({ levels: [6, 6], pageSize: 4096 }); // 64-entry tables
    for (let i = 0; i < 64; i++) pt.setVpn(i * 64, makePte(i + 1, 0));
    expect(pt.tablePages).toBe(65);
    expect(pt.words.length).toBeGreaterThanOrEqual(65 * 65);
    for (let i = 0; i < 64; i++) expect(pt.lookup(i * 64)).toBe(makePte(i + 1, 0));
    pt.check();
  });

  it("rejects addresses, page numbers and PTEs out of range with ArgumentError", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    for (const va of [-1, 0x10000, 1.5, Number.NaN]) {
      expect(() => pt.get(va), hex(va)).toThrow(ArgumentError);
      expect(() => pt.set(va, 1), hex(va)).toThrow(ArgumentError);
      expect(() => pt.clear(va), hex(va)).toThrow(/outside the 16-bit address space/);
      expect(() => pt.walk(va), hex(va)).toThrow(ArgumentError);
    }
    for (const vpn of [-1, 256, 0.5]) {
      expect(() => pt.lookup(vpn)).toThrow(/page number .* is outside \[0, 256\)/);
      expect(() => pt.setVpn(vpn, 1)).toThrow(ArgumentError);
      expect(() => pt.clearVpn(vpn)).toThrow(ArgumentError);
    }
    for (const pte of [-1, 2 ** 32, 1.5]) expect(() => pt.set(0, pte)).toThrow(/32-bit unsigned integer/);
  });

  it("agrees with a Map over random sets and clears, and check() holds throughout", () => {
    const geometries = [
      { levels: [4, 4], pageSize: 256 },
      { levels: [2, 3, 3], pageSize: 16 },
      { levels: [9, 9, 9, 9], pageSize: 4096 },
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...geometries),
        fc.array(fc.record({ set: fc.boolean(), at: fc.nat(), frame: fc.integer({ min: 0, max: 0xffffff }) }), { maxLength: 60 }),
        (geo, ops) => {
          const pt = new PageTable(geo);
          const model = new Map<number, number>();
          // A few clustered and a few scattered page numbers, so tables fill up and empty out.
          const pool = [0, 1, 2, 3, pt.pageCount - 1, Math.floor(pt.pageCount / 2), 17 % pt.pageCount, Math.floor(pt.pageCount / 3)];
          for (const o of ops) {
            const vpn = pool[o.at % pool.length]!;
            if (o.set) {
              pt.setVpn(vpn, makePte(o.frame, USER));
              model.set(vpn, makePte(o.frame, USER));
            } else {
              expect(pt.clearVpn(vpn)).toBe(model.get(vpn) ?? 0);
              model.delete(vpn);
            }
            pt.check();
            expect(pt.entryCount).toBe(model.size);
          }
          for (const vpn of pool) expect(pt.lookup(vpn)).toBe(model.get(vpn) ?? 0);
          const seen: [number, number][] = [];
          pt.forEach(0, pt.addressLimit, (va, pte) => seen.push([va / pt.pageSize, pte]));
          expect(seen).toEqual([...model.entries()].sort((a, b) => a[0] - b[0]));
          for (const vpn of [...model.keys()]) pt.clearVpn(vpn);
          expect(pt.tablePages).toBe(1);
          pt.check();
        },
      ),
      { seed: fcSeed("PageTable vs Map"), numRuns: 150 },
    );
  });
});

describe("PageTable.walk: the steps, for teaching", () => {
  it("shows each level's table, index and entry on a 16-bit machine with 256-byte pages", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    const pte = makePte(9, WRITABLE | USER);
    pt.set(0x1234, pte); // vpn 0x12: index 1 at the root, index 2 in the leaf table
    const steps = pt.walk(0x1234);
    expect(steps).toEqual([
      { level: 0, index: 1, table: 1, tableAddress: 4, entryAddress: 8, entry: 18, leaf: false },
      { level: 1, index: 2, table: 18, tableAddress: 72, entryAddress: 80, entry: pte, leaf: true },
    ]);
    expect(pt.root).toBe(1);
    // The directory entry holds the next table's id.
    expect(pt.words[steps[0]!.entryAddress / 4]).toBe(steps[1]!.table);
    expect(pt.words[steps[1]!.entryAddress / 4]).toBe(pte);
  });

  it("stops at the first empty directory entry", () => {
    const pt = new PageTable({ levels: [2, 3, 3], pageSize: 16 });
    expect(pt.walk(0x3ff)).toEqual([{ level: 0, index: 0, table: 1, tableAddress: 4, entryAddress: 4, entry: 0, leaf: false }]);
    pt.set(0x10, makePte(1, 0)); // vpn 1: indices 0, 0, 1
    const steps = pt.walk(0x20); // vpn 2: indices 0, 0, 2 — an empty leaf entry
    expect(steps.map((s) => [s.level, s.index, s.leaf])).toEqual([
      [0, 0, false],
      [1, 0, false],
      [2, 2, true],
    ]);
    expect(steps[2]!.entry).toBe(0);
    // vpn 0b01_000_000 = 64: a different second-level table, not there yet.
    expect(pt.walk(64 * 16).map((s) => [s.level, s.index, s.entry])).toEqual([[0, 1, 0]]);
  });

  it("splits a 48-bit address into four 9-bit indices", () => {
    const pt = new PageTable({ addressBits: 48 });
    const va = 0x7f12_3456_7000 + 0x89;
    pt.set(va, makePte(3, USER));
    const vpn = Math.floor(va / 4096);
    const expected = [27, 18, 9, 0].map((s) => Math.floor(vpn / 2 ** s) % 512);
    expect(pt.walk(va).map((s) => s.index)).toEqual(expected);
    expect(pt.walk(va)[3]!.entry).toBe(makePte(3, USER));
  });
});

describe("PageTable.forEach: mapped entries in a range", () => {
  it("visits the entries of pages overlapping [start, end), in address order", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    for (const vpn of [0x00, 0x0f, 0x10, 0x11, 0x42, 0xff]) pt.setVpn(vpn, makePte(vpn, 0));
    const visit = (start: number, end: number): number[] => {
      const out: number[] = [];
      pt.forEach(start, end, (va, pte) => {
        expect(pte).toBe(makePte(va / 256, 0));
        out.push(va / 256);
      });
      return out;
    };
    expect(visit(0, 0x10000)).toEqual([0x00, 0x0f, 0x10, 0x11, 0x42, 0xff]);
    expect(visit(0x0f00, 0x1200)).toEqual([0x0f, 0x10, 0x11]);
    expect(visit(0x0fff, 0x1001)).toEqual([0x0f, 0x10]); // partial pages count
    expect(visit(0x1200, 0x4200)).toEqual([]);
    expect(visit(0x4200, 0x4200)).toEqual([]);
    expect(visit(0xff00, 0x10000)).toEqual([0xff]);
  });

  it("skips absent subtrees: a 48-bit space with two far-apart pages", () => {
    const pt = new PageTable({ addressBits: 48 });
    pt.set(0x1000, makePte(1, 0));
    pt.set(0x7fff_ffff_f000, makePte(2, 0));
    const seen: number[] = [];
    pt.forEach(0, 2 ** 48, (va) => seen.push(va));
    expect(seen).toEqual([0x1000, 0x7fff_ffff_f000]);
    const some: number[] = [];
    pt.forEach(0x2000, 2 ** 48, (va) => some.push(va));
    expect(some).toEqual([0x7fff_ffff_f000]);
  });

  it("lets the callback clear entries (munmap) and frees the emptied tables afterwards", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    for (let vpn = 0x10; vpn < 0x30; vpn++) pt.setVpn(vpn, makePte(vpn, 0));
    pt.setVpn(0x35, makePte(0x35, 0));
    expect(pt.tablePages).toBe(4);
    const dropped: number[] = [];
    pt.forEach(0x1000, 0x3000, (va, pte) => {
      expect(pt.clear(va)).toBe(pte);
      dropped.push(va / 256);
    });
    expect(dropped).toHaveLength(0x20);
    expect(pt.entryCount).toBe(1);
    expect(pt.tablePages).toBe(2); // root + the table of 0x35
    pt.check();
  });

  it("lets the callback copy entries elsewhere (fork into another table, or into this one)", () => {
    const parent = new PageTable({ levels: [4, 4], pageSize: 256 });
    for (const vpn of [1, 2, 0x21, 0x80]) parent.setVpn(vpn, makePte(vpn, WRITABLE));
    const child = new PageTable({ levels: [4, 4], pageSize: 256 });
    parent.forEach(0, parent.addressLimit, (va, pte) => child.set(va, pte));
    for (const vpn of [1, 2, 0x21, 0x80]) expect(child.lookup(vpn)).toBe(parent.lookup(vpn));
    // Setting entries (even ones needing new tables, even growing the store) while iterating:
    const self = new PageTable({ levels: [4, 4], pageSize: 256 });
    self.setVpn(0x01, makePte(1, 0));
    self.forEach(0, 0x200, (va) => {
      for (let t = 1; t < 16; t++) self.set(va + t * 0x1000, makePte(t, 0));
    });
    expect(self.entryCount).toBe(16);
    self.check();
  });

  it("frees tables emptied by a nested forEach only when the outermost returns", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    pt.setVpn(0x01, makePte(1, 0));
    pt.setVpn(0x21, makePte(2, 0));
    pt.forEach(0, 0x200, () => {
      pt.forEach(0x2000, 0x3000, (va) => pt.clear(va));
      expect(pt.tablePages).toBe(3); // deferred
    });
    expect(pt.tablePages).toBe(2);
    pt.check();
  });

  it("frees deferred tables even when the callback throws", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    pt.setVpn(0x21, makePte(2, 0));
    expect(() =>
      pt.forEach(0, 0x10000, (va) => {
        pt.clear(va);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(pt.tablePages).toBe(1);
    pt.check();
  });

  it("rejects bad ranges", () => {
    const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
    for (const [s, e] of [
      [-1, 10],
      [10, 5],
      [0, 0x10001],
      [0.5, 2],
    ] as const) {
      expect(() => pt.forEach(s, e, () => {})).toThrow(ArgumentError);
    }
  });
});

describe("PageTable.check", () => {
  it("reports wrong headers, unfreed empty tables, bad links and dirty freed tables", () => {
    const fresh = (): PageTable => {
      const pt = new PageTable({ levels: [4, 4], pageSize: 256 });
      pt.set(0x1234, makePte(1, 0));
      return pt;
    };
    let pt = fresh();
    pt.words[pt.walk(0x1234)[1]!.table - 1] = 5;
    expect(() => pt.check()).toThrow(/has 1 entries, its header says 5/);
    pt = fresh();
    const leaf = pt.walk(0x1234)[1]!;
    pt.words[leaf.entryAddress / 4] = 0;
    pt.words[leaf.table - 1] = 0;
    expect(() => pt.check()).toThrow(/empty but not freed/);
    pt = fresh();
    pt.words[pt.walk(0x1234)[0]!.entryAddress / 4] = 100_000;
    expect(() => pt.check()).toThrow(/points past the store/);
    pt = fresh();
    pt.words[pt.walk(0x1234)[1]!.entryAddress / 4 + 1] = 7; // an entry the counters do not know
    expect(() => pt.check()).toThrow(/has 2 entries, its header says 1/);
    pt = fresh();
    const t = pt.walk(0x1234)[1]!.table;
    pt.clear(0x1234);
    pt.words[t + 3] = 1;
    expect(() => pt.check()).toThrow(/freed table .* holds 1 at index 3/);
    pt = fresh();
    (pt as unknown as { _entryCount: number })._entryCount = 9;
    expect(() => pt.check()).toThrow(/1 leaf entries, the counter says 9/);
    pt = fresh();
    (pt as unknown as { _tablePages: number })._tablePages = 9;
    expect(() => pt.check()).toThrow(/2 tables reachable, the counter says 9/);
    pt = fresh();
    (pt as unknown as { tableWords: number }).tableWords = 9;
    expect(() => pt.check()).toThrow(/hold 32 entries, the counter says 9/);
  });
});
