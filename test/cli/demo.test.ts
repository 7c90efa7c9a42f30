/**
 * Runs the `npm run demo` tour in-process and checks that it reports what the heap really did.
 */
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/demo.js";

function run(): string[] {
  const lines: string[] = [];
  main((line) => lines.push(line));
  return lines;
}

describe("demo", () => {
  const lines = run();
  const text = lines.join("\n");
  const line = (re: RegExp): string => {
    const l = lines.find((s) => re.test(s));
    expect(l, `no line matches ${re}`).toBeDefined();
    return l!;
  };

  it("prints one line per call to out, no embedded newlines", () => {
    expect(lines.length).toBeGreaterThan(40);
    for (const l of lines) expect(l).not.toContain("\n");
  });

  it("has its thirteen sections in order and ends pointing at the README", () => {
    const titles = lines.filter((l) => /^\d+\. /.test(l)).map((l) => l.split(".")[0]);
    expect(titles).toEqual(Array.from({ length: 13 }, (_, i) => String(i + 1)));
    expect(lines.at(-1)).toMatch(/README/);
  });

  it("shows 16-byte aligned blocks with usable sizes", () => {
    const allocs = lines.filter((l) => /^\s+[a-d] = malloc\(\s*\d+\) = 0x/.test(l));
    expect(allocs).toHaveLength(4);
    for (const l of allocs) expect(l).toMatch(/ptr % 16 = 0$/);
    expect(line(/malloc\( 100\)/)).toMatch(/usable\s+104/);
  });

  it("shows the two freed neighbours coalesced and ordblks going from 1 to 2", () => {
    expect(line(/coalesced into one chunk/)).toContain("112 + 1008");
    expect(line(/ordblks/)).toMatch(/1 before, 2 after/);
  });

  it("shows realloc in place twice and one move that kept the contents", () => {
    expect(line(/realloc\(a, 500\)/)).toContain("same pointer: yes");
    expect(line(/realloc\(d, 2000\)/)).toContain("same pointer: yes");
    expect(line(/right after x is y/)).toMatch(/yes$/);
    const moved = line(/realloc\(x, 1000\)/);
    expect(moved).toContain("same pointer: no");
    expect(moved).toContain('first bytes: "hello, heap!"');
  });

  it("shows posix_memalign(4096) aligned, with the padding free", () => {
    expect(line(/posixMemalign\(4096, 100\)/)).toMatch(/err: 0, .*ptr % 4096 = 0$/);
    expect(line(/chunk before it/)).toMatch(/free$/);
  });

  it("catches the double free and the interior pointer, and check() passes", () => {
    expect(line(/DoubleFreeError/)).toMatch(/free\(\): double free detected/);
    expect(line(/InvalidPointerError/)).toMatch(/free\(\): invalid pointer/);
    expect(text).toContain("heap.check(): passed");
    expect(text).not.toContain("not detected");
  });

  it("prints mallinfo with consistent totals and the footprints", () => {
    for (const f of ["arena", "ordblks", "uordblks", "fordblks", "keepcost"]) line(new RegExp(`^\\s+${f}\\s+\\d+`));
    const sum = /uordblks \+ fordblks = (\d+), arena = (\d+)/.exec(text)!;
    expect(sum[1]).toBe(sum[2]);
    expect(text).toMatch(/mallocFootprint\(\) = \d+ {3}mallocMaxFootprint\(\) = \d+/);
  });

  it("shows free trimming a 1 MiB block at once, and mallocTrim releasing it on demand", () => {
    const auto = /footprint (\d+) -> malloc\(1 MiB\) -> (\d+) -> free -> (\d+)/.exec(text)!;
    const [before, during, after] = auto.slice(1).map(Number) as [number, number, number];
    expect(during - before).toBeGreaterThan(1 << 20);
    expect(after).toBeLessThan(before + 64 * 1024);
    const manual = /mallocTrim\(0\) = 1: footprint (\d+) -> (\d+)/.exec(text)!;
    expect(Number(manual[1]) - Number(manual[2])).toBeGreaterThanOrEqual(1 << 20);
  });

  it("part two: maps of a spawned process, its five segments from its file, the vdso, then the stack", () => {
    const maps = lines.filter((l) => /^\s+[0-9a-f]{8,}-[0-9a-f]{8,} /.test(l));
    expect(maps[0]).toMatch(/^\s+00400000-00401000 r--p 00000000 fe:00 \d+ +\/usr\/bin\/demo$/);
    expect(maps[1]).toMatch(/^\s+00401000-00404000 r-xp 00001000 fe:00 \d+ +\/usr\/bin\/demo$/);
    expect(maps[2]).toMatch(/^\s+00404000-00405000 r--p 00004000 .*\/usr\/bin\/demo$/);
    expect(maps[3]).toMatch(/^\s+00405000-00406000 r--p 00005000 .*\/usr\/bin\/demo$/);
    expect(maps[4]).toMatch(/^\s+00406000-00407000 rw-p 00006000 .*\/usr\/bin\/demo$/);
    expect(maps.slice(6, 11).map((l) => l.trim().split(/ +/).at(-1))).toEqual(["[vvar]", "[vvar_vclock]", "[vdso]", "[stack]", "[vsyscall]"]);
    const brk = /bss ends at (0x[0-9a-f]+); start_brk = (0x[0-9a-f]+) .*sbrk\(0\) = (0x[0-9a-f]+)/.exec(text)!;
    expect(brk[2]).toBe(brk[3]);
    // start_brk is the end of bss rounded up to a page: where the bss line ends.
    const [endBss, startBrk] = [parseInt(brk[1]!, 16), parseInt(brk[2]!, 16)];
    expect(startBrk).toBe(Math.ceil(endBss / 4096) * 4096);
    expect(startBrk).toBeGreaterThan(endBss);
    expect(maps[5]).toMatch(new RegExp(`^\\s+00407000-${startBrk.toString(16).padStart(8, "0")} rw-p `));
  });

  it("part two: mmap grows VmSize only; ten first writes are ten minor faults; a read maps the zero page", () => {
    const m = /mmap\(64 MiB\) = 0x[0-9a-f]+: VmSize (\d+) KiB -> (\d+) KiB, VmRSS (\d+) KiB -> (\d+) KiB/.exec(text)!;
    expect(Number(m[2]) - Number(m[1])).toBe(65536);
    expect(m[3]).toBe(m[4]);
    const w = /10 pages: VmRSS -> (\d+) KiB, minor faults \+(\d+)/.exec(text)!;
    expect(Number(w[1]) - Number(m[4])).toBe(40);
    expect(w[2]).toBe("10");
    expect(line(/read an untouched page/)).toMatch(new RegExp(`VmRSS ${w[1]} KiB .*minor faults \\+1$`));
    expect(line(/the fault events/)).toMatch(/(anonymous, ){10}zero-page$/);
  });

  it("part two: small blocks move the break, a 1 MiB block gets its own mapping that free removes", () => {
    const s = /malloc\(100\)\s+= (0x[0-9a-f]+)\s+the heap starts at the break: sbrk\(0\) (0x[0-9a-f]+) -> (0x[0-9a-f]+)/.exec(text)!;
    expect(parseInt(s[1]!, 16)).toBeGreaterThanOrEqual(parseInt(s[2]!, 16));
    expect(parseInt(s[3]!, 16)).toBeGreaterThan(parseInt(s[2]!, 16));
    expect(line(/in its own mapping/)).toMatch(/malloc\(1 MiB\) = 0x7fff/);
    expect(line(/hblks 1 mapped block of/)).toMatch(/of 10[0-9]{5} bytes/);
    expect(text).toMatch(/\[heap\]/);
    expect(line(/free\(big\)/)).toMatch(/hblks 0\); maps has 12 lines again/);
  });

  it("part two: fork shares frames; one write copies one page; each side keeps its own data", () => {
    const f = /RAM frames in use (\d+) -> (\d+); shared frames (\d+)/.exec(text)!;
    expect(f[1]).toBe(f[2]);
    expect(Number(f[3])).toBeGreaterThan(0);
    expect(line(/child writes its copy/)).toMatch(new RegExp(`minor faults \\+1, frames in use ${Number(f[2]) + 1}$`));
    expect(line(/parent reads/)).toBe(`    parent reads "parent's data", child reads "child's data!"`);
    expect(line(/child exits/)).toMatch(new RegExp(`frames in use ${f[1]}$`));
  });

  it("part two: paging keeps 16 pages resident, swaps the rest, and brings all back intact", () => {
    const w = /wrote 64 pages: VmRSS (\d+) KiB, VmSwap (\d+) KiB, swap-outs (\d+)/.exec(text)!;
    expect(w[1]).toBe("64");
    expect(w[2]).toBe("192");
    expect(w[3]).toBe("48");
    expect(line(/read them all back/)).toMatch(/64\/64 intact, major faults \d+, swap-ins \d+/);
  });

  it("part two: Belady's anomaly under FIFO (9 faults with 3 frames, 10 with 4), none under LRU and OPT", () => {
    expect(line(/^\s+fifo/)).toMatch(/^\s+fifo\s+9\s+10\s+<- more frames, more faults$/);
    expect(line(/^\s+lru/)).not.toContain("more faults");
    expect(line(/^\s+opt/)).toMatch(/^\s+opt\s+7\s+6$/);
  });

  it("draws the header in its first map and says where the later maps start", () => {
    const header = /the header \(h\) fills 0x0\.\.(0x[0-9a-f]+), (\d+) bytes/.exec(text)!;
    expect(parseInt(header[1]!, 16)).toBe(Number(header[2]));
    expect(text).toContain(`the first chunk, at ${header[1]}, holds the chunk map (m)`);
    const hs = lines.filter((l) => /^\s+0x[0-9a-f]+ [h]/.test(l)).join("").match(/h/g)!.length;
    expect(hs).toBe(Number(header[2]) / 16);
    expect(line(/█ and ▓ both mean used/)).toMatch(/alternates between neighbouring used chunks/);
    // the later maps leave the header out: their first row starts at the bitmap's chunk
    // (the first map's rows hold the header, then the map's chunk, which may spill into the next row)
    expect(lines.filter((l) => new RegExp(`^\\s+0x0?${header[1]!.slice(2)} m+█`).test(l)).length).toBeGreaterThan(0);
  });

  it("points to docs/heap.md and the other guides", () => {
    expect(text).toContain('docs/heap.md ("Memory layout", "Chunks and bins")');
    expect(text).toContain('(docs/heap.md, "Why free cannot be fooled")');
    expect(text).toMatch(/docs\/vm\.md/);
    expect(text).toMatch(/docs\/cli\.md/);
  });

  it("part two: the zero page is not counted in RSS, and shared frames are in-use frames but the zero page", () => {
    expect(line(/RSS did not grow/)).toContain("the one shared zero page, which RSS does not count");
    const f = /RAM frames in use (\d+) -> (\d+); shared frames (\d+)/.exec(text)!;
    expect(Number(f[3])).toBe(Number(f[2]) - 1);
    expect(line(/shared, not/)).toBe(`    (${f[3]} shared, not ${f[2]}: frames in use count the zero page, never counted as shared;`);
  });

  it("part two: a lead-in before the maps of section 10", () => {
    const i = lines.findIndex((l) => l.startsWith("    /proc/self/maps now:"));
    expect(i).toBeGreaterThan(0);
    expect(lines[i + 1]).toMatch(/^\s+00400000-00401000 r--p/);
    expect(lines.slice(0, i).some((l) => /^10\. malloc inside the process/.test(l))).toBe(true);
  });

  it("part two: more swap-ins than swap-outs, explained by the pages read back evicting the next ones", () => {
    const r = /read them all back: 64\/64 intact, major faults (\d+), swap-ins (\d+), swap-outs 48 -> (\d+)/.exec(text)!;
    expect(r[1]).toBe("64");
    expect(r[2]).toBe("64");
    // each of the 64 reads evicts a page to make room: 48 earlier evictions plus 64 now
    expect(Number(r[3])).toBe(48 + 64);
    expect(line(/swap-ins though/)).toBe("    64 swap-ins though 48 pages were out: reading page 0 back evicted page 48, and so on;");
  });

  it("prints the same story every time", () => {
    expect(run()).toEqual(lines);
  });
});

describe("demo part three: glibc's allocator next to vmheap's", () => {
  it("prints glibc's numbers for the same steps (those a real glibc 2.36 process shows)", () => {
    const lines: string[] = [];
    main((l) => lines.push(l));
    const text = lines.join("\n");
    const part = text.slice(text.indexOf("Part three"));
    expect(part).toContain("glibc   p = heap start + 0x2a0, size word 0x71, break + 0x21000");
    expect(part).toContain("glibc   after malloc: break + 0x129000, RSS 1096 kB; after free: break + 0x129000, RSS 1096 kB");
    expect(part).toContain("glibc   smblks 993, fsmblks 111216, uordblks 1440");
    expect(part).toContain("glibc   first from a mapping, second from the break");
    expect(part).toContain("glibc   26 minor faults, RSS + 104 kB");
    expect(part).toMatch(/glibc {3}malloc_trim\(0\) = 1, RSS 204 kB -> 28 kB/);
    expect(part).toMatch(/\(tcache\)[\s\S]*\(unsorted\)/);
  });
});
