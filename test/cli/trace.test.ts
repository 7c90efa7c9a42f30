/**
 * The trace reader: CS:APP `.rep` files, checked line by line, and the peak of live payload.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/command.js";
import { livePeak, parseTrace } from "../../src/cli/trace.js";
import { fixtures, traces } from "./helpers.js";

const header = "0\n3\n4\n300\n";

function error(text: string): CliError {
  try {
    parseTrace(text, "t.rep");
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return e as CliError;
  }
  throw new Error("no error");
}

describe("parseTrace", () => {
  it("reads the header and the three operations, with their line numbers", () => {
    const t = parseTrace(header + "a 0 100\n\nr 0 150\na 1 7\nf 0\n", "t.rep");
    expect(t).toMatchObject({ ids: 3, declaredOps: 4, declaredPeak: 300 });
    expect(t.ops).toEqual([
      { kind: "a", id: 0, size: 100, line: 5 },
      { kind: "r", id: 0, size: 150, line: 7 },
      { kind: "a", id: 1, size: 7, line: 8 },
      { kind: "f", id: 0, size: 0, line: 9 },
    ]);
  });

  it("names the file and the line of every kind of mistake, with exit code 1", () => {
    const cases: [string, RegExp][] = [
      ["0\n3\nfour\n300\n", /^t\.rep:3: header line 3 must be a number, got 'four'/],
      ["0\n3\n", /^t\.rep: the file ends inside the 4-line header/],
      [header + "a 0 100\nm 0 5\n", /^t\.rep:6: unknown operation \(expected a, f or r\): 'm 0 5'/],
      [header + "a 0\n", /^t\.rep:5: expected 'a id size': 'a 0'/],
      [header + "f 0 5\n", /^t\.rep:5: expected 'f id': 'f 0 5'/],
      [header + "a x 5\n", /^t\.rep:5: the id must be a whole number/],
      [header + "a 3 5\n", /^t\.rep:5: id 3 is out of range \(the header says ids run 0\.\.2\)/],
      [header + "a 0 -5\n", /^t\.rep:5: the size must be a whole number of bytes/],
      [header + "a 0 1.5\n", /^t\.rep:5: the size must be a whole number of bytes/],
      [header + "a 0 5\na 0 5\n", /^t\.rep:6: id 0 is already allocated/],
      [header + "f 1\n", /^t\.rep:5: unknown id 1: it is not allocated: 'f 1'/],
      [header + "a 1 5\nf 1\nr 1 10\n", /^t\.rep:7: unknown id 1: it is not allocated/],
    ];
    for (const [text, re] of cases) {
      const e = error(text);
      expect(e.message).toMatch(re);
      expect(e.exitCode).toBe(1);
    }
  });

  it("accepts a fractional size hint and CRLF line ends", () => {
    const t = parseTrace("1.5\r\n1\r\n1\r\n8\r\na 0 8\r\n", "t.rep");
    expect(t.ops).toHaveLength(1);
  });
});

describe("livePeak", () => {
  it("counts a realloc at its new size and a free as nothing", () => {
    // live: 100, 300, 3300, 3100, 3500 (r 0: 100 -> 500), 3540, 540, 40
    const t = parseTrace(readFileSync(join(fixtures, "small.rep"), "utf8"), "small.rep");
    expect(livePeak(t)).toEqual({ peakLive: 3540, at: 5 });
  });

  it("is -1 for a trace that never holds a byte", () => {
    expect(livePeak(parseTrace("0\n1\n2\n0\na 0 0\nf 0\n", "t"))).toEqual({ peakLive: 0, at: -1 });
  });

  it("agrees with the peak each real trace states in its header", () => {
    const files = readdirSync(traces).filter((f) => f.endsWith(".rep"));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const t = parseTrace(readFileSync(join(traces, f), "utf8"), f);
      expect(livePeak(t).peakLive, f).toBe(t.declaredPeak);
      expect(t.ops.length, f).toBe(t.declaredOps);
    }
  });
});
