/**
 * Forgeries against a process heap's mapped blocks (blocks at or over the mmap threshold, each
 * in a mapping of its own). Their headers lie in the program's reach (a write below the block,
 * a fake header the program builds inside its own mapping), so the heap takes nothing about
 * them from a header: which pointers are mapped blocks and how big their mappings are, it keeps
 * itself. Whatever the bytes say, free and realloc of a mapped block unmap exactly its mapping
 * and keep its bytes, an interior pointer is refused with nothing changed, and a brk block whose
 * header claims IS_MMAPPED (glibc would munmap it) unmaps nothing. In both data models.
 */
import { describe, expect, it } from "vitest";
import { InvalidPointerError, PhysicalMemory, Process, type DataModel, type Heap } from "../../src/index.js";
import { IS_MMAPPED } from "../../src/heap/chunk.js";
import { expectUnchanged, snapshot, thrown } from "./helpers/heapKit.js";

const KiB = 1024;

function spawn(dataModel: DataModel): Process {
  return Process.spawn({ memory: new PhysicalMemory({ frames: 4096, shared: false }), addressBits: dataModel === "ilp32" ? 32 : 48, heap: { dataModel } });
}

/** The process's regions as "start-end name" lines (/proc/self/maps without the details). */
const layout = (proc: Process): string[] => proc.as.regions().map((r) => `${r.start.toString(16)}-${r.end.toString(16)}`);

const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);

describe.each(["lp64", "ilp32"] as const)("process.heap (%s): mapped blocks whose headers the program forged", (model) => {
  const W = model === "lp64" ? 8 : 4;
  const write = (proc: Process, addr: number, v: number): void => proc.as.write32(addr, v >>> 0);

  it("free and realloc of a mapped block follow the heap's own record, not its smashed header", () => {
    const proc = spawn(model);
    const heap: Heap = proc.heap;
    const p = heap.malloc(200 * KiB);
    const other = heap.malloc(200 * KiB);
    const small = heap.malloc(100);
    const data = pattern(200 * KiB, 1);
    proc.as.writeBytes(p, data);
    proc.as.writeBytes(other, pattern(200 * KiB, 2));
    proc.as.writeBytes(small, pattern(100, 3));
    const usable = heap.mallocUsableSize(p);
    // The header below p: a size over the next mapping and the brk heap, a prev_size that would
    // put the mapping's start anywhere, the flags cleared or set.
    for (const [size, prev] of [
      [0x7fff_fff0 | 1 | IS_MMAPPED, 0x1000],
      [16 | 1, 0xffff_f000],
      [0, 0],
    ] as const) {
      write(proc, p - W, size);
      write(proc, p - 2 * W, prev);
      expect(heap.mallocUsableSize(p)).toBe(usable);
    }
    // Grows within its mapping: kept where it is; grows past it: moves, its bytes with it.
    expect(heap.realloc(p, usable)).toBe(p);
    const q = heap.realloc(p, 400 * KiB);
    expect(q).not.toBe(p);
    expect(proc.as.readBytes(q, data.length)).toEqual(data);
    // p's mapping is gone, all of it; the other blocks' are there, all of them.
    const mapped = (x: number, n: number): boolean => proc.as.regionAt(x) !== null && proc.as.regionAt(x + n - 1) !== null;
    expect(proc.as.regionAt(p) ?? proc.as.regionAt(p + 200 * KiB - 1)).toBeNull();
    expect(mapped(other, 200 * KiB) && mapped(q, 400 * KiB) && mapped(small, 100)).toBe(true);
    expect(proc.as.readBytes(other, 200 * KiB)).toEqual(pattern(200 * KiB, 2));
    expect(proc.as.readBytes(small, 100)).toEqual(pattern(100, 3));
    // q's header smashed too: free unmaps q's mapping and nothing else.
    write(proc, q - W, 0xffff_fff0 | 1 | IS_MMAPPED);
    heap.free(q);
    expect(proc.as.regionAt(q) ?? proc.as.regionAt(q + 400 * KiB - 1)).toBeNull();
    expect(mapped(other, 200 * KiB) && mapped(small, 100)).toBe(true);
    expect(proc.as.readBytes(other, 200 * KiB)).toEqual(pattern(200 * KiB, 2));
    expect(proc.as.readBytes(small, 100)).toEqual(pattern(100, 3));
    heap.free(other);
    heap.free(small);
    heap.check();
  });

  it("an interior pointer of a mapped block, behind a fake header of the block's own bytes, is refused and changes nothing", () => {
    const proc = spawn(model);
    const heap: Heap = proc.heap;
    const p = heap.malloc(256 * KiB);
    proc.as.writeBytes(p, pattern(256 * KiB, 4));
    // A fake chunk 64 KiB into the block: a mapped chunk's header (its prev_size the distance to
    // the mapping's start, as the heap writes it), and one of a brk chunk in use.
    for (const flags of [1 | IS_MMAPPED, 1 | 2]) {
      const x = p + 64 * KiB;
      write(proc, x - 2 * W, model === "lp64" ? 64 * KiB + 16 : 64 * KiB + 8);
      write(proc, x - W, (128 * KiB) | flags);
      const before = snapshot(heap);
      const regionsBefore = layout(proc);
      expect(thrown(() => heap.free(x))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => heap.realloc(x, 10))).toBeInstanceOf(InvalidPointerError);
      expect(thrown(() => heap.realloc(x, 512 * KiB))).toBeInstanceOf(InvalidPointerError);
      expect(heap.mallocUsableSize(x)).toBe(0);
      expect(layout(proc)).toEqual(regionsBefore);
      expectUnchanged(heap, before);
    }
    heap.free(p);
    expect(proc.as.regionAt(p)).toBeNull();
    heap.check();
  });

  it("a brk block whose header an overflow gave the IS_MMAPPED bit unmaps nothing", () => {
    const proc = spawn(model);
    const heap: Heap = proc.heap;
    const a = heap.malloc(100);
    const b = heap.malloc(4000);
    const c = heap.malloc(100);
    const big = heap.malloc(200 * KiB);
    for (const [p, n, seed] of [[a, 100, 5], [c, 100, 6], [big, 200 * KiB, 7]] as const) proc.as.writeBytes(p, pattern(n, seed));
    // The overflow out of a into b's size field: the flag set (glibc would send b to munmap).
    const s = proc.as.read32(b - W);
    write(proc, b - W, s | IS_MMAPPED);
    const regionsBefore = layout(proc);
    const e = thrown(() => heap.free(b));
    // Either refused, or freed as the brk block it is: no mapping goes, no block changes.
    if (e !== undefined) expect((e as Error).name).toMatch(/HeapCorruptionError|InvalidPointerError/);
    expect(layout(proc)).toEqual(regionsBefore);
    expect(proc.as.readBytes(a, 100)).toEqual(pattern(100, 5));
    expect(proc.as.readBytes(c, 100)).toEqual(pattern(100, 6));
    expect(proc.as.readBytes(big, 200 * KiB)).toEqual(pattern(200 * KiB, 7));
    const n = heap.malloc(4000);
    if (n !== 0) {
      expect(n + 4000 <= big || n >= big + 200 * KiB).toBe(true);
      expect(n + 4000 <= a || n >= a + 100).toBe(true);
      expect(n + 4000 <= c || n >= c + 100).toBe(true);
    }
  });
});
