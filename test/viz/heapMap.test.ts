/**
 * Tests of the text pictures in src/viz/heapMap.ts: each picture must agree with
 * `heap.chunks()` cell for cell, row for row, field for field.
 */
import { describe, expect, it } from "vitest";
import { ArgumentError, Heap, type ChunkInfo, type MallInfo } from "../../src/index.js";
import { MAP_GLYPHS, chunkTable, formatMallinfo, heapMap } from "../../src/viz/heapMap.js";

/** A heap with, in address order: meta, a (used), free (b and c merged), d (used), top. */
function smallHeap(): { heap: Heap; ptrs: number[] } {
  const heap = new Heap();
  const ptrs = [24, 100, 1000, 40].map((n) => heap.malloc(n));
  heap.free(ptrs[1]!);
  heap.free(ptrs[2]!);
  return { heap, ptrs: [ptrs[0]!, ptrs[3]!] };
}

/** A stand-in with a fixed list of chunks, to test the drawing rules on exact numbers. */
const fake = (chunks: ChunkInfo[]): { chunks(): ChunkInfo[] } => ({ chunks: () => chunks.map((c) => ({ ...c })) });
const chunk = (address: number, size: number, kind: ChunkInfo["kind"]): ChunkInfo => ({
  address,
  size,
  kind,
  ptr: kind === "used" ? address + 16 : 0,
  usable: kind === "used" ? size - 8 : 0,
});

/** The map's rows (legend dropped) with their address labels cut off. */
function cellsOf(map: string): string {
  return map
    .split("\n")
    .slice(0, -1)
    .map((row) => row.slice(row.indexOf(" ") + 1))
    .join("");
}
const count = (s: string, ch: string): number => [...s].filter((c) => c === ch).length;

describe("heapMap", () => {
  it("at 16 bytes per cell, gives each kind exactly its bytes / 16 cells", () => {
    const { heap } = smallHeap();
    const chunks = heap.chunks();
    const cells = cellsOf(heapMap(heap, { bytesPerCell: 16 }));
    const bytes = (k: ChunkInfo["kind"]): number => chunks.filter((c) => c.kind === k).reduce((n, c) => n + c.size, 0);
    expect(count(cells, MAP_GLYPHS.used) + count(cells, MAP_GLYPHS.usedNext)).toBe(bytes("used") / 16);
    expect(count(cells, MAP_GLYPHS.free)).toBe(bytes("free") / 16);
    expect(count(cells, MAP_GLYPHS.top)).toBe(bytes("top") / 16);
    expect(count(cells, MAP_GLYPHS.meta)).toBe(bytes("meta") / 16);
    expect([...cells].length).toBe((chunks.at(-1)!.address + chunks.at(-1)!.size - chunks[0]!.address) / 16);
  });

  it("draws the chunks in address order, one run of cells per chunk", () => {
    const { heap } = smallHeap();
    const cells = cellsOf(heapMap(heap, { bytesPerCell: 16 }));
    const runs = [...cells.matchAll(/(.)\1*/gsu)].map((m) => m[1]);
    const glyph = { used: MAP_GLYPHS.used, free: MAP_GLYPHS.free, top: MAP_GLYPHS.top, meta: MAP_GLYPHS.meta };
    expect(runs).toEqual(heap.chunks().map((c) => glyph[c.kind]));
  });

  it("splits the cells into rows of `width`, each labelled with an address in its first chunk", () => {
    const { heap } = smallHeap();
    const chunks = heap.chunks();
    const lines = heapMap(heap, { width: 40, bytesPerCell: 16 }).split("\n");
    const rows = lines.slice(0, -1);
    const total = (chunks.at(-1)!.address + chunks.at(-1)!.size - chunks[0]!.address) / 16;
    expect(rows).toHaveLength(Math.ceil(total / 40));
    rows.forEach((row, i) => {
      const [label, body] = row.split(" ") as [string, string];
      expect([...body].length).toBe(i < rows.length - 1 ? 40 : total - 40 * (rows.length - 1));
      expect(Number.parseInt(label, 16)).toBe(chunks[0]!.address + i * 40 * 16);
    });
    expect(lines.at(-1)).toContain("1 cell = 16 B");
    expect(lines.at(-1)).toContain(`${chunks.length} chunks`);
  });

  it("alternates the used glyph between live neighbours so their boundary shows", () => {
    const map = fake([chunk(0, 32, "used"), chunk(32, 32, "used"), chunk(64, 32, "used"), chunk(96, 32, "free"), chunk(128, 32, "used"), chunk(160, 32, "top")]);
    expect(cellsOf(heapMap(map, { bytesPerCell: 16 }))).toBe("██▓▓██..██~~");
  });

  it("gives every chunk at least one cell, and later chunks stay on their true positions", () => {
    // 32 + 32 bytes at 1024 bytes per cell would round to nothing; the 4 KiB free chunk ends at 4160.
    const map = fake([chunk(0, 32, "meta"), chunk(32, 32, "used"), chunk(64, 4096, "free"), chunk(4160, 4096, "top")]);
    expect(cellsOf(heapMap(map, { bytesPerCell: 1024 }))).toBe("m█..~~~~");
  });

  it("chooses a power-of-two scale that fits `rows`, coarser for a bigger heap", () => {
    const heap = new Heap();
    const scaleOf = (map: string): number => Number(/1 cell = (\d+) B/.exec(map)![1]);
    const small = heapMap(heap);
    expect(scaleOf(small)).toBe(16);
    heap.malloc(1 << 20);
    const big = heapMap(heap, { width: 64, rows: 8 });
    const s = scaleOf(big);
    expect(Math.log2(s) % 1).toBe(0);
    expect(big.split("\n").length - 1).toBeLessThanOrEqual(8);
    expect(s).toBeGreaterThan(1024);
    expect(heapMap(heap)).toBe(big); // deterministic; the defaults are width 64, rows 8
  });

  it("rejects options that are not positive integers", () => {
    const heap = new Heap();
    expect(() => heapMap(heap, { width: 0 })).toThrow(ArgumentError);
    expect(() => heapMap(heap, { rows: 1.5 })).toThrow(ArgumentError);
    expect(() => heapMap(heap, { bytesPerCell: -16 })).toThrow(ArgumentError);
  });

  it("with header: true, starts at the base and draws the header as h cells", () => {
    const { heap } = smallHeap();
    const chunks = heap.chunks();
    const map = heapMap(heap, { header: true, bytesPerCell: 16 });
    const cells = cellsOf(map);
    expect(cells.startsWith(MAP_GLYPHS.header.repeat((chunks[0]!.address - heap.base) / 16) + MAP_GLYPHS.meta)).toBe(true);
    expect(count(cells, MAP_GLYPHS.header)).toBe((chunks[0]!.address - heap.base) / 16);
    expect(Number.parseInt(map.split(" ")[0]!, 16)).toBe(heap.base);
    expect(map.split("\n").at(-1)).toContain(`${chunks.length} chunks and the header`);
    expect(cellsOf(heapMap(heap, { bytesPerCell: 16 }))).toBe(cells.slice(count(cells, MAP_GLYPHS.header)));
    expect(() => heapMap({ chunks: () => chunks }, { header: true })).toThrow(ArgumentError);
  });

  it("says in its legend that the two shades of used alternate", () => {
    expect(heapMap(new Heap()).split("\n").at(-1)).toMatch(/^█▓ used \(shades alternate\)/);
  });

  it("draws an empty chunk list as the legend alone", () => {
    expect(heapMap(fake([])).split("\n")).toHaveLength(1);
  });
});

