/**
 * What is particular to the heap inside a process (`process.heap`): where its memory comes
 * from (brk, mmap), and how it lives with the address space (fork, swap, protections).
 * The C semantics common to every heap are tested against both kinds in Heap*.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  DoubleFreeError,
  Heap,
  HeapCorruptionError,
  InvalidPointerError,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  MemoryFault,
  OutOfMemoryError,
  PhysicalMemory,
  Process,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SwapSpace,
  type ProcessOptions,
} from "../../src/index.js";
import { Errno } from "../../src/errno.js";
import { rng, thrown } from "./helpers/heapKit.js";

const PS = 4096;
const KiB = 1024;

function spawn(o: Partial<ProcessOptions> & { frames?: number } = {}): Process {
  const { frames, ...rest } = o;
  return Process.spawn({ memory: new PhysicalMemory({ frames: frames ?? 4096, shared: false }), bssSize: 1000, ...rest });
}

/** The lines of `/proc/self/maps` as [start, end, name]. */
function regions(proc: Process): Array<[number, number, string]> {
  return proc
    .maps()
    .trim()
    .split("\n")
    .map((l) => {
      const [range] = l.split(" ");
      const [a, b] = range!.split("-").map((x) => parseInt(x, 16));
      return [a!, b!, l.slice(73).trim()];
    });
}

function regionOf(proc: Process, addr: number): [number, number, string] | undefined {
  return regions(proc).find(([a, b]) => addr >= a && addr < b);
}

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);

