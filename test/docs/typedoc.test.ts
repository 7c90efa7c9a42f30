// The API reference as a user reads it: every `@example` in src/ runs and prints what its
// comments say, and typedoc finds nothing exported without documentation.
//
// An example is a ```ts block after an `@example` tag. It imports from "vmheap" (here: the
// sources) and shows its results with `console.log(...)` on one line, followed by the output:
// in a `// comment` on the same line, or, when the output has several lines, in the `//` lines
// right below it (up to the first line that is not a comment). Trailing spaces at the end of
// an output line are not compared (a comment cannot keep them). Each example runs as a program
// of its own: the modules are loaded afresh, so counters such as process ids start over.
// src/cli/ is the command's code, not the package's API: its examples are not run here.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import util from "node:util";
import { afterAll, describe, expect, it, vi } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The source of each of the package's entry points, as examples import them. */
const ENTRY: Record<string, string> = {
  vmheap: "src/index.ts",
  "vmheap/heap": "src/heap/index.ts",
  "vmheap/viz": "src/viz/index.ts",
  "vmheap/wasm": "src/heap/wasm/index.ts",
};

interface Example {
  /** Source file, relative to the repository. */
  file: string;
  /** Line of the example's first code line. */
  line: number;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    // The generated engine repeats Heap.ts's comments.
    if (d.isDirectory()) return p.endsWith(path.join("src", "cli")) ? [] : sourceFiles(p);
    return p.endsWith(".ts") && !p.endsWith(".generated.ts") ? [p] : [];
  });
}

function examplesIn(file: string): Example[] {
  const text = fs.readFileSync(file, "utf8");
  const out: Example[] = [];
  for (const m of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    if (!m[0].includes("@example")) continue;
    const first = text.slice(0, m.index).split("\n").length;
    const lines = m[0].split("\n").map((l) => l.replace(/^\s*\/?\*+\/?\s?/, ""));
    let tagged = false;
    for (let i = 0; i < lines.length; i++) {
      if (/^@example\b/.test(lines[i]!)) tagged = true;
      if (!tagged || !/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !lines[j]!.startsWith("```"); j++) body.push(lines[j]!);
      out.push({ file: path.relative(ROOT, file), line: first + i + 1, code: body.join("\n") });
      i = j;
    }
  }
  return out;
}

const LOG = /^\s*console\.log\(.*?\);?\s*(?:\/\/ ?(.*))?$/;

/** The output each `console.log` line of an example says it prints, in order. */
function expectedOutput(code: string): string[] {
  const lines = code.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = LOG.exec(lines[i]!);
    if (m === null) continue;
    if (m[1] !== undefined) {
      out.push(m[1]);
      continue;
    }
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s*\/\//.test(lines[j]!); j++) block.push(lines[j]!.replace(/^\s*\/\/ ?/, ""));
    out.push(block.join("\n"));
  }
  return out;
}

const normalize = (s: string): string =>
  s
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n+$/, "");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vmheap-examples-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs an example as a module of its own and returns what each `console.log` printed. */
async function run(ex: Example, n: number): Promise<string[]> {
  const printed: string[] = [];
  const capture = { log: (...args: unknown[]) => printed.push(util.format(...args)) };
  (globalThis as Record<string, unknown>).__vmheapExampleConsole = capture;
  const code = ex.code.replace(/from "(vmheap(?:\/[\w-]+)?)"/g, (m, name: string) => (ENTRY[name] !== undefined ? `from ${JSON.stringify(path.join(ROOT, ENTRY[name]))}` : m));
  const source = "const console = (globalThis as any).__vmheapExampleConsole;\n" + code;
  const file = path.join(tmp, `example-${n}.ts`);
  fs.writeFileSync(file, source);
  vi.resetModules();
  await import(pathToFileURL(file).href);
  return printed.map(normalize);
}

const examples = sourceFiles(path.join(ROOT, "src")).flatMap(examplesIn);

describe("@example blocks in src/", () => {
  it("import the package by the names its exports map gives", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { exports: Record<string, unknown> };
    const names = Object.keys(pkg.exports)
      .filter((k) => k !== "./package.json")
      .map((k) => (k === "." ? "vmheap" : `vmheap/${k.slice(2)}`));
    expect(names.sort()).toEqual(Object.keys(ENTRY).sort());
  });

  it("are there, one at least on every main class", () => {
    const where = new Set(examples.map((e) => e.file));
    for (const f of ["src/index.ts", "src/heap/Brk.ts", "src/memory/LinearMemory.ts", "src/memory/PhysicalMemory.ts", "src/paging/PageTable.ts", "src/paging/Tlb.ts", "src/paging/Mmu.ts", "src/vm/AddressSpace.ts", "src/vm/Swap.ts", "src/vm/MemFile.ts", "src/vm/Process.ts", "src/vm/replay.ts", "src/errors.ts", "src/heap/glibc/GlibcHeap.ts", "src/viz/heapMap.ts"]) {
      expect(where, f).toContain(f);
    }
  });

  it.each(examples.map((e, n) => [`${e.file}:${e.line}`, e, n] as const))("%s prints what it says", async (_name, ex, n) => {
    const expected = expectedOutput(ex.code);
    expect(expected.length, "an example shows its results with console.log").toBeGreaterThan(0);
    expect(await run(ex, n)).toEqual(expected);
  });
});

describe("typedoc", () => {
  it("documents every export: no warning with --validation.notDocumented", () => {
    const bin = path.join(ROOT, "node_modules/typedoc/bin/typedoc");
    const r = spawnSync(process.execPath, [bin, "--validation.notDocumented", "--treatWarningsAsErrors", "--emit", "none", "--logLevel", "Warn"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    const said = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
    expect(said.split("\n").filter((l) => /\[(warning|error)\]/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
  }, 120_000);
});
