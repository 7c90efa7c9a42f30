// Seeded random traces for the differential fuzz of the glibc model: every
// trace draws a profile (which calls, which sizes) from its seed, so a seed
// names a trace for good. Ids are never used after a free (the driver keeps
// a freed pointer in its slot, the model clears it), and blocks from
// memalign with an alignment beyond a page are never freed or realloc'ed:
// when mapped, their slack depends on where mmap put them, and free would
// carry their size into the dynamic mmap threshold (see README.md).

import { Trace, rng } from '../trace-builder.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;

// mallopt parameters (malloc.h).
export const M_MXFAST = 1;
export const M_TRIM_THRESHOLD = -1;
export const M_TOP_PAD = -2;
export const M_MMAP_THRESHOLD = -3;
export const M_MMAP_MAX = -4;
export const M_CHECK_ACTION = -5;
export const M_PERTURB = -6;
export const M_ARENA_TEST = -7;
export const M_ARENA_MAX = -8;

/** Requests on both sides of every size where glibc's behaviour changes. */
const BOUNDARIES = [
  0, 1, 8, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 41, 48, 56, 57, 64, 72, 88, 96, 104, 105, 112, 113, 120, 121,
  128, 129, 136, 137, 144, 152, 153, 160, 168, 176, 184, 200, 248, 256, 500, 1000, 0x3e8, 0x3f0 - 8, 0x3f0, 0x3f8,
  0x400 - 8, 0x400, 1016, 1017, 1024, 1025, 1032, 1033, 1040, 1048, 1049, 2040, 2048, 3048, 3072, 4072, 4080, 4088,
  4096, 4097, 8184, 8192, 12288, 16384, 32760, 32768, 65520, 65528, 65536, 65537, 98304, 131000, 131048, 131056,
  131064, 131072, 131073, 131080, 135160, 135168, 200000, 262136, 262144, 393216, 524288, MiB - 8, MiB, 2 * MiB,
  4 * MiB, 32 * MiB - 8, 32 * MiB, 32 * MiB + 8,
];

/** Requests that cannot be met (both sides must fail the same way). */
// Only numbers a double holds exactly (the model takes JavaScript numbers), and 2^64 - 1, which
// fails as early as 2^64. Not PTRDIFF_MAX (2^63 - 1): it reads as 2^63, which malloc refuses at
// once, where 2^63 - 1 first sorts the unsorted bin.
const HUGE = ['4611686018427387904', '9223372036854775808', '18446744073709551615', '18446744073709549568', '70368744177664'];

