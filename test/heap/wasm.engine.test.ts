/**
 * The heap's wasm engine (vmheap/wasm), Heap.ts's algorithm compiled to WebAssembly:
 * - against the JavaScript engine: the same calls give the same results, errors and errno,
 *   and leave the same bytes in memory (one algorithm, two engines);
 * - one heap, two engines: blocks the module allocates are freed and reallocated by JavaScript
 *   and the other way round, growth from either side is seen by the other, check() passes;
 * - a module's double or invalid free reaches JavaScript as the library's typed error.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  DoubleFreeError,
  Errno,
  Heap,
  HeapCorruptionError,
  InvalidPointerError,
  M_TRIM_THRESHOLD,
  heapMap,
  type DataModel,
  type LinearMemory,
  type WasmImports,
} from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";
import { fcSeed } from "../helpers/common.js";
import { ABI_HEAP_BASE, abiClientText, compileWat, loadWabt, sharedWasm, type AbiClient } from "./helpers/wasmClient.js";

beforeAll(async () => {
  await loadWabt();
  await compileWasmEngine(wasmEngine);
});

interface Side {
  memory: WebAssembly.Memory;
  heap: Heap<LinearMemory>;
  c: WasmImports;
  /** Pointers of live blocks, by the index the commands use. */
  live: number[];
}

function side(engine: "js" | "wasm", dataModel: DataModel, base: number, trim: boolean): Side {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 200 });
  const heap = new Heap({ memory, base, dataModel });
  if (trim) heap.mallopt(M_TRIM_THRESHOLD, 0);
  const c = heap.wasmImports(engine === "wasm" ? { engine: wasmEngine } : {});
  return { memory, heap, c, live: [] };
}

type Cmd =
  | { k: "malloc"; n: number }
  | { k: "calloc"; a: number; b: number }
  | { k: "realloc"; i: number; n: number }
  | { k: "reallocarray"; i: number; a: number; b: number }
  | { k: "free"; i: number }
  | { k: "badFree"; i: number; off: number }
  | { k: "memalign"; fn: "posix_memalign" | "aligned_alloc" | "memalign"; a: number; n: number }
  | { k: "usable"; i: number }
  | { k: "fill"; i: number; byte: number }
  | { k: "trim"; pad: number };

const HUGE = 0xffff_fff0;
const size = fc.oneof(
  { weight: 10, arbitrary: fc.nat(64) },
  { weight: 6, arbitrary: fc.nat(1200) },
  { weight: 2, arbitrary: fc.nat(40_000) },
  { weight: 1, arbitrary: fc.nat(400_000) },
  { weight: 1, arbitrary: fc.constantFrom(HUGE, 0x7fff_0000, 20 << 20) },
);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: size.map((n) => ({ k: "malloc" as const, n })) },
  { weight: 2, arbitrary: fc.tuple(fc.nat(40), size).map(([a, b]) => ({ k: "calloc" as const, a, b })) },
  { weight: 4, arbitrary: fc.tuple(fc.nat(), size).map(([i, n]) => ({ k: "realloc" as const, i, n })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.nat(100), fc.oneof(fc.nat(300), fc.constant(0x1000_0001))).map(([i, a, b]) => ({ k: "reallocarray" as const, i, a, b })) },
  { weight: 8, arbitrary: fc.nat().map((i) => ({ k: "free" as const, i })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.constantFrom(-16, 0, 4, 8, 16)).map(([i, off]) => ({ k: "badFree" as const, i, off })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom("posix_memalign" as const, "aligned_alloc" as const, "memalign" as const), fc.constantFrom(0, 3, 4, 8, 16, 24, 64, 4096, 65536, 0x4000_0000, 0x8000_0000), size)
      .map(([fn, a, n]) => ({ k: "memalign" as const, fn, a, n })),
  },
  { weight: 1, arbitrary: fc.nat().map((i) => ({ k: "usable" as const, i })) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.nat(255)).map(([i, byte]) => ({ k: "fill" as const, i, byte })) },
  { weight: 1, arbitrary: fc.constantFrom(0, 4096, 200_000).map((pad) => ({ k: "trim" as const, pad })) },
);

const MEMPTR = 64; // posix_memalign's out-pointer, below every base used here

