/**
 * heapSvg: a snapshot of each kind of heap, and the picture checked against the heap itself:
 * one group per chunk in address order, fills by state, the bins' links in list order.
 */
import { describe, expect, it } from "vitest";
import { ArgumentError, Heap, PhysicalMemory, Process } from "../../src/index.js";
import { COLORS } from "../../src/viz/svg.js";
import { heapSvg } from "../../src/viz/heapSvg.js";
import { demoHeap, elements, groups, listsHeap, wellFormed } from "./scenes.js";

const fillOf = (group: string): string => /<rect [^>]*fill="([^"]+)"/.exec(group)![1]!;

describe("heapSvg", () => {
  it("matches its snapshots (to scale, log scale, many lists)", async () => {
    await expect(heapSvg(demoHeap())).toMatchFileSnapshot("__snapshots__/heap-demo.svg");
    await expect(heapSvg(demoHeap(), { scale: "log" })).toMatchFileSnapshot("__snapshots__/heap-demo-log.svg");
    await expect(heapSvg(listsHeap().heap)).toMatchFileSnapshot("__snapshots__/heap-lists.svg");
  });

  it("draws one group per chunk, in address order, with its kind, address and size", () => {
    for (const heap of [demoHeap(), listsHeap().heap]) {
      const svg = heapSvg(heap);
      expect(wellFormed(svg)).toBe(true);
      const drawn = elements(svg, "chunk").map((g) => ({ kind: g["data-kind"], address: Number(g["data-address"]), size: Number(g["data-size"]) }));
      expect(drawn).toEqual(heap.chunks().map((c) => ({ kind: c.kind, address: c.address, size: c.size })));
    }
  });

  it("fills by state; live neighbours alternate two blues, a free chunk in between resets it", () => {
    const heap = demoHeap();
    const svg = heapSvg(heap);
    const chunks = heap.chunks();
    const fills = groups(svg, "chunk").map(fillOf);
    expect(fills).toHaveLength(chunks.length);
    let previousUsed: string | null = null;
    chunks.forEach((c, i) => {
      const f = fills[i]!;
      if (c.kind === "used") {
        expect([COLORS.used, COLORS.usedAlt]).toContain(f);
        expect(f).toBe(previousUsed === COLORS.used ? COLORS.usedAlt : COLORS.used);
        previousUsed = f;
      } else {
        expect(f).toBe({ free: COLORS.free, top: COLORS.top, meta: COLORS.meta }[c.kind]);
        previousUsed = null;
      }
    });
    // the header, below the first chunk, is drawn too
    const header = elements(svg, "header");
    expect(header).toHaveLength(1);
    expect(Number(header[0]!["data-address"])).toBe(heap.base);
    expect(Number(header[0]!["data-size"])).toBe(chunks[0]!.address - heap.base);
  });

  it("to scale, widths are proportional to sizes", () => {
    const heap = demoHeap();
    const svg = heapSvg(heap, { scale: "linear" });
    const chunks = heap.chunks();
    const widths = groups(svg, "chunk").map((g) => [...g.matchAll(/<rect [^>]*width="([\d.]+)"/g)].filter((m) => !/stroke-dasharray/.test(m[0])).reduce((s, m) => s + Number(m[1]), 0));
    const perByte = widths.map((w, i) => w / chunks[i]!.size);
    // chunks of 256 bytes or more are far from the 2 px floor: one scale for all of them
    const big = perByte.filter((_, i) => chunks[i]!.size >= 256);
    for (const r of big) expect(r).toBeCloseTo(big[0]!, 2);
    expect(svg).toMatch(/to scale, 1 px = [\d.]+ B/);
  });

  it("links each bin to its chunks in list order: the most recently freed first", () => {
    const { heap, freed } = listsHeap();
    const svg = heapSvg(heap);
    const bins = elements(svg, "bin").map((b) => ({ bin: Number(b["data-bin"]), chunks: b["data-chunks"]!.split(" ").map(Number) }));
    const free = heap.chunks().filter((c) => c.kind === "free");
    // every free chunk is in one list, or is the designated victim (drawn dashed, in no bin)
    const listed = bins.flatMap((b) => b.chunks);
    expect(new Set(listed).size).toBe(listed.length);
    const victims = free.filter((c) => !listed.includes(c.address));
    expect(victims.length).toBeLessThanOrEqual(1);
    expect(listed.length + victims.length).toBe(free.length);
    expect(heap.mallinfo().ordblks).toBe(free.length + 1); // the top is the other one
    // the 40-byte blocks (48-byte chunks) were freed in address order: a LIFO list holds them backwards
    const small = freed.filter((_, i) => [0, 2, 4, 7].includes(i)).map((p) => p - 16);
    const bin48 = bins.find((b) => b.chunks.includes(small[0]!))!;
    expect(bin48.bin).toBe(3);
    expect(bin48.chunks).toEqual([...small].reverse());
    // a head link per bin and an fd link per further chunk
    expect(elements(svg, "head")).toHaveLength(bins.length);
    expect(elements(svg, "fd")).toHaveLength(listed.length - bins.length);
  });

  it("draws a process's heap, reading its lists without touching the MMU", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }) });
    const ps = [proc.heap.malloc(100), proc.heap.malloc(24), proc.heap.malloc(100), proc.heap.malloc(24)];
    proc.heap.free(ps[0]!);
    proc.heap.free(ps[2]!);
    const before = { st: proc.status(), tlb: [proc.as.mmu.hits, proc.as.mmu.misses] };
    const svg = heapSvg(proc.heap);
    expect(proc.status()).toEqual(before.st);
    expect([proc.as.mmu.hits, proc.as.mmu.misses]).toEqual(before.tlb);
    expect(elements(svg, "chunk")).toHaveLength(proc.heap.chunks().length);
    expect(elements(svg, "bin").map((b) => b["data-chunks"])).toEqual([`${ps[2]! - 16} ${ps[0]! - 16}`]);
  });

  it("says when the lists are not drawn", () => {
    const heap = new Heap();
    const ps = Array.from({ length: 80 }, () => [heap.malloc(40), heap.malloc(24)]).flat();
    ps.forEach((p, i) => i % 2 === 0 && heap.free(p));
    expect(heapSvg(heap)).toContain("(bins not drawn: 80 free chunks: too many to link)");
    expect(heapSvg(heap, { links: false })).not.toContain('class="bin"');
    // something with chunks() alone has no base, so no header and no lists
    const bare = heapSvg({ chunks: () => heap.chunks() });
    expect(elements(bare, "header")).toHaveLength(0);
    expect(bare).toContain("(bins not drawn: the free lists of this heap cannot be read)");
  });

  it("is the same text for the same heap, and rejects bad options", () => {
    expect(heapSvg(demoHeap())).toBe(heapSvg(demoHeap()));
    const heap = new Heap();
    expect(() => heapSvg(heap, { width: 100 })).toThrow(ArgumentError);
    expect(() => heapSvg(heap, { maxRows: 0 })).toThrow(ArgumentError);
    expect(() => heapSvg(heap, { scale: "cubic" as "log" })).toThrow(ArgumentError);
  });
});
