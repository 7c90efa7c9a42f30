/**
 * Error names survive a user's minifier: a program bundled and minified with esbuild (which
 * renames classes) still reads `e.name === "DoubleFreeError"` and the like, and a subclass that
 * the program makes keeps its own name. Bundles dist/ through the package's exports map, as
 * scripts/size.mjs does; needs `npm run build` first, skipped without dist/.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script, without type declarations
import { measure } from "../../scripts/size.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const built = existsSync(join(root, "dist", "index.js"));
const bundle = measure as (code: string) => Promise<{ text: string }>;

/** Runs a minified ESM bundle's text and returns what it printed with console.log. */
async function run(text: string): Promise<unknown> {
  const printed: unknown[] = [];
  const log = console.log;
  console.log = (x: unknown) => printed.push(x);
  try {
    await import(`data:text/javascript;base64,${Buffer.from(text).toString("base64")}`);
  } finally {
    console.log = log;
  }
  return JSON.parse(printed[0] as string);
}

describe.skipIf(!built)("error names in a minified bundle", () => {
  it("are the classes' names, and a program's own subclass keeps its own", async () => {
    const { text } = await bundle(`
import { Heap, AddressSpace, PhysicalMemory, HeapError } from "vmheap";
const names = [];
const heap = new Heap();
const p = heap.malloc(10);
heap.free(p);
try { heap.free(p); } catch (e) { names.push(e.name); }
try { heap.free(p + 1); } catch (e) { names.push(e.name); }
try { heap.malloc("100"); } catch (e) { names.push(e.name); }
const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4 }) });
try { as.read8(0x1000); } catch (e) { names.push(e.name); }
class MyHeapError extends HeapError {}
names.push(new MyHeapError("m", "free", 0).name === MyHeapError.name); // (its name, as the minifier left it)
console.log(JSON.stringify(names));
`);
    expect(text).not.toContain("class DoubleFreeError"); // (the minifier renamed the classes)
    expect(await run(text)).toEqual(["DoubleFreeError", "InvalidPointerError", "ArgumentError", "SegmentationFault", true]);
  });
});
