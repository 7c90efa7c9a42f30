/**
 * `vmheap walk VA`: the page-table walk the MMU makes for one virtual address, step by step
 * ({@link PageTable.walk}), in a table of any geometry or in a freshly spawned process.
 */
import { PhysicalMemory } from "../memory/PhysicalMemory.js";
import { PageTable } from "../paging/PageTable.js";
import { USER, WRITABLE, makePte } from "../paging/pte.js";
import { PROT_WRITE } from "../constants.js";
import { Process } from "../vm/Process.js";
import { type WalkView, walkView } from "../viz/walk.js";
import { walkSvg } from "../viz/walkSvg.js";
import { type Command, type Io, guarded, intOption, parse, parseNumber, printJson, printText, usageError, writePicture } from "./command.js";

/** The text of `vmheap walk --help`. */
export const WALK_HELP = `Usage: vmheap walk VA [--levels B0,B1,...] [--page-size N] [--frame F] [--unmapped]
                  [--process] [--svg FILE] [--json]

Draws the page-table walk of virtual address VA (decimal or 0x hex), one step per level: the
bits of VA that index the level's table, the entry read there, and where it leads; the leaf
entry (the PTE) gives the frame, and frame * page size + offset the physical address. Tables
are shown at their addresses in the page-table store (what CR3 and each entry point to).

By default a fresh table of the given geometry maps VA's page to frame F, then walks it.

Options:
  --levels LIST     index bits per level, root first (default 9,9,9,9: x86-64, 48-bit);
                    10,10 is 32-bit x86, 4,4 with --page-size 256 a 16-bit textbook machine
  --page-size N     bytes per page, a power of two (default 4096)
  --frame F         the frame VA's page is mapped to (default 0x2a)
  --unmapped        map nothing: the walk stops at the first empty entry (a page fault)
  --process         walk in a freshly spawned process instead (the program from 0x400000,
                    its text from 0x401000, data, bss, a heap, the vdso, the stack below
                    0x7ffffffff000), after touching VA if it is mapped: a write where the
                    region is writable, else a read
  --svg FILE        also draw the walk as an SVG picture into FILE
  --json            print the walk as JSON: {va, levels, fields, steps, outcome, pte, frame,
                    physicalAddress}
  -h, --help        this text

Example:
  vmheap walk 0x7f1234567abc
  vmheap walk 0x12345678 --levels 10,10
  vmheap walk 0x401010 --process`;

const hex = (n: number): string => "0x" + n.toString(16);

function parseLevels(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const out = parts.map((p) => parseNumber(p));
  if (out.some((v) => v === null || v < 1)) throw usageError(`vmheap walk: --levels must be index bits per level separated by commas (e.g. 9,9,9,9), got '${text}'`);
  return out as number[];
}

/** Builds the table (or process) and walks `va` in it. */
function walkOf(va: number, opts: { levels?: number[]; pageSize: number; frame: number; unmapped: boolean; process: boolean }): { view: WalkView; where: string } {
  if (opts.process) {
    const ram = new PhysicalMemory({ frames: 1024 });
    const proc = Process.spawn({ memory: ram, text: new Uint8Array(8192).fill(0x90), data: new TextEncoder().encode("initialized data"), bssSize: 20_000, path: "/usr/bin/demo" });
    proc.heap.free(proc.heap.malloc(100)); // the heap exists: a [heap] line
    const table = proc.as.pageTable;
    if (va >= 2 ** proc.as.addressBits) throw usageError(`vmheap walk: ${hex(va)} is outside the process's ${proc.as.addressBits}-bit address space`);
    const region = proc.as.regionAt(va);
    let where: string;
    if (region === null) where = `no region holds ${hex(va)}: the walk finds no entry (a segmentation fault)`;
    else {
      const name = proc.as.regionName(region) || "anonymous memory";
      if ((region.prot & PROT_WRITE) !== 0) {
        proc.as.write8(va, proc.as.read8(va));
        where = `${hex(va)} is in ${name} (${region.perms()}); written once, so it has a frame of its own`;
      } else {
        proc.as.read8(va);
        where = `${hex(va)} is in ${name} (${region.perms()}); read once, so it is mapped`;
      }
    }
    return { view: walkView(table, va), where: `in a spawned process: ${where}` };
  }
  let table: PageTable;
  try {
    table = new PageTable({ ...(opts.levels !== undefined ? { levels: opts.levels } : { levels: [9, 9, 9, 9] }), pageSize: opts.pageSize });
  } catch (e) {
    throw usageError(`vmheap walk: ${(e as Error).message}`);
  }
  if (va >= table.addressLimit) throw usageError(`vmheap walk: ${hex(va)} does not fit a ${table.addressBits}-bit address space (levels ${table.levels.join(",")}, ${table.pageSize}-byte pages)`);
  if (!opts.unmapped) {
    if (opts.frame > 0xff_ffff) throw usageError(`vmheap walk: --frame must fit 24 bits, got ${hex(opts.frame)}`);
    table.set(va, makePte(opts.frame, WRITABLE | USER));
  }
  return { view: walkView(table, va), where: opts.unmapped ? "in an empty table" : `in a table mapping only this page, to frame ${hex(opts.frame)}` };
}

