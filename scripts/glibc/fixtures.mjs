// What the scripts that record glibc fixtures share (make-fixtures.mjs, attacks/ and fuzz/):
// building a C driver against this machine's glibc, and writing what a run produced, or with
// --check comparing it byte for byte with the committed files.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * Builds the C driver `src` into a fresh temporary folder: dynamic (a static binary mallocs
 * before main), `-z now` (no lazy binding at run time), `-fno-builtin` (gcc must not drop or
 * merge malloc calls).
 * @returns the folder (remove it when done) and the binary's path
 */
export function buildDriver(src, tmpPrefix) {
  const tmp = mkdtempSync(join(tmpdir(), tmpPrefix));
  const bin = join(tmp, basename(src, '.c'));
  execFileSync('gcc', ['-O2', '-fno-builtin', '-Wall', '-Wextra', '-Werror', '-Wl,-z,now', '-o', bin, src], { stdio: 'inherit' });
  return { tmp, bin };
}

/** The first line of a command's `--version`: `ldd` for glibc's, `gcc` for the compiler's. */
export function versionOf(command) {
  return execFileSync(command, ['--version']).toString().split('\n')[0];
}

/**
 * Writes `files` (path relative to `root` → bytes) after emptying `dirs` (relative to `root`),
 * or with `check` writes nothing: reports every file that differs and every file in `dirs`
 * the run did not produce, and exits 1 if there is any, 0 otherwise.
 */
export function writeOrCheck(root, files, dirs, check) {
  if (check) {
    let bad = 0;
    for (const [rel, data] of files) {
      const p = join(root, rel);
      if (!existsSync(p) || !readFileSync(p).equals(data)) {
        console.error(`differs: ${rel}`);
        bad++;
      }
    }
    for (const dir of dirs) {
      const abs = join(root, dir);
      for (const f of existsSync(abs) ? readdirSync(abs) : []) {
        if (!files.has(`${dir}/${f}`)) {
          console.error(`not produced: ${dir}/${f}`);
          bad++;
        }
      }
    }
    console.log(bad ? `${bad} file(s) differ` : `all ${files.size} files reproduced byte for byte`);
    process.exit(bad ? 1 : 0);
  }
  for (const dir of dirs) {
    rmSync(join(root, dir), { recursive: true, force: true });
    mkdirSync(join(root, dir), { recursive: true });
  }
  for (const [rel, data] of files) writeFileSync(join(root, rel), data);
  console.log(`wrote ${files.size} files under ${dirs.join(', ')}`);
}
