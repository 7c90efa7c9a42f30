/**
 * `vmheap replay`: figures checked against the same trace run directly on a process's heap
 * (malloc/realloc/free calls written out here), and against numbers worked out by hand.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PhysicalMemory, Process } from "../../src/index.js";
import { cli, fixtures, traces } from "./helpers.js";

interface ReplayJson {
  trace: string;
  allocator: string;
  ops: number;
  mallocs: number;
  frees: number;
  reallocs: number;
  peakLive: number;
  peakOp: number;
  maxFootprint: number;
  utilization: number;
  internalFragmentation: number;
  externalFragmentation: number;
  atPeak: { liveBytes: number; inUseBytes: number; freeBytes: number; largestFree: number; footprint: number };
  atEnd: { liveBytes: number; footprint: number };
}

const small = join(fixtures, "small.rep");

/** small.rep by hand, on a fresh process heap, stopping after `stop` operations. */
function smallByHand(stop = 8, allocator: "vmheap" | "glibc" = "vmheap") {
  const heap = Process.spawn({ memory: new PhysicalMemory({ frames: 65536 }), heap: { allocator } }).heap;
  const steps: (() => void)[] = [];
  const p: number[] = [];
  steps.push(() => (p[0] = heap.malloc(100)));
  steps.push(() => (p[1] = heap.malloc(200)));
  steps.push(() => (p[2] = heap.malloc(3000)));
  steps.push(() => heap.free(p[1]!));
  steps.push(() => (p[0] = heap.realloc(p[0]!, 500)));
  steps.push(() => (p[3] = heap.malloc(40)));
  steps.push(() => heap.free(p[2]!));
  steps.push(() => heap.free(p[0]!));
  for (const s of steps.slice(0, stop)) s();
  return heap;
}

