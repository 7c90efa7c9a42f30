// The cases of scripts/linux/faults.c run on the model, printed in the program's own format, so
// that a test compares them with test/fixtures/linux/faults.txt line by line.
import { readFileSync } from "node:fs";
import { AddressSpace, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MemFile, PhysicalMemory, PROT_READ, PROT_WRITE } from "../../../src/index.js";

const P = 4096;
const N = 256;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** What the real program printed, by case (the first word of each line). */
export function recorded(): Map<string, string> {
  const text = readFileSync(new URL("../../fixtures/linux/faults.txt", import.meta.url), "utf8");
  return new Map(text.trim().split("\n").map((l) => [l.split(" ")[0]!, l]));
}

interface Counts { vmsize: number; rss: number; minflt: number; majflt: number }

function counts(as: AddressSpace): Counts {
  const s = as.status();
  return { vmsize: s.vmSize / 1024, rss: s.vmRss / 1024, minflt: s.minorFaults, majflt: s.majorFaults };
}

/** Runs `body` on `as` and prints the deltas as faults.c does (KiB and fault counts). */
function measure(label: string, as: AddressSpace, body: () => void): string {
  const a = counts(as);
  body();
  const b = counts(as);
  return `${label} vmsize=${b.vmsize - a.vmsize} rss=${b.rss - a.rss} minflt=${b.minflt - a.minflt} majflt=${b.majflt - a.majflt}`;
}

/** The model's lines for every case of faults.c, by case. */
export function modelled(): Map<string, string> {
  const as = new AddressSpace({ memory: new PhysicalMemory({ frames: 2048 }) });
  const lines: string[] = [];
  let m = 0;
  lines.push(measure("map-256", as, () => { m = as.mmap(0, N * P, RW, ANON); }));
  lines.push(measure("write-256", as, () => { for (let i = 0; i < N; i++) as.write8(m + i * P, 1); }));
  const z = as.mmap(0, N * P, RW, ANON);
  lines.push(measure("read-fresh-256", as, () => { for (let i = 0; i < N; i++) as.read8(z + i * P); }));
  lines.push(measure("write-after-read-256", as, () => { for (let i = 0; i < N; i++) as.write8(z + i * P, 2); }));
  const x = as.mmap(0, 2 * P, RW, ANON);
  lines.push(measure("write-across-pages", as, () => as.write32(x + P - 2, 0x11223344)));

  for (let i = 0; i < N; i++) as.write8(m + i * P, i & 0xff);
  const child = as.fork();
  lines.push(measure("fork-child-read-256", child, () => { for (let i = 0; i < N; i++) child.read8(m + i * P); }));
  lines.push(measure("fork-child-write-256", child, () => { for (let i = 0; i < N; i++) child.write8(m + i * P, 0xee); }));
  child.close();
  let same = 1;
  for (let i = 0; i < N; i++) same &= Number(as.read8(m + i * P) === (i & 0xff));
  lines.push(`fork-parent-unchanged ${same}`);
  lines.push(measure("fork-parent-write-256-after-child-exit", as, () => { for (let i = 0; i < N; i++) as.write8(m + i * P, 3); }));

  const file = new MemFile(new Uint8Array(2 * P).fill(3), "scratch.bin");
  const priv = as.mmap(0, 2 * P, RW, MAP_PRIVATE, file, 0);
  const shared = as.mmap(0, 2 * P, RW, MAP_SHARED, file, 0);
  for (const base of [priv, shared]) for (let i = 0; i < 2; i++) as.read8(base + i * P);
  lines.push(measure("private-file-first-write", as, () => as.write8(priv, 9)));
  lines.push(`private-file-others-see ${as.read8(shared)} ${as.read8(priv)}`);
  as.write8(shared + 100, 42);
  as.write8(shared + P + 100, 43);
  lines.push(`shared-write-seen-by-private copied=${as.read8(priv + 100)} uncopied=${as.read8(priv + P + 100)}`);
  return new Map(lines.map((l) => [l.split(" ")[0]!, l]));
}
