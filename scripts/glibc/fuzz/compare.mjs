// Runs one trace through the real glibc (scripts/glibc/replay.c, built here)
// and through the model (replayGlibcTrace), and lists the lines that differ.
// Imported by fuzz.mjs and make-fixtures.mjs in this folder (run with tsx:
// the model is TypeScript).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { replayGlibcTrace } from '../../../src/heap/glibc/replay.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../../..');

/** Heaps bigger than this are compared without their dump (walking it in the model takes seconds). */
export const DUMP_LIMIT = 4 * 1024 * 1024;
/** RAM of the model's process, in frames; a trace that needs more is run again with FRAMES_MAX. */
const FRAMES = 65536;
const FRAMES_MAX = 262144;

// Each model run takes an ArrayBuffer of its RAM (touched lazily). Left to the garbage
// collector, many pile up, and with the kernel's heuristic overcommit the next fork (the
// driver's spawn) fails with ENOMEM: collect them every few runs.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
let runs = 0;

let driver = null;
let work = null;

/** Builds replay.c as make-fixtures.mjs does (once per process); returns [binary, scratch dir]. */
export function buildDriver() {
  if (driver) return [driver, work];
  work = mkdtempSync(join(tmpdir(), 'glibc-fuzz-'));
  driver = join(work, 'replay');
  execFileSync('gcc', ['-O2', '-fno-builtin', '-Wall', '-Wextra', '-Werror', '-Wl,-z,now', '-o', driver, join(root, 'scripts/glibc/replay.c')], { stdio: 'inherit' });
  return [driver, work];
}

/**
 * The real glibc's output for `text` (with the dump) and the run's heap0.
 * @returns {{ ok: boolean, out: string, heap0: number, mainArena: string, err: string }}
 */
export function runGlibc(text, name = 'trace', dump = true) {
  const [bin, dir] = buildDriver();
  const path = join(dir, `${name}.rep`);
  writeFileSync(path, text);
  if (++runs % 8 === 0) gc();
  const r = spawnSync('setarch', ['-R', 'env', '-i', bin, '-i', ...(dump ? ['-d'] : []), path], { maxBuffer: 1 << 30, timeout: 120000 });
  if (r.error) return { ok: false, out: '', heap0: 0, mainArena: '', err: String(r.error), status: r.status, signal: r.signal };
  const err = r.stderr.toString();
  const m = /heap0=(0x[0-9a-f]+) main_arena=(0x[0-9a-f]+)/.exec(err);
  return { ok: r.status === 0 && m !== null, out: r.stdout.toString(), heap0: m ? Number(m[1]) : 0, mainArena: m ? m[2] : '', err, status: r.status, signal: r.signal };
}

/** The final break (relative to heap0) of a driver or model output. */
function lastBrk(lines) {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = / brk=0x([0-9a-f]+)$/.exec(lines[i]);
    if (m) return parseInt(m[1], 16);
  }
  return 0;
}

/**
 * Lines of op `i` whose size word and usable size may differ: a block mapped with an
 * alignment beyond a page keeps the slack its mapping's address leaves (the model's mmap
 * places mappings elsewhere than the kernel does in a process with libc mapped).
 */
export function mmapSlackOps(lines) {
  const out = new Set();
  for (const l of lines) {
    const m = /^(\d+) ([mpA]) \d+ (\d+) \d+ -> (?:e0:)?M\+/.exec(l);
    if (m && Number(m[3]) > 4096) out.add(Number(m[1]));
  }
  return out;
}

/**
 * Compares the model with glibc on `text`.
 * @returns {{ status: 'same' | 'differ' | 'glibc-failed', diffs: string[], glibc: string[], model: string[], heap0: number, dump: boolean, exempt: number[] }}
 */
export function compare(text, name = 'trace') {
  // Without the dump first: with it only when the heap is small enough to walk in the model.
  let g = runGlibc(text, name, false);
  const dump = g.ok && lastBrk(g.out.split('\n').filter((l) => l !== '')) <= DUMP_LIMIT;
  if (g.ok && dump) g = runGlibc(text, name, true);
  if (!g.ok) return { status: 'glibc-failed', diffs: [`driver exit ${g.status} ${g.signal ?? ''}: ${g.err.trim()}`], glibc: [], model: [], heap0: 0, dump: false, exempt: [] };
  const want = g.out.split('\n').filter((l) => l !== '').slice(1);
  let model;
  try {
    const opts = { heapStart: g.heap0, arenaAddress: Number(g.mainArena), dump, check: true };
    try {
      model = replayGlibcTrace(text, { ...opts, frames: FRAMES });
    } catch (e) {
      if (e?.name !== 'OutOfMemoryError') throw e;
      model = replayGlibcTrace(text, { ...opts, frames: FRAMES_MAX });
    }
  } catch (e) {
    // The model threw where glibc went on: report the lines it printed up to there.
    return { status: 'differ', diffs: [`model threw ${e?.name}: ${e?.message}`], glibc: want, model: [], heap0: g.heap0, dump, exempt: [] };
  }
  const exempt = mmapSlackOps(want);
  const strip = (l) => l.replace(/ sz=\S+ us=\S+/, '');
  const diffs = [];
  const n = Math.max(want.length, model.length);
  for (let i = 0; i < n; i++) {
    const w = want[i] ?? '<none>';
    const m = model[i] ?? '<none>';
    const op = /^(\d+) /.exec(w);
    const same = op && exempt.has(Number(op[1])) ? strip(w) === strip(m) : w === m;
    if (!same) {
      diffs.push(`line ${i + 2}:\n  glibc: ${w}\n  model: ${m}`);
      if (diffs.length >= 5) break;
    }
  }
  return { status: diffs.length ? 'differ' : 'same', diffs, glibc: want, model, heap0: g.heap0, dump, exempt: [...exempt], mainArena: g.mainArena, raw: g.out };
}
