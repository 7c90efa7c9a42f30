#!/usr/bin/env node
// What a program that imports only the heap ships: `import { Heap } from "vmheap"` bundled
// with esbuild (tree-shaking, as any bundler does with the package's "sideEffects": false),
// minified, gzipped. Run after `npm run build`: it bundles dist/, the files users get.
//
//   node scripts/size.mjs            # prints the size; exits 1 over the ceiling, or when the
//                                    # bundle holds code that is not the heap's
//   node scripts/size.mjs --json     # the same as one JSON line
//
// Two numbers:
//   GOAL     10 KiB: what a heap-only import should cost. Printed with the distance to it.
//   CEILING  what the build may not exceed: the size of the heap as it is now, with a little
//            room. A change that pulls more into a heap-only import (a class referenced from
//            the heap, a module with a top-level statement, the VM model, the pictures, the
//            wasm engine's binaries) fails here. Lower it as the heap gets smaller.
//
// Besides the size, the bundle must not contain what is not the heap: each entry of FOREIGN
// is a string only that code has.

import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { build } from "esbuild";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** What a heap-only import should cost, min+gzip, in bytes. */
export const GOAL = 10 * 1024;
/**
 * What it may cost now, min+gzip, in bytes. Measured 31,570: the heap's engine (Heap.ts, with
 * the chunk map's checks), and, reached from the constructor, the concurrent heap's logged
 * engine (LoggedEngine.generated.ts and arenas.ts, for `recover()`: the same checks again).
 * The wasm engine's loader travels with `wasmEngine` in vmheap/wasm (1,579 less than 32,869);
 * the bounded settings and the large-request fast path added 280 to the 31,290 that left.
 * The concurrent heap's arenas per thread (arenas.ts: segments, remote frees, their
 * recovery) added 4,033 (35,603); checking their lock words on attach, 610 more (36,213);
 * attach's check of the whole chunk map, recover's bounds on its undo logs and the check of an
 * arena's segments when a thread takes the arena, 677 more (36,890). The logged engine leaving
 * the derived words (chunk map, bin bitmap, PINUSE flags) unlogged, and logging the stores of
 * its general paths through one method (only malloc's and free's written out), 1,200 less
 * (35,749); free's written-out common case on a straight path of its own, in the heap and in
 * the logged engine, 521 more (36,270). The chunk map logged again (recovery judges the chunk
 * headers by it rather than adopting a smashed one), 284 more (36,554). A segment's header
 * checked against the segment table (which names each segment's arena), the remote frees
 * followed only to pending blocks of their arena, and attach's check of every word of a slot
 * that recovery follows, 497 more (37,071). A concurrent heap's malloc and free as each
 * handle's own properties, about 120 more; a merged chunk found at the head of another bin than
 * its own refused as a stale head before free or realloc change anything, and attach's check of
 * the break's words before it builds the break, 124 more (37,313). A shrinking realloc's (and
 * memalign's) tail checked before the split, 200 more (37,513). The arenas' front cache (a
 * thread's small frees kept for its next mallocs, its checks on the way in and out, its
 * recount after a thread died and its flush for check() and mallinfo()), 1,037 more (38,579);
 * mallopt(M_MMAP_THRESHOLD) taking any int up to 2^31 - 1, 75 more (38,654). An aligned
 * allocation's checks of the chunk it carves (the frees of the parts before and after the
 * aligned block, checked before the chunk is taken, so that damage next to it is refused with
 * nothing changed rather than found after the chunk was taken and lost), 484 more (39,128: one
 * copy, the logged engine inherits them). The front cache's malloc checking a cached block's
 * size by the chunk map as well as by its header (which an overflow of the block before can
 * enlarge), 110 more (39,238). A free of another thread's block reading the owner's chunk map
 * again before it asks for the owner's lock (an owner moving its map fails one read), 22 more
 * (39,320).
 */
export const CEILING = 39_340;

/** Strings only the code that is not the heap has: none may be in a heap-only bundle. */
export const FOREIGN = [
  ["the virtual-memory model (AddressSpace)", "AddressSpace: memory"],
  ["the virtual-memory model (PhysicalMemory)", "PhysicalMemory: frames"],
  ["the pictures (vmheap/viz)", "<svg"],
  ["the recorder", "vmheap-recording"],
  ["the glibc model (GlibcHeap)", "double free detected in tcache"],
];

/** A run of base64 this long is a binary: the wasm engine's, which lives in vmheap/wasm. */
const BINARY = /[A-Za-z0-9+/]{400,}={0,2}/;

/**
 * Bundles `code` (ESM importing "vmheap", resolved through the package's exports map to dist/)
 * minified, and measures it.
 * @returns the minified bytes, their gzip size (zlib's default level, as `gzip` does), and the text
 */
export async function measure(code = 'import { Heap } from "vmheap";\nconst heap = new Heap();\nconsole.log(heap.malloc(100));\n') {
  const out = await build({
    stdin: { contents: code, resolveDir: REPO, loader: "js" },
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    platform: "browser",
    treeShaking: true,
    logLevel: "silent",
  });
  const bytes = out.outputFiles[0].contents;
  return { min: bytes.length, gzip: gzipSync(bytes).length, text: out.outputFiles[0].text };
}

/** The checks on a measured bundle: what is wrong with it, or nothing. */
export function problems({ gzip, text }, ceiling = CEILING) {
  const found = [];
  if (gzip > ceiling) found.push(`${gzip} bytes min+gzip is over the ceiling of ${ceiling}`);
  if (!text.includes("double free detected")) found.push("the heap itself is missing from the bundle");
  for (const [what, marker] of FOREIGN) if (text.includes(marker)) found.push(`it holds ${what} (${JSON.stringify(marker)})`);
  if (BINARY.test(text)) found.push("it holds a binary (the wasm engine's bytes?)");
  return found;
}

async function main() {
  if (!existsSync(path.join(REPO, "dist", "index.js"))) {
    console.error("size: no dist/index.js: run `npm run build` first");
    process.exit(1);
  }
  const m = await measure();
  const found = problems(m);
  const kib = (n) => `${(n / 1024).toFixed(2)} KiB`;
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ min: m.min, gzip: m.gzip, goal: GOAL, ceiling: CEILING, problems: found }));
  } else {
    const goal = m.gzip <= GOAL ? "within the goal" : `${kib(m.gzip - GOAL)} over the goal`;
    console.log(`size: import { Heap } from "vmheap": ${m.min} bytes minified, ${m.gzip} min+gzip (${kib(m.gzip)}; goal ${kib(GOAL)}: ${goal}; ceiling ${CEILING})`);
    for (const p of found) console.error(`size: ${p}`);
  }
  if (found.length > 0) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
