/**
 * HeapRecorder: each call is one step with its arguments, result, errno and error; the heap
 * events read from the chunks name what the engine did (checked against the chunk arithmetic
 * of heap.md: a request of n bytes takes a chunk of max(32, n + 8 rounded up to 16)); the
 * address space's events land in the step that caused them; changes made between calls
 * become "outside" steps.
 */
import { describe, expect, it } from "vitest";
import {
  ArgumentError,
  DoubleFreeError,
  Errno,
  GlibcHeap,
  Heap,
  LinearMemory,
  HeapRecorder,
  M_TOP_PAD,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  PhysicalMemory,
  Player,
  Process,
  SwapSpace,
  AddressSpace,
  describeHeapEvent,
  describeStep,
  type HeapEvent,
  type RecordedStep,
} from "../../src/index.js";
import { thrown } from "../helpers/common.js";

const types = (s: RecordedStep): string[] => s.heap.map((e) => e.type);
const last = (rec: HeapRecorder): RecordedStep => rec.recording().steps.at(-1)!;
const newHeap = (): Heap => new Heap({ maxBytes: 16 * 1024 * 1024 });

describe("HeapRecorder on a heap over linear memory", () => {
  it("records malloc as a split of the top, with the call, result and errno", () => {
    const heap = newHeap();
    const rec = new HeapRecorder(heap);
    const top = heap.chunks().at(-1)!;
    const p = rec.malloc(100);
    const s = last(rec);
    expect(s).toMatchObject({ op: "malloc", label: "malloc(100)", args: [100], result: p, errno: 0, error: null, vm: [], probe: [] });
    expect(s.heap).toEqual([
      {
        type: "split",
        from: top,
        into: [
          { address: top.address, size: 112, kind: "used", ptr: p, usable: 104 },
          { address: top.address + 112, size: top.size - 112, kind: "top", ptr: 0, usable: 0 },
        ],
      },
    ]);
    expect(describeStep(s)).toBe(`malloc(100) = 0x${p.toString(16)}: split top 0x${top.address.toString(16)} (${top.size} B) into used 0x${top.address.toString(16)} (112 B) + top 0x${(top.address + 112).toString(16)} (${top.size - 112} B)`);
    expect(s.diff.totals?.["mallinfo.uordblks"]).toEqual([heap.mallinfo().uordblks - 112, heap.mallinfo().uordblks]);
  });

  it("names a free between two blocks a mark into a bin, and an exact refit its way out", () => {
    const rec = new HeapRecorder(newHeap());
    rec.malloc(100);
    const b = rec.malloc(100);
    rec.malloc(100);
    rec.free(b);
    const freed = last(rec);
    expect(types(freed)).toEqual(["mark", "bin-in"]);
    expect(freed.result).toBeNull();
    expect(freed.label).toBe(`free(0x${b.toString(16)})`);
    const e = freed.heap[0] as Extract<HeapEvent, { type: "mark" }>;
    expect([e.from.kind, e.into.kind, e.into.address, e.into.size]).toEqual(["used", "free", b - 16, 112]);
    expect(rec.malloc(100)).toBe(b);
    expect(types(last(rec))).toEqual(["mark", "bin-out"]);
    expect(describeHeapEvent(last(rec).heap[0]!)).toBe(`0x${(b - 16).toString(16)} (112 B): free → used`);
    expect(describeHeapEvent(last(rec).heap[1]!)).toBe(`bin → free 0x${(b - 16).toString(16)} (112 B)`);
  });

  it("names coalescing a merge, with the neighbour leaving its bin and the whole entering one", () => {
    const rec = new HeapRecorder(newHeap());
    const a = rec.malloc(100);
    const b = rec.malloc(200);
    rec.malloc(100);
    rec.free(b);
    rec.free(a);
    const s = last(rec);
    expect(types(s)).toEqual(["merge", "bin-out", "bin-in"]);
    const m = s.heap[0] as Extract<HeapEvent, { type: "merge" }>;
    expect(m.from.map((c) => [c.kind, c.size])).toEqual([["used", 112], ["free", 208]]);
    expect([m.into.kind, m.into.address, m.into.size]).toEqual(["free", a - 16, 320]);
    expect(describeHeapEvent(m)).toBe(`merged used 0x${(a - 16).toString(16)} (112 B) + free 0x${(b - 16).toString(16)} (208 B) into free 0x${(a - 16).toString(16)} (320 B)`);
  });

  it("names an in-place realloc into the top a reshape, and a shrink a split", () => {
    const rec = new HeapRecorder(newHeap());
    const p = rec.malloc(100);
    expect(rec.realloc(p, 1000)).toBe(p);
    const grow = last(rec);
    expect(types(grow)).toEqual(["reshape"]);
    expect(grow.label).toBe(`realloc(0x${p.toString(16)}, 1000)`);
    expect(describeHeapEvent(grow.heap[0]!)).toMatch(/^reshaped used 0x[0-9a-f]+ \(112 B\) \+ top .* into used 0x[0-9a-f]+ \(1008 B\) \+ top /);
    rec.malloc(10); // keeps the top away, so the shrink leaves a free chunk
    expect(rec.realloc(p, 10)).toBe(p);
    expect(types(last(rec))).toEqual(["split", "bin-in"]);
  });

  it("names growing and trimming the heap: brk events, the top resized", () => {
    const heap = new Heap({ maxBytes: 16 * 1024 * 1024, trimThreshold: 1 << 30 });
    const rec = new HeapRecorder(heap);
    const top0 = heap.chunks().at(-1)!.size;
    const p = rec.malloc(8000); // the heap grows, but not past what its in-use bitmap covers
    const grow = last(rec);
    const brk = grow.heap.find((e) => e.type === "brk") as Extract<HeapEvent, { type: "brk" }>;
    expect(grow.heap.map((e) => e.type)).toEqual(["split", "brk"]);
    // A chunk of 8016 B and a minimum top of 32 B, from whole 4 KiB steps of sbrk.
    expect(brk.to - brk.from).toBe(Math.ceil((8016 + 32 - top0) / 4096) * 4096);
    expect(describeHeapEvent(brk)).toBe(`brk 0x${brk.from.toString(16)} → 0x${brk.to.toString(16)} (+${brk.to - brk.from} B)`);
    rec.free(p); // no trim: the threshold is huge
    expect(last(rec).heap.some((e) => e.type === "brk")).toBe(false);
    const before = heap.chunks().at(-1)!;
    expect(rec.mallocTrim(0)).toBe(1);
    const trim = last(rec);
    expect(trim.result).toBe(1);
    expect(types(trim)).toEqual(["resize", "brk"]);
    const r = trim.heap[0] as Extract<HeapEvent, { type: "resize" }>;
    expect(r.from).toEqual(before);
    expect(r.into.size).toBeLessThan(before.size);
    expect(describeHeapEvent(r)).toBe(`top 0x${before.address.toString(16)}: ${before.size} B → ${r.into.size} B`);
    expect(describeHeapEvent(trim.heap[1]!)).toMatch(/^brk 0x[0-9a-f]+ → 0x[0-9a-f]+ \(-\d+ B\)$/);
    expect(describeStep(trim)).toMatch(/^mallocTrim\(0\) = 1: top /);
  });

  it("records failures: NULL with errno, posixMemalign's code, a throw (rethrown, heap unchanged)", () => {
    const heap = newHeap();
    const rec = new HeapRecorder(heap);
    expect(rec.malloc(2 ** 31)).toBe(0);
    expect(last(rec)).toMatchObject({ result: 0, errno: Errno.ENOMEM, heap: [] });
    expect(describeStep(last(rec))).toBe("malloc(2147483648) = NULL (errno ENOMEM)");
    expect(rec.posixMemalign(3, 10)).toEqual({ err: Errno.EINVAL, ptr: 0 });
    expect(last(rec)).toMatchObject({ op: "posixMemalign", err: Errno.EINVAL, result: 0 });
    expect(describeStep(last(rec))).toBe("posixMemalign(3, 10) = EINVAL");
    const { err, ptr } = rec.posixMemalign(64, 10);
    expect(err).toBe(0);
    expect(ptr % 64).toBe(0);
    expect(describeStep(last(rec))).toMatch(new RegExp(`^posixMemalign\\(64, 10\\) = 0, ptr 0x${ptr.toString(16)}: `));
    const p = rec.malloc(10);
    rec.free(p);
    const e = thrown(() => rec.free(p));
    expect(e).toBeInstanceOf(DoubleFreeError);
    const s = last(rec);
    expect(s).toMatchObject({ op: "free", result: null, error: { name: "DoubleFreeError", message: (e as Error).message }, heap: [], diff: {} });
    expect(describeStep(s)).toBe(`free(0x${p.toString(16)}) threw DoubleFreeError: ${(e as Error).message}`);
    // realloc(p, 0) frees and returns NULL without setting errno (it is still ENOMEM from before).
    const q = rec.malloc(10);
    expect(rec.realloc(q, 0)).toBe(0);
    expect(describeStep(last(rec))).toMatch(/^realloc\(0x[0-9a-f]+, 0\) = NULL: /);
    expect(last(rec).errno).toBe(Errno.ENOMEM);
  });

  it("records every call of the family, with its arguments", () => {
    const rec = new HeapRecorder(newHeap());
    const a = rec.calloc(4, 25);
    const b = rec.reallocarray(a, 10, 30);
    const c = rec.alignedAlloc(256, 100);
    const d = rec.memalign(4096, 10);
    expect(rec.mallopt(M_TOP_PAD, 0)).toBe(1);
    const steps = rec.recording().steps;
    expect(steps.map((s) => [s.op, s.args, s.result])).toEqual([
      ["calloc", [4, 25], a],
      ["reallocarray", [a, 10, 30], b],
      ["alignedAlloc", [256, 100], c],
      ["memalign", [4096, 10], d],
      ["mallopt", [M_TOP_PAD, 0], 1],
    ]);
    expect(steps[1]!.label).toBe(`reallocarray(0x${a.toString(16)}, 10, 30)`);
    expect(describeStep(steps[4]!)).toBe(`mallopt(${M_TOP_PAD}, 0) = 1`);
    expect(c % 256).toBe(0);
    expect(d % 4096).toBe(0);
  });

  it("runs other actions as steps: their number result, a label, a throw", () => {
    const heap = newHeap();
    const rec = new HeapRecorder(heap);
    expect(rec.run("count chunks", () => heap.chunks().length)).toBe(2);
    expect(last(rec)).toMatchObject({ op: "run", label: "count chunks", args: [], result: 2, heap: [] });
    expect(describeStep(last(rec))).toBe("count chunks = 2");
    expect(rec.run("a string", () => "x")).toBe("x");
    expect(last(rec).result).toBeNull();
    expect(describeStep(last(rec))).toBe("a string");
    const p = rec.run("malloc inside", () => heap.malloc(50));
    expect(types(last(rec))).toEqual(["split"]);
    expect(last(rec).result).toBe(p);
    expect(() => rec.run("boom", () => {
      throw new Error("boom");
    })).toThrow("boom");
    expect(last(rec).error).toEqual({ name: "Error", message: "boom" });
    expect(() => rec.run("not an Error", () => {
      throw 42; // eslint-disable-line @typescript-eslint/only-throw-error
    })).toThrow();
    expect(last(rec).error).toEqual({ name: "Error", message: "42" });
    expect(thrown(() => rec.run(1 as unknown as string, () => 0))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => rec.run("x", 1 as unknown as () => 0))).toBeInstanceOf(ArgumentError);
  });

  it("catches calls made on the heap directly as an 'outside' step, so every step still applies", () => {
    const heap = newHeap();
    const rec = new HeapRecorder(heap);
    rec.malloc(10);
    heap.malloc(20); // not through the recorder
    rec.malloc(30);
    const r = rec.recording();
    expect(r.steps.map((s) => s.op)).toEqual(["malloc", "outside", "malloc"]);
    expect(r.steps[1]).toMatchObject({ label: "outside the recorder", args: [], result: null, error: null });
    expect(types(r.steps[1]!)).toEqual(["split"]);
    heap.malloc(40);
    expect(rec.recording().steps.map((s) => s.op)).toEqual(["malloc", "outside", "malloc", "outside"]);
    expect(rec.recording().steps).toHaveLength(4); // nothing new: no new step
    const player = new Player(rec.recording());
    expect(player.stateAt(4).heap.chunks.filter((c) => c.kind === "used").map((c) => c.usable)).toEqual([24, 24, 40, 40]);
  });

  it("recordings survive JSON and play back the same", () => {
    const rec = new HeapRecorder(newHeap());
    const p = rec.malloc(1);
    rec.realloc(p, 5000);
    const r = rec.recording();
    const copy = JSON.parse(JSON.stringify(r)) as typeof r;
    expect(copy).toEqual(r);
    const a = new Player(r);
    const b = new Player(copy);
    for (const k of [2, 0, 1]) expect(b.stateAt(k)).toEqual(a.stateAt(k));
  });

  it("refuses what is not a heap, and bad options", () => {
    expect(thrown(() => new HeapRecorder(null as unknown as Heap))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new HeapRecorder({} as unknown as Heap))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new HeapRecorder(newHeap(), null as unknown as object))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new HeapRecorder(newHeap(), { addressSpace: {} as AddressSpace }))).toBeInstanceOf(ArgumentError);
  });
});

