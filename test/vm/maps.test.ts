import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../../src/constants.js";
import { ArgumentError, SegmentationFault } from "../../src/errors.js";
import { MemFile } from "../../src/vm/MemFile.js";
import { space, thrown } from "./helpers/asKit.js";

const PS = 4096;

describe("/proc/self/maps: device and inode of file mappings", () => {
  it("a named file is on a disk (fe:00) with an inode from its path: the same path, the same inode", () => {
    const a = new MemFile(new Uint8Array(PS), "/usr/bin/prog");
    const b = new MemFile(new Uint8Array(PS), "/usr/bin/prog");
    const c = new MemFile(new Uint8Array(PS), "/usr/bin/other");
    expect(a.device).toBe("fe:00");
    expect(a.inode).toBe(b.inode);
    expect(a.inode).not.toBe(c.inode);
    expect(a.inode).toBeGreaterThanOrEqual(100000);
    expect(a.inode).toBeLessThan(1000000);
    const as = space();
    const at = as.mmap(0x10000000, PS, PROT_READ, MAP_PRIVATE, a, 0);
    expect(as.maps()).toBe(`10000000-10001000 r--p 00000000 fe:00 ${a.inode} `.padEnd(73) + "/usr/bin/prog\n");
    expect(at).toBe(0x10000000);
  });

  it("an unnamed file is a memfd on the shmem mount (00:01); shared anonymous memory a deleted /dev/zero there", () => {
    const m = new MemFile(new Uint8Array(PS));
    expect(m.device).toBe("00:01");
    expect(m.name).toMatch(/^\/memfd:\d+ \(deleted\)$/);
    const as = space();
    const s = as.mmap(0, PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    const line = as.maps().trimEnd();
    expect(line).toMatch(new RegExp(`^${s.toString(16)}-${(s + PS).toString(16)} rw-s 00000000 00:01 \\d+ +/dev/zero \\(deleted\\)$`));
    expect(line.indexOf("/dev/zero")).toBe(73);
  });

  it("device and inode may be given; bad ones are ArgumentErrors", () => {
    const f = new MemFile(new Uint8Array(1), "/lib/x.so", { device: "08:01", inode: 42 });
    expect([f.device, f.inode]).toEqual(["08:01", 42]);
    expect(thrown(() => new MemFile(new Uint8Array(1), "x", { device: "8:1" }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new MemFile(new Uint8Array(1), "x", { device: 5 as unknown as string }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new MemFile(new Uint8Array(1), "x", { inode: -1 }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new MemFile(new Uint8Array(1), "x", { inode: 1.5 }))).toBeInstanceOf(ArgumentError);
  });
});

describe("/proc/self/maps: the vsyscall page", () => {
  it("ends the maps as on x86-64 (--xp, above user space), is not in VmSize, and faults when touched", () => {
    const as = space({ vsyscall: true });
    expect(as.maps()).toBe("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n");
    expect(as.status().vmSize).toBe(0);
    expect(thrown(() => as.read8(0xffffffffff600000))).toBeInstanceOf(SegmentationFault);
    const a = as.mmap(0, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    const ls = as.maps().trimEnd().split("\n");
    expect(ls).toHaveLength(2);
    expect(ls[0]!.startsWith(a.toString(16))).toBe(true);
    expect(ls[1]!.endsWith("[vsyscall]")).toBe(true);
    expect(as.fork().maps()).toBe(as.maps());
  });

  it("is off by default, and only for 48-bit spaces", () => {
    expect(space().maps()).toBe("");
    expect(thrown(() => space({ addressBits: 32, vsyscall: true }))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => space({ vsyscall: 1 as unknown as boolean }))).toBeInstanceOf(ArgumentError);
  });
});

describe("a private file mapping that was writable keeps a line of its own (Linux VM_ACCOUNT), as recorded by scripts/linux/relro-merge.c", () => {
  const recorded = readFileSync(new URL("../fixtures/linux/relro-merge.txt", import.meta.url), "utf8");
  it("gives the kernel's lines step by step", () => {
    const as = space();
    const f = new MemFile(new Uint8Array(4 * PS), "/tmp/file.bin");
    const B = 0x200000000;
    let out = "";
    const show = (step: string): void => {
      out += `== ${step}\n`;
      for (const l of as.maps().split("\n")) if (l.endsWith("/tmp/file.bin")) out += l.slice(0, 33) + "\n";
    };
    as.mmap(B, 4 * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0);
    show("read-only");
    as.mprotect(B + 2 * PS, PS, PROT_READ | PROT_WRITE);
    show("middle writable");
    as.mprotect(B + 2 * PS, PS, PROT_READ);
    show("middle read-only again");
    as.munmap(B, 4 * PS);
    as.mmap(B, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, f, 0);
    as.mmap(B + 2 * PS, 2 * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 2 * PS);
    show("writable then read-only mapped after it");
    as.mprotect(B, 2 * PS, PROT_READ);
    show("first made read-only");
    expect(out).toBe(recorded);
    as.check();
  });

  it("anonymous memory merges back (the model keeps no accounting for it)", () => {
    const as = space();
    const a = as.mmap(0x10000000, 4 * PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    as.mprotect(a + PS, PS, PROT_READ | PROT_WRITE);
    as.mprotect(a + PS, PS, PROT_READ);
    expect(as.regions()).toHaveLength(1);
  });
});
