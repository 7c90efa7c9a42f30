/**
 * The hardened heap's promise (docs/heap.md, "What the heap guarantees"): whatever the bytes of
 * freed or live memory hold, malloc never returns memory that overlaps a live block or lies
 * outside the arena, no metadata write leaves the arena, no call hangs, and every error is a
 * HeapCorruptionError. Each case below is an attack that once broke the promise.
 *
 * The attacks run on a heap inside a `WebAssembly.Memory` with a `base` (a module's static data
 * below it, filled with a pattern that must survive), as a wasm module's heap is. The ones that
 * could hang the heap run in a worker with a deadline (helpers/isolated.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, Heap, HeapCorruptionError, type LinearMemory, M_MMAP_MAX, M_MMAP_THRESHOLD, M_TOP_PAD, M_TRIM_THRESHOLD, PhysicalMemory, Process } from "../../src/index.js";
import { binCount } from "../../src/heap/bins.js";
import { H_BINMAP, H_MMAP_MAX, H_MMAP_THRESHOLD, H_TOPPAD, H_TRIM } from "../../src/heap/header.js";
import type { AttachDamage, Trace } from "./helpers/corruption.js";
import { runIsolated, type Job, type JobResult } from "./helpers/isolated.js";

const BASE = 8192;
const below = (i: number): number => (i * 7 + 3) & 0xff;

/** A heap at BASE in a wasm memory whose bytes below BASE hold a pattern. */
function wasmHeap(): { heap: Heap; mem: WebAssembly.Memory } {
  const mem = new WebAssembly.Memory({ initial: 4, maximum: 256 });
  const u8 = new Uint8Array(mem.buffer);
  for (let i = 0; i < BASE; i++) u8[i] = below(i);
  return { heap: new Heap({ memory: mem, base: BASE }), mem };
}

/** The first byte below BASE that changed, or -1. */
function belowChanged(mem: WebAssembly.Memory): number {
  const u8 = new Uint8Array(mem.buffer);
  for (let i = 0; i < BASE; i++) if (u8[i] !== below(i)) return i;
  return -1;
}

const fillBlock = (mem: WebAssembly.Memory, p: number, n: number, seed: number): void => {
  const u8 = new Uint8Array(mem.buffer);
  for (let i = 0; i < n; i++) u8[p + i] = (seed * 31 + i * 13) & 0xff;
};
const blockIntact = (mem: WebAssembly.Memory, p: number, n: number, seed: number): boolean => {
  const u8 = new Uint8Array(mem.buffer);
  for (let i = 0; i < n; i++) if (u8[p + i] !== ((seed * 31 + i * 13) & 0xff)) return false;
  return true;
};
const put32 = (mem: WebAssembly.Memory, a: number, v: number): void => new DataView(mem.buffer).setUint32(a, v >>> 0, true);

/**
 * Runs `calls` in order until one throws; returns what it threw (undefined if none did) and the
 * blocks they returned.
 */
function run(calls: Array<() => number | void>): { error: unknown; got: number[] } {
  const got: number[] = [];
  for (const call of calls) {
    try {
      const v = call();
      if (typeof v === "number" && v !== 0) got.push(v);
    } catch (e) {
      return { error: e, got };
    }
  }
  return { error: undefined, got };
}

/** Whether `[p, p + n)` overlaps `[q, q + m)`. */
const overlap = (p: number, n: number, q: number, m: number): boolean => p < q + m && q < p + n;

