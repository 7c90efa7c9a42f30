/**
 * `vmheap/heap` as users load it: by name through the package's "exports" map, from ESM and
 * from CJS, each in a fresh Node process. It is the root's Heap class (one class, one copy of the
 * errors), without the arenas of concurrent heaps until the root entry is loaded: a concurrent
 * heap asked of it is an ArgumentError naming the root, before the memory is touched.
 *
 * Needs `npm run build` first (`npm test` builds before the tests); skipped without dist/.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const built = existsSync(join(root, "dist", "heap.js")) && existsSync(join(root, "dist", "heap.cjs"));

const body = `
const heap = new Heap();
const a = heap.mallocArray(Float64Array, 4);
a.set([1, 2, 3, 4]);
const b = heap.resizeArray(a, 8);
const sum = b[0] + b[1] + b[2] + b[3];
heap.free(b);
let doubleFree = null;
try { heap.free(b); } catch (e) { doubleFree = e; }
heap.check();
const sab = new SharedArrayBuffer(1 << 20);
new Uint8Array(sab).fill(7);
let noArenas = null;
try { new Heap({ memory: sab, concurrent: true }); } catch (e) { noArenas = e; }
const untouched = new Uint8Array(sab).every((x) => x === 7);
const out = { sum, isDoubleFree: doubleFree instanceof DoubleFreeError, noArenas: noArenas && noArenas.name, isArgumentError: noArenas instanceof ArgumentError, names: !!noArenas && noArenas.message.includes('import { Heap } from "vmheap"'), untouched };
`;

function run(kind: "mjs" | "cjs", code: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [kind === "mjs" ? "--input-type=module" : "--input-type=commonjs", "-e", code], { cwd: root, encoding: "utf8", timeout: 30_000 });
  return JSON.parse(out.trim()) as Record<string, unknown>;
}

describe.skipIf(!built)("vmheap/heap from the built package", () => {
  const expected = { sum: 10, isDoubleFree: true, noArenas: "ArgumentError", isArgumentError: true, names: true, untouched: true };

  it("ESM: the heap alone, and a concurrent heap refused with the root's name", () => {
    expect(run("mjs", `import { Heap, DoubleFreeError, ArgumentError } from "vmheap/heap";${body}console.log(JSON.stringify(out));`)).toEqual(expected);
  });

  it("CJS: the same", () => {
    expect(run("cjs", `const { Heap, DoubleFreeError, ArgumentError } = require("vmheap/heap");${body}console.log(JSON.stringify(out));`)).toEqual(expected);
  });

  it.each(["mjs", "cjs"] as const)("%s: the same class as the root's, whose concurrent heap then works from either entry", (kind) => {
    const load =
      kind === "mjs"
        ? `import { Heap as Alone } from "vmheap/heap"; import { Heap, DoubleFreeError as RootDoubleFree } from "vmheap"; import { DoubleFreeError } from "vmheap/heap";`
        : `const { Heap: Alone, DoubleFreeError } = require("vmheap/heap"); const { Heap, DoubleFreeError: RootDoubleFree } = require("vmheap");`;
    const code = `${load}
const sab = new SharedArrayBuffer(1 << 22);
const h = new Alone({ memory: sab, concurrent: true });
const p = h.malloc(64);
const again = Heap.attach(sab);
again.free(p);
again.check();
console.log(JSON.stringify({ same: Heap === Alone, errors: RootDoubleFree === DoubleFreeError, attached: again instanceof Alone, threadId: h.threadId >= 0 }));`;
    expect(run(kind, code)).toEqual({ same: true, errors: true, attached: true, threadId: true });
  });
});
