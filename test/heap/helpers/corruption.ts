/**
 * Corruption scenarios for the robustness tests. Each builds a small heap, breaks it the way a
 * buggy C program would (a write past the end of a block, a write into a freed block), then
 * lets the heap touch the damage, and reports what happened as plain data.
 *
 * They run in a worker thread (see isolated.ts), so a scenario that hangs the heap can be
 * stopped and reported instead of hanging the test run; so nothing here may use vitest.
 */
import fc from "fast-check";
import { Heap, HeapCorruptionError, M_TOP_PAD, type LinearMemory } from "../../../src/index.js";
import { H_COVER } from "../../../src/heap/header.js";
import { wasmEngine } from "../../../src/heap/wasm/index.js";
import { forgeryFuzz, type ForgeryEngine, type ForgeryReport } from "./forgery.js";

/** An error a step threw. */
export interface Thrown {
  name: string;
  message: string;
  /** Whether it is a `HeapCorruptionError`. */
  corruption: boolean;
}

/** One call made on the damaged heap. */
export interface Step {
  op: string;
  threw: Thrown | null;
  value: number | null;
}

/** What a scenario observed. */
export interface Outcome {
  /** Why the scenario did not apply (the garbage changed nothing that matters), or null. */
  skipped: string | null;
  steps: Step[];
  /** Silent wrong answers seen: overlapping blocks, changed contents of live blocks. */
  problems: string[];
  /** Scenario-specific facts (for example whether a free-list link was changed). */
  facts: Record<string, boolean | number | string>;
}

function describeError(e: unknown): Thrown {
  if (e instanceof Error) return { name: e.name, message: e.message, corruption: e instanceof HeapCorruptionError };
  return { name: typeof e, message: String(e), corruption: false };
}

/** Runs `fn` as a step; returns false when it threw (the scenario should stop). */
function step(steps: Step[], op: string, fn: () => number | void): boolean {
  try {
    const v = fn();
    steps.push({ op, threw: null, value: typeof v === "number" ? v : null });
    return true;
  } catch (e) {
    steps.push({ op, threw: describeError(e), value: null });
    return false;
  }
}

const pat = (seed: number, i: number): number => (seed * 73 + i * 31 + 5) & 0xff;

/** Fills block `p` with the pattern of `seed`, its first `zeros` bytes with 0 (null pointers). */
function fill(heap: Heap<LinearMemory>, p: number, seed: number, zeros = 0): void {
  const u8 = heap.memory.u8;
  const n = heap.mallocUsableSize(p);
  for (let i = 0; i < n; i++) u8[p + i] = i < zeros ? 0 : pat(seed, i);
}

function intact(heap: Heap<LinearMemory>, p: number, len: number, seed: number, zeros = 0): boolean {
  const u8 = heap.memory.u8;
  for (let i = 0; i < len; i++) if (u8[p + i] !== (i < zeros ? 0 : pat(seed, i))) return false;
  return true;
}

// ───────────────────────── overflow into the next chunk's header ─────────────────────────

/** What follows the overflowing block. */
export type Neighbour = "in-use" | "free" | "top";
/** What touches the damage first. */
export type SmashOp = "free" | "realloc-grow-in-place" | "realloc-grow-move" | "realloc-shrink" | "check";

export const NEIGHBOURS: readonly Neighbour[] = ["in-use", "free", "top"];
export const SMASH_OPS: readonly SmashOp[] = ["free", "realloc-grow-in-place", "realloc-grow-move", "realloc-shrink", "check"];

/**
 * Plausible-looking damage to the next chunk's size field (its low 32 bits), instead of raw
 * garbage: flags flipped, the size off by one granule, a size that swallows the chunk after.
 */
export type SizeTransform = "clear-pinuse" | "flip-cinuse" | "plus16" | "minus16" | "min-chunk" | "double" | "zero" | "huge" | "huge-in-use";
export const SIZE_TRANSFORMS: readonly SizeTransform[] = ["clear-pinuse", "flip-cinuse", "plus16", "minus16", "min-chunk", "double", "zero", "huge", "huge-in-use"];

