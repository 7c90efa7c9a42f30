/**
 * The states the picture tests draw: the same every run, so the pictures can be snapshots.
 */
import { Heap, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, PhysicalMemory, Process, SwapSpace } from "../../src/index.js";

/** The demo's heap after its step 4: used, free, a designated victim, an aligned block, top. */
export function demoHeap(): Heap {
  const heap = new Heap();
  const [a, b, c, d] = [24, 100, 1000, 40].map((n) => heap.malloc(n)) as [number, number, number, number];
  heap.free(b);
  heap.free(c);
  heap.realloc(a, 500);
  heap.realloc(d, 2000);
  const x = heap.malloc(200);
  heap.malloc(200);
  heap.realloc(x, 1000);
  heap.posixMemalign(4096, 100);
  return heap;
}

/** A heap with several free chunks of a few sizes, none adjacent: lists of more than one chunk. */
export function listsHeap(): { heap: Heap; freed: number[] } {
  const heap = new Heap();
  const sizes = [40, 100, 40, 100, 40, 300, 2000, 40, 100];
  const ptrs = sizes.flatMap((n) => [heap.malloc(n), heap.malloc(24)]); // a guard after each
  const freed = [0, 2, 4, 6, 8, 10, 12, 14, 16].map((i) => ptrs[i]!);
  for (const p of freed) heap.free(p);
  return { heap, freed };
}

/** A process with text, data, bss, a heap, a 64 MiB mapping with 10 pages written and one read. */
export function processScene(): { ram: PhysicalMemory; proc: Process; region: number; small: number } {
  const ram = new PhysicalMemory({ frames: 512 });
  const proc = Process.spawn({ memory: ram, text: new Uint8Array(3 * 4096).fill(0x90), data: new TextEncoder().encode("data"), bssSize: 20_000, path: "/usr/bin/demo" });
  const small = proc.heap.malloc(100);
  for (let i = 0; i < 40; i++) proc.heap.malloc(1000);
  proc.as.writeBytes(small, new TextEncoder().encode("parent"));
  const region = proc.as.mmap(0, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < 10; i++) proc.as.write8(region + i * (1 << 20), 1);
  proc.as.read8(region + (12 << 20));
  return { ram, proc, region, small };
}

/** The process scene forked, the child having written one page of the heap. */
export function forkScene(): { ram: PhysicalMemory; parent: Process; child: Process } {
  const { ram, proc, small } = processScene();
  const child = proc.fork();
  child.as.write8(small, 7);
  return { ram, parent: proc, child };
}

/** 64 pages written with at most 16 resident: 48 in swap. */
export function swapScene(): { proc: Process; region: number } {
  const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 128 }), swap: new SwapSpace({ slots: 128 }), maxResidentPages: 16 });
  const region = proc.as.mmap(0, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < 64; i++) proc.as.write32(region + i * 4096, i);
  return { proc, region };
}

/** Every `<tag ...>` opening tag of `svg` whose attributes include `class="cls"`, as attribute maps. */
export function elements(svg: string, cls: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of svg.matchAll(/<(\w+)((?:\s+[\w-]+="[^"]*")*)\s*\/?>/g)) {
    const attrs: Record<string, string> = { tag: m[1]! };
    for (const a of m[2]!.matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    if ((attrs.class ?? "").split(" ").includes(cls)) out.push(attrs);
  }
  return out;
}

/** The `<g>` element with `class="cls"` starting at each match, with its whole content. */
export function groups(svg: string, cls: string): string[] {
  const out: string[] = [];
  const open = new RegExp(`<g class="${cls}"`, "g");
  for (const m of svg.matchAll(open)) {
    let depth = 0;
    const re = /<g\b|<\/g>/g;
    re.lastIndex = m.index!;
    for (let t = re.exec(svg); t !== null; t = re.exec(svg)) {
      depth += t[0] === "</g>" ? -1 : 1;
      if (depth === 0) {
        out.push(svg.slice(m.index!, t.index + 4));
        break;
      }
    }
  }
  return out;
}

/** Checks that `svg` is one well-formed SVG element (tags balanced, attributes quoted). */
export function wellFormed(svg: string): boolean {
  if (!svg.startsWith("<svg ") || !svg.trimEnd().endsWith("</svg>")) return false;
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)(\w+)((?:\s+[\w-]+="[^"<>]*")*)\s*(\/?)>/g)) {
    if (m[4] === "/") continue;
    if (m[1] === "/") {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]!);
  }
  // Every "<" starts a tag the pattern above understood: no stray markup in the text.
  const tags = [...svg.matchAll(/<(\/?)(\w+)((?:\s+[\w-]+="[^"<>]*")*)\s*(\/?)>/g)].length;
  return stack.length === 0 && tags === (svg.match(/</g) ?? []).length;
}
