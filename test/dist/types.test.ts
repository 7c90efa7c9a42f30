/**
 * The built declarations (dist/index.d.ts) against api.md: fixtures/types/contract.ts writes
 * the contract's signatures as outside code does, importing "vmheap" by name (a self-reference
 * through the package's "exports" map, so the types users get), and must compile under
 * `strict` with no error. Needs `npm run build` first; skipped when there is no dist/.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "..", "..", "dist");
const built = existsSync(join(dist, "index.d.ts")) && existsSync(join(dist, "index.d.cts"));

function diagnostics(file: string, source?: string): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: [],
    skipLibCheck: false,
  };
  const host = ts.createCompilerHost(options);
  if (source !== undefined) {
    const read = host.readFile.bind(host);
    host.readFile = (name) => (name === file ? source : read(name));
    host.fileExists = ((exists) => (name: string) => name === file || exists(name))(host.fileExists.bind(host));
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  }
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : "";
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

describe.skipIf(!built)("the built declarations of the typed-array views", () => {
  const file = join(here, "fixtures", "types", "views.ts");
  it("type a view after the class passed, and refuse another type", { timeout: 120_000 }, () => {
    const ok = [
      `import { Heap } from "vmheap";`,
      `const heap = new Heap();`,
      `export const f: Float32Array | null = heap.mallocArray(Float32Array, 4);`,
      `export const b: BigUint64Array | null = heap.callocArray(BigUint64Array, 4);`,
    ].join("\n");
    expect(diagnostics(file, ok)).toEqual([]);
    const bad = [
      `import { Heap } from "vmheap";`,
      `const heap = new Heap();`,
      `export const i: Int32Array | null = heap.mallocArray(Float32Array, 4);`,
      `export const n: number = heap.mallocArray(Float64Array, 4);`,
      `export const x = heap.mallocArray(DataView, 4);`,
    ].join("\n");
    const found = diagnostics(file, bad).join("\n");
    expect(found).toMatch(/views\.ts:3: .*not assignable to type 'Int32Array/);
    expect(found).toMatch(/views\.ts:4: .*not assignable to type 'number'/);
    expect(found).toMatch(/views\.ts:5: /);
  });
});

describe.skipIf(!built)("the built declarations", () => {
  it("compile api.md's signatures, as an ES module importing vmheap, with no error", { timeout: 60_000 }, () => {
    expect(diagnostics(join(here, "fixtures", "types", "contract.ts"))).toEqual([]);
  });

  it("type a process's heap as a Heap, and a linear-memory heap's memory as a LinearMemory", { timeout: 60_000 }, () => {
    const file = join(here, "fixtures", "types", "narrowing.cts");
    const ok = [
      `import vm = require("vmheap");`,
      `const heap: vm.Heap = vm.Process.spawn({ memory: new vm.PhysicalMemory({ frames: 64 }) }).heap;`,
      `const bytes: Uint8Array = new vm.Heap().memory.u8;`,
      `const linear: vm.Heap<vm.LinearMemory> = new vm.Heap();`,
      `export = [heap, bytes, linear];`,
    ].join("\n");
    expect(diagnostics(file, ok)).toEqual([]);
    // The checker is live: a process's heap is not a linear-memory heap.
    const bad = `import vm = require("vmheap");\nconst wrong: vm.Heap<vm.LinearMemory> = vm.Process.spawn({ memory: new vm.PhysicalMemory({ frames: 64 }) }).heap;\nexport = wrong;`;
    expect(diagnostics(file, bad).join("\n")).toMatch(/not assignable/);
  });
});
