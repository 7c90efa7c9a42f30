/**
 * The process layout against this machine's Linux: scripts/linux/layout.c, built static and as
 * a PIE by scripts/linux/record.sh and run under `setarch -R`, printed its /proc/self/maps (at
 * main, and after two mmaps and an sbrk), the mm fields of /proc/self/stat and where its own
 * objects are; `readelf -lW` gave its program headers (test/fixtures/linux/layout-*.txt).
 * The model is given an image with the same segment sizes and must lay it out the same way.
 * The device and inode are the model's own (a file's are not the model's to know), but must be
 * present and formatted as Linux formats them.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { Process } from "../../src/vm/Process.js";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/linux/${name}`, import.meta.url), "utf8");

/** The sections of layout.c's output: "== title" lines, then their lines. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  for (const l of text.split("\n")) {
    if (l.startsWith("== ")) out.set(l.slice(3), (cur = []));
    else if (l !== "") cur.push(l);
  }
  return out;
}

/** "key hex" lines as a map of numbers. */
function values(lines: string[]): Record<string, number> {
  return Object.fromEntries(lines.map((l) => l.split(" ")).map(([k, v]) => [k!, parseInt(v!, 16)]));
}

interface Load {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: string;
}

/** The PT_LOAD and PT_GNU_RELRO headers of `readelf -lW`. */
function programHeaders(text: string): { loads: Load[]; relro: Load } {
  const rows = text
    .split("\n")
    .map((l) => /^\s+(LOAD|GNU_RELRO)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) (.{3})/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ type: m[1]!, offset: parseInt(m[2]!, 16), vaddr: parseInt(m[3]!, 16), filesz: parseInt(m[4]!, 16), memsz: parseInt(m[5]!, 16), flags: m[6]!.trim() }));
  return { loads: rows.filter((r) => r.type === "LOAD"), relro: rows.find((r) => r.type === "GNU_RELRO")! };
}

/**
 * A maps line as "range perms offset dev inode name", with the name checked to start at column
 * 73 and the device and inode checked for Linux's format (then blanked for a file: they are
 * the file system's, not the model's to know).
 */
function normalized(line: string): string {
  const m = /^([0-9a-f]{8,}-[0-9a-f]{8,}) ([r-][w-][x-][ps]) ([0-9a-f]{8}) ([0-9a-f]{2}:[0-9a-f]{2}) (\d+) ( *)(.*)$/.exec(line);
  expect(m, line).not.toBeNull();
  const [, range, perms, offset, dev, inode, , name] = m!;
  if (name !== "") expect(line.length - name!.length, line).toBe(73);
  if (dev === "00:00") expect(inode).toBe("0");
  else expect(Number(inode)).toBeGreaterThan(0);
  return `${range} ${perms} ${offset} ${dev === "00:00" ? "00:00 0" : "dev inode"} ${name}`;
}

/** The model, spawned with the recorded binary's segment sizes. */
function spawnLike(phdrsText: string, pie: boolean, path: string): Process {
  const { loads, relro } = programHeaders(phdrsText);
  expect(loads.map((l) => l.flags)).toEqual(["R", "R E", "R", "RW"]);
  const [head, text, rodata, rw] = loads as [Load, Load, Load, Load];
  expect(head.filesz).toBeLessThanOrEqual(4096); // one page of headers, as the model's
  expect(relro.vaddr).toBe(rw.vaddr); // relro is the start of the read-write segment
  return Process.spawn({
    memory: new PhysicalMemory({ frames: 1024, shared: false }),
    text: new Uint8Array(text.filesz),
    rodata: new Uint8Array(rodata.filesz),
    relro: new Uint8Array(relro.memsz),
    data: new Uint8Array(rw.filesz - relro.memsz),
    bssSize: rw.memsz - rw.filesz,
    path,
    pie,
  });
}

const mapsLines = (p: Process): string[] => p.maps().trimEnd().split("\n");
const named = (lines: string[], name: string): string => lines.find((l) => l.endsWith(name))!;