describe("HeapRecorder on a process's heap", () => {
  const spawn = (o: { frames?: number; swap?: number; maxResidentPages?: number } = {}): Process =>
    Process.spawn({
      memory: new PhysicalMemory({ frames: o.frames ?? 512, shared: false }),
      ...(o.swap !== undefined ? { swap: new SwapSpace({ slots: o.swap }) } : {}),
      ...(o.maxResidentPages !== undefined ? { maxResidentPages: o.maxResidentPages, replacement: "fifo" as const } : {}),
    });

  it("records the address space by default: a big block's mmap and munmap, as heap and vm events", () => {
    const proc = spawn();
    const rec = new HeapRecorder(proc.heap);
    expect(rec.addressSpace).toBe(proc.as);
    const p = rec.malloc(200_000);
    const s = last(rec);
    expect(types(s)).toEqual(["mmap"]);
    const ev = s.heap[0] as Extract<HeapEvent, { type: "mmap" }>;
    expect(ev.block.ptr).toBe(p);
    expect(ev.block.length % 4096).toBe(0);
    expect(ev.block.usable).toBe(proc.heap.mallocUsableSize(p));
    expect(s.vm[0]).toEqual({ type: "mmap", address: ev.block.start, length: ev.block.length, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
    expect(s.vm.filter((e) => e.type === "fault").length).toBeGreaterThan(0);
    expect(s.diff.regions?.added).toEqual([{ start: ev.block.start, end: ev.block.start + ev.block.length, perms: "rw-p", offset: 0, name: "" }]);
    expect(describeHeapEvent(ev)).toBe(`mmap 0x${ev.block.start.toString(16)} (${ev.block.length} B) for 0x${p.toString(16)}`);
    expect(describeStep(s)).toMatch(/page faults? \([a-z-]+(, \d+ [a-z-]+)*\); \d+ pages? changed; regions changed$/);
    rec.free(p);
    expect(types(last(rec))).toEqual(["munmap"]);
    expect(last(rec).vm).toEqual([{ type: "munmap", address: ev.block.start, length: ev.block.length }]);
    expect(describeHeapEvent(last(rec).heap[0]!)).toBe(`munmap 0x${ev.block.start.toString(16)} (${ev.block.length} B) of 0x${p.toString(16)}`);
  });

  it("puts the program's stores between calls into an 'outside' step with their faults", () => {
    const proc = spawn();
    const rec = new HeapRecorder(proc.heap);
    const p = rec.malloc(64 * 1024);
    const faults = proc.status().minorFaults;
    proc.as.write8(p + 32 * 1024, 1); // a page of the block nobody touched yet
    rec.malloc(16);
    const r = rec.recording();
    expect(r.steps.map((s) => s.op)).toEqual(["malloc", "outside", "malloc"]);
    expect(r.steps[1]!.vm).toEqual([{ type: "fault", kind: "minor", cause: "anonymous", address: p + 32 * 1024, access: "write" }]);
    expect(r.steps[1]!.diff.status?.minorFaults).toEqual([faults, faults + 1]);
    expect(describeStep(r.steps[1]!)).toBe("outside the recorder: 1 page fault (anonymous); 1 page changed");
  });

  it("records copy-on-write after fork, evictions and swap-ins under memory pressure", () => {
    const proc = spawn({ frames: 256, swap: 256, maxResidentPages: 8 });
    const rec = new HeapRecorder(proc.heap);
    const p = rec.malloc(64 * 1024);
    rec.run("touch 16 pages", () => {
      for (let i = 0; i < 16; i++) proc.as.write8(p + i * 4096, i);
    });
    const touch = last(rec);
    expect(touch.vm.filter((e) => e.type === "evict").length).toBeGreaterThan(0);
    expect(touch.vm.filter((e) => e.type === "evict").every((e) => e.type === "evict" && e.to === "swap")).toBe(true);
    // Page 1 of the block holds no chunk header, so only the program brings it back.
    rec.run("read page 1 back", () => proc.as.read8(p + 4096));
    expect(last(rec).vm.some((e) => e.type === "swap-in" || (e.type === "fault" && e.cause === "swap-in"))).toBe(true);
    expect(describeStep(last(rec))).toMatch(/^read page 1 back = 1: \d+ page faults? \((\d+ )?swap-in.*\); \d+ evictions?; \d+ pages? changed$/);

    const child = proc.fork();
    const crec = new HeapRecorder(child.heap);
    crec.run("child writes", () => child.as.write8(p + 4096 * 15, 99));
    expect(last(crec).vm.some((e) => e.type === "fault" && e.cause === "cow")).toBe(true);
    // The fork changed the parent's pages (copy-on-write, shared): an outside step of the parent.
    const r = rec.recording();
    expect(r.steps.at(-1)!.op).toBe("outside");
    expect(r.steps.at(-1)!.diff.pages?.added.some((pg) => pg.cow && pg.refs === 2)).toBe(true);
  });

  it("keeps the events its own reads cause apart (probe), and stops listening on stop()", () => {
    const proc = spawn({ frames: 256, swap: 256, maxResidentPages: 4 });
    const rec = new HeapRecorder(proc.heap);
    const blocks: number[] = [];
    for (let i = 0; i < 6; i++) blocks.push(rec.malloc(5000)); // chunk headers over several pages
    rec.run("touch far pages", () => {
      for (let i = 0; i < 8; i++) proc.as.write8(blocks[5]! + 4096 + (i % 2), i);
      proc.as.mmap(0, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    });
    const steps = rec.recording().steps;
    // Reading the headers back after a step faults the swapped-out ones in: probe events.
    expect(steps.some((s) => s.probe.length > 0)).toBe(true);
    for (const s of steps) for (const e of s.probe) expect(["fault", "evict", "swap-in"]).toContain(e.type);
    rec.stop();
    proc.as.write8(blocks[0]!, 1);
    proc.as.write8(blocks[5]!, 1);
    // After stop() no event is recorded, though the state change still shows.
    expect(rec.recording().steps.at(-1)!.vm).toEqual([]);
  });

  it("can leave the address space out", () => {
    const proc = spawn();
    const rec = new HeapRecorder(proc.heap, { addressSpace: null });
    rec.malloc(200_000);
    const r = rec.recording();
    expect(r.initial.as).toBeNull();
    expect(r.steps[0]!.vm).toEqual([]);
    expect(types(r.steps[0]!)).toEqual(["mmap"]);
  });

  it("can record another address space than the heap's", () => {
    const heap = newHeap();
    const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 16, shared: false }) });
    const rec = new HeapRecorder(heap, { addressSpace: as });
    const a = as.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    rec.malloc(1);
    const s = rec.recording().steps[0]!;
    expect(s.op).toBe("outside");
    expect(s.vm).toEqual([{ type: "mmap", address: a, length: 4096, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS }]);
  });
});

