#!/usr/bin/env node
// Regenerates test/fixtures/glibc/: builds scripts/glibc/replay.c, writes the
// traces of gen-traces.mjs, replays them and the wee_alloc traces of
// ../shared/traces against this machine's glibc under `setarch -R` with an
// empty environment, and writes the outputs and manifest.json.
//
//   node scripts/glibc/make-fixtures.mjs [--check]
//
// --check writes nothing: it compares what it would write with the
// committed files and exits 1 on any difference.

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildDriver, versionOf, writeOrCheck } from './fixtures.mjs';
import { allTraces } from './gen-traces.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const weeDir = resolve(root, '../shared/traces/wee_alloc');
const check = process.argv.includes('--check');
/** Outputs bigger than this are stored gzipped. */
const GZIP_OVER = 200 * 1024;

const { tmp, bin: replay } = buildDriver(join(here, 'replay.c'), 'glibc-replay-');

/** Files this run produces: path relative to root -> contents. */
const files = new Map();

/** heap0 and &main_arena of the last run (from replay -i). */
let addresses = null;

function run(tracePath, dump) {
  // setarch -R: no ASLR; env -i: no MALLOC_* / GLIBC_TUNABLES settings.
  const args = ['-R', 'env', '-i', replay, '-i', ...(dump ? ['-d'] : []), tracePath];
  const r = spawnSync('setarch', args, { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`replay ${tracePath} failed: ${r.stderr}`);
  const m = /heap0=(0x[0-9a-f]+) main_arena=(0x[0-9a-f]+)/.exec(r.stderr.toString());
  addresses = { heap0: m[1], mainArena: m[2] };
  return r.stdout;
}

function addOutput(base, out) {
  const gz = out.length > GZIP_OVER;
  const rel = `test/fixtures/glibc/out/${base}.out${gz ? '.gz' : ''}`;
  files.set(rel, gz ? gzipSync(out, { level: 9 }) : out);
  return rel;
}

function summary(out) {
  const text = out.toString('latin1');
  const first = text.slice(0, text.indexOf('\n'));
  let ops = 0;
  let words = 0;
  for (const line of text.split('\n')) {
    if (/^\d/.test(line)) ops++;
    else if (line.startsWith('w ')) words++;
  }
  return { first, ops, words };
}

const manifest = {
  glibc: null,
  machine: null,
  heapAlign: '0x2000000',
  about:
    'replay.c aligns heap0 to 32 MiB (its own sbrk before any malloc). heap0 and mainArena are the absolute addresses of each run (ASLR off); the outputs are relative to them.',
  fixtures: [],
};

// Own traces.
for (const t of allTraces()) {
  const rel = `test/fixtures/glibc/traces/${t.name}.rep`;
  const text = Buffer.from(t.text());
  files.set(rel, text);
  const path = join(tmp, `${t.name}.rep`);
  writeFileSync(path, text);
  const out = run(path, t.dump);
  const s = summary(out);
  manifest.glibc ??= s.first;
  manifest.fixtures.push({
    name: t.name,
    trace: rel,
    output: addOutput(t.name, out),
    ops: s.ops,
    dump: t.dump,
    dumpWords: s.words,
    heldout: t.heldout,
    what: t.what,
    ...addresses,
  });
}

// wee_alloc traces, read in place.
const weeAbout = {
  'cpp-demangle': 'a c++filt clone demangling one C++ symbol',
  dogfood: 'the tracing script itself',
  ffmpeg: 'ffmpeg converting an mp3 to flac',
  find: 'find over a directory',
  'gcc-hello': 'gcc compiling hello world',
  'grep-random-data': 'grep over 1 GB of random data',
  'grep-recursive': 'a recursive grep',
  ls: 'ls in a small directory',
  'source-map': 'the source-map-mappings benchmarks',
};
for (const f of readdirSync(weeDir).filter((f) => f.endsWith('.rep')).sort()) {
  const name = f.slice(0, -4);
  const out = run(join(weeDir, f), true);
  const s = summary(out);
  manifest.fixtures.push({
    name: `wee_alloc-${name}`,
    trace: relative(root, join(weeDir, f)),
    output: addOutput(`wee_alloc-${name}`, out),
    ops: s.ops,
    dump: true,
    dumpWords: s.words,
    heldout: false,
    what: `real program trace (wee_alloc test set): ${weeAbout[name] ?? name}`,
    ...addresses,
  });
}

manifest.machine = { glibc: versionOf('ldd'), gcc: versionOf('gcc'), arch: 'x86_64' };
files.set('test/fixtures/glibc/manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));

rmSync(tmp, { recursive: true, force: true });

writeOrCheck(root, files, ['test/fixtures/glibc/out', 'test/fixtures/glibc/traces'], check);
