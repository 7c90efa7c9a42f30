/**
 * The trace box of the heap panel: CS:APP malloc-lab lines (`a id size`, `f id`,
 * `r id size`), with or without the four-number header.
 */

/** One call of a trace. */
export interface TraceCall {
  kind: "a" | "f" | "r";
  id: number;
  size: number;
  /** Line number, from 1. */
  line: number;
}

/**
 * The calls of `text`. Leading lines holding one number each (the header) are skipped.
 * @throws Error naming the first line that is not a call
 */
export function parseCalls(text: string): TraceCall[] {
  const out: TraceCall[] = [];
  let header = true;
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === "" || t.startsWith("#")) return;
    if (header && /^\d+(\.\d+)?$/.test(t)) return;
    header = false;
    const m = /^([afr])\s+(\d+)(?:\s+(\d+))?$/.exec(t);
    if (m === null || (m[1] === "f") !== (m[3] === undefined)) {
      throw new Error(`line ${i + 1}: expected 'a id size', 'f id' or 'r id size', got '${t}'`);
    }
    out.push({ kind: m[1] as TraceCall["kind"], id: Number(m[2]), size: m[3] === undefined ? 0 : Number(m[3]), line: i + 1 });
  });
  return out;
}