describe("1. an off-by-four overflow into the designated victim's size", () => {
  // The victim then goes to a bin computed from the garbage when a small malloc retires it;
  // a size with the high bit set used to send a chunk address to address 0, below base.
  for (const garbage of [0x8000_0001, 0xffff_fff1, 0x11, 0x3, 0x0, 0x19]) {
    it(`size := 0x${garbage.toString(16)}: the next malloc that touches the victim throws HeapCorruptionError, nothing below base or in live blocks changes`, () => {
      const { heap, mem } = wasmHeap();
      const f = heap.malloc(1500);
      heap.malloc(32);
      const big = heap.malloc(2000);
      const live = heap.malloc(100);
      heap.malloc(64);
      fillBlock(mem, live, 100, 1);
      heap.free(f);
      heap.free(big);
      heap.malloc(40);
      const x = heap.malloc(40); // the rest of `big` after x is the designated victim
      put32(mem, x + heap.mallocUsableSize(x), garbage); // 4 bytes past x: the victim's size
      const { error, got } = run([200, 300, 16, 40, 200, 1200].map((n) => () => heap.malloc(n)));
      expect(error).toBeInstanceOf(HeapCorruptionError);
      expect(belowChanged(mem)).toBe(-1);
      expect(blockIntact(mem, live, 100, 1)).toBe(true);
      for (const q of got) expect(overlap(q, heap.mallocUsableSize(q), live, 100)).toBe(false);
    });
  }
});

/** Three blocks of one bin (a, b, c) between live guards, then a and b freed: b → a. */
function binOfTwo(n: number): { heap: Heap; mem: WebAssembly.Memory; a: number; b: number; c: number; live: number } {
  const { heap, mem } = wasmHeap();
  const a = heap.malloc(n);
  heap.malloc(40);
  const b = heap.malloc(n);
  heap.malloc(40);
  const c = heap.malloc(n);
  heap.malloc(40);
  const live = heap.malloc(400);
  heap.malloc(40);
  fillBlock(mem, live, 400, 2);
  heap.free(a);
  heap.free(b);
  return { heap, mem, a, b, c, live };
}

describe("2. a freed chunk's fd pointed at a live block's chunk", () => {
  for (const n of [100, 2000]) {
    it(`(${n}-byte bin) is refused: no later free writes into the live block, a HeapCorruptionError is thrown`, () => {
      const { heap, mem, b, c, live } = binOfTwo(n);
      put32(mem, b, live - 16); // b's fd
      const { error, got } = run([() => heap.malloc(n), () => heap.free(c), () => heap.malloc(n), () => heap.malloc(n)]);
      expect(error).toBeInstanceOf(HeapCorruptionError);
      expect(blockIntact(mem, live, 400, 2)).toBe(true);
      for (const q of got) expect(overlap(q, heap.mallocUsableSize(q), live, 400)).toBe(false);
      expect(belowChanged(mem)).toBe(-1);
    });
  }
});

describe("3. a freed chunk's fd pointed inside a live block that holds a forged free chunk", () => {
  for (const n of [100, 2000]) {
    it(`(${n}-byte bin) malloc never returns memory of the live block`, () => {
      const { heap, mem, b, c, live } = binOfTwo(n);
      const size = heap.mallocUsableSize(c) + 8; // the chunk size of the bin (c is a live block of it)
      const big = n > 400;
      // The forged chunk: inside `live` for the small bin; for the large one, `live` is too
      // small, so forge it inside a bigger live block.
      const host = big ? heap.malloc(3 * n) : live;
      const hostLen = big ? 3 * n : 400;
      fillBlock(mem, host, hostLen, 3);
      const f = host + 64;
      put32(mem, f + 8, size | 2); // size, previous in use
      put32(mem, f + 16, 0); // fd: end of the bin
      put32(mem, f + 24, b - 16); // bk: back to b, as a real link would be
      put32(mem, f + size, size); // footer
      put32(mem, f + size + 8, 0x20); // the next chunk: previous (f) free
      const forged = new Uint8Array(mem.buffer).slice(host, host + hostLen);
      put32(mem, b, f); // b's fd
      const { error, got } = run([() => heap.malloc(n), () => heap.malloc(n), () => heap.malloc(n)]);
      for (const q of got) expect(overlap(q, heap.mallocUsableSize(q), host, hostLen), `malloc returned 0x${q.toString(16)}`).toBe(false);
      expect(error).toBeInstanceOf(HeapCorruptionError);
      expect(new Uint8Array(mem.buffer).slice(host, host + hostLen)).toEqual(forged);
      expect(belowChanged(mem)).toBe(-1);
    });
  }
});