/** Runs one command on a side; what it returned or threw, and the heap's errno. */
function apply(s: Side, o: Cmd): unknown {
  const pick = (i: number): number => (s.live.length === 0 ? 0 : s.live[i % s.live.length]!);
  const drop = (p: number): void => {
    s.live.splice(s.live.indexOf(p), 1);
  };
  const keep = (p: number): number => {
    if (p !== 0) s.live.push(p >>> 0);
    return p >>> 0;
  };
  s.heap.errno = 0;
  try {
    let r: unknown;
    switch (o.k) {
      case "malloc":
        r = keep(s.c.malloc(o.n));
        break;
      case "calloc":
        r = keep(s.c.calloc(o.a, o.b));
        break;
      case "realloc":
      case "reallocarray": {
        const p = pick(o.i);
        const q = (o.k === "realloc" ? s.c.realloc(p, o.n) : s.c.reallocarray(p, o.a, o.b)) >>> 0;
        const freed = o.k === "realloc" ? o.n === 0 : o.a * o.b === 0;
        if (q !== 0 || (p !== 0 && freed)) {
          if (p !== 0) drop(p);
          keep(q);
        }
        r = q;
        break;
      }
      case "free": {
        const p = pick(o.i);
        s.c.free(p);
        if (p !== 0) drop(p);
        r = p;
        break;
      }
      case "badFree":
        r = s.c.free((pick(o.i) + o.off) >>> 0); // interior, misaligned, a freed block's: throws unless off is 0
        if (o.off === 0 && pick(o.i) !== 0) drop(pick(o.i));
        break;
      case "memalign":
        if (o.fn === "posix_memalign") {
          const err = s.c.posix_memalign(MEMPTR, o.a, o.n);
          r = [err, err === 0 ? keep(s.heap.memory.dv.getUint32(MEMPTR, true)) : 0];
        } else r = keep(s.c[o.fn](o.a, o.n));
        break;
      case "usable":
        r = s.c.malloc_usable_size(pick(o.i));
        break;
      case "fill": {
        const p = pick(o.i);
        if (p !== 0) s.heap.memory.u8.fill(o.byte, p, p + s.heap.mallocUsableSize(p));
        r = p;
        break;
      }
      case "trim":
        r = s.heap.mallocTrim(o.pad);
        break;
    }
    return { r, errno: s.heap.errno };
  } catch (e) {
    return { threw: (e as Error).name, message: (e as Error).message, errno: s.heap.errno };
  }
}

/** The first address where the two memories differ (their data below base included), or -1. */
function firstDifference(a: Side, b: Side): number {
  const x = new Uint8Array(a.memory.buffer);
  const y = new Uint8Array(b.memory.buffer);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

describe.each(["wasm32", "lp64", "ilp32"] as const)("the wasm engine against the JavaScript engine (%s)", (dataModel) => {
  it("the same calls give the same results, errors and errno, and leave the same bytes", () => {
    const seed = fcSeed(`wasm engine ${dataModel}`);
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 150 }), fc.constantFrom(128, 1000, 4104), fc.boolean(), (cmds, base, trim) => {
        const js = side("js", dataModel, base, trim);
        const wasm = side("wasm", dataModel, base, trim);
        for (const [n, o] of cmds.entries()) {
          const a = apply(js, o);
          const b = apply(wasm, o);
          expect(b, `command ${n}: ${JSON.stringify(o)}`).toEqual(a);
        }
        expect(wasm.memory.buffer.byteLength).toBe(js.memory.buffer.byteLength);
        expect(firstDifference(js, wasm), "first byte that differs").toBe(-1);
        js.heap.check();
        wasm.heap.check();
        expect(wasm.heap.mallinfo()).toEqual(js.heap.mallinfo());
        expect(wasm.heap.mallocMaxFootprint()).toBe(js.heap.mallocMaxFootprint());
      }),
      { seed, numRuns: dataModel === "wasm32" ? 120 : 50 },
    );
  });
});

