#!/usr/bin/env node
// What a program that imports only the heap ships: `import { Heap } from "vmheap/heap"` bundled
// with esbuild (tree-shaking, as any bundler does with the package's "sideEffects": false),
// minified, gzipped. And the same import from the root, `import { Heap } from "vmheap"`, whose
// Heap brings the arenas of concurrent heaps along. Run after `npm run build`: it bundles dist/,
// the files users get.
//
//   node scripts/size.mjs            # prints both sizes; exits 1 over a ceiling, or when a
//                                    # bundle holds code that is not the heap's
//   node scripts/size.mjs --json     # the same as one JSON line
//
// Numbers:
//   GOAL          10 KiB: what a heap-only import should cost. Printed with the distance to it.
//   CEILING       what the heap-only import may not exceed: its size now, with a little room.
//                 A change that pulls more into it (a class referenced from the heap, a module
//                 with a top-level statement, the arenas, the VM model, the pictures, the wasm
//                 engine's binaries) fails here. Lower it as the heap gets smaller.
//   ROOT_CEILING  the same for the root's Heap (the heap and the arenas of concurrent heaps).
//
// Besides the size, neither bundle may contain what is not the heap: each entry of FOREIGN is a
// string only that code has; the heap-only import may not hold the arenas (ARENAS) either.

import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { build } from "esbuild";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** What a heap-only import should cost, min+gzip, in bytes. */
export const GOAL = 10 * 1024;
/**
 * What the heap-only import (`vmheap/heap`) may cost now, min+gzip, in bytes. Measured 18,716:
 * the heap's engine (Heap.ts, with its written-out fast paths, the chunk map's checks and the
 * typed-array views), LinearMemory, the break, the errors and the wasm32 imports' JavaScript
 * functions (wasmImports). The concurrent heaps' arenas and their logged engine, 20,677 more,
 * are the root's (ROOT_CEILING). The errors' names written out (a user's minifier renames the
 * classes, and `e.name` said "wt" for a DoubleFreeError: test/dist/minified-names.test.ts),
 * 115 more (18,831). Checks that refuse forged links and heads before anything changes (a free
 * chunk linked to itself, a bin's head naming the chunk a split takes, a victim outside the arena
 * whichever chunk serves the request: test/heap/forgery.selflink.test.ts,
 * test/heap/wasm.engine.differential.test.ts), and grow checking what it needs before the break
 * moves (the chunk map's coverage word, the head of the bin the old map goes to), 112 more
 * (18,943), with room for this round's other fixes of the same kind.
 */
export const CEILING = 19_100;

/**
 * What `import { Heap } from "vmheap"` may cost now, min+gzip, in bytes. Measured 39,601: the
 * heap, and the arenas of concurrent heaps with their logged engine (LoggedEngine.generated.ts,
 * the heap's paths again with each store logged for `recover()`) and their front caches. Raised
 * from 39,500 for two checks of attach (about 170 bytes): the segment table's words (a crafted
 * table naming memory below the heap had recovery write there,
 * test/heap/concurrent.table-bounds.test.ts), and a slot read again while its words move (a
 * live heap's slot that recover was undoing was refused, test/heap/concurrent.live-attach.test.ts).
 * The errors' names written out, 114 more (39,715). The forged-link checks above, and realloc
 * and reallocarray of a concurrent heap's blocks answering as the main heap's do (the error
 * naming realloc, ENOMEM for an overflowing size), and grow's checks, 292 more (40,007), with
 * room for this round's other fixes of the same kind.
 */
export const ROOT_CEILING = 40_200;

/** Strings only the code that is not the heap has: none may be in a heap-only bundle. */
export const FOREIGN = [
  ["the virtual-memory model (AddressSpace)", "AddressSpace: memory"],
  ["the virtual-memory model (PhysicalMemory)", "PhysicalMemory: frames"],
  ["the pictures (vmheap/viz)", "<svg"],
  ["the recorder", "vmheap-recording"],
  ["the glibc model (GlibcHeap)", "double free detected in tcache"],
];

