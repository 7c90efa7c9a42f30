import { describe, expect, it } from "vitest";
import { PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { VmError } from "../../src/errors.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { Vma, VmaList, mergeable } from "../../src/vm/Vma.js";
import { thrown } from "./helpers/asKit.js";

const RW = PROT_READ | PROT_WRITE;
const anon = (s: number, e: number, prot = RW, name: string | null = null): Vma => new Vma(s, e, prot, false, null, 0, name);

describe("Vma", () => {
  it("perms: rwx or -, then s or p", () => {
    expect(anon(0, 16, RW).perms()).toBe("rw-p");
    expect(anon(0, 16, PROT_NONE).perms()).toBe("---p");
    expect(new Vma(0, 16, PROT_READ | PROT_EXEC, true, null, 0, null).perms()).toBe("r-xs");
  });

  it("splitAt keeps the head, returns the tail with its file offset moved", () => {
    const f = new MemFile(new Uint8Array(64), "f");
    const v = new Vma(0x1000, 0x4000, PROT_READ, false, f, 0x2000, null);
    const t = v.splitAt(0x3000);
    expect([v.start, v.end, v.offset]).toEqual([0x1000, 0x3000, 0x2000]);
    expect([t.start, t.end, t.offset]).toEqual([0x3000, 0x4000, 0x4000]);
    expect(thrown(() => v.splitAt(0x1000))).toBeInstanceOf(VmError);
  });

  it("display names: explicit, else the file's, else none", () => {
    expect(anon(0, 16, RW, "[heap]").displayName()).toBe("[heap]");
    expect(new Vma(0, 16, PROT_READ, false, new MemFile(new Uint8Array(1), "/bin/true"), 0, null).displayName()).toBe("/bin/true");
    expect(anon(0, 16).displayName()).toBe("");
    expect(new MemFile(new Uint8Array(1)).name).toMatch(/^\/memfd:\d+ \(deleted\)$/);
  });

  it("mergeable: touching, same attributes; file regions need contiguous offsets", () => {
    expect(mergeable(anon(0, 16), anon(16, 32))).toBe(true);
    expect(mergeable(anon(0, 16), anon(32, 48))).toBe(false);
    expect(mergeable(anon(0, 16), anon(16, 32, PROT_READ))).toBe(false);
    expect(mergeable(anon(0, 16, RW, "[heap]"), anon(16, 32))).toBe(false);
    const f = new MemFile(new Uint8Array(64));
    expect(mergeable(new Vma(0, 16, RW, true, f, 0, null), new Vma(16, 32, RW, true, f, 16, null))).toBe(true);
    expect(mergeable(new Vma(0, 16, RW, true, f, 0, null), new Vma(16, 32, RW, true, f, 32, null))).toBe(false);
    expect(mergeable(new Vma(0, 16, RW, true, f, 0, null), new Vma(16, 32, RW, false, f, 16, null))).toBe(false);
  });
});

describe("VmaList", () => {
  it("find, overlaps, remove with splits, merge", () => {
    const l = new VmaList();
    l.insert(anon(0x1000, 0x5000));
    l.insert(anon(0x8000, 0x9000));
    expect(thrown(() => l.insert(anon(0x4000, 0x6000)))).toBeInstanceOf(VmError);
    expect(l.find(0x4fff)!.start).toBe(0x1000);
    expect(l.find(0x5000)).toBeNull();
    expect(l.overlaps(0x5000, 0x8000)).toBe(false);
    expect(l.overlaps(0x5000, 0x8001)).toBe(true);
    l.remove(0x2000, 0x3000);
    expect(l.list.map((v) => [v.start, v.end])).toEqual([
      [0x1000, 0x2000],
      [0x3000, 0x5000],
      [0x8000, 0x9000],
    ]);
    l.insert(anon(0x2000, 0x3000));
    l.mergeAround(0x2000, 0x3000);
    expect(l.count).toBe(2);
    expect(l.totalBytes()).toBe(0x5000);
    const c = l.clone();
    c.list[0]!.end = 0x1234;
    expect(l.list[0]!.end).toBe(0x5000);
  });
});