describe("static binary layout: the model against setarch -R ./layout-static on this machine", () => {
  const real = sections(fixture("layout-static.txt"));
  const atMain = real.get("maps at main")!;
  const after = real.get("maps after mmap")!;
  const stat = values(real.get("stat")!);
  const mm = values(real.get("mmap")!);
  const where = values(real.get("sections")!);
  const p = spawnLike(fixture("layout-static.phdrs.txt"), false, "/tmp/prog-static");
  const model = mapsLines(p);
  // glibc's static startup had moved the break by main (the model has no C runtime): do the same.
  p.sbrk(stat.brk! - stat.start_brk!);
  const modelAtMain = mapsLines(p);

  it("the recording is of this kernel's layout: five program lines, bss, [heap], vdso, stack, vsyscall", () => {
    expect(atMain.map((l) => l.slice(73) || "anon")).toEqual([
      ...Array(5).fill("/tmp/prog-static"),
      "anon",
      "[heap]",
      "[vvar]",
      "[vvar_vclock]",
      "[vdso]",
      "[stack]",
      "[vsyscall]",
    ]);
  });

  it("the program is mapped from its file at 0x400000 in 5 segments r--p r-xp r--p r--p rw-p, with offsets, a device and an inode", () => {
    expect(model.slice(0, 5).map(normalized)).toEqual(atMain.slice(0, 5).map(normalized));
    expect(model[0]!.startsWith("00400000-")).toBe(true);
    expect(model.slice(0, 5).map((l) => l.split(" ")[1])).toEqual(["r--p", "r-xp", "r--p", "r--p", "rw-p"]);
  });

  it("the segments are what their names say: text, rodata, relro and data where the linker put this program's own objects", () => {
    const lineOf = (lines: string[], va: number): number =>
      lines.findIndex((l) => {
        const [a, b] = l.split(" ")[0]!.split("-").map((x) => parseInt(x, 16));
        return va >= a! && va < b!;
      });
    expect([where.text, where.rodata, where.relro, where.data, where.bss].map((va) => lineOf(atMain, va!))).toEqual([1, 2, 3, 4, 4]);
    // The model's layout fields point into the same lines.
    const L = p.layout;
    expect([L.startCode, L.startData, L.endData - 1].map((va) => lineOf(model, va))).toEqual([1, 3, 4]);
  });

  it("the rest of bss is an anonymous line, up to start_brk", () => {
    expect(model[5]).toBe(atMain[5]);
  });

  it("[heap] starts right after bss, at start_brk, and ends at the page-rounded break", () => {
    expect(named(modelAtMain, "[heap]")).toBe(named(atMain, "[heap]"));
  });

  it("[vvar] 7ffff7ff7000-7ffff7ffb000, [vvar_vclock] to 7ffff7ffd000 and [vdso] to 7ffff7fff000", () => {
    for (const n of ["[vvar]", "[vvar_vclock]", "[vdso]"]) expect(named(model, n)).toBe(named(atMain, n));
    expect(named(atMain, "[vvar]").startsWith("7ffff7ff7000-7ffff7ffb000 r--p")).toBe(true);
  });

  it("[stack] ends at 7ffffffff000, with the 132 KiB Linux maps at exec", () => {
    expect(named(model, "[stack]")).toBe(named(atMain, "[stack]"));
  });

  it("[vsyscall] ffffffffff600000-ffffffffff601000 --xp ends the maps", () => {
    expect(model.at(-1)).toBe(atMain.at(-1));
    expect(model.at(-1)).toBe("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]");
  });

  it("start_code, end_code, start_data, end_data and start_brk as /proc/self/stat shows them", () => {
    const L = p.layout;
    expect({ start_code: L.startCode, end_code: L.endCode, start_data: L.startData, end_data: L.endData, start_brk: L.startBrk }).toEqual({
      start_code: stat.start_code,
      end_code: stat.end_code,
      start_data: stat.start_data,
      end_data: stat.end_data,
      start_brk: stat.start_brk,
    });
  });

  it("mmap places top-down below the vdso: the same two addresses", () => {
    const a = p.as.mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const b = p.as.mmap(0, 5 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    expect([a, b]).toEqual([mm.first, mm.second]);
    p.sbrk(5000);
    // And then every line is the kernel's.
    expect(mapsLines(p).map(normalized)).toEqual(after.map(normalized));
  });
});

describe("PIE layout: the model (pie: true) against setarch -R ./layout-pie on this machine", () => {
  const real = sections(fixture("layout-pie.txt"));
  const atMain = real.get("maps at main")!;
  const after = real.get("maps after mmap")!;
  const stat = values(real.get("stat")!);
  const p = spawnLike(fixture("layout-pie.phdrs.txt"), true, "/tmp/prog-pie");
  const model = mapsLines(p);

  it("the program is mapped at 0x555555554000 in the same 5 segments, offsets included", () => {
    expect(model.slice(0, 5).map(normalized)).toEqual(atMain.slice(0, 5).map(normalized));
    expect(model[0]!.startsWith("555555554000-")).toBe(true);
  });

  it("then the rest of bss, and start_brk right after it", () => {
    expect(model[5]).toBe(atMain[5]);
    const L = p.layout;
    expect({ start_code: L.startCode, end_code: L.endCode, start_data: L.startData, end_data: L.endData, start_brk: L.startBrk }).toEqual({
      start_code: stat.start_code,
      end_code: stat.end_code,
      start_data: stat.start_data,
      end_data: stat.end_data,
      start_brk: stat.start_brk,
    });
    expect(p.sbrk(0x1000)).toBe(stat.start_brk);
    expect(named(after, "[heap]").slice(0, 13)).toBe(named(mapsLines(p), "[heap]").slice(0, 13));
  });

  it("the stack and the vsyscall page are where a static binary has them", () => {
    expect(named(model, "[stack]")).toBe(named(atMain, "[stack]"));
    expect(model.at(-1)).toBe(atMain.at(-1));
  });

  it("the model has no dynamic loader: its vdso stays at the top of the mmap area (the real one is below ld.so and libc)", () => {
    expect(atMain.some((l) => l.endsWith("ld-linux-x86-64.so.2"))).toBe(true);
    expect(named(model, "[vdso]").startsWith("7ffff7ffd000-7ffff7fff000 r-xp")).toBe(true);
    expect(named(atMain, "[vdso]").startsWith("7ffff7ffd000")).toBe(false);
  });
});
