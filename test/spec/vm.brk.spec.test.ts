// spec/vm.md, "brk and the process layout", the break: the model against this machine's Linux
// (scripts/linux/brk.c, which printed test/fixtures/linux/brk.txt). Each line is a step, its
// result and errno, then the break and the end of the [heap] line relative to the break at
// main (b0). A fresh static program's C runtime has moved the break already; the model's
// process starts at its start_brk, so offsets from b0 are what compare.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Errno, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PhysicalMemory, Process, PROT_READ, PROT_WRITE } from "../../src/index.js";

const P = 4096;
const real = new Map(
  readFileSync(new URL("../fixtures/linux/brk.txt", import.meta.url), "utf8").trim().split("\n").map((l) => [l.split(" ")[0]!, l]),
);

// The static program's sizes (its data and bss), so the heap starts as it does there.
const p = Process.spawn({ memory: new PhysicalMemory({ frames: 512 }), text: new Uint8Array(0x78000), data: new Uint8Array(0x5b98), bssSize: 0x2e000 });
const b0 = p.sbrk(0);
const hex = (n: number) => n.toString(16);
const heapEnd = () => {
  const l = p.maps().split("\n").find((x) => x.endsWith("[heap]"));
  return l === undefined ? "-1" : hex(parseInt(l.split("-")[1]!, 16) - b0);
};
const model = new Map<string, string>();
const line = (label: string, r: number) =>
  model.set(label, `${label} ${r} errno ${r === -1 ? p.errno : 0} brk ${hex(p.sbrk(0) - b0)} heap-end ${heapEnd()}`);

// The steps of brk.c up to its RLIMIT_DATA part, in its order.
line("sbrk-5000-returns-old", p.sbrk(5000) - b0);
p.as.write8(b0 + 4999, 0x77);
p.as.write8(b0 + 10, 0x55);
p.as.write8(b0 + 120, 0x44);
p.as.write8(b0 + P + 100, 0x66);
line("brk-below-start", p.brk(b0 - 1));
line("brk-shrink-to-20", p.brk(b0 + 20));
model.set("kept-below-break", `kept-below-break ${hex(p.as.read8(b0 + 10))} kept-above-break-same-page ${hex(p.as.read8(b0 + 120))}`);
line("brk-grow-to-5000", p.brk(b0 + 5000));
model.set("regrown-page", `regrown-page ${hex(p.as.read8(b0 + 4999))} ${hex(p.as.read8(b0 + P + 100))}`);
line("sbrk-negative-below-start", p.sbrk(-5000 - 1) === -1 ? -1 : 0);
const next = Math.ceil((b0 + 5000) / P) * P + 16 * P;
model.set("next-mapping", `next-mapping ${hex(p.as.mmap(next, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) - b0)}`);
line("brk-to-next-minus-page-plus-1", p.brk(next - P + 1));
line("brk-to-next-minus-page", p.brk(next - P));
line("brk-into-next", p.brk(next + 8));
line("sbrk-past-next", p.sbrk(32 * P) === -1 ? -1 : 0);

const same = (label: string) => expect(model.get(label), label).toBe(real.get(label));

describe("the break, as Linux moves it", () => {
  it("'the break is byte-exact', sbrk returns the previous break, and the [heap] line ends at the page-rounded break", () => {
    expect(real.get("sbrk-5000-returns-old")).toBe("sbrk-5000-returns-old 0 errno 0 brk 1388 heap-end 2000");
    same("sbrk-5000-returns-old");
  });

  it("'shrinking unmaps whole pages above the new page-rounded break': the page holding the break keeps all its bytes", () => {
    same("brk-shrink-to-20");
    expect(real.get("kept-below-break")).toBe("kept-below-break 55 kept-above-break-same-page 44");
    same("kept-below-break");
  });

  it("'growing again gives zero-filled pages'", () => {
    same("brk-grow-to-5000");
    expect(real.get("regrown-page")).toBe("regrown-page 0 0");
    same("regrown-page");
  });

  it("'brk ... into the next mapping fails (−1, ENOMEM) and leaves the break unchanged': it may come no closer than a page", () => {
    for (const label of ["next-mapping", "brk-to-next-minus-page-plus-1", "brk-to-next-minus-page", "brk-into-next", "sbrk-past-next"]) same(label);
    expect(real.get("brk-to-next-minus-page-plus-1")).toMatch(/ -1 errno 12 /);
  });

  it("'brk below the heap start ... fails (−1, ENOMEM) and leaves the break unchanged' (Linux leaves it; glibc's wrapper then returns 0, the spec asks for −1)", () => {
    for (const label of ["brk-below-start", "sbrk-negative-below-start"]) {
      const tail = (s: string | undefined) => s?.replace(/^\S+ -?\d+ errno \d+ /, "");
      expect(tail(model.get(label)), label).toBe(tail(real.get(label)));
      expect(model.get(label), label).toMatch(new RegExp(`^${label} -1 errno ${Errno.ENOMEM} `));
    }
  });
});
