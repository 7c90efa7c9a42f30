import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { ArgumentError, DoubleFreeError, Heap, HeapCorruptionError, LinearMemory, M_TRIM_THRESHOLD, VmError } from "../../src/index.js";
import { H_BITMAP, H_LOCK } from "../../src/heap/header.js";
import { rng } from "./helpers/heapKit.js";

/** What a thread killed between two stores leaves: the call stopped there, the lock still held. */
class Killed extends Error {}

/** The engine of a concurrent heap, seen from a test (internals: the log's hook and capacity). */
interface EngineProbe {
  lgCap: number;
  count: number;
  endCall(): void;
  full: (i: number) => void;
  logAt: number;
  [op: string]: unknown;
}

type Op = { kind: "malloc" | "calloc" | "memalign"; size: number; align?: number } | { kind: "free" | "realloc"; at: number; size?: number } | { kind: "trim" };

/** A random sequence of calls (the indices of free/realloc are resolved against the live blocks when run). */
function randomOps(seed: number, n: number, big: number): Op[] {
  const rnd = rng(seed);
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
  // One lock: every call runs on the main heap's engine (arenas are cut below).
  const heap = new Heap({ memory: new LinearMemory({ maxBytes: 8 << 20 }), concurrent: true, arenas: false });
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

describe("recover, one lock (arenas: false): a call cut short at any store is undone", () => {
  // Each seed: a random sequence of calls; every call of it is cut after each of its stores in
  // turn (a fresh heap replays the sequence up to it), recovered, and compared with the heap
  // before the call. Big blocks make the heap grow past its in-use bitmap's cover and shrink
  // (the bitmap moves up, slides, moves down: copies that overlap the old bitmap).
  for (const [seed, big] of [[2, 0.3], [3, 0.5], [5, 0.7], [6, 0.05]] as const) {
    it(`seed ${seed}: every call, cut at every store`, () => {
      const ops = randomOps(seed, 48, big); // (48 calls: over 200 cuts, as only the logged stores are cut)
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
            e.endCall();
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

// ─────────────── arenas ───────────────

/** The internals of a handle that the arena test reaches into. */
interface HandleProbe {
  held: boolean;
  slot: number;
  main: EngineProbe;
  segs: Map<number, { e: EngineProbe }>;
  seg(addr: number): { e: EngineProbe & { chunks(): unknown[]; free(p: number): void } };
  area: number;
}
const probe = (h: Heap): HandleProbe => (h as unknown as { shared: HandleProbe }).shared;
const AREA_WORDS_TESTED = 7184; // the shared area's words (arenas.ts: AREA_WORDS)
const A_TABLE = 5136; // its segment table (arenas.ts: A_TABLE): a segment's address, its slot in the low bits
const SEG_OF = -(1 << 20); // a table word's segment address
const A_SLOTS = 4112;

type Who = "victim" | "other";
type AllocOp = { kind: "malloc" | "calloc" | "memalign"; size: number; align?: number; by: Who };
type FreeOp = { kind: "free" | "realloc"; at: number; size?: number; by: Who; whose: Who };
type ArenaOp = AllocOp | FreeOp;

function arenaOps(seed: number, n: number): ArenaOp[] {
  const rnd = rng(seed);
  const size = (): number => (rnd() < 0.6 ? 1 + Math.floor(rnd() * 600) : rnd() < 0.8 ? 600 + Math.floor(rnd() * 8000) : rnd() < 0.7 ? 8000 + Math.floor(rnd() * 50000) : 65536 + Math.floor(rnd() * 100000));
  const ops: ArenaOp[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    // The victim's own calls; its calls on the other's blocks; the other's blocks; the other
    // freeing the victim's blocks (pushed on the victim's remote frees: freed at its next call).
    if (r < 0.25) ops.push({ kind: "malloc", size: size(), by: "victim" });
    else if (r < 0.3) ops.push({ kind: "calloc", size: size(), by: "victim" });
    else if (r < 0.35) ops.push({ kind: "memalign", size: size(), align: 32 << Math.floor(rnd() * 6), by: "victim" });
    else if (r < 0.5) ops.push({ kind: "free", at: rnd(), by: "victim", whose: "victim" });
    else if (r < 0.58) ops.push({ kind: "realloc", at: rnd(), size: size(), by: "victim", whose: "victim" });
    else if (r < 0.63) ops.push({ kind: "free", at: rnd(), by: "victim", whose: "other" });
    else if (r < 0.67) ops.push({ kind: "realloc", at: rnd(), size: size(), by: "victim", whose: "other" });
    else if (r < 0.8) ops.push({ kind: "malloc", size: size(), by: "other" });
    else ops.push({ kind: "free", at: rnd(), by: "other", whose: "victim" });
  }
  return ops;
}

interface ArenaState {
  observer: Heap; // the heap's maker: takes the pictures, recovers
  victim: Heap; // an attached handle (thread id 77) whose calls are cut
  live: { victim: Array<[number, number]>; other: Array<[number, number]> };
}

function arenaFresh(): ArenaState {
  const observer = new Heap({ memory: new LinearMemory({ maxBytes: 32 << 20 }), concurrent: true });
  const victim = Heap.attach((observer.memory as LinearMemory).buffer, { threadId: 77 });
  return { observer, victim, live: { victim: [], other: [] } };
}

/** Runs `op`; the blocks a handle allocated are its own list's, whoever frees them. */
function arenaApply(st: ArenaState, op: ArenaOp): { target: number } {
  const heap = op.by === "victim" ? st.victim : st.observer;
  if (op.kind === "malloc" || op.kind === "calloc" || op.kind === "memalign") {
    const p = op.kind === "malloc" ? heap.malloc(op.size) : op.kind === "calloc" ? heap.calloc(1, op.size) : heap.memalign(op.align!, op.size);
    if (p !== 0) {
      fill(st.observer, p, op.size);
      st.live[op.by].push([p, op.size]);
    }
    return { target: -1 };
  }
  const f = op as FreeOp;
  const list = st.live[f.whose];
  if (list.length === 0) return { target: -1 };
  const k = Math.floor(f.at * list.length);
  const [p, n] = list[k]!;
  if (op.kind === "free") {
    heap.free(p);
    list.splice(k, 1);
  } else {
    const q = heap.realloc(p, f.size!);
    if (q !== 0) {
      fill(st.observer, q, f.size!);
      list[k] = [q, f.size!];
    } else {
      list[k] = [p, n];
    }
  }
  return { target: p };
}

interface ArenaPicture {
  /** Segment address → its sub-heap's chunks. */
  segs: Map<number, unknown[]>;
  /** The main heap's blocks that are not segments: [pointer, size]. */
  mainBlocks: string;
  bytes: string;
}

/**
 * The heap as the observer sees it (after check(), which takes every arena and frees its
 * remote frees): each segment's chunks, the main heap's own blocks, every block's bytes but
 * `except`'s (see picture()).
 */
function arenaPicture(st: ArenaState, except: number): ArenaPicture {
  const { observer } = st;
  const sh = probe(observer);
  const v = new Int32Array((observer.memory as LinearMemory).buffer);
  observer.check();
  const info = observer.mallinfo();
  expect(info.uordblks + info.fordblks).toBe(info.arena);
  const segs = new Map<number, unknown[]>();
  for (let i = 0; i < 2048; i++) {
    const a = v[sh.area + A_TABLE + i]! & SEG_OF;
    if (a !== 0 && !segs.has(a)) segs.set(a, sh.seg(a).e.chunks());
  }
  const mainBlocks = JSON.stringify(observer.chunks().filter((c) => c.kind === "used" && !segs.has(c.ptr)).map((c) => [c.ptr, c.size]));
  const u8 = (observer.memory as LinearMemory).u8;
  const bytes = JSON.stringify(
    [...st.live.victim, ...st.live.other]
      .filter(([p]) => p !== except)
      .map(([p, n]) => {
        let bad = 0;
        for (let i = 0; i < n; i++) if (u8[p + i] !== pattern(p, i)) bad++;
        return bad;
      }),
  );
  return { segs, mainBlocks, bytes };
}

/**
 * After a cut call was recovered: every segment that was there is exactly as it was, the main
 * heap has the same blocks, every block the same bytes. A segment the call had made may stay
 * (making one is a call on the main heap of its own, done before the cut), empty.
 */
function expectSame(after: ArenaPicture, before: ArenaPicture, where: string): void {
  expect(after.bytes, where).toBe(before.bytes);
  expect(after.mainBlocks, where).toBe(before.mainBlocks);
  for (const [a, chunks] of before.segs) expect(JSON.stringify(after.segs.get(a)), `${where}: segment 0x${a.toString(16)}`).toBe(JSON.stringify(chunks));
  for (const [a, chunks] of after.segs) {
    if (!before.segs.has(a)) expect((chunks as Array<{ kind: string }>).filter((c) => c.kind === "used"), `${where}: new segment 0x${a.toString(16)}`).toEqual([]);
  }
}

describe("recover, arenas: a call cut short at any store is undone", () => {
  // As above, through the arenas: a handle (thread 77) makes the calls, another (this heap's
  // maker) allocates blocks the first frees and frees blocks of the first's (pushed on its
  // remote frees while it keeps its arena, freed at its next call: those frees are cut too).
  // Every logged store of every log counts (the unlogged stores of the derived words, chunk map
  // and bin bitmap, made before it too); the cut leaves the logs and locks as a killed thread
  // would.
  for (const seed of [11, 12, 13]) {
    it(`seed ${seed}: every call of thread 77, cut at every store`, () => {
      const ops = arenaOps(seed, 40);
      let cuts = 0;
      let drainCuts = 0;
      for (let victim = 0; victim < ops.length; victim++) {
        if (ops[victim]!.by !== "victim") continue;
        for (let k = 0; ; k++) {
          // The picture before the call is taken on a replica (the same calls on a heap of its
          // own: the same addresses): check() frees the remote frees, which the call must find.
          const replica = arenaFresh();
          for (let i = 0; i < victim; i++) arenaApply(replica, ops[i]!);
          const st = arenaFresh();
          for (let i = 0; i < victim; i++) arenaApply(st, ops[i]!);
          const op = ops[victim]!;
          let target = -1;
          if (op.kind === "free" || op.kind === "realloc") {
            const list = st.live[op.whose];
            if (list.length > 0) target = list[Math.floor(op.at * list.length)]![0];
          }
          const before = arenaPicture(replica, target);
          const v = new Int32Array((st.observer.memory as LinearMemory).buffer);
          const sh = probe(st.victim);
          const remoteFrees = sh.slot >= 0 && v[sh.area + A_SLOTS + 16 * sh.slot + 2] !== 0; // (S_REMOTE: the call starts by freeing them)
          // Every engine logs through `full`, which counts the stores and dies at the k-th.
          const proto = Object.getPrototypeOf(sh.main) as { full: (i: number) => void; constructor: { open: (...a: unknown[]) => EngineProbe } };
          const EngineC = proto.constructor;
          const open = EngineC.open;
          const engines = [sh.main, ...[...sh.segs.values()].map((g) => g.e), probe(st.observer).main, ...[...probe(st.observer).segs.values()].map((g) => g.e)];
          for (const e of engines) e.lgCap = 0;
          EngineC.open = (...a: unknown[]) => {
            const e = open.apply(EngineC, a);
            e.lgCap = 0;
            return e;
          };
          let budget = k;
          let saved: Array<[number, number]> = [];
          const full = proto.full;
          proto.full = function (this: EngineProbe, i: number): void {
            if (budget-- === 0) {
              // The words a killed thread leaves as they are and finally blocks would change:
              // log counts and lock words (the shared area, arenas' logs, the main lock).
              saved = [];
              for (let w = 0; w < AREA_WORDS_TESTED; w++) saved.push([sh.area + w, v[sh.area + w]!]);
              for (let s = 0; s < 64; s++) {
                const log = v[sh.area + A_SLOTS + 16 * s + 9]! >>> 2;
                if (log !== 0) saved.push([log, v[log]!]);
              }
              saved.push([(st.observer.base >>> 2) + 2, v[(st.observer.base >>> 2) + 2]!]);
              throw new Killed();
            }
            const lg = this.logAt;
            const n = this.count;
            v[lg + 1 + n] = i;
            v[lg + 2 + n] = v[i]!;
            v[lg] = n + 2;
            this.count = n + 2;
          };
          let killed = false;
          try {
            arenaApply(st, op);
          } catch (err) {
            if (!(err instanceof Killed)) throw err;
            killed = true;
          } finally {
            proto.full = full;
            EngineC.open = open;
            for (const e of engines) e.lgCap = 4096;
          }
          if (!killed) break; // the call made fewer than k stores: every cut of it was tried
          cuts++;
          if (remoteFrees) drainCuts++;
          for (const [w, x] of saved) v[w] = x;
          sh.held = false; // (the dead handle's own idea of its arena: it is dead)
          const where = `seed ${seed}, call ${victim} (${JSON.stringify(op)}), cut after ${k} stores`;
          expect(st.observer.recover(77), where).toBe(true);
          expectSame(arenaPicture(st, target), before, where);
          // The chunk maps and bin bitmaps, stored without a log and rebuilt by recover, agree
          // with the chunks and the bins (check() reads them all; it frees the remote frees too).
          st.observer.check();
        }
      }
      expect(cuts).toBeGreaterThan(200);
      expect(drainCuts).toBeGreaterThan(0);
    }, 300_000);
  }
});

describe("recover, arenas: the steps between logged stores", () => {
  /** A heap, a handle (thread 77) with blocks p and q of its arena, and the words of its slot. */
  function setup(): { observer: Heap; victim: Heap; p: number; q: number; v: Int32Array; sa: number; sh: HandleProbe } {
    const observer = new Heap({ memory: new LinearMemory({ maxBytes: 32 << 20 }), concurrent: true });
    const victim = Heap.attach((observer.memory as LinearMemory).buffer, { threadId: 77 });
    const p = victim.malloc(200);
    const q = victim.malloc(300);
    fill(observer, q, 300);
    const sh = probe(victim);
    return { observer, victim, p, q, v: new Int32Array((observer.memory as LinearMemory).buffer), sa: sh.area + A_SLOTS + 16 * sh.slot, sh };
  }

  it("a thread that died after freeing a remote free but before unmarking it: the mark goes", () => {
    const { observer, p, q, v, sa, sh } = setup();
    observer.free(p); // the victim keeps its arena: pushed, marked pending
    expect(v[sa + 2]).toBe(p);
    // The victim's drain of it, up to the end of its call: list taken off, p freed, S_DRAINED = p.
    const g = sh.seg(v[sh.area + A_TABLE + (p >>> 20)]! & SEG_OF);
    v[sa + 5] = p; // S_DETACHED
    v[sa + 2] = 0; // S_REMOTE
    g.e.free(p);
    v[sa + 6] = p; // S_DRAINED
    v[sa + 5] = 0;
    g.e.endCall(); // ... and it dies before clearing p's pending bit.
    sh.held = false;
    expect(observer.recover(77)).toBe(true);
    observer.check(); // no block left marked
    const again = observer.malloc(200); // (p's memory, perhaps) taken and freed from another thread again
    observer.free(again);
    expect((observer.memory as LinearMemory).u8[q + 299]).toBe(pattern(q, 299));
    observer.check();
  });

  it("a thread that died between marking a block and pushing it: the block stays live and freeable", () => {
    const { observer, victim, p, v, sh } = setup();
    const other = Heap.attach((observer.memory as LinearMemory).buffer, { threadId: 88 });
    const r = other.malloc(100); // other's arena (other keeps it)
    const os = probe(other);
    const osa = os.area + A_SLOTS + 16 * os.slot;
    // The victim frees r: other holds its arena, so r is to be pushed. It marks r, notes the
    // push in its slot, and dies before the compare-and-swap.
    const g = sh.seg(v[sh.area + A_TABLE + (r >>> 20)]! & SEG_OF) as unknown as { pending: number; shift: number; addr: number };
    const bit = (r - g.addr) >>> g.shift;
    Atomics.or(v, g.pending + (bit >>> 5), 1 << (bit & 31));
    const vsa = sh.area + A_SLOTS + 16 * sh.slot;
    v[vsa + 7] = r; // S_PUSH
    v[vsa + 8] = os.slot + 1; // S_PUSH_TO
    sh.held = false;
    expect(v[osa + 2]).toBe(0); // not on other's list
    expect(observer.recover(77)).toBe(true);
    expect(v[vsa + 7]).toBe(0);
    observer.check(); // r is not marked any more
    other.free(r); // and its owner frees it as any block
    expect(() => other.free(r)).toThrow(DoubleFreeError);
    other.check();
    void victim;
    void p;
  });
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
