/**
 * `vmheap/wasm` as users load it: by name through the package's "exports" map, from ESM and
 * from CJS, each in a fresh Node process; the engine it carries runs a heap of the root entry,
 * and the engine's errors are the root entry's error classes (one copy of them, in CJS too).
 *
 * Needs `npm run build` first (`npm test` builds before the tests); skipped without dist/.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dist = join(root, "dist");
const built = existsSync(join(dist, "wasm.js")) && existsSync(join(dist, "wasm.cjs"));

const body = (load: string): string => `${load}
const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
const heap = new Heap({ memory, base: 4096, dataModel: "wasm32" });
const c = heap.wasmImports({ engine: wasmEngine });
const p = c.malloc(100) >>> 0;
c.free(p);
let err = null;
try { c.free(p); } catch (e) { err = e; }
heap.check();
console.log(JSON.stringify({ p, aligned: p % 16 === 0, usable: heap.mallocUsableSize(c.malloc(100) >>> 0), isDoubleFree: err instanceof DoubleFreeError, name: err && err.name, models: Object.keys(wasmEngine.wasm) }));`;

function run(file: string, code: string): unknown {
  const out = execFileSync(process.execPath, [file === "mjs" ? "--input-type=module" : "--input-type=commonjs", "-e", code], { cwd: root, encoding: "utf8", timeout: 30_000 });
  return JSON.parse(out.trim());
}

describe.skipIf(!built)("vmheap/wasm from the built package", () => {
  const expected = { aligned: true, usable: 108, isDoubleFree: true, name: "DoubleFreeError", models: ["lp64", "ilp32", "wasm32"] };

  it("ESM: import { wasmEngine } from \"vmheap/wasm\"", () => {
    expect(run("mjs", body(`import { Heap, DoubleFreeError } from "vmheap"; import { wasmEngine } from "vmheap/wasm";`))).toMatchObject(expected);
  });

  it("CJS: require(\"vmheap/wasm\")", () => {
    expect(run("cjs", body(`const { Heap, DoubleFreeError } = require("vmheap"); const { wasmEngine } = require("vmheap/wasm");`))).toMatchObject(expected);
  });

  it("the root entry does not carry the engine's binaries", () => {
    const rootJs = readFileSync(join(dist, "index.js"), "utf8");
    const wasmJs = readFileSync(join(dist, "wasm.js"), "utf8");
    expect(wasmJs).toContain("AGFzbQ"); // "\0asm", base64
    expect(rootJs).not.toContain("AGFzbQ");
    expect(wasmJs.length).toBeGreaterThan(20_000);
  });
});
