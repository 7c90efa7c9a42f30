#!/usr/bin/env -S npx tsx
// Differential fuzz of the glibc model against this machine's glibc 2.36:
// seeded random traces (gen.mjs) replayed by scripts/glibc/replay.c under
// `setarch -R env -i` and by replayGlibcTrace, compared line for line
// (calls, size words, usable sizes, breaks, mallinfo2, the heap's words).
// Every trace that differs is minimized (ops removed while it still
// differs) and written to the scratch folder.
//
//   npx tsx scripts/glibc/fuzz/fuzz.mjs [--traces N] [--seed S] [--profile P] [--ops N]
//                                       [--minutes M] [--out DIR] [--no-minimize]
//   npx tsx scripts/glibc/fuzz/fuzz.mjs --minimize FILE.rep [--out DIR]
//
// Needs gcc, setarch and glibc 2.36 (see ../README.md). Exit status 1 when
// any trace differed.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compare } from './compare.mjs';
import { fuzzTrace } from './gen.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const traces = Number(opt('traces', 1000));
const seed0 = Number(opt('seed', 1));
const minutes = Number(opt('minutes', Infinity));
const profile = opt('profile', undefined);
const ops = opt('ops', undefined);
const outDir = opt('out', '/tmp/glibc-fuzz');
const minimizeFile = opt('minimize', undefined);
mkdirSync(outDir, { recursive: true });

/** The header and op lines of a trace. */
function split(text) {
  const lines = text.split('\n').filter((l) => l !== '');
  return { head: lines.slice(0, 4), ops: lines.slice(4).filter((l) => !l.startsWith('#')) };
}

function join4(head, opLines) {
  const h = [...head];
  h[2] = String(opLines.length);
  return `${h.join('\n')}\n${opLines.join('\n')}\n`;
}

/** No op uses an id after `f` freed it (until it is allocated again): the driver would free a dangling pointer. */
function valid(opLines) {
  const dead = new Set();
  for (const l of opLines) {
    const [k, id] = l.split(' ');
    if (k === 'f' || k === 'r') {
      if (dead.has(id)) return false;
      if (k === 'f') dead.add(id);
    } else if ('acmpA'.includes(k)) dead.delete(id);
  }
  return true;
}

/** What kind of difference: the model threw (and what), or which op kind's line differs first. */
function signature(c) {
  const d = c.diffs[0] ?? '';
  const thrown = /model threw (\S+)/.exec(d);
  if (thrown) return `threw ${thrown[1]}`;
  const op = /glibc: \d+ (\S)/.exec(d);
  return op ? `line ${op[1]}` : d.startsWith('line') && d.includes('glibc: w ') ? 'dump' : 'other';
}

/** Delta debugging over the op lines: the smallest trace found that still differs the same way. */
function minimize(text, name) {
  const { head, ops: lines } = split(text);
  const first = compare(text, name);
  if (first.status !== 'differ') return { text, c: first };
  const sig = signature(first);
  const still = (cand) => {
    if (!valid(cand)) return null;
    const c = compare(join4(head, cand), name);
    return c.status === 'differ' && signature(c) === sig ? c : null;
  };
  let cur = lines;
  let best = first;
  // Ops after the first differing one cannot matter (the dump aside: keep them while it differs there).
  let n = Math.max(2, Math.ceil(cur.length / 2));
  while (cur.length > 1) {
    let removed = false;
    for (let start = 0; start < cur.length; start += n) {
      const cand = [...cur.slice(0, start), ...cur.slice(start + n)];
      if (cand.length === 0) continue;
      const c = still(cand);
      if (c) {
        cur = cand;
        best = c;
        removed = true;
        start -= n;
      }
    }
    if (!removed) {
      if (n === 1) break;
      n = Math.max(1, Math.floor(n / 2));
    }
  }
  return { text: join4(head, cur), c: best };
}

function report(name, text, c) {
  const path = join(outDir, `${name}.rep`);
  writeFileSync(path, text);
  console.log(`  -> ${path} (${split(text).ops.length} ops, ${signature(c)})\n${c.diffs.slice(0, 3).join('\n')}`);
}

if (minimizeFile) {
  const text = readFileSync(minimizeFile, 'utf8');
  const m = minimize(text, 'min');
  report('minimized', m.text, m.c);
  process.exit(m.c.status === 'differ' ? 1 : 0);
}

const t0 = Date.now();
let nTraces = 0;
let nOps = 0;
let nDumped = 0;
const bad = [];
const byProfile = {};
for (let k = 0; k < traces && Date.now() - t0 < minutes * 60000; k++) {
  const seed = seed0 + k;
  const { trace, profile: prof } = fuzzTrace(seed, { profile, ops: ops === undefined ? undefined : Number(ops) });
  const text = trace.text();
  const c = compare(text, `s${seed}`);
  nTraces++;
  nOps += trace.ops;
  if (c.dump) nDumped++;
  byProfile[prof] = (byProfile[prof] ?? 0) + 1;
  if (nTraces % 100 === 0) console.log(`${nTraces} traces, ${nOps} ops, ${bad.length} differed, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (c.status === 'same') continue;
  console.log(`seed ${seed} (${prof}, ${trace.ops} ops): ${c.status}`);
  if (c.status === 'glibc-failed') {
    console.log(`  ${c.diffs[0]}`);
    bad.push(seed);
    continue;
  }
  bad.push(seed);
  if (args.includes('--no-minimize')) report(`seed-${seed}`, text, c);
  else {
    const m = minimize(text, `s${seed}`);
    report(`seed-${seed}`, m.text, m.c);
  }
}
const secs = ((Date.now() - t0) / 1000).toFixed(0);
console.log(`${nTraces} traces, ${nOps} ops (${nDumped} with the heap dump compared), seeds ${seed0}..${seed0 + nTraces - 1}, ${secs} s; profiles ${JSON.stringify(byProfile)}`);
console.log(bad.length ? `${bad.length} differed: seeds ${bad.join(' ')}` : 'no difference');
process.exit(bad.length ? 1 : 0);
