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
    const wrap = (body: string, name = "malloc"): string =>
      `class Heap {\n  protected m!: Int32Array;\n  ${name}(i: number): number {\n    const m = this.m;\n${body}\n  }\n}\n`;
    const out: string = generateLogged(wrap("    m[i + 1] = m[i] | 1;\n    this.m[i] = m.length;\n    return this.m[i >>> 2];"));
    // The entry (index, old value) and the count (in memory, for recovery, and in the engine)
    // are written before the store itself.
    expect(out).toContain(
      "{ const $i = i + 1; const $x = m[i] | 1; const $n = this.lgN; " +
        "if ($n < this.lgCap) { const $c = this.lg; m[($c + 1 + $n) | 0] = $i; m[($c + 2 + $n) | 0] = m[$i]!; m[$c] = ($n + 2) | 0; this.lgN = ($n + 2) | 0; } else this.logFull($i); m[$i] = $x; }",
    );
    expect(out).toContain("this.m[$c] = ($n + 2) | 0; this.lgN = ($n + 2) | 0; } else this.logFull($i); this.m[$i] = $x; }");
    expect(out).toContain("return this.m[i >>> 2];");
    expect(out).toContain("export function makeLoggedEngine(Base: typeof Heap)");
    expect(() => generateLogged(wrap("    m[i] |= 2;\n    return 0;"))).toThrow(/compound stores/);
    // Outside malloc and free (the general paths), a store is logged by a call, which V8
    // inlines there: the same steps, written once (and \`const m\`, now unread, is dropped).
    const other: string = generateLogged(wrap("    m[i + 1] = m[i] | 1;\n    this.m[i] = 2;\n    return 0;", "allot"));
    expect(other).toContain("this.logStore(i + 1, m[i] | 1);");
    expect(other).toContain("this.logStore(i, 2);");
    expect(other).toMatch(/override allot\(i: number\): number \{\s*const m = this\.m;\s*this\.logStore/); // (still read: m[i])
    expect(generateLogged(wrap("    m[i + 1] = 1;\n    return 0;", "allot"))).toMatch(/override allot\(i: number\): number \{\s*this\.logStore\(i \+ 1, 1\);/);
    expect(other).toMatch(/protected logStore\(i: number, x: number\): void \{\n\s+const m = this\.m;\n\s+const n = this\.lgN;\n\s+if \(n < this\.lgCap\) \{/);
  });

  it("stores the derived words (the bin bitmap and its summary) unlogged, and only those: the chunk map is logged", () => {
    const wrap = (body: string): string =>
      `class Heap {\n  protected m!: Int32Array;\n  protected hdr!: number;\n  free(c: number, w: number): void {\n    const m = this.m;\n    const hdr = this.hdr;\n${body}\n  }\n}\n`;
    const derived: string[] = [];
    const out: string = generateLogged(
      wrap(
        [
          // the chunk map: from the value of the header word H_BITMAP, through const locals, or mapWord()
          "    const map = m[(hdr + 4 * H_BITMAP) >>> 2]! >>> 2;",
          "    const wi = map + (c >>> 8);",
          "    m[wi] = 1;",
          "    m[(c > 0 ? wi : map) + 1] = 2;",
          "    this.m[this.mapWord(c) + 1] = 3;",
          // the bin bitmap and its summary: from the header offsets
          "    const bw = (hdr + 4 * H_BINMAP + (w << 2)) >>> 2;",
          "    m[bw] = 4;",
          "    m[(this.hdr + 4 * H_SUMMARY) >>> 2] = 5;",
          // logged: the header word H_BITMAP itself, a bin head, a let, a chunk header, a mixed choice
          "    m[(hdr + 4 * H_BITMAP) >>> 2] = 6;",
          "    m[(this.bins + (w << 2)) >>> 2] = 7;",
          "    let pw = 0;",
          "    pw = map + 1;",
          "    m[pw] = 8;",
          "    m[(c + 8) >>> 2] = 9;",
          "    m[c > 0 ? wi : (c + 8) >>> 2] = 10;",
        ].join("\n"),
      ),
      derived,
    );
    // (the chunk map is logged: recovery judges the chunk headers by it, see ArenaEngine.rebuild)
    for (const x of [4, 5]) expect(out).toMatch(new RegExp(`\\] = ${x};`));
    for (const x of [1, 2, 3, 6, 7, 8, 9, 10]) expect(out).toContain(`const $x = ${x}; const $n = this.lgN;`);
    expect(derived).toHaveLength(2);
    expect(derived[0]).toBe("Heap.ts:13: m[bw] = 4;");
    // Heap.ts's own: the bin bitmap's stores, PINUSE-only changes and free chunks' footers; no chunk-map store.
    const list: string[] = [];
    generateLogged(read("src/heap/Heap.ts"), list);
    expect(list.length).toBeGreaterThan(20);
    for (const line of list) {
      if (line.endsWith(" (marked)")) expect(line).toMatch(/: m\[\((r \+ (8|12)|nt \+ (8|12)|c \+ 16)\) >>> 2\] = [^;]+; \(marked\)$/);
      else if (/: m\[(\(\w+ \+ \w+\)|n) >>> 2\] = \w+;$/.test(line)) expect(line).toMatch(/: m\[(\(r \+ rem\) >>> 2\] = rem|\(start \+ total\) >>> 2\] = total|n >>> 2\] = size);$/);
      else if (line.includes("PINUSE;")) expect(line).toMatch(/: m\[(nh|n|\(n \+ (8|W)\)) >>> 2\] = (m\[(nh|n) >>> 2\]! \| PINUSE;|ns & ~PINUSE; \(when only PINUSE changes\))$/);
      else expect(line).toMatch(/m\[(bw|wa >>> 2|sa >>> 2|\(hdr \+ 4 \* H_SUMMARY\) >>> 2)\] = /); // the bin bitmap only: no chunk-map word
    }
  });

  it("stores a word marked `// unlogged: <why>` in Heap.ts unlogged", () => {
    const wrap = (body: string): string => `class Heap {\n  protected m!: Int32Array;\n  malloc(r: number): number {\n    const m = this.m;\n${body}\n    return 0;\n  }\n}\n`;
    const derived: string[] = [];
    const out: string = generateLogged(
      wrap(
        [
          "    m[(r + 8) >>> 2] = 48; // unlogged: inside a free chunk before the call",
          "    m[(r + 12) >>> 2] = 0; // unlogged:", // (no reason given: logged)
          "    m[(r + 16) >>> 2] = 1; // inside a free chunk", // (not the mark: logged)
          "    // unlogged: a comment of its own line marks nothing",
          "    m[(r + 24) >>> 2] = 2;",
        ].join("\n"),
      ),
      derived,
    );
    expect(derived).toEqual(["Heap.ts:5: m[(r + 8) >>> 2] = 48; (marked)"]);
    expect(out).toContain("m[(r + 8) >>> 2] = 48; // unlogged: inside a free chunk before the call");
    for (const x of ["0", "1", "2"]) expect(out).toContain(`const $x = ${x}; const $n = this.lgN;`);
  });

  it("stores a free chunk's footer unlogged in malloc and free, and only there", () => {
    const wrap = (name: string): string =>
      `class Heap {\n  protected m!: Int32Array;\n  ${name}(c: number, size: number): void {\n    const m = this.m;\n` +
      [
        "    m[(c + size) >>> 2] = size;", // the footer of the chunk at c of size bytes
        "    const n = c + size;",
        "    m[n >>> 2] = size;", // the same, through a const
        "    m[(c + size) >>> 2] = c;", // logged: not the size
        "    m[(c + 8 + size) >>> 2] = size;", // logged: not a + s
        "    let e = c + size;",
        "    m[e >>> 2] = size;", // logged: a let
      ].join("\n") +
      "\n  }\n}\n";
    const derived: string[] = [];
    const out: string = generateLogged(wrap("free"), derived);
    expect(derived).toEqual(["Heap.ts:5: m[(c + size) >>> 2] = size;", "Heap.ts:7: m[n >>> 2] = size;"]);
    expect(out).toContain("const $x = c; const $n = this.lgN;");
    expect(out).toContain("{ const $i = (c + 8 + size) >>> 2; const $x = size; const $n = this.lgN;");
    expect(out).toContain("{ const $i = e >>> 2; const $x = size; const $n = this.lgN;");
    // Elsewhere (a realloc shrinking a block in place frees its tail: that footer is in the block) all are logged.
    const other: string[] = [];
    expect(generateLogged(wrap("freeChunk"), other)).toContain("this.logStore((c + size) >>> 2, size);");
    expect(other).toEqual([]);
  });

  it("stores a change of the next chunk's PINUSE flag alone unlogged", () => {
    const wrap = (body: string): string =>
      `class Heap {\n  protected m!: Int32Array;\n  free(c: number, s: number): void {\n    const m = this.m;\n${body}\n  }\n}\n`;
    const derived: string[] = [];
    const out: string = generateLogged(
      wrap(
        [
          "    const nh = c + 8;",
          "    m[nh >>> 2] = m[nh >>> 2]! | PINUSE;", // unlogged: the flag of the word read, as it is
          "    let ns = 0;",
          "    ns = m[(c + 24) >>> 2]!;",
          "    m[(c + 24) >>> 2] = ns & ~PINUSE;", // unlogged when only the flag changes (checked when run)
          "    const t = m[(c + 40) >>> 2]! + s;",
          "    m[(c + 40) >>> 2] = t | PINUSE;", // logged: t is not the word
          "    m[(c + 56) >>> 2] = m[(c + 60) >>> 2]! | PINUSE;", // logged: another word
          "    m[this.at(c) >>> 2] = m[this.at(c) >>> 2]! & ~PINUSE;", // logged: an index with a call
          "    m[(c + 72) >>> 2] = s | PINUSE;", // logged: a parameter
        ].join("\n"),
      ),
      derived,
    );
    expect(out).toContain("m[nh >>> 2] = m[nh >>> 2]! | PINUSE;");
    expect(out).toContain("{ const $i = (c + 24) >>> 2; const $x = ns & ~PINUSE; if ((($x ^ m[$i]!) & ~PINUSE) !== 0) { const $n = this.lgN;");
    expect(out).toContain("const $x = t | PINUSE; const $n = this.lgN;");
    expect(out).toContain("const $x = m[(c + 60) >>> 2]! | PINUSE; const $n = this.lgN;");
    expect(out).toContain("const $x = m[this.at(c) >>> 2]! & ~PINUSE; const $n = this.lgN;");
    expect(out).toContain("const $x = s | PINUSE; const $n = this.lgN;");
    expect(derived).toEqual(["Heap.ts:6: m[nh >>> 2] = m[nh >>> 2]! | PINUSE;", "Heap.ts:9: m[(c + 24) >>> 2] = ns & ~PINUSE; (when only PINUSE changes)"]);
  });
});
