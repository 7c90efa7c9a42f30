// heap.md, "free": each sentence checked, quoted in the test's name.
import { describe, expect, it } from "vitest";
import { DoubleFreeError, type Heap, HeapCorruptionError, HeapError, InvalidPointerError, LinearMemory, PhysicalMemory, Process, Heap as HeapCtor, VmError } from "../../src/index.js";
import { C_API_TARGETS, compareCApi } from "./helpers/cApi.js";

const KiB = 1024;

describe("heap.md: free, as glibc 2.36 answers (test/fixtures/glibc/c-api.txt, scripts/glibc/c-api/)", () => {
  it.each(Object.keys(C_API_TARGETS))(
    "'free(0) does nothing. free never changes errno': free(NULL), a small block, a free that trims the top, a mapped block: %s",
    (t) => {
      const { want, got } = compareCApi(C_API_TARGETS[t as keyof typeof C_API_TARGETS](), ["free"]);
      expect(want).toEqual(["free 0 -> - -", "free small -> - -", "free trimming -> - -", "free mapped -> - -"]);
      // (a concurrent heap's first block makes an arena's segment in the main heap: the three
      // blocks freed go below it, and nothing can be trimmed; the next test trims one)
      expect(got).toEqual(t === "a concurrent heap" ? want.map((l) => l.replace("free trimming", "free not-trimming")) : want);
    },
  );

  it("a concurrent heap's free that trims its top leaves errno alone too", () => {
    const h = new HeapCtor({ concurrent: true });
    const ps = [0, 1, 2].map(() => h.malloc(400 * KiB));
    const arena = h.mallinfo().arena;
    h.errno = 1234;
    for (const p of ps.reverse()) h.free(p);
    expect(h.mallinfo().arena).toBeLessThan(arena);
    expect(h.errno).toBe(1234);
  });
});

/** The default allocator's kinds of heap, and how to read all of a heap's bytes. */
const hardened: Record<string, () => { h: Heap; bytes: () => Uint8Array }> = {
  "64-bit": () => {
    const h = new HeapCtor({ memory: new LinearMemory({ initialBytes: 256 * KiB, maxBytes: 16 << 20 }) });
    return { h, bytes: () => h.memory.u8.slice() };
  },
  ilp32: () => {
    const h = new HeapCtor({ memory: new LinearMemory({ initialBytes: 256 * KiB, maxBytes: 16 << 20 }), dataModel: "ilp32" });
    return { h, bytes: () => h.memory.u8.slice() };
  },
  concurrent: () => {
    const h = new HeapCtor({ concurrent: true });
    // (its memory is reserved large: the bytes up to the end of its top chunk)
    return { h, bytes: () => h.memory.u8.slice(0, h.chunks().reduce((end, c) => Math.max(end, c.address + c.size), 0)) };
  },
  "a process heap": () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }) });
    const h = proc.heap;
    // the heap's pages and every mapped block's
    const regions = () => proc.maps().split("\n").filter((l) => l.endsWith("[heap]") || / 00:00 0 *$/.test(l)).map((l) => l.split(" ")[0]!.split("-").map((x) => parseInt(x, 16)) as [number, number]);
    return { h, bytes: () => Buffer.concat(regions().map(([lo, hi]) => proc.as.readBytes(lo, hi - lo))) };
  },
};

describe("heap.md: 'a typed error (DoubleFreeError, InvalidPointerError) with glibc's wording, thrown *before* any state changes, so the heap stays fully usable'", () => {
  it.each(Object.keys(hardened))("not one byte of the heap changes, for blocks of every size class and a mapped one: %s", (t) => {
    const { h, bytes } = hardened[t]!();
    // (the last is mapped in a process; elsewhere it is freed into the top, which is trimmed)
    const ps = [0, 8, 24, 40, 100, 500, 2000, 70_000, 200 * KiB].map((n) => h.malloc(n));
    const guard = h.malloc(16);
    for (const p of ps) {
      h.free(p);
      h.mallinfo(); // (a concurrent heap's mallinfo may first flush its caches: that is a state change of its own)
      const before = bytes();
      const info = h.mallinfo();
      for (const [bad, Err, wording] of [
        [p, DoubleFreeError, /^free\(\): double free detected/],
        [p + 1, InvalidPointerError, /^free\(\): invalid pointer/],
        [p + h.alignment, InvalidPointerError, /^free\(\): invalid pointer/],
      ] as const) {
        let err: unknown;
        try {
          h.free(bad);
        } catch (e) {
          err = e;
        }
        expect(err, `free(${bad})`).toBeInstanceOf(Err);
        expect(err).toBeInstanceOf(HeapError);
        expect(err).toBeInstanceOf(VmError);
        expect((err as Error).name).toBe(Err.name);
        expect((err as Error).message).toMatch(wording);
      }
      expect(Buffer.compare(bytes(), before), `free(${p}) twice`).toBe(0);
      expect(h.mallinfo()).toEqual(info);
    }
    // fully usable
    const again = ps.map((_, i) => h.malloc(i * 100));
    h.check();
    for (const p of [...again, guard]) h.free(p);
    h.check();
  });
});