export interface SmashParams {
  neighbour: Neighbour;
  op: SmashOp;
  /** The bytes written past the end of the block. */
  bytes: number[];
  /** Where they start, counted from the end of the usable size (0: right after it). */
  offset: number;
  /** When set, rewrites the size field this way instead of writing `bytes`. */
  transform?: SizeTransform;
}

/**
 * A 100-byte block `b` (usable 104, lp64) followed by `neighbour`; writes `bytes` at
 * `b + mallocUsableSize(b) + offset` (the next chunk's size field starts right there), then
 * runs `op` on `b` and, when that did not throw, `check()` and a little more traffic.
 */
export function smash(p: SmashParams): Outcome {
  const heap = new Heap({ maxBytes: 1 << 20 });
  const steps: Step[] = [];
  const problems: string[] = [];
  const first = heap.malloc(64);
  const b = heap.malloc(100);
  fill(heap, first, 1);
  fill(heap, b, 2);
  let guard = 0;
  if (p.neighbour !== "top") {
    const n = heap.malloc(200);
    fill(heap, n, 3);
    guard = heap.malloc(32);
    fill(heap, guard, 4);
    if (p.neighbour === "free") heap.free(n);
  }
  const usable = heap.mallocUsableSize(b);
  const dv = heap.memory.dv;
  const sizeAt = b + usable;
  const oldLow = dv.getUint32(sizeAt, true);
  const oldHigh = dv.getUint32(sizeAt + 4, true);
  if (p.transform === undefined) {
    heap.memory.u8.set(p.bytes, sizeAt + p.offset);
  } else {
    const size = oldLow & ~7;
    const flags = oldLow & 7;
    const v = {
      "clear-pinuse": oldLow & ~2,
      "flip-cinuse": oldLow ^ 1,
      plus16: (size + 16) | flags,
      minus16: (size - 16) | flags,
      "min-chunk": 32 | flags,
      double: (size * 2) | flags,
      zero: 0,
      huge: 0xfffffff0 | flags,
      "huge-in-use": (0x0100_0000 + size) | 3, // 16 MiB more, both flags set
    }[p.transform];
    dv.setUint32(sizeAt, v >>> 0, true);
  }
  const newLow = dv.getUint32(sizeAt, true);
  const newHigh = dv.getUint32(sizeAt + 4, true);
  // A size no heap could have (glibc: "invalid next size" when <= 2·SIZE_SZ or >= system_mem)
  // must be caught by the first call that reads it; a plausible one, at the latest by check().
  const n = sizeAt - 8;
  const newSize = (newLow & ~7) >>> 0;
  const implausible = newHigh !== 0 || newSize < 32 || newSize % 16 !== 0 || n + newSize > heap.mallinfo().arena;
  const facts = { oldLow, newLow, oldHigh, newHigh, implausible, neighbour: p.neighbour };
  // Bit 2 is not part of the size nor a flag the heap uses: a change there alone smashes nothing.
  if (((oldLow ^ newLow) & ~4) === 0 && oldHigh === newHigh) return { skipped: "size field unchanged", steps, problems, facts };

  const ops: Record<SmashOp, () => number | void> = {
    free: () => heap.free(b),
    "realloc-grow-in-place": () => heap.realloc(b, usable + 48),
    "realloc-grow-move": () => heap.realloc(b, 4000),
    "realloc-shrink": () => heap.realloc(b, 8),
    check: () => heap.check(),
  };
  if (!step(steps, p.op, ops[p.op])) return { skipped: null, steps, problems, facts };
  if (!step(steps, "check", () => heap.check())) return { skipped: null, steps, problems, facts };
  // Undetected so far: more traffic, then check again.
  const got: number[] = [];
  for (const n of [16, 100, 200, 5000]) {
    if (!step(steps, `malloc(${n})`, () => {
      const q = heap.malloc(n);
      got.push(q);
      return q;
    })) return { skipped: null, steps, problems, facts };
  }
  if (!intact(heap, first, heap.mallocUsableSize(first), 1)) problems.push("the block before the overflow changed");
  if (guard !== 0 && !intact(heap, guard, heap.mallocUsableSize(guard), 4)) problems.push("the guard block changed");
  for (const q of got) if (!step(steps, "free", () => heap.free(q))) return { skipped: null, steps, problems, facts };
  step(steps, "check", () => heap.check());
  return { skipped: null, steps, problems, facts };
}

