/**
 * The size check of `npm test` (scripts/size.mjs) on the built package: a heap-only import
 * (`import { Heap } from "vmheap/heap"`, bundled with esbuild, minified, gzipped) stays under
 * its ceiling and holds nothing but the heap, without the arenas of concurrent heaps; the root's
 * Heap stays under its own ceiling; and the check is live: it names the code that is not the
 * heap when a bundle pulls it in. Needs `npm run build` first; skipped without dist/.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script, without type declarations
import { CEILING, GOAL, ROOT, ROOT_CEILING, measure, problems } from "../../scripts/size.mjs";

interface Measured {
  min: number;
  gzip: number;
  text: string;
}
const measureBundle = measure as (code?: string) => Promise<Measured>;
const problemsOf = problems as (m: Measured, ceiling?: number, arenas?: boolean) => string[];

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist");
const built = existsSync(join(dist, "index.js")) && existsSync(join(dist, "heap.js")) && existsSync(join(dist, "viz.js")) && existsSync(join(dist, "wasm.js"));

describe.skipIf(!built)("the size of a heap-only import", () => {
  it("is under the ceiling, and holds the heap and nothing else", async () => {
    const m = await measureBundle();
    expect(problemsOf(m)).toEqual([]);
    expect(m.gzip).toBeLessThanOrEqual(CEILING);
    expect(GOAL).toBe(10 * 1024);
  });

  it("leaves out the arenas of concurrent heaps, which the root's Heap brings along", async () => {
    const root = await measureBundle(ROOT as string);
    expect(problemsOf(root, ROOT_CEILING, true)).toEqual([]);
    const heapOnly = await measureBundle();
    // The arenas are most of the root's Heap: the heap alone is well under half of it.
    expect(heapOnly.gzip).toBeLessThan(root.gzip / 2);
    // The check names them when a heap-only bundle holds them.
    expect(problemsOf(root, ROOT_CEILING).join("\n")).toContain("the arenas of concurrent heaps");
    // Both entries in one bundle: one class, one copy of the heap.
    const both = await measureBundle(`import { Heap } from "vmheap"; import { Heap as H } from "vmheap/heap"; console.log(Heap === H, new Heap().malloc(1));`);
    expect(both.gzip - root.gzip).toBeLessThan(200);
  });

  it("the views and the surprise checks come with the heap (they are part of it)", async () => {
    const m = await measureBundle(`import { Heap } from "vmheap/heap"; const h = new Heap(); console.log(h.mallocArray(Float32Array, 4));`);
    expect(m.text).toContain("a process's heap has no linear buffer to view");
    expect(m.text).toContain("did you mean");
  });

  it.each([
    ["the VM model (Process)", `import { Heap, Process } from "vmheap"; console.log(Heap, Process);`, "the virtual-memory model"],
    ["the VM model (AddressSpace)", `import { Heap, AddressSpace } from "vmheap"; console.log(Heap, AddressSpace);`, "the virtual-memory model (AddressSpace)"],
    ["the VM model (PhysicalMemory)", `import { Heap, PhysicalMemory } from "vmheap"; console.log(Heap, PhysicalMemory);`, "the virtual-memory model (PhysicalMemory)"],
    ["the pictures", `import { Heap } from "vmheap"; import { heapSvg } from "vmheap/viz"; console.log(Heap, heapSvg);`, "the pictures"],
    ["the wasm engine's binaries", `import { Heap } from "vmheap"; import { wasmEngine } from "vmheap/wasm"; console.log(Heap, wasmEngine);`, "a binary"],
    ["the recorder", `import { Heap, HeapRecorder } from "vmheap"; console.log(Heap, HeapRecorder);`, "the recorder"],
    ["the glibc model", `import { Heap, GlibcHeap } from "vmheap"; console.log(Heap, GlibcHeap);`, "the glibc model"],
  ])("fails a bundle that also holds %s, naming it", async (_, code, words) => {
    const found = problemsOf(await measureBundle(code));
    expect(found.join("\n")).toContain(words);
  });

  it("fails a bundle over the ceiling", async () => {
    const m = await measureBundle();
    expect(problemsOf(m, m.gzip - 1)).toEqual([`${m.gzip} bytes min+gzip is over the ceiling of ${m.gzip - 1}`]);
  });
});
