// heap.md, "introspection": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidPointerError, LinearMemory, PhysicalMemory, Process } from "../../src/index.js";

const KiB = 1024;

function linear(): Heap<LinearMemory> {
  return new Heap({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 << 20 }) });
}

/** A heap with blocks in use, free chunks of several sizes and (in a process) mapped blocks. */
function populate(h: Heap): number[] {
  const ps = Array.from({ length: 60 }, (_, i) => h.malloc(((i * 97) % 3000) + 1));
  for (let i = 0; i < 60; i += 4) h.free(ps[i]!);
  return ps;
}

describe("heap.md: 'mallinfo() returns glibc's mallinfo2 fields with glibc's meanings'", () => {
  it.each(["linear memory", "a process"])(
    "arena (bytes obtained through brk), ordblks (free chunks), hblks / hblkhd (mapped blocks and bytes), uordblks (in use), fordblks (free), keepcost (releasable top); uordblks + fordblks == arena: %s",
    (t) => {
      const proc = t === "a process" ? Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }) }) : null;
      const h = proc?.heap ?? linear();
      populate(h);
      const mapped = proc ? [h.malloc(200 * KiB), h.malloc(300 * KiB + 5)] : [];
      const m = h.mallinfo();
      const chunks = h.chunks();
      const free = chunks.filter((c) => c.kind === "free");
      const top = chunks.find((c) => c.kind === "top")!;
      expect(free.length).toBeGreaterThan(5);
      expect(m.ordblks).toBe(free.length + 1); // the top counts, as glibc's
      expect(m.fordblks).toBe(free.reduce((s, c) => s + c.size, 0) + top.size);
      expect(m.keepcost).toBe(top.size);
      expect(m.uordblks + m.fordblks).toBe(m.arena);
      expect(m.arena).toBe(top.address + top.size - h.base); // (from the heap's header to the end of the top)
      if (proc !== null) {
        expect(m.arena).toBe(proc.sbrk(0) - h.base); // the heap's own stretch of the break
        expect(m.hblks).toBe(2);
        expect(m.hblkhd).toBe(mapped.reduce((s, p) => s + Math.ceil((h.mallocUsableSize(p) + 16) / 4096) * 4096, 0));
        expect(h.mallocFootprint()).toBe(m.arena + m.hblkhd);
        h.free(mapped[0]!);
        expect(h.mallinfo().hblks).toBe(1);
      } else {
        expect(m.hblks).toBe(0);
        expect(m.hblkhd).toBe(0);
        expect(h.mallocFootprint()).toBe(m.arena);
      }
    },
  );
});

describe("heap.md: 'check() verifies every invariant ... and throws HeapCorruptionError naming the first broken one'", () => {
  // a: free, b: in use, c: free, then a guard; each case breaks one thing
  const cases: [string, (h: Heap<LinearMemory>, a: number, b: number) => void, RegExp][] = [
    ["a free chunk's size grown over its neighbour", (h, a) => h.memory.dv.setUint32(a - 8, 0xe1, true), /PINUSE|size/],
    ["a bin's link to a chunk in use", (h, a, b) => h.memory.dv.setUint32(a, b - 16, true), /bin \d+ holds an in-use chunk/],
    ["a bin's chunk linking to itself", (h, a) => h.memory.dv.setUint32(a, a - 16, true), /bin \d+: broken (back )?link/],
    ["a bin's back link to anywhere", (h, a) => h.memory.dv.setUint32(a + 8, 0x12340, true), /bin \d+: broken (back )?link/],
    ["a chunk in use marked free (two adjacent free chunks)", (h, _a, b) => h.memory.dv.setUint32(b - 8, h.memory.dv.getUint32(b - 8, true) & ~1, true), /two adjacent free chunks/],
    ["a free chunk's footer (prev_size) disagreeing", (h, a) => h.memory.dv.setUint32(a - 16 + 112, 0x50, true), /corrupted size vs\. prev_size/],
    ["the top's size shrunk", (h) => {
      const t = h.chunks().at(-1)!;
      h.memory.dv.setUint32(t.address + 8, (t.size - 16) | 3, true);
    }, /corrupted top size/],
    ["the top's size grown", (h) => {
      const t = h.chunks().at(-1)!;
      h.memory.dv.setUint32(t.address + 8, (t.size + 4096) | 3, true);
    }, /corrupted top size/],
  ];
  it.each(cases)("%s", (_, corrupt, names) => {
    const h = linear();
    const a = h.malloc(100), b = h.malloc(100), c = h.malloc(100);
    h.malloc(100);
    h.free(a);
    h.free(c);
    h.check();
    corrupt(h, a, b);
    let err: unknown;
    try {
      h.check();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeapCorruptionError);
    expect((err as Error).message).toMatch(/^check\(\): /);
    expect((err as Error).message).toMatch(names);
    expect((err as Error).message).toMatch(/\(chunk at 0x[0-9a-f]+\)/);
  });
});

