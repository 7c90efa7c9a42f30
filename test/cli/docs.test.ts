/**
 * docs/cli.md shows real output: every ```console block's command is run here from the
 * repository root and must print exactly the lines below it (stdout, then stderr), and every
 * picture it writes must be the file the page shows. The ```js example is run too, against the
 * sources, and its pictures checked the same way.
 *
 * After a deliberate change of output: UPDATE_DOCS=1 npx vitest run test/cli/docs.test.ts
 * rewrites the blocks and the pictures; read the diff before committing it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const docPath = join(root, "docs", "cli.md");
const update = process.env.UPDATE_DOCS === "1";

interface Block {
  command: string;
  expected: string[];
  start: number; // index in the doc's lines of the "$ vmheap" line
  end: number; // index of the closing fence
}

function consoleBlocks(lines: string[]): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```console") continue;
    let end = i + 1;
    while (lines[end] !== "```") end++;
    const command = lines[i + 1]!;
    expect(command, `line ${i + 2}`).toMatch(/^\$ vmheap /);
    out.push({ command, expected: lines.slice(i + 2, end), start: i + 1, end });
  }
  return out;
}

function runCommand(command: string): { lines: string[]; files: Map<string, string>; code: number } {
  const out: string[] = [];
  const err: string[] = [];
  const files = new Map<string, string>();
  const code = run(command.slice("$ vmheap ".length).split(" "), {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    readFile: (p) => readFileSync(join(root, p), "utf8"),
    writeFile: (p, t) => files.set(p, t),
  });
  return { lines: [...out, ...err], files, code };
}

function checkPicture(path: string, svg: string): void {
  const file = join(root, path);
  if (update) writeFileSync(file, svg);
  expect(readFileSync(file, "utf8"), `${path} is not what the command draws now (UPDATE_DOCS=1 to rewrite)`).toBe(svg);
}

describe("docs/cli.md", () => {
  const doc = readFileSync(docPath, "utf8");
  const lines = doc.split("\n");
  const blocks = consoleBlocks(lines);

  it("has its examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
  });

  it("prints what each console block shows, and draws the pictures it shows", () => {
    const rewritten = [...lines];
    for (const b of [...blocks].reverse()) {
      const r = runCommand(b.command);
      for (const [path, svg] of r.files) {
        checkPicture(path, svg);
        expect(doc, `${path} is not shown`).toContain(`](${path.replace(/^docs\//, "")})`);
      }
      if (update) rewritten.splice(b.start + 1, b.end - b.start - 1, ...r.lines);
      else expect(r.lines, `${b.command} (UPDATE_DOCS=1 to rewrite)`).toEqual(b.expected);
    }
    if (update) writeFileSync(docPath, rewritten.join("\n"));
  });

  it("its JavaScript example runs and draws the pictures it shows", async () => {
    const js = /```js\n([\s\S]*?)```/.exec(doc)![1]!;
    const written = new Map<string, string>();
    (globalThis as Record<string, unknown>).__docsWrite = (p: string, t: string) => written.set(p, t);
    const source = js
      .replace(/^import \{ writeFileSync \} from "node:fs";\n/m, "")
      .replace(/writeFileSync\(/g, "(globalThis as any).__docsWrite(")
      .replace(/from "vmheap\/viz"/g, `from ${JSON.stringify(join(root, "src", "viz", "index.ts"))}`)
      .replace(/from "vmheap"/g, `from ${JSON.stringify(join(root, "src", "index.ts"))}`);
    expect(source).not.toContain('"vmheap');
    const dir = mkdtempSync(join(tmpdir(), "vmheap-docs-"));
    try {
      const file = join(dir, "example.ts");
      writeFileSync(file, source);
      await import(/* @vite-ignore */ file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect([...written.keys()]).toEqual(["docs/images/child.svg", "docs/images/frames.svg"]);
    for (const [path, svg] of written) {
      checkPicture(path, svg);
      expect(doc).toContain(`](${path.replace(/^docs\//, "")})`);
    }
  });
});
