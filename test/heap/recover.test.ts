import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { ArgumentError, Heap, HeapCorruptionError, LinearMemory, M_TRIM_THRESHOLD, VmError } from "../../src/index.js";
import { H_BITMAP, H_LOCK } from "../../src/heap/header.js";

/** What a thread killed between two stores leaves: the call stopped there, the lock still held. */
class Killed extends Error {}

/** The engine of a concurrent heap, seen from a test (internals: the log's hook and capacity). */
interface EngineProbe {
  lgCap: number;
  full: (i: number) => void;
  logAt: number;
  [op: string]: unknown;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Op = { kind: "malloc" | "calloc" | "memalign"; size: number; align?: number } | { kind: "free" | "realloc"; at: number; size?: number } | { kind: "trim" };

/** A random sequence of calls (the indices of free/realloc are resolved against the live blocks when run). */
function randomOps(seed: number, n: number, big: number): Op[] {
  const rnd = mulberry32(seed);
  const size = (): number => (rnd() >= big ? 1 + Math.floor(rnd() * 600) : rnd() < 0.5 ? 600 + Math.floor(rnd() * 3000) : 3000 + Math.floor(rnd() * 30000));
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.4) ops.push({ kind: "malloc", size: size() });
    else if (r < 0.45) ops.push({ kind: "calloc", size: size() });
    else if (r < 0.5) ops.push({ kind: "memalign", size: size(), align: 32 << Math.floor(rnd() * 6) });
    else if (r < 0.8) ops.push({ kind: "free", at: rnd() });
    else if (r < 0.97) ops.push({ kind: "realloc", at: rnd(), size: size() });
    else ops.push({ kind: "trim" });
  }
  return ops;
}

interface State {
  heap: Heap;
  live: Array<[number, number]>; // pointer, size
}

const pattern = (p: number, i: number): number => (p * 7 + i * 13) & 0xff;

function fill(heap: Heap, p: number, n: number): void {
  const u8 = (heap.memory as LinearMemory).u8;
  for (let i = 0; i < n; i++) u8[p + i] = pattern(p, i);
}

/** Runs `op` on `target` (the heap, or its engine), keeping the model of live blocks. */
function apply(st: State, op: Op, target: { [k: string]: unknown }): void {
  const call = (name: string, ...args: number[]): number => (target[name] as (...a: number[]) => number).apply(target, args);
  const { heap, live } = st;
  switch (op.kind) {
    case "malloc":
    case "calloc":
    case "memalign": {
      const p = op.kind === "malloc" ? call("malloc", op.size) : op.kind === "calloc" ? call("calloc", 1, op.size) : call("memalign", op.align!, op.size);
      if (p !== 0) {
        fill(heap, p, op.size);
        live.push([p, op.size]);
      }
      return;
    }
    case "free":
    case "realloc": {
      if (live.length === 0) return;
      const k = Math.floor(op.at * live.length);
      const [p, n] = live[k]!;
      if (op.kind === "free") {
        call("free", p);
        live.splice(k, 1);
        return;
      }
      const q = call("realloc", p, op.size!);
      if (q !== 0) {
        fill(heap, q, op.size!);
        live[k] = [q, op.size!];
      } else {
        live[k] = [p, n];
      }
      return;
    }
    case "trim":
      call("mallocTrim", 0);
  }
}

function fresh(): State {
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 8 << 20 }), concurrent: true });
  heap.mallopt(M_TRIM_THRESHOLD, 8192); // trims (and moves of the bitmap) happen often
  return { heap, live: [] };
}

/**
 * Everything a call may change that must come back: header words, chunks, totals, the bytes of
 * every block but `except` (the block the call frees or resizes: the dead thread was giving its
 * contents up, and the undo gives back the block but not always its bytes).
 */
function picture(st: State, except = -1): string {
  const { heap } = st;
  const live = st.live.filter(([p]) => p !== except);
  const hdr = heap.base;
  const words = Array.from(new Int32Array((heap.memory as LinearMemory).buffer, hdr, 64 + 64));
  const bytes = live.map(([p, n]) => {
    const u8 = (heap.memory as LinearMemory).u8;
    let bad = 0;
    for (let i = 0; i < n; i++) if (u8[p + i] !== pattern(p, i)) bad++;
    return bad;
  });
  return JSON.stringify({ words, chunks: heap.chunks(), info: heap.mallinfo(), bytes });
}