// ───────────────────────── use after free: writes into a freed block's links ─────────────────────────

/** Which freed block of a bin of three (c → b → a) gets written. */
export type UafTarget = "head" | "middle" | "tail";
/** Named link values; `null` means the raw `bytes` are written instead. */
export type UafLink = "self" | "live" | "zero" | "other-free" | "misaligned" | "outside" | null;

export interface UafParams {
  target: UafTarget;
  /** Request size of the blocks (100: an exact small bin; 2000: a large TLSF bin). */
  size: number;
  link: UafLink;
  /** Up to 16 raw bytes written at the freed block's pointer (when `link` is null). */
  bytes: number[];
  /** "check": call check() right after the write; "traffic": malloc/free without checking. */
  mode: "check" | "traffic";
}

/**
 * Blocks a, b, c of `size` bytes separated by live guards g1..g3 (of another size), then a,
 * b, c freed (their bin reads c → b → a). Writes into the target's first 16 bytes (fd, bk),
 * then either checks the heap or allocates and frees through the damage, recording any block
 * handed out twice or over a live block.
 */
export function useAfterFree(p: UafParams): Outcome {
  const heap = new Heap({ maxBytes: 4 << 20 });
  const steps: Step[] = [];
  const problems: string[] = [];
  const [a, g1, b, g2, c, g3] = [heap.malloc(p.size), heap.malloc(40), heap.malloc(p.size), heap.malloc(40), heap.malloc(p.size), heap.malloc(40)] as const;
  const guards = [g1, g2, g3];
  guards.forEach((g, i) => fill(heap, g, 10 + i, 16));
  heap.free(a);
  heap.free(b);
  heap.free(c);
  const t = { head: c, middle: b, tail: a }[p.target];
  const dv = heap.memory.dv;
  const oldFd = dv.getUint32(t, true);
  const oldBytes = heap.memory.u8.slice(t, t + 16);
  const links: Record<Exclude<UafLink, null>, number> = {
    self: t - 16,
    live: g1 - 16,
    zero: 0,
    // head: skip b; middle: back to c, a cycle; tail: back to b, a cycle
    "other-free": p.target === "head" ? a - 16 : p.target === "middle" ? c - 16 : b - 16,
    misaligned: b - 16 + 8,
    outside: 0x7fff_fff0,
  };
  if (p.link !== null) {
    dv.setUint32(t, links[p.link], true);
    dv.setUint32(t + 4, 0, true);
  } else {
    heap.memory.u8.set(p.bytes.slice(0, 16), t);
  }
  const newFd = dv.getUint32(t, true);
  const changed = heap.memory.u8.slice(t, t + 16).some((x, i) => x !== oldBytes[i]);
  const facts = { fdChanged: oldFd !== newFd, changed };
  if (!changed) return { skipped: "nothing changed", steps, problems, facts };

  if (p.mode === "check") {
    step(steps, "check", () => heap.check());
    return { skipped: null, steps, problems, facts };
  }
  // Traffic: every block handed out must be new and must not overlap a live one.
  const live = new Map<number, number>(guards.map((g) => [g, heap.mallocUsableSize(g)]));
  const got: number[] = [];
  const take = (n: number): boolean =>
    step(steps, `malloc(${n})`, () => {
      const q = heap.malloc(n);
      if (q === 0) return q;
      const len = Math.max(1, heap.mallocUsableSize(q), n);
      if (live.has(q)) problems.push(`malloc(${n}) returned 0x${q.toString(16)}, which is already live`);
      for (const [x, xl] of live) {
        if (x !== q && q < x + xl && x < q + len) problems.push(`malloc(${n}) returned 0x${q.toString(16)}+${len}, overlapping live 0x${x.toString(16)}+${xl}`);
      }
      live.set(q, len);
      got.push(q);
      // A program's new struct: two null pointers first, then data.
      heap.memory.u8.fill(0, q, q + Math.min(n, 16));
      heap.memory.u8.fill(0xcc, q + Math.min(n, 16), q + n);
      return q;
    });
  const sizes = [p.size, p.size, p.size, p.size, p.size, 40, 3000, p.size];
  for (const n of sizes) if (!take(n)) break;
  guards.forEach((g, i) => {
    if (!intact(heap, g, heap.mallocUsableSize(g), 10 + i, 16)) problems.push(`live guard block 0x${g.toString(16)} was overwritten`);
  });
  if (steps.every((s) => s.threw === null)) {
    for (const q of got) if (!step(steps, "free", () => heap.free(q))) break;
  }
  return { skipped: null, steps, problems, facts };
}