const ALIGNS = [0, 1, 2, 3, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 768, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

/** Values each mallopt parameter is set to (beyond random ones). */
const MALLOPT_VALUES = {
  [M_MXFAST]: [0, 1, 7, 8, 16, 24, 32, 40, 64, 80, 120, 128, 144, 160, 161, 1000, -1],
  [M_TRIM_THRESHOLD]: [0, 1, 4096, 65536, 128 * KiB, 256 * KiB, MiB, 2147483647, -1],
  // -1 only: other negative pads make sbrk be skipped and the heap move to a mapping (its address is
  // the kernel's choice; see the mmap-stand-in fixture).
  [M_TOP_PAD]: [0, 1, 16, 100, 4096, 4097, 65536, 128 * KiB, MiB, -1],
  [M_MMAP_THRESHOLD]: [0, 1, 4096, 65536, 128 * KiB, 256 * KiB, MiB, 32 * MiB, 64 * MiB, -1],
  [M_MMAP_MAX]: [0, 1, 2, 4, 65536, -1],
  [M_PERTURB]: [0, 0x5a, 0xa5, 0xff, 0x100, 0x1ab, -1],
  [M_CHECK_ACTION]: [0, 1, 3],
  [M_ARENA_TEST]: [0, 1, 8],
  [M_ARENA_MAX]: [0, 1, 2],
  0: [0, 1],
  2: [5],
};

/** A size distribution: a function of the PRNG. */
const SIZES = {
  small: (r) => (r.next() < 0.85 ? r.int(0, 160) : r.next() < 0.7 ? r.int(161, 1100) : r.log(1100, 16 * KiB)),
  tcacheEdge: (r) => r.pick([24, 25, 40, 41, 104, 120, 121, 128, 1000, 1008, 1016, 1017, 1024, 1032, 1033, 1040, r.int(0, 1100)]),
  boundary: (r) => {
    const b = r.pick(BOUNDARIES);
    return r.next() < 0.6 ? b : Math.max(0, b + r.int(-24, 24));
  },
  mixed: (r) => (r.next() < 0.05 ? r.log(100 * KiB, 2 * MiB) : r.log(1, 64 * KiB)),
  large: (r) => (r.next() < 0.3 ? r.log(1, 4 * KiB) : r.log(4 * KiB, 4 * MiB)),
  pages: (r) => r.int(1, 64) * 4096 + r.pick([-24, -16, -8, 0, 8, 16]),
  threshold: (r) => 128 * KiB + r.int(-64, 64) * 8 + r.pick([0, 0, 0, r.int(-8 * KiB, 8 * KiB)]),
};

/** Profiles: how often each call comes, and which sizes. */
const PROFILES = {
  small: { size: 'small', live: [20, 400], w: { free: 1, realloc: 0.05, calloc: 0.05, memalign: 0.01 } },
  tcache: { size: 'tcacheEdge', live: [5, 60], w: { free: 1.2, realloc: 0.05, calloc: 0.05 } },
  boundary: { size: 'boundary', live: [10, 200], w: { free: 1, realloc: 0.1, calloc: 0.05, memalign: 0.03, trim: 0.01 } },
  mixed: { size: 'mixed', live: [20, 300], w: { free: 1, realloc: 0.1, calloc: 0.05, memalign: 0.03, trim: 0.02 } },
  large: { size: 'large', live: [3, 40], w: { free: 1, realloc: 0.2, calloc: 0.1, memalign: 0.05, trim: 0.03 } },
  realloc: { size: 'mixed', live: [10, 150], w: { free: 0.6, realloc: 1.2, calloc: 0.02 } },
  aligned: { size: 'boundary', live: [10, 150], w: { free: 1, memalign: 0.6, calloc: 0.05, realloc: 0.05 } },
  calloc: { size: 'boundary', live: [10, 150], w: { free: 1, calloc: 0.8, realloc: 0.05, trim: 0.02 } },
  pages: { size: 'pages', live: [3, 60], w: { free: 1, realloc: 0.2, calloc: 0.1, memalign: 0.05, trim: 0.05 } },
  threshold: { size: 'threshold', live: [2, 30], w: { free: 1, realloc: 0.3, calloc: 0.1, memalign: 0.05, trim: 0.05 } },
  mallopt: { size: 'boundary', live: [10, 150], w: { free: 1, realloc: 0.1, calloc: 0.05, memalign: 0.03, trim: 0.03, mallopt: 0.08 } },
  sbrk: { size: 'mixed', live: [10, 150], w: { free: 1, realloc: 0.1, calloc: 0.05, memalign: 0.02, trim: 0.03, sbrk: 0.03 } },
  chaos: { size: 'boundary', live: [5, 200], w: { free: 1, realloc: 0.3, calloc: 0.1, memalign: 0.1, trim: 0.05, mallopt: 0.05, sbrk: 0.02, huge: 0.01 } },
};

export const PROFILE_NAMES = Object.keys(PROFILES);

/**
 * The trace of `seed` (a profile drawn from the seed unless `profile` is given).
 * @returns {{ trace: Trace, profile: string }}
 */
export function fuzzTrace(seed, opts = {}) {
  const r = rng(seed);
  const profile = opts.profile ?? r.pick(PROFILE_NAMES);
  const p = PROFILES[profile];
  const sizeOf = SIZES[r.next() < 0.8 ? p.size : r.pick(Object.keys(SIZES))];
  const nops = opts.ops ?? r.int(30, 600);
  const target = r.int(p.live[0], p.live[1]);
  const w = { ...p.w };
  // Some traces stir in a little of everything.
  if (r.next() < 0.25) for (const k of ['trim', 'mallopt', 'sbrk', 'memalign', 'calloc']) w[k] = (w[k] ?? 0) + r.next() * 0.04;
  const t = new Trace(`fuzz-${seed}`, `fuzz seed ${seed}, profile ${profile}`);
  const live = []; // ids holding a block (or NULL after a failed call)
  const pinned = new Set(); // ids from memalign beyond a page (maybe mapped): kept to the end
  const freeIds = [];
  let liveBytes = 0;
  const bytes = new Map();
  const newId = () => (freeIds.length ? freeIds.pop() : t.id());
  const take = () => {
    const i = r.int(0, live.length - 1);
    const id = live[i];
    live[i] = live[live.length - 1];
    live.pop();
    return id;
  };
  const setBytes = (id, n) => {
    liveBytes += n - (bytes.get(id) ?? 0);
    bytes.set(id, n);
  };
  const size = () => {
    let s = sizeOf(r);
    if (liveBytes + s > 192 * MiB) s = r.int(0, 4096);
    return s;
  };
  // Occasionally start with mallopt settings made before the first malloc.
  if (r.next() < 0.1) mallopt(t, r);
  const kinds = ['alloc', 'free', 'realloc', 'calloc', 'memalign', 'trim', 'mallopt', 'sbrk', 'huge'];
  while (t.ops < nops) {
    const fullness = live.length / target;
    const weights = kinds.map((k) => (k === 'alloc' ? Math.max(0.05, 1.6 - fullness) : k === 'free' ? (live.length ? (w.free ?? 1) * fullness : 0) : (w[k] ?? 0)));
    const total = weights.reduce((a, b) => a + b, 0);
    let x = r.next() * total;
    let kind = kinds[0];
    for (let k = 0; k < kinds.length; k++) {
      if ((x -= weights[k]) < 0) {
        kind = kinds[k];
        break;
      }
    }
    if ((kind === 'realloc' || kind === 'free') && live.length === 0) kind = 'alloc';
    switch (kind) {
      case 'alloc': {
        const id = newId();
        const s = size();
        t.a(s, id);
        setBytes(id, s);
        live.push(id);
        break;
      }
      case 'calloc': {
        const id = newId();
        const s = size();
        const n = r.pick([0, 1, 1, 1, 2, 3, 4, 10, 16]);
        const each = n === 0 ? s : Math.floor(s / n);
        t.c(n, each, id);
        setBytes(id, n * each);
        live.push(id);
        break;
      }
      case 'memalign': {
        const id = newId();
        const al = r.next() < 0.03 ? r.pick(['4611686018427387904', '9223372036854775808', '13835058055282163712']) : r.pick(ALIGNS);
        const s = r.next() < 0.5 ? size() : r.int(0, 2048);
        const k = r.next();
        if (k < 0.4) t.m(al, s, id);
        else if (k < 0.75) t.p(al, s, id);
        else t.A(al, s, id);
        setBytes(id, s);
        if (typeof al !== 'number' || al > 4096) pinned.add(id);
        else live.push(id);
        break;
      }
      case 'realloc': {
        const id = take();
        const old = bytes.get(id) ?? 0;
        const y = r.next();
        const s = y < 0.02 ? 0 : y < 0.5 ? size() : Math.max(0, old + r.int(-256, 512));
        t.r(id, s);
        setBytes(id, s);
        if (s === 0) freeIds.push(id); // realloc(p, 0) frees: the slot is NULL, never dangling
        else live.push(id);
        break;
      }
      case 'free': {
        const id = take();
        t.f(id);
        setBytes(id, 0);
        freeIds.push(id);
        break;
      }
      case 'trim':
        t.t(r.pick([0, 0, 0, 1, 16, 4096, 65536, 128 * KiB, MiB, r.int(0, 1 << 20)]));
        break;
      case 'mallopt':
        mallopt(t, r);
        break;
      case 'sbrk':
        t.s(r.pick([0, 1, 8, 15, 16, 17, 100, 4095, 4096, 4097, 8192, 65536, 200000]));
        break;
      case 'huge': {
        const id = newId();
        const h = r.pick(HUGE);
        const k = r.next();
        if (k < 0.5) t.a(h, id);
        else if (k < 0.8) t.c(r.pick([1, 2, '4294967296']), h, id);
        else t.m(r.pick([16, 64, 4096]), h, id);
        setBytes(id, 0);
        live.push(id);
        break;
      }
    }
  }
  return { trace: t, profile };
}

function mallopt(t, r) {
  const params = Object.keys(MALLOPT_VALUES).map(Number);
  const param = r.pick(params);
  const value = r.next() < 0.8 ? r.pick(MALLOPT_VALUES[param]) : r.int(0, 1 << 18);
  t.o(param, value);
}
