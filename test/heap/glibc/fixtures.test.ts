/**
 * The glibc model against real glibc 2.36: every trace in test/fixtures/glibc/ was replayed
 * through this machine's glibc by scripts/glibc/replay.c (see scripts/glibc/README.md); the
 * model must print the same lines — the address of every block relative to the heap start,
 * its size word, malloc_usable_size, the break after every call, mallinfo2 every 200 calls,
 * and, where recorded, every non-zero word of the heap (safe-linked links and all).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replayGlibcTrace } from "../../../src/heap/glibc/replay.js";

const root = join(__dirname, "../../..");
const manifest = JSON.parse(readFileSync(join(root, "test/fixtures/glibc/manifest.json"), "utf8")) as {
  glibc: string;
  fixtures: { name: string; trace: string; output: string; ops: number; dump: boolean; heldout: boolean; what?: string; heap0: string }[];
};

/**
 * Lines that cannot agree, with the reason: a mapped chunk aligned beyond a page keeps the
 * slack its mapping's address leaves, and the model's mmap does not return the addresses the
 * real process's mmap does (libc and ld.so are mapped there). Only `sz`/`us` may differ.
 */
const MMAP_ADDRESS_DEPENDENT: Record<string, number[]> = { "memalign-mmapped": [1, 2, 3] };

function fixtureLines(file: string): string[] {
  let bytes = readFileSync(join(root, file));
  if (file.endsWith(".gz")) bytes = gunzipSync(bytes);
  return bytes.toString("utf8").split("\n").filter((l) => l !== "").map((l) => l.trimEnd());
}

describe("glibc model vs glibc 2.36 (recorded)", () => {
  it("the fixtures were made with glibc 2.36 on x86-64, the heap starting on a page", () => {
    expect(manifest.glibc).toMatch(/^# glibc 2\.36 x86_64 heap0&0xfff=0x0$/);
  });

  it("the exempt lines are only those of mapped chunks aligned beyond a page", () => {
    for (const [name, ops] of Object.entries(MMAP_ADDRESS_DEPENDENT)) {
      const f = manifest.fixtures.find((x) => x.name === name)!;
      const lines = fixtureLines(f.output);
      for (const i of ops) expect(lines.find((l) => l.startsWith(`${i} `))).toMatch(/^\d+ [mpA] \d+ (\d+) \d+ -> (e0:)?M\+0 /);
    }
  });

  for (const f of manifest.fixtures) {
    it(`${f.name}${f.heldout ? " (held out)" : ""}: every line as glibc printed it`, () => {
      const want = fixtureLines(f.output);
      expect(want[0]).toBe(manifest.glibc);
      // Alignments above a page and safe-linked words depend on the absolute heap start: the
      // model's process starts its heap where the driver's did (recorded, ASLR off).
      const got = replayGlibcTrace(readFileSync(join(root, f.trace), "utf8"), { dump: f.dump, heapStart: Number(f.heap0), check: true });
      const expected = want.slice(1);
      expect(got.length).toBe(expected.length);
      const skip = new Set((MMAP_ADDRESS_DEPENDENT[f.name] ?? []).map((i) => `${i} `));
      const strip = (l: string): string => l.replace(/ sz=\S+ us=\S+/, "");
      const mismatches: string[] = [];
      for (let i = 0; i < expected.length; i++) {
        const w = expected[i]!;
        const g = got[i]!;
        const exempt = [...skip].some((s) => w.startsWith(s));
        if (exempt ? strip(w) !== strip(g) : w !== g) mismatches.push(`line ${i + 2}:\n  glibc: ${w}\n  model: ${g}`);
        if (mismatches.length >= 5) break;
      }
      expect(mismatches, mismatches.join("\n")).toEqual([]);
    });
  }
});
