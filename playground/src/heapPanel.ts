/**
 * The heap panel: malloc/calloc/realloc/free buttons (or a trace) drive a `Heap` through a
 * `HeapRecorder`; a `Player` shows the heap at any step of the timeline, forwards or back.
 */
import { Heap, HeapRecorder, MAP_GLYPHS, Player, chunkTable, describeStep, errnoName, formatMallinfo, heapMap, type LinearMemory, type PlayerState } from "vmheap";
import { heapSvg } from "vmheap/viz";
import { $, el, hex, intOf, onClick } from "./dom.js";
import { parseCalls } from "./trace.js";

/** A live block, by the name the page gave it. */
interface Block {
  name: string;
  ptr: number;
  size: number;
}

/** The heap's reservation: a request past it fails with ENOMEM, as malloc does. */
const HEAP_BYTES = 16 * 1024 * 1024;

let heap: Heap<LinearMemory>;
let rec: HeapRecorder;
let player: Player;
let blocks: Block[];
let named: number;
/** The step shown: 0 … player.length. */
let at: number;

/** The heap panel's memory, for the page's header: SharedArrayBuffer or ArrayBuffer. */
export function heapBacking(): string {
  return heap.memory.buffer.constructor.name;
}

function reset(): void {
  heap = new Heap({ maxBytes: HEAP_BYTES });
  rec = new HeapRecorder(heap);
  player = new Player(rec.recording());
  blocks = [];
  named = 0;
  at = 0;
  $("heap-result").textContent = "A new heap: it holds only its chunk map (m) and the top chunk (~).";
  $("heap-trace-error").textContent = "";
  refresh();
}

/** After a call: the player takes the new steps and the view jumps to the latest. */
function recorded(text: string, ptr = 0): void {
  player = new Player(rec.recording());
  at = player.length;
  const r = $("heap-result");
  r.textContent = text;
  r.dataset.ptr = String(ptr);
  r.dataset.usable = ptr !== 0 ? String(heap.mallocUsableSize(ptr)) : "0";
  refresh();
}

const usable = (p: number): string => `usable size ${heap.mallocUsableSize(p)} B`;
const nullText = (): string => `NULL · errno ${errnoName(heap.errno)}`;

function malloc(size: number, nmemb?: number): void {
  const p = nmemb === undefined ? rec.malloc(size) : rec.calloc(nmemb, size);
  const call = nmemb === undefined ? `malloc(${size})` : `calloc(${nmemb}, ${size})`;
  if (p === 0) return recorded(`${call} = ${nullText()}`);
  const b: Block = { name: `p${++named}`, ptr: p, size: nmemb === undefined ? size : nmemb * size };
  blocks.push(b);
  recorded(`${b.name} = ${call} = ${hex(p)} · ${usable(p)}`, p);
}

function selected(): Block | undefined {
  const name = $<HTMLSelectElement>("heap-block").value;
  return blocks.find((b) => b.name === name);
}

function free(b: Block): void {
  rec.free(b.ptr);
  blocks = blocks.filter((x) => x !== b);
  recorded(`free(${b.name}) · ${b.name} was ${hex(b.ptr)}`);
}

function realloc(b: Block, size: number): void {
  const q = rec.realloc(b.ptr, size);
  const call = `${b.name} = realloc(${b.name}, ${size})`;
  if (q === 0) {
    // realloc(p, 0) frees p; a failed realloc leaves it as it was.
    if (size === 0) blocks = blocks.filter((x) => x !== b);
    return recorded(size === 0 ? `${call} = NULL · the block was freed` : `${call} = ${nullText()} · ${b.name} unchanged`);
  }
  const moved = q !== b.ptr ? ` (moved from ${hex(b.ptr)})` : " (in place)";
  b.ptr = q;
  b.size = size;
  recorded(`${call} = ${hex(q)}${moved} · ${usable(q)}`, q);
}

/** Runs the trace in the text box: ids name blocks `#id`. */
function runTrace(): void {
  const err = $("heap-trace-error");
  err.textContent = "";
  let calls;
  try {
    calls = parseCalls($<HTMLTextAreaElement>("heap-trace").value);
  } catch (e) {
    err.textContent = (e as Error).message;
    return;
  }
  const byId = new Map<number, Block>();
  for (const b of blocks) if (b.name.startsWith("#")) byId.set(Number(b.name.slice(1)), b);
  let done = 0;
  for (const c of calls) {
    const b = byId.get(c.id);
    if ((c.kind === "a") === (b !== undefined)) {
      err.textContent = `line ${c.line}: block ${c.id} is ${b === undefined ? "not allocated" : "already allocated"}; ran ${done} calls`;
      break;
    }
    if (c.kind === "a") {
      const p = rec.malloc(c.size);
      if (p !== 0) {
        const nb = { name: `#${c.id}`, ptr: p, size: c.size };
        blocks.push(nb);
        byId.set(c.id, nb);
      }
    } else if (c.kind === "f") {
      rec.free(b!.ptr);
      blocks = blocks.filter((x) => x !== b);
      byId.delete(c.id);
    } else {
      const q = rec.realloc(b!.ptr, c.size);
      if (q !== 0) b!.ptr = q;
      else if (c.size === 0) {
        blocks = blocks.filter((x) => x !== b);
        byId.delete(c.id);
      }
    }
    done++;
  }
  recorded(`ran ${done} call${done === 1 ? "" : "s"} of the trace · ${blocks.length} block${blocks.length === 1 ? "" : "s"} live`);
}

