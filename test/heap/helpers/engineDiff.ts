/**
 * The differential attack of the wasm engine: one program of calls and forgeries run on three
 * heaps, each in a `WebAssembly.Memory` of its own above a module's static data:
 *
 * - `js`: the JavaScript engine, called from JavaScript (the heap's API) and from a C client
 *   (a WAT module over `heap.wasmImports()`: JavaScript imports);
 * - `wasm`: a heap made with `engine: wasmEngine`, called from JavaScript and from a C client
 *   over `heap.wasmImports({ engine })`: every call runs on the wasm engine;
 * - `mixed`: a heap of the JavaScript engine whose C client imports the wasm engine, so that
 *   JavaScript's calls run on one engine and C's on the other, on the same heap.
 *
 * Between the calls the program writes the same forged bytes into each memory: into freed
 * blocks (a use after free), into its own live blocks, just past them (the next chunk's
 * header), and into the heap's header where a module's stray store would land (bin heads, the
 * designated victim, the bin bitmaps). After each step the three must agree (the value, errno,
 * or the error's class and message, and every byte of memory), and the promise must hold
 * (docs/heap.md, "What the heap guarantees"): a returned block lies in the arena, overlaps no
 * live block, the header nor the chunk map; the module's data below `base` never changes, nor
 * a live block's bytes except where the program wrote; an error is one of the library's typed
 * errors (never a trap of the engine: a RuntimeError), thrown before anything changed.
 *
 * Pure (no vitest): a test calls {@link engineDiff} and asserts on its report.
 */
import { Heap, HeapCorruptionError, M_TOP_PAD, M_TRIM_THRESHOLD, type DataModel, type LinearMemory } from "../../../src/index.js";
import { binCount } from "../../../src/heap/bins.js";
import { H_BINMAP, H_BITMAP, H_COVER, H_DV, H_END, H_SUMMARY, H_TOP } from "../../../src/heap/header.js";
import { wasmEngine } from "../../../src/heap/wasm/index.js";
import { prng } from "./forgery.js";
import { abiClientText, compileWat, type AbiClient } from "./wasmClient.js";

const BASE = 0x2000;
const PAGES = 2;
const MAX_PAGES = 64; // the clients' memory maximum is 1024 pages; the heap's limit is lower
const LIMIT = MAX_PAGES * 65536;

export interface EngineDiffOptions {
  seed: number;
  /** Steps (a forgery, maybe, then a call). */
  steps: number;
  dataModel: DataModel;
  /** Also forge the header words a heap trusts without a check of its own (top, end, map, cover). */
  forgeAllHeader?: boolean;
  /** Logs each step (for a failing seed). */
  trace?: boolean;
}

export interface EngineDiffReport {
  steps: number;
  forgeries: number;
  /** Calls that threw one of the library's errors, by class. */
  errors: Record<string, number>;
  /** Calls through the C clients. */
  cCalls: number;
  /** Fresh sets of heaps. */
  rounds: number;
  /** Broken promises and disagreements: empty when all held. */
  violations: string[];
}

interface Side {
  name: "js" | "wasm" | "mixed";
  memory: WebAssembly.Memory;
  heap: Heap<LinearMemory>;
  c: AbiClient;
}

const lowByte = (i: number): number => (i * 29 + 7) & 0xff;

function makeSide(name: Side["name"], dataModel: DataModel): Side {
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: 1024 });
  const u8 = new Uint8Array(memory.buffer);
  for (let i = 0; i < BASE; i++) u8[i] = lowByte(i);
  const opts = { memory, base: BASE, dataModel, maxBytes: LIMIT };
  const heap = name === "wasm" ? new Heap({ ...opts, engine: wasmEngine }) : new Heap(opts);
  let instance: WebAssembly.Instance | undefined;
  const env = { memory, ...heap.wasmImports({ ...(name === "js" ? {} : { engine: wasmEngine }), instance: () => instance }) };
  instance = new WebAssembly.Instance(compileWat("diff-client.wat", abiClientText("global")), { env });
  // (the client's errno lives at 1024, its memptr at 1028: below base, its own data)
  for (let i = 1024; i < 1032; i++) u8[i] = lowByte(i);
  return { name, memory, heap, c: instance.exports as unknown as AbiClient };
}

