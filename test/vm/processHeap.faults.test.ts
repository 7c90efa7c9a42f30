/**
 * What the process heap's big blocks cost in page faults, against glibc on this machine
 * (scripts/linux/mmapped-block-faults.c, recorded in test/fixtures/linux/mmapped-block-faults.txt):
 * a block at or over the mmap threshold gets a fresh mapping, and malloc writes only its
 * header, so it costs one minor fault.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { Process } from "../../src/vm/Process.js";

const recorded = readFileSync(new URL("../fixtures/linux/mmapped-block-faults.txt", import.meta.url), "utf8")
  .split("\n")
  .map((l) => /^malloc (\d+) minflt (\d+)$/.exec(l))
  .filter((m) => m !== null)
  .map((m) => [Number(m[1]), Number(m[2])] as const);

function proc(): Process {
  return Process.spawn({ memory: new PhysicalMemory({ frames: 4096, shared: false }) });
}

describe("process heap: a fresh mapped block costs one minor fault", () => {
  it("the recording has the malloc sizes", () => {
    expect(recorded.map(([size]) => size)).toEqual([128 * 1024, 1 << 20, 8 << 20]);
  });

  for (const [size, minflt] of recorded) {
    it(`malloc(${size}) costs ${minflt} minor fault, as glibc's did on this machine`, () => {
      const p = proc();
      const h = p.heap;
      h.free(h.malloc(16)); // the heap set up, as the C program's warm-up
      const before = p.status();
      const ptr = h.malloc(size);
      const after = p.status();
      expect(ptr).not.toBe(0);
      expect(h.mallinfo().hblks).toBe(1); // it is a mapped block
      expect(after.minorFaults - before.minorFaults).toBe(minflt);
      expect(after.majorFaults).toBe(before.majorFaults);
      expect(after.vmRss - before.vmRss).toBe(4096); // one page: the header's
      // The block reads zero without faulting in anything but the zero page, and is writable.
      h.memory.write8(ptr + size - 1, 0xab);
      expect(h.memory.read8(ptr + size - 1)).toBe(0xab);
      h.free(ptr);
      h.check();
      p.exit();
    });
  }

  it("memalign of a mapped block writes one header too (glibc's memalign writes two: the block it carves and the aligned one)", () => {
    const p = proc();
    const h = p.heap;
    h.free(h.malloc(16));
    const before = p.status().minorFaults;
    const ptr = h.memalign(65536, 1 << 20);
    expect(ptr % 65536).toBe(0);
    expect(p.status().minorFaults - before).toBe(1);
    h.free(ptr);
    p.exit();
  });

  it("after fork, the child's first store to a shared heap page is one copy-on-write fault, not a read and then a write", () => {
    const p = proc();
    const h = p.heap;
    const a = h.malloc(100);
    const child = p.fork();
    const before = child.status().minorFaults;
    child.heap.free(a); // stores into the shared heap page
    expect(child.status().minorFaults - before).toBe(1);
    child.exit();
    p.exit();
  });
});
