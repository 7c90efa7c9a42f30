/**
 * The playground in a real browser: the page is built (esbuild), served by a plain static
 * server twice — without cross-origin isolation (no COOP/COEP: no SharedArrayBuffer, the
 * memories fall back to ArrayBuffer) and with it — and driven in headless Chromium
 * (/usr/bin/chromium, through playwright-core). Each panel is clicked through and the numbers
 * it shows are checked against the library run here in Node. Screenshots of every panel go to
 * /tmp/vmheap-playground-<mode>-<panel>.png.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlayground } from "../../playground/build.js";
import { servePlayground } from "../../playground/serve.js";
import { Heap, simulateReplacement } from "../../src/index.js";
import { PAGE_POLICIES, simulate } from "../../src/viz/index.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  const [, b] = await Promise.all([buildPlayground(), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
  browser = b;
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const text = async (page: Page, sel: string): Promise<string> => (await page.textContent(sel)) ?? "";

/** docs/playground.md quotes what the page shows: each quoted line must still be what it shows. */
const guide = readFileSync(new URL("../../docs/playground.md", import.meta.url), "utf8");
const documented = (line: string): void => expect(guide, `docs/playground.md should show: ${line}`).toContain(line);
const hex = (n: number): string => "0x" + n.toString(16);

describe.each([
  { mode: "plain", isolated: false, backing: "ArrayBuffer" },
  { mode: "isolated", isolated: true, backing: "SharedArrayBuffer" },
])("the playground, $mode (COOP/COEP: $isolated)", ({ mode, isolated, backing }) => {
  let server: Server;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const s = await servePlayground({ isolated });
    server = s.server;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    await page.goto(s.url);
    await page.waitForSelector("#env[data-isolated]");
  }, 30_000);

  afterAll(async () => {
    await page?.close();
    await new Promise((r) => server?.close(r));
  });

  const shot = (panel: string): Promise<Buffer> => page.screenshot({ path: `/tmp/vmheap-playground-${mode}-${panel}.png`, fullPage: true });

  it("says whether the page is cross-origin isolated, and which memory the heap got", async () => {
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(isolated);
    expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe(isolated ? "function" : "undefined");
    const env = page.locator("#env");
    expect(await env.getAttribute("data-isolated")).toBe(String(isolated));
    expect(await env.getAttribute("data-heap-memory")).toBe(backing);
    expect(await env.getAttribute("data-ram")).toBe(backing);
    expect(await text(page, "#env")).toContain(`cross-origin isolated: ${isolated ? "yes" : "no"}`);
    documented(isolated ? (await text(page, "#env")).slice(0, 60) : await text(page, "#env"));
  });

  it("heap panel: malloc shows the address and usable size, the timeline steps back and forth", async () => {
    // The same calls on a heap made here: the page must show the same numbers.
    const ref = new Heap({ maxBytes: 16 * 1024 * 1024 });
    const p1 = ref.malloc(100);
    const p2 = ref.malloc(200);

    await page.fill("#heap-size", "100");
    await page.click("#heap-malloc");
    expect(await text(page, "#heap-result")).toBe(`p1 = malloc(100) = ${hex(p1)} · usable size 104 B`);
    documented(await text(page, "#heap-result"));
    expect(await page.getAttribute("#heap-result", "data-usable")).toBe("104");
    await page.fill("#heap-size", "200");
    await page.click("#heap-malloc");
    expect(await text(page, "#heap-result")).toBe(`p2 = malloc(200) = ${hex(p2)} · usable size ${ref.mallocUsableSize(p2)} B`);
    documented(await text(page, "#heap-result"));
    await page.selectOption("#heap-block", "p1");
    await page.click("#heap-free");
    ref.free(p1);
    expect(await text(page, "#heap-result")).toBe(`free(p1) · p1 was ${hex(p1)}`);
    documented(await text(page, "#heap-result"));
    documented(await text(page, "#step-label"));
    expect(await text(page, "#step-label")).toMatch(new RegExp(`^step 3 of 3: free\\(${hex(p1)}\\): 0x[0-9a-f]+ \\(112 B\\): used → free; bin ← free`));
    expect(await text(page, "#heap-chunks")).toMatch(new RegExp(`^0x0*${(p1 - 16).toString(16)} +112 +free`, "m"));
    expect(await text(page, "#heap-mallinfo")).toMatch(new RegExp(`uordblks\\s+${ref.mallinfo().uordblks}\\n`));
    // The picture (vmheap/viz's heapSvg): one group per chunk, p1's chunk now free.
    expect(await page.locator(`#heap-svg g.chunk[data-kind="free"][data-address="${p1 - 16}"]`).count()).toBe(1);
    expect(await page.locator("#heap-svg g.chunk").count()).toBe(ref.chunks().length);

    // Back one step: p1 is live again in the picture; the map shows no free cell.
    await page.click("#step-back");
    expect(await text(page, "#step-label")).toMatch(/^step 2 of 3: malloc\(200\) = /);
    documented(await text(page, "#step-label"));
    expect(await text(page, "#heap-chunks")).toMatch(new RegExp(`^0x0*${(p1 - 16).toString(16)} +112 +used +0x0*${p1.toString(16)} +104$`, "m"));
    expect(await page.locator(`#heap-svg g.chunk[data-kind="used"][data-address="${p1 - 16}"]`).count()).toBe(1);
    expect(await text(page, "#heap-map")).not.toMatch(/^0x[0-9a-f]+ [^\n]*\./m);
    await page.click("#step-first");
    expect(await text(page, "#step-label")).toBe("step 0 of 3: the heap before any call");
    expect(await page.locator("#heap-steps li.future").count()).toBe(3);
    await page.locator("#heap-steps li").nth(2).click();
    expect(await text(page, "#step-label")).toMatch(/^step 3 of 3: free/);
    expect(await text(page, "#heap-map")).toMatch(/^0x[0-9a-f]+ [^\n]*\./m);

    // realloc grows p2 in place into the top.
    await page.fill("#heap-size", "1000");
    await page.selectOption("#heap-block", "p2");
    await page.click("#heap-realloc");
    const q = ref.realloc(p2, 1000);
    expect(await text(page, "#heap-result")).toBe(`p2 = realloc(p2, 1000) = ${hex(q)} (in place) · usable size ${ref.mallocUsableSize(q)} B`);

    // The example trace: 8 calls, one block left.
    await page.click("#heap-run");
    expect(await text(page, "#heap-result")).toBe("ran 8 calls of the trace · 2 blocks live");
    documented(await text(page, "#heap-result"));
    expect(await page.locator("#heap-steps li").count()).toBe(12);
    await page.fill("#heap-trace", "a 0 10\nx 1");
    await page.click("#heap-run");
    expect(await text(page, "#heap-trace-error")).toBe("line 2: expected 'a id size', 'f id' or 'r id size', got 'x 1'");
    documented(await text(page, "#heap-trace-error"));
    await page.click("#step-back");
    await shot("heap");
  });

  it("process panel: after fork, a write in the child leaves the parent's value alone", async () => {
    await page.click("#tab-process");
    expect(await page.isVisible("#process-panel")).toBe(true);
    expect(await text(page, "#proc-parent-value")).toBe("42");
    documented(await text(page, "#proc-result"));
    // /proc/self/maps as the process shows it, padding cut: the program's text and the heap.
    const maps = await text(page, "#proc-parent-maps");
    expect(maps).toMatch(/^[0-9a-f]+-[0-9a-f]+ r-xp [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+ {2}\/usr\/bin\/demo$/m);
    expect(maps).toMatch(/ {2}\[heap\]$/m);
    expect(maps).toMatch(/ {2}\[stack\]$/m);
    expect(await page.locator('#proc-frames g.frame[data-state="shared"]').count()).toBe(0);
    await page.click("#proc-fork");
    expect(await text(page, "#proc-child-value")).toBe("42");
    // The frames picture: after fork every page the parent had is shared by the two.
    const sharedAfterFork = await page.locator('#proc-frames g.frame[data-state="shared"]').count();
    expect(sharedAfterFork).toBeGreaterThan(0);
    expect(await page.locator("#proc-child-space svg").count()).toBe(1);
    expect(await text(page, "#proc-parent-page")).toMatch(/frame \d+ \(shared by 2, copy-on-write\)$/);
    documented(await text(page, "#proc-result"));
    documented(await text(page, "#proc-parent-page"));
    const shared = /frame (\d+)/.exec(await text(page, "#proc-child-page"))![1];
    expect(await text(page, "#proc-parent-page")).toContain(`frame ${shared} `);

    await page.fill("#proc-value", "7");
    await page.click("#proc-child-write");
    expect(await text(page, "#proc-child-value")).toBe("7");
    expect(await text(page, "#proc-parent-value")).toBe("42");
    expect(await text(page, "#proc-result")).toMatch(/^child: \*x = 7 · 1 minor fault: the page was copied to frame (\d+)$/);
    documented(await text(page, "#proc-result"));
    documented(await text(page, "#proc-child-page"));
    documented(await text(page, "#proc-child-events"));
    expect(await text(page, "#proc-child-events")).toMatch(/minor fault \(cow\) on write at 0x/);
    expect(await text(page, "#proc-child-page")).toMatch(/frame \d+ \(its own\)$/);
    expect(await text(page, "#proc-child-page")).not.toContain(`frame ${shared} `);
    expect(await text(page, "#proc-child-status")).toMatch(/minor faults {2}1\n/);
    // x's page is the child's own now: one shared frame fewer.
    expect(await page.locator('#proc-frames g.frame[data-state="shared"]').count()).toBe(sharedAfterFork - 1);

    await page.fill("#proc-value", "5");
    await page.click("#proc-parent-write");
    expect(await text(page, "#proc-parent-value")).toBe("5");
    expect(await text(page, "#proc-child-value")).toBe("7");
    // The child took a copy, so the parent's frame is its alone: the fault makes it writable
    // again without copying (the frame stays).
    expect(await text(page, "#proc-result")).toBe("parent: *x = 5 · 1 minor fault: no one else shares the page any more, so it was made writable without a copy");
    documented(await text(page, "#proc-result"));
    expect(await text(page, "#proc-parent-page")).toBe(`x's page ${/page (0x[0-9a-f]+)/.exec(await text(page, "#proc-parent-page"))![1]}: frame ${shared} (its own)`);
    await page.fill("#proc-value", "6");
    await page.click("#proc-parent-write");
    expect(await text(page, "#proc-result")).toBe("parent: *x = 6 · no fault: the page was already writable");
    await shot("process");
  });

  it("paging panel: FIFO with 3 frames on 1,2,3,4,1,2,5,1,2,3,4,5 misses 9 times, and the rest agree with simulateReplacement", async () => {
    await page.click("#tab-paging");
    const refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
    expect(await page.inputValue("#pg-refs")).toBe(refs.join(","));
    expect(await page.getAttribute("#pg-summary", "data-misses")).toBe("9");
    expect(await text(page, "#pg-summary")).toBe("FIFO with 3 frames: 9 misses, 3 hits (hit ratio 25%)");
    documented(await text(page, "#pg-summary"));
    expect(await page.locator("#pg-table td.miss").count()).toBe(9);
    expect(await page.locator("#pg-table td.hit").count()).toBe(3);
    for (const [policy, frames] of [["fifo", 4], ["lru", 3], ["clock", 3], ["opt", 3], ["lru", 4], ["mru", 3], ["rand", 3]] as const) {
      await page.selectOption("#pg-policy", policy);
      await page.fill("#pg-frames", String(frames));
      await page.click("#pg-run");
      const want = policy === "mru" || policy === "rand" ? simulate(refs, frames, policy) : simulateReplacement(refs, frames, policy);
      expect(await page.getAttribute("#pg-summary", "data-misses")).toBe(String(want.misses));
      if (policy === "fifo") documented(await text(page, "#pg-summary"));
    }
    await page.fill("#pg-frames", "3");
    await page.selectOption("#pg-policy", "fifo");
    expect(await text(page, "#pg-compare")).toBe(`misses with 3 frames: ${PAGE_POLICIES.map((p) => `${p.toUpperCase()} ${simulate(refs, 3, p).misses}`).join(" · ")}`);
    expect(await text(page, "#pg-compare")).toContain("FIFO 9 · LRU 10 · OPT 7 · CLOCK 9");
    documented(await text(page, "#pg-compare"));
    // The fault curve rings FIFO's anomaly: 10 misses with 4 frames, 9 with 3.
    expect(await page.locator('#pg-curve circle.anomaly[data-frames="4"][data-misses="10"]').count()).toBeGreaterThan(0);
    await page.fill("#pg-refs", "1, 2, x");
    await page.click("#pg-run");
    expect(await text(page, "#pg-error")).toMatch(/^references: page numbers/);
    await page.fill("#pg-refs", refs.join(","));
    await page.click("#pg-run");
    await shot("paging");
  });

  it("logged no error or warning", () => {
    expect(problems).toEqual([]);
  });
});
