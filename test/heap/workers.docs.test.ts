/**
 * docs/workers.md shows real output: its scripts (docs/workers/*.mjs, which import the built
 * package) are run here, and every line they print must be in the page as printed.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const page = readFileSync(join(root, "docs", "workers.md"), "utf8");
const built = existsSync(join(root, "dist", "index.js"));

describe.skipIf(!built)("docs/workers.md", () => {
  for (const script of ["share.mjs", "died.mjs", "snapshot.mjs"]) {
    it(`${script} prints what the page shows, and the page shows the script`, () => {
      const file = join(root, "docs", "workers", script);
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8", timeout: 30_000 });
      const lines = out.trim().split("\n");
      expect(lines.length).toBeGreaterThan(1);
      for (const line of lines) expect(page, `docs/workers.md should show: ${line}`).toContain(line);
      // The code in the page is the script's (from its import lines on).
      const code = readFileSync(file, "utf8");
      expect(page).toContain(code.slice(code.indexOf("import ")).trim());
    });
  }
});
