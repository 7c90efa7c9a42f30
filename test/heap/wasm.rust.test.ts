/**
 * The Rust recipe of docs/wasm.md, run: scripts/wasm/rust/program.rs, built for
 * wasm32-unknown-unknown with the docs' `#[global_allocator]` snippet pasted in
 * (scripts/wasm/rust/build.sh, Debian's rustc 1.63), allocates through vmheap (std's Vec,
 * String, BTreeMap, Box, zeroed and 64-byte-aligned blocks) and must compute what the same
 * program computes natively with Rust's own allocator (recorded by the same script).
 * The fixture is rebuilt only by that script; the test fails when the docs' snippet changes
 * without it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { DoubleFreeError, Heap, exportedGlobal, memoryImport, type LinearMemory } from "../../src/index.js";
import { compileWasmEngine } from "../../src/heap/wasm/engine.js";
import { wasmEngine } from "../../src/heap/wasm/index.js";
// @ts-expect-error: a plain .mjs script, without type declarations
import { rustSnippet } from "../../scripts/wasm/rust/snippet.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name: string): URL => new URL(`../fixtures/wasm/${name}`, import.meta.url);
const bytes = readFileSync(fixture("rust-program.wasm"));
const recorded = readFileSync(fixture("rust-program.txt"), "utf8");
const native = new Map([...recorded.matchAll(/^run (\d+) (\d+)$/gm)].map((m) => [Number(m[1]), BigInt(m[2]!)]));

interface RustModule {
  run(rounds: number): bigint; // a u64, as wasm passes it: signed
  rust_alloc(size: number): number;
  rust_dealloc(ptr: number, size: number): void;
}

function instantiate(engine: "js" | "wasm"): { heap: Heap<LinearMemory>; rust: RustModule } {
  const { initial } = memoryImport(bytes)!;
  const memory = new WebAssembly.Memory({ initial, maximum: 4096 });
  const base = exportedGlobal(bytes, "__heap_base")!;
  const heap = new Heap({ memory, base, dataModel: "wasm32", ...(engine === "wasm" ? { engine: wasmEngine } : {}) });
  const env = { memory, ...heap.wasmImports() };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env });
  return { heap, rust: instance.exports as unknown as RustModule };
}

beforeAll(async () => {
  await compileWasmEngine(wasmEngine);
});

describe("the Rust recipe of docs/wasm.md (scripts/wasm/rust)", () => {
  it("the fixture was built from the docs' snippet as it is now (else rerun scripts/wasm/rust/build.sh)", () => {
    const sha = createHash("sha256").update(rustSnippet(root)).digest("hex");
    expect(recorded).toContain(`snippet-sha256: ${sha}`);
    expect(rustSnippet(root)).toContain("#[global_allocator]");
  });

  it("the module imports its memory and the heap's functions, nothing else", () => {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => `${i.module}.${i.name}`);
    expect(imports.sort()).toEqual(["env.calloc", "env.free", "env.malloc", "env.memory", "env.posix_memalign", "env.realloc"]);
  });

  for (const engine of ["wasm", "js"] as const) {
    describe(`on the ${engine === "wasm" ? "wasm engine" : "JavaScript imports"}`, () => {
      it("computes what the native build computes, and gives every block back", () => {
        expect([...native.keys()]).toEqual([1, 3, 10]);
        const { heap, rust } = instantiate(engine);
        for (const [rounds, sum] of native) {
          expect(BigInt.asUintN(64, rust.run(rounds))).toBe(sum); // 0 would mean a 64-byte-aligned Vec was misaligned
          heap.check();
          expect(heap.chunks().filter((c) => c.kind === "used")).toEqual([]); // every block given back
        }
        expect(heap.mallocMaxFootprint()).toBeGreaterThan(64 * 1024);
      });

      it("shares the heap with JavaScript: Rust's blocks freed by JavaScript and the other way round", () => {
        const { heap, rust } = instantiate(engine);
        const p = rust.rust_alloc(1000);
        expect(p).toBeGreaterThan(0);
        expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(1000);
        heap.free(p);
        expect(() => heap.free(p)).toThrow(DoubleFreeError);
        const q = heap.malloc(300);
        rust.rust_dealloc(q, 300);
        expect(() => rust.rust_dealloc(q, 300)).toThrow(DoubleFreeError);
        heap.check();
      });
    });
  }
});
