/**
 * The second half of `npm run demo`: how a Linux process gets and uses its memory, told on a
 * simulated process. Every figure printed is measured on the spot.
 */
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  PhysicalMemory,
  Process,
  SwapSpace,
  simulateReplacement,
  type ReplayPolicy,
  type VmEvent,
} from "../index.js";

const hex = (n: number): string => "0x" + n.toString(16);
const kib = (bytes: number): string => `${bytes / 1024} KiB`;

/**
 * Runs the process tour, numbering its sections from `first`.
 * @param say - prints a block of text (lines split on "\n")
 * @param section - prints a titled section
 */
export function processTour(say: (text?: string) => void, section: (title: string, text: string) => void, first: number): void {
  let n = first;
  const title = (t: string): string => `${n++}. ${t}`;
  const indent = (text: string): string => text.split("\n").map((l) => "    " + l).join("\n");
  const PS = 4096;

  const ram = new PhysicalMemory({ frames: 4096 }); // 16 MiB of RAM
  const text = new Uint8Array(3 * PS).map((_, i) => (i * 13) & 0xff);
  const data = new TextEncoder().encode("initialized data: a global char[] from the program image");
  const bssSize = 20_000;
  const proc = Process.spawn({ memory: ram, text, data, bssSize, path: "/usr/bin/demo" });
  const as = proc.as;

  // ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    title("a process and its maps"),
    "Process.spawn lays a program out as Linux lays out a static binary: its file mapped at\n" +
      "0x400000 in five segments (headers r--, text r-x, rodata r--, relro r--, data rw-), the rest\n" +
      "of bss anonymous, the break at the first page boundary after bss, the vdso at the top of\n" +
      "the mmap area, and the stack at the top of the 47-bit address space. /proc/self/maps:",
  );
  say(indent(proc.maps().trimEnd()));
  const endBss = proc.layout.endData + bssSize;
  say(`    bss ends at ${hex(endBss)}; start_brk = ${hex(proc.layout.startBrk)} (rounded up to a page); sbrk(0) = ${hex(proc.sbrk(0))}`);

  // ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    title("lazy allocation: VmSize versus VmRSS"),
    "mmap only reserves address space. A page gets a frame of RAM when it is first written\n" +
      "(a minor fault; reading an untouched page maps the shared zero page instead).",
  );
  const faults: VmEvent[] = [];
  const stop = as.on((e) => {
    if (e.type === "fault") faults.push(e);
  });
  const st0 = proc.status();
  const len = 64 * 1024 * 1024;
  const region = as.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const st1 = proc.status();
  say(`    mmap(64 MiB) = ${hex(region)}: VmSize ${kib(st0.vmSize)} -> ${kib(st1.vmSize)}, VmRSS ${kib(st0.vmRss)} -> ${kib(st1.vmRss)}`);
  for (let i = 0; i < 10; i++) as.write8(region + i * 1024 * 1024, i + 1);
  const st2 = proc.status();
  say(`    write one byte in each of 10 pages: VmRSS -> ${kib(st2.vmRss)}, minor faults +${st2.minorFaults - st1.minorFaults}`);
  const v = as.read8(region + 12 * 1024 * 1024);
  const st3 = proc.status();
  say(`    read an untouched page: ${v}, VmRSS ${kib(st3.vmRss)} (the zero page), minor faults +${st3.minorFaults - st2.minorFaults}`);
  say("    (RSS did not grow: the read mapped the one shared zero page, which RSS does not count)");
  const kinds = faults.map((f) => (f.type === "fault" ? f.cause : "")).join(", ");
  say(`    the fault events: ${kinds}`);
  stop();
  as.munmap(region, len);

  // ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    title("malloc inside the process: small from brk, big from mmap"),
    "process.heap is the same heap, running in the process's address space. Small blocks come\n" +
      "from the break (the [heap] line grows), blocks of 128 KiB or more from a mapping of their\n" +
      "own, which free() unmaps at once.",
  );
  const brk0 = proc.sbrk(0);
  const heap = proc.heap; // set up on first use, as glibc's malloc is on the first call
  const small = heap.malloc(100);
  say(`    heap.malloc(100)  = ${hex(small)}   the heap starts at the break: sbrk(0) ${hex(brk0)} -> ${hex(proc.sbrk(0))}`);
  const smallMore = Array.from({ length: 40 }, () => heap.malloc(1000));
  say(`    40 x malloc(1000): sbrk(0) -> ${hex(proc.sbrk(0))}`);
  const big = heap.malloc(1024 * 1024);
  const bigLine = proc
    .maps()
    .split("\n")
    .find((l) => {
      const [a, b] = l.split(" ")[0]!.split("-").map((x) => parseInt(x, 16));
      return big >= a! && big < b!;
    });
  say(`    heap.malloc(1 MiB) = ${hex(big)}   in its own mapping:`);
  say(`      ${bigLine ?? "(none)"}`);
  const info = heap.mallinfo();
  say(`    mallinfo(): arena ${info.arena} bytes from brk, hblks ${info.hblks} mapped block of ${info.hblkhd} bytes`);
  say("    /proc/self/maps now: a [heap] line from start_brk to the break, and the block's mapping");
  say(indent(proc.maps().trimEnd()));
  heap.free(big);
  say(`    free(big): its mapping is gone (hblks ${heap.mallinfo().hblks}); maps has ${proc.maps().trim().split("\n").length} lines again`);
  for (const p of smallMore) heap.free(p);
  as.writeBytes(small, new TextEncoder().encode("parent's data"));

  // ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    title("fork and copy-on-write"),
    "fork() copies the page tables, not the pages: parent and child share every frame,\n" +
      "read-only, until one of them writes; that write faults and copies just that page.",
  );
  const used0 = ram.usedFrames;
  const child = proc.fork();
  say(`    fork(): a child (its ppid is the parent's pid: ${child.ppid === proc.pid ? "yes" : "no"}); RAM frames in use ${used0} -> ${ram.usedFrames}; shared frames ${ram.sharedFrames}`);
  const rssPages = proc.status().vmRss / PS;
  if (ram.sharedFrames === rssPages && ram.usedFrames === rssPages + 1) {
    say(`    (${rssPages} shared, not ${ram.usedFrames}: frames in use count the zero page, never counted as shared;`);
    say(`    the other ${rssPages} are the parent's ${rssPages} resident pages, each now mapped by parent and child)`);
  }
  const cf0 = child.status().minorFaults;
  child.as.writeBytes(small, new TextEncoder().encode("child's data!"));
  say(`    the child writes its copy of the block: minor faults +${child.status().minorFaults - cf0}, frames in use ${ram.usedFrames}`);
  const read = (p: Process): string => new TextDecoder().decode(p.as.readBytes(small, 13));
  say(`    parent reads "${read(proc)}", child reads "${read(child)}"`);
  const c2 = child.heap.malloc(5000);
  heap.check();
  child.heap.check();
  say(`    the child's heap allocates on its own: child malloc(5000) = ${hex(c2)}; parent heap.check() passes, child's too`);
  child.exit();
  say(`    child exits: frames in use ${ram.usedFrames}`);

  // ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    title("paging out under memory pressure"),
    "With at most 16 resident pages and a swap area, writing 64 pages evicts pages to swap\n" +
      "(here with the clock policy); touching them again brings them back (major faults),\n" +
      "with their contents intact.",
  );
  const small2 = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }), swap: new SwapSpace({ slots: 256 }), maxResidentPages: 16 });
  const pages = 64;
  const r = small2.as.mmap(0, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < pages; i++) small2.as.write32(r + i * PS, 0x1000 + i);
  const s1 = small2.status();
  say(`    wrote ${pages} pages: VmRSS ${kib(s1.vmRss)}, VmSwap ${kib(s1.vmSwap)}, swap-outs ${s1.swapOuts}`);
  let intact = 0;
  let firstVictim = -1;
  const stopWatch = small2.as.on((e) => {
    if (e.type === "evict" && firstVictim < 0) firstVictim = (e.address - r) / PS;
  });
  for (let i = 0; i < pages; i++) if (small2.as.read32(r + i * PS) === 0x1000 + i) intact++;
  stopWatch();
  const s2 = small2.status();
  say(`    read them all back: ${intact}/${pages} intact, major faults ${s2.majorFaults}, swap-ins ${s2.swapIns}, swap-outs ${s1.swapOuts} -> ${s2.swapOuts}`);
  if (s2.swapIns > s1.swapOuts && s2.majorFaults === pages) {
    say(`    ${s2.swapIns} swap-ins though ${s1.swapOuts} pages were out: reading page 0 back evicted page ${firstVictim}, and so on;`);
    say("    a loop over more pages than fit evicts each page just before it is needed again: every read faults");
  }
  small2.exit();

  // ─────────────────────────────────────────────────────────────────────────────────────────
  section(
    title("Belady's anomaly"),
    "Under FIFO, more frames can mean more page faults. The classic reference string\n" +
      "1 2 3 4 1 2 5 1 2 3 4 5, replayed with 3 and 4 frames:",
  );
  const refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
  const policies: ReplayPolicy[] = ["fifo", "lru", "clock", "opt"];
  say("    policy   faults with 3 frames   with 4 frames");
  for (const pol of policies) {
    const f3 = simulateReplacement(refs, 3, pol).misses;
    const f4 = simulateReplacement(refs, 4, pol).misses;
    say(`    ${pol.padEnd(8)} ${String(f3).padStart(6)}                 ${String(f4).padStart(6)}${f4 > f3 ? "   <- more frames, more faults" : ""}`);
  }
  proc.exit();
}
