/**
 * The command as users get it: the package packed with `npm pack`, installed from the tarball
 * into an empty folder (offline: it has no dependencies), and run with `npx vmheap`.
 *
 * Needs `npm run build` first (`npm test` and CI build before running the tests); skipped when
 * there is no dist/cli.js.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const built = existsSync(join(root, "dist", "cli.js"));
const trace = join(root, "..", "shared", "traces", "wee_alloc", "ls.rep");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";
const run = promisify(execFile);

describe.skipIf(!built)("the packed package's vmheap command", () => {
  let dir = "";
  let app = "";
  const vmheap = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(npx, ["--offline", "vmheap", ...args], { cwd: app, encoding: "utf8", timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vmheap-pack-"));
    execFileSync(npm, ["pack", "--silent", "--pack-destination", dir], { cwd: root, encoding: "utf8", timeout: 120_000 });
    const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
    app = join(dir, "app");
    mkdirSync(app);
    execFileSync(npm, ["install", "--no-audit", "--no-fund", "--offline", join(dir, tgz)], { cwd: app, encoding: "utf8", timeout: 120_000 });
  }, 240_000);

  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("installs the bin as an executable with a node shebang", () => {
    const bin = join(app, "node_modules", "vmheap", "dist", "cli.js");
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    expect(execFileSync("head", ["-1", bin], { encoding: "utf8" })).toBe("#!/usr/bin/env node\n");
  });

  it("npx vmheap: --help, replay and pagesim, in text and JSON", async () => {
    const [help, replayText, replayJson, simText, simJson, bad] = await Promise.all([
      vmheap("--help"),
      vmheap("replay", trace),
      vmheap("replay", trace, "--json"),
      vmheap("pagesim", "--policy", "fifo", "--frames", "3", "--refs", "1,2,3,4,1,2,5,1,2,3,4,5"),
      vmheap("pagesim", "--policy", "lru", "--frames", "4", "--refs", "1,2,3,4,1,2,5,1,2,3,4,5", "--json"),
      vmheap("replay", join(dir, "missing.rep")),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: vmheap COMMAND \[options\]\n/);
    for (const c of ["demo", "tour", "replay", "pagesim", "walk"]) expect(help.stdout).toMatch(new RegExp(`\\n  ${c}\\s`));

    expect(replayText.code).toBe(0);
    expect(replayText.stdout).toMatch(/ls\.rep on vmheap: 45 ids, 82 operations/);
    expect(replayText.stdout).toMatch(/peak live bytes\s+55989/);
    const r = JSON.parse(replayJson.stdout) as { ops: number; peakLive: number; maxFootprint: number; utilization: number };
    expect(r.ops).toBe(82); // the trace's line count minus its 4 header lines
    expect(r.peakLive).toBe(55989); // the peak the trace's header states
    expect(r.utilization).toBeCloseTo(r.peakLive / r.maxFootprint, 12);

    expect(simText.code).toBe(0);
    expect(simText.stdout).toMatch(/3 hits, 9 misses/);
    const s = JSON.parse(simJson.stdout) as { hits: number; misses: number; steps: unknown[] };
    expect([s.hits, s.misses, s.steps.length]).toEqual([4, 8, 12]);

    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^vmheap replay: cannot read .*missing\.rep: no such file\n$/);
  }, 120_000);
});
