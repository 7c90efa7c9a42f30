/**
 * `npm run demo` (`vmheap demo`): a short guided tour of a {@link Heap}, printed as text. It works on a fresh
 * in-memory heap (no files, no servers) and states only what it has just measured.
 */
import { DoubleFreeError, Heap, InvalidPointerError, M_TRIM_THRESHOLD, type ChunkInfo } from "../index.js";
import { chunkTable, formatMallinfo, heapMap } from "../viz/heapMap.js";
import { allocatorsTour } from "./allocatorsTour.js";
import { processTour } from "./processTour.js";

const hex = (n: number): string => "0x" + n.toString(16);
const indent = (text: string): string => text.split("\n").map((l) => "    " + l).join("\n");
const yesNo = (b: boolean): string => (b ? "yes" : "no");

/** The chunk whose block `malloc` returned as `ptr`, and the chunk right after it. */
function chunkOf(heap: Heap, ptr: number): { chunk: ChunkInfo; next: ChunkInfo | undefined } {
  const all = heap.chunks();
  const i = all.findIndex((c) => c.ptr === ptr);
  if (i < 0) throw new Error(`demo: ${hex(ptr)} is not a live block`);
  return { chunk: all[i]!, next: all[i + 1] };
}

/**
 * Runs the tour on a new default `Heap`, handing each line of text to `out`.
 * @param out - receives one line at a time, without a newline (e.g. `console.log`)
 */
