/**
 * Differential test: `Mmu.translate` (TLB fast path, cold walk, fault handler, A/D updates)
 * against a naive reference that walks the page table by hand on every access.
 *
 * The reference shares nothing with the MMU: it keeps its own `Map` of PTEs (the model), walks
 * `PageTable.words` by the layout documented in PageTable.ts (checked against the model), and
 * decides hit/fault from the PTE bits alone. The TLB is small (1 to 8 entries, various
 * associativities and both policies) so entries get evicted all the time; PTEs are changed,
 * removed and made lazy (demand-mapped by a fault handler) at random, each change followed by
 * an invalidation of that page or a flush, as an address space must do.
 *
 * Reproduce a failure with FC_SEED=<printed seed>.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryFault, ProtectionFault, SegmentationFault } from "../../src/errors.js";
import type { Access } from "../../src/errors.js";
import type { PageTable } from "../../src/paging/PageTable.js";
import { ACCESSED, DIRTY, EXEC, PRESENT, USER, WRITABLE, makePte, makeSwapPte, pteFrame } from "../../src/paging/pte.js";
import type { TlbReplacement } from "../../src/paging/Tlb.js";
import { fcSeed, hex, machine } from "./helpers/vmKit.js";

const FRAMES = 16;

/** The entry for `va`, read by hand from the store: root first, one index per level. */
function referenceWalk(pt: PageTable, va: number): number {
  const vpn = Math.floor(va / pt.pageSize);
  let below = pt.levels.reduce((a, b) => a + b, 0);
  let table = pt.root;
  for (let level = 0; level < pt.levels.length; level++) {
    below -= pt.levels[level]!;
    const index = Math.floor(vpn / 2 ** below) % 2 ** pt.levels[level]!;
    const entry = pt.words[table + index]!;
    if (level === pt.levels.length - 1 || entry === 0) return entry;
    table = entry;
  }
  throw new Error("unreachable");
}

/** What an access to a page with this PTE does: the physical address, or which fault. */
function reference(pte: number, va: number, pageSize: number, access: Access): number | "segv" | "prot" {
  const need = PRESENT | USER | (access === "write" ? WRITABLE : access === "exec" ? EXEC : 0);
  if ((pte & need) === need) return pteFrame(pte) * pageSize + (va % pageSize);
  return (pte & PRESENT) === 0 ? "segv" : "prot";
}

const geometries = [
  { pageSize: 16, levels: [2, 2] },
  { pageSize: 64, levels: [3, 2, 3] },
  { pageSize: 256, levels: [4, 4] },
  { pageSize: 4096, levels: [10, 10] },
  { pageSize: 4096, levels: [9, 9, 9, 9] },
];

const tlbShapes: { entries: number; ways: number }[] = [
  { entries: 1, ways: 1 },
  { entries: 2, ways: 1 },
  { entries: 2, ways: 2 },
  { entries: 4, ways: 1 },
  { entries: 4, ways: 2 },
  { entries: 4, ways: 4 },
  { entries: 8, ways: 2 },
];

type Op =
  | { k: "map"; p: number; frame: number; flags: number; user: boolean; present: boolean; flush: boolean }
  | { k: "unmap"; p: number; flush: boolean }
  | { k: "lazy"; p: number; frame: number; flags: number; flush: boolean }
  | { k: "access"; p: number; off: number; access: Access }
  | { k: "wild"; n: number; access: Access };

const accessArb = fc.constantFrom<Access>("read", "write", "exec");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("map" as const),
      p: fc.nat(),
      frame: fc.nat(FRAMES - 1),
      flags: fc.nat(255),
      // Mostly user pages, so that accesses succeed often enough to exercise the TLB.
      user: fc.nat(3).map((n) => n > 0),
      present: fc.nat(4).map((n) => n > 0),
      flush: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("unmap" as const), p: fc.nat(), flush: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("lazy" as const), p: fc.nat(), frame: fc.nat(FRAMES - 1), flags: fc.nat(255), flush: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant("access" as const), p: fc.nat(), off: fc.nat(), access: accessArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("wild" as const), n: fc.integer({ min: -3, max: 3 }), access: accessArb }) },
);

