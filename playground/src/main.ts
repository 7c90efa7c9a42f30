/**
 * The playground page: three panels over the library, and a line saying whether the page is
 * cross-origin isolated (then `SharedArrayBuffer` exists and the memories use it; else they
 * fall back to `ArrayBuffer`, which is all a plain static host gives).
 */
import { $, el } from "./dom.js";
import { heapBacking, setUpHeapPanel } from "./heapPanel.js";
import { setUpPagingPanel } from "./pagingPanel.js";
import { ramBacking, setUpProcessPanel } from "./processPanel.js";

function setUpTabs(): void {
  const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>("#tabs button"));
  for (const t of tabs) {
    t.addEventListener("click", () => {
      for (const u of tabs) {
        const on = u === t;
        u.setAttribute("aria-selected", String(on));
        $(u.dataset.panel!).hidden = !on;
      }
    });
  }
}

function showEnvironment(): void {
  const isolated = globalThis.crossOriginIsolated === true;
  const sab = typeof SharedArrayBuffer === "function";
  const env = $("env");
  env.dataset.isolated = String(isolated);
  env.dataset.sab = String(sab);
  env.dataset.heapMemory = heapBacking();
  env.dataset.ram = ramBacking();
  env.replaceChildren(
    "cross-origin isolated: ",
    el("span", isolated ? "yes" : "no", `flag ${isolated ? "yes" : "no"}`),
    ` · SharedArrayBuffer ${sab ? "available" : "absent"} · the heap's memory is a${heapBacking() === "ArrayBuffer" ? "n" : ""} `,
    el("code", heapBacking()),
    ", the process's RAM a" + (ramBacking() === "ArrayBuffer" ? "n " : " "),
    el("code", ramBacking()),
  );
}

setUpTabs();
setUpHeapPanel();
setUpProcessPanel();
setUpPagingPanel();
showEnvironment();
