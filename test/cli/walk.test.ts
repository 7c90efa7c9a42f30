/**
 * `vmheap walk`: the indices, entries and physical address checked against bit arithmetic done
 * here with BigInt, for several geometries, mapped, unmapped, and inside a process.
 */
import { describe, expect, it } from "vitest";
import { cli } from "./helpers.js";

interface WalkJson {
  va: number;
  addressBits: number;
  pageSize: number;
  levels: number[];
  fields: { name: string; level: number | null; hi: number; lo: number; value: number }[];
  steps: { level: number; index: number; entry: number; leaf: boolean; name: string; tableAddress: number; entryAddress: number }[];
  outcome: string;
  pte: number | null;
  pteText: string | null;
  frame: number | null;
  physicalAddress: number | null;
}

const walk = (...args: string[]): WalkJson => {
  const r = cli("walk", ...args, "--json");
  expect(r.code, r.err.join("\n")).toBe(0);
  return r.json<WalkJson>();
};

/** The index of each level and the offset, by shifting and masking. */
function split(va: bigint, levels: number[], pageShift: number): { indices: number[]; offset: number } {
  const indices: number[] = [];
  let shift = BigInt(pageShift + levels.reduce((a, b) => a + b, 0));
  for (const bits of levels) {
    shift -= BigInt(bits);
    indices.push(Number((va >> shift) & ((1n << BigInt(bits)) - 1n)));
  }
  return { indices, offset: Number(va & ((1n << BigInt(pageShift)) - 1n)) };
}

describe("vmheap walk", () => {
  it("x86-64 by default: four levels of 9 bits, the frame and the physical address", () => {
    const va = 0x7f1234567abcn;
    const j = walk("0x7f1234567abc");
    const { indices, offset } = split(va, [9, 9, 9, 9], 12);
    expect(j).toMatchObject({ va: Number(va), addressBits: 48, pageSize: 4096, levels: [9, 9, 9, 9], outcome: "mapped", frame: 0x2a });
    expect(j.steps.map((s) => s.index)).toEqual(indices);
    expect(j.steps.map((s) => s.name)).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(j.fields.map((f) => [f.name, f.hi, f.lo, f.value])).toEqual([
      ["PML4", 47, 39, indices[0]],
      ["PDPT", 38, 30, indices[1]],
      ["PD", 29, 21, indices[2]],
      ["PT", 20, 12, indices[3]],
      ["offset", 11, 0, offset],
    ]);
    expect(j.physicalAddress).toBe(0x2a * 4096 + offset);
    // each directory entry leads to the table the next step reads
    for (let i = 0; i < 3; i++) expect(j.steps[i + 1]!.tableAddress).toBe(j.steps[i]!.entry * 4);
    for (const s of j.steps) expect(s.entryAddress).toBe(s.tableAddress + 4 * s.index);
    expect(j.pteText).toBe("frame 0x2a P W U - - - - -");
  });

  it("other geometries: 32-bit x86 and a 16-bit machine with 256-byte pages", () => {
    const a = walk("0x12345678", "--levels", "10,10", "--frame", "7");
    expect(a.steps.map((s) => s.index)).toEqual(split(0x12345678n, [10, 10], 12).indices);
    expect(a.steps.map((s) => s.name)).toEqual(["PD", "PT"]);
    expect(a.physicalAddress).toBe(7 * 4096 + 0x678);
    const b = walk("0xbeef", "--levels", "4,4", "--page-size", "256", "--frame", "3");
    expect(b.addressBits).toBe(16);
    expect(b.steps.map((s) => s.index)).toEqual([0xb, 0xe]);
    expect(b.steps.map((s) => s.name)).toEqual(["L0", "L1"]);
    expect(b.physicalAddress).toBe(3 * 256 + 0xef);
  });

  it("--unmapped: the walk stops at the empty root entry", () => {
    const j = walk("0x7f1234567abc", "--unmapped");
    expect(j.outcome).toBe("unmapped");
    expect(j.steps).toHaveLength(1);
    expect(j.steps[0]).toMatchObject({ level: 0, entry: 0, leaf: false });
    expect(j.physicalAddress).toBeNull();
    const text = cli("walk", "0x7f1234567abc", "--unmapped").out.join("\n");
    expect(text).toContain("= 0: empty, the walk stops here (page fault)");
    expect(text).toContain("no translation: an access to 0x7f1234567abc faults");
  });

  it("--process: text is mapped read-execute, a stack page gets a frame, a hole has no entry", () => {
    const text = walk("0x401010", "--process");
    expect(text.outcome).toBe("mapped");
    expect(text.pteText).toMatch(/^frame 0x[0-9a-f]+ P - U X/);
    const stack = walk("0x7fffffffe000", "--process");
    expect(stack.outcome).toBe("mapped");
    expect(stack.pteText).toMatch(/ P W U - A D/);
    const hole = walk("0x1000", "--process");
    expect(hole.outcome).toBe("unmapped");
    expect(cli("walk", "0x1000", "--process").out[1]).toMatch(/no region holds 0x1000/);
  });

  it("text: the address cut into bits, one line per step, the physical address", () => {
    const r = cli("walk", "0x12345678", "--levels", "10,10");
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("walk of 0x12345678: 2 levels [10, 10], 32-bit addresses, 4096-byte pages");
    const bits = r.out.find((l) => l.startsWith("  va "))!;
    expect(bits.replace(/[^01]/g, "")).toBe((0x12345678).toString(2).padStart(32, "0"));
    expect(r.out.find((l) => l.startsWith("  index"))).toMatch(/PD 72\s+\| PT 837\s+\| offset 0x678/);
    expect(r.out.find((l) => /^\s+2\. PT/.test(l))).toMatch(/entry 837 .*the PTE, frame 0x2a P W U/);
    expect(r.out.at(-1)).toBe("  physical address = frame 0x2a * 4096 + offset 0x678 = 0x2a678");
  });

  it("--svg draws the walk", () => {
    const r = cli("walk", "0x12345678", "--levels", "10,10", "--svg", "w.svg");
    expect(r.files.get("w.svg")!.match(/class="table"/g)).toHaveLength(2);
  });

  it("bad command lines: exit code 2", () => {
    const cases: [string[], RegExp][] = [
      [[], /which address\?/],
      [["zz"], /VA must be a whole number, decimal or 0x hex, got 'zz'/],
      [["0x1000000000000"], /0x1000000000000 does not fit a 48-bit address space/],
      [["0x1000000000000", "--process"], /outside the process's 48-bit address space/],
      [["1", "--levels", "9,x"], /--levels must be index bits per level/],
      [["1", "--levels", "30,30"], /each level must have 1 to 24 index bits/],
      [["1", "--page-size", "1000"], /pageSize must be a power of two/],
      [["1", "--frame", "0x1000000"], /--frame must fit 24 bits/],
      [["1", "--process", "--levels", "10,10"], /--process walks the process's own table/],
    ];
    for (const [argv, re] of cases) {
      const r = cli("walk", ...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err[0]).toMatch(re);
    }
  });
});