/** The walk as lines of text. */
export function walkText(view: WalkView, where: string): string[] {
  const lines: string[] = [];
  const n = view.levels.length;
  lines.push(`walk of ${hex(view.va)}: ${n} level${n === 1 ? "" : "s"} [${view.levels.join(", ")}], ${view.addressBits}-bit addresses, ${view.pageSize}-byte pages`);
  lines.push(where);
  lines.push("");
  // The address cut into fields: bit range, the bits, the value.
  const cols = view.fields.map((f) => {
    const width = f.hi - f.lo + 1;
    const bits = f.value.toString(2).padStart(width, "0");
    const range = width === 1 ? `${f.hi}` : `${f.hi}..${f.lo}`;
    const label = f.level === null ? `offset ${hex(f.value)}` : `${f.name} ${f.value}`;
    const w = Math.max(bits.length, range.length, label.length);
    return { range: range.padEnd(w), bits: bits.padEnd(w), label: label.padEnd(w) };
  });
  lines.push(("  bits   " + cols.map((c) => c.range).join(" | ")).trimEnd());
  lines.push(("  va     " + cols.map((c) => c.bits).join(" | ")).trimEnd());
  lines.push(("  index  " + cols.map((c) => c.label).join(" | ")).trimEnd());
  lines.push("");
  const nameW = Math.max(...view.steps.map((s) => s.name.length));
  view.steps.forEach((s, i) => {
    const head = `  ${i + 1}. ${s.name.padEnd(nameW)} table at ${hex(s.tableAddress)}, entry ${s.index} at ${hex(s.entryAddress)}`;
    let what: string;
    if (s.entry === 0) what = "= 0: empty, the walk stops here (page fault)";
    else if (!s.leaf) what = `= ${hex(s.entry)}: the ${view.steps[i + 1]?.name ?? "next"} table at ${hex(s.entry * 4)}`;
    else what = `= ${hex(s.entry)}: the PTE, ${view.pteText!}`;
    lines.push(`${head} ${what}`);
  });
  lines.push("");
  const off = view.fields[view.fields.length - 1]!.value;
  if (view.outcome === "mapped") {
    lines.push(`  physical address = frame ${hex(view.frame!)} * ${view.pageSize} + offset ${hex(off)} = ${hex(view.physicalAddress!)}`);
  } else if (view.outcome === "swapped") {
    lines.push(`  not present: the page is in swap slot ${view.swapSlot!}; an access takes a major fault that reads it back`);
  } else {
    lines.push(`  no translation: an access to ${hex(view.va)} faults`);
  }
  return lines;
}

/** `vmheap walk`. */
export const walkCommand: Command = {
  name: "walk",
  summary: "draw the page-table walk of a virtual address, level by level",
  help: WALK_HELP,
  run(args: readonly string[], io: Io): number {
    return guarded(io, () => {
      const { values, positionals } = parse(
        "walk",
        args,
        { levels: { type: "string" }, "page-size": { type: "string" }, frame: { type: "string" }, unmapped: { type: "boolean" }, process: { type: "boolean" }, svg: { type: "string" } },
        1,
      );
      if (values.help) {
        printText(io, WALK_HELP);
        return 0;
      }
      if (positionals[0] === undefined) throw usageError("vmheap walk: which address? (vmheap walk VA; see --help)");
      const va = parseNumber(positionals[0]);
      if (va === null) throw usageError(`vmheap walk: VA must be a whole number, decimal or 0x hex, got '${positionals[0]}'`);
      const process = values.process === true;
      if (process && (values.levels !== undefined || values["page-size"] !== undefined || values.frame !== undefined || values.unmapped)) {
        throw usageError("vmheap walk: --process walks the process's own table: --levels, --page-size, --frame and --unmapped do not apply");
      }
      const { view, where } = walkOf(va, {
        ...(values.levels !== undefined ? { levels: parseLevels(values.levels) } : {}),
        pageSize: intOption("walk", "page-size", values["page-size"], 4096, 1),
        frame: intOption("walk", "frame", values.frame, 0x2a),
        unmapped: values.unmapped === true,
        process,
      });
      if (values.svg !== undefined) writePicture(io, "walk", values.svg, walkSvg(view));
      if (values.json) {
        printJson(io, view);
        return 0;
      }
      for (const l of walkText(view, where)) io.out(l);
      if (values.svg !== undefined) io.out(`picture: ${values.svg}`);
      return 0;
    });
  },
};