// ───────────────────────── fast-check properties, run in the worker ─────────────────────────

/** glibc's words, after the operation's name: "free(): invalid next size (normal)". */
const GLIBC_WORDS = /^(free|realloc|malloc)\(\): .*(corrupt|invalid|double free)/;

/**
 * Verdict of a smash outcome: null when fine.
 *
 * An implausible size (over the heap's end, under the minimum chunk, misaligned, or with a
 * non-zero high half: what glibc's "invalid next size" catches) must be detected by the very
 * op that reads it. A plausible one must be detected by that op or the check() right after it,
 * except over a chunk the op may consume (the top, or a free neighbour merged into the block or
 * handed out by the op's own malloc): its header is rewritten, the heap has no broken invariant
 * left to detect, and that is accepted when nothing went wrong afterwards either.
 */
export function smashVerdict(o: Outcome): string | null {
  if (o.skipped !== null) return null;
  const bad = o.steps.find((s) => s.threw !== null && !s.threw.corruption);
  if (bad) return `${bad.op} threw ${bad.threw!.name}: ${bad.threw!.message} (expected HeapCorruptionError)`;
  if (o.problems.length > 0) return `silent wrong answer: ${o.problems.join("; ")}`;
  const firstThrow = o.steps.findIndex((s) => s.threw !== null);
  if (firstThrow !== -1) {
    const { op, threw } = o.steps[firstThrow]!;
    if (op === "check" ? !threw!.message.startsWith("check(): ") : !GLIBC_WORDS.test(threw!.message)) return `message lacks glibc's words: ${threw!.message}`;
  }
  const op0 = o.steps[0]!.op;
  if (o.facts.implausible === true) {
    if (firstThrow !== 0) return `${op0} did not detect an impossible next size (${firstThrow === -1 ? "nothing did" : `step ${firstThrow}, ${o.steps[firstThrow]!.op}, did`})`;
    return null;
  }
  if (firstThrow === 0 || firstThrow === 1) return null;
  if (o.facts.neighbour !== "in-use" && op0 !== "check" && firstThrow === -1) return null; // absorbed
  return `neither ${op0} nor the check() after it detected the damage (${firstThrow === -1 ? "nothing did" : `step ${firstThrow}, ${o.steps[firstThrow]!.op}, did`})`;
}

/** Verdict of a use-after-free outcome. */
export function uafVerdict(o: Outcome, mode: "check" | "traffic"): string | null {
  if (o.skipped !== null) return null;
  const bad = o.steps.find((s) => s.threw !== null && !s.threw.corruption);
  if (bad) return `${bad.op} threw ${bad.threw!.name}: ${bad.threw!.message} (expected HeapCorruptionError)`;
  if (o.problems.length > 0) return `silent wrong answer: ${o.problems.join("; ")}`;
  if (mode === "check" && o.facts.fdChanged === true && o.steps[0]!.threw === null) return "check() passed although a free-list link was changed";
  return null;
}

const byteArray = (min: number, max: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: min, maxLength: max });

/** fast-check: garbage of 8..16 bytes over the next header, for one kind of neighbour. */
export function smashProperty(neighbour: Neighbour, seed: number, numRuns: number): string | null {
  const r = fc.check(
    fc.property(fc.constantFrom(...SMASH_OPS), byteArray(8, 16), (op, bytes) => {
      const v = smashVerdict(smash({ neighbour, op, bytes, offset: 0 }));
      if (v !== null) throw new Error(v);
    }),
    { seed, numRuns },
  );
  return r.failed ? fc.defaultReportMessage(r) ?? "failed" : null;
}

/** fast-check: 1..16 garbage bytes written into a freed block's links. */
export function uafProperty(mode: "check" | "traffic", seed: number, numRuns: number): string | null {
  const r = fc.check(
    fc.property(fc.constantFrom<UafTarget>("head", "middle", "tail"), fc.constantFrom(100, 2000), byteArray(1, 16), (target, size, bytes) => {
      const v = uafVerdict(useAfterFree({ target, size, link: null, bytes, mode }), mode);
      if (v !== null) throw new Error(v);
    }),
    { seed, numRuns },
  );
  return r.failed ? fc.defaultReportMessage(r) ?? "failed" : null;
}

