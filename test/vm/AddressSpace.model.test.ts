/**
 * Model-based test: random mmap / munmap / mprotect / read / write / fork / exit sequences over
 * several processes sharing one RAM and one swap, against a model that knows nothing of frames:
 * per process a map of page → what maps it, private page contents, shared objects' contents.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { Errno } from "../../src/errno.js";
import { OutOfMemoryError, ProtectionFault, SegmentationFault } from "../../src/errors.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { AddressSpace } from "../../src/vm/AddressSpace.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { SwapSpace } from "../../src/vm/Swap.js";
import { fcSeed, thrown } from "./helpers/asKit.js";

const PS = 64;
const BASE = 0x10000;
const WINDOW = 8;
const FILE_PAGES = 8;
const BP = BASE / PS;

type Kind = "anon" | "sharedAnon" | "sharedFile" | "privFile";
interface PageEntry {
  prot: number;
  kind: Kind;
  /** sharedAnon: object id; else unused. */
  obj: number;
  /** Page in the object or file. */
  objPage: number;
  /** privFile: written (so a private copy) yet. */
  copied: boolean;
}
interface ModelProc {
  pages: Map<number, PageEntry>;
  priv: Map<number, Uint8Array>;
}
interface Model {
  procs: ModelProc[];
  objs: Map<number, Uint8Array>;
  nextObj: number;
  file: Uint8Array;
}
interface Real {
  /** RAM and swap are small: a read or write may throw OutOfMemoryError, and must then change nothing. */
  tight: boolean;
  memory: PhysicalMemory;
  procs: AddressSpace[];
  file: MemFile;
}

type Cmd = fc.Command<Model, Real>;
const OOM = Symbol("OOM");

/** Runs an access; in a tight machine an OutOfMemoryError is allowed (and reported as OOM). */
function attempt<T>(real: Real, fn: () => T): T | typeof OOM {
  try {
    return fn();
  } catch (e) {
    if (real.tight && e instanceof OutOfMemoryError) return OOM;
    throw e;
  }
}
const pick = (n: number, i: number): number => i % n;

function dropPages(m: ModelProc, from: number, to: number): void {
  for (let p = from; p < to; p++) {
    m.pages.delete(p);
    m.priv.delete(p);
  }
}

function modelRead(model: Model, m: ModelProc, p: number, off: number): number {
  const e = m.pages.get(p)!;
  if (e.kind === "anon") return m.priv.get(p)?.[off] ?? 0;
  if (e.kind === "sharedAnon") return model.objs.get(e.obj)![e.objPage * PS + off]!;
  if (e.kind === "privFile" && e.copied) return m.priv.get(p)![off]!;
  return model.file[e.objPage * PS + off]!;
}

function modelWrite(model: Model, m: ModelProc, p: number, off: number, v: number): void {
  const e = m.pages.get(p)!;
  if (e.kind === "anon") {
    let b = m.priv.get(p);
    if (b === undefined) m.priv.set(p, (b = new Uint8Array(PS)));
    b[off] = v;
  } else if (e.kind === "sharedAnon") model.objs.get(e.obj)![e.objPage * PS + off] = v;
  else if (e.kind === "sharedFile") model.file[e.objPage * PS + off] = v;
  else {
    if (!e.copied) {
      m.priv.set(p, model.file.slice(e.objPage * PS, (e.objPage + 1) * PS));
      e.copied = true;
    }
    m.priv.get(p)![off] = v;
  }
}

/** Compares the real space's maps and size with the model. */
function checkLayout(as: AddressSpace, m: ModelProc): void {
  as.check();
  expect(as.status().vmSize).toBe(m.pages.size * PS);
  const seen = new Map<number, string>();
  for (const line of as.maps().split("\n")) {
    if (line === "") continue;
    const [range, perms] = line.split(" ");
    const [s, e] = range!.split("-").map((h) => parseInt(h, 16));
    for (let a = s!; a < e!; a += PS) seen.set(a / PS, perms!);
  }
  expect(seen.size).toBe(m.pages.size);
  for (const [p, e] of m.pages) {
    const perms = ((e.prot & PROT_READ) !== 0 ? "r" : "-") + ((e.prot & PROT_WRITE) !== 0 ? "w" : "-") + "-" + (e.kind === "sharedAnon" || e.kind === "sharedFile" ? "s" : "p");
    expect(seen.get(p), `page 0x${(p * PS).toString(16)}`).toBe(perms);
  }
}

class MmapCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly page: number,
    readonly n: number,
    readonly prot: number,
    readonly kind: Kind,
    readonly filePage: number,
    readonly mode: "fixed" | "noreplace" | "hint",
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const as = real.procs[i]!;
    const m = model.procs[i]!;
    const flags = (this.kind === "anon" ? MAP_PRIVATE | MAP_ANONYMOUS : this.kind === "sharedAnon" ? MAP_SHARED | MAP_ANONYMOUS : this.kind === "sharedFile" ? MAP_SHARED : MAP_PRIVATE) | (this.mode === "fixed" ? MAP_FIXED : this.mode === "noreplace" ? MAP_FIXED_NOREPLACE : 0);
    const file = this.kind === "sharedFile" || this.kind === "privFile" ? real.file : undefined;
    const offset = file !== undefined ? this.filePage * PS : 0;
    const want = BASE + this.page * PS;
    const p0 = BP + this.page;
    let overlap = false;
    for (let p = p0; p < p0 + this.n; p++) if (m.pages.has(p)) overlap = true;
    const got = as.mmap(this.mode === "hint" ? want : want, this.n * PS - 5, this.prot, flags, file, offset);
    if (this.mode === "noreplace" && overlap) {
      expect(got).toBe(-1);
      expect(as.errno).toBe(Errno.EEXIST);
      return;
    }
    expect(got).not.toBe(-1);
    if (this.mode !== "hint") expect(got).toBe(want);
    else if (!overlap) expect(got).toBe(want);
    const q0 = got / PS;
    if (this.mode === "hint") for (let p = q0; p < q0 + this.n; p++) expect(m.pages.has(p)).toBe(false);
    dropPages(m, q0, q0 + this.n);
    const obj = model.nextObj++;
    if (this.kind === "sharedAnon") model.objs.set(obj, new Uint8Array(this.n * PS));
    for (let k = 0; k < this.n; k++) {
      m.pages.set(q0 + k, { prot: this.prot, kind: this.kind, obj, objPage: this.kind === "sharedAnon" ? k : this.filePage + k, copied: false });
    }
    checkLayout(as, m);
  }
  toString(): string {
    return `mmap(p${this.proc}, page ${this.page}, ${this.n}, prot ${this.prot}, ${this.kind}, fp ${this.filePage}, ${this.mode})`;
  }
}

class MunmapCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly page: number,
    readonly n: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    expect(real.procs[i]!.munmap(BASE + this.page * PS, this.n * PS)).toBe(0);
    dropPages(model.procs[i]!, BP + this.page, BP + this.page + this.n);
    checkLayout(real.procs[i]!, model.procs[i]!);
  }
  toString(): string {
    return `munmap(p${this.proc}, page ${this.page}, ${this.n})`;
  }
}

class MprotectCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly page: number,
    readonly n: number,
    readonly prot: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const as = real.procs[i]!;
    const m = model.procs[i]!;
    const r = as.mprotect(BASE + this.page * PS, this.n * PS, this.prot);
    let p = BP + this.page;
    for (; p < BP + this.page + this.n && m.pages.has(p); p++) m.pages.get(p)!.prot = this.prot;
    if (p < BP + this.page + this.n) {
      expect(r).toBe(-1);
      expect(as.errno).toBe(Errno.ENOMEM);
    } else expect(r).toBe(0);
    checkLayout(as, m);
  }
  toString(): string {
    return `mprotect(p${this.proc}, page ${this.page}, ${this.n}, ${this.prot})`;
  }
}

class ReadCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly page: number,
    readonly off: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = BP + this.page;
    const va = p * PS + this.off;
    const e = m.pages.get(p);
    if (e === undefined) expect(thrown(() => real.procs[i]!.read8(va))).toBeInstanceOf(SegmentationFault);
    else if (e.prot === 0) expect(thrown(() => real.procs[i]!.read8(va))).toBeInstanceOf(ProtectionFault);
    else {
      const got = attempt(real, () => real.procs[i]!.read8(va));
      if (got !== OOM) expect(got).toBe(modelRead(model, m, p, this.off));
    }
  }
  toString(): string {
    return `read(p${this.proc}, page ${this.page}, +${this.off})`;
  }
}

class WriteCmd implements Cmd {
  constructor(
    readonly proc: number,
    readonly page: number,
    readonly off: number,
    readonly v: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const m = model.procs[i]!;
    const p = BP + this.page;
    const va = p * PS + this.off;
    const e = m.pages.get(p);
    if (e === undefined) expect(thrown(() => real.procs[i]!.write8(va, this.v))).toBeInstanceOf(SegmentationFault);
    else if ((e.prot & PROT_WRITE) === 0) expect(thrown(() => real.procs[i]!.write8(va, this.v))).toBeInstanceOf(ProtectionFault);
    else {
      if (attempt(real, () => real.procs[i]!.write8(va, this.v)) !== OOM) modelWrite(model, m, p, this.off, this.v);
      real.procs[i]!.check();
    }
  }
  toString(): string {
    return `write(p${this.proc}, page ${this.page}, +${this.off}, ${this.v})`;
  }
}

class ForkCmd implements Cmd {
  constructor(readonly proc: number) {}
  check(model: Model): boolean {
    return model.procs.length < 4;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    const child = real.procs[i]!.fork();
    const m = model.procs[i]!;
    const pages = new Map<number, PageEntry>();
    for (const [p, e] of m.pages) pages.set(p, { ...e });
    const priv = new Map<number, Uint8Array>();
    for (const [p, b] of m.priv) priv.set(p, b.slice());
    real.procs.push(child);
    model.procs.push({ pages, priv });
    checkLayout(child, model.procs[model.procs.length - 1]!);
    expect(child.status().minorFaults + child.status().majorFaults).toBe(0);
  }
  toString(): string {
    return `fork(p${this.proc})`;
  }
}

