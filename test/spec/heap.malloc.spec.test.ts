// heap.md, "malloc": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { GlibcHeap, Heap, LinearMemory, M_MMAP_THRESHOLD, PhysicalMemory, Process } from "../../src/index.js";
import { C_API_TARGETS, compareCApi } from "./helpers/cApi.js";

const targets = C_API_TARGETS;

describe("heap.md: malloc, as glibc 2.36 answers (test/fixtures/glibc/c-api.txt, scripts/glibc/c-api/)", () => {
  it.each(Object.keys(targets))(
    "'malloc(0) returns a unique, freeable, non-NULL pointer'; 'failure (... a size no heap could hold) returns 0 and sets errno = ENOMEM'; malloc_usable_size(NULL) is 0: %s",
    (t) => {
      const { want, got } = compareCApi(targets[t as keyof typeof targets](), ["malloc"]);
      expect(want.length).toBe(8);
      expect(got).toEqual(want);
    },
  );
});

describe("heap.md: 'Contents are not initialised (but see calloc)'", () => {
  it.each(Object.keys(targets))("a block reused after free keeps what was written in it, but for the free chunk's links and footer: %s", (t) => {
    const h = targets[t as keyof typeof targets]();
    const p = h.malloc(200);
    const guard = h.malloc(16);
    const fill = new Uint8Array(200).fill(0xee);
    const m = h.memory;
    if (m instanceof LinearMemory) m.u8.set(fill, p);
    else m.writeBytes(p, fill);
    h.free(p);
    const q = h.malloc(200);
    expect(q).toBe(p);
    const after = m instanceof LinearMemory ? m.u8.slice(q, q + 200) : m.readBytes(q, 200);
    // (a free chunk's links take its first words (glibc's tcache: next and key, 16 bytes), and
    // a free chunk's size is repeated at its end (the next chunk's prev_size, here the block's
    // last 8 bytes))
    expect([...after.subarray(16, 192)].every((b) => b === 0xee)).toBe(true);
    h.free(q);
    h.free(guard);
  });
});

describe("heap.md: 'Requests at or over the mmap threshold (default 128 KiB) get their own mapping where the heap has a mapping source (a Process); freeing one unmaps it at once'", () => {
  it.each([128 * 1024, 64 * 1024, 16484])("at the threshold (%i bytes) a block is mapped; a byte under it, not", (threshold) => {
    for (const [d, mapped] of [[-8, 0], [-1, 0], [0, 1], [1, 1]] as const) {
      const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }) });
      const h = proc.heap;
      if (threshold !== 128 * 1024) expect(h.mallopt(M_MMAP_THRESHOLD, threshold)).toBe(1);
      const before = proc.as.status().vmSize;
      const p = h.malloc(threshold + d);
      expect(h.mallinfo().hblks, `malloc(${threshold} + ${d})`).toBe(mapped);
      if (mapped === 1) {
        expect(proc.maps().split("\n").some((l) => parseInt(l.split("-")[0]!, 16) === p - (p % 4096))).toBe(true);
        expect(proc.as.status().vmSize).toBeGreaterThan(before);
        h.free(p);
        expect(h.mallinfo().hblkhd).toBe(0);
        expect(proc.as.status().vmSize).toBe(before);
      }
    }
  });

  it("a heap with no mapping source (linear memory) serves them from its break", () => {
    const h = new Heap({ memory: new LinearMemory({ initialBytes: 64 * 1024, maxBytes: 16 << 20 }) });
    const p = h.malloc(1 << 20);
    expect(p).not.toBe(0);
    expect(h.mallinfo().hblks).toBe(0);
    expect(h.mallinfo().arena).toBeGreaterThan(1 << 20);
    const g = GlibcHeap.linear(new LinearMemory({ initialBytes: 64 * 1024, maxBytes: 16 << 20 }));
    expect(g.malloc(1 << 20)).not.toBe(0);
    expect(g.mallinfo().hblks).toBe(0);
  });
});
