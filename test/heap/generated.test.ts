import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script, without type declarations
import { CACHE_MASK, generate } from "../../scripts/gen-paged-engine.mjs";
import { CACHE_ENTRIES } from "../../src/heap/PagedHeap.js";

const REPO = path.resolve(__dirname, "../..");
const read = (p: string): string => fs.readFileSync(path.join(REPO, p), "utf8");

describe("the paged engine generated from Heap.ts", () => {
  it("is up to date (run `npm run gen` after changing Heap.ts)", () => {
    expect(generate(read("src/heap/Heap.ts"))).toBe(read("src/heap/PagedEngine.generated.ts"));
  });

  it("uses the cache size PagedHeap has", () => {
    expect(CACHE_MASK + 1).toBe(CACHE_ENTRIES);
  });

  it("rewrites reads and stores, and refuses what it cannot translate", () => {
    const wrap = (body: string): string =>
      `class Heap {\n  protected m!: Int32Array;\n  foo(i: number): number {\n    const m = this.m;\n${body}\n  }\n}\n`;
    const out = generate(wrap("    m[i + 1] = m[i] | 1;\n    this.m[i] = -m[m[i]];\n    return this.m[i >>> 2];"));
    expect(out).toContain("{ const $i = i + 1; const $x = m[this.tr(i)] | 1; ");
    expect(out).toContain("const $x = -m[this.tr(m[this.tr(i)])]; ");
    expect(out).toContain("this.writeMiss($i)");
    expect(out).toContain("this.undoN = $n + 2; m[$a] = $x; }");
    expect(out).toContain("this.undoN = $n + 2; this.m[$a] = $x; }");
    expect(out).toContain("return this.m[this.tr(i >>> 2)];");
    expect(out).toContain("protected abstract tr(i: number): number;");
    expect(() => generate(wrap("    return (m[i] = 1);"))).toThrow(/store must be a statement/);
    expect(() => generate(wrap("    m[i] |= 2;\n    return 0;"))).toThrow(/compound stores/);
    expect(() => generate(wrap("    m[i]++;\n    return 0;"))).toThrow(/\+\+ and --/);
    expect(() => generate(wrap("    const a = m;\n    return a[0];"))).toThrow(/may only be indexed/);
    for (const op of ["*=", "/=", "%=", "**=", "??=", "||=", "&&=", "<<=", ">>>="]) {
      expect(() => generate(wrap(`    m[i] ${op} 2;\n    return 0;`)), op).toThrow(/compound stores/);
    }
    expect(() => generate(wrap("    m[i]! = 1;\n    return 0;"))).toThrow(/must be written m\[i\] = v/);
    expect(() => generate(wrap("    (m[i] as number) = 1;\n    return 0;"))).toThrow(/must be written m\[i\] = v/);
    expect(() => generate(wrap("    [m[i], m[i + 1]] = [1, 2];\n    return 0;"))).toThrow(/must be written m\[i\] = v/);
    expect(() => generate(wrap("    for (m[i] of [1]) {}\n    return 0;"))).toThrow(/loop may not store/);
    expect(() => generate(wrap("    const x = this.m;\n    return x[0];"))).toThrow(/this\.m may only be/);
    expect(() => generate(wrap("    this.m.fill(0);\n    return 0;"))).toThrow(/this\.m may only be/);
  });
});
