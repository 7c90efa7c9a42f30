/**
 * Heap corruption, glibc's checks, and what fools them: every scenario in
 * test/fixtures/glibc/attacks/ was run against this machine's glibc 2.36 by
 * scripts/glibc/attacks/attack.c (see its header for the steps' language), each in a fresh
 * forked process, and the transcript recorded: every step with its result (addresses relative
 * to the heap start), then how the process ended — normally, killed by glibc's abort with the
 * message it printed, or by a segmentation fault. The model runs the same steps in a process
 * whose heap starts at the same address, writing the same bytes through `proc.as`, and must
 * print the same transcript: where glibc is fooled, the same addresses; where it aborts, the
 * same message, raised as a HeapError subclass; where it faults, a SegmentationFault.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DoubleFreeError, HeapCorruptionError, HeapError, InvalidPointerError, SegmentationFault } from "../../../src/errors.js";
import { PhysicalMemory } from "../../../src/memory/PhysicalMemory.js";
import { Process } from "../../../src/vm/Process.js";
import type { GlibcHeap } from "../../../src/heap/glibc/GlibcHeap.js";
import { ARENA_SIZE, IS_MMAPPED } from "../../../src/heap/glibc/layout.js";

const dir = join(__dirname, "../../fixtures/glibc/attacks");
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as {
  glibc: string;
  scenarios: { name: string; end: string; heap0: string; fake: string; mainArena: string; what: string }[];
};

/** attack.c's F: zeroed memory 1 MiB below the heap. */
const FAKE_OFFSET = 1n << 20n;
const FAKE_SIZE = 0x2000n;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** What ended the model's run, as attack.c prints it, and the error thrown. */
interface Run {
  lines: string[];
  error: unknown;
}