describe("heap.md: 'A user write past the end of a block that smashes the next header is detected at the latest by the next free/realloc/check touching it (\"corrupted size vs. prev_size\", \"free(): invalid next size\") — never a silent wrong answer or an infinite loop'", () => {
  /** mulberry32: a seeded generator, so a failure names its case. */
  function rng(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }
  // glibc's messages (and check()'s names of the invariants)
  const glibcWording = /^(free|realloc|malloc|check|calloc|memalign)\(\): (corrupted size vs\. prev_size|invalid next size|invalid size|double free or corruption|memory corruption|corrupted top size|corrupted double-linked list|invalid pointer|double free detected|invalid chunk size|PINUSE|two adjacent|bin )/;

  it("400 overflows of random length and bytes (some forging plausible sizes) into the next chunk, then free/realloc/malloc/check: each throws a typed heap error, or every block stays whole", () => {
    let caught = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      const h = linear();
      const sizes = Array.from({ length: 6 }, () => 16 + Math.floor(r() * 300));
      const ps = sizes.map((n) => h.malloc(n));
      if (r() < 0.5) h.free(ps[2]!); // sometimes the chunk smashed is free
      const victim = ps[1]!;
      const usable = h.mallocUsableSize(victim);
      const u8 = h.memory.u8;
      for (let i = 0; i < usable; i++) u8[victim + i] = 0x11;
      const len = 1 + Math.floor(r() * 24);
      const forge = r() < 0.5;
      for (let i = 0; i < len; i++) u8[victim + usable + i] = forge && i < 8 ? [0x21, 0x31, 0x41, 0x20, 0x30, 0x91, 0x00, 0x01][Math.floor(r() * 8)]! * (i === 0 ? 1 : 0) : Math.floor(r() * 256);
      const live = [ps[0]!, ps[3]!, ps[4]!, ps[5]!];
      for (const p of live) u8.fill(0x77, p, p + h.mallocUsableSize(p));
      const ops: (() => unknown)[] = [() => h.free(victim), () => h.realloc(victim, 1000), () => h.check(), () => (ps[2] !== undefined && r() < 0.5 ? h.malloc(sizes[2]!) : h.malloc(40))];
      try {
        ops[Math.floor(r() * ops.length)]!();
        // no error: then nothing may overlap a live block, and the heap stays consistent
        const got = Array.from({ length: 8 }, (_, i) => h.malloc(16 + i * 40));
        for (const q of got) {
          for (const p of live) {
            const overlaps = q < p + h.mallocUsableSize(p) && p < q + h.mallocUsableSize(q);
            expect(overlaps, `seed ${seed}: block ${q} overlaps live ${p}`).toBe(false);
          }
        }
        for (const p of live) expect(u8.subarray(p, p + h.mallocUsableSize(p)).every((b) => b === 0x77), `seed ${seed}: live block changed`).toBe(true);
        try {
          h.check();
        } catch (e) {
          expect(e, `seed ${seed}`).toBeInstanceOf(HeapCorruptionError);
        }
      } catch (e) {
        if ((e as Error).message?.startsWith(`seed `)) throw e;
        expect([HeapCorruptionError, InvalidPointerError, DoubleFreeError].some((E) => e instanceof E), `seed ${seed}: ${String(e)}`).toBe(true);
        expect((e as Error).message, `seed ${seed}`).toMatch(glibcWording);
        caught++;
      }
    }
    // (both outcomes occur: smashes that only touched unused bytes or went unnoticed harmlessly, and
    // smashes caught)
    expect(caught).toBeGreaterThan(100);
    expect(caught).toBeLessThan(400);
  });
});