describe("vmheap replay", () => {
  it("--json: counts, peak, footprint and utilization of a trace worked out by hand", () => {
    const r = cli("replay", small, "--json");
    expect(r.code).toBe(0);
    const j = r.json<ReplayJson>();
    expect(j).toMatchObject({ trace: small, allocator: "vmheap", ops: 8, mallocs: 4, frees: 3, reallocs: 1 });
    // live payload: 100, 300, 3300, 3100, 3500, 3540, 540, 40
    expect(j.peakLive).toBe(3540);
    expect(j.peakOp).toBe(5);
    const direct = smallByHand();
    expect(j.maxFootprint).toBe(direct.mallocMaxFootprint());
    expect(j.utilization).toBeCloseTo(3540 / direct.mallocMaxFootprint(), 12);
    expect(j.utilization).toBeGreaterThan(0);
    expect(j.utilization).toBeLessThan(1);
    expect(j.atEnd).toMatchObject({ liveBytes: 40, footprint: direct.mallocFootprint() });
  });

  it("--json: the fragmentation at the peak follows its definitions", () => {
    const j = cli("replay", small, "--json").json<ReplayJson>();
    const heap = smallByHand(6); // the peak is reached by the sixth operation
    const info = heap.mallinfo();
    const chunks = heap.chunks();
    const inUse = info.uordblks + info.hblkhd;
    const free = chunks.filter((c) => c.kind === "free" || c.kind === "top");
    const largest = Math.max(...free.map((c) => c.size));
    const freeBytes = free.reduce((s, c) => s + c.size, 0);
    expect(freeBytes).toBe(info.fordblks);
    expect(j.atPeak).toMatchObject({ liveBytes: 3540, inUseBytes: inUse, freeBytes, largestFree: largest, footprint: heap.mallocFootprint() });
    expect(j.internalFragmentation).toBeCloseTo((inUse - 3540) / inUse, 12);
    expect(j.externalFragmentation).toBeCloseTo(1 - largest / freeBytes, 12);
    // "in use" holds the live chunks and the allocator's own metadata (its header, the bitmap).
    const used = chunks.filter((c) => c.kind === "used" || c.kind === "meta").reduce((s, c) => s + c.size, 0);
    expect(inUse).toBe(used + (chunks[0]!.address - heap.base));
    // the live chunks: 500 → 512, 3000 → 3008, 40 → 48 bytes (size + 8, rounded up to 16)
    expect(chunks.filter((c) => c.kind === "used").map((c) => c.size).sort((a, b) => a - b)).toEqual([48, 512, 3008]);
  });

  it("--allocator glibc: glibc's first malloc takes 128 KiB of top pad, so the footprint is 0x21000", () => {
    const r = cli("replay", small, "--allocator", "glibc", "--json");
    expect(r.code, r.err.join("\n")).toBe(0);
    const j = r.json<ReplayJson>();
    expect(j).toMatchObject({ allocator: "glibc", ops: 8, peakLive: 3540, peakOp: 5 });
    // malloc(100): the 0x290-byte tcache, the block, and M_TOP_PAD (128 KiB), rounded up to a
    // page: the break moves by 0x21000 once, and everything else fits below it.
    expect(j.maxFootprint).toBe(0x21000);
    const direct = smallByHand(8, "glibc");
    expect(j.maxFootprint).toBe(direct.mallocMaxFootprint());
    expect(j.utilization).toBeCloseTo(3540 / 0x21000, 12);
    const peak = smallByHand(6, "glibc");
    const free = peak.chunks().filter((c) => c.kind === "free" || c.kind === "top");
    const freeBytes = free.reduce((s, c) => s + c.size, 0);
    expect(j.atPeak).toMatchObject({ freeBytes, inUseBytes: peak.mallocFootprint() - freeBytes, largestFree: Math.max(...free.map((c) => c.size)) });
    expect(j.atPeak.inUseBytes + j.atPeak.freeBytes).toBe(peak.mallinfo().arena + peak.mallinfo().hblkhd);
  });

  it("--allocator glibc: a chunk in the tcache is free memory, though glibc's mallinfo counts it in use", () => {
    // f 1 puts the 208-byte chunk of id 1 into the tcache; it stays there at the end.
    const j = cli("replay", small, "--allocator", "glibc", "--json").json<ReplayJson>();
    const heap = smallByHand(8, "glibc");
    const info = heap.mallinfo();
    const free = heap.chunks().filter((c) => c.kind === "free" || c.kind === "top").reduce((s, c) => s + c.size, 0);
    expect(free).toBeGreaterThan(info.fordblks);
    expect(j.atEnd.footprint - free).toBeLessThan(info.uordblks + info.hblkhd);
    const text = cli("replay", join(traces, "ls.rep"), "--allocator", "glibc");
    expect(text.code).toBe(0);
    expect(text.out[0]).toMatch(/ls\.rep on glibc: 45 ids, 82 operations$/);
  });

  it("text: the figures, their definitions, and the final heap map", () => {
    const r = cli("replay", small);
    expect(r.code).toBe(0);
    const text = r.out.join("\n");
    expect(text).toMatch(/operations\s+8\s+4 malloc, 1 realloc, 3 free/);
    expect(text).toMatch(/peak live bytes\s+3540\s+reached at line 10/);
    const j = cli("replay", small, "--json").json<ReplayJson>();
    expect(text).toMatch(new RegExp(`max footprint\\s+${j.maxFootprint}\\b`));
    expect(text).toContain(`${(100 * j.utilization).toFixed(1)}%   peak live / max footprint`);
    expect(text).toContain("(in use - live) / in use");
    expect(text).toContain("1 - largest free / free");
    expect(r.out.some((l) => /used \(shades alternate\)/.test(l))).toBe(true);
    expect(r.err).toEqual([]);
  });

  it("replays a real trace; its peak is the one the header states", () => {
    const file = join(traces, "ls.rep");
    const j = cli("replay", file, "--json").json<ReplayJson>();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(j.ops).toBe(lines.length - 4);
    expect(j.peakLive).toBe(Number(lines[3]));
    expect(j.maxFootprint).toBeGreaterThanOrEqual(j.peakLive);
  });

  it("--svg writes a picture of the final heap", () => {
    const r = cli("replay", small, "--svg", "out.svg");
    expect(r.code).toBe(0);
    const svg = r.files.get("out.svg")!;
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('class="chunk"');
    expect(r.out.at(-1)).toBe("picture: out.svg");
  });

  it("bad input: a message, no stack trace, exit code 1", () => {
    const cases: [string[], RegExp][] = [
      [["replay", join(fixtures, "missing.rep")], /^vmheap replay: cannot read .*missing\.rep: no such file$/],
      [["replay", fixtures], /^vmheap replay: cannot read .*fixtures: it is a directory$/],
      [["replay", join(fixtures, "bad-op.rep")], /bad-op\.rep:6: unknown operation \(expected a, f or r\): 'x 0 5'$/],
      [["replay", join(fixtures, "unknown-id.rep")], /unknown-id\.rep:6: unknown id 1: it is not allocated: 'f 1'$/],
      [["replay", join(fixtures, "twice.rep")], /twice\.rep:6: id 0 is already allocated/],
      [["replay", join(fixtures, "bad-header.rep")], /bad-header\.rep:3: header line 3 must be a number/],
      [["replay", join(fixtures, "out-of-range.rep")], /out-of-range\.rep:6: id 5 is out of range/],
      [["replay", join(fixtures, "bad-size.rep")], /bad-size\.rep:5: the size must be a whole number/],
      [["replay", join(fixtures, "short.rep")], /short\.rep: the file ends inside the 4-line header/],
      [["replay", join(fixtures, "huge.rep")], /huge\.rep:5: malloc\(4294967296\) returned NULL \(errno 12\)/],
      [["replay", small, "--svg", "/nonexistent/x.svg"], /^vmheap replay: cannot write \/nonexistent\/x\.svg: ENOENT$/],
    ];
    for (const [argv, re] of cases) {
      const r = cli(...argv);
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.err, argv.join(" ")).toHaveLength(1);
      expect(r.err[0]).toMatch(re);
      expect(r.err[0]).not.toMatch(/\n\s+at /);
    }
  });

  it("bad command line: exit code 2", () => {
    const cases: [string[], RegExp][] = [
      [["replay"], /which trace\?/],
      [["replay", small, "--allocator", "tcmalloc"], /--allocator must be vmheap or glibc, got 'tcmalloc'/],
      [["replay", small, "--ram", "lots"], /--ram must be a whole number ≥ 1, got 'lots'/],
      [["replay", small, "--frobnicate"], /^vmheap replay: Unknown option '--frobnicate'$/],
      [["replay", small, "other.rep"], /unexpected argument 'other\.rep'/],
    ];
    for (const [argv, re] of cases) {
      const r = cli(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err[0]).toMatch(re);
    }
  });

  it("a note when the header's count of operations is wrong", () => {
    const r = cli("replay", join(fixtures, "bad-op.rep").replace("bad-op", "count"));
    expect(r.code).toBe(0);
    expect(r.err).toEqual([expect.stringMatching(/count\.rep's header says 5 operations, it has 2$/)]);
  });
});
