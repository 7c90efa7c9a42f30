/**
 * docs/recording.md shows real output: its examples are run here and every line they print
 * must be in the page as printed, so the page is updated when the library's output changes.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Heap, HeapRecorder, LinearMemory, GlibcHeap, PhysicalMemory, Player, Process, SwapSpace, chunkTable, describeStep, heapMap } from "../../src/index.js";

const page = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "recording.md"), "utf8");
const inPage = (lines: string[]): void => {
  for (const line of lines) expect(page, `docs/recording.md should show: ${line}`).toContain(line);
};

describe("docs/recording.md", () => {
  it("record what a heap does, call by call", () => {
    const rec = new HeapRecorder(new Heap());
    const a = rec.malloc(100);
    const b = rec.malloc(200);
    rec.malloc(50);
    rec.free(a);
    rec.free(b);
    rec.realloc(rec.malloc(10), 500);
    const player = new Player(rec.recording());
    inPage(Array.from({ length: player.length }, (_, i) => `${i + 1}. ${player.describe(i + 1)}`));
  });

  it("glibc's bins by name", () => {
    const rec = new HeapRecorder(GlibcHeap.linear(new LinearMemory({ maxBytes: 16 * 1024 * 1024 })));
    const ps: number[] = [];
    for (let i = 0; i < 8; i++) {
      ps.push(rec.malloc(200));
      rec.malloc(10);
    }
    for (const p of ps) rec.free(p);
    rec.malloc(1000);
    inPage(rec.recording().steps.slice(-2).map(describeStep));
  });

  it("step backwards and forwards, save and replay", () => {
    const rec = new HeapRecorder(new Heap());
    const a = rec.malloc(100);
    const b = rec.malloc(200);
    rec.free(a);
    rec.free(b);
    const player = new Player(JSON.parse(JSON.stringify(rec.recording())));
    const view = (k: number) => ({ chunks: () => player.stateAt(k).heap.chunks });
    inPage([...chunkTable(view(3)).split("\n"), ...chunkTable(view(2)).split("\n"), ...heapMap(view(3), { width: 48, rows: 4 }).split("\n")]);

    const r2 = new HeapRecorder(new Heap());
    r2.free(r2.malloc(100));
    inPage([`player.describe(2);   // '${new Player(r2.recording()).describe(2)}'`]);

    const r3 = new HeapRecorder(new Heap());
    const x = r3.malloc(100);
    r3.malloc(16);
    r3.free(x);
    const cut = JSON.parse(JSON.stringify(r3.recording())) as ReturnType<HeapRecorder["recording"]>;
    cut.steps.splice(1, 1);
    expect(() => new Player(cut).stateAt(2)).toThrow();
    try {
      new Player(cut).stateAt(2);
    } catch (e) {
      inPage([`\`${(e as Error).message}\``]);
    }
  });

  it("watch a process", () => {
    const proc = Process.spawn({ memory: new PhysicalMemory({ frames: 64 }), swap: new SwapSpace({ slots: 64 }), maxResidentPages: 8, replacement: "fifo" });
    const rec = new HeapRecorder(proc.heap);
    const big = rec.malloc(300_000);
    const p = rec.malloc(64 * 1024);
    rec.run("touch 16 pages of p", () => {
      for (let i = 0; i < 16; i++) proc.as.write8(p + i * 4096, i);
    });
    rec.free(big);
    const child = proc.fork();
    rec.run("parent writes p's last page", () => proc.as.write8(p + 15 * 4096, 99));
    child.as.write8(p, 1);
    const steps = rec.recording().steps;
    inPage(steps.map(describeStep));
    inPage(steps[2]!.vm.slice(4, 7).map((e) => JSON.stringify(e)));
  });
});
