import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/errors.js";
import { buildImage, checkPart, layoutImage } from "../../src/vm/ElfImage.js";
import { thrown } from "./helpers/asKit.js";

const PS = 4096;
const bytes = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v);

describe("ElfImage: the layout GNU ld gives a static executable", () => {
  it("the real static binary's sizes give its addresses (test/fixtures/linux/layout-static)", () => {
    const l = layoutImage({ text: bytes(0x77ef1), rodata: bytes(0x270e6), relro: bytes(0x3948), data: bytes(0x2270), bssSize: 0x2ded0 }, PS, 64);
    expect([l.textStart, l.rodataStart, l.rwStart, l.shift, l.dataStart, l.relroEnd, l.endData, l.dataEnd, l.brk]).toEqual([
      0x1000, 0x79000, 0xa1000, 0x1000, 0xa16b8, 0xa5000, 0xa7270, 0xa8000, 0xd6000,
    ]);
  });

  it("relro that does not fit after rodata's tail in the shared file page gets a file page of its own", () => {
    // rodata's last page holds 0xf00 bytes; relro (0x200 bytes) would start at 0xe00 in it.
    const l = layoutImage({ text: bytes(10), rodata: bytes(0xf00), relro: bytes(0x200), data: bytes(10), bssSize: 0 }, PS, 64);
    expect(l.shift).toBe(0);
    const img = buildImage({ text: bytes(10), rodata: bytes(0xf00, 2), relro: bytes(0x200, 3), data: bytes(10, 4), bssSize: 0 }, l, 0x400000, false, 64);
    expect(img[l.rodataStart + 0xeff]).toBe(2);
    expect(img[l.dataStart]).toBe(3);
    expect(img[l.relroEnd]).toBe(4);
  });

  it("rodata ending on a page boundary: no shared page", () => {
    const l = layoutImage({ text: bytes(1), rodata: bytes(PS), relro: bytes(8), data: bytes(8), bssSize: 0 }, PS, 64);
    expect(l.shift).toBe(0);
    expect(l.fileSize).toBe(l.endData);
  });

  it("the parts land at their offsets; the file ends with the data", () => {
    const parts = { text: bytes(5, 1), rodata: bytes(100, 2), relro: bytes(16, 3), data: bytes(7, 4), bssSize: 1000 };
    const l = layoutImage(parts, PS, 64);
    const img = buildImage(parts, l, 0x400000, false, 64);
    expect(img.length).toBe(l.endData - l.shift);
    expect(img[l.textStart]).toBe(1);
    expect(img[l.rodataStart + 99]).toBe(2);
    expect(img[l.dataStart - l.shift]).toBe(3);
    expect(img[l.endData - l.shift - 1]).toBe(4);
    // The read-write segment's program header: its file offset and address differ by the shift.
    const dv = new DataView(img.buffer);
    const ph = 64 + 3 * 56;
    expect(dv.getUint32(ph, true)).toBe(1); // PT_LOAD
    expect(dv.getUint32(ph + 4, true)).toBe(6); // PF_R | PF_W
    expect(Number(dv.getBigUint64(ph + 8, true))).toBe(l.dataStart - l.shift);
    expect(Number(dv.getBigUint64(ph + 16, true))).toBe(0x400000 + l.dataStart);
    expect(Number(dv.getBigUint64(ph + 32, true))).toBe(l.endData - l.dataStart); // p_filesz
    expect(Number(dv.getBigUint64(ph + 40, true))).toBe(l.endBss - l.dataStart); // p_memsz
    expect(dv.getUint32(64 + 4 * 56, true)).toBe(0x6474e552); // PT_GNU_RELRO
  });

  it("32-bit: ELF32 headers with their own field order", () => {
    const parts = { text: bytes(5), rodata: bytes(0), relro: bytes(0), data: bytes(0), bssSize: 0 };
    const l = layoutImage(parts, PS, 32);
    expect(l.headerBytes).toBe(52 + 5 * 32);
    const img = buildImage(parts, l, 0x08048000, false, 32);
    const dv = new DataView(img.buffer);
    expect(dv.getUint32(24, true)).toBe(0x08048000 + l.textStart); // e_entry
    const ph = 52 + 32; // the text LOAD
    expect(dv.getUint32(ph + 8, true)).toBe(0x08048000 + l.textStart); // p_vaddr
    expect(dv.getUint32(ph + 24, true)).toBe(5); // p_flags: PF_R | PF_X
  });

  it("pages smaller than the headers: the header segment takes several", () => {
    const l = layoutImage({ text: bytes(1), rodata: bytes(0), relro: bytes(0), data: bytes(0), bssSize: 0 }, 16, 64);
    expect(l.textStart).toBe(Math.ceil((64 + 5 * 56) / 16) * 16);
    expect(l.brk).toBe(l.dataEnd);
  });

  it("checkPart: undefined is empty; anything but a Uint8Array is an ArgumentError", () => {
    expect(checkPart(undefined, "x").length).toBe(0);
    expect(thrown(() => checkPart([1], "rodata"))).toBeInstanceOf(ArgumentError);
  });
});
