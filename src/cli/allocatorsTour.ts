/**
 * The third part of `npm run demo`: the same C steps on glibc 2.36's allocator (the model of
 * `allocator: "glibc"`) and on vmheap's hardened heap, each in a fresh simulated process, and
 * why the numbers differ. Every figure is measured on the spot; the glibc column is what this
 * machine's real glibc prints for the same steps (test/heap/glibc/process.test.ts checks it).
 */
import { PhysicalMemory, Process, chunkTable } from "../index.js";

type Allocator = "glibc" | "vmheap";

const hex = (n: number): string => (n < 0 ? "-0x" : "0x") + Math.abs(n).toString(16);
const kb = (bytes: number): string => `${bytes / 1024} kB`;

/** A fresh process with the given allocator, and readings of its break, RSS and faults. */
function fresh(allocator: Allocator) {
  const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 8192 }), heap: { allocator } });
  const heap0 = proc.currentBreak;
  const read = () => ({ brk: proc.currentBreak - heap0, rss: proc.status().vmRss, faults: proc.status().minorFaults });
  return { proc, heap: proc.heap, heap0, read };
}

/**
 * Runs the comparison; its sections are lettered A, B, C, …
 * @param say - prints a block of text
 * @param section - prints a titled section
 */
export function allocatorsTour(say: (text?: string) => void, section: (title: string, text: string) => void): void {
  let n = 0;
  const title = (t: string): string => `${String.fromCharCode(65 + n++)}. ${t}`;
  const row = (name: Allocator, text: string): void => say(`    ${name.padEnd(6)}  ${text}`);
  const both = (fn: (a: Allocator) => string): void => {
    for (const a of ["glibc", "vmheap"] as const) row(a, fn(a));
  };

  section(
    title("The first malloc(100)"),
    "glibc's first call takes a 0x290-byte chunk for the thread's cache (the tcache: 64 bins of\n" +
      "up to 7 freed chunks), then the block; it grows the break once, by the request plus\n" +
      "M_TOP_PAD (128 KiB), rounded up to a page. vmheap's header and chunk map come first.",
  );
  both((a) => {
    const { proc, heap, heap0, read } = fresh(a);
    const p = heap.malloc(100);
    return `p = heap start + ${hex(p - heap0)}, size word ${hex(proc.as.read32(p - 8))}, break + ${hex(read().brk)}`;
  });

  section(
    title("10,000 x malloc(100), then free them all"),
    "glibc puts 7 freed chunks of a size in the tcache and the rest in a fastbin: both keep the\n" +
      "chunks marked in use, so nothing merges and nothing reaches the top - the break and RSS stay\n" +
      "until a large request or malloc_trim consolidates them. vmheap merges at once and trims.",
  );
  both((a) => {
    const { heap, read } = fresh(a);
    const ps = Array.from({ length: 10000 }, () => heap.malloc(100));
    const full = read();
    for (const p of ps) heap.free(p);
    const after = read();
    return `after malloc: break + ${hex(full.brk)}, RSS ${kb(full.rss)}; after free: break + ${hex(after.brk)}, RSS ${kb(after.rss)}`;
  });

  section(title("mallinfo2() after freeing 1,000 x malloc(100)"), "smblks/fsmblks count fastbin chunks; tcache chunks still count as in use (uordblks).");
  both((a) => {
    const { heap } = fresh(a);
    const ps = Array.from({ length: 1000 }, () => heap.malloc(100));
    for (const p of ps) heap.free(p);
    const m = heap.mallinfo();
    return `smblks ${m.smblks}, fsmblks ${m.fsmblks}, uordblks ${m.uordblks}, fordblks ${m.fordblks}`;
  });

  section(
    title("malloc(200 KiB), free, malloc(200 KiB) again"),
    "Both map a block of 128 KiB or more. glibc's free of a mapped chunk raises the mmap\n" +
      "threshold to its size (up to 32 MiB), so the same request then comes from the break.",
  );
  both((a) => {
    const { proc, heap, heap0 } = fresh(a);
    const place = (p: number): string => (p >= heap0 && p < proc.currentBreak ? `the break (heap + ${hex(p - heap0)})` : "a mapping");
    const p = heap.malloc(200 * 1024);
    const first = place(p);
    heap.free(p);
    return `first from ${first}, second from ${place(heap.malloc(200 * 1024))}`;
  });

  section(
    title("The first calloc(100 KiB)"),
    "glibc clears the block with memset unless it comes from memory the heap never had before\n" +
      "(beyond sbrk_base + max_system_mem): here the first sbrk already gave it, so every page is\n" +
      "written. vmheap skips pages it knows are still zero.",
  );
  both((a) => {
    const { heap, read } = fresh(a);
    const before = read();
    heap.calloc(1, 100 * 1024);
    const after = read();
    const f = after.faults - before.faults;
    return `${f} minor fault${f === 1 ? "" : "s"}, RSS + ${kb(after.rss - before.rss)}`;
  });

  section(
    title("malloc_trim(0) with the last of ten 20 KiB blocks still in use"),
    "The top cannot shrink past the live block, but glibc's malloc_trim also gives back the whole\n" +
      "free pages inside free chunks (MADV_DONTNEED: the frames go, the mapping stays).",
  );
  both((a) => {
    const { proc, heap, read } = fresh(a);
    const ps = Array.from({ length: 10 }, () => {
      const p = heap.malloc(20480);
      proc.as.writeBytes(p, new Uint8Array(20480).fill(1));
      return p;
    });
    for (const p of ps.slice(0, 9)) heap.free(p);
    const before = read();
    const r = heap.mallocTrim(0);
    const after = read();
    return `malloc_trim(0) = ${r}, RSS ${kb(before.rss)} -> ${kb(after.rss)}, break + ${hex(before.brk)} -> + ${hex(after.brk)}`;
  });

  section(
    title("glibc's heap after a few calls"),
    "malloc(100) x 3, malloc(2000), malloc(16), then free the 2000-byte block and two 100-byte\n" +
      "ones: the small ones wait in the tcache (still in use for glibc), the big one in the\n" +
      "unsorted bin until the next malloc sorts it.",
  );
  const { heap } = fresh("glibc");
  const small = [heap.malloc(100), heap.malloc(100), heap.malloc(100)];
  const big = heap.malloc(2000);
  heap.malloc(16);
  heap.free(big);
  heap.free(small[0]!);
  heap.free(small[2]!);
  const bins = new Map(heap.chunks().map((c) => [c.address, c.bin]));
  say(
    chunkTable(heap)
      .split("\n")
      .map((line) => {
        const addr = /^\s*(0x[0-9a-f]+)/.exec(line)?.[1];
        const bin = addr !== undefined ? bins.get(Number(addr)) : undefined;
        return `    ${line}${bin !== undefined ? `  (${bin})` : ""}`;
      })
      .join("\n"),
  );
}