/** Runs a scenario on the model; returns attack.c's transcript. */
function runOnModel(script: string, heap0: number): Run {
  // A PIE process, as attack.c is: its program and break where the real one's are (ASLR off).
  // The break is moved up to heap0 before malloc's first call, as attack.c does.
  const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 16384 }), pie: true, heap: { allocator: "glibc" } });
  expect(proc.currentBreak).toBeLessThan(heap0 - Number(FAKE_OFFSET));
  proc.sbrk(heap0 - proc.currentBreak);
  const heap = proc.heap as GlibcHeap;
  const as = proc.as;
  const H = BigInt(heap0);
  const F = H - FAKE_OFFSET;
  const A = BigInt(heap.state.arena);
  const key = (BigInt(heap.state.tcacheKeyHi) << 32n) | BigInt(heap.state.tcacheKeyLo);
  const vars = new Map<string, bigint>();

  const load = (a: bigint): bigint => (BigInt(as.read32(Number(a) + 4)) << 32n) | BigInt(as.read32(Number(a)));
  const hex = (v: bigint): string => v.toString(16);
  const value = (v: bigint, at: bigint | null): string => {
    const brk = BigInt(proc.currentBreak);
    if (v === 0n) return "0";
    if (at !== null && v === key) return "K";
    if (v >= H && v < brk) return `H+${hex(v - H)}`;
    if (v >= F && v < F + FAKE_SIZE) return `F+${hex(v - F)}`;
    if (v >= A && v < A + BigInt(ARENA_SIZE)) return `A+${hex(v - A)}`;
    if (at !== null) {
      const d = v ^ (at >> 12n);
      if (d >= H && d < brk) return `S:H+${hex(d - H)}`;
      if (d >= F && d < F + FAKE_SIZE) return `S:F+${hex(d - F)}`;
    }
    return `0x${hex(v)}`;
  };
  const ptr = (p: number): string => {
    const inHeap = p >= heap0 && p < proc.currentBreak;
    return p !== 0 && !inHeap && (as.read32(p - 8) & IS_MMAPPED) !== 0 ? `M+${hex(BigInt(p % 4096))}` : value(BigInt(p), null);
  };

  // EXPR: terms joined by + and -; a term is a name, H, F, A, a number, or prot(POS,PTR).
  const evaluate = (text: string): bigint => {
    let i = 0;
    const term = (): bigint => {
      if (text.startsWith("prot(", i)) {
        i += 5;
        const pos = expr();
        if (text[i++] !== ",") throw new Error(`expected , in ${text}`);
        const p = expr();
        if (text[i++] !== ")") throw new Error(`expected ) in ${text}`);
        return (pos >> 12n) ^ p;
      }
      const m = /^(0x[0-9a-f]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i))!;
      if (m === null) throw new Error(`bad expression ${text}`);
      i += m[1]!.length;
      const t = m[1]!;
      if (/^[0-9]/.test(t)) return BigInt(t);
      if (t === "H") return H;
      if (t === "F") return F;
      if (t === "A") return A;
      const v = vars.get(t);
      if (v === undefined) throw new Error(`unknown name ${t}`);
      return v;
    };
    const expr = (): bigint => {
      let v = term();
      while (text[i] === "+" || text[i] === "-") {
        const op = text[i++];
        const t = term();
        v = U64(op === "+" ? v + t : v - t);
      }
      return v;
    };
    const v = expr();
    if (i !== text.length) throw new Error(`trailing characters in ${text}`);
    return v;
  };
  const num = (t: string): number => Number(evaluate(t));

  const lines: string[] = [];
  let error: unknown = null;
  for (const raw of script.split("\n")) {
    const tok = raw.replace(/#.*/, "").trim().split(/\s+/).filter((t) => t !== "");
    if (tok.length === 0) continue;
    const head = `${tok.join(" ")} -> `;
    try {
      let res: string;
      if (tok[1] === "=") {
        const [name, , fn, x = "0", y = "0"] = tok as [string, string, string, string?, string?];
        const p =
          fn === "malloc" ? heap.malloc(num(x)) : fn === "calloc" ? heap.calloc(num(x), num(y)) : fn === "realloc" ? heap.realloc(num(x), num(y)) : heap.memalign(num(x), num(y));
        vars.set(name, BigInt(p));
        res = ptr(p);
      } else if (tok[0] === "free") {
        heap.free(num(tok[1]!));
        res = "ok";
      } else if (tok[0] === "set") {
        const a = Number(evaluate(tok[1]!));
        const v = evaluate(tok[2]!);
        as.write32(a, Number(v & 0xffffffffn));
        as.write32(a + 4, Number(v >> 32n));
        res = "ok";
      } else if (tok[0] === "setb") {
        as.writeBytes(Number(evaluate(tok[1]!)), Uint8Array.of(Number(evaluate(tok[2]!) & 0xffn)));
        res = "ok";
      } else if (tok[0] === "get") {
        const a = evaluate(tok[1]!);
        res = value(load(a), a);
      } else if (tok[0] === "mallopt") {
        res = String(heap.mallopt(Number(BigInt.asIntN(32, evaluate(tok[1]!))), Number(BigInt.asIntN(32, evaluate(tok[2]!)))));
      } else throw new Error(`unknown step ${raw}`);
      lines.push(head + res);
    } catch (e) {
      // attack.c prints the step before running it: the line stays open when the process dies.
      lines.push(head.trimEnd());
      error = e;
      break;
    }
  }
  if (error === null) lines.push("end: exit 0");
  else if (error instanceof HeapError) lines.push(`end: abort "${error.message}"`);
  else if (error instanceof SegmentationFault) lines.push("end: signal 11");
  else throw error;
  return { lines, error };
}

describe("glibc model vs glibc 2.36 under attack (recorded)", () => {
  it("the transcripts were recorded with glibc 2.36", () => {
    expect(manifest.glibc).toMatch(/GLIBC 2\.36/);
    expect(manifest.scenarios.length).toBeGreaterThanOrEqual(30);
  });

  for (const s of manifest.scenarios) {
    it(`${s.name}: ${s.end}`, () => {
      const script = readFileSync(join(dir, `${s.name}.atk`), "utf8");
      const want = readFileSync(join(dir, `${s.name}.out`), "utf8").trimEnd().split("\n").map((l) => l.trimEnd());
      const { lines, error } = runOnModel(script, Number(s.heap0));
      expect(lines).toEqual(want);
      // The error's class says what glibc's message means.
      const msg = /^end: abort "(.*)"$/.exec(s.end)?.[1];
      if (msg === undefined) return;
      if (/double free/.test(msg)) expect(error).toBeInstanceOf(DoubleFreeError);
      else if (/invalid pointer|invalid size$/.test(msg)) expect(error).toBeInstanceOf(InvalidPointerError);
      else expect(error).toBeInstanceOf(HeapCorruptionError);
    });
  }
});
