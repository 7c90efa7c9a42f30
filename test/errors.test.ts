import { describe, expect, it } from "vitest";
import {
  AlignmentFault,
  BusError,
  ArgumentError,
  DoubleFreeError,
  Errno,
  errnoName,
  HeapCorruptionError,
  HeapError,
  InvalidPointerError,
  MemoryFault,
  OutOfMemoryError,
  ProtectionFault,
  SegmentationFault,
  VmError,
  PhysicalMemory,
  AddressSpace,
  SwapSpace,
  Mmu,
  Process,
  LinearMemory,
  PageTable,
  Tlb,
  Heap,
  Brk,
  PROT_READ,
  PROT_WRITE,
  MAP_PRIVATE,
  MAP_ANONYMOUS,
} from "../src/index.js";

describe("errno", () => {
  it("has Linux's numbers", () => {
    expect(Errno).toMatchObject({ ENOMEM: 12, EINVAL: 22, EEXIST: 17, EFAULT: 14, EACCES: 13 });
  });
  it("names values, and says when it does not know one", () => {
    expect(errnoName(12)).toBe("ENOMEM");
    expect(errnoName(22)).toBe("EINVAL");
    expect(errnoName(9999)).toBe("E?9999");
  });
});

describe("errors", () => {
  it("heap errors carry the operation and the address, in glibc's words", () => {
    const d = new DoubleFreeError("free", 0x1230);
    expect(d).toBeInstanceOf(HeapError);
    expect(d).toBeInstanceOf(VmError);
    expect(d).toBeInstanceOf(Error);
    expect(d.name).toBe("DoubleFreeError");
    expect(d.message).toContain("free(): double free detected");
    expect(d.message).toContain("0x1230");
    expect(d.operation).toBe("free");
    expect(d.address).toBe(0x1230);
    const i = new InvalidPointerError("realloc", 0x11);
    expect(i.name).toBe("InvalidPointerError");
    expect(i.message).toContain("realloc(): invalid pointer");
    const c = new HeapCorruptionError("corrupted size vs. prev_size", "free", 0x40);
    expect(c.name).toBe("HeapCorruptionError");
    expect(c.message).toBe("free(): corrupted size vs. prev_size (chunk at 0x40)");
    expect(new HeapCorruptionError("two adjacent free chunks", "check", 0x80).message).toBe("check(): two adjacent free chunks (chunk at 0x80)");
  });

  it("faults carry the address, the access and its size", () => {
    const s = new SegmentationFault(0xdead000, "write", 4);
    expect(s).toBeInstanceOf(MemoryFault);
    expect(s).toBeInstanceOf(VmError);
    expect(s.name).toBe("SegmentationFault");
    expect(s.address).toBe(0xdead000);
    expect(s.access).toBe("write");
    expect(s.size).toBe(4);
    expect(s.message).toContain("0xdead000");
    const p = new ProtectionFault(0x1000, "exec");
    expect(p.name).toBe("ProtectionFault");
    expect(p.size).toBe(1);
    expect(p.message).toContain("permission denied");
    const a = new AlignmentFault(0x1001, "read", 8);
    expect(a.name).toBe("AlignmentFault");
    expect(a.message).toContain("misaligned 8-byte read");
    const b = new BusError(0x7000, "write", 4, "/tmp/f");
    expect(b).toBeInstanceOf(MemoryFault);
    expect([b.name, b.address, b.access, b.size]).toEqual(["BusError", 0x7000, "write", 4]);
    expect(b.message).toBe("Bus error: write at 0x7000 (past the end of /tmp/f)");
  });

  it("other errors set their names", () => {
    expect(new OutOfMemoryError("no frame and no swap slot").name).toBe("OutOfMemoryError");
    expect(new ArgumentError("bad").name).toBe("ArgumentError");
    expect(new ArgumentError("bad")).toBeInstanceOf(VmError);
  });
});

describe("missing or malformed options", () => {
  const cases: Array<[string, () => unknown]> = [
    ["new PhysicalMemory()", () => new (PhysicalMemory as unknown as new () => unknown)()],
    ["new PhysicalMemory(null)", () => new PhysicalMemory(null as never)],
    ["new AddressSpace()", () => new (AddressSpace as unknown as new () => unknown)()],
    ["new AddressSpace({})", () => new AddressSpace({} as never)],
    ["new AddressSpace({ memory: {} })", () => new AddressSpace({ memory: {} as never })],
    ["new SwapSpace()", () => new (SwapSpace as unknown as new () => unknown)()],
    ["new Mmu()", () => new (Mmu as unknown as new () => unknown)()],
    ["new Mmu({})", () => new Mmu({} as never)],
    ["Process.spawn()", () => (Process.spawn as unknown as () => unknown)()],
    ["Process.spawn({})", () => Process.spawn({} as never)],
    ["new LinearMemory(null)", () => new LinearMemory(null as never)],
    ["new PageTable(null)", () => new PageTable(null as never)],
    ["new Tlb(null)", () => new Tlb(null as never)],
    ["new Heap(null)", () => new Heap(null as never)],
    ["new Brk(memory, null)", () => new Brk(new LinearMemory({ maxBytes: 65536, shared: false }), null as never)],
  ];
  for (const [name, make] of cases) {
    it(`${name} throws ArgumentError, not a TypeError`, () => {
      let e: unknown;
      try {
        make();
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(ArgumentError);
      expect(e).toBeInstanceOf(VmError);
    });
  }

  it("writeBytes takes only a Uint8Array, and writes nothing otherwise", () => {
    const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 4, shared: false }) });
    const a = as.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(() => as.writeBytes(a, [1, 2] as never)).toThrow(ArgumentError);
    expect(() => as.writeBytes(a, null as never)).toThrow(ArgumentError);
    expect(as.read8(a)).toBe(0);
  });
});

describe("addresses in messages", () => {
  it("print as C's %#x, and a bad argument as itself", () => {
    expect(new InvalidPointerError("free", 0x1010).message).toBe("free(): invalid pointer (0x1010)");
    expect(new InvalidPointerError("free", -16).message).toBe("free(): invalid pointer (-0x10)");
    expect(new InvalidPointerError("free", 1.5).message).toBe("free(): invalid pointer (1.5)");
    expect(new InvalidPointerError("free", Number.NaN).message).toBe("free(): invalid pointer (NaN)");
  });
});