describe("recover: a call cut short at any store is undone", () => {
  // Each seed: a random sequence of calls; every call of it is cut after each of its stores in
  // turn (a fresh heap replays the sequence up to it), recovered, and compared with the heap
  // before the call. Big blocks make the heap grow past its in-use bitmap's cover and shrink
  // (the bitmap moves up, slides, moves down: copies that overlap the old bitmap).
  for (const [seed, big] of [[2, 0.3], [3, 0.5], [5, 0.7], [6, 0.05]] as const) {
    it(`seed ${seed}: every call, cut at every store`, () => {
      const ops = randomOps(seed, 32, big);
      let cuts = 0;
      let moves = 0;
      for (let victim = 0; victim < ops.length; victim++) {
        for (let k = 0; ; k++) {
          const st = fresh();
          for (let i = 0; i < victim; i++) apply(st, ops[i]!, st.heap as unknown as { [k: string]: unknown });
          const op = ops[victim]!;
          const target = (op.kind === "free" || op.kind === "realloc") && st.live.length > 0 ? st.live[Math.floor(op.at * st.live.length)]![0] : -1;
          const before = picture(st, target);
          const shared = (st.heap as unknown as { shared: { main: EngineProbe; id: number } }).shared;
          const e = shared.main;
          const v = new Int32Array((st.heap.memory as LinearMemory).buffer);
          // This thread takes the lock as the call would, and the call dies after k stores.
          expect(Atomics.compareExchange(v, (st.heap.base >>> 2) + H_LOCK, 0, shared.id)).toBe(0);
          const cap = e.lgCap;
          e.lgCap = 2 * k;
          e.full = () => {
            throw new Killed();
          };
          let killed = false;
          try {
            apply(st, op, e);
          } catch (err) {
            if (!(err instanceof Killed)) throw err;
            killed = true;
          }
          delete (e as { full?: unknown }).full;
          e.lgCap = cap;
          if (!killed) {
            // The call finished within k stores: all its interruptions were tried.
            if (v[(st.heap.base >>> 2) + H_BITMAP] !== (JSON.parse(before) as { words: number[] }).words[H_BITMAP]) moves++;
            Atomics.store(v, (st.heap.base >>> 2) + H_LOCK, 0);
            v[e.logAt] = 0;
            break;
          }
          cuts++;
          // (The model is as before the call: the call threw before apply() recorded anything.)
          expect(st.heap.recover(st.heap.threadId), `seed ${seed}, call ${victim}, cut after ${k} stores`).toBe(true);
          st.heap.check();
          expect(picture(st, target), `seed ${seed}, call ${victim} (${JSON.stringify(op)}), cut after ${k} stores`).toBe(before);
          expect(st.heap.recover(st.heap.threadId)).toBe(false); // nothing left to recover
        }
      }
      expect(cuts).toBeGreaterThan(200);
      if (big > 0.1) expect(moves).toBeGreaterThan(0);
    }, 120_000);
  }
});

