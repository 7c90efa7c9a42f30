import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { Errno } from "../../src/errno.js";
import { ArgumentError, OutOfMemoryError, ProtectionFault, SegmentationFault } from "../../src/errors.js";
import { Heap } from "../../src/heap/Heap.js";
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { DEFAULT_STACK_SIZE, PIE_BASE_64, Process, TEXT_BASE_32, TEXT_BASE_64, VDSO_LAYOUT, type ProcessOptions } from "../../src/vm/Process.js";
import { SwapSpace } from "../../src/vm/Swap.js";
import { thrown } from "./helpers/asKit.js";

const PS = 4096;
const RW = PROT_READ | PROT_WRITE;
const up = (n: number, ps = PS): number => Math.ceil(n / ps) * ps;

const TEXT = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 1) & 0xff);
const DATA = Uint8Array.from({ length: 50 }, (_, i) => 200 - i);
const BSS = 10000;

function spawn(o: Partial<ProcessOptions> & { frames?: number; pageSize?: number } = {}): Process {
  const { frames, pageSize, ...rest } = o;
  const memory = new PhysicalMemory({ frames: frames ?? 512, pageSize: pageSize ?? PS, shared: false });
  return Process.spawn({ memory, text: TEXT, data: DATA, bssSize: BSS, ...rest });
}

/** One `/proc/self/maps` line, as Linux prints it for an anonymous-offset region. */
function line(start: number, end: number, perms: string, name = ""): string {
  const hex = (n: number): string => n.toString(16).padStart(8, "0");
  const s = `${hex(start)}-${hex(end)} ${perms} 00000000 00:00 0 `;
  return name === "" ? s : s.padEnd(73, " ") + name;
}

/** One maps line of the program's file `/a.out` (its inode is the one its path gives). */
function fileLine(start: number, end: number, perms: string, offset: number, path = "/a.out"): string {
  const hex = (n: number): string => n.toString(16).padStart(8, "0");
  return `${hex(start)}-${hex(end)} ${perms} ${hex(offset)} fe:00 ${new MemFile(new Uint8Array(0), path).inode} `.padEnd(73, " ") + path;
}

const VSYSCALL = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

/** The maps lines, without the [vsyscall] line that ends a 48-bit process's maps. */
function lines(p: Process): string[] {
  const ls = p.maps().trimEnd().split("\n");
  if (p.as.addressBits === 48) expect(ls.pop()).toBe(VSYSCALL);
  return ls;
}

/** The vdso's three lines below `top` (the mmap base). */
function vdsoLines(top: number): string[] {
  const vclock = top - VDSO_LAYOUT.vdso - VDSO_LAYOUT.vvarVclock;
  const vvar = vclock - VDSO_LAYOUT.vvar;
  return [line(vvar, vclock, "r--p", "[vvar]"), line(vclock, top - VDSO_LAYOUT.vdso, "r--p", "[vvar_vclock]"), line(top - VDSO_LAYOUT.vdso, top, "r-xp", "[vdso]")];
}