describe("one heap, two engines", () => {
  function client(dataModel: DataModel = "wasm32", shared = false): { memory: WebAssembly.Memory; heap: Heap<LinearMemory>; c: AbiClient } {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024, ...(shared ? { shared: true } : {}) } as WebAssembly.MemoryDescriptor);
    const heap = new Heap({ memory, base: ABI_HEAP_BASE, dataModel });
    let instance: WebAssembly.Instance | undefined;
    const env = { memory, ...heap.wasmImports({ engine: wasmEngine, instance: () => instance }) };
    instance = new WebAssembly.Instance(compileWat("abi-client.wat", abiClientText(true, shared), shared), { env });
    return { memory, heap, c: instance.exports as unknown as AbiClient };
  }

  it("C allocates, JavaScript reads, reallocs and frees; JavaScript allocates, C frees; check() passes throughout", () => {
    const { heap, c } = client();
    const a = c.malloc(100) >>> 0;
    c.fill(a, 100, 0x11);
    expect(heap.memory.u8[a + 99]).toBe(0x11); // the same bytes
    expect(heap.mallocUsableSize(a)).toBe(c.malloc_usable_size(a)); // the same header
    expect(heap.chunks().find((k) => k.ptr === a)).toMatchObject({ kind: "used", usable: 108 });
    heap.check();
    const b = heap.realloc(a, 5000); // JavaScript moves C's block
    expect(c.all(b, 100, 0x11)).toBe(1);
    const j = heap.malloc(300);
    heap.memory.u8.fill(0x22, j, j + 300);
    expect(c.all(j, 300, 0x22)).toBe(1);
    c.free(j); // C frees JavaScript's block
    expect(() => heap.free(j)).toThrow(DoubleFreeError); // and JavaScript knows it is gone
    expect(() => c.free(j)).toThrow(DoubleFreeError);
    heap.check();
    const k = c.realloc(b, 20) >>> 0; // C shrinks what JavaScript moved
    expect(k).toBe(b);
    heap.free(k);
    heap.check();
    expect(heap.chunks().filter((x) => x.kind === "used")).toEqual([]);
    expect(heapMap(heap)).toContain("0x");
  });

  it("growth from either side is picked up by the other (memory.grow by the engine, by JavaScript, by the module)", () => {
    const { memory, heap, c } = client();
    const before = memory.buffer.byteLength;
    const big = c.malloc(600_000) >>> 0; // the engine grows the memory
    expect(memory.buffer.byteLength).toBeGreaterThan(before);
    expect(heap.mallocUsableSize(big)).toBeGreaterThanOrEqual(600_000); // JavaScript sees the new pages
    heap.memory.u8.fill(0x33, big, big + 600_000);
    expect(c.all(big, 600_000, 0x33)).toBe(1);
    const mid = memory.buffer.byteLength;
    const j = heap.malloc(2_000_000); // JavaScript grows it
    expect(memory.buffer.byteLength).toBeGreaterThan(mid);
    c.fill(j, 2_000_000, 0x44); // the engine's module writes there
    expect(c.malloc_usable_size(j)).toBeGreaterThanOrEqual(2_000_000);
    expect(c.grow(3)).toBeGreaterThan(0); // the module grows the memory itself
    const k = c.malloc(1_000_000) >>> 0;
    expect(k).not.toBe(0);
    heap.check();
    c.free(big);
    heap.free(j);
    c.free(k);
    heap.check();
    const info = heap.mallinfo();
    expect(info.uordblks + info.fordblks).toBe(info.arena);
  });

  it("mallinfo, chunks and the footprint count the module's blocks", () => {
    const { heap, c } = client();
    const meta = (): number => heap.chunks().find((x) => x.kind === "meta")!.size; // the in-use bitmap's chunk
    const used0 = heap.mallinfo().uordblks - meta();
    const ptrs = Array.from({ length: 50 }, (_, i) => c.malloc(16 * i) >>> 0);
    // in use: the blocks (usable size + the 4-byte header of wasm32), the header and the bitmap
    expect(heap.mallinfo().uordblks - meta()).toBe(used0 + ptrs.reduce((s, p) => s + heap.mallocUsableSize(p) + 4, 0));
    expect(heap.chunks().filter((x) => x.kind === "used").map((x) => x.ptr)).toEqual([...ptrs].sort((x, y) => x - y));
    for (const p of ptrs) c.free(p);
    expect(heap.mallinfo().uordblks - meta()).toBe(used0);
    expect(heap.mallocMaxFootprint()).toBeGreaterThanOrEqual(heap.mallocFootprint());
  });

  it.skipIf(!sharedWasm)("on a shared memory too (the engine's memory import is declared shared)", () => {
    const { memory, heap, c } = client("wasm32", true);
    expect(memory.buffer instanceof SharedArrayBuffer).toBe(true);
    const p = c.malloc(300_000) >>> 0;
    c.fill(p, 300_000, 7);
    expect(heap.memory.u8[p + 299_999]).toBe(7);
    heap.free(p);
    heap.check();
  });

  it("random calls through either engine leave the same heap as the JavaScript engine alone", () => {
    const seed = fcSeed("two engines, one heap");
    fc.assert(
      fc.property(fc.array(fc.tuple(cmd, fc.boolean()), { maxLength: 120 }), fc.constantFrom<DataModel>("wasm32", "lp64"), (cmds, dataModel) => {
        const solo = side("js", dataModel, 1000, false);
        const both = side("js", dataModel, 1000, false);
        const viaWasm = both.heap.wasmImports({ engine: wasmEngine });
        const viaJs = both.c;
        for (const [n, [o, wasm]] of cmds.entries()) {
          both.c = wasm ? viaWasm : viaJs;
          expect(apply(both, o), `command ${n}: ${JSON.stringify(o)} through ${wasm ? "wasm" : "js"}`).toEqual(apply(solo, o));
        }
        expect(firstDifference(both, solo), "first byte that differs").toBe(-1);
        both.heap.check();
      }),
      { seed, numRuns: 60 },
    );
  });
});