describe("recover", () => {
  it("refuses a call that made more stores than its log holds", () => {
    const heap = new Heap({ concurrent: true });
    const shared = (heap as unknown as { shared: { main: EngineProbe; id: number } }).shared;
    const v = new Int32Array((heap.memory as LinearMemory).buffer);
    Atomics.store(v, (heap.base >>> 2) + H_LOCK, shared.id);
    const e = shared.main;
    e.lgCap = 2;
    (e.malloc as (n: number) => number).call(e, 100); // more than one store: the log overflows, the call goes on
    e.lgCap = 4096;
    expect(() => heap.recover(heap.threadId)).toThrow(VmError);
  });

  it("a concurrent heap's header without its shared area is refused on attach", () => {
    const heap = new Heap({ concurrent: true });
    const buf = (heap.memory as LinearMemory).buffer;
    const copy = new SharedArrayBuffer(buf.byteLength);
    new Uint8Array(copy).set(new Uint8Array(buf));
    const area = (heap as unknown as { shared: { main: { areaWord: number } } }).shared.main.areaWord;
    new Int32Array(copy)[area] = 0;
    expect(() => Heap.attach(copy)).toThrow(HeapCorruptionError);
  });

  it("returns false on a heap that is not concurrent, and for a thread that held nothing", () => {
    const heap = new Heap();
    expect(heap.recover(3)).toBe(false);
    expect(heap.threadId).toBe(-1);
    const shared = new Heap({ concurrent: true });
    shared.free(shared.malloc(10));
    expect(shared.recover(12345)).toBe(false);
    shared.check();
  });

  it("takes only a thread id", () => {
    const heap = new Heap({ concurrent: true });
    for (const bad of [-1, 1.5, Number.NaN, "1" as unknown as number]) expect(() => heap.recover(bad)).toThrow(ArgumentError);
  });

  it("attach takes the thread id the calls carry", () => {
    const heap = new Heap({ concurrent: true });
    const other = Heap.attach((heap.memory as LinearMemory).buffer, { threadId: 41 });
    expect(other.threadId).toBe(41);
    expect(() => Heap.attach((heap.memory as LinearMemory).buffer, { threadId: -2 })).toThrow(ArgumentError);
  });
});

// The workers load the built package (dist/), as an application's workers would.
const dist = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const workerFile = fileURLToPath(new URL("./fixtures/recoverWorker.mjs", import.meta.url));

describe("recover after worker.terminate()", () => {
  it.skipIf(!existsSync(dist))("workers killed at random points block nobody: 50 kills, each followed by recover and check", async () => {
    const heap = new Heap({ memory: new LinearMemory({ maxBytes: 64 << 20 }), concurrent: true });
    const buffer = heap.memory.buffer as SharedArrayBuffer;
    const u8 = new Uint8Array(buffer);
    const stop = new SharedArrayBuffer(4);
    const start = (id: number, role: string): Worker =>
      new Worker(workerFile, { workerData: { distUrl: pathToFileURL(dist).href, buffer, id, role, stop } });
    // This thread's own blocks, and a worker that keeps churning through all the kills.
    const mine: Array<[number, number]> = [];
    for (let i = 0; i < 200; i++) {
      const n = 1 + ((i * 97) % 1500);
      const p = heap.malloc(n);
      u8.fill(i & 0xff, p, p + n);
      mine.push([p, n]);
    }
    const survivor = start(1, "survivor");
    const report = new Promise<{ handled: number; mismatches: number }>((resolve, reject) => {
      survivor.once("message", resolve);
      survivor.once("error", reject);
    });
    let seed = 0x2545f491;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    let held = 0;
    const kills = 50;
    const started = (w: Worker): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        w.once("message", () => resolve());
        w.once("error", reject);
      });
    // The next victim boots while the current one churns (worker start-up is most of the time).
    let next = start(100, "victim");
    let nextStarted = started(next);
    for (let k = 0; k < kills; k++) {
      const victim = next;
      await nextStarted;
      if (k + 1 < kills) {
        next = start(101 + k, "victim");
        nextStarted = started(next);
      }
      await new Promise((r) => setTimeout(r, rnd() * 4));
      const threadId = victim.threadId;
      await victim.terminate();
      if (heap.recover(threadId)) held++;
      heap.check();
      for (const [i, [p, n]] of mine.entries()) {
        if (!u8.subarray(p, p + n).every((b) => b === (i & 0xff))) throw new Error(`block ${i} at 0x${p.toString(16)} changed after kill ${k}`);
      }
      // The heap takes calls again: a block of this thread's, freed and taken anew.
      const j = k % mine.length;
      heap.free(mine[j]![0]);
      const n = mine[j]![1];
      const p = heap.malloc(n);
      u8.fill(j & 0xff, p, p + n);
      mine[j] = [p, n];
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    const r = await report;
    expect(r.mismatches).toBe(0);
    expect(r.handled).toBeGreaterThan(1000);
    // Most kills land inside a call: the heap's lock was held, and the call undone.
    expect(held).toBeGreaterThan(0);
    heap.check();
    for (const [p] of mine) heap.free(p);
    heap.check();
    console.log(`recover: ${kills} workers killed, ${held} of them inside a call`);
  }, 120_000);
});