describe("Process: layout", () => {
  it("lays out a static x86-64 program: five lines from its file at 0x400000, bss, the vdso under the mmap base, the stack, vsyscall", () => {
    const p = spawn();
    const L = p.layout;
    expect(L.base).toBe(TEXT_BASE_64);
    // A page of ELF headers, then text, rodata (empty: a page), relro (empty: a page), data.
    expect(L.startCode).toBe(0x401000);
    expect(L.endCode).toBe(0x401000 + 100);
    expect(L.startData).toBe(0x404000);
    expect(L.endData).toBe(0x404000 + 50);
    // bss ends at 0x404032 + 10000 = 0x406742; start_brk is that rounded up to a page.
    expect(L.startBrk).toBe(0x407000);
    expect(L.stackTop).toBe(0x7ffffffff000);
    expect(L.stackLimit).toBe(0x7ffffffff000 - DEFAULT_STACK_SIZE);
    // Linux's mmap_base: 128 MiB below the stack top; the vdso is its first 32 KiB.
    expect(L.mmapBase).toBe(0x7ffff7fff000);
    expect(L.mmapBase).toBe(p.as.mmapBase);
    expect([L.vvar, L.vdso]).toEqual([0x7ffff7ff7000, 0x7ffff7ffd000]);
    expect(lines(p)).toEqual([
      fileLine(0x400000, 0x401000, "r--p", 0),
      fileLine(0x401000, 0x402000, "r-xp", 0x1000),
      fileLine(0x402000, 0x403000, "r--p", 0x2000),
      fileLine(0x403000, 0x404000, "r--p", 0x3000),
      fileLine(0x404000, 0x405000, "rw-p", 0x4000),
      line(0x405000, 0x407000, "rw-p"),
      line(0x7ffff7ff7000, 0x7ffff7ffb000, "r--p", "[vvar]"),
      line(0x7ffff7ffb000, 0x7ffff7ffd000, "r--p", "[vvar_vclock]"),
      line(0x7ffff7ffd000, 0x7ffff7fff000, "r-xp", "[vdso]"),
      line(0x7ffffffde000, 0x7ffffffff000, "rw-p", "[stack]"),
    ]);
  });

  it("the program's file is an ELF image: the header page starts with an ELF header naming the entry", () => {
    const p = spawn();
    const h = p.as.readBytes(TEXT_BASE_64, 64);
    expect([...h.subarray(0, 7)]).toEqual([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    const dv = new DataView(h.buffer);
    expect(dv.getUint16(16, true)).toBe(2); // ET_EXEC
    expect(dv.getUint16(18, true)).toBe(0x3e); // x86-64
    expect(Number(dv.getBigUint64(24, true))).toBe(p.layout.startCode); // e_entry
    expect(dv.getUint16(56, true)).toBe(5); // four PT_LOAD and PT_GNU_RELRO
    expect(thrown(() => p.as.write8(TEXT_BASE_64, 0))).toBeInstanceOf(ProtectionFault);
    const f = p.as.regionAt(TEXT_BASE_64)!.file!;
    expect(f.name).toBe("/a.out");
    expect(f.writable).toBe(false);
  });

  it("rodata and relro: read-only lines of their own, relro ending where the data starts", () => {
    const rodata = Uint8Array.from({ length: 5000 }, (_, i) => (i * 3) & 0xff);
    const relro = Uint8Array.from({ length: 300 }, (_, i) => 255 - (i & 0xff));
    const p = spawn({ rodata, relro });
    const L = p.layout;
    // rodata: 0x402000, two pages; its last page is partial, so the read-write segment shares
    // that file page (offset 0x3000) though it starts a page further in memory (0x404000).
    expect(p.as.readBytes(0x402000, rodata.length)).toEqual(rodata);
    expect(L.startData).toBe(0x405000 - relro.length);
    expect(p.as.readBytes(L.startData, relro.length)).toEqual(relro);
    expect(p.as.readBytes(0x405000, DATA.length)).toEqual(DATA);
    expect(L.endData).toBe(0x405000 + DATA.length);
    expect(lines(p).slice(0, 5)).toEqual([
      fileLine(0x400000, 0x401000, "r--p", 0),
      fileLine(0x401000, 0x402000, "r-xp", 0x1000),
      fileLine(0x402000, 0x404000, "r--p", 0x2000),
      fileLine(0x404000, 0x405000, "r--p", 0x3000),
      fileLine(0x405000, 0x406000, "rw-p", 0x4000),
    ]);
    expect(thrown(() => p.as.write8(L.startData, 1))).toBeInstanceOf(ProtectionFault);
    expect(thrown(() => p.as.write8(0x402000, 1))).toBeInstanceOf(ProtectionFault);
    p.as.write8(L.endData - 1, 7);
    expect(p.as.read8(L.endData - 1)).toBe(7);
  });

  it("pie: the same image at 0x555555554000 (ELF_ET_DYN_BASE), an ET_DYN header with relative addresses", () => {
    const p = spawn({ pie: true });
    const L = p.layout;
    expect(L.base).toBe(PIE_BASE_64);
    expect(L.startCode).toBe(0x555555555000);
    expect(L.startBrk).toBe(0x555555554000 + 0x7000);
    const ls = lines(p);
    expect(ls.slice(0, 6)).toEqual([
      fileLine(0x555555554000, 0x555555555000, "r--p", 0),
      fileLine(0x555555555000, 0x555555556000, "r-xp", 0x1000),
      fileLine(0x555555556000, 0x555555557000, "r--p", 0x2000),
      fileLine(0x555555557000, 0x555555558000, "r--p", 0x3000),
      fileLine(0x555555558000, 0x555555559000, "rw-p", 0x4000),
      line(0x555555559000, 0x55555555b000, "rw-p"),
    ]);
    const dv = new DataView(p.as.readBytes(L.base, 64).buffer);
    expect(dv.getUint16(16, true)).toBe(3); // ET_DYN
    expect(Number(dv.getBigUint64(24, true))).toBe(0x1000); // e_entry, relative
    expect(p.sbrk(100)).toBe(L.startBrk);
    expect(lines(p)[6]).toBe(line(L.startBrk, L.startBrk + PS, "rw-p", "[heap]"));
    expect(thrown(() => spawn({ pie: 1 as unknown as boolean }))).toBeInstanceOf(ArgumentError);
  });

  it("uses the i386 base and a stack under 4 GiB in a 32-bit space, with no vsyscall page", () => {
    const p = spawn({ addressBits: 32, path: "/bin/prog" });
    expect(p.layout.base).toBe(TEXT_BASE_32);
    expect(p.layout.startCode).toBe(TEXT_BASE_32 + PS);
    // as an i386 program on this kernel has them (test/fixtures/linux/i386.txt)
    expect(p.layout.stackTop).toBe(0xffffe000);
    expect(p.layout.mmapBase).toBe(0xf7ffe000);
    const ls = lines(p);
    expect(ls[0]).toBe(fileLine(0x08048000, 0x08049000, "r--p", 0, "/bin/prog"));
    expect(ls[1]).toBe(fileLine(0x08049000, 0x0804a000, "r-xp", 0x1000, "/bin/prog"));
    expect(ls.slice(-4)).toEqual([...vdsoLines(0xf7ffe000), line(0xffffe000 - 0x21000, 0xffffe000, "rw-p", "[stack]")]);
    expect(p.maps()).not.toContain("[vsyscall]");
    const dv = new DataView(p.as.readBytes(TEXT_BASE_32, 52).buffer);
    expect([dv.getUint8(4), dv.getUint16(18, true), dv.getUint32(24, true)]).toEqual([1, 3, p.layout.startCode]); // ELFCLASS32, i386, e_entry
  });

  it("text is readable and not writable", () => {
    const p = spawn();
    const c = p.layout.startCode;
    expect(p.as.readBytes(c, TEXT.length)).toEqual(TEXT);
    expect(p.as.read8(c + TEXT.length)).toBe(0);
    const e = thrown(() => p.as.write8(c, 1));
    expect(e).toBeInstanceOf(ProtectionFault);
    expect((e as ProtectionFault).address).toBe(c);
    expect((e as ProtectionFault).access).toBe("write");
    expect(p.as.read8(c)).toBe(TEXT[0]);
  });

  it("the program is demand-paged from its file: nothing resident at spawn, a major fault per page first read, then copy-on-write for data", () => {
    const p = spawn();
    expect(p.status().vmRss).toBe(0);
    expect(p.as.read8(p.layout.startCode)).toBe(TEXT[0]);
    expect(p.status().majorFaults).toBe(1);
    expect(p.as.read8(p.layout.startData)).toBe(DATA[0]);
    expect(p.status().majorFaults).toBe(2);
    const minor = p.status().minorFaults;
    p.as.write8(p.layout.startData, 1); // a private copy of the page
    expect(p.status().minorFaults).toBe(minor + 1);
    expect(p.as.regionAt(p.layout.startData)!.file!.bytes[0x4000]).toBe(DATA[0]); // the file is unchanged
    // Dropping the text page (as reclaim would) and reading it again: the file is read again.
    expect(p.as.madvise(p.layout.startCode, PS, 4)).toBe(0);
    expect(p.as.read8(p.layout.startCode + 1)).toBe(TEXT[1]);
    expect(p.status().majorFaults).toBe(3);
  });

  it("data is readable and writable", () => {
    const p = spawn();
    const d = p.layout.startData;
    expect(p.as.readBytes(d, DATA.length)).toEqual(DATA);
    p.as.write32(d, 0xdeadbeef);
    expect(p.as.read32(d)).toBe(0xdeadbeef);
  });

  it("bss reads zero (also its first bytes in data's last page) and is writable", () => {
    const p = spawn();
    const bss = p.as.readBytes(p.layout.endData, BSS);
    expect(bss.every((b) => b === 0)).toBe(true);
    const last = p.layout.endData + BSS - 1;
    p.as.write8(last, 9);
    expect(p.as.read8(last)).toBe(9);
    expect(p.currentBreak).toBe(p.layout.startBrk);
  });

  it("has no [heap] line until the break grows; then it ends at the page-rounded break", () => {
    const p = spawn();
    expect(p.maps()).not.toContain("[heap]");
    const start = p.sbrk(0);
    expect(p.sbrk(5000)).toBe(start);
    const ls = lines(p);
    // Right after bss (the sixth line), before the vdso.
    expect(ls[5]).toBe(line(0x405000, start, "rw-p"));
    expect(ls[6]).toBe(line(up(start), up(start + 5000), "rw-p", "[heap]"));
    expect(ls[7]).toContain("[vvar]");
    p.as.write8(start + 4999, 1);
    expect(p.as.read8(start + 4999)).toBe(1);
  });

  it("maps mmap regions top-down below the vdso, between the heap and the stack", () => {
    const p = spawn();
    p.sbrk(PS);
    const a = p.as.mmap(0, 3 * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(a + 3 * PS).toBe(p.layout.vvar);
    const b = p.as.mmap(0, 5 * PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(b + 5 * PS).toBe(a);
    const ls = lines(p);
    expect(ls.slice(6)).toEqual([
      line(p.layout.startBrk, p.layout.startBrk + PS, "rw-p", "[heap]"),
      line(b, a, "r--p"),
      line(a, a + 3 * PS, "rw-p"),
      ...vdsoLines(p.layout.mmapBase),
      line(0x7ffffffde000, 0x7ffffffff000, "rw-p", "[stack]"),
    ]);
  });

  it("lays out images with no text, no data or no bss: still five lines, a page each", () => {
    const memory = new PhysicalMemory({ frames: 64, shared: false });
    const empty = Process.spawn({ memory });
    expect(empty.layout.startCode).toBe(0x401000);
    expect(empty.layout.endCode).toBe(0x401000);
    expect(empty.layout.startData).toBe(0x404000);
    expect(empty.layout.endData).toBe(0x404000);
    expect(empty.sbrk(0)).toBe(0x405000); // the data line's end
    expect(lines(empty)).toEqual([
      fileLine(0x400000, 0x401000, "r--p", 0),
      fileLine(0x401000, 0x402000, "r-xp", 0x1000),
      fileLine(0x402000, 0x403000, "r--p", 0x2000),
      fileLine(0x403000, 0x404000, "r--p", 0x3000),
      fileLine(0x404000, 0x405000, "rw-p", 0x4000),
      ...vdsoLines(0x7ffff7fff000),
      line(0x7ffffffde000, 0x7ffffffff000, "rw-p", "[stack]"),
    ]);
    expect(empty.as.read8(0x404000)).toBe(0);
    const dataOnly = Process.spawn({ memory, data: DATA });
    expect(dataOnly.layout.startData).toBe(0x404000);
    expect(dataOnly.layout.endData).toBe(0x404000 + DATA.length);
    expect(dataOnly.sbrk(0)).toBe(0x405000); // the end of data, rounded up to a page
    dataOnly.sbrk(PS);
    expect(lines(dataOnly)[5]).toBe(line(0x405000, 0x406000, "rw-p", "[heap]"));
  });

  it("sets its malloc heap up on first use, at the break rounded up to 16, as glibc's first malloc", () => {
    const proc = spawn();
    const start = proc.layout.startBrk;
    expect(proc.sbrk(0)).toBe(start); // spawning does not touch the break
    // start_brk is page-aligned: the program's own sbrk leaves the break unaligned.
    expect(proc.sbrk(5)).toBe(start);
    const heap = proc.heap;
    expect(heap).toBeInstanceOf(Heap);
    expect(heap.memory).toBe(proc.as);
    expect(proc.heap).toBe(heap);
    expect(heap.base).toBe(start + 16);
    expect(proc.sbrk(0)).toBe(heap.base + heap.mallocFootprint());
  });

  it("rejects bad options", () => {
    const memory = new PhysicalMemory({ frames: 8, shared: false });
    expect(thrown(() => Process.spawn({ memory, bssSize: -1 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => Process.spawn({ memory, stackSize: 0 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => Process.spawn({ memory, stackSize: 2 ** 47 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => Process.spawn({ memory, dataLimit: 1.5 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => Process.spawn({ memory, data: DATA, dataLimit: 10 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => Process.spawn({ memory, text: [1, 2] as unknown as Uint8Array }))).toBeInstanceOf(ArgumentError);
  });

  it("gives pids in order", () => {
    const a = spawn();
    const b = spawn();
    expect(b.pid).toBe(a.pid + 1);
    expect(a.ppid).toBe(0);
  });
});

describe("Process.spawn with little RAM", () => {
  it("spawning takes no frame, however big the image: its pages are read from the file when touched", () => {
    const memory = new PhysicalMemory({ frames: 4 });
    const image = new Uint8Array(6 * memory.pageSize).fill(0x5a); // six pages of text, four frames
    const free = memory.freeFrames;
    const proc = Process.spawn({ memory, text: image });
    expect(memory.freeFrames).toBe(free);
    // Touching more than fits: without swap the file pages are dropped and read again.
    for (let i = 0; i < 6; i++) expect(proc.as.read8(proc.layout.startCode + i * PS)).toBe(0x5a);
    expect(proc.status().majorFaults).toBe(6);
    expect(proc.status().vmRss).toBeLessThanOrEqual(4 * PS);
    proc.exit();
    expect(memory.freeFrames).toBe(free);
    memory.check();
  });

  it("out of RAM only when pages that cannot be dropped need frames: the heap's, without swap", () => {
    const memory = new PhysicalMemory({ frames: 4 });
    const proc = Process.spawn({ memory, text: new Uint8Array(2 * PS).fill(7), data: new Uint8Array([1, 2, 3]) });
    expect(proc.as.read8(proc.layout.startCode)).toBe(7);
    expect(proc.as.read8(proc.layout.startData + 2)).toBe(3);
    const p = proc.heap.malloc(100);
    expect(p).not.toBe(0);
    proc.as.write8(p, 9);
    expect(proc.as.read8(p)).toBe(9);
    const start = proc.sbrk(0);
    expect(proc.sbrk(8 * PS)).toBe(start);
    expect(thrown(() => proc.as.writeBytes(start, new Uint8Array(8 * PS).fill(1)))).toBeInstanceOf(OutOfMemoryError);
    proc.exit();
    expect(memory.freeFrames).toBe(memory.frames);
  });
});

describe("Process: start_brk is the end of bss rounded up to a page (Linux set_brk)", () => {
  // [text, data, bss, the mapping holding bss's last byte, where bss ends, start_brk]
  const cases: Array<[string, number, number, string, number, number]> = [
    // data ends at 0x404032; bss spills over into pages of its own, ending at 0x406742.
    ["bss past data's page", DATA.length, BSS, "", 0x406742, 0x407000],
    // bss fits in the rest of data's last page, ending at 0x404032 + 9 = 0x40403b.
    ["bss within data's last page", DATA.length, 9, "/a.out", 0x40403b, 0x405000],
    // No bss: data's end is rounded up.
    ["no bss", DATA.length, 0, "/a.out", 0x404032, 0x405000],
    // bss ends exactly on a page boundary: start_brk stays there.
    ["bss ending on a page boundary", DATA.length, 2 * PS - DATA.length, "", 0x406000, 0x406000],
  ];

  it.each(cases)("%s: sbrk(0) right after spawn is start_brk, page-aligned", (_label, dataLength, bssSize, _name, endBss, startBrk) => {
    const p = spawn({ data: DATA.subarray(0, dataLength), bssSize });
    expect(p.layout.endData + bssSize).toBe(endBss);
    expect(p.layout.startBrk).toBe(startBrk);
    expect(startBrk % PS).toBe(0);
    expect(p.sbrk(0)).toBe(startBrk);
    expect(p.currentBreak).toBe(startBrk);
    expect(p.maps()).not.toContain("[heap]");
  });

  it.each(cases)("%s: the bytes from the end of bss to start_brk read zero, in the bss or data mapping", (_label, dataLength, bssSize, name, endBss, startBrk) => {
    const p = spawn({ data: DATA.subarray(0, dataLength), bssSize });
    const bssRegion = p.as.regionAt(endBss - 1);
    expect(bssRegion?.end).toBe(startBrk);
    expect(bssRegion?.displayName() ?? "").toBe(name);
    expect(p.as.readBytes(endBss, startBrk - endBss).every((b) => b === 0)).toBe(true);
    for (let a = endBss; a < startBrk; a += 97) expect(p.as.regionAt(a)?.start).toBe(bssRegion?.start);
    if (startBrk > endBss) {
      p.as.write8(startBrk - 1, 0x5a);
      expect(p.as.read8(startBrk - 1)).toBe(0x5a);
    }
    // Nothing is mapped at start_brk until the break grows.
    expect(p.as.regionAt(startBrk)).toBeNull();
    expect(thrown(() => p.as.read8(startBrk))).toBeInstanceOf(SegmentationFault);
  });

  it.each(cases)("%s: sbrk(100) gives a [heap] line from start_brk to the page-rounded break, right after bss", (_label, dataLength, bssSize, name, endBss, startBrk) => {
    const p = spawn({ data: DATA.subarray(0, dataLength), bssSize });
    expect(p.sbrk(100)).toBe(startBrk);
    expect(p.sbrk(0)).toBe(startBrk + 100);
    const ls = lines(p);
    const heapAt = ls.findIndex((l) => l.endsWith("[heap]"));
    expect(ls[heapAt]).toBe(line(startBrk, startBrk + PS, "rw-p", "[heap]"));
    // The line before it is the mapping holding bss's last byte, ending where [heap] starts.
    const bssRegion = p.as.regionAt(endBss - 1)!;
    expect(ls[heapAt - 1]).toBe(name === "" ? line(bssRegion.start, startBrk, "rw-p") : fileLine(bssRegion.start, startBrk, "rw-p", 0x4000));
    expect(ls[heapAt + 1]).toContain("[vvar]");
    p.as.write8(startBrk + 99, 7);
    expect(p.as.read8(startBrk + 99)).toBe(7);
    expect(thrown(() => p.as.read8(startBrk + PS))).toBeInstanceOf(SegmentationFault);
    // Back to start_brk: the [heap] line goes, bss stays.
    expect(p.brk(startBrk)).toBe(0);
    expect(p.maps()).not.toContain("[heap]");
    expect(p.as.regionAt(endBss - 1)?.end).toBe(startBrk);
  });
});

describe("Process: brk and sbrk", () => {
  it("is byte-exact over 33 LTP-style steps of +(2·page−1), 0, −(2·page−1)", () => {
    const p = spawn();
    const start = p.sbrk(0);
    const step = 2 * PS - 1;
    let want = start;
    for (let i = 0; i < 33; i++) {
      const before = p.sbrk(0);
      const inc = i % 3 === 0 ? step : i % 3 === 1 ? 0 : -step;
      want = before + inc;
      expect(p.brk(want)).toBe(0);
      expect(p.sbrk(0)).toBe(want);
      expect(p.currentBreak).toBe(want);
      // The mapped heap always ends at the page-rounded break.
      const heap = p.as.regionAt(up(start));
      if (up(want) > up(start)) expect(heap?.end).toBe(up(want));
      else expect(heap).toBeNull();
    }
    expect(want).toBe(start);
    // The same steps with sbrk: it returns the previous break.
    for (let i = 0; i < 33; i++) {
      const inc = i % 3 === 0 ? step : i % 3 === 1 ? 0 : -step;
      const before = p.sbrk(0);
      expect(p.sbrk(inc)).toBe(before);
      expect(p.sbrk(0)).toBe(before + inc);
    }
    p.as.check();
  });

  it("growing until failure gives -1 with ENOMEM and leaves the break unchanged", () => {
    const limit = 64 * 1024;
    const p = spawn({ dataLimit: limit });
    const start = p.sbrk(0);
    expect(p.layout.brkLimit).toBe(start + limit - DATA.length);
    let last = start;
    let n = 0;
    for (;;) {
      const r = p.sbrk(3000);
      if (r === -1) break;
      expect(r).toBe(last);
      last = r + 3000;
      n++;
    }
    expect(n).toBe(Math.floor((limit - DATA.length) / 3000));
    expect(p.errno).toBe(Errno.ENOMEM);
    expect(p.sbrk(0)).toBe(last);
    // Exactly up to the limit works; one byte more does not.
    expect(p.brk(p.layout.brkLimit)).toBe(0);
    expect(p.brk(p.layout.brkLimit + 1)).toBe(-1);
    expect(p.sbrk(0)).toBe(p.layout.brkLimit);
  });

  it("cannot grow into the mmap area without a data limit", () => {
    const p = spawn();
    p.errno = 0;
    expect(p.brk(p.layout.mmapBase + 1)).toBe(-1);
    expect(p.errno).toBe(Errno.ENOMEM);
    expect(p.sbrk(0)).toBe(p.layout.startBrk);
  });

  it("brk below the heap start fails with ENOMEM", () => {
    const p = spawn();
    p.sbrk(100);
    expect(p.brk(p.layout.startBrk - 1)).toBe(-1);
    expect(p.errno).toBe(Errno.ENOMEM);
    expect(p.sbrk(0)).toBe(p.layout.startBrk + 100);
    expect(p.sbrk(-101)).toBe(-1);
    expect(p.sbrk(0)).toBe(p.layout.startBrk + 100);
    expect(p.brk(p.layout.startBrk)).toBe(0);
  });

  it("brk into an existing mapping fails with ENOMEM and leaves both alone", () => {
    const p = spawn();
    const start = p.sbrk(0);
    p.sbrk(PS + 100);
    const top = up(start + PS + 100);
    expect(top).toBeGreaterThan(up(start));
    const m = p.as.mmap(top, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    expect(m).toBe(top);
    p.as.write8(top, 0x5a);
    expect(p.brk(top + 1)).toBe(-1);
    expect(p.errno).toBe(Errno.ENOMEM);
    expect(p.sbrk(0)).toBe(start + PS + 100);
    expect(p.sbrk(PS)).toBe(-1);
    expect(p.as.read8(top)).toBe(0x5a);
    expect(p.as.regionAt(top)?.name).toBeNull();
    // Up to the mapping's start is still free.
    expect(p.brk(top)).toBe(0);
    expect(p.brk(top + 1)).toBe(-1);
    expect(p.maps()).toContain(line(up(start), top, "rw-p", "[heap]"));
  });

  it("shrinking unmaps whole pages above the new break; growing again gives zeros", () => {
    const p = spawn();
    const start = p.sbrk(0);
    p.sbrk(4 * PS);
    const end = start + 4 * PS;
    p.as.writeBytes(start, new Uint8Array(4 * PS).fill(0xee));
    const rss = p.status().vmRss;
    const nb = start + PS + 10;
    expect(p.brk(nb)).toBe(0);
    expect(p.as.read8(nb)).toBe(0xee); // same page as the break: still mapped
    const e = thrown(() => p.as.read8(up(nb)));
    expect(e).toBeInstanceOf(SegmentationFault);
    expect((e as SegmentationFault).address).toBe(up(nb));
    expect(thrown(() => p.as.read8(end - 1))).toBeInstanceOf(SegmentationFault);
    expect(p.status().vmRss).toBeLessThan(rss);
    expect(p.brk(end)).toBe(0);
    const again = p.as.readBytes(up(nb), end - up(nb));
    expect(again.every((b) => b === 0)).toBe(true);
    p.as.check();
  });
});

describe("Process: the stack", () => {
  it("grows down on demand to its limit, and no further", () => {
    const stackSize = 256 * 1024;
    const p = spawn({ stackSize });
    const top = p.layout.stackTop;
    const initial = top - 0x21000;
    expect(p.as.regionAt(top - 1)?.start).toBe(initial);
    p.as.write32(top - 4, 0x12345678);
    expect(p.as.read32(top - 4)).toBe(0x12345678);
    const rss = p.status().vmRss;
    for (let i = 1; i <= 3; i++) p.as.write8(initial - i * PS, i);
    expect(p.status().vmRss).toBe(rss + 3 * PS);
    expect(p.as.read8(initial - 2 * PS)).toBe(2);
    expect(lines(p).at(-1)).toBe(line(initial - 3 * PS, top, "rw-p", "[stack]"));
    // Down to the limit exactly.
    p.as.write8(p.layout.stackLimit, 7);
    expect(p.as.read8(p.layout.stackLimit)).toBe(7);
    expect(lines(p).at(-1)).toBe(line(top - stackSize, top, "rw-p", "[stack]"));
    const e = thrown(() => p.as.write8(p.layout.stackLimit - 1, 1));
    expect(e).toBeInstanceOf(SegmentationFault);
    expect((e as SegmentationFault).address).toBe(p.layout.stackLimit - 1);
    expect(thrown(() => p.as.read8(top))).toBeInstanceOf(SegmentationFault);
  });

  it("a touch beyond the limit far below faults without growing", () => {
    const p = spawn({ stackSize: 64 * 1024 });
    expect(p.as.regionAt(p.layout.stackTop - 1)?.start).toBe(p.layout.stackLimit);
    expect(thrown(() => p.as.read8(p.layout.stackLimit - 10 * PS))).toBeInstanceOf(SegmentationFault);
    expect(lines(p).at(-1)).toBe(line(p.layout.stackLimit, p.layout.stackTop, "rw-p", "[stack]"));
  });
});

describe("Process: fork", () => {
  it("the child sees the parent's memory; writes are copy-on-write", () => {
    const parent = spawn();
    const heap = parent.sbrk(PS);
    parent.as.write32(heap, 0xcafe);
    const child = parent.fork();
    expect(child.pid).toBeGreaterThan(parent.pid);
    expect(child.ppid).toBe(parent.pid);
    expect(child.as).not.toBe(parent.as);
    expect(child.maps()).toBe(parent.maps());
    const d = parent.layout.startData;
    expect(child.as.readBytes(d, DATA.length)).toEqual(DATA);
    expect(child.as.readBytes(parent.layout.startCode, TEXT.length)).toEqual(TEXT);
    expect(child.as.read32(heap)).toBe(0xcafe);
    child.as.write8(d, 1);
    child.as.write32(heap, 0xbeef);
    expect(parent.as.read8(d)).toBe(DATA[0]);
    expect(parent.as.read32(heap)).toBe(0xcafe);
    parent.as.write8(d + 1, 2);
    expect(child.as.read8(d + 1)).toBe(DATA[1]);
    expect(child.status().minorFaults).toBeGreaterThan(0);
    expect(thrown(() => child.as.write8(parent.layout.startCode, 0))).toBeInstanceOf(ProtectionFault);
    parent.as.check();
    child.as.check();
  });

  it("parent and child have the same break and then move their own", () => {
    const parent = spawn();
    const b = parent.sbrk(1234) + 1234;
    const child = parent.fork();
    expect(child.sbrk(0)).toBe(b);
    expect(child.sbrk(3 * PS)).toBe(b);
    expect(child.sbrk(0)).toBe(b + 3 * PS);
    expect(parent.sbrk(0)).toBe(b);
    child.as.write8(b + 2 * PS, 1);
    expect(thrown(() => parent.as.read8(up(b)))).toBeInstanceOf(SegmentationFault);
    expect(parent.brk(parent.layout.startBrk)).toBe(0);
    expect(child.sbrk(0)).toBe(b + 3 * PS);
    expect(child.as.read8(b + 2 * PS)).toBe(1);
    expect(child.brk(child.layout.startBrk - 1)).toBe(-1);
    expect(child.errno).toBe(Errno.ENOMEM);
    expect(parent.errno).toBe(0);
  });

  it("the child's stack grows down on demand too", () => {
    const parent = spawn({ stackSize: 256 * 1024 });
    const child = parent.fork();
    const below = parent.layout.stackTop - 0x21000 - PS;
    child.as.write8(below, 3);
    expect(child.as.read8(below)).toBe(3);
    expect(thrown(() => child.as.read8(parent.layout.stackLimit - 1))).toBeInstanceOf(SegmentationFault);
    expect(lines(parent).at(-1)).toBe(line(parent.layout.stackTop - 0x21000, parent.layout.stackTop, "rw-p", "[stack]"));
  });
});

describe("Process: page sizes from 16 bytes to 8 MiB (64 KiB in a 32-bit space)", () => {
  const sizes: Array<[32 | 48, number]> = [
    ...[16, 256, 4096, 1 << 16, 1 << 20, 1 << 22, 1 << 23].map((ps): [48, number] => [48, ps]),
    ...[16, 256, 4096, 1 << 15, 1 << 16].map((ps): [32, number] => [32, ps]),
  ];

  /** The maps lines as [start, end, perms, name]. */
  function parsed(p: Process): Array<[number, number, string, string]> {
    return lines(p).map((l) => {
      const [range, perms] = l.split(" ");
      const [a, b] = range!.split("-").map((x) => parseInt(x, 16));
      return [a!, b!, perms!, l.length > 73 ? l.slice(73) : ""];
    });
  }

  it.each(sizes)("%i-bit, %i-byte pages: text, data, bss, heap, mmap and stack are laid out in order and work", (addressBits, ps) => {
    const memory = new PhysicalMemory({ frames: ps >= 1 << 16 ? 12 : 256, pageSize: ps, shared: false });
    const bssSize = ps + 100; // bss spills past data's last page into one of its own
    const p = Process.spawn({ memory, addressBits, text: TEXT, data: DATA, bssSize, stackSize: 4 * ps });
    const L = p.layout;
    // The conventional base, rounded up to the page size; a page (or more) of ELF headers,
    // then text, then rodata and relro (a page each: empty), then data.
    const base = addressBits === 32 ? TEXT_BASE_32 : TEXT_BASE_64;
    expect(L.base).toBe(up(base, ps));
    if (ps <= (addressBits === 32 ? 1 << 15 : 1 << 22)) expect(L.base).toBe(base);
    const headers = Math.max(ps, up(addressBits === 32 ? 52 + 5 * 32 : 64 + 5 * 56, ps));
    expect(L.startCode).toBe(L.base + headers);
    expect(L.startData).toBe(up(L.startCode + TEXT.length, ps) + 2 * ps);
    expect(L.startBrk).toBe(up(L.endData + bssSize, ps));
    expect(L.stackTop).toBe(addressBits === 32 ? Math.floor(0xffffe000 / ps) * ps : 2 ** 47 - ps);
    for (const a of [L.base, L.startCode, L.startData, L.startBrk, L.mmapBase, L.vvar, L.vdso, L.stackTop, L.stackLimit]) expect(a % ps).toBe(0);

    // text: readable, not writable.
    expect(p.as.readBytes(L.startCode, TEXT.length)).toEqual(TEXT);
    expect(thrown(() => p.as.write8(L.startCode, 1))).toBeInstanceOf(ProtectionFault);
    // data, and bss: zero, then writable to its last byte.
    expect(p.as.readBytes(L.startData, DATA.length)).toEqual(DATA);
    p.as.write32(L.startData + 8, 0xdeadbeef);
    expect(p.as.read32(L.startData + 8)).toBe(0xdeadbeef);
    const endBss = L.endData + bssSize;
    expect(p.as.read8(L.endData)).toBe(0);
    expect(p.as.read8(endBss - 1)).toBe(0);
    p.as.write8(L.endData, 0x11);
    p.as.write8(endBss - 1, 0x22);
    expect(p.as.read8(L.endData)).toBe(0x11);
    expect(p.as.read8(endBss - 1)).toBe(0x22);
    // heap: sbrk from start_brk, byte-exact; both ends written.
    expect(p.sbrk(ps + 100)).toBe(L.startBrk);
    expect(p.sbrk(0)).toBe(L.startBrk + ps + 100);
    p.as.write8(L.startBrk, 0x33);
    p.as.write8(L.startBrk + ps + 99, 0x44);
    expect(p.as.read8(L.startBrk)).toBe(0x33);
    expect(p.as.read8(L.startBrk + ps + 99)).toBe(0x44);
    // mmap: top-down below the vdso, the first mapping under the mmap base.
    const vdsoBytes = up(VDSO_LAYOUT.vvar, ps) + up(VDSO_LAYOUT.vvarVclock, ps) + up(VDSO_LAYOUT.vdso, ps);
    expect(L.vvar).toBe(L.mmapBase - vdsoBytes);
    const m = p.as.mmap(0, 2 * ps, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(m).toBe(L.vvar - 2 * ps);
    p.as.write32(m + ps, 0x5566);
    expect(p.as.read32(m + ps)).toBe(0x5566);
    // stack: its top page, and down on demand to its limit.
    p.as.write32(L.stackTop - 4, 0x7788);
    expect(p.as.read32(L.stackTop - 4)).toBe(0x7788);
    p.as.write8(L.stackLimit, 0x99);
    expect(p.as.read8(L.stackLimit)).toBe(0x99);
    expect(thrown(() => p.as.write8(L.stackLimit - 1, 1))).toBeInstanceOf(SegmentationFault);

    const ls = parsed(p);
    const at = (pred: (l: [number, number, string, string]) => boolean): [number, number, string, string] => {
      const found = ls.filter(pred);
      expect(found).toHaveLength(1);
      return found[0]!;
    };
    const headerLine = at((l) => l[0] === L.base);
    const text = at((l) => l[2] === "r-xp" && l[3] === "/a.out");
    const rodata = at((l) => l[0] === text[1]);
    const relro = at((l) => l[0] === rodata[1]);
    const data = at((l) => l[2] === "rw-p" && l[3] === "/a.out");
    const bss = at((l) => l[3] === "" && l[1] <= L.startBrk);
    const heap = at((l) => l[3] === "[heap]");
    const mmap = at((l) => l[3] === "" && l[0] >= L.startBrk);
    const vvar = at((l) => l[3] === "[vvar]");
    const vclock = at((l) => l[3] === "[vvar_vclock]");
    const vdso = at((l) => l[3] === "[vdso]");
    const stack = at((l) => l[3] === "[stack]");
    expect(ls).toEqual([headerLine, text, rodata, relro, data, bss, heap, mmap, vvar, vclock, vdso, stack]);
    expect(headerLine.slice(0, 3)).toEqual([L.base, L.startCode, "r--p"]);
    expect(text.slice(0, 2)).toEqual([L.startCode, up(L.endCode, ps)]);
    expect(rodata.slice(0, 4)).toEqual([up(L.endCode, ps), up(L.endCode, ps) + ps, "r--p", "/a.out"]);
    expect(relro.slice(0, 4)).toEqual([up(L.endCode, ps) + ps, L.startData, "r--p", "/a.out"]);
    expect(data.slice(0, 2)).toEqual([L.startData, up(L.endData, ps)]);
    expect(bss.slice(0, 2)).toEqual([up(L.endData, ps), L.startBrk]);
    expect(heap.slice(0, 2)).toEqual([L.startBrk, up(L.startBrk + ps + 100, ps)]);
    expect(mmap.slice(0, 2)).toEqual([m, L.vvar]);
    expect([vvar[0], vdso[1], vdso[2]]).toEqual([L.vvar, L.mmapBase, "r-xp"]);
    expect(vclock[1]).toBe(L.vdso);
    expect(stack.slice(0, 2)).toEqual([L.stackLimit, L.stackTop]);
    for (let i = 1; i < ls.length; i++) expect(ls[i - 1]![1]).toBeLessThanOrEqual(ls[i]![0]);
    p.as.check();
    p.exit();
  });
});

describe("Process: passthroughs", () => {
  it("status() is the address space's, and heap pages swap out and back", () => {
    const swap = new SwapSpace({ slots: 64 });
    const p = spawn({ swap, maxResidentPages: 8, replacement: "fifo" });
    expect(p.status()).toEqual(p.as.status());
    const start = p.sbrk(16 * PS);
    for (let i = 0; i < 16; i++) p.as.write8(start + i * PS, i + 1);
    for (let i = 0; i < 16; i++) expect(p.as.read8(start + i * PS)).toBe(i + 1);
    const s = p.status();
    expect(s.swapOuts).toBeGreaterThan(0);
    expect(s.vmRss).toBeLessThanOrEqual(8 * PS);
    p.as.check();
  });

  it("exit() releases every frame", () => {
    const memory = new PhysicalMemory({ frames: 64, shared: false });
    const free = memory.freeFrames;
    const p = Process.spawn({ memory, text: TEXT, data: DATA, bssSize: BSS });
    p.sbrk(PS);
    p.as.write8(p.layout.startBrk, 1);
    expect(memory.freeFrames).toBeLessThan(free);
    p.exit();
    expect(memory.freeFrames).toBe(free);
  });

  it("works with small pages", () => {
    const p = spawn({ pageSize: 256, frames: 256, stackSize: 4096 });
    // Five segments of 256-byte pages: the headers (288 bytes) take two.
    expect(p.layout.startCode).toBe(TEXT_BASE_64 + 2 * 256);
    expect(p.layout.startData).toBe(p.layout.startCode + up(TEXT.length, 256) + 2 * 256);
    const start = p.sbrk(0);
    expect(p.sbrk(300)).toBe(start);
    expect(p.maps()).toContain(line(up(start, 256), up(start + 300, 256), "rw-p", "[heap]"));
    p.as.write8(p.layout.stackLimit, 1);
    expect(thrown(() => p.as.write8(p.layout.stackLimit - 1, 1))).toBeInstanceOf(SegmentationFault);
  });
});