export function main(out: (line: string) => void): void {
  const say = (text = ""): void => {
    for (const l of text.split("\n")) out(l);
  };
  const section = (title: string, text: string): void => {
    say();
    say(title);
    say("-".repeat(title.length));
    say(text);
  };
  const heap = new Heap();

  say("vmheap demo: a glibc-style malloc over a linear memory");
  say(`A new Heap() starts at ${hex(heap.base)}: a header with the bin heads, a chunk holding the`);
  say("chunk map, and the top chunk (free space up to the program break). How it is built:");
  say("docs/heap.md (\"Memory layout\", \"Chunks and bins\").");

  // 1 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "1. malloc: blocks of different sizes",
    "malloc(n) returns the address of a block of at least n bytes. The block lives in a chunk\n" +
      "whose 8-byte size field sits just before the pointer; chunk sizes are multiples of 16\n" +
      "(at least 32), so every pointer is 16-byte aligned and the usable size can exceed n.",
  );
  const sizes = [24, 100, 1000, 40];
  const [a, b, c, d] = sizes.map((n) => heap.malloc(n)) as [number, number, number, number];
  for (const [i, p] of [a, b, c, d].entries()) {
    say(
      `    ${"abcd"[i]} = malloc(${String(sizes[i]).padStart(4)}) = ${hex(p)}` +
        `   usable ${String(heap.mallocUsableSize(p)).padStart(4)}   ptr % 16 = ${p % 16}`,
    );
  }
  say();
  const first = heap.chunks()[0]!.address;
  say(`    the map from the heap's base: the header (h) fills ${hex(heap.base)}..${hex(first)}, ${first - heap.base} bytes of counters`);
  say(`    and bin heads; the first chunk, at ${hex(first)}, holds the chunk map (m). The later maps start there.`);
  say(indent(heapMap(heap, { header: true })));
  say("    █ and ▓ both mean used: the shade alternates between neighbouring used chunks, so that");
  say("    where one block ends and the next begins shows.");
  say();
  say(indent(chunkTable(heap)));

  // 2 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "2. free: neighbours coalesce",
    "free(p) returns the chunk to a bin. Two free chunks are never left side by side: freeing\n" +
      "b and then its neighbour c merges them into one free chunk at once.",
  );
  const ordBefore = heap.mallinfo().ordblks;
  const bSize = chunkOf(heap, b).chunk.size;
  const cSize = chunkOf(heap, c).chunk.size;
  heap.free(b);
  heap.free(c);
  const free = heap.chunks().filter((k) => k.kind === "free");
  const merged = free.find((k) => k.address === b - 16);
  say(`    free(b); free(c)`);
  say(
    `    free chunks now: ${free.map((k) => `${hex(k.address)} (${k.size} bytes)`).join(", ")}` +
      (merged !== undefined && merged.size === bSize + cSize
        ? ` = ${bSize} + ${cSize}: b and c coalesced into one chunk`
        : ""),
  );
  say(`    mallinfo().ordblks (free chunks, top included): ${ordBefore} before, ${heap.mallinfo().ordblks} after`);
  say();
  say(indent(heapMap(heap)));

  // 3 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "3. realloc: in place or moved",
    "realloc grows a block in place when the chunk after it is free and large enough, or is\n" +
      "the top chunk; the pointer stays the same. When a live block is in the way, it allocates\n" +
      "a new block, copies the old contents and frees the old one.",
  );
  const a2 = heap.realloc(a, 500);
  say(`    realloc(a, 500)  = ${hex(a2)}   same pointer: ${yesNo(a2 === a)}   (grew into the free chunk from step 2)`);
  const d2 = heap.realloc(d, 2000);
  say(`    realloc(d, 2000) = ${hex(d2)}   same pointer: ${yesNo(d2 === d)}   (grew into the top chunk)`);
  const x = heap.malloc(200);
  const y = heap.malloc(200);
  const text = "hello, heap!";
  heap.memory.u8.set(new TextEncoder().encode(text), x);
  const after = chunkOf(heap, x).next;
  say(`    x = malloc(200) = ${hex(x)}, holding "${text}"; y = malloc(200) = ${hex(y)}`);
  say(`    the chunk right after x is y's, in use: ${yesNo(after !== undefined && after.ptr === y)}`);
  const x2 = heap.realloc(x, 1000);
  const kept = new TextDecoder().decode(heap.memory.u8.slice(x2, x2 + text.length));
  say(`    realloc(x, 1000) = ${hex(x2)}   same pointer: ${yesNo(x2 === x)}   first bytes: "${kept}"`);

  // 4 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "4. posix_memalign: a 4096-byte boundary",
    "For an alignment above 16 the heap takes a chunk big enough to hold an aligned block,\n" +
      "splits off the gap in front of the aligned address and any tail, and frees them: the\n" +
      "padding goes back to the bins instead of being lost.",
  );
  const { err, ptr } = heap.posixMemalign(4096, 100);
  const all = heap.chunks();
  const at = all.findIndex((k) => k.ptr === ptr);
  const before = all[at - 1];
  say(`    posixMemalign(4096, 100) = { err: ${err}, ptr: ${hex(ptr)} }   ptr % 4096 = ${ptr % 4096}`);
  if (before !== undefined) {
    say(`    the chunk before it: ${hex(before.address)}, ${before.size} bytes, ${before.kind}`);
  }
  say();
  say(indent(heapMap(heap)));

  // 5 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "5. misuse is caught",
    "A chunk map (two bits per 16 bytes) says exactly which pointers are live, so free()\n" +
      "rejects a second free of a block, or a pointer into the middle of one, with glibc's\n" +
      "words, and throws before it changes anything (docs/heap.md, \"Why free cannot be fooled\").",
  );
  const p = heap.malloc(48);
  heap.free(p);
  try {
    heap.free(p);
    say("    free(p) twice: not detected");
  } catch (e) {
    if (!(e instanceof DoubleFreeError)) throw e;
    say(`    free(p) twice   -> ${e.name}: ${e.message}`);
  }
  const q = heap.malloc(48);
  try {
    heap.free(q + 16);
    say("    free(q + 16): not detected");
  } catch (e) {
    if (!(e instanceof InvalidPointerError)) throw e;
    say(`    free(q + 16)    -> ${e.name}: ${e.message}`);
  }
  heap.check();
  say("    heap.check(): passed (every chunk, bin and total is consistent)");
  heap.free(q);
  say("    free(q): fine, q was still live and untouched");

  // 6 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "6. mallinfo and footprint",
    "mallinfo() reports glibc's mallinfo2 totals; uordblks + fordblks = arena. The footprint is\n" +
      "what the heap holds from the system (the break, plus mapped blocks); the maximum\n" +
      "footprint is its high-water mark.",
  );
  const info = heap.mallinfo();
  say(indent(formatMallinfo(info)));
  say(`    uordblks + fordblks = ${info.uordblks + info.fordblks}, arena = ${info.arena}`);
  say(`    mallocFootprint() = ${heap.mallocFootprint()}   mallocMaxFootprint() = ${heap.mallocMaxFootprint()}`);

  // 7 ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    "7. trimming: giving memory back",
    "A free that leaves more than the trim threshold (128 KiB) free at the top lowers the break\n" +
      "again. With a higher threshold set through mallopt(M_TRIM_THRESHOLD, ...), the space stays\n" +
      "until mallocTrim() releases it on demand.",
  );
  const MiB = 1024 * 1024;
  const metaSize = (): number => heap.chunks().find((k) => k.kind === "meta")?.size ?? 0;
  const fp0 = heap.mallocFootprint();
  const meta0 = metaSize();
  const big = heap.malloc(MiB);
  const fp1 = heap.mallocFootprint();
  heap.free(big);
  say(`    footprint ${fp0} -> malloc(1 MiB) -> ${fp1} -> free -> ${heap.mallocFootprint()}`);
  say(`    (the chunk map grew from ${meta0} to ${metaSize()} bytes to cover the larger heap, and stays)`);
  heap.mallopt(M_TRIM_THRESHOLD, 64 * MiB);
  heap.free(heap.malloc(MiB));
  const fp2 = heap.mallocFootprint();
  say(`    mallopt(M_TRIM_THRESHOLD, 64 MiB); free(malloc(1 MiB)): footprint ${fp2}, top ${heap.mallinfo().keepcost} bytes`);
  const trimmed = heap.mallocTrim(0);
  say(`    mallocTrim(0) = ${trimmed}: footprint ${fp2} -> ${heap.mallocFootprint()}, top ${heap.mallinfo().keepcost} bytes`);
  say(`    mallocMaxFootprint() = ${heap.mallocMaxFootprint()} (the high-water mark stays)`);
  heap.check();

  say();
  say("Part two: the same heap inside a simulated Linux process");
  processTour(say, section, 8);

  say();
  say("Part three: the same steps on glibc's allocator and on vmheap's (docs/glibc.md)");
  allocatorsTour(say, section);

  say();
  say("Next: docs/heap.md tells how the heap is built, docs/vm.md the virtual-memory model, and");
  say("docs/cli.md the vmheap command (replay a trace, page replacement, page-table walks, pictures).");
  say("README.md covers the whole API, the glibc rules each call follows, and the wasm imports.");
}