describe("errors from the engine", () => {
  function pair(): { heap: Heap<LinearMemory>; js: WasmImports; wasm: WasmImports } {
    const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 64 }), base: 256, dataModel: "wasm32" });
    return { heap, js: heap.wasmImports(), wasm: heap.wasmImports({ engine: wasmEngine }) };
  }

  it("a double free and an invalid free from the module throw DoubleFreeError and InvalidPointerError, with glibc's words, before any change", () => {
    const { heap, wasm } = pair();
    const p = wasm.malloc(40) >>> 0;
    const q = wasm.malloc(40) >>> 0;
    wasm.free(p);
    const before = new Uint8Array(heap.memory.u8);
    expect(() => wasm.free(p)).toThrow(DoubleFreeError);
    expect(() => wasm.free(p)).toThrow(`free(): double free detected (pointer 0x${p.toString(16)})`);
    expect(() => wasm.free(q + 8)).toThrow(InvalidPointerError);
    expect(() => wasm.free(q + 8)).toThrow("free(): invalid pointer");
    expect(() => wasm.realloc(q + 16, 10)).toThrow("realloc(): invalid pointer");
    expect(() => wasm.free(0xfffffff0)).toThrow(InvalidPointerError);
    expect(new Uint8Array(heap.memory.u8)).toEqual(before); // nothing changed
    heap.check();
    wasm.free(q);
    heap.check();
  });

  it("a smashed header is a HeapCorruptionError with the message the JavaScript engine gives", () => {
    for (const [offset, value] of [
      [4, 0x1000], // the size field, smashed bigger (over blocks in use)
      [4, 0x13], // a size that is not a multiple of 16
      [-4, 0], // the previous block's tail over this header's prev_size field, with PINUSE cleared below
    ] as const) {
      const messages: string[] = [];
      for (const engine of ["js", "wasm"] as const) {
        const { heap, js, wasm } = pair();
        const c = engine === "wasm" ? wasm : js;
        const a = c.malloc(40) >>> 0;
        const b = c.malloc(40) >>> 0;
        c.malloc(40);
        const at = b - 8 + offset;
        const dv = heap.memory.dv;
        dv.setUint32(at, value, true);
        if (offset === -4) dv.setUint32(b - 4, dv.getUint32(b - 4, true) & ~2, true); // PINUSE off: "the previous chunk is free"
        let err: unknown;
        try {
          c.free(b);
        } catch (e) {
          err = e;
        }
        expect(err, `${engine}, smash at ${offset}`).toBeInstanceOf(HeapCorruptionError);
        messages.push((err as Error).message);
        expect(a).not.toBe(0);
      }
      expect(messages[1]).toBe(messages[0]);
    }
  });

  it("refuses a heap it cannot run: not on a WebAssembly.Memory, concurrent, or a bad engine object", () => {
    expect(() => new Heap({ maxBytes: 1 << 20 }).wasmImports({ engine: wasmEngine })).toThrow(ArgumentError);
    if (sharedWasm) {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true } as WebAssembly.MemoryDescriptor);
      expect(() => new Heap({ memory, concurrent: true }).wasmImports({ engine: wasmEngine })).toThrow(/concurrent/);
    }
    const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 4 }) });
    expect(() => heap.wasmImports({ engine: {} as never })).toThrow(/wasmEngine of vmheap\/wasm/);
  });

  it("sets heap.errno and the module's errno on failure, as the JavaScript imports do", () => {
    const { heap, wasm } = pair();
    expect(wasm.malloc(HUGE)).toBe(0);
    expect(heap.errno).toBe(Errno.ENOMEM);
    heap.errno = 0;
    expect(wasm.aligned_alloc(12, 4)).toBe(0);
    expect(heap.errno).toBe(Errno.EINVAL);
  });
});