describe("chunkTable", () => {
  it("has a header, a rule, one row per chunk with its fields, and a totals line", () => {
    const { heap, ptrs } = smallHeap();
    const chunks = heap.chunks();
    const lines = chunkTable(heap).split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["address", "size", "kind", "ptr", "usable"]);
    expect(lines[1]).toMatch(/^[- ]+$/);
    expect(lines).toHaveLength(chunks.length + 3);
    chunks.forEach((c, i) => {
      const cols = lines[i + 2]!.split(/\s+/);
      expect(Number.parseInt(cols[0]!, 16)).toBe(c.address);
      expect(Number(cols[1])).toBe(c.size);
      expect(cols[2]).toBe(c.kind);
      if (c.kind === "used") {
        expect(Number.parseInt(cols[3]!, 16)).toBe(c.ptr);
        expect(Number(cols[4])).toBe(c.usable);
      } else {
        expect(cols.slice(3)).toEqual(["-", "-"]);
      }
    });
    for (const p of ptrs) expect(lines.some((l) => l.split(/\s+/)[3] === "0x" + p.toString(16).padStart(4, "0"))).toBe(true);
    const total = chunks.reduce((n, c) => n + c.size, 0);
    expect(lines.at(-1)).toBe(`${chunks.length} chunks, ${total} bytes: 2 used, 1 free, 1 top, 1 meta`);
  });

  it("aligns every row to the same columns", () => {
    const { heap } = smallHeap();
    const lines = chunkTable(heap).split("\n").slice(0, -1);
    const sizeEnd = lines[0]!.indexOf("size") + "size".length;
    for (const l of lines.slice(2)) expect(l[sizeEnd - 1]).toMatch(/\d/);
  });
});

describe("formatMallinfo", () => {
  it("prints every mallinfo2 field in <malloc.h> order with its value, aligned", () => {
    const heap = new Heap();
    heap.malloc(100);
    const info = heap.mallinfo();
    const lines = formatMallinfo(info).split("\n");
    const order: (keyof MallInfo)[] = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"];
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(order);
    lines.forEach((l, i) => expect(Number(l.split(/\s+/)[1])).toBe(info[order[i]!]));
    const valueEnds = lines.map((l) => /^\S+\s+\d+/.exec(l)![0].length);
    expect(new Set(valueEnds).size).toBe(1);
  });
});
