import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/errors.js";
import { ACCESSED, COW, DIRTY, EXEC, PRESENT, SWAPPED, USER, WRITABLE } from "../../src/paging/pte.js";
import { NEED_EXEC, NEED_READ, NEED_WRITE, TLB_FLAGS, Tlb, needFor } from "../../src/paging/Tlb.js";
import { fcSeed } from "./helpers/vmKit.js";

const RW = PRESENT | USER | WRITABLE | ACCESSED | DIRTY;
const RO = PRESENT | USER | ACCESSED;

describe("Tlb: geometry", () => {
  it("defaults to 64 entries, 4-way (16 sets), LRU", () => {
    const t = new Tlb();
    expect(t.size).toBe(64);
    expect(t.ways).toBe(4);
    expect(t.sets).toBe(16);
    expect(t.replacement).toBe("lru");
    expect(t.occupancy).toBe(0);
  });

  it("is fully associative when ways = entries, direct-mapped when ways = 1", () => {
    expect(new Tlb({ entries: 8, ways: 8 }).sets).toBe(1);
    expect(new Tlb({ entries: 8, ways: 1 }).sets).toBe(8);
    expect(new Tlb({ entries: 2 }).ways).toBe(2); // ways default to min(4, entries)
    expect(new Tlb({ entries: 1 }).sets).toBe(1);
  });

  it("rejects geometry whose set count is not a power of two, and bad options", () => {
    for (const o of [
      { entries: 0 },
      { entries: 1.5 },
      { entries: 2 ** 21 },
      { entries: 12, ways: 4 }, // 3 sets
      { entries: 8, ways: 3 },
      { entries: 8, ways: 16 },
      { entries: 8, ways: 0 },
      { replacement: "random" as unknown as "lru" },
    ]) {
      expect(() => new Tlb(o), JSON.stringify(o)).toThrow(ArgumentError);
    }
  });
});

describe("Tlb: lookups", () => {
  it("misses, then hits after insert; counts both", () => {
    const t = new Tlb({ entries: 4, ways: 2 });
    expect(t.lookup(5, NEED_READ)).toBe(-1);
    expect(t.misses).toBe(1);
    t.insert(5, 42, RW);
    expect(t.lookup(5, NEED_READ)).toBe(42);
    expect(t.lookup(5, NEED_WRITE)).toBe(42);
    expect(t.hits).toBe(2);
    expect(t.misses).toBe(1);
    t.resetCounters();
    expect([t.hits, t.misses, t.evictions]).toEqual([0, 0, 0]);
  });

  it("hits only when the cached flags allow the access: one masked compare", () => {
    const t = new Tlb({ entries: 4 });
    t.insert(1, 10, RO);
    expect(t.lookup(1, NEED_READ)).toBe(10);
    expect(t.lookup(1, NEED_WRITE)).toBe(-1);
    expect(t.lookup(1, NEED_EXEC)).toBe(-1);
    t.insert(2, 11, PRESENT | USER | WRITABLE | ACCESSED); // writable but clean
    expect(t.lookup(2, NEED_WRITE)).toBe(-1); // the walk must set DIRTY first
    t.insert(3, 12, PRESENT | USER | EXEC | ACCESSED);
    expect(t.lookup(3, NEED_EXEC)).toBe(12);
    t.insert(4, 13, PRESENT | WRITABLE | DIRTY); // no USER: user accesses miss
    expect(t.lookup(4, NEED_READ)).toBe(-1);
    expect(t.hits).toBe(2);
    expect(t.misses).toBe(4);
  });

  it("takes the access by name too", () => {
    const t = new Tlb({ entries: 4 });
    t.insert(1, 10, RO | EXEC);
    expect(t.lookup(1, "read")).toBe(10);
    expect(t.lookup(1, "exec")).toBe(10);
    expect(t.lookup(1, "write")).toBe(-1);
    expect(needFor("read")).toBe(NEED_READ);
    expect(needFor("write")).toBe(NEED_WRITE);
    expect(needFor("exec")).toBe(NEED_EXEC);
  });

  it("keeps only the hardware flag bits (not COW or SWAPPED)", () => {
    const t = new Tlb({ entries: 4 });
    t.insert(1, 10, 0xff);
    expect(t.entries()[0]!.flags).toBe(TLB_FLAGS);
    expect(TLB_FLAGS & (COW | SWAPPED)).toBe(0);
  });

  it("handles page numbers beyond 2^32 (48-bit spaces) and never hits on an empty way", () => {
    const t = new Tlb({ entries: 8, ways: 2 });
    const big = 2 ** 35 + 3;
    t.insert(big, 7, RW);
    expect(t.lookup(big, NEED_READ)).toBe(7);
    expect(t.lookup(3, NEED_READ)).toBe(-1); // same set, different tag
    expect(t.lookup(-1, NEED_READ)).toBe(-1);
    expect(t.lookup(Number.NaN, NEED_READ)).toBe(-1);
    t.invalidate(big);
    expect(t.lookup(big, NEED_READ)).toBe(-1);
  });

  it("probe finds without counting", () => {
    const t = new Tlb({ entries: 4, ways: 2 });
    t.insert(6, 1, RW);
    expect(t.probe(6)).toBeGreaterThanOrEqual(0);
    expect(t.probe(7)).toBe(-1);
    expect(t.hits + t.misses).toBe(0);
  });
});