describe("a Heap made with its wasm engine (HeapOptions.engine): JavaScript's calls run on it", () => {
  type JsCmd = { k: "malloc" | "calloc" | "realloc" | "free" | "memalign" | "posix" | "aligned" | "usable" | "trim" | "reallocarray"; a: unknown; b: unknown; i: number };
  const odd = fc.constantFrom<unknown>(1.5, -1, -16, Number.NaN, Infinity, 2 ** 32, 2 ** 40, "8", null, undefined, 0x7fff_0000);
  const val = fc.oneof({ weight: 8, arbitrary: size }, { weight: 1, arbitrary: odd });
  const jsCmd: fc.Arbitrary<JsCmd> = fc.record({
    k: fc.constantFrom("malloc", "malloc", "malloc", "calloc", "realloc", "realloc", "free", "free", "free", "memalign", "posix", "aligned", "usable", "trim", "reallocarray"),
    a: val,
    b: val,
    i: fc.nat(),
  }) as fc.Arbitrary<JsCmd>;

  function run(heap: Heap<LinearMemory>, cmds: JsCmd[]): unknown[] {
    const live: number[] = [];
    const out: unknown[] = [];
    const pick = (c: JsCmd): unknown => (live.length > 0 && c.i % 5 !== 0 ? live[c.i % live.length] : c.a);
    for (const c of cmds) {
      heap.errno = 0;
      let r: unknown;
      try {
        const p = pick(c);
        const n = c.b as number;
        switch (c.k) {
          case "malloc":
            r = heap.malloc(c.a as number);
            break;
          case "calloc":
            r = heap.calloc(c.i % 50, n);
            break;
          case "realloc":
            r = heap.realloc(p as number, n);
            if (r !== 0 || n === 0) live.splice(live.indexOf(p as number), 1);
            break;
          case "reallocarray":
            r = heap.reallocarray(p as number, c.i % 7, n);
            if (r !== 0 || n === 0 || c.i % 7 === 0) live.splice(live.indexOf(p as number), 1);
            break;
          case "free":
            heap.free(p as number);
            live.splice(live.indexOf(p as number), 1);
            r = p;
            break;
          case "memalign":
            r = heap.memalign(c.a as number, n);
            break;
          case "posix":
            r = heap.posixMemalign(c.a as number, n);
            break;
          case "aligned":
            r = heap.alignedAlloc(c.a as number, n);
            break;
          case "usable":
            r = heap.mallocUsableSize(p as number);
            break;
          case "trim":
            r = heap.mallocTrim(c.a as number);
            break;
        }
      } catch (e) {
        r = `${(e as Error).name}: ${(e as Error).message}`;
      }
      const q = typeof r === "object" && r !== null ? (r as { ptr: number }).ptr : r;
      if (typeof q === "number" && q !== 0 && ["malloc", "calloc", "realloc", "reallocarray", "memalign", "posix", "aligned"].includes(c.k) && !live.includes(q)) live.push(q);
      out.push([r, heap.errno]);
    }
    return out;
  }

  it.each(["wasm32", "lp64", "ilp32"] as const)("gives the JavaScript API the same answers and bytes as the JavaScript engine (%s), odd arguments included", (dataModel) => {
    const seed = fcSeed(`engine heap ${dataModel}`);
    fc.assert(
      fc.property(fc.array(jsCmd, { maxLength: 120 }), (cmds) => {
        const mk = (engine: boolean): Heap<LinearMemory> =>
          new Heap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 300 }), base: 512, dataModel, ...(engine ? { engine: wasmEngine } : {}) });
        const js = mk(false);
        const wasm = mk(true);
        expect(run(wasm, cmds)).toEqual(run(js, cmds));
        const a = new Uint8Array(js.memory.buffer);
        const b = new Uint8Array(wasm.memory.buffer);
        expect(b.length).toBe(a.length);
        let first = -1;
        for (let i = 0; i < a.length && first < 0; i++) if (a[i] !== b[i]) first = i;
        expect(first, "first byte that differs").toBe(-1);
        wasm.check();
      }),
      { seed, numRuns: 60 },
    );
  });

  it("hands its engine to wasmImports(), and refuses a memory or a heap the engine cannot run", () => {
    const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 16 }), base: 512, dataModel: "wasm32", engine: wasmEngine });
    expect(String(heap.wasmImports().malloc)).toContain("[native code]"); // a wasm export
    expect(String(heap.wasmImports({ engine: undefined }).malloc)).toContain("[native code]");
    expect(String(new Heap({ memory: new WebAssembly.Memory({ initial: 1 }), base: 512 }).wasmImports().malloc)).not.toContain("[native code]");
    expect(() => new Heap({ maxBytes: 1 << 20, engine: wasmEngine })).toThrow(/Heap: the wasm engine runs a heap on a WebAssembly.Memory/);
    if (sharedWasm) {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true } as WebAssembly.MemoryDescriptor);
      expect(() => new Heap({ memory, concurrent: true, engine: wasmEngine })).toThrow(/concurrent/);
    }
    const p = heap.malloc(100);
    expect(() => heap.free(p + 16)).toThrow(InvalidPointerError);
    heap.free(p);
    expect(() => heap.free(p)).toThrow(DoubleFreeError);
    heap.check();
  });
});

