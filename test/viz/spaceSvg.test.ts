/**
 * addressSpaceSvg and framesSvg: snapshots, and the pictures checked against the address
 * space's own counters (regions, VmRSS, VmSwap) and the RAM's reference counts.
 */
import { describe, expect, it } from "vitest";
import { PhysicalMemory, Process } from "../../src/index.js";
import { addressSpaceSvg } from "../../src/viz/addressSpaceSvg.js";
import { framesSvg } from "../../src/viz/framesSvg.js";
import { regionPages } from "../../src/viz/pages.js";
import { elements, forkScene, processScene, swapScene, wellFormed } from "./scenes.js";

const sum = (xs: Record<string, string>[], k: string): number => xs.reduce((s, x) => s + Number(x[k]), 0);

describe("addressSpaceSvg", () => {
  it("matches its snapshots", async () => {
    await expect(addressSpaceSvg(processScene().proc)).toMatchFileSnapshot("__snapshots__/address-space.svg");
    await expect(addressSpaceSvg(swapScene().proc, { title: "64 pages written, at most 16 resident" })).toMatchFileSnapshot("__snapshots__/address-space-swap.svg");
  });

  it("draws every region, highest first, and pages that add up to VmRSS and VmSwap", () => {
    for (const proc of [processScene().proc, swapScene().proc, forkScene().child]) {
      const svg = addressSpaceSvg(proc);
      expect(wellFormed(svg)).toBe(true);
      const regions = elements(svg, "region");
      const real = proc.as.regions().reverse();
      expect(regions.map((r) => [Number(r["data-start"]), Number(r["data-end"])])).toEqual(real.map((v) => [v.start, v.end]));
      expect(regions.map((r) => Number(r["data-pages"]))).toEqual(real.map((v) => (v.end - v.start) / 4096));
      const st = proc.status();
      expect((sum(regions, "data-resident") + sum(regions, "data-shared")) * 4096).toBe(st.vmRss);
      expect(sum(regions, "data-swapped") * 4096).toBe(st.vmSwap);
    }
  });

  it("one cell per page in small regions, coloured by the page's state", () => {
    const { proc } = swapScene();
    const svg = addressSpaceSvg(proc);
    const pages = elements(svg, "page");
    const small = proc.as.regions().filter((v) => (v.end - v.start) / 4096 <= 96);
    expect(pages).toHaveLength(small.reduce((s, v) => s + (v.end - v.start) / 4096, 0));
    const states = pages.map((p) => p["data-state"]);
    expect(states.filter((s) => s === "swapped")).toHaveLength(48);
    expect(states.filter((s) => s === "resident")).toHaveLength(16);
  });

  it("a big region is a bar of proportions, with its counts", () => {
    const { proc, region } = processScene();
    const svg = addressSpaceSvg(proc);
    const big = elements(svg, "region").find((r) => Number(r["data-start"]) === region)!;
    expect(big).toMatchObject({ "data-pages": "16384", "data-resident": "10", "data-zero": "1" });
    const shares = elements(svg, "share");
    expect(shares.map((s) => [s["data-state"], s["data-count"]])).toEqual([
      ["resident", "10"],
      ["zero", "1"],
      ["untouched", "16373"],
    ]);
    expect(svg).toContain("10 resident, 1 zero (of 16384)");
  });

  it("after fork, the child's untouched-by-write pages are shared, its written one its own", () => {
    const { child } = forkScene();
    const pages = regionPages(child);
    const all = pages.flatMap((r) => r.pages);
    expect(all.filter((s) => s === "resident")).toHaveLength(1);
    expect(all.filter((s) => s === "shared").length).toBe(child.status().vmRss / 4096 - 1);
  });
});

describe("framesSvg", () => {
  it("matches its snapshot", async () => {
    const { ram, parent, child } = forkScene();
    await expect(framesSvg(ram, [{ name: "parent", space: parent }, { name: "child", space: child }])).toMatchFileSnapshot("__snapshots__/frames.svg");
  });

  it("each frame: its reference count and who maps it; shared ones as many as the RAM says", () => {
    const { ram, parent, child } = forkScene();
    const svg = framesSvg(ram, [{ name: "parent", space: parent }, { name: "child", space: child }]);
    expect(wellFormed(svg)).toBe(true);
    const frames = elements(svg, "frame");
    expect(frames.length % 32).toBe(0);
    frames.forEach((f, i) => {
      expect(Number(f["data-frame"])).toBe(i);
      if (i > 0) expect(Number(f["data-refs"])).toBe(ram.refCount(i));
    });
    expect(frames[0]!["data-state"]).toBe("zero");
    const shared = frames.filter((f) => f["data-state"] === "shared");
    expect(shared).toHaveLength(ram.sharedFrames);
    for (const f of shared) expect(f["data-owners"]).toBe("0 1");
    const inUse = frames.filter((f) => f["data-state"] !== "free");
    expect(inUse).toHaveLength(ram.usedFrames);
    // the page the child wrote: one frame each, the parent's old one and the child's copy
    expect(frames.filter((f) => f["data-state"] === "owned").map((f) => f["data-owners"]).sort()).toEqual(["0", "1"]);
  });

  it("frames no owner given maps are 'other'; the count can be fixed", () => {
    const ram = new PhysicalMemory({ frames: 64 });
    const a = Process.spawn({ memory: ram, text: new Uint8Array(4096) });
    const b = Process.spawn({ memory: ram, text: new Uint8Array(8192) });
    const svg = framesSvg(ram, [{ name: "a", space: a }], { frames: 16, columns: 8 });
    const frames = elements(svg, "frame");
    expect(frames).toHaveLength(16);
    expect(frames.filter((f) => f["data-state"] === "owned")).toHaveLength(a.status().vmRss / 4096);
    expect(frames.filter((f) => f["data-state"] === "other")).toHaveLength(b.status().vmRss / 4096);
  });
});
