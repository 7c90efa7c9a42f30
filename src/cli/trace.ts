/**
 * Allocation traces in the CS:APP malloc-lab format (`.rep`), read and checked line by line.
 *
 * ```text
 *   20000          line 1  suggested heap size (ignored)
 *   3              line 2  number of ids: ids run 0 .. 2
 *   5              line 3  number of operations that follow
 *   300            line 4  peak live payload in bytes (informational)
 *   a 0 100        ptr[0] = malloc(100)
 *   a 1 200        ptr[1] = malloc(200)
 *   r 0 150        ptr[0] = realloc(ptr[0], 150)
 *   f 1            free(ptr[1])
 *   a 2 10         ...
 * ```
 *
 * Blank lines are skipped. Every other line must be one of the three operations on an id that
 * is in range and in the right state (`a` on a free id, `f` and `r` on a live one), so a
 * replay never hands the heap a pointer it did not return.
 */
import { inputError } from "./command.js";

/** One operation of a trace. */
export interface TraceOp {
  /** `a`: malloc, `f`: free, `r`: realloc. */
  readonly kind: "a" | "f" | "r";
  /** The block's id. */
  readonly id: number;
  /** Bytes asked for (0 for `f`). */
  readonly size: number;
  /** Line number in the file, from 1. */
  readonly line: number;
}

/** A parsed trace. */
export interface Trace {
  /** Ids run from 0 to `ids − 1` (header line 2). */
  readonly ids: number;
  /** Operations the header announces (line 3); may differ from `ops.length`. */
  readonly declaredOps: number;
  /** Peak live payload the header states (line 4). */
  readonly declaredPeak: number;
  /** The operations, in order. */
  readonly ops: readonly TraceOp[];
}

const COUNT = /^\d+$/;

/**
 * Parses and checks a trace.
 * @param text - the file's contents
 * @param name - the file name, for messages (`name:line: what is wrong`)
 * @throws CliError (exit code 1) naming the first bad line
 */
export function parseTrace(text: string, name: string): Trace {
  const lines = text.split(/\r?\n/);
  const header: number[] = [];
  let i = 0;
  for (; i < lines.length && header.length < 4; i++) {
    const t = lines[i]!.trim();
    if (t === "") continue;
    // The first header line is a number too, but some traces write it as a float (a weight).
    if (!(header.length === 0 ? /^\d+(\.\d+)?$/.test(t) : COUNT.test(t))) {
      throw inputError(`${name}:${i + 1}: header line ${header.length + 1} must be a number, got '${t}' (a trace starts with 4 header lines)`);
    }
    header.push(Number(t));
  }
  if (header.length < 4) throw inputError(`${name}: the file ends inside the 4-line header`);
  const ids = header[1]!;
  const live = new Uint8Array(ids);
  const ops: TraceOp[] = [];
  for (; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t === "") continue;
    const line = i + 1;
    const bad = (what: string): never => {
      throw inputError(`${name}:${line}: ${what}: '${t}'`);
    };
    const f = t.split(/\s+/);
    const kind = f[0];
    if (kind !== "a" && kind !== "f" && kind !== "r") bad("unknown operation (expected a, f or r)");
    const want = kind === "f" ? 2 : 3;
    if (f.length !== want) bad(kind === "f" ? "expected 'f id'" : `expected '${kind} id size'`);
    if (!COUNT.test(f[1]!)) bad("the id must be a whole number");
    const id = Number(f[1]);
    if (id >= ids) bad(`id ${id} is out of range (the header says ids run 0..${ids - 1})`);
    let size = 0;
    if (kind !== "f") {
      if (!COUNT.test(f[2]!) || !Number.isSafeInteger(Number(f[2]))) bad("the size must be a whole number of bytes");
      size = Number(f[2]);
    }
    if (kind === "a" && live[id] === 1) bad(`id ${id} is already allocated`);
    if (kind !== "a" && live[id] === 0) bad(`unknown id ${id}: it is not allocated`);
    live[id] = kind === "f" ? 0 : 1;
    ops.push({ kind: kind as TraceOp["kind"], id, size, line });
  }
  return { ids, declaredOps: header[2]!, declaredPeak: header[3]!, ops };
}

/**
 * The most payload bytes live at once (the sum of the sizes asked for by live blocks; a
 * realloc counts its new size), and the index of the first operation after which it is reached
 * (-1 for a trace that never holds a byte).
 */
export function livePeak(trace: Trace): { peakLive: number; at: number } {
  const sizes = new Float64Array(trace.ids);
  let live = 0;
  let peakLive = 0;
  let at = -1;
  trace.ops.forEach((op, k) => {
    live += (op.kind === "f" ? 0 : op.size) - sizes[op.id]!;
    sizes[op.id] = op.kind === "f" ? 0 : op.size;
    if (live > peakLive) {
      peakLive = live;
      at = k;
    }
  });
  return { peakLive, at };
}