/** A string only the arenas of concurrent heaps (arenas.ts) have: not in a heap-only import. */
export const ARENAS = ["the arenas of concurrent heaps", "remote free"];

/** What a heap-only import is: the heap alone, made and used. */
export const HEAP_ONLY = 'import { Heap } from "vmheap/heap";\nconst heap = new Heap();\nconsole.log(heap.malloc(100));\n';
/** The same import from the root. */
export const ROOT = 'import { Heap } from "vmheap";\nconst heap = new Heap();\nconsole.log(heap.malloc(100));\n';

/** A run of base64 this long is a binary: the wasm engine's, which lives in vmheap/wasm. */
const BINARY = /[A-Za-z0-9+/]{400,}={0,2}/;

/**
 * Bundles `code` (ESM importing "vmheap", resolved through the package's exports map to dist/)
 * minified, and measures it.
 * @returns the minified bytes, their gzip size (zlib's default level, as `gzip` does), and the text
 */
export async function measure(code = HEAP_ONLY) {
  const out = await build({
    stdin: { contents: code, resolveDir: REPO, loader: "js" },
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    platform: "browser",
    treeShaking: true,
    // Not the repository's tsconfig, whose paths map "vmheap" to src/: the package's exports map
    // resolves the imports to dist/, as in a user's project.
    tsconfigRaw: {},
    logLevel: "silent",
  });
  const bytes = out.outputFiles[0].contents;
  return { min: bytes.length, gzip: gzipSync(bytes).length, text: out.outputFiles[0].text };
}

/**
 * The checks on a measured bundle: what is wrong with it, or nothing. `arenas`: whether it may
 * hold the arenas of concurrent heaps (a bundle of the root's Heap does).
 */
export function problems({ gzip, text }, ceiling = CEILING, arenas = false) {
  const found = [];
  if (!arenas && text.includes(ARENAS[1])) found.push(`it holds ${ARENAS[0]} (${JSON.stringify(ARENAS[1])})`);
  if (gzip > ceiling) found.push(`${gzip} bytes min+gzip is over the ceiling of ${ceiling}`);
  if (!text.includes("double free detected")) found.push("the heap itself is missing from the bundle");
  for (const [what, marker] of FOREIGN) if (text.includes(marker)) found.push(`it holds ${what} (${JSON.stringify(marker)})`);
  if (BINARY.test(text)) found.push("it holds a binary (the wasm engine's bytes?)");
  return found;
}

async function main() {
  if (!existsSync(path.join(REPO, "dist", "heap.js"))) {
    console.error("size: no dist/heap.js: run `npm run build` first");
    process.exit(1);
  }
  const heapOnly = await measure(HEAP_ONLY);
  const root = await measure(ROOT);
  const found = [...problems(heapOnly).map((p) => `vmheap/heap: ${p}`), ...problems(root, ROOT_CEILING, true).map((p) => `vmheap: ${p}`)];
  const kib = (n) => `${(n / 1024).toFixed(2)} KiB`;
  if (process.argv.includes("--json")) {
    const row = (m, ceiling) => ({ min: m.min, gzip: m.gzip, ceiling });
    console.log(JSON.stringify({ heapOnly: row(heapOnly, CEILING), root: row(root, ROOT_CEILING), goal: GOAL, problems: found }));
  } else {
    const goal = heapOnly.gzip <= GOAL ? "within the goal" : `${kib(heapOnly.gzip - GOAL)} over the goal`;
    console.log(`size: import { Heap } from "vmheap/heap": ${heapOnly.min} bytes minified, ${heapOnly.gzip} min+gzip (${kib(heapOnly.gzip)}; goal ${kib(GOAL)}: ${goal}; ceiling ${CEILING})`);
    console.log(`size: import { Heap } from "vmheap" (with the arenas of concurrent heaps): ${root.min} bytes minified, ${root.gzip} min+gzip (${kib(root.gzip)}; ceiling ${ROOT_CEILING})`);
    for (const p of found) console.error(`size: ${p}`);
  }
  if (found.length > 0) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
