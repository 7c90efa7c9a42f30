/**
 * The built `vmheap` command (dist/cli.js, built by `npm test` before the tests run) does only
 * what it is asked: the demo module it bundles must not run on its own.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const cli = join(__dirname, "../../dist/cli.js");

describe.runIf(existsSync(cli))("dist/cli.js", () => {
  it("--help prints the usage and nothing of the demo", () => {
    const out = execFileSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    expect(out.startsWith("Usage: vmheap COMMAND")).toBe(true);
    expect(out).not.toContain("vmheap demo: a glibc-style malloc");
  });
});