interface Block {
  n: number;
  /** Its usable size when it was handed out (where the next chunk's header starts, less W). */
  u: number;
  shadow: Uint8Array;
}

type Outcome = { v: number; errno: number; cErrno: number } | { error: string; message: string };

/** Runs the differential attack; see the file comment. */
export function engineDiff(o: EngineDiffOptions): EngineDiffReport {
  const model = o.dataModel;
  const W = model === "lp64" ? 8 : 4;
  const A = model === "ilp32" ? 8 : 16;
  const shift = A === 16 ? 4 : 3;
  const rand = prng(o.seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const report: EngineDiffReport = { steps: 0, forgeries: 0, errors: {}, cCalls: 0, rounds: 0, violations: [] };
  const log: string[] = [];
  const note = (s: string): void => {
    if (o.trace === true) log.push(s);
  };
  const violate = (what: string): void => {
    if (o.trace === true && report.violations.length === 0) console.log(log.slice(-80).join("\n"));
    if (report.violations.length < 20) report.violations.push(`seed ${o.seed}, step ${report.steps} (round ${report.rounds}): ${what}`);
  };

  let sides: Side[] = [];
  let live = new Map<number, Block>();
  let freed: number[] = [];
  let arena = 0;
  let errorsHere = 0;
  const fresh = (): void => {
    sides = (["js", "wasm", "mixed"] as const).map((n) => makeSide(n, model));
    live = new Map();
    freed = [];
    arena = sides[0]!.heap.chunks()[0]!.address;
    errorsHere = 0;
    report.rounds++;
  };
  const dv = (s: Side): DataView => new DataView(s.memory.buffer);
  const word = (i: number): number => dv(sides[0]!).getUint32(BASE + 4 * i, true);
  const binWords = (binCount(shift) + 31) >>> 5;
  const binSlot = (idx: number): number => BASE + 4 * (H_BINMAP + binWords) + 4 * idx;
  const mapChunk = (): [number, number] => {
    const payload = word(H_BITMAP);
    const bytes = word(H_COVER) >>> (shift + 2);
    return [payload - 2 * W, payload - 2 * W + Math.max(A === 8 ? 16 : 4 * W, (bytes + W + A - 1) & ~(A - 1))];
  };
  /** Writes the same bytes into every side's memory. */
  const put = (at: number, bytes: readonly number[]): void => {
    if (at < BASE || at + bytes.length > sides[0]!.memory.buffer.byteLength) return; // (a forged header word can send the program's own reckoning anywhere)
    for (const s of sides) new Uint8Array(s.memory.buffer).set(bytes, at);
    for (const [q, b] of live) {
      for (let i = 0; i < bytes.length; i++) {
        const x = at + i - q;
        if (x >= 0 && x < b.n) b.shadow[x] = bytes[i]!;
      }
    }
  };
  const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const field = (v: number): number[] => (W === 8 ? [...le32(v), 0, 0, 0, 0] : le32(v));

  const forgedPointer = (): number => {
    const ls = [...live.keys()];
    switch (int(0, 15)) {
      case 0: return ls.length > 0 ? pick(ls) - 2 * W : word(H_TOP); // a live block's chunk
      case 1: return ls.length > 0 ? pick(ls) + A * int(1, 8) : word(H_TOP); // inside a live block
      case 2: return BASE + 16 * int(0, 60); // the header
      case 3: return int(0, BASE - 1) & ~(A - 1); // below base: the module's data
      case 4: return mapChunk()[0]; // the chunk map
      case 5: return word(H_END) + A * int(0, 40); // past the heap's end
      case 6: return arena + A * int(0, (word(H_END) - arena) / A); // anywhere in the arena
      case 7: return int(0, 0xffff_ffff);
      case 8: return 0;
      case 9: return pick([0xffff_fff0, 0x8000_0000, 0x7fff_fff0, 0xffff_fff8, LIMIT - 2 * W, LIMIT]);
      case 10: case 11: return freed.length > 0 ? pick(freed) - 2 * W : word(H_TOP); // a freed chunk
      case 12: return word(H_DV) !== 0 ? word(H_DV) : word(H_TOP);
      case 13: return word(H_TOP);
      case 14: return freed.length > 0 ? pick(freed) - 2 * W + A * int(1, 8) : arena;
      default: return ls.length > 0 ? pick(ls) - 2 * W + 4 : 8; // misaligned
    }
  };
  const realSize = (): number => {
    const at = [word(H_TOP), word(H_DV), word(H_END), ...freed.slice(-8).map((x) => x - 2 * W), ...[...live.keys()].slice(-8).map((x) => x - 2 * W)].filter((x) => x > 0);
    return Math.abs(pick(at) - pick(at)) || 4 * A;
  };
  const forgedSize = (): number =>
    pick([realSize(), realSize() | 1, realSize() | 2, A * int(1, 300), (A * int(1, 300)) | int(0, 7), 0, 0xffff_fff0, 0x8000_0001, 0x7fff_fff0, int(0, 0xffff_ffff), LIMIT]);
  const forgedBytes = (): number[] => {
    switch (int(0, 6)) {
      case 0: return Array.from({ length: int(1, 16) }, () => int(0, 255));
      case 1: return [...field(forgedSize()), ...field(forgedSize() | pick([0, 1, 2, 3])), ...field(forgedPointer()), ...field(forgedPointer())]; // a fake chunk
      case 2: return [...field(forgedPointer()), ...field(forgedPointer())]; // fake links
      case 3: return field(forgedSize()); // a size or a footer
      default: return le32(forgedPointer());
    }
  };
  /** A spot in free memory (not a live block's bytes nor the map's chunk). */
  const freeSpot = (len: number): number => {
    const end = word(H_END);
    const [ms, me] = mapChunk();
    for (let t = 0; t < 20; t++) {
      const x = (freed.length > 0 && rand() < 0.6 ? pick(freed) - 2 * W + 4 * int(0, 16) : int(arena, end - len)) & ~3;
      if (x < arena || x + len > end) continue;
      if (x < me && ms + 2 * W < x + len) continue;
      let ok = true;
      for (const [q, b] of live) if (x < q + b.n && q - W < x + len) ok = false; // (a live block's header too: that is an overflow, below)
      if (ok) return x;
    }
    return -1;
  };
  const forge = (): void => {
    const kind = int(0, 11);
    const ls = [...live.keys()];
    if (kind <= 3) {
      const bytes = forgedBytes();
      const at = freeSpot(bytes.length);
      if (at < 0) return;
      note(`  forge uaf 0x${at.toString(16)} ${bytes.join(",")}`);
      put(at, bytes);
    } else if (kind <= 5) {
      if (ls.length === 0) return;
      const q = pick(ls);
      const b = live.get(q)!;
      const bytes = forgedBytes();
      if (b.n < bytes.length) return;
      const at = q + (int(0, b.n - bytes.length) & ~3);
      note(`  forge live 0x${at.toString(16)} ${bytes.join(",")}`);
      put(at, bytes);
    } else if (kind <= 8) {
      // An overflow past a live block into the next chunk's size field (and, with W = 8, its high half).
      if (ls.length === 0) return;
      const q = pick(ls);
      const at = q + live.get(q)!.u;
      const [ms, me] = mapChunk();
      if (at + W > word(H_END)) return;
      if (at + W > ms && at < me && at !== ms + W) return; // (into the map's data: not the promise's)
      const bytes = rand() < 0.3 ? [new Uint8Array(sides[0]!.memory.buffer)[at]! & ~2] : field(forgedSize()).slice(0, int(1, W));
      note(`  forge overflow 0x${at.toString(16)} ${bytes.join(",")}`);
      put(at, bytes);
    } else {
      // A stray store into the header: a bin head, the designated victim, the bin bitmaps.
      const which = int(0, o.forgeAllHeader === true ? 4 : 3);
      let at: number;
      let v: number;
      if (which === 0 || which === 1) {
        // a bin head (a used one, mostly)
        const used: number[] = [];
        for (let i = 0; i < binCount(shift); i++) if (dv(sides[0]!).getUint32(binSlot(i), true) !== 0) used.push(i);
        at = binSlot(used.length > 0 && rand() < 0.7 ? pick(used) : int(0, binCount(shift) - 1));
        v = forgedPointer();
      } else if (which === 2) {
        at = BASE + 4 * H_DV;
        v = forgedPointer();
      } else if (which === 3) {
        at = BASE + 4 * (rand() < 0.2 ? H_SUMMARY : H_BINMAP + int(0, binWords - 1));
        v = rand() < 0.5 ? int(0, 0xffff_ffff) : dv(sides[0]!).getUint32(at, true) ^ (1 << int(0, 31));
      } else {
        at = BASE + 4 * pick([H_TOP, H_END, H_BITMAP, H_COVER]);
        v = pick([forgedPointer(), dv(sides[0]!).getUint32(at, true) + pick([-A, A, 4096, -4096])]);
      }
      note(`  forge header 0x${at.toString(16)} = 0x${(v >>> 0).toString(16)}`);
      put(at, le32(v));
    }
    report.forgeries++;
  };

  const outcome = (s: Side, call: (s: Side) => number): Outcome => {
    s.heap.errno = 0;
    s.c.set_errno(0);
    try {
      const v = call(s);
      return { v, errno: s.heap.errno, cErrno: s.c.get_errno() };
    } catch (e) {
      const name = e instanceof Error ? e.name : String(e);
      return { error: name, message: e instanceof Error ? e.message : String(e) };
    }
  };

  const took = (q: number, n: number, what: string, align = A): void => {
    if (q === 0) return;
    const end = word(H_END);
    const [ms, me] = mapChunk();
    if (q % align !== 0 || q < arena + 2 * W || q + n > end || q + n > LIMIT) violate(`${what} returned 0x${q.toString(16)}+${n}, outside the arena [0x${arena.toString(16)}, 0x${end.toString(16)})`);
    if (q < me && ms + 2 * W < q + Math.max(n, 1)) violate(`${what} returned 0x${q.toString(16)}+${n}, over the chunk map [0x${ms.toString(16)}, 0x${me.toString(16)})`);
    for (const [x, b] of live) if (q < x + b.n && x < q + Math.max(n, 1)) violate(`${what} returned 0x${q.toString(16)}+${n}, over live 0x${x.toString(16)}+${b.n}`);
    let u = n;
    try {
      u = Math.max(n, sides[0]!.heap.mallocUsableSize(q));
    } catch (e) {
      if (!(e instanceof HeapCorruptionError)) violate(`mallocUsableSize(0x${q.toString(16)}) threw ${String(e)}`);
    }
    const shadow = Uint8Array.from({ length: n }, () => int(0, 255));
    for (const s of sides) new Uint8Array(s.memory.buffer).set(shadow, q);
    live.set(q, { n, u, shadow });
  };
  const intact = (): void => {
    for (const s of sides) {
      const u8 = new Uint8Array(s.memory.buffer);
      for (let i = 0; i < BASE; i++) {
        if (u8[i] !== lowByte(i) && !(i >= 1024 && i < 1032)) {
          violate(`${s.name}: a write below base at 0x${i.toString(16)}`);
          break;
        }
      }
    }
    const u8 = new Uint8Array(sides[0]!.memory.buffer);
    for (const [q, b] of live) {
      for (let i = 0; i < b.n; i++) {
        if (u8[q + i] !== b.shadow[i]) {
          violate(`live block 0x${q.toString(16)}+${b.n} changed at +${i}`);
          break;
        }
      }
    }
  };
  const same = (what: string): boolean => {
    const [a, ...rest] = sides.map((s) => Buffer.from(s.memory.buffer));
    for (const [k, b] of rest.entries()) {
      if (a!.length !== b.length) return violate(`${what}: ${sides[k + 1]!.name}'s memory is ${b.length} bytes, js's ${a!.length}`), false;
      if (!a!.equals(b)) {
        const at = a!.findIndex((x, i) => x !== b[i]);
        return violate(`${what}: ${sides[k + 1]!.name} left other bytes than js at 0x${at.toString(16)} (${b[at]} / ${a![at]})`), false;
      }
    }
    return true;
  };

  fresh();
  while (report.steps < o.steps) {
    report.steps++;
    if (rand() < 0.45) forge();
    const ls = [...live.keys()];
    const q = ls.length > 0 ? pick(ls) : 0;
    const viaC = rand() < 0.5;
    if (viaC) report.cCalls++;
    const r = rand();
    // (now and then a size or an alignment no heap here can give: near 2^31, 2^32, the limit)
    const n = rand() < 0.03 ? pick([0xffff_ffff, 0xffff_fff0, 0x8000_0000, 0x7fff_fff0, LIMIT, LIMIT - 0x1000]) : pick([0, 1, 8, 24, 100, 500, int(0, 2000), int(0, 20_000), int(0, 300_000)]);
    const align = rand() < 0.03 ? pick([0x8000_0000, 0x4000_0000, 1 << 20, LIMIT]) : pick([A, 32, 64, 256, 4096, A << int(1, 12)]);
    const cFn = pick(["posix_memalign", "aligned_alloc", "memalign"] as const);
    let kind: string;
    let badPtr = 0;
    let callocN = 1;
    let rp = q; // the pointer realloc is given
    let call: (s: Side) => number;
    if (r < 0.3) {
      kind = "malloc";
      call = (s) => (viaC ? s.c.malloc(n) >>> 0 : s.heap.malloc(n));
    } else if (r < 0.52) {
      kind = "free";
      call = (s) => (viaC ? s.c.free(q) : s.heap.free(q), 0);
    } else if (r < 0.54) {
      kind = "badfree";
      badPtr = forgedPointer();
      const p = badPtr;
      call = (s) => (viaC ? s.c.free(p) : s.heap.free(p), 0);
    } else if (r < 0.7) {
      kind = "realloc";
      // (a forged pointer now and then: realloc must refuse it as free does)
      const p = rand() < 0.1 ? (badPtr = forgedPointer()) : q;
      if (p !== q) kind = "badrealloc";
      rp = p;
      call = (s) => (viaC ? s.c.realloc(p, n) >>> 0 : s.heap.realloc(p, n));
    } else if (r < 0.77) {
      kind = "calloc";
      // (an nmemb whose product overflows size_t now and then)
      const k = (callocN = rand() < 0.05 ? pick([0x10001, 0xffff_ffff, 0x8000_0000]) : 1);
      call = (s) => (viaC ? s.c.calloc(k, n) >>> 0 : s.heap.calloc(k, n));
    } else if (r < 0.86) {
      kind = "memalign";
      call = (s) => {
        if (!viaC) return s.heap.memalign(align, n);
        if (cFn !== "posix_memalign") return s.c[cFn](align, n) >>> 0;
        const err = s.c.posix_memalign(align, n);
        return err === 0 ? s.c.memptr() >>> 0 : -err;
      };
    } else if (r < 0.89) {
      kind = "usable";
      const p = rand() < 0.8 ? q : forgedPointer();
      call = (s) => (viaC ? s.c.malloc_usable_size(p) >>> 0 : s.heap.mallocUsableSize(p));
    } else if (r < 0.91) {
      kind = "trim";
      const pad = pick([0, 4096, 100_000]);
      call = (s) => s.heap.mallocTrim(pad);
    } else if (r < 0.93) {
      kind = "mallopt";
      const [p, v] = pick([[M_TRIM_THRESHOLD, 0], [M_TRIM_THRESHOLD, 128 * 1024], [M_TOP_PAD, 0], [M_TOP_PAD, 65536]] as const);
      call = (s) => s.heap.mallopt(p, v);
    } else if (r < 0.95) {
      kind = "grow";
      const pages = int(0, 2);
      call = (s) => s.c.grow(pages);
    } else if (r < 0.97) {
      kind = "check";
      call = (s) => (s.heap.check(), 0);
    } else {
      kind = "mallinfo";
      call = (s) => s.heap.mallinfo().uordblks;
    }
    const what = `${viaC ? "C" : "JS"} ${kind}(q 0x${q.toString(16)}, n ${n}, align ${align})`;
    note(what);
    const endBefore = Math.max(BASE, Math.min(word(H_END), sides[0]!.memory.buffer.byteLength)); // (clamped: a forged end word may say anything)
    const before = Buffer.from(new Uint8Array(sides[0]!.memory.buffer, BASE, endBefore - BASE).slice()); // (a copy: Buffer's own slice would be a view)
    const outs = sides.map((s) => outcome(s, call));
    const [js] = outs;
    note(`  -> ${JSON.stringify(outs)}`);
    for (const [k, x] of outs.entries()) {
      if (k > 0 && JSON.stringify(x) !== JSON.stringify(js)) violate(`${what}: ${sides[k]!.name} gave ${JSON.stringify(x)}, js ${JSON.stringify(js)}`);
    }
    for (const [k, x] of outs.entries()) {
      if ("error" in x && !["HeapCorruptionError", "DoubleFreeError", "InvalidPointerError"].includes(x.error)) violate(`${what}: ${sides[k]!.name} threw ${x.error}: ${x.message}`);
    }
    if (!same(what)) {
      fresh();
      continue;
    }
    if ("error" in js!) {
      report.errors[js.error] = (report.errors[js.error] ?? 0) + 1;
      errorsHere++;
      if (Math.max(BASE, Math.min(word(H_END), sides[0]!.memory.buffer.byteLength)) !== endBefore || !Buffer.from(sides[0]!.memory.buffer).subarray(BASE, endBefore).equals(before)) {
        const now = Buffer.from(sides[0]!.memory.buffer).subarray(BASE, endBefore);
        const at = Math.max(BASE, Math.min(word(H_END), sides[0]!.memory.buffer.byteLength)) !== endBefore ? BASE + 4 * H_END : BASE + before.findIndex((x, i) => x !== now[i]);
        violate(`${what} threw ${js.error} (${js.message}) after a change at 0x${at.toString(16)}`);
      }
    } else {
      const v = js!.v;
      if (kind === "malloc") took(v, n, what);
      else if (kind === "calloc") took(v, callocN * n, what);
      else if (kind === "memalign") took(v < 0 ? 0 : v, n, what, viaC ? Math.max(align, A) : align);
      else if (kind === "free" && q !== 0) {
        live.delete(q);
        freed.push(q);
      } else if ((kind === "realloc" || kind === "badrealloc") && rp !== 0 && !live.has(rp)) {
        violate(`${what}: realloc of 0x${rp.toString(16)}, no live block, returned ${v}`);
      } else if ((kind === "realloc" || kind === "badrealloc") && rp !== 0 && (v !== 0 || n === 0)) {
        const b = live.get(rp)!;
        live.delete(rp);
        freed.push(rp);
        if (v !== 0) {
          const keep = Buffer.from(sides[0]!.memory.buffer).subarray(v, v + Math.min(n, b.n));
          if (!keep.equals(Buffer.from(b.shadow.subarray(0, Math.min(n, b.n))))) violate(`${what}: the block's bytes were not kept`);
          const kept = Uint8Array.from(keep);
          took(v, n, what);
          put(v, Array.from(kept));
        }
      } else if ((kind === "realloc" || kind === "badrealloc") && rp === 0 && v !== 0) took(v, n, what);
      else if (kind === "badfree" && live.has(badPtr)) {
        // the forged pointer was a live block's: it is freed now
        live.delete(badPtr);
        freed.push(badPtr);
      }
      if (freed.length > 48) freed.shift();
    }
    intact();
    if (errorsHere > 0 && (errorsHere > 20 || rand() < 0.05)) fresh();
    else if (rand() < 0.003) fresh();
  }
  return report;
}
