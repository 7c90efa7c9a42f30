/**
 * `vmheap pagesim`: every step checked against small reference models written here (a queue
 * for FIFO, a recency list for LRU and MRU, a look-ahead for OPT), the textbook's numbers for
 * Bélády's string, and the rules every replacement obeys.
 */
import { describe, expect, it } from "vitest";
import { cli } from "./helpers.js";

const BELADY = "1,2,3,4,1,2,5,1,2,3,4,5";

interface Step {
  ref: number;
  hit: boolean;
  victim: number | null;
  frames: (number | null)[];
}
interface SimJson {
  policy: string;
  frames: number;
  refs: number[];
  hits: number;
  misses: number;
  hitRate: number;
  steps: Step[];
}

/** The victims and miss count of a policy, from a model that keeps resident pages as a list. */
function model(policy: "fifo" | "lru" | "mru" | "opt", refs: number[], frames: number): { misses: number; victims: (number | null)[] } {
  let resident: number[] = []; // fifo: load order; lru/mru: least recent first
  let misses = 0;
  const victims: (number | null)[] = [];
  refs.forEach((p, t) => {
    if (resident.includes(p)) {
      if (policy !== "fifo" && policy !== "opt") resident = [...resident.filter((q) => q !== p), p];
      victims.push(null);
      return;
    }
    misses++;
    let victim: number | null = null;
    if (resident.length === frames) {
      if (policy === "fifo" || policy === "lru") victim = resident[0]!;
      else if (policy === "mru") victim = resident[resident.length - 1]!;
      else {
        const next = (q: number): number => {
          const i = refs.indexOf(q, t + 1);
          return i < 0 ? Infinity : i;
        };
        victim = resident.reduce((a, b) => (next(b) > next(a) ? b : a));
      }
      resident = resident.filter((q) => q !== victim);
    }
    victims.push(victim);
    resident.push(p);
  });
  return { misses, victims };
}

/** Checks the rules every step of every policy obeys. */
function checkSteps(j: SimJson): void {
  let before: (number | null)[] = new Array(j.frames).fill(null);
  for (const s of j.steps) {
    expect(s.frames).toHaveLength(j.frames);
    expect(s.hit).toBe(before.includes(s.ref));
    if (s.hit) {
      expect(s.victim).toBeNull();
      expect(s.frames).toEqual(before);
    } else {
      const slot = s.victim === null ? before.indexOf(null) : before.indexOf(s.victim);
      expect(slot).toBeGreaterThanOrEqual(0);
      if (s.victim !== null) expect(before).not.toContain(null); // only a full set evicts
      const after = [...before];
      after[slot] = s.ref;
      expect(s.frames).toEqual(after);
    }
    before = s.frames;
  }
  expect(j.hits + j.misses).toBe(j.refs.length);
  expect(j.steps.filter((s) => !s.hit)).toHaveLength(j.misses);
}

const sim = (...args: string[]): SimJson => {
  const r = cli("pagesim", ...args, "--json");
  expect(r.code, r.err.join("\n")).toBe(0);
  return r.json<SimJson>();
};

