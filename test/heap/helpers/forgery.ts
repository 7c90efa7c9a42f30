/**
 * The forgery fuzzer: a program that, between its heap calls, writes random and forged bytes
 * (fake chunk headers, fake links and footers, pointers to live blocks, to the heap's header,
 * below base) into freed memory, into its own live blocks, and just past them (an overflow into
 * the next chunk's size field). It checks the heap's promise (docs/heap.md, "What the heap
 * guarantees"):
 * - no block malloc returns overlaps a live block, the heap's header or its chunk map, or lies
 *   outside the arena;
 * - no write lands outside the arena: the bytes below `base` and above the heap's limit (on a
 *   `WebAssembly.Memory`, as a module's data and a guard) never change, and neither do the live
 *   blocks' bytes except where the program itself wrote;
 * - every error is a HeapCorruptionError (no call hangs: the test runs this in a worker with a
 *   deadline), thrown before anything changed: a call that throws leaves every byte of the
 *   heap, and its break, as they were.
 *
 * Now and then it also forges a copy of the whole memory, chunk map included (as a crafted buffer
 * handed to `Heap.attach` would be): attach must refuse it, or the heap it opens must keep the
 * same promise for the live blocks of the copy.
 *
 * Runs in a worker (helpers/isolated.ts): nothing here may use vitest.
 */
import { Heap, HeapCorruptionError, M_TOP_PAD, M_TRIM_THRESHOLD, type DataModel } from "../../../src/index.js";
import { H_BITMAP, H_COVER, H_DV, H_END, H_TOP } from "../../../src/heap/header.js";
import { FastPathHeap } from "../../../src/heap/FastPathHeap.js";
import { wasmEngine } from "../../../src/heap/wasm/index.js";

/**
 * The engine the heap's calls run on: the JavaScript engine ("js"); FastPathHeap, the heap with
 * free's common cases written out for any data model, as the wasm engine has them ("fastpath");
 * or the wasm engine itself ("wasm").
 */
export type ForgeryEngine = "js" | "fastpath" | "wasm";

/** What a run saw. */
export interface ForgeryReport {
  seed: number;
  ops: number;
  /** Calls that threw HeapCorruptionError (detected damage). */
  detected: number;
  /** Fresh heaps started (after detected damage, the heap is replaced now and then). */
  heaps: number;
  /** Forged writes made. */
  forgeries: number;
  /** Forged copies given to Heap.attach, and how many of them it refused. */
  crafted: number;
  refused: number;
  /** Broken promises: empty when the heap kept its word. */
  violations: string[];
}

const BASE = 0x3000; // a wasm module's data below the heap
const LIMIT = 4 << 20; // the heap's limit
const GUARD = 64 * 1024; // bytes above the limit, part of the memory
const PAGES = (LIMIT + GUARD) / 65536;

/** mulberry32: the fuzzers' pseudo-random numbers, the same for a seed on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Block {
  /** Bytes asked for (the program owns `[p, p + n)`). */
  n: number;
  /** Usable size when it was handed out (the chunk's size minus 8). */
  u: number;
  /** What the program last stored in `[p, p + n)`. */
  shadow: Uint8Array;
}

const guardByte = (i: number): number => (i * 131 + 17) & 0xff;
const LOW = Buffer.from(Array.from({ length: BASE }, (_, i) => guardByte(i)));
const HIGH = Buffer.from(Array.from({ length: GUARD }, (_, i) => guardByte(LIMIT + i)));

