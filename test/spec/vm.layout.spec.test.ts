// spec/vm.md, "brk and the process layout", at the top of user space: where Linux ends it for
// an x86-64 process (scripts/linux/task-top.c, test/fixtures/linux/task-top.txt) and for an
// i386 one on this 64-bit kernel (scripts/linux/i386.c, test/fixtures/linux/i386.txt).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PhysicalMemory, Process, PROT_READ, PROT_WRITE } from "../../src/index.js";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const fixture = (name: string) => readFileSync(new URL(`../fixtures/linux/${name}`, import.meta.url), "utf8");

describe("x86-64: user space ends at 0x7ffffffff000, where '[stack] end[s]'", () => {
  const real = new Map(fixture("task-top.txt").trim().split("\n").map((l) => [l.split(" ")[0]!, l]));
  const p = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }) });
  const as = p.as;
  const TOP = 0x7ffffffff000;
  const model = new Map<string, string>();
  const line = (label: string, r: number) => {
    model.set(label, `${label} ${r === -1 ? "ffffffffffffffff" : r.toString(16)} ${r === -1 ? as.errno : 0}`);
    as.errno = 0;
  };
  line("fixed-top-page", as.mmap(TOP, P, RW, ANON | MAP_FIXED));
  line("noreplace-top-page", as.mmap(TOP, P, RW, ANON | MAP_FIXED_NOREPLACE));
  line("hint-top-page", as.mmap(TOP, P, RW, ANON) !== -1 ? 0 : -1);
  line("munmap-top-page", as.munmap(TOP, P));
  line("mprotect-top-page", as.mprotect(TOP, P, PROT_READ));
  line("munmap-stack-top-page-and-beyond", as.munmap(TOP - P, 2 * P));

  it("the recording and the model have the same cases", () => expect([...model.keys()]).toEqual([...real.keys()]));
  for (const [label, want] of real) it(want, () => expect(model.get(label)).toBe(want));
  it("the stack's top page is still there", () => {
    as.write8(TOP - 1, 5);
    expect(as.read8(TOP - 1)).toBe(5);
  });
});

describe("i386 on a 64-bit kernel (addressBits: 32): the stack ends at 0xffffe000, the vdso 128 MiB below", () => {
  const text = fixture("i386.txt");
  const section = (title: string) => text.split(`== ${title}\n`)[1]!.split("\n== ")[0]!.trim().split("\n");
  const atStart = section("maps at start");
  const top = new Map(section("top").map((l) => [l.split(" ")[0]!, l]));
  // The recorded program has no data and 64 KiB of bss; compare the lines above the program.
  const upper = (lines: string[]) => lines.filter((l) => parseInt(l.split("-")[0]!, 16) >= 0xf0000000);
  const p = Process.spawn({ memory: new PhysicalMemory({ frames: 256 }), addressBits: 32, bssSize: 0x10000 });
  const as = p.as;

  it("[vvar], [vvar_vclock], [vdso] and [stack] where Linux puts them", () => {
    expect(upper(p.maps().trim().split("\n"))).toEqual(upper(atStart));
    expect(p.layout.stackTop).toBe(0xffffe000);
  });

  it("the first mmap goes just below the vdso", () => {
    const mmapped = section("maps after mmap and brk");
    const r = as.mmap(0, P, RW, ANON);
    expect(`mmap-null ${r.toString(16)}`).toBe(text.match(/^mmap-null .*$/m)![0]);
    expect(upper(p.maps().trim().split("\n"))).toEqual(upper(mmapped));
  });

  it("nothing can be mapped or unmapped at or above 0xffffe000", () => {
    const show = (label: string, r: number) => `${label} ${r === -1 ? `-1 errno ${as.errno}` : r.toString(16)}`;
    expect(show("fixed-top-page", as.mmap(0xffffe000, P, RW, ANON | MAP_FIXED))).toBe(top.get("fixed-top-page"));
    expect(show("fixed-last-page", as.mmap(0xfffff000, P, RW, ANON | MAP_FIXED))).toBe(top.get("fixed-last-page"));
    expect(show("munmap-top-page", as.munmap(0xffffe000, P))).toBe(top.get("munmap-top-page"));
    expect(show("hint-top-page", as.mmap(0xffffe000, P, RW, ANON))).toBe(top.get("hint-top-page"));
  });
});
