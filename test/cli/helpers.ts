/**
 * Runs the `vmheap` command in-process, as `run(argv, io)`, capturing what it prints and the
 * files it writes.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/main.js";

export const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
export const traces = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "shared", "traces", "wee_alloc");

export interface CliResult {
  code: number;
  out: string[];
  err: string[];
  /** Files the command wrote: path → contents. */
  files: Map<string, string>;
  /** stdout parsed as JSON. */
  json<T = Record<string, unknown>>(): T;
}

export function cli(...argv: string[]): CliResult {
  const out: string[] = [];
  const err: string[] = [];
  const files = new Map<string, string>();
  const code = run(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    readFile: (p) => readFileSync(p, "utf8"),
    writeFile: (p, t) => {
      if (p.startsWith("/nonexistent/")) throw Object.assign(new Error("no such directory"), { code: "ENOENT" });
      files.set(p, t);
    },
  });
  return { code, out, err, files, json: <T>() => JSON.parse(out.join("\n")) as T };
}