describe("6. a bin-head word of the header overwritten with an address", () => {
  const binHead = (heap: Heap, idx: number): number => heap.base + 4 * (H_BINMAP + ((binCount(4) + 31) >>> 5)) + 4 * idx;
  for (const [what, x] of [
    ["below base", 0x100],
    ["the header itself", BASE + 16],
    ["a live block", 0],
  ] as const) {
    it(`(${what}): the next free of that size throws HeapCorruptionError and writes nothing there`, () => {
      const { heap, mem } = wasmHeap();
      const p = heap.malloc(100);
      heap.malloc(40);
      const live = heap.malloc(200);
      heap.malloc(40);
      fillBlock(mem, live, 200, 5);
      const target = x === 0 ? live - 16 + 32 : x;
      const header = new Uint8Array(mem.buffer).slice(BASE, heap.base + 2048);
      put32(mem, binHead(heap, 7), target); // the bin of 112-byte chunks: p's
      const { error } = run([() => heap.free(p)]);
      expect(error).toBeInstanceOf(HeapCorruptionError);
      expect(belowChanged(mem)).toBe(-1);
      expect(blockIntact(mem, live, 200, 5)).toBe(true);
      const now = new Uint8Array(mem.buffer).slice(BASE, heap.base + 2048);
      header[binHead(heap, 7) - BASE] = now[binHead(heap, 7) - BASE]!; // (the smashed word itself)
      for (let i = 1; i < 4; i++) header[binHead(heap, 7) - BASE + i] = now[binHead(heap, 7) - BASE + i]!;
      expect(now).toEqual(header);
    });
  }
});

describe("8. House of Einherjar: a one-byte overflow clears PINUSE, a forged free chunk in live data", () => {
  // A's last word is B's prev_size and the byte past A is B's size: the program forges a free
  // chunk F inside A (its links pointing at itself, so that unlinking it passes the links' own
  // checks), sets B's prev_size to B - F and clears B's PINUSE. A heap that trusts the header
  // merges B backwards into F: a free chunk over the live A.
  it("free(B) throws HeapCorruptionError; A's bytes survive and no later malloc overlaps A", () => {
    const { heap, mem } = wasmHeap();
    const a = heap.malloc(0x118); // chunk 0x120: usable 0x118, B's prev_size at a + 0x110
    const b = heap.malloc(0xf8); // chunk 0x100
    heap.malloc(40); // B does not touch the top
    fillBlock(mem, a, 0x118, 8);
    const bChunk = b - 16;
    const f = a + 0x10; // the forged chunk (16-aligned, as chunks are)
    const fsize = bChunk - f;
    put32(mem, f + 8, fsize | 2); // size, previous in use
    put32(mem, f + 16, f); // fd
    put32(mem, f + 24, f); // bk
    put32(mem, bChunk, fsize); // B's prev_size (A's last word)
    const u8 = new Uint8Array(mem.buffer);
    u8[bChunk + 8] = u8[bChunk + 8]! & ~2; // the one byte past A: B's PINUSE cleared
    const aBytes = u8.slice(a, a + 0x110);
    const { error, got } = run([() => heap.free(b), () => heap.malloc(0x1f0), () => heap.malloc(0xf0), () => heap.malloc(0x100)]);
    for (const q of got) expect(overlap(q, heap.mallocUsableSize(q), a, 0x118), `malloc returned 0x${q.toString(16)}`).toBe(false);
    expect(new Uint8Array(mem.buffer).slice(a, a + 0x110)).toEqual(aBytes);
    expect(error).toBeInstanceOf(HeapCorruptionError);
    expect(belowChanged(mem)).toBe(-1);
  });
});