describe("what the module may pass", () => {
  it("any 32-bit value as a pointer: the wasm engine answers as the JavaScript engine does, and changes nothing when it throws", () => {
    const seed = fcSeed("engine arbitrary pointers");
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { maxLength: 20 }), fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 70_000 })), { maxLength: 30 }), (sizes, ptrs) => {
        const js = side("js", "wasm32", 1000, false);
        const wasm = side("wasm", "wasm32", 1000, false);
        for (const n of sizes) expect(apply(wasm, { k: "malloc", n })).toEqual(apply(js, { k: "malloc", n }));
        for (const p of ptrs) {
          for (const call of [(s: Side) => s.c.free(p), (s: Side) => s.c.realloc(p, 10), (s: Side) => s.c.malloc_usable_size(p)]) {
            const outcome = (s: Side): unknown => {
              const before = new Uint8Array(s.memory.buffer).slice();
              try {
                return { r: call(s) };
              } catch (e) {
                const after = new Uint8Array(s.memory.buffer);
                let changed = after.length !== before.length;
                for (let i = 0; i < before.length && !changed; i++) if (before[i] !== after[i]) changed = true;
                return { threw: (e as Error).message, changed };
              }
            };
            const a = outcome(js);
            expect(outcome(wasm)).toEqual(a);
            if ("threw" in (a as object)) expect((a as { changed: boolean }).changed).toBe(false);
          }
        }
        expect(firstDifference(js, wasm)).toBe(-1);
        wasm.heap.check();
      }),
      { seed, numRuns: 40 },
    );
  });
});

describe("include/vmheap.h", () => {
  it("declares every function wasmImports() gives, each as the import of the same name from env", async () => {
    const { readFileSync } = await import("node:fs");
    const header = readFileSync(new URL("../../include/vmheap.h", import.meta.url), "utf8");
    const declared = [...header.matchAll(/^VMHEAP_IMPORT\((\w+)\) [^;]*?\b(\w+)\(/gm)].map((m) => [m[1], m[2]]);
    const imports = Object.keys(new Heap({ memory: new WebAssembly.Memory({ initial: 1 }), base: 1024 }).wasmImports()).sort();
    // the C names, each imported under its own name
    expect(declared.filter(([imp, name]) => imp === name).map(([name]) => name).sort()).toEqual(imports);
    // wasi-libc's internal names are the same imports
    expect(declared.filter(([imp, name]) => imp !== name)).toEqual([
      ["malloc", "__libc_malloc"],
      ["free", "__libc_free"],
      ["calloc", "__libc_calloc"],
    ]);
    expect(header).toContain('__attribute__((import_module("env"), import_name(#name)))');
  });
});