describe("Mmu.translate against a reference page walk", () => {
  it("gives the same physical address or fault, sets the same A/D bits, and keeps the TLB coherent", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...geometries),
        fc.constantFrom(...tlbShapes),
        fc.constantFrom<TlbReplacement>("lru", "round-robin"),
        // A few pages, so that accesses come back to pages whose TLB entries may still be there.
        fc.uniqueArray(fc.nat(2 ** 36), { minLength: 1, maxLength: 6 }),
        fc.array(opArb, { minLength: 1, maxLength: 150 }),
        (geo, shape, replacement, rawPool, ops) => {
          const lazy = new Map<number, number>(); // vpn → PTE the fault handler installs
          let handled = 0;
          const m = machine({
            ...geo,
            frames: FRAMES,
            tlb: { ...shape, replacement },
            onFault: (va) => {
              const vpn = Math.floor(va / geo.pageSize);
              const pte = lazy.get(vpn);
              if (pte === undefined) return false;
              lazy.delete(vpn);
              m.pt.setVpn(vpn, pte);
              handled++;
              return true;
            },
          });
          const { pt, mmu, mem } = m;
          const ps = pt.pageSize;
          const pool = [...new Set(rawPool.map((v) => v % pt.pageCount))];
          const model = new Map<number, number>(); // vpn → PTE
          let accesses = 0;
          let outOfRange = 0;
          let faults = 0;

          const setModel = (vpn: number, pte: number, flush: boolean): void => {
            if (pte === 0) model.delete(vpn);
            else model.set(vpn, pte);
            pt.setVpn(vpn, pte);
            if (flush) mmu.flush();
            else mmu.invalidate(vpn * ps);
          };

          for (const op of ops) {
            if (op.k === "map") {
              const vpn = pool[op.p % pool.length]!;
              lazy.delete(vpn);
              const flags = op.flags | (op.user ? USER : 0);
              setModel(vpn, op.present ? makePte(op.frame, flags) : makeSwapPte(op.frame, flags), op.flush);
            } else if (op.k === "unmap") {
              const vpn = pool[op.p % pool.length]!;
              lazy.delete(vpn);
              setModel(vpn, 0, op.flush);
            } else if (op.k === "lazy") {
              const vpn = pool[op.p % pool.length]!;
              setModel(vpn, 0, op.flush);
              lazy.set(vpn, makePte(op.frame, op.flags));
            } else {
              let va: number;
              if (op.k === "wild") {
                va = op.n < 0 ? op.n : pt.addressLimit + op.n;
                outOfRange++;
              } else {
                va = pool[op.p % pool.length]! * ps + (op.off % ps);
              }
              const access = op.access;
              const vpn = Math.floor(va / ps);
              accesses++;
              // The reference: walk by hand, let the "handler" fix a lazy page, decide.
              let expected: number | "segv" | "prot";
              if (op.k === "wild") expected = "segv";
              else {
                expect(referenceWalk(pt, va)).toBe(model.get(vpn) ?? 0);
                expected = reference(model.get(vpn) ?? 0, va, ps, access);
                if (typeof expected !== "number") {
                  faults++;
                  const fix = lazy.get(vpn);
                  if (fix !== undefined) {
                    model.set(vpn, fix);
                    expected = reference(fix, va, ps, access);
                    if (typeof expected !== "number") faults++;
                  }
                }
                if (typeof expected === "number") {
                  model.set(vpn, (model.get(vpn)! | ACCESSED | (access === "write" ? DIRTY : 0)) >>> 0);
                }
              }
              let actual: number | "segv" | "prot";
              try {
                actual = mmu.translate(va, access);
              } catch (e) {
                expect(e).toBeInstanceOf(MemoryFault);
                const f = e as MemoryFault;
                expect([f.address, f.access]).toEqual([va, access]);
                actual = f instanceof SegmentationFault ? "segv" : f instanceof ProtectionFault ? "prot" : "other" as "segv";
              }
              expect(actual, `${access} at ${hex(va)}`).toBe(expected);
            }

            // The page table holds exactly the model, read by hand.
            for (const vpn of pool) expect(referenceWalk(pt, vpn * ps), `vpn ${hex(vpn)}`).toBe(model.get(vpn) ?? 0);
            // Every TLB entry agrees with its PTE: same frame, same permissions, DIRTY only if the PTE is dirty.
            for (const e of mmu.tlb.entries()) {
              const pte = model.get(e.vpn) ?? 0;
              expect(pte & PRESENT, `TLB holds vpn ${hex(e.vpn)} whose PTE is not present`).toBe(PRESENT);
              expect(e.frame).toBe(pteFrame(pte));
              expect(e.flags & (PRESENT | USER | WRITABLE | EXEC)).toBe(pte & (PRESENT | USER | WRITABLE | EXEC));
              expect(e.flags & ACCESSED).toBe(ACCESSED);
              if ((e.flags & DIRTY) !== 0) expect(pte & DIRTY).toBe(DIRTY);
            }
          }

          // Counters: one TLB lookup per access; a walk per in-range miss and per handled fault.
          expect(mmu.hits + mmu.misses).toBe(accesses);
          expect(mmu.walks).toBe(mmu.misses - outOfRange + handled);
          expect(mmu.faults).toBe(faults);
          pt.check();
          mem.check();
        },
      ),
      { seed: fcSeed("Mmu vs reference walk"), numRuns: 400 },
    );
  });
});

