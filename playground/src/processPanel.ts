/**
 * The process panel: a process keeps 42 in `x = malloc(16)`; `fork()` makes a copy-on-write
 * child; each side writes `*x` and the page's frame, the maps, the counters and the fault
 * events of both are shown.
 */
import { PhysicalMemory, Process, SwapSpace, snapshotAddressSpace, type AddressSpace, type VmEvent } from "vmheap";
import { addressSpaceSvg, framesSvg } from "vmheap/viz";
import { $, el, hex, intOf, onClick } from "./dom.js";

let ram: PhysicalMemory;
let parent: Process;
let child: Process | null;
let x: number;
const unsubscribe: (() => void)[] = [];

/** The process panel's RAM, for the page's header: SharedArrayBuffer or ArrayBuffer. */
export function ramBacking(): string {
  return ram.shared ? "SharedArrayBuffer" : "ArrayBuffer";
}

function describe(e: VmEvent): string {
  switch (e.type) {
    case "fault":
      return `${e.kind} fault (${e.cause}) on ${e.access} at ${hex(e.address)}`;
    case "evict":
      return `evicted ${hex(e.address)} from frame ${e.frame} to ${e.to}`;
    case "swap-in":
      return `swapped in ${hex(e.address)} to frame ${e.frame}`;
    case "mmap":
      return `mmap ${hex(e.address)}, ${e.length} B`;
    case "munmap":
      return `munmap ${hex(e.address)}, ${e.length} B`;
    default:
      return `${(e as { type: string }).type} at ${hex((e as { address: number }).address)}`;
  }
}

function listen(as: AddressSpace, list: string): void {
  $(list).replaceChildren();
  unsubscribe.push(as.on((e) => $(list).append(el("li", describe(e)))));
}

/** Where x's page is: its frame, and how many share it. */
function pageOf(p: Process): string {
  const page = x - (x % p.as.pageSize);
  const info = snapshotAddressSpace(p.as).pages.find((pg) => pg.address === page);
  if (info === undefined) return `x's page ${hex(page)}: not in memory`;
  if (info.state === "swapped") return `x's page ${hex(page)}: in swap slot ${info.slot}`;
  const shared = info.refs > 1 ? `shared by ${info.refs}, copy-on-write` : "its own";
  return `x's page ${hex(page)}: frame ${info.frame} (${shared})`;
}

function statusText(p: Process): string {
  const s = p.status();
  const kib = (n: number): string => `${n / 1024} kB`;
  return [
    `VmSize        ${kib(s.vmSize)}`,
    `VmRSS         ${kib(s.vmRss)}`,
    `VmSwap        ${kib(s.vmSwap)}`,
    `minor faults  ${s.minorFaults}`,
    `major faults  ${s.majorFaults}`,
  ].join("\n");
}

/** `/proc/self/maps`, with the padding before the name column cut to two spaces to fit the panel. */
function mapsText(p: Process): string {
  return p.maps().replace(/ {2,}(?=\S)/g, "  ");
}

function show(): void {
  $("proc-parent-title").textContent = `parent (pid ${parent.pid})`;
  $("proc-parent-value").textContent = String(parent.as.read32(x));
  $("proc-parent-page").textContent = pageOf(parent);
  $("proc-parent-status").textContent = statusText(parent);
  $("proc-parent-maps").textContent = mapsText(parent);
  const owners = child === null ? [{ name: "parent", space: parent }] : [{ name: "parent", space: parent }, { name: "child", space: child }];
  $("proc-frames").innerHTML = framesSvg(ram, owners, { columns: 32 });
  $("proc-parent-space").innerHTML = addressSpaceSvg(parent, { title: "parent's pages" });
  $<HTMLButtonElement>("proc-fork").disabled = child !== null;
  $<HTMLButtonElement>("proc-child-write").disabled = child === null;
  if (child === null) {
    $("proc-child-title").textContent = "child";
    $("proc-child-value").textContent = "–";
    $("proc-child-page").textContent = "";
    $("proc-child-status").textContent = "";
    $("proc-child-maps").textContent = "no child yet: press fork()";
    $("proc-child-space").replaceChildren();
    return;
  }
  $("proc-child-title").textContent = `child (pid ${child.pid}, parent ${child.ppid})`;
  $("proc-child-value").textContent = String(child.as.read32(x));
  $("proc-child-page").textContent = pageOf(child);
  $("proc-child-status").textContent = statusText(child);
  $("proc-child-maps").textContent = mapsText(child);
  $("proc-child-space").innerHTML = addressSpaceSvg(child, { title: "child's pages" });
}

function reset(): void {
  for (const u of unsubscribe.splice(0)) u();
  child?.exit();
  parent?.exit();
  ram = new PhysicalMemory({ frames: 1024 });
  parent = Process.spawn({ memory: ram, swap: new SwapSpace({ slots: 1024 }), text: new Uint8Array(5000), data: new Uint8Array(300), bssSize: 8192, path: "/usr/bin/demo" });
  child = null;
  x = parent.heap.malloc(16);
  parent.as.write32(x, 42);
  listen(parent.as, "proc-parent-events");
  $("proc-child-events").replaceChildren();
  $("proc-result").textContent = `parent: x = malloc(16) = ${hex(x)}; *x = 42`;
  show();
}

/** The frame holding x's page in `p`, or -1 when it has none. */
function frameOf(p: Process): number {
  const page = x - (x % p.as.pageSize);
  return snapshotAddressSpace(p.as).pages.find((pg) => pg.address === page && pg.state !== "swapped")?.frame ?? -1;
}

function write(who: "parent" | "child"): void {
  const p = who === "parent" ? parent : child;
  const v = intOf("proc-value");
  if (p === null || Number.isNaN(v)) return;
  const before = p.status().minorFaults;
  const frame = frameOf(p);
  p.as.write32(x, v);
  const faults = p.status().minorFaults - before;
  const now = frameOf(p);
  let what = "no fault: the page was already writable";
  if (faults > 0) {
    const n = `${faults} minor fault${faults === 1 ? "" : "s"}`;
    // A copy-on-write fault copies the page, unless no one else shares its frame any more:
    // then the page is just made writable again (Linux reuses it in do_wp_page).
    what = now !== frame ? `${n}: the page was copied to frame ${now}` : `${n}: no one else shares the page any more, so it was made writable without a copy`;
  }
  $("proc-result").textContent = `${who}: *x = ${v} · ${what}`;
  show();
}

/** Wires the panel's controls and spawns the first process. */
export function setUpProcessPanel(): void {
  onClick("proc-fork", () => {
    child = parent.fork();
    listen(child.as, "proc-child-events");
    $("proc-result").textContent = `fork() = ${child.pid} in the parent, 0 in the child: every private page now shared copy-on-write`;
    show();
  });
  onClick("proc-parent-write", () => write("parent"));
  onClick("proc-child-write", () => write("child"));
  onClick("proc-reset", reset);
  reset();
}
