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

  it("has its seven sections in order and ends pointing at the README", () => {
    const titles = lines.filter((l) => /^\d\. /.test(l)).map((l) => l[0]);
    expect(titles).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
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

  it("prints the same story every time", () => {
    expect(run()).toEqual(lines);
  });
});