describe("Mmu loads and stores against a flat byte array", () => {
  type Rw = { k: "w" | "r"; size: 1 | 2 | 4 | 8; at: number; v: number } | { k: "wb" | "rb"; at: number; len: number; v: number };
  const rwArb: fc.Arbitrary<Rw> = fc.oneof(
    fc.record({ k: fc.constantFrom("w" as const, "r" as const), size: fc.constantFrom<1 | 2 | 4 | 8>(1, 2, 4, 8), at: fc.nat(), v: fc.nat() }),
    fc.record({ k: fc.constantFrom("wb" as const, "rb" as const), at: fc.nat(), len: fc.nat(40), v: fc.nat() }),
  );

  it("agrees byte for byte, across page boundaries, in the ignore and fixup policies", () => {
    fc.assert(
      fc.property(fc.constantFrom<"ignore" | "fixup">("ignore", "fixup"), fc.constantFrom(16, 32, 64), fc.array(rwArb, { maxLength: 80 }), (alignment, ps, ops) => {
        const pages = 12;
        const m = machine({ pageSize: ps, levels: [2, 2], frames: 2 * pages, alignment, tlb: { entries: 4, ways: 2 } });
        // Map the pages to every other frame, in reverse order, so neighbours are never adjacent in RAM.
        for (let p = 0; p < pages; p++) {
          m.mem.allocFrame();
          m.pt.setVpn(p, makePte(2 * pages - 1 - 2 * p, USER | WRITABLE));
        }
        const size = pages * ps;
        const flat = new Uint8Array(size);
        const fdv = new DataView(flat.buffer);
        let fixups = 0;
        for (const op of ops) {
          if ("size" in op) {
            const at = op.at % (size - op.size + 1);
            if (op.size > 1 && at % op.size !== 0) fixups++;
            if (op.k === "w") {
              if (op.size === 1) (m.mmu.write8(at, op.v), fdv.setUint8(at, op.v));
              else if (op.size === 2) (m.mmu.write16(at, op.v), fdv.setUint16(at, op.v, true));
              else if (op.size === 4) (m.mmu.write32(at, op.v), fdv.setUint32(at, op.v, true));
              else (m.mmu.write64(at, BigInt(op.v) * 0x1_0000_0001n), fdv.setBigUint64(at, BigInt(op.v) * 0x1_0000_0001n, true));
            } else if (op.size === 1) expect(m.mmu.read8(at)).toBe(fdv.getUint8(at));
            else if (op.size === 2) expect(m.mmu.read16(at)).toBe(fdv.getUint16(at, true));
            else if (op.size === 4) expect(m.mmu.read32(at)).toBe(fdv.getUint32(at, true));
            else expect(m.mmu.read64(at)).toBe(fdv.getBigUint64(at, true));
          } else {
            const at = op.at % (size - op.len + 1);
            if (op.k === "wb") {
              const bytes = Uint8Array.from({ length: op.len }, (_, i) => (op.v + i * 31) & 0xff);
              m.mmu.writeBytes(at, bytes);
              flat.set(bytes, at);
            } else {
              expect([...m.mmu.readBytes(at, op.len)]).toEqual([...flat.subarray(at, at + op.len)]);
            }
          }
          expect(m.mmu.alignmentFixups).toBe(alignment === "fixup" ? fixups : 0);
        }
        expect([...m.mmu.readBytes(0, size)]).toEqual([...flat]);
      }),
      { seed: fcSeed("Mmu loads/stores vs flat bytes"), numRuns: 200 },
    );
  });
});