/** Every scenario the worker can run, by name. */
/**
 * Not a corruption: a heap filled with 8 MiB blocks up to a 2 GiB limit, then emptied. Run in a
 * worker because the bug it guards against (the in-use bitmap's coverage of 2^31 read back as a
 * negative number) made the growth loop forever.
 */
function fillPastOneGiB(): { blocks: number; errno: number; checked: boolean; arenaAfter: number } {
  const heap = new Heap({ maxBytes: 0x7fff0000 });
  const ptrs: number[] = [];
  for (let p = heap.malloc(8 << 20); p !== 0; p = heap.malloc(8 << 20)) ptrs.push(p);
  const errno = heap.errno;
  heap.check();
  for (const p of ptrs) heap.free(p);
  heap.check();
  return { blocks: ptrs.length, errno, checked: true, arenaAfter: heap.mallinfo().arena };
}

// ───────────────────────── the header and the settings ─────────────────────────

/** What a scenario that may hang the heap saw: each call's error (or null), and facts. */
export interface Trace {
  errors: Array<Thrown | null>;
  facts: Record<string, boolean | number | string>;
}

function attempt(errors: Array<Thrown | null>, fn: () => unknown): unknown {
  try {
    const v = fn();
    errors.push(null);
    return v;
  } catch (e) {
    errors.push(describeError(e));
    return undefined;
  }
}

/**
 * One malloc of about 2 GiB on a heap whose limit is just under 2 GiB: the in-use bitmap's
 * coverage must never pass 2^31 (it used to wrap to 0, and later bitmap writes flipped bits in
 * the block). The block's first and last bytes and a small block must survive more traffic.
 */
function coverPast2GiB(): Trace {
  const heap = new Heap({ maxBytes: 0x7fff0000 });
  const errors: Array<Thrown | null> = [];
  const small = heap.malloc(100);
  fill(heap, small, 9);
  const size = 0x7fe0_0000;
  const big = attempt(errors, () => heap.malloc(size)) as number;
  const facts: Trace["facts"] = { big, errno: heap.errno };
  const u8 = heap.memory.u8;
  if (big) {
    u8.fill(0x5a, big, big + 4096);
    u8.fill(0x5a, big + size - 4096, big + size);
  }
  attempt(errors, () => heap.check());
  const ps: number[] = [];
  for (let i = 0; i < 200; i++) {
    const p = attempt(errors, () => heap.malloc(16 + ((i * 97) % 3000))) as number;
    if (p) ps.push(p);
  }
  for (const p of ps) attempt(errors, () => heap.free(p));
  if (big) {
    let ok = true;
    for (let i = 0; i < 4096 && ok; i++) ok = u8[big + i] === 0x5a && u8[big + size - 1 - i] === 0x5a;
    facts.bigIntact = ok;
  }
  facts.smallIntact = intact(heap, small, 100, 9);
  attempt(errors, () => heap.check());
  if (big) attempt(errors, () => heap.free(big));
  attempt(errors, () => heap.check());
  return { errors, facts };
}

/**
 * `mallopt(M_TOP_PAD, v)` for a huge `v`, then traffic that grows the heap: the setting must
 * be refused or bounded, and no later call may hang or break the heap.
 */
function hugeTopPad(p: { pad: number }): Trace {
  const heap = new Heap({ maxBytes: 64 << 20 });
  const errors: Array<Thrown | null> = [];
  const facts: Trace["facts"] = { accepted: heap.mallopt(M_TOP_PAD, p.pad) };
  const ps: number[] = [];
  for (const n of [100, 5000, 70_000, 1 << 20, 100]) {
    const q = attempt(errors, () => heap.malloc(n)) as number;
    if (q) ps.push(q);
  }
  facts.allocated = ps.length;
  attempt(errors, () => heap.check());
  for (const q of ps) attempt(errors, () => heap.free(q));
  attempt(errors, () => heap.check());
  return { errors, facts };
}