describe("HeapRecorder on glibc's allocator (GlibcHeap)", () => {
  it("reads the same events from its chunks: the first chunks, tcache and bins by name, a rebin, no brk on set-up", () => {
    const rec = new HeapRecorder(GlibcHeap.linear(new LinearMemory({ maxBytes: 16 * 1024 * 1024 })));
    const ps: number[] = [];
    for (let i = 0; i < 8; i++) {
      ps.push(rec.malloc(200));
      rec.malloc(10); // a guard, so that frees do not coalesce
    }
    const first = rec.recording().steps[0]!;
    expect(types(first)).toEqual(["new"]);
    expect(describeHeapEvent(first.heap[0]!)).toMatch(/^new chunks meta 0x[0-9a-f]+ \(656 B\) \+ used 0x[0-9a-f]+ \(208 B\) \+ top /);
    for (const p of ps) rec.free(p);
    const frees = rec.recording().steps.slice(-8);
    // glibc 2.36: seven chunks of a size go to the tcache, the eighth to the unsorted bin.
    expect(frees.map((s) => (s.heap[1] as Extract<HeapEvent, { type: "bin-in" }>).chunk.bin)).toEqual([...Array(7).fill("tcache"), "unsorted"]);
    expect(describeHeapEvent(frees[0]!.heap[1]!)).toBe(`tcache ← free 0x${(ps[0]! - 16).toString(16)} (208 B)`);
    expect(describeHeapEvent(frees[7]!.heap[1]!)).toBe(`unsorted bin ← free 0x${(ps[7]! - 16).toString(16)} (208 B)`);
    rec.malloc(1000); // sorts the unsorted chunk into its small bin on the way to the top
    const s = last(rec);
    expect(types(s)).toEqual(["rebin", "split"]);
    expect(describeHeapEvent(s.heap[0]!)).toBe(`free 0x${(ps[7]! - 16).toString(16)} (208 B): unsorted bin → small bin`);
  });

  it("reports a glibc process heap's mapped chunks (listed past the top) as mmap and munmap", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 512, shared: false }), heap: { allocator: "glibc" } });
    const rec = new HeapRecorder(proc.heap);
    const p = rec.malloc(200_000);
    expect(types(last(rec))).toEqual(["new", "mmap"]);
    const m = last(rec).heap[1] as Extract<HeapEvent, { type: "mmap" }>;
    expect(m.block).toEqual({ ptr: p, start: p - 16, length: proc.heap.chunks().at(-1)!.size, usable: proc.heap.chunks().at(-1)!.usable });
    rec.free(p);
    expect(types(last(rec))).toEqual(["munmap"]);
  });
});
