/**
 * A program's file, as GNU ld lays out a static x86-64 executable (`-z separate-code`, the
 * default): an ELF header page and four loadable segments, which `Process.spawn` maps the way
 * Linux's `load_elf_binary` does. All addresses here are relative to the load address (`base`:
 * 0x400000 for a static executable, 0x555555554000 for a PIE); a file offset equals the
 * relative address, except in the read-write segment (see `shift`).
 *
 * ```text
 *   relative address (= file offset)          maps line      what
 *   0          ┬ ELF header, program headers   r--p  off 0    LOAD R     (one page at least)
 *   textStart  ┼ text  (options.text)          r-xp           LOAD R E   start_code .. end_code
 *   rodataStart┼ rodata (options.rodata)       r--p           LOAD R
 *   rwStart    ┼ ┄ padding ┄                   r--p  off −shift   LOAD RW, relro part: made
 *   dataStart  │ relro (options.relro)             ... ends on a page boundary      read-only by the C
 *   relroEnd   ┼ data  (options.data)          rw-p  off −shift   runtime (GNU_RELRO)
 *   endData    │ bss's first bytes (zeros past the end of the file)
 *   dataEnd    ┼ bss                           rw-p  anonymous (no file behind it)
 *   brk        ┴ start_brk = PAGE_ALIGN(end of bss): [heap] starts here
 * ```
 *
 * Rules (each chosen to reproduce what `setarch -R` shows for a static gcc binary on Linux,
 * recorded in test/fixtures/linux/layout-static.txt):
 * - Every segment starts on a page boundary in memory and takes at least one page, even when
 *   its part is empty (a static gcc binary always has all five: glibc's own code, constants
 *   and relocated pointers fill them). The header page is never empty.
 * - relro ends on a page boundary (ld's `DATA_SEGMENT_RELRO_END`), so that the C runtime can
 *   make it read-only with `mprotect`; the data starts on the next page. Linux's `start_data`
 *   is the read-write segment's first byte: the start of relro.
 * - The read-write segment follows rodata in the file without a page of its own when rodata's
 *   last page is partial (ld's `DATA_SEGMENT_ALIGN`): its first page in memory is one page past
 *   rodata's last, in the file it is that same page (`shift` = one page), as long as relro's
 *   bytes fit after rodata's tail in it; otherwise `shift` is 0.
 * - The file ends at the end of the data: the rest of data's last page reads as zeros, so the
 *   model needs no `padzero`.
 */
import { ArgumentError } from "../errors.js";

/** The parts of a program image, in bytes. */
export interface ImageParts {
  /** Code (`.text`): read and execute. */
  readonly text: Uint8Array;
  /** Constants (`.rodata`): read only. */
  readonly rodata: Uint8Array;
  /** Data read-only after relocation (`.data.rel.ro`, `.got`): loaded writable, then sealed. */
  readonly relro: Uint8Array;
  /** Initialized data (`.data`): read and write. */
  readonly data: Uint8Array;
  /** Zero-initialized data (`.bss`), in bytes. */
  readonly bssSize: number;
}

/** Where each part of an image lies, relative to the load address (all multiples of the page size but `dataStart`, `endData`, `endBss`). */
export interface ImageLayout {
  readonly pageSize: number;
  /** Bytes of ELF header and program headers. */
  readonly headerBytes: number;
  readonly textStart: number;
  readonly rodataStart: number;
  /** First page of the read-write segment (the relro line starts here). */
  readonly rwStart: number;
  /** How much lower than its address the read-write segment lies in the file (0 or a page). */
  readonly shift: number;
  /** First byte of relro: the read-write segment's `p_vaddr`, Linux's `start_data`. */
  readonly dataStart: number;
  /** End of the relro line, a page boundary: where `.data` starts. */
  readonly relroEnd: number;
  /** The byte after `.data` (Linux's `end_data`): bss starts here. */
  readonly endData: number;
  /** End of the file-backed read-write line. */
  readonly dataEnd: number;
  /** The byte after bss. */
  readonly endBss: number;
  /** The initial break: the end of bss rounded up to a page, past the data line (`start_brk`). */
  readonly brk: number;
  /** Bytes of the file. */
  readonly fileSize: number;
}

/** ELF header plus program headers, 64- and 32-bit. */
const EHDR = { 64: 64, 32: 52 } as const;
const PHDR = { 64: 56, 32: 32 } as const;
/** Program headers written: four PT_LOAD and a PT_GNU_RELRO. */
const PHNUM = 5;
const PT_LOAD = 1;
const PT_GNU_RELRO = 0x6474e552;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;