describe("vmheap pagesim", () => {
  it("Belady's string: FIFO 9 misses with 3 frames and 10 with 4; LRU 10 and 8", () => {
    expect(sim("--policy", "fifo", "--frames", "3", "--refs", BELADY).misses).toBe(9);
    expect(sim("--policy", "fifo", "--frames", "4", "--refs", BELADY).misses).toBe(10);
    expect(sim("--policy", "lru", "--frames", "3", "--refs", BELADY).misses).toBe(10);
    expect(sim("--policy", "lru", "--frames", "4", "--refs", BELADY).misses).toBe(8);
  });

  it("FIFO, LRU, MRU and OPT evict what the list models say, step by step", () => {
    const strings = [BELADY, "7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1", "0,1,2,0,1,3,0,3,1,2,1"];
    for (const refs of strings) {
      const list = refs.split(",").map(Number);
      for (const policy of ["fifo", "lru", "mru", "opt"] as const) {
        for (const frames of [1, 2, 3, 4]) {
          const j = sim("--policy", policy, "--frames", String(frames), "--refs", refs);
          const m = model(policy, list, frames);
          expect(j.misses, `${policy} ${frames} ${refs}`).toBe(m.misses);
          if (policy !== "opt") expect(j.steps.map((s) => s.victim), `${policy} ${frames}`).toEqual(m.victims);
          checkSteps(j);
        }
      }
    }
  });

  it("the textbook's numbers for 7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1 with 3 frames", () => {
    // Silberschatz et al., Operating System Concepts: FIFO 15, OPT 9, LRU 12 page faults.
    const refs = "7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1";
    expect(sim("--policy", "fifo", "--frames", "3", "--refs", refs).misses).toBe(15);
    expect(sim("--policy", "opt", "--frames", "3", "--refs", refs).misses).toBe(9);
    expect(sim("--policy", "lru", "--frames", "3", "--refs", refs).misses).toBe(12);
  });

  it("clock and rand obey the replacement rules; rand repeats with its seed", () => {
    for (const policy of ["clock", "rand"]) checkSteps(sim("--policy", policy, "--frames", "3", "--random", "200", "--pages", "8", "--seed", "7"));
    const a = sim("--policy", "rand", "--frames", "3", "--random", "200", "--seed", "1");
    const b = sim("--policy", "rand", "--frames", "3", "--random", "200", "--seed", "1");
    const c = sim("--policy", "rand", "--frames", "3", "--random", "200", "--seed", "2");
    expect(a).toEqual(b);
    expect(c.refs).not.toEqual(a.refs);
  });

  it("clock gives a second chance: a page referenced since the hand passed survives", () => {
    // 1,2,3 fill; 1 hit sets its bit (all bits set anyway); 4: the hand clears 1,2,3 and takes 1.
    // then 2 is referenced (bit set again); 5: hand at frame 1 (page 2, bit set) clears it and
    // moves on to frame 2 (page 3, bit clear): page 3 goes, page 2 stays.
    const j = sim("--policy", "clock", "--frames", "3", "--refs", "1,2,3,1,4,2,5");
    expect(j.steps.map((s) => s.victim)).toEqual([null, null, null, null, 1, null, 3]);
  });

  it("--random draws N references from pages 0..M-1", () => {
    const j = sim("--random", "500", "--pages", "6", "--seed", "3");
    expect(j.refs).toHaveLength(500);
    expect(Math.min(...j.refs)).toBe(0);
    expect(Math.max(...j.refs)).toBe(5);
    expect(j.policy).toBe("fifo");
    expect(j.frames).toBe(3);
  });

  it("text: one line per reference with the victim and the frames, then the totals", () => {
    const r = cli("pagesim", "--policy", "fifo", "--frames", "3", "--refs", BELADY);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("FIFO with 3 frames, 12 references");
    expect(r.out[1]!.split(/\s+/).filter(Boolean)).toEqual(["ref", "result", "victim", "frames", "after"]);
    expect(r.out[2]!.trim()).toBe("1  miss    -       [1 . . ]");
    expect(r.out[5]!.trim()).toBe("4  miss    1       [4 2 3 ]");
    expect(r.out[10]!.trim()).toBe("2  hit     -       [5 1 2 ]");
    expect(r.out.at(-1)).toBe("  3 hits, 9 misses: hit rate 25.0%");
  });

  it("--compare: every policy, and the fault curve where FIFO goes up at 4 frames", () => {
    const r = cli("pagesim", "--compare", "--refs", BELADY, "--json");
    expect(r.code).toBe(0);
    const j = r.json<{ policies: Record<string, { hits: number; misses: number }>; curve: { frames: number[]; misses: Record<string, number[]> }; belady: Record<string, number[]> }>();
    expect(Object.keys(j.policies)).toEqual(["fifo", "lru", "opt", "clock", "rand", "mru"]);
    expect(j.policies.fifo).toEqual({ hits: 3, misses: 9 });
    expect(j.policies.lru).toEqual({ hits: 2, misses: 10 });
    expect(j.curve.frames).toEqual([1, 2, 3, 4, 5]);
    const list = BELADY.split(",").map(Number);
    for (const p of ["fifo", "lru", "mru", "opt"] as const) expect(j.curve.misses[p]).toEqual([1, 2, 3, 4, 5].map((f) => model(p, list, f).misses));
    expect(j.belady.fifo).toEqual([4]);
    expect(j.belady.lru).toEqual([]);
    expect(j.belady.opt).toEqual([]);
    const text = cli("pagesim", "--compare", "--refs", BELADY).out;
    expect(text.find((l) => /^\s+4\s/.test(l))).toMatch(/^\s+4\s+10\^\s+8\s+6\s/);
    expect(text.at(-1)).toContain("fifo: more misses at 4 frames");
  });

  it("--svg draws the fault curve", () => {
    const r = cli("pagesim", "--compare", "--refs", BELADY, "--svg", "curve.svg");
    expect(r.code).toBe(0);
    const svg = r.files.get("curve.svg")!;
    expect(svg.match(/class="series"/g)).toHaveLength(6);
    const one = cli("pagesim", "--refs", BELADY, "--svg", "one.svg");
    expect(one.files.get("one.svg")!.match(/class="series"/g)).toHaveLength(1);
  });

  it("bad command lines: exit code 2 with a message", () => {
    const cases: [string[], RegExp][] = [
      [["--policy", "lfu", "--refs", "1"], /--policy must be one of fifo, lru, opt, clock, rand, mru, got 'lfu'/],
      [["--frames", "0", "--refs", "1"], /--frames must be a whole number ≥ 1, got '0'/],
      [["--refs", "1,x,3"], /--refs: 'x' is not a page number/],
      [["--refs", ","], /--refs needs at least one page number/],
      [[], /give either --refs LIST or --random N/],
      [["--refs", "1", "--random", "3"], /give either --refs LIST or --random N/],
      [["--random", "0"], /--random must be a whole number ≥ 1, got '0'/],
      [["--random", "-3"], /^vmheap pagesim: Option '--random' argument is ambiguous\. Did you forget/],
      [["--refs"], /Option '--refs <value>' argument missing/],
    ];
    for (const [argv, re] of cases) {
      const r = cli("pagesim", ...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err[0]).toMatch(re);
    }
  });
});