/**
 * A stray store of `cover` into the header's coverage word of the chunk map, then a malloc that
 * grows the heap, on the JavaScript engine or the wasm engine: what it returned or threw (a
 * hang is the worker's deadline).
 */
function forgedCover(p: { dataModel: "lp64" | "ilp32" | "wasm32"; engine: boolean; cover: number }): string {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const base = 0x2000;
  const heap = new Heap({ memory, base, dataModel: p.dataModel, ...(p.engine ? { engine: wasmEngine } : {}) });
  heap.malloc(10);
  new DataView(memory.buffer).setUint32(base + 4 * H_COVER, p.cover >>> 0, true);
  try {
    return String(heap.malloc(200_000));
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
}

/** Header damage that `Heap.attach` must refuse, by name. */
export type AttachDamage = "bare-256" | "cover-zero" | "top-past-end" | "end-past-limit" | "bitmap-outside" | "arena-moved" | "dv-outside" | "bin-head-outside";

/**
 * Attaches to a damaged copy of a heap's bytes: attach must throw HeapCorruptionError, or (if
 * it attaches) no call may hang, and every error must be a HeapCorruptionError.
 */
function attachDamaged(p: { damage: AttachDamage }): Trace {
  const errors: Array<Thrown | null> = [];
  let buf: ArrayBuffer;
  if (p.damage === "bare-256") {
    buf = new ArrayBuffer(256);
    const w = new Uint32Array(buf);
    w[0] = 0x70686d76; // the magic word
    w[1] = 2 | (64 << 8); // version 2, lp64
    w[3] = 0; // the header's own address
  } else {
    const heap = new Heap({ maxBytes: 1 << 20 });
    const ps = [heap.malloc(100), heap.malloc(3000), heap.malloc(40)];
    heap.free(ps[1]!);
    buf = heap.memory.buffer.slice(0) as ArrayBuffer;
    const w = new Int32Array(buf);
    const at = (i: number): number => (heap.base >>> 2) + i;
    switch (p.damage) {
      case "cover-zero": w[at(H_COVER)] = 0; break;
      case "top-past-end": w[at(5)] = w[at(6)]! + 4096; break;
      case "end-past-limit": w[at(6)] = w[at(18)]! + 4096; w[at(7)] = w[at(6)]!; break;
      case "bitmap-outside": w[at(16)] = 0x100; break;
      case "arena-moved": w[at(4)] = w[at(4)]! + 16; break;
      case "dv-outside": w[at(20)] = 0x10; break;
      case "bin-head-outside": w[at(21 + 13 + 7)] = 0x100; break;
    }
  }
  const heap = attempt(errors, () => Heap.attach(buf)) as Heap | undefined;
  const facts: Trace["facts"] = { attached: heap !== undefined };
  if (heap !== undefined) {
    for (const n of [100, 200_000, 100, 3000]) attempt(errors, () => heap.malloc(n));
    attempt(errors, () => heap.check());
  }
  return { errors, facts };
}

export const scenarios = {
  forgery: (p: { seed: number; ops: number; dataModel?: "lp64" | "ilp32" | "wasm32"; engine?: ForgeryEngine }): ForgeryReport => forgeryFuzz(p),
  coverPast2GiB: (_p: Record<string, never>): Trace => coverPast2GiB(),
  hugeTopPad: (p: { pad: number }): Trace => hugeTopPad(p),
  forgedCover: (p: { dataModel: "lp64" | "ilp32" | "wasm32"; engine: boolean; cover: number }): string => forgedCover(p),
  attachDamaged: (p: { damage: AttachDamage }): Trace => attachDamaged(p),
  fillPastOneGiB: (_p: Record<string, never>): ReturnType<typeof fillPastOneGiB> => fillPastOneGiB(),
  smash: (p: SmashParams): Outcome => smash(p),
  useAfterFree: (p: UafParams): Outcome => useAfterFree(p),
  smashProperty: (p: { neighbour: Neighbour; seed: number; numRuns: number }): string | null => smashProperty(p.neighbour, p.seed, p.numRuns),
  uafProperty: (p: { mode: "check" | "traffic"; seed: number; numRuns: number }): string | null => uafProperty(p.mode, p.seed, p.numRuns),
};

export type ScenarioName = keyof typeof scenarios;
