/**
 * The rows of "what a real process shows": each JSON in test/fixtures/glibc/process/ was
 * measured on this machine's Linux and glibc 2.36 by a C program in scripts/glibc/measure/
 * (minor faults from getrusage, RssAnon from /proc/self/status, the break from sbrk(0)),
 * around the steps it lists. The model runs the same steps in a fresh process and must give
 * the same faults, the same change of resident memory, the same break, and the same values.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PhysicalMemory, Process } from "../../../src/index.js";

const dir = join(__dirname, "../../fixtures/glibc/process");
interface Delta {
  to: string;
  minflt: number;
  rssAnonKb: number;
  brk: string;
}
interface Row {
  name: string;
  steps: string[];
  warm: { deltas: Delta[]; values: Record<string, string | number> };
}
const rows = new Map<string, Row>(readdirSync(dir).map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(join(dir, f), "utf8")) as Row]));

/** Runs steps in a fresh glibc-model process, noting a snapshot after each step. */
interface Kit {
  snap(): void;
  /** The driver's notation of a block: H+offset from the heap start, or M+page offset when mapped. */
  where(p: number): string;
  /** The size word at p - 8, in hex. */
  size(p: number): string;
}

function measure(run: (proc: Process, k: Kit, values: Record<string, string | number>) => void) {
  const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 16384 }), heap: { allocator: "glibc" } });
  const heap0 = proc.currentBreak;
  const snaps: { flt: number; rss: number; brk: number }[] = [];
  const snap = (): void => {
    const s = proc.status();
    snaps.push({ flt: s.minorFaults, rss: s.vmRss / 1024, brk: proc.currentBreak });
  };
  const values: Record<string, string | number> = {};
  const where = (p: number): string => ((proc.as.read32(p - 8) & 2) !== 0 ? `M+${(p % 4096).toString(16)}` : `H+${(p - heap0).toString(16)}`);
  const size = (p: number): string => `0x${proc.as.read32(p - 8).toString(16)}`;
  snap();
  run(proc, { snap, where, size }, values);
  const deltas = snaps.slice(1).map((s, i) => {
    const d = s.brk - snaps[i]!.brk;
    return { minflt: s.flt - snaps[i]!.flt, rssAnonKb: s.rss - snaps[i]!.rss, brk: `${d < 0 ? "-" : "+"}0x${Math.abs(d).toString(16)}` };
  });
  return { deltas, values };
}

function expectRow(name: string, got: { deltas: { minflt: number; rssAnonKb: number; brk: string }[]; values: Record<string, string | number> }): void {
  const row = rows.get(name)!;
  expect(row, `fixture ${name}`).toBeDefined();
  expect(got.deltas).toEqual(row.warm.deltas.map(({ minflt, rssAnonKb, brk }) => ({ minflt, rssAnonKb, brk })));
  expect(got.values).toEqual(row.warm.values);
}

describe("a glibc-model process against a real one (recorded on this machine)", () => {
  it("has a fixture for every row it checks", () => {
    expect([...rows.keys()].sort()).toEqual(
      ["calloc-100k", "first-malloc", "free-10000", "mallinfo-1000", "mapped-block", "mmap-reuse", "trim-last-live", "trim-last-live-untouched"].sort(),
    );
  });

  it("first malloc(100): heap start + 0x2a0, size word 0x71, the break moves by 0x21000, one page touched", () => {
    const m = measure((proc, k, v) => {
      const p = proc.heap.malloc(100);
      k.snap();
      v.p = k.where(p);
      v.sizeWord = k.size(p);
      v.usable = proc.heap.mallocUsableSize(p);
    });
    expectRow("first-malloc", m);
  });

  it("10,000 × malloc(100), then free them all: the break and RSS stay (tcache and fastbins)", () => {
    const m = measure((proc, k, v) => {
      const ps = Array.from({ length: 10000 }, () => proc.heap.malloc(100));
      k.snap();
      for (const p of ps) proc.heap.free(p);
      k.snap();
      v["ptrs[0]"] = k.where(ps[0]!);
      v["ptrs[9999]"] = k.where(ps[9999]!);
    });
    expectRow("free-10000", m);
  });

  it("mallinfo2() after freeing 1,000 × malloc(100): smblks 993, fsmblks 111,216, uordblks 1,440", () => {
    const m = measure((proc, k, v) => {
      const ps = Array.from({ length: 1000 }, () => proc.heap.malloc(100));
      k.snap();
      for (const p of ps) proc.heap.free(p);
      k.snap();
      Object.assign(v, proc.heap.mallinfo());
    });
    expectRow("mallinfo-1000", m);
  });

  it("first calloc(100 KiB): memset even though the top is fresh (26 faults, +104 kB)", () => {
    const m = measure((proc, k, v) => {
      const p = proc.heap.calloc(1, 102400);
      k.snap();
      v.p = k.where(p);
      v.sizeWord = k.size(p);
    });
    expectRow("calloc-100k", m);
  });

  it("a fresh mapped block: one minor fault for its header's page (plus the tcache's first page)", () => {
    const m = measure((proc, k, v) => {
      const p = proc.heap.malloc(204800);
      k.snap();
      proc.as.write8(p, 1);
      k.snap();
      v.p = k.where(p);
      v.sizeWord = k.size(p);
    });
    expectRow("mapped-block", m);
  });

  it("malloc(200 KiB), free, malloc(200 KiB): the second comes from brk (the threshold rose)", () => {
    const m = measure((proc, k, v) => {
      const p = proc.heap.malloc(204800);
      k.snap();
      v.p = k.where(p);
      v.pSizeWord = k.size(p);
      proc.heap.free(p);
      k.snap();
      const q = proc.heap.malloc(204800);
      k.snap();
      v.q = k.where(q);
      v.qSizeWord = k.size(q);
    });
    expectRow("mmap-reuse", m);
  });

  for (const [name, touch] of [
    ["trim-last-live", true],
    ["trim-last-live-untouched", false],
  ] as const) {
    it(`malloc_trim(0) with the last block live${touch ? "" : " (blocks never written)"}: returns 1, whole free pages inside the heap given back`, () => {
      const m = measure((proc, k, v) => {
        const ps = Array.from({ length: 10 }, () => {
          const p = proc.heap.malloc(20480);
          if (touch) proc.as.writeBytes(p, new Uint8Array(20480).fill(1));
          return p;
        });
        k.snap();
        for (const p of ps.slice(0, 9)) proc.heap.free(p);
        k.snap();
        v.malloc_trim = proc.heap.mallocTrim(0);
        k.snap();
        v["ptrs[9]"] = k.where(ps[9]!);
      });
      expectRow(name, m);
    });
  }
});
