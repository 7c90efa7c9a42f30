// Builds .rep traces in the extended CS:APP format of docs/glibc-fixtures.md.
// Ids are handed out fresh for every block unless the caller reuses one;
// the header (hint, num_ids, num_ops, peak) is computed from the ops.

/** A trace under construction. */
export class Trace {
  /**
   * @param {string} name file name without `.rep`
   * @param {string} what one line: the mechanism the trace exercises
   * @param {{ dump?: boolean, heldout?: boolean, gzip?: boolean }} [opts]
   */
  constructor(name, what, opts = {}) {
    this.name = name;
    this.what = what;
    this.dump = opts.dump ?? true;
    this.heldout = opts.heldout ?? false;
    this.lines = [];
    this.ops = 0;
    this.nextId = 0;
    this.maxId = -1;
    this.live = new Map(); // id -> payload bytes (for the peak)
    this.liveBytes = 0;
    this.peak = 0;
  }

  #use(id) {
    if (id > this.maxId) this.maxId = id;
    if (id >= this.nextId) this.nextId = id + 1;
    return id;
  }

  #set(id, bytes) {
    this.#drop(id);
    if (bytes > 0) {
      this.live.set(id, bytes);
      this.liveBytes += bytes;
      if (this.liveBytes > this.peak) this.peak = this.liveBytes;
    }
  }

  #drop(id) {
    const old = this.live.get(id);
    if (old !== undefined) {
      this.liveBytes -= old;
      this.live.delete(id);
    }
  }

  #op(text) {
    this.lines.push(text);
    this.ops++;
  }

  /** A `#` comment line (ignored by the replay). */
  note(text) {
    for (const l of text.split('\n')) this.lines.push(`# ${l}`);
    return this;
  }

  /** A fresh id, or `id` when given. */
  id(id) {
    return this.#use(id ?? this.nextId);
  }

  /** malloc(size) into a fresh id (or `id`); returns the id. */
  a(size, id) {
    id = this.id(id);
    this.#op(`a ${id} ${size}`);
    this.#set(id, Number(size));
    return id;
  }

  /** free(ptr[id]). */
  f(id) {
    this.#use(id);
    this.#op(`f ${id}`);
    this.#drop(id);
    return this;
  }

  /** ptr[id] = realloc(ptr[id], size); returns the id. */
  r(id, size) {
    this.#use(id);
    this.#op(`r ${id} ${size}`);
    this.#set(id, Number(size));
    return id;
  }

  /** calloc(nmemb, size); returns the id. */
  c(nmemb, size, id) {
    id = this.id(id);
    this.#op(`c ${id} ${nmemb} ${size}`);
    const n = Number(nmemb) * Number(size);
    this.#set(id, n < 2 ** 40 ? n : 0);
    return id;
  }

  /** memalign(align, size); returns the id. */
  m(align, size, id) {
    id = this.id(id);
    this.#op(`m ${id} ${align} ${size}`);
    this.#set(id, Number(size) < 2 ** 40 ? Number(size) : 0);
    return id;
  }

  /** posix_memalign(&ptr[id], align, size); returns the id. */
  p(align, size, id) {
    id = this.id(id);
    this.#op(`p ${id} ${align} ${size}`);
    this.#set(id, Number(size) < 2 ** 40 ? Number(size) : 0);
    return id;
  }

  /** aligned_alloc(align, size); returns the id. */
  A(align, size, id) {
    id = this.id(id);
    this.#op(`A ${id} ${align} ${size}`);
    this.#set(id, Number(size) < 2 ** 40 ? Number(size) : 0);
    return id;
  }

  /** malloc_trim(pad). */
  t(pad) {
    this.#op(`t ${pad}`);
    return this;
  }

  /** sbrk(increment) made by the program itself (a foreign sbrk, behind malloc's back). */
  s(increment) {
    this.#op(`s ${increment}`);
    return this;
  }

  /** mallopt(param, value). */
  o(param, value) {
    this.#op(`o ${param} ${value}`);
    return this;
  }

  /** The .rep text. */
  text() {
    const head = [0, this.maxId + 1, this.ops, this.peak];
    return `${head.join('\n')}\n${this.lines.join('\n')}\n`;
  }
}

/** mulberry32: a small seeded PRNG, enough for reproducible traces. */
export function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    /** uniform in [0, 1) */
    next,
    /** integer in [lo, hi] */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** log-uniform integer in [lo, hi] */
    log: (lo, hi) => Math.floor(Math.exp(Math.log(lo) + next() * (Math.log(hi + 1) - Math.log(lo)))),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}