/** The map with each cell coloured by what it stands for. */
function coloured(map: string): DocumentFragment {
  const cls: Record<string, string> = { [MAP_GLYPHS.used]: "g-used", [MAP_GLYPHS.usedNext]: "g-used2", [MAP_GLYPHS.free]: "g-free", [MAP_GLYPHS.top]: "g-top", [MAP_GLYPHS.meta]: "g-meta" };
  const f = document.createDocumentFragment();
  const lines = map.split("\n");
  const legend = lines.pop() ?? "";
  for (const line of lines) {
    const sp = line.indexOf(" ");
    f.append(line.slice(0, sp + 1));
    let run = "";
    let runCls = "";
    for (const ch of line.slice(sp + 1)) {
      const c = cls[ch] ?? "";
      if (c !== runCls && run !== "") {
        f.append(el("span", run, runCls));
        run = "";
      }
      run += ch;
      runCls = c;
    }
    if (run !== "") f.append(el("span", run, runCls));
    f.append("\n");
  }
  // The legend: its glyphs in their colours, the words as they are.
  for (const part of legend.split(/(\s+)/)) {
    const c = part.length <= 2 && [...part].every((ch) => cls[ch] !== undefined) ? cls[part[0]!]! : "";
    f.append(c !== "" ? el("span", part, c) : part);
  }
  return f;
}

function show(state: PlayerState): void {
  const view = { chunks: () => state.heap.chunks };
  // The latest state is the live heap: drawn from it, the picture also links each bin to its
  // free chunks (read from the heap's memory). An earlier state has only its chunks.
  const latest = at === player.length;
  const title = at === 0 ? "before any call" : `after step ${at}`;
  $("heap-svg").innerHTML = latest ? heapSvg(heap, { width: 900, title: `The heap ${title}` }) : heapSvg({ ...view, base: state.heap.base }, { width: 900, title: `The heap ${title}` });
  $("heap-svg-note").textContent = latest ? "The latest step. Hover a chunk for its address and size." : "An earlier step, rebuilt from the recording: its chunks as they were.";
  const map = $("heap-map");
  map.replaceChildren(coloured(heapMap(view, { width: 64, rows: 10 })));
  $("heap-chunks").textContent = chunkTable(view);
  // Names and values; what each field counts goes in a tooltip (the column is narrow).
  const info = formatMallinfo(state.heap.mallinfo).split("\n");
  const mi = $("heap-mallinfo");
  mi.textContent = info.map((l) => /^\S+\s+\S+/.exec(l)?.[0] ?? l).join("\n");
  mi.title = info.join("\n");
}

function refresh(): void {
  const n = player.length;
  const range = $<HTMLInputElement>("timeline");
  range.max = String(n);
  range.value = String(at);
  $("step-label").textContent = at === 0 ? `step 0 of ${n}: the heap before any call` : `step ${at} of ${n}: ${player.describe(at)}`;
  show(player.stateAt(at));

  const select = $<HTMLSelectElement>("heap-block");
  const keep = select.value;
  select.replaceChildren(...blocks.map((b) => {
    const o = el("option", `${b.name} = ${hex(b.ptr)} (${b.size} B asked)`);
    o.value = b.name;
    return o;
  }));
  if (blocks.some((b) => b.name === keep)) select.value = keep;
  for (const id of ["heap-free", "heap-realloc"]) $<HTMLButtonElement>(id).disabled = blocks.length === 0;

  const list = $("heap-steps");
  if (list.children.length > n) list.replaceChildren();
  for (let i = list.children.length; i < n; i++) {
    const li = el("li", describeStep(player.steps[i]!));
    li.addEventListener("click", () => go(i + 1));
    list.append(li);
  }
  for (let i = 0; i < n; i++) {
    const li = list.children[i] as HTMLElement;
    li.classList.toggle("current", i === at - 1);
    li.classList.toggle("future", i >= at);
  }
  // Keep the current step in view inside the list (scrollIntoView would scroll the page too).
  const cur = list.children[at - 1] as HTMLElement | undefined;
  if (cur !== undefined) {
    if (cur.offsetTop < list.scrollTop) list.scrollTop = cur.offsetTop;
    else if (cur.offsetTop + cur.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = cur.offsetTop + cur.offsetHeight - list.clientHeight;
  }
}

function go(step: number): void {
  at = Math.max(0, Math.min(player.length, step));
  refresh();
}

/** Wires the panel's controls and starts with a fresh heap. */
export function setUpHeapPanel(): void {
  onClick("heap-malloc", () => {
    const n = intOf("heap-size");
    if (Number.isNaN(n) || n < 0) return void ($("heap-result").textContent = "size must be a whole number of bytes");
    malloc(n);
  });
  onClick("heap-calloc", () => {
    const n = intOf("heap-size");
    if (Number.isNaN(n) || n < 0) return void ($("heap-result").textContent = "size must be a whole number of bytes");
    malloc(n, 4);
  });
  onClick("heap-free", () => {
    const b = selected();
    if (b !== undefined) free(b);
  });
  onClick("heap-realloc", () => {
    const b = selected();
    const n = intOf("heap-size");
    if (b !== undefined && !Number.isNaN(n) && n >= 0) realloc(b, n);
  });
  onClick("heap-trim", () => recorded(`malloc_trim(0) = ${rec.mallocTrim(0)}`));
  onClick("heap-reset", reset);
  onClick("heap-run", runTrace);
  onClick("step-first", () => go(0));
  onClick("step-back", () => go(at - 1));
  onClick("step-fwd", () => go(at + 1));
  onClick("step-last", () => go(player.length));
  $<HTMLInputElement>("timeline").addEventListener("input", (e) => go(Number((e.target as HTMLInputElement).value)));
  reset();
}