describe("Tlb: insert, invalidate, flush", () => {
  it("overwrites an entry for the same page in place", () => {
    const t = new Tlb({ entries: 4, ways: 4 });
    const s = t.insert(9, 1, RO);
    expect(t.insert(9, 2, RW)).toBe(s);
    expect(t.occupancy).toBe(1);
    expect(t.lookup(9, NEED_WRITE)).toBe(2);
    expect(t.evictions).toBe(0);
  });

  it("invalidate drops one page (invlpg); flush drops all (CR3 reload), keeping counters", () => {
    const t = new Tlb({ entries: 8, ways: 2 });
    for (let v = 0; v < 6; v++) t.insert(v, v + 100, RW);
    expect(t.occupancy).toBe(6);
    expect(t.invalidate(3)).toBe(true);
    expect(t.invalidate(3)).toBe(false);
    expect(t.lookup(3, NEED_READ)).toBe(-1);
    expect(t.lookup(2, NEED_READ)).toBe(102);
    expect(t.occupancy).toBe(5);
    t.flush();
    expect(t.occupancy).toBe(0);
    for (let v = 0; v < 6; v++) expect(t.lookup(v, NEED_READ)).toBe(-1);
    expect(t.hits).toBe(1);
    expect(t.misses).toBe(7);
  });

  it("fills an invalidated way before evicting anyone", () => {
    const t = new Tlb({ entries: 2, ways: 2 });
    t.insert(0, 1, RW);
    t.insert(1, 2, RW);
    t.invalidate(0);
    t.insert(2, 3, RW);
    expect(t.evictions).toBe(0);
    expect(t.lookup(1, NEED_READ)).toBe(2);
    expect(t.lookup(2, NEED_READ)).toBe(3);
  });

  it("lists its entries by set and way", () => {
    const t = new Tlb({ entries: 4, ways: 2 });
    t.insert(0, 10, RO);
    t.insert(3, 13, RW);
    t.insert(2, 12, RO);
    expect(t.entries()).toEqual([
      { set: 0, way: 0, vpn: 0, frame: 10, flags: RO },
      { set: 0, way: 1, vpn: 2, frame: 12, flags: RO },
      { set: 1, way: 0, vpn: 3, frame: 13, flags: RW },
    ]);
  });
});

