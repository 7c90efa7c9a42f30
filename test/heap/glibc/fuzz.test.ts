/**
 * Traces on which the glibc model once differed from glibc 2.36, minimized: found by the
 * differential fuzz (scripts/glibc/fuzz/fuzz.mjs: seeded random traces through this machine's
 * glibc and through the model, compared line for line) or by reading malloc.c, each with what
 * was wrong in its `#` lines. Recorded with scripts/glibc/replay.c like the mechanism traces of
 * fixtures.test.ts, heap dump included; replayed here with the real run's heap start and
 * main_arena address.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PhysicalMemory } from "../../../src/memory/PhysicalMemory.js";
import { Process } from "../../../src/vm/Process.js";
import { replayGlibcTrace } from "../../../src/heap/glibc/replay.js";
import type { GlibcHeap } from "../../../src/heap/glibc/GlibcHeap.js";
import { ARENA_SIZE, M_PERTURB } from "../../../src/heap/glibc/layout.js";
import { M_MMAP_MAX } from "../../../src/constants.js";

const root = join(__dirname, "../../..");
const manifest = JSON.parse(readFileSync(join(root, "test/fixtures/glibc/fuzz/manifest.json"), "utf8")) as {
  glibc: string;
  fixtures: { name: string; trace: string; output: string; ops: number; heap0: string; mainArena: string; what: string }[];
};

const lines = (file: string): string[] =>
  readFileSync(join(root, file), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.trimEnd());

describe("glibc model vs glibc 2.36: what the fuzz found (recorded)", () => {
  it("the fixtures were made with glibc 2.36 on x86-64", () => {
    expect(manifest.glibc).toMatch(/^# glibc 2\.36 x86_64 heap0&0xfff=0x0$/);
    expect(manifest.fixtures.length).toBeGreaterThanOrEqual(3);
  });

  for (const f of manifest.fixtures) {
    it(`${f.name}: every line as glibc printed it`, () => {
      const want = lines(f.output);
      expect(want[0]).toBe(manifest.glibc);
      const got = replayGlibcTrace(readFileSync(join(root, f.trace), "utf8"), {
        dump: true,
        check: true,
        heapStart: Number(f.heap0),
        arenaAddress: Number(f.mainArena),
      });
      expect(got).toEqual(want.slice(1));
    });
  }

  it("a mapped chunk never lands on main_arena's address (the default one either)", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }), heap: { allocator: "glibc" } });
    const heap = proc.heap as GlibcHeap;
    const arena = heap.state.arena;
    // Mappings fill the area top-down from just below the vdso: 4 MiB of them pass the arena.
    const blocks = Array.from({ length: 8 }, () => heap.malloc(500_000));
    for (const p of blocks) {
      expect(p).not.toBe(0);
      expect(p - 16 + 500_000 < arena || p - 16 > arena + ARENA_SIZE).toBe(true);
    }
    const small = heap.malloc(100);
    heap.free(small);
    for (const p of blocks) heap.free(p);
    heap.check();
    expect(heap.mallinfo().hblks).toBe(0);
  });

  it("the replay's dump has no limit of arguments (a heap of 1.2 MB filled by M_PERTURB)", () => {
    // M_MMAP_MAX 0: the block comes from the break, inside the dumped heap.
    const out = replayGlibcTrace(`0\n1\n3\n0\no ${M_MMAP_MAX} 0\no ${M_PERTURB} 90\na 0 1200000\n`, { dump: true });
    expect(out.filter((l) => l.startsWith("w ")).length).toBeGreaterThan(140_000);
  });
});