/** Runs `ops` heap calls with forgeries between them; see the file comment. */
export function forgeryFuzz(p: { seed: number; ops: number; dataModel?: DataModel; engine?: ForgeryEngine; trace?: boolean }): ForgeryReport {
  const model = p.dataModel ?? "lp64";
  const W = model === "lp64" ? 8 : 4; // size field
  const A = model === "ilp32" ? 8 : 16; // alignment
  const rand = prng(p.seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const report: ForgeryReport = { seed: p.seed, ops: 0, detected: 0, heaps: 0, forgeries: 0, crafted: 0, refused: 0, violations: [] };
  const T = p.trace === true;
  const log: string[] = [];
  const note = (x: string): void => {
    if (p.trace === true) log.push(x);
  };
  const violate = (what: string): void => {
    if (p.trace === true && report.violations.length === 0) {
      console.log(log.slice(-300).join("\n"));
      console.log("map", mapChunk().map((x) => x.toString(16)), "arena", arena.toString(16), "top", word(5).toString(16), "dv", word(20).toString(16));
      try {
        console.log(heap.chunks().map((c) => `${c.kind}@${c.address.toString(16)}+${c.size}`).join(" "));
      } catch (e) {
        console.log(String(e));
      }
    }
    if (report.violations.length < 20) report.violations.push(`op ${report.ops} (heap ${report.heaps}): ${what}`);
  };

  let mem!: WebAssembly.Memory;
  let u8!: Uint8Array;
  let dv!: DataView;
  let heap!: Heap;
  let live = new Map<number, Block>();
  let arena = 0;
  let errorsHere = 0;
  /** Blocks the program freed lately (their chunks may be free still, merged, or reused). */
  let freed: number[] = [];

  const fresh = (): void => {
    if (heap !== undefined) {
      for (const [q, b] of live) blockIntact(q, b);
      guardsIntact();
    }
    mem = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    u8 = new Uint8Array(mem.buffer);
    u8.set(LOW, 0);
    u8.set(HIGH, LIMIT);
    const opts = { memory: mem, base: BASE, maxBytes: LIMIT, dataModel: model };
    heap = p.engine === "wasm" ? new Heap({ ...opts, engine: wasmEngine }) : p.engine === "fastpath" ? new FastPathHeap(opts) : new Heap(opts);
    dv = new DataView(mem.buffer);
    live = new Map();
    arena = heap.chunks()[0]!.address;
    freed = [];
    errorsHere = 0;
    report.heaps++;
  };
  const word = (i: number): number => dv.getUint32(heap.base + 4 * i, true);
  /** The chunk map's chunk: `[start, end)` (read from the header, which the fuzzer never writes). */
  const mapChunk = (view: DataView = dv): [number, number] => {
    const payload = view.getUint32(heap.base + 4 * H_BITMAP, true);
    const bytes = view.getUint32(heap.base + 4 * H_COVER, true) >>> (A === 16 ? 6 : 5);
    return [payload - 2 * W, payload - 2 * W + Math.max(A === 8 ? 16 : 4 * W, (bytes + W + A - 1) & ~(A - 1))];
  };
  const guardsIntact = (): boolean => {
    if (Buffer.from(u8.buffer, 0, BASE).equals(LOW) && Buffer.from(u8.buffer, LIMIT, GUARD).equals(HIGH)) return true;
    for (let i = 0; i < BASE; i++) if (u8[i] !== guardByte(i)) return violate(`a write below base at 0x${i.toString(16)}`), false;
    for (let i = LIMIT; i < u8.length; i++) if (u8[i] !== guardByte(i)) return violate(`a write above the heap's limit at 0x${i.toString(16)}`), false;
    return true;
  };
  const blockIntact = (q: number, b: Block): boolean => {
    for (let i = 0; i < b.n; i++) {
      if (u8[q + i] !== b.shadow[i]) {
        violate(`live block 0x${q.toString(16)}+${b.n} changed at +${i} (a metadata write into live data)`);
        return false;
      }
    }
    return true;
  };
  const store = (q: number, bytes: ArrayLike<number>, at = 0): void => {
    u8.set(bytes as Uint8Array, q + at);
    const b = live.get(q);
    if (b !== undefined) b.shadow.set(Array.from(bytes).slice(0, Math.max(0, b.n - at)), at);
  };
  /** Records a block the heap returned, checking the promise for it. */
  const took = (q: number, n: number, op: string): void => {
    if (q !== 0 && p.trace === true) {
      const g = (q - 2 * W - arena) >>> 4;
      const w = dv.getUint32(word(H_BITMAP) + 4 * (g >>> 4), true);
      if (T) note(`${op} = 0x${q.toString(16)} pair ${(w >>> ((g & 15) * 2)) & 3} top ${word(5).toString(16)}`);
    } else if (T) note(`${op} = 0x${q.toString(16)}`);
    if (q === 0) return;
    const end = word(H_END);
    const [ms, me] = mapChunk();
    if ((q & (A - 1)) !== 0 || q < arena + 2 * W || q + n > end || q + n > LIMIT) violate(`${op} returned 0x${q.toString(16)}+${n}, outside the arena [0x${arena.toString(16)}, 0x${end.toString(16)})`);
    if (q < me && ms + 2 * W < q + n) violate(`${op} returned 0x${q.toString(16)}+${n}, over the chunk map [0x${ms.toString(16)}, 0x${me.toString(16)})`);
    for (const [x, b] of live) if (q < x + b.n && x < q + Math.max(n, 1)) violate(`${op} returned 0x${q.toString(16)}+${n}, overlapping live 0x${x.toString(16)}+${b.n}`);
    let u = n;
    try {
      u = heap.mallocUsableSize(q);
    } catch (e) {
      if (!(e instanceof HeapCorruptionError)) violate(`mallocUsableSize threw ${String(e)}`);
    }
    const shadow = new Uint8Array(n);
    for (let i = 0; i < n; i++) shadow[i] = int(0, 255);
    u8.set(shadow, q);
    live.set(q, { n, u: Math.max(u, n), shadow });
  };
  const size = (): number => {
    const r = rand();
    return r < 0.6 ? int(0, 200) : r < 0.9 ? int(200, 1200) : r < 0.98 ? int(1200, 9000) : int(9000, 200_000);
  };

  /** A pointer an attacker would forge. */
  const forgedPointer = (): number => {
    const ls = [...live.keys()];
    const [ms] = mapChunk();
    const top = heap.base; // (only as a fallback)
    switch (int(0, 15)) {
      case 10: // a chunk that was freed (maybe still free: its header and links are the heap's)
      case 11: return freed.length > 0 ? pick(freed) - 2 * W : word(H_TOP);
      case 12: return word(H_DV) !== 0 ? word(H_DV) : word(H_TOP); // the designated victim
      case 13: return word(H_TOP); // the top chunk
      case 14: return ls.length > 0 ? pick(ls) + live.get(pick(ls))!.u - W : word(H_TOP); // a chunk after a live block
      case 15: return freed.length > 0 ? pick(freed) - 2 * W + A * int(1, 8) : word(H_TOP); // inside a freed chunk
      case 0: return ls.length > 0 ? pick(ls) - 2 * W : top; // a live block's chunk
      case 1: return ls.length > 0 ? pick(ls) + 16 * int(1, 8) : top; // inside a live block
      case 2: return heap.base + 16 * int(0, 100); // the header (bin heads)
      case 3: return int(0, BASE - 1) & ~15; // below base
      case 4: return ms; // the chunk map
      case 5: return LIMIT + 16 * int(0, 100); // above the limit
      case 6: return arena + 16 * int(0, (word(H_END) - arena) >>> 4); // anywhere in the arena, aligned
      case 7: return int(0, 0xffffffff); // anything
      case 8: return 0;
      default: return ls.length > 0 ? pick(ls) - 2 * W + 4 : 8; // misaligned
    }
  };
  const forgedBytes = (): number[] => {
    const out: number[] = [];
    const w32 = (v: number): void => void out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    /** A size the heap has: the distance between two chunk boundaries it knows. */
    const realSize = (): number => {
      const at = [word(H_TOP), word(H_DV), word(H_END), ...freed.slice(-8).map((x) => x - 2 * W), ...[...live.keys()].slice(-8).map((x) => x - 2 * W)].filter((x) => x > 0);
      return Math.abs(pick(at) - pick(at)) || 4 * A;
    };
    switch (int(0, 7)) {
      case 5: w32(realSize() | int(0, 3)); w32(0); break; // a real distance as a size or footer
      case 6: { // a fake free chunk the size of a real distance, with forged links
        w32(realSize()); w32(0);
        w32(realSize() | 2); w32(0);
        w32(forgedPointer()); w32(0);
        w32(forgedPointer()); w32(0);
        break;
      }
      case 7: w32(realSize() | 1); w32(0); break; // ... marked in use
      case 0: { // random bytes
        const n = int(1, 16);
        for (let i = 0; i < n; i++) out.push(int(0, 255));
        break;
      }
      case 1: { // a fake chunk: prev_size, size (plausible), fd, bk
        w32(16 * int(2, 64)); w32(0);
        w32((16 * int(2, 300)) | int(0, 7)); w32(0);
        w32(forgedPointer()); w32(0);
        w32(forgedPointer()); w32(0);
        break;
      }
      case 2: w32(forgedPointer()); w32(0); w32(forgedPointer()); w32(0); break; // fake links
      case 3: w32(16 * int(2, 4096)); w32(0); break; // a fake footer / size
      default: w32(forgedPointer()); break;
    }
    return out;
  };
  /** A place in free memory for `len` bytes: in the arena, not a live block's bytes nor the map's. */
  const freeSpot = (len: number, aligned: boolean): number => {
    const end = word(H_END);
    const [ms, me] = mapChunk();
    for (let tries = 0; tries < 20; tries++) {
      const x = aligned ? int(arena, end - len) & ~7 : int(arena, end - len);
      if (x < me && ms + 2 * W < x + len) continue;
      let ok = true;
      for (const [q, b] of live) if (x < q + b.u && q - W < x + len) ok = false;
      if (ok) return x;
    }
    return -1;
  };
  const forge = (): void => {
    const bytes = forgedBytes();
    const ls = [...live.keys()];
    const kind = int(0, 9);
    report.forgeries++;
    if (kind <= 3) {
      // Into freed memory (a use after free), 8-aligned most of the time.
      const at = freeSpot(bytes.length, rand() < 0.8);
      if (at >= 0) {
        u8.set(bytes, at);
        if (T) note(`  uaf write at 0x${at.toString(16)}: ${bytes.join(",")}`);
      }
      return;
    }
    if (ls.length === 0) return;
    const q = pick(ls);
    const b = live.get(q)!;
    if (kind <= 6) {
      // Into the program's own live block: a forged chunk in its data.
      if (b.n < bytes.length) return;
      const at = int(0, b.n - bytes.length) & ~7;
      store(q, bytes, at);
      if (T) note(`  live write at 0x${(q + at).toString(16)}: ${bytes.join(",")}`);
    } else if (kind <= 8) {
      // An overflow past the block into the next chunk's size field (1 to 8 bytes).
      const n = int(1, W);
      const at = q + b.u;
      if (at + n > word(H_END)) return;
      const v = rand() < 0.5 ? bytes : [dv.getUint8(at) & ~2]; // PINUSE cleared: "House of Einherjar"
      u8.set(v.slice(0, n), at);
      if (T) note(`  overflow past 0x${q.toString(16)} at 0x${at.toString(16)}: ${v.slice(0, n).join(",")}`);
    } else {
      // Einherjar in full: a fake free chunk in this block's data ending where the next
      // chunk starts, the next chunk's prev_size naming it and its PINUSE cleared.
      const at = q + b.u; // the next chunk's size field; the next chunk starts W before it
      if (at + W > word(H_END) || b.n < 64) return;
      const field = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24, 0, 0, 0, 0].slice(0, W);
      const fake = q + (int(0, (b.n - 48) >>> 4) << 4);
      const fsize = at - W - fake;
      store(q, [...field(0), ...field(fsize | 2), ...field(fake), ...field(fake)], fake - q);
      if (at - W >= q + b.n) u8.set(field(fsize), at - W); // the next chunk's prev_size, past the program's bytes
      u8[at] = u8[at]! & ~2;
      if (T) note(`  einherjar in 0x${q.toString(16)}: fake 0x${fake.toString(16)} size ${fsize}`);
    }
  };

  /**
   * A copy of the memory with its chunk map forged (a mark or a size word anywhere, a free
   * chunk's header to match, the designated victim or a bin head naming it), given to
   * Heap.attach: it must refuse the copy, or keep the promise for the copy's live blocks.
   */
  const attachCrafted = (): void => {
    report.crafted++;
    const copy = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    const cu8 = new Uint8Array(copy.buffer);
    cu8.set(u8);
    const cdv = new DataView(copy.buffer);
    const top = word(H_TOP);
    const g = int(0, (word(H_END) - arena) >>> (A === 16 ? 4 : 3));
    const c = arena + g * A;
    const map = word(H_BITMAP);
    const mw = map + 4 * (g >>> 4);
    const n = pick([1, 2, 4, int(2, 40), int(32, 200)]);
    const sz = n * A;
    const x = int(0, 3);
    const mark = pick([1, 1, 3]);
    if (x <= 1) cdv.setUint32(mw, (cdv.getUint32(mw, true) & ~(3 << ((g & 15) * 2))) | (mark << ((g & 15) * 2)), true);
    // A mark forged in a live block's chunk makes it other chunks of the copy (the map says
    // what is live and how big); the other blocks must be kept.
    const owned = new Map([...live].filter(([q, b]) => !(x <= 1 && c >= q - 2 * W && c < q + b.u - W)));
    if (x >= 1 && mw + 8 <= map + (word(H_COVER) >>> (A === 16 ? 6 : 5))) cdv.setUint32(mw + 4, (n << 2) | 2, true);
    if (c + 2 * W + 4 <= word(H_END)) {
      cdv.setUint32(c + W, sz | 2, true);
      if (c + sz + 4 <= word(H_END)) cdv.setUint32(c + sz, sz, true);
    }
    if (rand() < 0.5) cdv.setUint32(heap.base + 4 * H_DV, c, true);
    report.forgeries++;
    let h2: Heap;
    try {
      h2 = Heap.attach(copy, { base: heap.base });
    } catch (e) {
      if (!(e instanceof HeapCorruptionError)) violate(`attach of a crafted copy threw ${String(e)}`);
      report.refused++;
      return;
    }
    const keep = new Map([...owned].map(([q, b]) => [q, cu8.slice(q, q + b.n)]));
    for (let i = 0; i < 6; i++) {
      const len = pick([8, 24, 40, sz - 2 * W, int(0, 600)]);
      let q = 0;
      try {
        q = h2.malloc(Math.max(0, len));
      } catch (e) {
        if (!(e instanceof HeapCorruptionError)) violate(`malloc on a crafted copy threw ${String(e)}`);
        continue;
      }
      if (q === 0) continue;
      // (the copy's map where its header says now: a malloc that grows the copy moves it)
      const [ms, me] = mapChunk(cdv);
      if (q < arena + 2 * W || q + len > LIMIT) violate(`a crafted copy's malloc returned 0x${q.toString(16)}+${len}, outside the arena`);
      if (q < me && ms + 2 * W < q + len) violate(`a crafted copy's malloc returned 0x${q.toString(16)}+${len}, over the chunk map (attach took a map forged at 0x${c.toString(16)}, top 0x${top.toString(16)})`);
      for (const [y, b] of owned) if (q < y + b.n && y < q + Math.max(len, 1)) violate(`a crafted copy's malloc returned 0x${q.toString(16)}+${len}, over live 0x${y.toString(16)}+${b.n} (a map forged at 0x${c.toString(16)})`);
      cu8.fill(0xee, q, q + len);
    }
    for (const [q, bytes] of keep) if (!Buffer.from(cu8.buffer, q, bytes.length).equals(bytes)) violate(`a crafted copy's live block 0x${q.toString(16)} changed`);
    for (let i = 0; i < BASE; i++) if (cu8[i] !== guardByte(i)) return violate(`a crafted copy was written below base at 0x${i.toString(16)}`);
  };

  fresh();
  while (report.ops < p.ops) {
    report.ops++;
    if (rand() < 0.5) forge();
    if (T) note(`  [top ${word(5).toString(16)}]`);
    const ls = [...live.keys()];
    const r = rand();
    // The heap as it was before the call (header, chunk map, chunks): a call that throws must leave it so.
    const endBefore = word(H_END);
    const before = u8.slice(BASE, endBefore);
    try {
      if (r < 0.4 || ls.length === 0) {
        const n = size();
        took(heap.malloc(n), n, `malloc(${n})`);
      } else if (r < 0.75) {
        const q = pick(ls);
        const b = live.get(q)!;
        blockIntact(q, b);
        live.delete(q); // gone from the program's view even if free throws
        freed.push(q);
        if (freed.length > 64) freed.shift();
        if (T) note(`free(0x${q.toString(16)})`);
        try {
          heap.free(q);
        } catch (e) {
          live.set(q, b); // (still live for the heap)
          throw e;
        }
      } else if (r < 0.85) {
        const q = pick(ls);
        const b = live.get(q)!;
        blockIntact(q, b);
        const n = size();
        if (T) note(`realloc(0x${q.toString(16)}, ${n})`);
        if (n === 0) live.delete(q); // realloc(p, 0) frees p (glibc), if it does not throw
        let q2 = 0;
        try {
          q2 = heap.realloc(q, n);
        } catch (e) {
          live.set(q, b);
          throw e;
        }
        if (q2 !== 0) {
          live.delete(q);
          for (let i = 0; i < Math.min(n, b.n); i++) if (u8[q2 + i] !== b.shadow[i]) {
            violate(`realloc(0x${q.toString(16)}, ${n}) lost byte ${i}`);
            break;
          }
          const keep = u8.slice(q2, q2 + Math.min(n, b.n));
          took(q2, n, `realloc(0x${q.toString(16)}, ${n})`);
          store(q2, keep);
        }
      } else if (r < 0.9) {
        const n = size();
        const q = heap.calloc(1, n);
        if (q !== 0) for (let i = 0; i < n; i++) if (u8[q + i] !== 0) {
          violate(`calloc(1, ${n}) byte ${i} is not zero`);
          break;
        }
        took(q, n, `calloc(1, ${n})`);
      } else if (r < 0.95) {
        const n = size();
        const a = A << int(1, 8);
        const { ptr } = heap.posixMemalign(a, n);
        if (ptr % a !== 0) violate(`posixMemalign(${a}) gave 0x${ptr.toString(16)}`);
        took(ptr, n, `posixMemalign(${a}, ${n})`);
      } else if (r < 0.96) {
        // The calls that move the top and the map: trims, settings, big alignments.
        const x = int(0, 3);
        if (x === 0) heap.mallocTrim(int(0, 70_000));
        else if (x === 1) heap.mallopt(M_TRIM_THRESHOLD, pick([0, 4096, 128 * 1024, -1]));
        else if (x === 2) heap.mallopt(M_TOP_PAD, pick([0, 4096, 64 * 1024]));
        else {
          const n = size();
          took(heap.memalign(A << int(4, 14), n), n, `memalign(${n})`);
        }
      } else if (r < 0.965) {
        attachCrafted();
      } else if (r < 0.97) {
        heap.check();
      } else {
        heap.mallinfo();
      }
    } catch (e) {
      if (!(e instanceof HeapCorruptionError)) {
        if (p.trace === true) console.log((e as Error).stack);
        violate(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        fresh();
        continue;
      }
      if (word(H_END) !== endBefore) violate(`${e.message}, thrown after the break moved`);
      else if (!Buffer.from(u8.buffer, BASE, endBefore - BASE).equals(before)) {
        const at = BASE + before.findIndex((x, i) => x !== u8[BASE + i]);
        violate(`${e.message}, thrown after a change at 0x${at.toString(16)}`);
      }
      report.detected++;
      if (T) note(`  -> ${e.message}`);
      errorsHere++;
    }
    // Every live block as the program left it, the guards untouched (every op while the heap
    // is small, then every 64th: a write that happened stays there to be found).
    if (report.ops % 64 === 0 || live.size < 4) {
      for (const [q, b] of live) blockIntact(q, b);
      guardsIntact();
    }
    // A heap found damaged is used a little longer (it must still keep its word), then replaced.
    if (errorsHere > 0 && (errorsHere > 30 || rand() < 0.05)) fresh();
    else if (rand() < 0.002) fresh();
  }
  for (const [q, b] of live) blockIntact(q, b);
  guardsIntact();
  return report;
}
