#!/usr/bin/env node
// Records the traces of found/ (each a minimized trace on which the model
// once differed from glibc, with what was wrong in its # lines) against this
// machine's glibc 2.36 with scripts/glibc/replay.c, as ../make-fixtures.mjs
// does for the mechanism traces: test/fixtures/glibc/fuzz/<name>.rep, .out and
// manifest.json (with the run's heap0 and &main_arena). The outputs include
// the heap dump. test/heap/glibc/fuzz.test.ts replays them on the model.
//
//   node scripts/glibc/fuzz/make-fixtures.mjs [--check]

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDriver, versionOf, writeOrCheck } from '../fixtures.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const check = process.argv.includes('--check');

const { tmp, bin } = buildDriver(join(here, '../replay.c'), 'glibc-fuzz-fixtures-');

const files = new Map();
const manifest = {
  glibc: null,
  machine: null,
  about:
    'Minimized traces on which the model once differed from glibc 2.36 (found by scripts/glibc/fuzz/fuzz.mjs or by reading malloc.c), replayed by scripts/glibc/replay.c -d; heap0 and mainArena are the absolute addresses of each run (ASLR off).',
  fixtures: [],
};
for (const f of readdirSync(join(here, 'found')).filter((f) => f.endsWith('.rep')).sort()) {
  const name = f.slice(0, -4);
  const path = join(here, 'found', f);
  const r = spawnSync('setarch', ['-R', 'env', '-i', bin, '-i', '-d', path], { maxBuffer: 1 << 28 });
  const m = /heap0=(0x[0-9a-f]+) main_arena=(0x[0-9a-f]+)/.exec(r.stderr.toString());
  if (r.status !== 0 || !m) throw new Error(`${name}: replay exited ${r.status}: ${r.stderr}`);
  const text = readFileSync(path, 'utf8');
  const out = r.stdout.toString();
  manifest.glibc ??= out.slice(0, out.indexOf('\n'));
  files.set(`test/fixtures/glibc/fuzz/${name}.rep`, Buffer.from(text));
  files.set(`test/fixtures/glibc/fuzz/${name}.out`, r.stdout);
  manifest.fixtures.push({
    name,
    trace: `test/fixtures/glibc/fuzz/${name}.rep`,
    output: `test/fixtures/glibc/fuzz/${name}.out`,
    ops: out.split('\n').filter((l) => /^\d/.test(l)).length,
    heap0: m[1],
    mainArena: m[2],
    what: text.split('\n').filter((l) => l.startsWith('#')).map((l) => l.slice(1).trim()).join(' '),
  });
}
manifest.machine = {
  glibc: versionOf('ldd'),
  gcc: versionOf('gcc'),
  arch: 'x86_64',
};
files.set('test/fixtures/glibc/fuzz/manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
rmSync(tmp, { recursive: true, force: true });

writeOrCheck(root, files, ['test/fixtures/glibc/fuzz'], check);
