import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script, without type declarations
import { generateLogged } from "../../scripts/gen-paged-engine.mjs";

const REPO = path.resolve(__dirname, "../..");
const read = (p: string): string => fs.readFileSync(path.join(REPO, p), "utf8");

describe("the logged engine generated from Heap.ts (a concurrent heap's)", () => {
  it("is up to date (run `npm run gen` after changing Heap.ts)", () => {
    expect(generateLogged(read("src/heap/Heap.ts"))).toBe(read("src/heap/LoggedEngine.generated.ts"));
  });

  it("logs each store before it, and leaves reads alone", () => {
    const wrap = (body: string): string =>
      `class Heap {\n  protected m!: Int32Array;\n  foo(i: number): number {\n    const m = this.m;\n${body}\n  }\n}\n`;
    const out: string = generateLogged(wrap("    m[i + 1] = m[i] | 1;\n    this.m[i] = m.length;\n    return this.m[i >>> 2];"));
    // The entry (index, old value) and the count (in memory, for recovery, and in the engine)
    // are written before the store itself.
    expect(out).toContain(
      "{ const $i = i + 1; const $x = m[i] | 1; const $n = this.lgN; " +
        "if ($n < this.lgCap) { const $c = this.lg; m[$c + 1 + $n] = $i; m[$c + 2 + $n] = m[$i]!; m[$c] = $n + 2; this.lgN = $n + 2; } else this.logFull($i); m[$i] = $x; }",
    );
    expect(out).toContain("this.m[$c] = $n + 2; this.lgN = $n + 2; } else this.logFull($i); this.m[$i] = $x; }");
    expect(out).toContain("return this.m[i >>> 2];");
    expect(out).toContain("export function makeLoggedEngine(Base: typeof Heap)");
    expect(() => generateLogged(wrap("    m[i] |= 2;\n    return 0;"))).toThrow(/compound stores/);
  });
});
