/**
 * The model against the real kernel: scripts/linux/mremap.c ran under `setarch -R` on this
 * machine's Linux (test/fixtures/linux/mremap.txt, recorded by scripts/linux/record.sh). The
 * same cases run here on an AddressSpace must print the same lines.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  MADV_DONTNEED,
  MADV_FREE,
  MAP_ANONYMOUS,
  MAP_FAILED,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/constants.js";
import { errnoName } from "../../src/errno.js";
import { space } from "./helpers/asKit.js";

const PS = 4096;
const BASE = 0x200000000;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

const recorded = readFileSync(new URL("../fixtures/linux/mremap.txt", import.meta.url), "utf8");

/** scripts/linux/mremap.c, line for line, on the model. */
function run(): string {
  const as = space({ frames: 2048 });
  const lines: string[] = [];
  const out = (s: string): void => void lines.push(s);
  const clear = (): void => void as.munmap(BASE, 256 * PS);
  const fixed = (off: number, pages: number, prot: number): number => as.mmap(BASE + off * PS, pages * PS, prot, ANON | MAP_FIXED);
  const report = (name: string, ret: number): void => {
    if (ret === MAP_FAILED) out(`${name} MAP_FAILED ${errnoName(as.errno)}`);
    else if (ret >= BASE && ret < BASE + 1024 * PS) out(`${name} base+${(ret - BASE) / PS} 0`);
    else out(`${name} 0x${ret.toString(16)} 0`);
  };
  const reporti = (name: string, ret: number): void => out(ret === -1 ? `${name} -1 ${errnoName(as.errno)}` : `${name} ${ret} 0`);
  const mapped = (name: string, from: number, n: number): void => {
    let s = "";
    for (let i = 0; i < n; i++) s += as.regionAt(BASE + (from + i) * PS) !== null ? "1" : "0";
    out(`${name} mapped:${s}`);
  };
  const byte = (va: number): number => (as.read8(va) << 24) >> 24; // a C char

  clear();
  fixed(0, 4, RW);
  report("unaligned-old", as.mremap(BASE + 1, PS, 2 * PS, MREMAP_MAYMOVE));
  report("bad-flags", as.mremap(BASE, PS, 2 * PS, 0x10));
  report("fixed-without-maymove", as.mremap(BASE, PS, PS, MREMAP_FIXED, BASE + 64 * PS));
  report("new-size-0", as.mremap(BASE, PS, 0, MREMAP_MAYMOVE));
  report("unmapped-old", as.mremap(BASE + 32 * PS, PS, 2 * PS, MREMAP_MAYMOVE));
  report("private-old-size-0", as.mremap(BASE, 0, PS, MREMAP_MAYMOVE));
  report("fixed-overlap", as.mremap(BASE, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + PS));
  report("fixed-unaligned-new", as.mremap(BASE, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 64 * PS + 1));

  clear();
  fixed(0, 2, RW);
  fixed(2, 2, PROT_READ);
  report("grow-across-boundary", as.mremap(BASE, 4 * PS, 6 * PS, MREMAP_MAYMOVE));
  report("shrink-across-boundary", as.mremap(BASE, 4 * PS, PS, 0));
  mapped("shrink-across-boundary", 0, 4);

  clear();
  let p = fixed(0, 4, RW);
  as.write8(p, 7);
  as.write8(p + 3 * PS, 9);
  report("shrink", as.mremap(p, 4 * PS, 2 * PS, 0));
  mapped("shrink", 0, 4);
  out(`shrink data ${byte(p)}`);
  report("same-size", as.mremap(p, 2 * PS, 2 * PS, 0));
  report("grow-in-place", as.mremap(p, 2 * PS, 5 * PS, 0));
  mapped("grow-in-place", 0, 6);
  out(`grow-in-place data ${byte(p)} ${byte(p + 4 * PS)}`);

  fixed(5, 1, PROT_READ);
  report("grow-blocked", as.mremap(p, 5 * PS, 8 * PS, 0));
  const probe = as.mmap(0, 8 * PS, RW, ANON);
  as.munmap(probe, 8 * PS);
  let q = as.mremap(p, 5 * PS, 8 * PS, MREMAP_MAYMOVE);
  out(`grow-moves ${q === probe ? "where-mmap-would-place" : "elsewhere"}`);
  out(`grow-moves data ${byte(q)}`);
  mapped("grow-moves-old", 0, 6);

  clear();
  p = fixed(0, 6, RW);
  as.write8(p + 2 * PS, 5);
  report("middle-grow-no-move", as.mremap(p + 2 * PS, 2 * PS, 3 * PS, 0));
  q = as.mremap(p + 2 * PS, 2 * PS, 3 * PS, MREMAP_MAYMOVE);
  out(`middle-grow data ${byte(q)}`);
  mapped("middle-grow-old", 0, 6);
  as.munmap(q, 3 * PS);

  clear();
  p = fixed(0, 2, RW);
  as.write8(p, 3);
  fixed(64, 4, PROT_READ);
  report("fixed-move", as.mremap(p, 2 * PS, 3 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 64 * PS));
  mapped("fixed-move", 62, 6);
  out(`fixed-move data ${byte(BASE + 64 * PS)}`);
  report("fixed-shrink", as.mremap(BASE + 64 * PS, 3 * PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 8 * PS));
  mapped("fixed-shrink", 64, 4);
  mapped("fixed-shrink-new", 7, 3);

  clear();
  p = as.mmap(BASE, 2 * PS, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
  as.write8(p + 5, 42);
  q = as.mremap(p, 0, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 16 * PS);
  report("shared-duplicate", q);
  as.write8(q + 6, 43);
  out(`shared-duplicate data ${byte(q + 5)} ${byte(p + 6)}`);

  clear();
  p = fixed(0, 4, RW);
  as.writeBytes(p, new Uint8Array(4 * PS).fill(1));
  reporti("madvise-unaligned", as.madvise(p + 1, PS, MADV_DONTNEED));
  reporti("madvise-bad-advice", as.madvise(p, PS, 12345));
  reporti("madvise-unmapped", as.madvise(BASE + 32 * PS, PS, MADV_DONTNEED));
  reporti("madvise-length-0-unmapped", as.madvise(BASE + 32 * PS, 0, MADV_DONTNEED));
  reporti("madvise-dontneed", as.madvise(p + PS, 2 * PS, MADV_DONTNEED));
  out(`madvise-dontneed data ${byte(p)} ${byte(p + PS)} ${byte(p + 2 * PS)} ${byte(p + 3 * PS)}`);
  as.write8(p, 1);
  reporti("madvise-hole", as.madvise(p, 6 * PS, MADV_DONTNEED));
  out(`madvise-hole data ${byte(p)}`);
  reporti("madvise-free", as.madvise(p, 4 * PS, MADV_FREE));
  const s = as.mmap(BASE + 16 * PS, PS, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
  reporti("madvise-free-shared", as.madvise(s, PS, MADV_FREE));

  const top = 2 ** 64 - PS; // (char *)-PS
  reporti("madvise-wrap", as.madvise(top, 2 * PS, MADV_DONTNEED));
  reporti("mprotect-wrap", as.mprotect(top, 2 * PS, PROT_READ));
  reporti("mprotect-top-page", as.mprotect(top, PS, PROT_READ));
  reporti("mprotect-beyond-user-space", as.mprotect(2 ** 60, PS, PROT_READ));
  as.check();
  as.memory.check();
  return lines.join("\n") + "\n";
}

describe("mremap and madvise: the model against this machine's Linux (scripts/linux/mremap.c)", () => {
  const model = run().split("\n");
  const real = recorded.split("\n");
  it("prints the recorded number of lines", () => {
    expect(model.length).toBe(real.length);
  });
  // One test per case, so that a difference names the rule it breaks.
  const names = [...new Set(real.filter((l) => l !== "").map((l) => l.split(" ")[0]!))];
  for (const name of names) {
    it(`${name}: as the kernel did`, () => {
      const pick = (ls: string[]): string[] => ls.filter((l) => l.split(" ")[0] === name);
      expect(pick(model)).toEqual(pick(real));
    });
  }
});