describe("Tlb: associativity and replacement", () => {
  it("direct-mapped: pages with the same low bits evict each other", () => {
    const t = new Tlb({ entries: 4, ways: 1 });
    t.insert(1, 10, RW);
    t.insert(5, 50, RW); // set 1 again
    expect(t.evictions).toBe(1);
    expect(t.lookup(1, NEED_READ)).toBe(-1);
    expect(t.lookup(5, NEED_READ)).toBe(50);
    t.insert(2, 20, RW); // set 2: no conflict
    expect(t.lookup(5, NEED_READ)).toBe(50);
  });

  it("a set holds `ways` pages of the same index; other sets are not affected", () => {
    const t = new Tlb({ entries: 8, ways: 2 }); // 4 sets
    t.insert(0, 1, RW);
    t.insert(4, 2, RW);
    t.insert(1, 3, RW);
    t.insert(5, 4, RW);
    expect(t.evictions).toBe(0);
    t.insert(8, 5, RW); // third page of set 0
    expect(t.evictions).toBe(1);
    expect(t.lookup(1, NEED_READ)).toBe(3);
    expect(t.lookup(5, NEED_READ)).toBe(4);
  });

  it("LRU evicts the least recently used way of the set (hits refresh)", () => {
    const t = new Tlb({ entries: 4, ways: 2 }); // sets of pages ≡ 0 and ≡ 1 (mod 2)
    t.insert(0, 100, RW); // A
    t.insert(2, 102, RW); // B
    expect(t.lookup(0, NEED_READ)).toBe(100); // A used after B
    t.insert(4, 104, RW); // C evicts B
    expect(t.lookup(2, NEED_READ)).toBe(-1);
    expect(t.lookup(0, NEED_READ)).toBe(100);
    expect(t.lookup(4, NEED_READ)).toBe(104);
    t.insert(6, 106, RW); // A was used before C: A goes
    expect(t.lookup(0, NEED_READ)).toBe(-1);
    expect(t.lookup(4, NEED_READ)).toBe(104);
  });

  it("round-robin evicts way 0, 1, 0, … whatever the hits", () => {
    const t = new Tlb({ entries: 4, ways: 2, replacement: "round-robin" });
    t.insert(0, 100, RW); // way 0
    t.insert(2, 102, RW); // way 1
    expect(t.lookup(0, NEED_READ)).toBe(100); // a hit does not protect it
    t.insert(4, 104, RW); // evicts way 0 (page 0)
    expect(t.lookup(0, NEED_READ)).toBe(-1);
    expect(t.lookup(2, NEED_READ)).toBe(102);
    t.insert(6, 106, RW); // evicts way 1 (page 2)
    expect(t.lookup(2, NEED_READ)).toBe(-1);
    expect(t.lookup(4, NEED_READ)).toBe(104);
    t.insert(8, 108, RW); // back to way 0 (page 4)
    expect(t.lookup(4, NEED_READ)).toBe(-1);
    expect(t.lookup(6, NEED_READ)).toBe(106);
    expect(t.evictions).toBe(3);
    t.flush(); // the pointer starts over
    t.insert(0, 1, RW);
    t.insert(2, 2, RW);
    t.insert(4, 3, RW);
    expect(t.lookup(0, NEED_READ)).toBe(-1);
  });

  it("fully associative LRU behaves like a textbook LRU cache of `entries` pages", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(12), { maxLength: 100 }), (size, refs) => {
        const t = new Tlb({ entries: size, ways: size });
        const lru: number[] = []; // most recent last
        let hits = 0;
        let misses = 0;
        for (const vpn of refs) {
          const f = t.lookup(vpn, NEED_READ);
          const at = lru.indexOf(vpn);
          if (at >= 0) {
            hits++;
            expect(f).toBe(vpn + 1000);
            lru.splice(at, 1);
          } else {
            misses++;
            expect(f).toBe(-1);
            t.insert(vpn, vpn + 1000, RO);
            if (lru.length === size) lru.shift();
          }
          lru.push(vpn);
        }
        expect(t.hits).toBe(hits);
        expect(t.misses).toBe(misses);
        expect(t.entries().map((e) => e.vpn).sort((a, b) => a - b)).toEqual([...lru].sort((a, b) => a - b));
      }),
      { seed: fcSeed("fully associative TLB vs LRU list") },
    );
  });
});

describe("Tlb: the way predictor changes no answer", () => {
  it("finds a page whose predicted slot now holds another page, and misses a dropped one", () => {
    const t = new Tlb({ entries: 4, ways: 4 }); // one set; predictor slots 0..63
    t.insert(1, 10, RW);
    t.insert(65, 11, RW); // 65 & 63 = 1: takes over page 1's prediction
    expect(t.lookup(1, NEED_READ)).toBe(10);
    expect(t.lookup(65, NEED_READ)).toBe(11);
    t.invalidate(1);
    expect(t.lookup(1, NEED_READ)).toBe(-1); // the prediction for 1 names a slot now empty
    t.insert(2, 12, RO);
    expect(t.lookup(2, NEED_WRITE)).toBe(-1); // predicted right, but the flags forbid a write
    expect(t.hits).toBe(2);
    expect(t.misses).toBe(2);
  });

  it("agrees with a predictor-free search over random inserts, lookups and invalidations", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("insert", "lookup", "invalidate"), fc.integer({ min: 0, max: 300 }), fc.boolean()), { maxLength: 300 }),
        (ops) => {
          const t = new Tlb({ entries: 16, ways: 4 });
          const shadow = new Map<number, { frame: number; flags: number }>(); // what a search finds, from entries()
          for (const [op, vpn, rw] of ops) {
            if (op === "insert") t.insert(vpn, vpn + 1000, rw ? RW : RO);
            else if (op === "invalidate") t.invalidate(vpn);
            else {
              shadow.clear();
              for (const e of t.entries()) shadow.set(e.vpn, e);
              const e = shadow.get(vpn);
              const want = e !== undefined && (e.flags & NEED_WRITE) === NEED_WRITE ? e.frame : -1;
              expect(t.lookup(vpn, NEED_WRITE)).toBe(want);
            }
          }
        },
      ),
      { seed: fcSeed("way predictor") },
    );
  });
});