class ExitCmd implements Cmd {
  constructor(readonly proc: number) {}
  check(model: Model): boolean {
    return model.procs.length > 1;
  }
  run(model: Model, real: Real): void {
    const i = pick(real.procs.length, this.proc);
    real.procs[i]!.close();
    real.procs.splice(i, 1);
    model.procs.splice(i, 1);
  }
  toString(): string {
    return `exit(p${this.proc})`;
  }
}

const proc = fc.nat(3);
const page = fc.integer({ min: 0, max: WINDOW - 1 });
const prot = fc.integer({ min: 0, max: 3 });
/** Offsets in a page: often the first few bytes, so that accesses collide. */
const off = fc.oneof(fc.nat(3), fc.nat(PS - 1));
const commands = [
  fc.tuple(proc, page, fc.integer({ min: 1, max: 4 }), prot, fc.constantFrom<Kind>("anon", "anon", "sharedAnon", "sharedFile", "privFile"), fc.integer({ min: 0, max: FILE_PAGES - 4 }), fc.constantFrom("fixed", "fixed", "noreplace", "hint") as fc.Arbitrary<"fixed" | "noreplace" | "hint">).map(
    ([a, b, c, d, e, f, g]) => new MmapCmd(a, b, c, d, e, f, g),
  ),
  fc.tuple(proc, page, fc.integer({ min: 1, max: 4 })).map(([a, b, c]) => new MunmapCmd(a, b, c)),
  fc.tuple(proc, page, fc.integer({ min: 1, max: 4 }), prot).map(([a, b, c, d]) => new MprotectCmd(a, b, c, d)),
  fc.tuple(proc, page, off).map(([a, b, c]) => new ReadCmd(a, b, c)),
  fc.tuple(proc, page, off).map(([a, b, c]) => new ReadCmd(a, b, c)),
  fc.tuple(proc, page, off, fc.integer({ min: 1, max: 255 })).map(([a, b, c, d]) => new WriteCmd(a, b, c, d)),
  fc.tuple(proc, page, off, fc.integer({ min: 1, max: 255 })).map(([a, b, c, d]) => new WriteCmd(a, b, c, d)),
  fc.tuple(proc, page, off, fc.integer({ min: 1, max: 255 })).map(([a, b, c, d]) => new WriteCmd(a, b, c, d)),
  proc.map((a) => new ForkCmd(a)),
  proc.map((a) => new ExitCmd(a)),
];

function setup(policy: "fifo" | "lru" | "clock", maxResidentPages: number | undefined, tight: boolean): { model: Model; real: Real } {
  const memory = new PhysicalMemory({ frames: tight ? 2 : 4096, pageSize: PS, shared: false });
  const swap = new SwapSpace({ slots: tight ? 1 : 4096 });
  const fileBytes = new Uint8Array(FILE_PAGES * PS).map((_, i) => (i * 13 + 1) & 255);
  const file = new MemFile(fileBytes.slice(), "model.bin");
  const as = new AddressSpace({ memory, swap, replacement: policy, addressBits: 32, mmapMinAddr: BASE, mmapBase: BASE + WINDOW * PS, ...(maxResidentPages !== undefined ? { maxResidentPages } : {}) });
  return {
    model: { procs: [{ pages: new Map(), priv: new Map() }], objs: new Map(), nextObj: 0, file: fileBytes },
    real: { tight, memory, procs: [as], file },
  };
}

describe("AddressSpace against a model (fc.commands)", () => {
  for (const [policy, max, tight] of [
    ["clock", undefined, false],
    ["fifo", 3, false],
    ["lru", 4, false],
    ["clock", 2, false],
    ["lru", undefined, true],
    ["clock", undefined, true],
  ] as const) {
    it(`every access faults exactly when the model says, or returns the model's byte (${policy}, maxResidentPages ${max ?? "none"}${tight ? ", 2 frames and 1 swap slot: OOM allowed, nothing lost" : ""})`, () => {
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 60, size: "max" }), (cmds) => {
          const { model, real } = setup(policy, max, tight);
          fc.modelRun(() => ({ model, real }), cmds);
          // Every byte of every process once more, then every frame and slot released.
          for (let i = 0; i < real.procs.length; i++) {
            const m = model.procs[i]!;
            for (const [p, e] of m.pages) {
              if (e.prot === 0) continue;
              for (let off = 0; off < PS; off++) {
                const got = attempt(real, () => real.procs[i]!.read8(p * PS + off));
                if (got !== OOM) expect(got).toBe(modelRead(model, m, p, off));
              }
            }
            real.procs[i]!.pageTable.check();
          }
          real.memory.check();
          for (const as of real.procs) as.close();
          expect(real.memory.freeFrames).toBe(real.memory.frames);
          expect(real.procs[0]!.swap!.usedSlots).toBe(0);
          real.file.sync();
          expect([...real.file.bytes]).toEqual([...model.file]);
        }),
        { seed: fcSeed(`vm model ${policy} ${max ?? "-"}${tight ? " tight" : ""}`), numRuns: 100 },
      );
    });
  }
});
