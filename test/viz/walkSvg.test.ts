/**
 * walkView and walkSvg: the fields and steps checked against shifts and masks done here, and
 * the picture against the walk: one table per level reached, the rest drawn as not reached.
 */
import { describe, expect, it } from "vitest";
import { PageTable, pte } from "../../src/index.js";
import { levelNames, walkView } from "../../src/viz/walk.js";
import { walkSvg } from "../../src/viz/walkSvg.js";
import { elements, swapScene, wellFormed } from "./scenes.js";

function mapped(levels: number[], va: number, frame: number, pageSize = 4096): PageTable {
  const t = new PageTable({ levels, pageSize });
  t.set(va, pte.makePte(frame, pte.WRITABLE | pte.USER));
  return t;
}

describe("walkView", () => {
  it("cuts the address into one field per level and the offset", () => {
    const v = walkView(mapped([10, 10], 0xdeadbeef, 5), 0xdeadbeef);
    expect(v.fields.map((f) => [f.name, f.hi, f.lo, f.value])).toEqual([
      ["PD", 31, 22, 0xdeadbeef >>> 22],
      ["PT", 21, 12, (0xdeadbeef >>> 12) & 0x3ff],
      ["offset", 11, 0, 0xdeadbeef & 0xfff],
    ]);
    expect(v).toMatchObject({ outcome: "mapped", frame: 5, physicalAddress: 5 * 4096 + 0xeef });
  });

  it("names x86's tables for x86's geometries only", () => {
    expect(levelNames([9, 9, 9, 9])).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(levelNames([9, 9, 9, 9, 9])).toEqual(["PML5", "PML4", "PDPT", "PD", "PT"]);
    expect(levelNames([9, 9, 9])).toEqual(["PDPT", "PD", "PT"]);
    expect(levelNames([10, 10])).toEqual(["PD", "PT"]);
    expect(levelNames([4, 4])).toEqual(["L0", "L1"]);
    expect(levelNames([10, 9, 9, 9])).toEqual(["L0", "L1", "L2", "L3"]);
  });

  it("says where a walk ends: no directory entry, no PTE, a PTE in swap", () => {
    const t = mapped([10, 10], 0x12345678, 5);
    expect(walkView(t, 0x80000000)).toMatchObject({ outcome: "unmapped", pte: null, frame: null, physicalAddress: null });
    expect(walkView(t, 0x80000000).steps).toHaveLength(1);
    const sameTable = walkView(t, 0x12346000); // the next page: the PT exists, its entry is 0
    expect(sameTable).toMatchObject({ outcome: "unmapped", pte: 0, pteText: "none" });
    expect(sameTable.steps).toHaveLength(2);
    const { proc, region } = swapScene();
    expect(walkView(proc.as.pageTable, region)).toMatchObject({ outcome: "swapped", swapSlot: expect.any(Number) as number, frame: null });
  });
});

describe("walkSvg", () => {
  it("matches its snapshots", async () => {
    await expect(walkSvg(walkView(mapped([9, 9, 9, 9], 0x7f1234567abc, 0x2a), 0x7f1234567abc))).toMatchFileSnapshot("__snapshots__/walk-mapped.svg");
    await expect(walkSvg(walkView(new PageTable({ levels: [9, 9, 9, 9] }), 0x7f1234567abc))).toMatchFileSnapshot("__snapshots__/walk-unmapped.svg");
  });

  it("draws each field with its bits, each table reached with the entry read", () => {
    const va = 0x7f1234567abc;
    const v = walkView(mapped([9, 9, 9, 9], va, 0x2a), va);
    const svg = walkSvg(v);
    expect(wellFormed(svg)).toBe(true);
    const fields = elements(svg, "field");
    expect(fields.map((f) => Number(f["data-value"]))).toEqual(v.fields.map((f) => f.value));
    const tables = elements(svg, "table");
    expect(tables.map((t) => [t["data-index"], t["data-entry"], t["data-reached"]])).toEqual(v.steps.map((s) => [String(s.index), String(s.entry), "true"]));
    expect(elements(svg, "result")[0]!["data-outcome"]).toBe("mapped");
    expect(svg).toContain(`= 0x${v.physicalAddress!.toString(16)}`);
    // an index arrow per level, an arrow between tables, one to the frame, one for the offset
    expect(elements(svg, "index")).toHaveLength(4);
    expect(elements(svg, "next")).toHaveLength(3);
    expect(elements(svg, "frame")).toHaveLength(1);
    expect(elements(svg, "offset")).toHaveLength(1);
  });

  it("a walk that stops early: the levels after it are drawn as not reached, and the fault", () => {
    const svg = walkSvg(walkView(new PageTable({ levels: [9, 9, 9, 9] }), 0x1000));
    const tables = elements(svg, "table");
    expect(tables.map((t) => t["data-reached"])).toEqual(["true", "false", "false", "false"]);
    expect(elements(svg, "result")[0]!["data-outcome"]).toBe("unmapped");
    expect(elements(svg, "fault")).toHaveLength(1);
    expect(svg).toContain("empty PML4 entry");
  });
});
