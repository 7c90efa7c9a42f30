#!/usr/bin/env node
// Records the heap-corruption scenarios of scenarios/*.atk against this
// machine's glibc 2.36: builds attack.c (as replay.c is built), runs each
// scenario under `setarch -R env -i LIBC_FATAL_STDERR_=1` and writes
// test/fixtures/glibc/attacks/<name>.atk (the scenario), <name>.out (what
// happened) and manifest.json (the run's absolute addresses, ASLR off).
// test/heap/glibc/attacks.test.ts runs the same steps on the model.
//
//   node scripts/glibc/attacks/make-fixtures.mjs [--check]
//
// --check writes nothing and exits 1 unless every committed byte is reproduced.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDriver, versionOf, writeOrCheck } from '../fixtures.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const check = process.argv.includes('--check');

const { tmp, bin } = buildDriver(join(here, 'attack.c'), 'glibc-attack-');

const files = new Map();
const manifest = { glibc: null, machine: null, about: '', scenarios: [] };
manifest.about =
  'attack.c runs each scenario in a forked child whose heap starts at heap0 (the break moved up to a 32 MiB boundary before malloc first runs); F = heap0 - 1 MiB. Outputs are relative to them; heap0, fake and mainArena are the absolute addresses of the run (ASLR off).';

for (const f of readdirSync(join(here, 'scenarios')).filter((f) => f.endsWith('.atk')).sort()) {
  const name = f.slice(0, -4);
  const path = join(here, 'scenarios', f);
  const r = spawnSync('setarch', ['-R', 'env', '-i', 'LIBC_FATAL_STDERR_=1', bin, path]);
  const err = r.stderr.toString();
  const m = /heap0=(0x[0-9a-f]+) fake=(0x[0-9a-f]+) main_arena=(0x[0-9a-f]+)/.exec(err);
  if (r.status !== 0 || !m) throw new Error(`${name}: attack exited ${r.status}: ${err}`);
  const text = readFileSync(path, 'utf8');
  const what = text.split('\n').filter((l) => l.startsWith('#')).map((l) => l.slice(1).trim()).join(' ');
  const out = r.stdout.toString();
  const end = out.trimEnd().split('\n').at(-1);
  files.set(`test/fixtures/glibc/attacks/${name}.atk`, Buffer.from(text));
  files.set(`test/fixtures/glibc/attacks/${name}.out`, r.stdout);
  manifest.scenarios.push({ name, end, heap0: m[1], fake: m[2], mainArena: m[3], what });
}
manifest.glibc = versionOf('ldd');
manifest.machine = { gcc: versionOf('gcc'), arch: execFileSync('uname', ['-m']).toString().trim() };
files.set('test/fixtures/glibc/attacks/manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
rmSync(tmp, { recursive: true, force: true });

writeOrCheck(root, files, ['test/fixtures/glibc/attacks'], check);
for (const s of manifest.scenarios) console.log(`${s.name.padEnd(36)} ${s.end}`);
