// Pieces both benchmark scripts use: the seeded PRNG, the churn stream and command-line reading.

/** mulberry32: returns a function giving uniform floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The value of option `argv[i]`: after its `=` (`--json=out.json`), or the next argument
 * (`--json out.json`). Returns [value, index of the last argument used].
 */
export function optionValue(argv, i, die) {
  const a = argv[i];
  const eq = a.indexOf("=");
  if (eq >= 0) return [a.slice(eq + 1), i];
  if (i + 1 >= argv.length) die(`${a} needs a value`);
  return [argv[i + 1], i + 1];
}

/**
 * A worker's churn on `heap`: `run(n)` makes the first n calls of the stream `ch` (genChurn),
 * each freeing its slot's block if it holds one, else mallocing into it; `ptr` holds the
 * blocks (free what is left there when done). One copy for the workers benchmarks.
 */
export function churner(heap, ch) {
  const ptr = new Float64Array(ch.slots);
  const run = (n) => {
    const { slot, size } = ch;
    const len = slot.length;
    for (let i = 0; i < n; i++) {
      const j = slot[i % len];
      if (ptr[j] !== 0) {
        heap.free(ptr[j]);
        ptr[j] = 0;
      } else ptr[j] = heap.malloc(size[i % len]);
    }
  };
  return { run, ptr };
}

/** churn: cyclic stream of (slot, size); slot is freed if occupied, else malloc(size). Sizes log-uniform 8..4096. */
export function genChurn(slots, len, seed) {
  const rnd = mulberry32(seed);
  const slot = new Int32Array(len);
  const size = new Int32Array(len);
  const lo = Math.log(8);
  const hi = Math.log(4097);
  for (let i = 0; i < len; i++) {
    slot[i] = Math.floor(rnd() * slots);
    size[i] = Math.min(4096, Math.floor(Math.exp(lo + rnd() * (hi - lo))));
  }
  return { slots, slot, size };
}