describe("process.heap: where the memory comes from", () => {
  it("an aligned request whose padding reaches the mmap threshold gets a mapping, as glibc's _int_memalign", () => {
    const proc = spawn();
    const heap = proc.heap;
    heap.malloc(10); // set the heap up
    const brk = proc.sbrk(0);
    const { err, ptr } = heap.posixMemalign(2 ** 30, 10);
    expect(err).toBe(0);
    expect(ptr % 2 ** 30).toBe(0);
    expect(proc.sbrk(0)).toBe(brk); // the break did not move by the alignment
    expect(heap.mallinfo().hblks).toBe(1);
    proc.as.write8(ptr + 9, 7);
    heap.check();
    heap.free(ptr);
    expect(heap.mallinfo().hblks).toBe(0);
    // A small alignment with a small block stays in the brk heap.
    const q = heap.memalign(64, 100);
    expect(q).toBeLessThan(proc.sbrk(0));
    heap.check();
  });

  it("serves small blocks from the break: they lie in the [heap] line, which grows with it", () => {
    const proc = spawn();
    const heap = proc.heap;
    const ptrs = Array.from({ length: 200 }, (_, i) => heap.malloc(100 + i * 10));
    for (const p of ptrs) {
      expect(p % 16).toBe(0);
      expect(p).toBeGreaterThanOrEqual(proc.layout.startBrk);
      expect(p).toBeLessThan(proc.sbrk(0));
    }
    expect(regionOf(proc, ptrs[199]!)?.[2]).toBe("[heap]");
    const [, end] = regions(proc).find((r) => r[2] === "[heap]")!;
    expect(end).toBe(Math.ceil(proc.sbrk(0) / PS) * PS);
    expect(heap.mallinfo().hblks).toBe(0);
    heap.check();
  });

  it("gives a request at or over the mmap threshold a mapping of its own, unmapped at once by free", () => {
    const proc = spawn();
    const heap = proc.heap;
    const before = regions(proc).length;
    const small = heap.malloc(128 * KiB - 1);
    const big = heap.malloc(128 * KiB);
    expect(regionOf(proc, small)?.[2]).toBe("[heap]");
    const r = regionOf(proc, big)!;
    expect(r[2]).toBe(""); // an anonymous mapping, as glibc's
    expect(r[0]).toBeGreaterThan(proc.sbrk(0));
    expect(big - r[0]).toBe(16); // the chunk header starts the mapping
    expect(r[1] - r[0]).toBe(Math.ceil((128 * KiB + 16) / PS) * PS);
    expect(heap.mallocUsableSize(big)).toBe(r[1] - big);
    expect(regions(proc).length).toBe(before + 1);
    const info = heap.mallinfo();
    expect(info.hblks).toBe(1);
    expect(info.hblkhd).toBe(r[1] - r[0]);
    expect(heap.mallocFootprint()).toBe(info.arena + info.hblkhd);
    heap.check();
    heap.free(big);
    expect(regionOf(proc, big)).toBeUndefined();
    expect(heap.mallinfo().hblks).toBe(0);
    expect(heap.mallinfo().hblkhd).toBe(0);
    expect(heap.mallocMaxFootprint()).toBeGreaterThanOrEqual(info.arena + info.hblkhd);
    heap.check();
  });

  it("maps lazily: a big block costs no resident memory until it is touched", () => {
    const proc = spawn();
    const heap = proc.heap;
    const rss0 = proc.status().vmRss;
    const size0 = proc.status().vmSize;
    const p = heap.malloc(4 * 1024 * KiB);
    expect(proc.status().vmSize - size0).toBe(4 * 1024 * KiB + PS);
    expect(proc.status().vmRss - rss0).toBe(PS); // only the page with the chunk header
    proc.as.write8(p + 3 * 1024 * KiB, 7);
    expect(proc.status().vmRss - rss0).toBe(2 * PS);
  });

  it("calloc from fresh break memory touches only the pages the heap writes its headers into, as glibc's", () => {
    const proc = spawn();
    const heap = proc.heap;
    heap.free(heap.malloc(16)); // set the heap up
    const rss0 = proc.status().vmRss;
    const minor0 = proc.status().minorFaults;
    const p = heap.calloc(100, KiB); // under the mmap threshold: carved from the top, the break grows
    expect(p).not.toBe(0);
    // The block's own header (already resident), and 100 KiB on the chunk map, which the growth
    // moved past the block (2 KiB: it may cross a page), and the new top's header; none of the
    // block's own 25 pages.
    expect(proc.status().vmRss - rss0).toBeLessThanOrEqual(2 * PS);
    expect(proc.as.readBytes(p, 100 * KiB).every((b) => b === 0)).toBe(true);
    expect(proc.status().vmRss - rss0).toBeLessThanOrEqual(2 * PS); // reads map the zero page
    expect(proc.status().minorFaults).toBeGreaterThan(minor0);

    // Dirty memory is zeroed: the same bytes again, after writes and a free.
    proc.as.writeBytes(p, bytes(100 * KiB, 3));
    const q = heap.malloc(16); // keeps p's chunk from merging into the top and being trimmed
    heap.free(p);
    const r = heap.calloc(100, KiB);
    expect(r).toBe(p);
    expect(proc.as.readBytes(r, 100 * KiB).every((b) => b === 0)).toBe(true);
    // Partly dirty: written pages are zeroed, the others left alone.
    heap.free(r);
    proc.as.writeBytes(r + 50 * KiB, bytes(100, 4));
    const s = heap.calloc(100, KiB);
    expect(s).toBe(r);
    expect(proc.as.readBytes(s, 100 * KiB).every((b) => b === 0)).toBe(true);
    heap.free(q);
    heap.free(s);
    heap.check();
  });

  it("honours mallopt(M_MMAP_THRESHOLD) and mallopt(M_MMAP_MAX)", () => {
    const heap = spawn().heap;
    expect(heap.mallopt(M_MMAP_THRESHOLD, 8 * KiB)).toBe(1);
    heap.malloc(8 * KiB);
    expect(heap.mallinfo().hblks).toBe(1);
    expect(heap.mallopt(M_MMAP_MAX, 1)).toBe(1);
    const second = heap.malloc(8 * KiB);
    expect(heap.mallinfo().hblks).toBe(1); // from the break: the limit of mappings is reached
    expect(second).toBeLessThan(heap.base + heap.mallinfo().arena);
    heap.check();
  });

  it("a request at or over a small mmap threshold gets a mapping even when a free chunk of its size waits in a bin", () => {
    const heap = spawn().heap;
    const a = heap.malloc(600);
    heap.malloc(16);
    heap.free(a); // a's chunk is an exact fit for another malloc(600)
    expect(heap.mallopt(M_MMAP_THRESHOLD, 512)).toBe(1);
    const b = heap.malloc(600);
    expect(b).not.toBe(a);
    expect(heap.mallinfo().hblks).toBe(1);
    const c = heap.malloc(100); // under the threshold: from the bins
    expect(heap.mallinfo().hblks).toBe(1);
    heap.free(b);
    heap.free(c);
    expect(heap.mallinfo().hblks).toBe(0);
    heap.check();
  });

  it("options of Process.spawn reach the heap", () => {
    const proc = spawn({ heap: { mmapThreshold: 4096, dataModel: "ilp32" } });
    const heap = proc.heap;
    expect(heap.alignment).toBe(8);
    const p = heap.malloc(5000);
    expect(heap.mallinfo().hblks).toBe(1);
    expect(p - regionOf(proc, p)![0]).toBe(8); // a 4-byte prev_size and size
    heap.free(p);
    // Bad options are reported by spawn, before the heap is first used.
    expect(() => spawn({ heap: { dataModel: "lp128" as never } })).toThrow(/dataModel/);
    expect(() => spawn({ heap: { mmapThreshold: -1 } })).toThrow(/mmapThreshold/);
    expect(() => spawn({ heap: { trimThreshold: 1.5 } })).toThrow(/trimThreshold/);
    expect(() => spawn({ heap: { topPad: NaN } })).toThrow(/topPad/);
  });

  it("aligns mapped blocks as asked (posix_memalign, aligned_alloc), within their mapping", () => {
    const proc = spawn();
    const heap = proc.heap;
    for (const a of [16, 64, 4096, 65536]) {
      const r = heap.posixMemalign(a, 200 * KiB);
      expect(r.err).toBe(0);
      expect(r.ptr % a).toBe(0);
      // Adjacent anonymous mappings merge into one line of maps, as in Linux: check inside it.
      const [start, end] = regionOf(proc, r.ptr)!;
      expect(heap.mallocUsableSize(r.ptr)).toBeGreaterThanOrEqual(200 * KiB);
      expect(r.ptr + heap.mallocUsableSize(r.ptr)).toBeLessThanOrEqual(end);
      expect(r.ptr - start).toBeGreaterThanOrEqual(16);
      expect((r.ptr + heap.mallocUsableSize(r.ptr)) % PS).toBe(0); // the block ends its mapping
    }
    const q = heap.alignedAlloc(8192, 300 * KiB);
    expect(q % 8192).toBe(0);
    expect(heap.mallinfo().hblks).toBe(5);
    heap.check();
  });

  it("calloc of a mapped block reads as zero; realloc keeps, moves and frees mapped blocks", () => {
    const proc = spawn();
    const heap = proc.heap;
    const as = proc.as;
    const z = heap.calloc(1000, 200);
    expect(as.readBytes(z, 200_000).every((b) => b === 0)).toBe(true);
    const data = bytes(200_000, 3);
    as.writeBytes(z, data);
    expect(heap.realloc(z, 150_000)).toBe(z); // fits its mapping: kept
    const moved = heap.realloc(z, 400_000);
    expect(moved).not.toBe(z);
    expect(regionOf(proc, z)).toBeUndefined(); // the old mapping is gone
    expect(as.readBytes(moved, 150_000)).toEqual(data.subarray(0, 150_000));
    expect(heap.realloc(moved, 0)).toBe(0);
    expect(regionOf(proc, moved)).toBeUndefined();
    expect(heap.mallinfo().hblks).toBe(0);
    // A brk block that grows past the threshold moves into a mapping (one in use after it
    // keeps it from growing into the top in place).
    const b = heap.malloc(1000);
    heap.malloc(16);
    as.writeBytes(b, data.subarray(0, 1000));
    expect(regionOf(proc, b)?.[2]).toBe("[heap]");
    const b2 = heap.realloc(b, 300_000);
    expect(b2).not.toBe(b);
    expect(regionOf(proc, b2)?.[2]).toBe("");
    expect(heap.mallinfo().hblks).toBe(1);
    expect(as.readBytes(b2, 1000)).toEqual(data.subarray(0, 1000));
    // An impossible size fails with ENOMEM and leaves the block alone.
    expect(heap.realloc(b2, 2 ** 40)).toBe(0);
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(heap.reallocarray(b2, 2 ** 30, 2 ** 30)).toBe(0);
    expect(as.readBytes(b2, 1000)).toEqual(data.subarray(0, 1000));
    heap.check();
  });

  it("tells a double free and an interior pointer of a mapped block, changing nothing", () => {
    const proc = spawn();
    const heap = proc.heap;
    const p = heap.malloc(256 * KiB);
    const q = heap.malloc(256 * KiB);
    expect(thrown(() => heap.free(p + 16))).toBeInstanceOf(InvalidPointerError);
    expect(thrown(() => heap.realloc(p + 4096, 10))).toBeInstanceOf(InvalidPointerError);
    expect(heap.mallocUsableSize(p + 16)).toBe(0);
    heap.free(p);
    const e = thrown(() => heap.free(p));
    expect(e).toBeInstanceOf(DoubleFreeError);
    expect((e as Error).message).toBe(`free(): double free detected (pointer 0x${p.toString(16)})`);
    expect(heap.mallinfo().hblks).toBe(1);
    expect(regionOf(proc, q)).toBeDefined();
    heap.free(q);
    heap.check();
  });

  it("trims the break when free space at the top passes the trim threshold, and the [heap] line follows", () => {
    const proc = spawn();
    const heap = proc.heap;
    const ptrs = Array.from({ length: 100 }, () => heap.malloc(4000));
    const high = proc.sbrk(0);
    for (const p of ptrs.reverse()) heap.free(p);
    expect(proc.sbrk(0)).toBeLessThan(high - 128 * KiB);
    const [, end] = regions(proc).find((r) => r[2] === "[heap]")!;
    expect(end).toBe(Math.ceil(proc.sbrk(0) / PS) * PS);
    heap.check();
  });

  it("stops using the break when the program moved it behind the heap's back, and maps instead", () => {
    const proc = spawn();
    const heap = proc.heap;
    const own = proc.sbrk(PS); // the program's own sbrk, right after the heap
    proc.as.writeBytes(own, bytes(PS, 9));
    const ptrs: number[] = [];
    for (let i = 0; i < 64; i++) ptrs.push(heap.malloc(1000)); // more than the 4 KiB top holds
    expect(proc.sbrk(0)).toBe(own + PS); // the heap never moved the break again
    expect(ptrs.every((p) => p !== 0)).toBe(true);
    expect(heap.mallinfo().hblks).toBeGreaterThan(0);
    expect(proc.as.readBytes(own, PS)).toEqual(bytes(PS, 9)); // the program's bytes are intact
    for (const p of ptrs) heap.free(p);
    expect(proc.sbrk(0)).toBe(own + PS);
    heap.check();
  });

  it("fails with ENOMEM, nothing lost, when neither the break nor mmap can give memory", () => {
    const proc = spawn({ dataLimit: 64 * KiB });
    const heap = proc.heap;
    expect(heap.mallopt(M_MMAP_MAX, 0)).toBe(1);
    const ptrs: number[] = [];
    for (;;) {
      const p = heap.malloc(3000);
      if (p === 0) break;
      proc.as.writeBytes(p, bytes(3000, ptrs.length));
      ptrs.push(p);
      if (ptrs.length > 1000) throw new Error("memory never ran out");
    }
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(ptrs.length).toBeGreaterThan(10);
    ptrs.forEach((p, i) => expect(proc.as.readBytes(p, 3000)).toEqual(bytes(3000, i)));
    expect(proc.sbrk(0) - proc.layout.startBrk).toBeLessThanOrEqual(64 * KiB);
    heap.check();
  });

  it("returns 0 with ENOMEM when RAM runs out in the middle of a call, and undoes the call", () => {
    // The first write to a fresh page needs a frame; with none left the page fault throws
    // OutOfMemoryError half way through malloc. The heap undoes what the call did (metadata,
    // break, mappings) and fails as C's malloc does.
    const proc = spawn({ frames: 48 });
    const heap = proc.heap;
    const ptrs: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const p = heap.malloc(3000);
      if (p === 0) break;
      ptrs.push(p);
    }
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(ptrs.length).toBeGreaterThan(10);
    heap.check();
    const brk = proc.sbrk(0);
    const info = heap.mallinfo();
    expect(heap.malloc(3000)).toBe(0); // fails again, the same way, changing nothing
    expect(proc.sbrk(0)).toBe(brk);
    expect(heap.mallinfo()).toEqual(info);
    // The program's own first write to a new page throws, as it must: there is no frame.
    const spare = proc.as.mmap(0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(thrown(() => proc.as.write8(spare, 1))).toBeInstanceOf(OutOfMemoryError);
    for (const p of ptrs) heap.free(p);
    heap.check();
    expect(heap.malloc(3000)).not.toBe(0);
  });

  it("undoes a realloc, a calloc and a posix_memalign that run out of RAM: the old block stays intact and owned", () => {
    const proc = spawn({ frames: 40 });
    const heap = proc.heap;
    const p = heap.malloc(1000);
    proc.as.writeBytes(p, bytes(1000, 4));
    const filler: number[] = [];
    for (;;) {
      const q = heap.malloc(3000);
      if (q === 0) break;
      filler.push(q);
    }
    heap.errno = 0;
    expect(heap.realloc(p, 90_000)).toBe(0);
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(proc.as.readBytes(p, 1000)).toEqual(bytes(1000, 4));
    expect(heap.calloc(1, 90_000)).toBe(0);
    expect(heap.posixMemalign(64, 90_000)).toEqual({ err: Errno.ENOMEM, ptr: 0 });
    expect(heap.mallinfo().hblks).toBe(0); // no mapping left behind
    heap.check();
    heap.free(p);
    heap.check();
  });

  it("undoes a call whose heap page the program protected, and rethrows the fault", () => {
    const proc = spawn();
    const heap = proc.heap;
    const a = heap.malloc(100);
    heap.malloc(100);
    heap.free(a);
    const before = heap.mallinfo();
    const brk = proc.sbrk(0);
    // The header page read-only: the next malloc faults on its first metadata store.
    expect(proc.as.mprotect(Math.floor(heap.base / PS) * PS, PS, PROT_READ)).toBe(0);
    expect(thrown(() => heap.malloc(100))).toBeInstanceOf(MemoryFault);
    expect(proc.as.mprotect(Math.floor(heap.base / PS) * PS, PS, PROT_READ | PROT_WRITE)).toBe(0);
    expect(heap.mallinfo()).toEqual(before);
    expect(proc.sbrk(0)).toBe(brk);
    heap.check();
  });
});