describe("5. mallopt and options keep every size derived from them within 2^31", () => {
  it("M_TOP_PAD over the largest heap is refused; the largest accepted one still grows the heap soundly", () => {
    const heap = new Heap({ maxBytes: 4 << 20 });
    expect(heap.mallopt(M_TOP_PAD, 2 ** 31 - 1)).toBe(0);
    expect(heap.mallopt(M_TOP_PAD, 2 ** 30 + 1)).toBe(0);
    expect(heap.mallopt(M_TOP_PAD, 2 ** 30)).toBe(1);
    const p = heap.malloc(100_000); // more than the top: a growth padded by 1 GiB cannot happen, the exact one does
    expect(p).not.toBe(0);
    heap.check();
    heap.free(p);
    heap.check();
  });
  it("M_TRIM_THRESHOLD and M_MMAP_THRESHOLD: negative and oversized values are refused (-1 turns trimming off)", () => {
    const heap = new Heap({ maxBytes: 1 << 20 });
    expect(heap.mallopt(M_TRIM_THRESHOLD, -2)).toBe(0);
    expect(heap.mallopt(M_TRIM_THRESHOLD, -1)).toBe(1);
    expect(heap.mallopt(M_MMAP_THRESHOLD, 2 ** 31)).toBe(0);
    heap.free(heap.malloc(300_000));
    heap.check();
  });
  /** What `fn` throws: an ArgumentError whose message matches `message`. */
  const argumentError = (fn: () => unknown, message: string | RegExp, what: string): void => {
    let thrown: unknown;
    try {
      fn();
    } catch (e) {
      thrown = e;
    }
    expect(thrown, what).toBeInstanceOf(ArgumentError);
    if (typeof message === "string") expect((thrown as Error).message, what).toBe(message);
    else expect((thrown as Error).message, what).toMatch(message);
  };
  /** The header word of a setting, as the heap keeps it. */
  const setting = (heap: Heap, word: number): number => new Int32Array((heap.memory as LinearMemory).buffer)[(heap.base >>> 2) + word]!;
  it.each([
    ["M_TOP_PAD", M_TOP_PAD, H_TOPPAD, 2 ** 30, [2 ** 30 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]],
    ["M_TRIM_THRESHOLD", M_TRIM_THRESHOLD, H_TRIM, 2 ** 31 - 1, [2 ** 31, 2 ** 32 - 1, 2 ** 32 + 5, 2 ** 53 - 1]],
    ["M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, H_MMAP_THRESHOLD, 2 ** 31 - 1, [2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]],
    ["M_MMAP_MAX", M_MMAP_MAX, H_MMAP_MAX, 2 ** 31 - 1, [2 ** 31, 2 ** 32, 2 ** 53 - 1]],
  ] as const)("mallopt(%s, v): 0 for every v out of its range, the setting unchanged; 1 for the largest", (_name, param, word, largest, over) => {
    const heap = new Heap({ maxBytes: 1 << 20 });
    expect(heap.mallopt(param, 4096)).toBe(1);
    for (const v of over) {
      expect(heap.mallopt(param, v), `value ${v}`).toBe(0);
      expect(setting(heap, word)).toBe(4096);
    }
    expect(heap.mallopt(param, -2)).toBe(0);
    expect(setting(heap, word)).toBe(4096);
    expect(heap.mallopt(param, largest)).toBe(1);
    expect(setting(heap, word)).toBe(largest);
    // The heap still grows, trims and checks with the largest value.
    const ps = [100, 70_000, 300_000, 100].map((n) => heap.malloc(n));
    for (const p of ps) heap.free(p);
    heap.check();
  });
  it.each([
    ["topPad", 2 ** 30, [2 ** 30 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1]],
    ["trimThreshold", 2 ** 31 - 1, [2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]],
    ["mmapThreshold", 2 ** 31 - 1, [2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]],
    ["base", 0x7fff_0000, [0x7fff_0001, 2 ** 31 + 16, 2 ** 32, 2 ** 53 - 1]],
  ] as const)("new Heap({ %s }) past its largest value: an ArgumentError that prints the value; the largest is accepted", (name, largest, over) => {
    for (const v of over) argumentError(() => new Heap({ maxBytes: 1 << 20, [name]: v }), `Heap: ${name} ${v} is over its largest value, ${largest}`, `${name}: ${v}`);
    if (name === "base") {
      // (no memory reaches 2 GiB here: the largest base is refused for the room it leaves)
      expect(() => new Heap({ maxBytes: 1 << 20, base: largest })).toThrow(/no room for a heap/);
      return;
    }
    const heap = new Heap({ maxBytes: 4 << 20, [name]: largest });
    const ps = [100, 70_000, 300_000, 100].map((n) => heap.malloc(n));
    expect(ps.every((p) => p !== 0)).toBe(true);
    for (const p of ps) heap.free(p);
    heap.check();
  });
  it.each(["maxBytes", "initialBytes"] as const)("new Heap({ %s }) past 0x7fff0000: an ArgumentError that prints the value, before any memory is reserved", (name) => {
    for (const v of [0x7fff_0001, 2 ** 31, 2 ** 32 + 16, 2 ** 53 - 1]) argumentError(() => new Heap({ [name]: v }), new RegExp(`^Heap: ${name} ${v} is more than a heap can address`), `${name}: ${v}`);
  });
  it.each([
    ["topPad", 2 ** 30 + 1, 2 ** 30],
    ["trimThreshold", 2 ** 31, 2 ** 31 - 1],
    ["mmapThreshold", 2 ** 31, 2 ** 31 - 1],
  ] as const)("Process.spawn({ heap: { %s: %d } }): an ArgumentError that prints the value", (name, v, largest) => {
    const memory = new PhysicalMemory({ frames: 64 });
    argumentError(() => Process.spawn({ memory, heap: { [name]: v } }), `Process heap: ${name} ${v} is over its largest value, ${largest}`, name);
    const proc = Process.spawn({ memory, heap: { [name]: largest } });
    proc.heap.free(proc.heap.malloc(100));
    proc.heap.check();
  });
});

// ───────────────────────── in a worker: what could hang ─────────────────────────

const jobs: Job[] = [];
const job = <N extends Job["name"]>(id: string, name: N, params: Job<N>["params"], timeoutMs = 20_000): string => {
  jobs.push({ id, name, params, timeoutMs } as Job);
  return id;
};
const DAMAGES: AttachDamage[] = ["bare-256", "cover-zero", "top-past-end", "end-past-limit", "bitmap-outside", "arena-moved", "dv-outside", "bin-head-outside"];
job("cover", "coverPast2GiB", {}, 90_000);
for (const pad of [2 ** 31 - 1, 2 ** 30]) job(`pad/${pad}`, "hugeTopPad", { pad });
for (const damage of DAMAGES) job(`attach/${damage}`, "attachDamaged", { damage });

let results: Map<string, JobResult> = new Map();
beforeAll(async () => {
  results = await runIsolated(jobs);
}, 300_000);

function traceOf(id: string): Trace {
  const r = results.get(id);
  if (r === undefined) return expect.fail(`scenario ${id} did not run`);
  if (r.status === "hung") return expect.fail(`scenario ${id} hung (no answer within ${r.timeoutMs} ms)`);
  if (r.status === "error") return expect.fail(`scenario ${id} failed: ${r.message}`);
  const t = r.result as Trace;
  for (const e of t.errors) if (e !== null) expect(e.corruption, `${id}: ${e.name}: ${e.message}`).toBe(true);
  return t;
}

describe("4. a malloc of about 2 GiB on a heap of almost 2 GiB", () => {
  it("the in-use bitmap's coverage never wraps past 2^31: the block and the heap stay sound, nothing hangs", () => {
    const t = traceOf("cover");
    expect(t.errors.every((e) => e === null), JSON.stringify(t)).toBe(true);
    expect(t.facts.smallIntact).toBe(true);
    if (t.facts.big !== 0) expect(t.facts.bigIntact).toBe(true);
  });
});

describe("5. (in a worker) a huge M_TOP_PAD", () => {
  it.each([2 ** 31 - 1, 2 ** 30])("mallopt(M_TOP_PAD, %d), then growth: no hang, no error, the heap checks", (pad) => {
    const t = traceOf(`pad/${pad}`);
    expect(t.errors.every((e) => e === null), JSON.stringify(t)).toBe(true);
    expect(t.facts.allocated).toBeGreaterThanOrEqual(4);
  });
});

describe("7. Heap.attach validates the header's fields", () => {
  it.each(DAMAGES)("%s: attach throws HeapCorruptionError", (damage) => {
    const t = traceOf(`attach/${damage}`);
    expect(t.facts.attached, JSON.stringify(t)).toBe(false);
  });
});
