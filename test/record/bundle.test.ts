/**
 * The recorder is exported from the package root, but a program that imports only the heap
 * must not carry it: bundled with esbuild (tree-shaking, as any bundler does with
 * `"sideEffects": false`), a heap-only import leaves out the recorder, the player and the
 * snapshots. Checked on the sources and, when built, on `dist/index.js`, the file users get.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

async function bundle(entry: string, code: string): Promise<string> {
  const out = await build({
    stdin: { contents: code.replaceAll("ENTRY", JSON.stringify(entry)), resolveDir: root, loader: "ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    treeShaking: true,
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

/** Strings only the recording code has. */
const RECORDING = ["vmheap-recording", "vmheap-address-space", "outside the recorder", "does not apply"];

const entries = [
  ["sources", join(root, "src", "index.ts")],
  ["dist/index.js", join(root, "dist", "index.js")],
] as const;

describe.each(entries)("a heap-only bundle of the %s", (_name, entry) => {
  it.skipIf(!existsSync(entry))("leaves the recorder out, and keeps it when it is imported", async () => {
    const heapOnly = await bundle(entry, `import { Heap } from ENTRY; const h = new Heap(); console.log(h.malloc(100));`);
    expect(heapOnly).toContain("double free detected"); // the heap is there
    for (const s of RECORDING) expect(heapOnly).not.toContain(s);
    const withRecorder = await bundle(entry, `import { Heap, HeapRecorder, Player } from ENTRY; const r = new HeapRecorder(new Heap()); r.malloc(1); console.log(new Player(r.recording()).stateAt(1));`);
    for (const s of RECORDING) expect(withRecorder).toContain(s);
  });
});
