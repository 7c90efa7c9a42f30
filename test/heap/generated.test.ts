import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script, without type declarations
import { CACHE_MASK, generate } from "../../scripts/gen-paged-engine.mjs";
import { CACHE_ENTRIES } from "../../src/heap/PagedHeap.js";
// @ts-expect-error: a plain .mjs build script, without type declarations
import { ascVersion, buildHash, compile, generateSource, models, OUT_AS, readSources } from "../../scripts/gen-wasm-engine.mjs";
import { ENGINE_HASH, ENGINE_MESSAGES, ENGINE_OPS, ENGINE_WASM } from "../../src/heap/wasm/engine.generated.js";

const REPO = path.resolve(__dirname, "../..");
const read = (p: string): string => fs.readFileSync(path.join(REPO, p), "utf8");

/** A class Heap whose method `foo(params): ret` runs `body`, for the generators to translate. */
const heapWith = (body: string, ret = "number", params = "i: number"): string =>
  `class Heap {\n  protected m!: Int32Array;\n  protected hdr!: number;\n  foo(${params}): ${ret} {\n    const m = this.m;\n${body}\n  }\n}\n`;

/** The wasm engine's source (AssemblyScript) for `foo` of {@link heapWith}, the rest of the sources as they are. */
const wasmOf = async (body: string, ret?: string, params?: string): Promise<string> =>
  (await generateSource({ ...readSources().src, heap: heapWith(body, ret, params) }, { roots: ["foo"] })).text;

describe("the paged engine generated from Heap.ts", () => {
  it("is up to date (run `npm run gen` after changing Heap.ts)", () => {
    expect(generate(read("src/heap/Heap.ts"))).toBe(read("src/heap/PagedEngine.generated.ts"));
  });

  it("uses the cache size PagedHeap has", () => {
    expect(CACHE_MASK + 1).toBe(CACHE_ENTRIES);
  });

  it("rewrites reads and stores, and refuses what it cannot translate", () => {
    const out = generate(heapWith("    m[i + 1] = m[i] | 1;\n    this.m[i] = -m[m[i]];\n    return this.m[i >>> 2];"));
    expect(out).toContain("{ const $i = i + 1; const $x = m[this.tr(i)] | 1; ");
    expect(out).toContain("const $x = -m[this.tr(m[this.tr(i)])]; ");
    expect(out).toContain("this.writeMiss($i)");
    expect(out).toContain("this.undoN = $n + 2; m[$a] = $x; }");
    expect(out).toContain("this.undoN = $n + 2; this.m[$a] = $x; }");
    expect(out).toContain("return this.m[this.tr(i >>> 2)];");
    expect(out).toContain("protected abstract tr(i: number): number;");
    expect(() => generate(heapWith("    return (m[i] = 1);"))).toThrow(/store must be a statement/);
    expect(() => generate(heapWith("    m[i] |= 2;\n    return 0;"))).toThrow(/compound stores/);
    expect(() => generate(heapWith("    m[i]++;\n    return 0;"))).toThrow(/\+\+ and --/);
    expect(() => generate(heapWith("    const a = m;\n    return a[0];"))).toThrow(/may only be indexed/);
    for (const op of ["*=", "/=", "%=", "**=", "??=", "||=", "&&=", "<<=", ">>>="]) {
      expect(() => generate(heapWith(`    m[i] ${op} 2;\n    return 0;`)), op).toThrow(/compound stores/);
    }
    expect(() => generate(heapWith("    m[i]! = 1;\n    return 0;"))).toThrow(/must be written m\[i\] = v/);
    expect(() => generate(heapWith("    (m[i] as number) = 1;\n    return 0;"))).toThrow(/must be written m\[i\] = v/);
    expect(() => generate(heapWith("    [m[i], m[i + 1]] = [1, 2];\n    return 0;"))).toThrow(/must be written m\[i\] = v/);
    expect(() => generate(heapWith("    for (m[i] of [1]) {}\n    return 0;"))).toThrow(/loop may not store/);
    expect(() => generate(heapWith("    const x = this.m;\n    return x[0];"))).toThrow(/this\.m may only be/);
    expect(() => generate(heapWith("    this.m.fill(0);\n    return 0;"))).toThrow(/this\.m may only be/);
  });
});