/** Lays out `parts` with pages of `pageSize` bytes (see the file's diagram). */
export function layoutImage(parts: ImageParts, pageSize: number, bits: 32 | 64): ImageLayout {
  const ps = pageSize;
  const up = (n: number): number => Math.ceil(n / ps) * ps;
  const seg = (n: number): number => Math.max(ps, up(n));
  const headerBytes = EHDR[bits] + PHNUM * PHDR[bits];
  const textStart = seg(headerBytes);
  const rodataStart = textStart + seg(parts.text.length);
  const rwStart = rodataStart + seg(parts.rodata.length);
  const relroEnd = rwStart + seg(parts.relro.length);
  const dataStart = relroEnd - parts.relro.length;
  const tail = parts.rodata.length % ps; // bytes of rodata in its last page
  const shift = tail !== 0 && (parts.relro.length === 0 || dataStart % ps >= tail) ? ps : 0;
  const endData = relroEnd + parts.data.length;
  const dataEnd = relroEnd + seg(parts.data.length);
  const endBss = endData + parts.bssSize;
  const brk = Math.max(up(endBss), dataEnd);
  const fileSize = endData - shift;
  return { pageSize, headerBytes, textStart, rodataStart, rwStart, shift, dataStart, relroEnd, endData, dataEnd, endBss, brk, fileSize };
}

/**
 * The file's bytes: an ELF header (`ET_EXEC`, or `ET_DYN` for a PIE, entry at the start of
 * text), its program headers, and the parts where {@link layoutImage} puts them.
 */
export function buildImage(parts: ImageParts, l: ImageLayout, base: number, pie: boolean, bits: 32 | 64): Uint8Array {
  const bytes = new Uint8Array(l.fileSize);
  bytes.set(parts.text, l.textStart);
  bytes.set(parts.rodata, l.rodataStart);
  bytes.set(parts.relro, l.dataStart - l.shift);
  bytes.set(parts.data, l.relroEnd - l.shift);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = bits === 64;
  // A PIE's addresses are relative to where it is loaded; an executable's are absolute.
  const va = (rel: number): number => (pie ? rel : base + rel);
  const word = (at: number, v: number): number => {
    if (wide) dv.setBigUint64(at, BigInt(v), true);
    else dv.setUint32(at, v, true);
    return at + (wide ? 8 : 4);
  };
  bytes.set([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, 1, 1], 0); // \x7fELF, class, little-endian, version
  dv.setUint16(16, pie ? 3 : 2, true); // e_type: ET_DYN / ET_EXEC
  dv.setUint16(18, wide ? 0x3e : 3, true); // e_machine: x86-64 / i386
  dv.setUint32(20, 1, true); // e_version
  let at = word(24, va(l.textStart)); // e_entry
  at = word(at, EHDR[bits]); // e_phoff: right after this header
  at = word(at, 0); // e_shoff: no section headers
  dv.setUint32(at, 0, true); // e_flags
  dv.setUint16(at + 4, EHDR[bits], true); // e_ehsize
  dv.setUint16(at + 6, PHDR[bits], true); // e_phentsize
  dv.setUint16(at + 8, PHNUM, true); // e_phnum
  const ph = (i: number, type: number, flags: number, offset: number, rel: number, filesz: number, memsz: number, align: number): void => {
    const p = EHDR[bits] + i * PHDR[bits];
    dv.setUint32(p, type, true);
    if (wide) {
      dv.setUint32(p + 4, flags, true);
      let q = word(p + 8, offset);
      q = word(q, va(rel));
      q = word(q, va(rel));
      q = word(q, filesz);
      q = word(q, memsz);
      word(q, align);
    } else {
      let q = word(p + 4, offset);
      q = word(q, va(rel));
      q = word(q, va(rel));
      q = word(q, filesz);
      q = word(q, memsz);
      q = word(q, flags);
      word(q, align);
    }
  };
  const ps = l.pageSize;
  ph(0, PT_LOAD, PF_R, 0, 0, l.headerBytes, l.headerBytes, ps);
  ph(1, PT_LOAD, PF_R | PF_X, l.textStart, l.textStart, parts.text.length, parts.text.length, ps);
  ph(2, PT_LOAD, PF_R, l.rodataStart, l.rodataStart, parts.rodata.length, parts.rodata.length, ps);
  ph(3, PT_LOAD, PF_R | PF_W, l.dataStart - l.shift, l.dataStart, l.endData - l.dataStart, l.endBss - l.dataStart, ps);
  ph(4, PT_GNU_RELRO, PF_R, l.dataStart - l.shift, l.dataStart, parts.relro.length, parts.relro.length, 1);
  return bytes;
}

/** Checks that `value` is a byte array for part `what` of `Process.spawn`. */
export function checkPart(value: unknown, what: string): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (!(value instanceof Uint8Array)) throw new ArgumentError(`Process.spawn: ${what} must be a Uint8Array`);
  return value;
}