describe("heap.md: 'Detection must be reliable, not probabilistic: a user block that happens to contain metadata-like bytes must not trigger it'", () => {
  it.each(Object.keys(hardened).filter((t) => t !== "a process heap"))(
    "a live block full of copies of a free chunk's header and links: freeing inside it is an invalid pointer, never a double free: %s",
    (t) => {
      const { h } = hardened[t]!();
      const u8 = (h.memory as LinearMemory).u8;
      const W = h.dataModel === "ilp32" ? 4 : 8;
      const a = h.malloc(200), b = h.malloc(200), c = h.malloc(200);
      h.free(b); // b's header and links now read as a free chunk's
      const forged = u8.slice(b - 2 * W, b + 4 * W);
      const live = h.malloc(1000);
      for (let off = 0; off + forged.length <= 1000; off += 16) u8.set(forged, live + off);
      for (let off = h.alignment; off < 1000; off += h.alignment) {
        expect(() => h.free(live + off), `free(live + ${off})`).toThrow(InvalidPointerError);
      }
      h.check();
      for (const p of [a, c, live]) h.free(p);
      h.check();
    },
  );
});

describe("heap.md: 'mallocTrim(pad) does the same on demand and returns 1 if it released anything'", () => {
  it.each([0, 64 * KiB, 200 * KiB])("after mallocTrim(%i) the top keeps pad bytes (within a page) and the break moved down", (pad) => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 4096 }), heap: { trimThreshold: 2 ** 31 - 1 } });
    const h = proc.heap;
    const ps = Array.from({ length: 8 }, () => h.malloc(100 * KiB));
    for (const p of ps.reverse()) h.free(p);
    const brk = proc.sbrk(0);
    const top = h.mallinfo().keepcost;
    expect(top).toBeGreaterThan(pad + 2 * 4096); // nothing given back on free
    expect(h.mallocTrim(pad)).toBe(1);
    expect(proc.sbrk(0)).toBeLessThan(brk);
    // (the break may go down further than the top shrank: the trim first moves the heap's chunk
    // map down, and the free space it leaves joins the top)
    expect(brk - proc.sbrk(0)).toBeGreaterThanOrEqual(top - h.mallinfo().keepcost);
    const keep = h.mallinfo().keepcost;
    expect(keep).toBeGreaterThanOrEqual(pad);
    expect(keep).toBeLessThan(pad + 4096 + 64);
    expect(h.mallocTrim(pad)).toBe(0); // nothing more to release
    h.check();
  });
});

describe("heap.md: 'Double free ... a typed error (DoubleFreeError ...)': also of a block freed into the top and trimmed away", () => {
  const linearKinds = {
    "64-bit": () => new HeapCtor({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 16 << 20 }) }),
    ilp32: () => new HeapCtor({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 16 << 20 }), dataModel: "ilp32" }),
    concurrent: () => new HeapCtor({ concurrent: true }),
    "a WebAssembly.Memory": () => new HeapCtor({ memory: new WebAssembly.Memory({ initial: 1, maximum: 256 }) }),
  };
  it.each(Object.keys(linearKinds))("malloc(300,000), free, free: the heap gave the memory back, and still names the second free a double free: %s", (t) => {
    const h = linearKinds[t as keyof typeof linearKinds]();
    for (const n of [300_000, 1 << 20]) {
      const p = h.malloc(n);
      const footprint = h.mallocFootprint();
      h.free(p);
      expect(h.mallocFootprint()).toBeLessThan(footprint); // trimmed
      const info = h.mallinfo();
      expect(() => h.free(p)).toThrow(DoubleFreeError);
      expect(() => h.free(p)).toThrow(/^free\(\): double free detected/);
      expect(() => h.realloc(p, 10)).toThrow(DoubleFreeError);
      // a pointer into that memory that no block ever had is still an invalid pointer
      expect(() => h.free(p + 64)).toThrow(InvalidPointerError);
      expect(() => h.free(p + n + 4096)).toThrow(InvalidPointerError);
      expect(h.mallinfo()).toEqual(info);
    }
    h.check();
    // the memory comes back into use: then p is a live block again, or inside one
    const q = h.malloc(300_000);
    expect(q).not.toBe(0);
    h.free(q);
    h.check();
  });
});

describe("Heap.attach refuses a header whose footprint high-water mark lies past the memory (free reads stale headers up to it)", () => {
  it("HeapCorruptionError naming the mark; the honest copy attaches", () => {
    const h = new HeapCtor({ memory: new LinearMemory({ initialBytes: 64 * KiB, maxBytes: 64 * KiB }) });
    h.free(h.malloc(1000));
    const copy = h.memory.u8.slice().buffer;
    expect(() => HeapCtor.attach(copy)).not.toThrow();
    const H_MAXFOOT = 9;
    new DataView(copy).setUint32(h.base + 4 * H_MAXFOOT, 64 * KiB - h.base + 16, true);
    expect(() => HeapCtor.attach(copy)).toThrow(HeapCorruptionError);
    expect(() => HeapCtor.attach(copy)).toThrow(/footprint high-water mark past the memory/);
  });
});