describe("the wasm engine generated from Heap.ts", () => {
  const sources = (): ReturnType<typeof readSources> => readSources();

  it("engine.generated.as is up to date (run `npm run gen` after changing Heap.ts)", async () => {
    const { src } = sources();
    const { text, ops, messages } = await generateSource(src);
    expect(text).toBe(read(OUT_AS));
    expect(ENGINE_OPS).toEqual(ops);
    expect(ENGINE_MESSAGES).toEqual(messages);
  });

  it("engine.generated.ts was built from these sources, host.as, abi.as, this asc and these flags", async () => {
    const { hand } = sources();
    expect(ENGINE_HASH).toBe(buildHash(read(OUT_AS), hand, await ascVersion()));
  });

  it("its wasm32 binary is exactly what asc makes of them", async () => {
    const { src, hand } = sources();
    const bytes = await compile(read(OUT_AS), hand, (await models(src)).wasm32);
    expect(Buffer.from(bytes).toString("base64")).toBe(ENGINE_WASM.wasm32);
  }, 180_000);

  it("the data models' numbers come from Heap.ts's setUp", async () => {
    const m = await models(sources().src);
    expect(m.wasm32.fields).toMatchObject({ W: 4, W2: 8, amask: 15, minChunk: 16, gshift: 4, mode: 4 });
    expect(m.lp64.fields).toMatchObject({ W: 8, W2: 16, amask: 15, minChunk: 32, mode: 0 });
    expect(m.ilp32.fields).toMatchObject({ W: 4, W2: 8, amask: 7, minChunk: 16, gshift: 3, mode: 4 });
    // the first chunk starts 2·W below an aligned payload
    for (const { fields, layout } of Object.values(m) as Array<{ fields: { arena: number; W2: number }; layout: { align: number } }>) {
      expect((fields.arena + fields.W2) % layout.align).toBe(0);
    }
  });

  it("takes FastPathHeap's methods in place of Heap's, an overridden one kept for super.<name>(...)", async () => {
    const heap = "class Heap {\n  protected m!: Int32Array;\n  protected hdr!: number;\n  foo(i: number): number {\n    return this.bar(i) + 1;\n  }\n  protected bar(i: number): number {\n    return i;\n  }\n}\n";
    const fastPath = "export class FastPathHeap extends Heap {\n  protected override bar(i: number): number {\n    return super.bar(i) * 2;\n  }\n}\n";
    const out = (await generateSource({ ...sources().src, heap, fastPath }, { roots: ["foo"] })).text;
    // (foo's i is a C size_t or pointer: an unsigned 32-bit number, a u32 where it is passed on)
    expect(out).toContain("return (bar(<u32>(i)) + <i64>(1));");
    expect(out).toContain("return (<i64>(super_bar(i)) * <i64>(2));");
    expect(out).toMatch(/export function super_bar\(i: u32\): u32 \{\n  return i;/);
  });

  it("computes a sum in 32 bits only where every value it can take fits them, as its operands' ranges say", async () => {
    const gen = (body: string): Promise<string> => wasmOf(body);
    const out = await gen(
      "    const a = m[i] >>> 4;\n    const b = m[i + 1] >>> 4;\n    const s = m[i + 2];\n    const early = s + a;\n    if (s < 16 || s > 1000) return 0;\n" +
        "    const t = m[i + 3];\n    const late = s + a;\n    const any = t + s;\n    return a + b + late + (t > 5 ? t + 1 : 0) + early + any;",
    );
    // two words shifted right by 4: each below 2^28, their sum an i32
    expect(out).toContain("let a: i32 = <i32>((<u32>load<i32>(");
    // a word (any i32) plus a value below 2^28: an i64, as JavaScript's sum can pass 2^31
    expect(out).toContain("let early: i64 = (<i64>(s) + <i64>(a));");
    // after `if (s < 16 || s > 1000) return`, s is within [16, 1000]: the same sum is an i32
    expect(out).toContain("let late: i32 = (s + a);");
    // two words, one of them bounded and the other not: i64
    expect(out).toContain("let any: i64 = (<i64>(t) + <i64>(s));");
    // a + b + late, below 2^29: an i32; plus t + 1 where t > 5 (from 7 to 2^31): a u32; plus
    // early and any: past 2^32, an i64
    expect(out).toContain("return ((<i64>((<u32>((a + b) + late) + <u32>((t > 5) ? (t + 1) : 0))) + early) + any);");
    expect(out).toMatch(/export function foo\(i: i64\): i64/);
    // a variable assigned in a loop settles at its type's range
    const loop = await gen("    let k = 0;\n    for (let j = 0; j < 10; j++) k = k + 1;\n    return k;");
    expect(loop).toContain("let k: i64 = ");
  });

  it("translates JavaScript's integer semantics, and refuses what it cannot translate", async () => {
    const gen = wasmOf;
    const out = await gen(
      "    m[(i + 4) >>> 2] = m[i] | 1;\n    if (this.maps !== null && this.maps.has(i)) return 7;\n    const big = i + 0x7fff_0000;\n    if (big > 0x7fff_ffff) return -1;\n" +
        "    return Math.ceil(i / 16) + (i >>> 3) + ~i + (i << 2) + (i >> 1) + (i ^ 3) + (i & 5) + Math.clz32(i);",
    );
    // a metadata word: a 32-bit load and store at the byte address, the address's low 32 bits
    expect(out).toContain("store<i32>(<usize>(<i32>(i) + 4), (load<i32>((<usize><i32>(i) << 2)) | 1));");
    // a sum is exact (i64): past 2^31 it stays past 2^31, as in JavaScript
    expect(out).toContain("let big: i64 = (i + <i64>(2147418112));");
    expect(out).toContain("if ((big > <i64>(2147483647))) {");
    expect(out).toContain("ceilDiv(i, <i64>(16))");
    // bitwise operators on the low 32 bits; >>> unsigned
    expect(out).toContain("(<u32><i32>(i) >>> <u32>3)");
    expect(out).toContain("(~<i32>(i))");
    expect(out).toContain("(<i32>(i) << 2)");
    expect(out).toContain("(<i32>(i) >> 1)");
    expect(out).toContain("(<i32>(i) ^ 3)");
    expect(out).toContain("(<i32>(i) & 5)");
    expect(out).toContain("<i32>clz<u32>(<u32><i32>(i))");
    expect(out).not.toContain("maps"); // a heap on a wasm memory has no mapped blocks: folded away
    expect(out).toContain("export function foo(i: i64): i64");
    // a variable is as wide as everything assigned to it: a word stays i32, a sum widens it
    const widen = await gen("    const s = m[i];\n    let x = m[i + 1];\n    x = x + s;\n    return s & x;");
    expect(widen).toContain("let s: i32 = load<i32>(");
    expect(widen).toContain("let x: i64 = <i64>(load<i32>(");
    expect(widen).toMatch(/export function foo\(i: i64\): i32/);
    const refused = async (body: string, why: RegExp, ret?: string, params?: string): Promise<void> => {
      await expect(gen(body, ret, params)).rejects.toThrow(why);
    };
    await refused("    m[i] |= 2;\n    return 0;", /compound stores/);
    await refused("    return i / 3;", /division/);
    await refused("    throw new Error('x');", /not known to the engine/);
    await refused("    return nowhere;", /unknown name/);
    await refused("    this.hdr = 1;\n    return 0;", /assignment target/);
    await refused("    const s = `x${i}`;\n    return 0;", /not translated/);
    await refused("    return this.maps.size;", /not translated/);
    await refused("    return 0;", /no wasm type/, "bigint");
    await refused("    return 0;", /a parameter needs a type/, "number", "i");
    await refused("    return this.nothing(i);", /method nothing not found/);
  });
});
