/**
 * docs/vm.md shows real output: each ```ts block followed by a ```text block is run here against
 * the sources, and what it logs must be the text block's lines. The quoted kernel maps must be
 * the recorded ones (test/fixtures/linux/layout-static.txt).
 *
 * After a deliberate change of output: UPDATE_DOCS=1 npx vitest run test/vm/docs.test.ts
 * rewrites the text blocks; read the diff before committing it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const docPath = join(root, "docs", "vm.md");
const update = process.env.UPDATE_DOCS === "1";

interface Example {
  code: string;
  /** Index in the doc's lines of the text block's first line, and of its closing fence. */
  start: number;
  end: number;
  expected: string[];
}

/** ```ts blocks directly followed (after a blank line) by a ```text block. */
function examples(lines: string[]): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```ts") continue;
    let j = i + 1;
    while (lines[j] !== "```") j++;
    if (lines[j + 1] !== "" || lines[j + 2] !== "```text") continue;
    let k = j + 3;
    while (lines[k] !== "```") k++;
    out.push({ code: lines.slice(i + 1, j).join("\n"), start: j + 3, end: k, expected: lines.slice(j + 3, k) });
  }
  return out;
}

/** Runs an example against the sources and returns what it logged, line by line. */
async function run(code: string, dir: string, n: number): Promise<string[]> {
  const logged: string[] = [];
  (globalThis as Record<string, unknown>).__docsLog = (...args: unknown[]) => logged.push(args.map(String).join(" "));
  const source = code.replace(/console\.log\(/g, "(globalThis as any).__docsLog(").replace(/from "vmheap"/g, `from ${JSON.stringify(join(root, "src", "index.ts"))}`);
  expect(source).not.toContain('"vmheap');
  const file = join(dir, `example${n}.ts`);
  writeFileSync(file, source);
  await import(/* @vite-ignore */ file);
  return logged.join("\n").split("\n");
}

describe("docs/vm.md", () => {
  const doc = readFileSync(docPath, "utf8");
  const lines = doc.split("\n");
  const found = examples(lines);

  it("has its examples: the layout, a PIE, madvise, mremap", () => {
    expect(found).toHaveLength(4);
  });

  it("each example logs what its text block shows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmheap-vmdocs-"));
    const rewritten = [...lines];
    try {
      const outputs: string[][] = [];
      for (let n = 0; n < found.length; n++) outputs.push(await run(found[n]!.code, dir, n));
      for (let n = found.length - 1; n >= 0; n--) {
        const ex = found[n]!;
        if (update) rewritten.splice(ex.start, ex.end - ex.start, ...outputs[n]!);
        else expect(outputs[n], `example ${n + 1} (UPDATE_DOCS=1 to rewrite)`).toEqual(ex.expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (update) writeFileSync(docPath, rewritten.join("\n"));
  });

  it("quotes the kernel's maps as recorded", () => {
    const fixture = readFileSync(join(root, "test/fixtures/linux/layout-static.txt"), "utf8").split("\n");
    const atMain = fixture.slice(fixture.indexOf("== maps at main") + 1, fixture.indexOf("== stat"));
    const i = lines.indexOf(atMain[0]!);
    expect(i).toBeGreaterThan(0);
    expect(lines.slice(i, i + atMain.length)).toEqual(atMain);
  });
});
