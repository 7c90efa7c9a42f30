// spec/api.md, "class Process": fork() gives a Process whose heap is a copy-on-write copy of
// the parent's, as a C program's malloc heap is after fork(2): the same state, then its own.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, PhysicalMemory, Process } from "../../src/index.js";

for (const allocator of ["vmheap", "glibc"] as const) {
  describe(`Process.fork() with the ${allocator} allocator`, () => {
    it("'fork(): Process': the child's heap holds the parent's blocks, and both then allocate alike but apart", () => {
      const parent = Process.spawn({ memory: new PhysicalMemory({ frames: 2048 }), heap: { allocator } });
      const a = parent.heap.malloc(100);
      const big = parent.heap.malloc(300 * 1024); // its own mapping
      parent.as.write32(a, 0x11223344);
      parent.as.write32(big + 1000, 0x55667788);
      const child = parent.fork();
      expect(child).toBeInstanceOf(Process);
      expect(child.heap).not.toBe(parent.heap);
      expect(child.heap.memory).toBe(child.as);
      expect(child.as.read32(a)).toBe(0x11223344);
      expect(child.as.read32(big + 1000)).toBe(0x55667788);
      expect(child.heap.mallocUsableSize(a)).toBe(parent.heap.mallocUsableSize(a));
      expect(child.heap.mallinfo()).toEqual(parent.heap.mallinfo());
      // The same state: the next malloc returns the same address in both, as after fork(2).
      const pc = parent.heap.malloc(200);
      const cc = child.heap.malloc(200);
      expect(cc).toBe(pc);
      parent.as.write32(pc, 1);
      child.as.write32(cc, 2);
      expect(parent.as.read32(pc)).toBe(1);
      // The child frees its copies; the parent's blocks stay its own.
      child.heap.free(a);
      child.heap.free(big);
      expect(parent.as.read32(a)).toBe(0x11223344);
      expect(parent.as.read32(big + 1000)).toBe(0x55667788);
      expect(() => child.heap.free(a)).toThrow(DoubleFreeError);
      parent.heap.free(a);
      parent.heap.free(big);
      parent.heap.free(pc);
      child.heap.free(cc);
      parent.heap.check();
      child.heap.check();
    });
  });
}