describe("process.heap: calls that run out of memory half way are undone", () => {
  const pat = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

  /**
   * Random malloc / free / realloc / calloc / posix_memalign on a process short of RAM, with
   * forks (copy-on-write makes every metadata store a possible allocation) and a hog mapping
   * whose pages come and go. Every call that fails must leave the heap exactly as it was
   * (chunks, totals, maps, break), and every live block must keep its bytes.
   */
  function run(seed: number, threshold: number): number {
    const rand = rng(seed);
    const PSZ = 1024;
    const mem = new PhysicalMemory({ frames: 160, pageSize: PSZ, shared: false });
    let proc = Process.spawn({ memory: mem, bssSize: 100, heap: { mmapThreshold: threshold, trimThreshold: 3000 } });
    const hog = proc.as.mmap(0, 400 * PSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const hogMapped = new Array<boolean>(400).fill(true);
    let blocks: Array<{ p: number; n: number; seed: number }> = [];
    const snap = (pr: Process): string => JSON.stringify([pr.heap.chunks(), pr.heap.mallinfo(), pr.maps(), pr.sbrk(0), pr.heap.mallocMaxFootprint()]);
    let failures = 0;
    for (let step = 0; step < 1200; step++) {
      const h = proc.heap;
      const x = rand();
      if (x < 0.06) {
        const pg = Math.floor(rand() * 400);
        if (hogMapped[pg]) {
          try {
            proc.as.write8(hog + pg * PSZ, 1); // take a frame
          } catch (e) {
            expect(e).toBeInstanceOf(OutOfMemoryError);
          }
        }
        continue;
      }
      if (x < 0.09) {
        const pg = Math.floor(rand() * 400);
        if (hogMapped[pg]) {
          proc.as.munmap(hog + pg * PSZ, PSZ); // give one back
          hogMapped[pg] = false;
        }
        continue;
      }
      if (x < 0.1) {
        try {
          proc = proc.fork(); // go on in the child: the parent's pages are now shared
          blocks = blocks.map((b) => ({ ...b }));
        } catch (e) {
          expect(e).toBeInstanceOf(OutOfMemoryError);
        }
        continue;
      }
      const before = snap(proc);
      const big = rand() < 0.2;
      const n = big ? Math.floor(rand() * 12000) : Math.floor(rand() * 600) + 1;
      let result: number | "threw" = 0;
      let kind = "";
      try {
        if (x < 0.45 || blocks.length === 0) {
          kind = rand() < 0.8 ? "malloc" : "calloc";
          result = kind === "malloc" ? h.malloc(n) : h.calloc(1, n);
          if (result !== 0) {
            const sd = Math.floor(rand() * 256);
            try {
              proc.as.writeBytes(result, pat(n, sd));
              blocks.push({ p: result, n, seed: sd });
            } catch (e) {
              expect(e).toBeInstanceOf(OutOfMemoryError); // the program's own write
              h.free(result);
            }
          }
        } else if (x < 0.7) {
          kind = "free";
          const i = Math.floor(rand() * blocks.length);
          h.free(blocks[i]!.p);
          blocks.splice(i, 1);
          result = 1;
        } else if (x < 0.9) {
          kind = "realloc";
          const i = Math.floor(rand() * blocks.length);
          const b = blocks[i]!;
          result = h.realloc(b.p, n);
          if (result !== 0) blocks[i] = { p: result, n: Math.min(n, b.n), seed: b.seed };
        } else {
          kind = "posixMemalign";
          const r = h.posixMemalign(2 ** (4 + Math.floor(rand() * 8)), n);
          expect(r.err === 0 || r.err === Errno.ENOMEM).toBe(true);
          result = r.ptr;
          if (r.ptr !== 0) blocks.push({ p: r.ptr, n: 0, seed: 0 });
        }
      } catch (e) {
        // Only free may throw OutOfMemoryError (it has no way to fail); it is undone too.
        expect(e, `${kind} at step ${step}`).toBeInstanceOf(OutOfMemoryError);
        expect(kind).toBe("free");
        result = "threw";
      }
      if (result === 0 || result === "threw") {
        failures++;
        expect(snap(proc), `a failed ${kind} at step ${step} (seed ${seed}) changed the heap`).toBe(before);
      }
      if (step % 50 === 0) {
        proc.heap.check();
        for (const b of blocks) expect(proc.as.readBytes(b.p, b.n)).toEqual(pat(b.n, b.seed));
      }
    }
    proc.heap.check();
    return failures;
  }

  it.each([
    [1, 1 << 30],
    [2, 1 << 30],
    [3, 6000],
    [4, 6000],
  ])("seed %i, mmap threshold %i: every failed call leaves the heap as it was", (seed, threshold) => {
    expect(run(seed, threshold)).toBeGreaterThan(50); // memory really ran out, often
  });

  /** Takes every free frame of `proc`'s RAM but `spare`, with a mapping of its own; returns a function that gives them back. */
  function squeeze(proc: Process, memory: PhysicalMemory, spare: number): () => void {
    const pages = memory.frames;
    const hog = proc.as.mmap(0, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    let n = 0;
    for (; n < pages && memory.freeFrames > spare; n++) proc.as.write8(hog + n * PS, 1);
    return () => void proc.as.munmap(hog, pages * PS);
  }

  it("a realloc that moves a block and runs out while copying it leaves the free lists intact", () => {
    // The new block was a free chunk whose links lie where the copy writes: undoing the call
    // must put them back too.
    for (const spare of [1, 2]) {
      const memory = new PhysicalMemory({ frames: 96, shared: false });
      const parent = Process.spawn({ memory, bssSize: 1000 });
      const h = parent.heap;
      const p1 = h.malloc(5000);
      h.malloc(100);
      const p = h.malloc(3000);
      h.malloc(100);
      parent.as.writeBytes(p, new Uint8Array(3000).fill(0xab));
      h.free(p1);
      const child = parent.fork();
      squeeze(parent, memory, spare);
      const before = JSON.stringify(child.heap.chunks());
      expect(child.heap.realloc(p, 4000)).toBe(0);
      expect(child.heap.errno).toBe(Errno.ENOMEM);
      expect(JSON.stringify(child.heap.chunks())).toBe(before);
      child.heap.check();
      expect(child.as.readBytes(p, 3000).every((b) => b === 0xab)).toBe(true);
    }
  });

  it("a realloc that grows into the top, sliding the bitmap, and runs out is undone", () => {
    const memory = new PhysicalMemory({ frames: 200, shared: false });
    const proc = Process.spawn({ memory, bssSize: 1000 });
    const h = proc.heap;
    // Sized so that sliding the bitmap 240 bytes up carries it into a page not yet touched.
    h.malloc(1704);
    const c = h.realloc(h.malloc(1000), 20000);
    squeeze(proc, memory, 0);
    const before = JSON.stringify([h.chunks(), h.mallinfo()]);
    expect(h.realloc(c, h.mallocUsableSize(c) + 240)).toBe(0);
    expect(JSON.stringify([h.chunks(), h.mallinfo()])).toBe(before);
    h.check();
  });

  it("a free of a mapped block that runs out (its header page shared after fork) is undone and can be retried", () => {
    const memory = new PhysicalMemory({ frames: 128, shared: false });
    const proc = Process.spawn({ memory, bssSize: 1000 });
    const big = proc.heap.malloc(200 * KiB);
    const child = proc.fork();
    const giveBack = squeeze(proc, memory, 0);
    expect(thrown(() => child.heap.free(big))).toBeInstanceOf(OutOfMemoryError);
    giveBack();
    child.heap.check();
    expect(child.heap.mallocUsableSize(big)).toBeGreaterThanOrEqual(200 * KiB);
    child.heap.free(big);
    expect(child.heap.mallinfo().hblks).toBe(0);
    child.heap.check();
  });

  it("remembers every freed mapped block, to report its double free", () => {
    const heap = spawn({ frames: 8192 }).heap;
    const ptrs = Array.from({ length: 100 }, () => heap.malloc(130 * KiB));
    for (const p of ptrs) heap.free(p);
    for (const p of [ptrs[0]!, ptrs[50]!, ptrs[99]!]) expect(thrown(() => heap.free(p))).toBeInstanceOf(DoubleFreeError);
    heap.check();
  });

  it("leaves the break alone when process.heap cannot be set up for lack of RAM", () => {
    const memory = new PhysicalMemory({ frames: 16, shared: false });
    const proc = Process.spawn({ memory, bssSize: 1000 });
    const hog = proc.as.mmap(0, 64 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < 64; i++) {
      try {
        proc.as.write8(hog + i * PS, 1);
      } catch {
        break;
      }
    }
    const brk = proc.sbrk(0);
    expect(thrown(() => proc.heap)).toBeInstanceOf(OutOfMemoryError);
    expect(proc.sbrk(0)).toBe(brk);
    expect(thrown(() => proc.heap)).toBeInstanceOf(OutOfMemoryError);
    expect(proc.sbrk(0)).toBe(brk);
    proc.as.munmap(hog, 64 * PS);
    expect(proc.heap.base).toBe(Math.ceil(brk / 16) * 16);
    proc.heap.check();
  });
});

describe("process.heap lives in the address space", () => {
  it("is copied on write by fork: parent and child then allocate and write independently", () => {
    const parent = spawn();
    const ph = parent.heap;
    const a = ph.malloc(1000);
    const big = ph.malloc(300 * KiB);
    parent.as.writeBytes(a, bytes(1000, 1));
    parent.as.writeBytes(big, bytes(1000, 2));
    const child = parent.fork();
    const ch = child.heap;
    expect(ch).toBeInstanceOf(Heap);
    expect(ch).not.toBe(ph);
    expect(ch.base).toBe(ph.base);
    expect(ch.mallinfo()).toEqual(ph.mallinfo());
    expect(child.as.readBytes(a, 1000)).toEqual(bytes(1000, 1));
    const faults = child.status().minorFaults;
    const c1 = ch.malloc(500); // writes heap metadata: copy-on-write faults in the child only
    expect(child.status().minorFaults).toBeGreaterThan(faults);
    ch.free(a);
    ch.free(big);
    child.as.writeBytes(c1, bytes(500, 3));
    // The parent's heap is as it was.
    expect(parent.as.readBytes(a, 1000)).toEqual(bytes(1000, 1));
    expect(parent.as.readBytes(big, 1000)).toEqual(bytes(1000, 2));
    expect(ph.mallinfo().hblks).toBe(1);
    expect(ph.mallocUsableSize(a)).toBeGreaterThanOrEqual(1000);
    ph.check();
    ch.check();
    const p1 = ph.malloc(500);
    expect(p1).toBe(c1); // the same heap state gives the same answer in each
    ph.free(a);
    ph.free(big);
    ph.check();
    expect(() => ch.free(a)).toThrow(DoubleFreeError);
    child.exit();
    ph.free(p1);
    ph.check();
  });

  it("keeps every block intact while its pages are swapped out and in", () => {
    const proc = spawn({ frames: 256, maxResidentPages: 24, swap: new SwapSpace({ slots: 2048 }), replacement: "clock" });
    const heap = proc.heap;
    const rand = rng(5);
    const live = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      if (live.size > 0 && rand() < 0.45) {
        const keys = [...live.keys()];
        const p = keys[Math.floor(rand() * keys.length)]!;
        const seed = live.get(p)!;
        expect(proc.as.readBytes(p, 64)).toEqual(bytes(64, seed));
        heap.free(p);
        live.delete(p);
      } else {
        const n = 64 + Math.floor(rand() * 2000);
        const p = heap.malloc(n);
        expect(p).not.toBe(0);
        proc.as.writeBytes(p, bytes(64, i));
        live.set(p, i);
      }
    }
    const st = proc.status();
    expect(st.swapOuts).toBeGreaterThan(100);
    expect(st.majorFaults).toBeGreaterThan(100);
    for (const [p, seed] of live) expect(proc.as.readBytes(p, 64)).toEqual(bytes(64, seed));
    heap.check();
  });

  it("stamps every access under exact LRU (its translation caches stay off)", () => {
    const proc = spawn({ frames: 256, maxResidentPages: 16, swap: new SwapSpace({ slots: 512 }), replacement: "lru" });
    const heap = proc.heap;
    const clock0 = proc.as.mmu.useClock;
    const p = heap.malloc(100);
    const q = heap.malloc(100);
    heap.free(p);
    heap.free(q);
    // Each metadata word read or written reaches the MMU: dozens of stamps for four calls.
    expect(proc.as.mmu.useClock - clock0).toBeGreaterThan(20);
    heap.check();
  });

  it("check() finds a smashed header of a mapped block", () => {
    const proc = spawn();
    const heap = proc.heap;
    const p = heap.malloc(200 * KiB);
    heap.check();
    proc.as.write32(p - 8, 12345);
    expect(() => heap.check()).toThrow(HeapCorruptionError);
  });

  it("a process that exits lets go of its heap", () => {
    const memory = new PhysicalMemory({ frames: 256, shared: false });
    const proc = Process.spawn({ memory });
    const free0 = memory.freeFrames;
    const heap = proc.heap;
    heap.malloc(100_000);
    heap.malloc(300 * KiB);
    expect(memory.freeFrames).toBeLessThan(free0);
    proc.exit();
    expect(memory.freeFrames).toBe(free0);
  });
});
