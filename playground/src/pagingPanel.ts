/**
 * The paging panel: `simulateReplacement` on a reference string, drawn as the textbook table
 * (one column per reference, one row per frame, misses marked), with every policy's count.
 */
import { anomalies, faultCurve, faultCurveSvg, simulate, PAGE_POLICIES, type PagePolicy } from "vmheap/viz";
import { $, el, intOf, onClick } from "./dom.js";

function run(): void {
  const err = $("pg-error");
  err.textContent = "";
  const policy = $<HTMLSelectElement>("pg-policy").value as PagePolicy;
  const frames = intOf("pg-frames");
  const text = $<HTMLInputElement>("pg-refs").value.trim();
  const parts = text.split(/[\s,]+/).filter((s) => s !== "");
  if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s))) {
    err.textContent = "references: page numbers separated by commas or spaces, e.g. 1,2,3,4";
    return;
  }
  if (Number.isNaN(frames) || frames < 1 || frames > 64) {
    err.textContent = "frames: a whole number from 1 to 64";
    return;
  }
  const refs = parts.map(Number);
  // FIFO, LRU, CLOCK and OPT are simulateReplacement's; RAND (seeded) and MRU come from vmheap/viz.
  const r = simulate(refs, frames, policy);
  const pct = Math.round((100 * r.hits) / refs.length);
  const summary = $("pg-summary");
  summary.textContent = `${policy.toUpperCase()} with ${frames} frame${frames === 1 ? "" : "s"}: ${r.misses} misses, ${r.hits} hits (hit ratio ${pct}%)`;
  summary.dataset.misses = String(r.misses);
  summary.dataset.hits = String(r.hits);

  const table = $("pg-table");
  const head = el("tr");
  head.append(el("th", "reference", "rowhead"), ...refs.map((p) => el("th", String(p))));
  const rows = [head];
  for (let f = 0; f < frames; f++) {
    const tr = el("tr");
    tr.append(el("th", `frame ${f}`, "rowhead"));
    r.trace.forEach((step) => {
      const page = step.frames[f];
      const loaded = !step.hit && page === step.page;
      tr.append(el("td", page === null || page === undefined ? "·" : String(page), page === null || page === undefined ? "empty" : loaded ? "loaded" : ""));
    });
    rows.push(tr);
  }
  const marks = el("tr");
  marks.append(el("th", "hit / miss", "rowhead"), ...r.trace.map((s) => el("td", s.hit ? "✓" : "✗", s.hit ? "hit" : "miss")));
  const evicted = el("tr");
  evicted.append(el("th", "evicted", "rowhead"), ...r.trace.map((s) => el("td", s.evicted === null ? "" : String(s.evicted))));
  rows.push(marks, evicted);
  table.replaceChildren(...rows);

  const all = PAGE_POLICIES.map((p) => `${p.toUpperCase()} ${simulate(refs, frames, p).misses}`).join(" · ");
  $("pg-compare").textContent = `misses with ${frames} frames: ${all}`;

  // Misses against frames, for every policy: a curve that goes up is Bélády's anomaly.
  const curve = faultCurve(refs, Math.min(64, Math.max(frames + 3, 7)), PAGE_POLICIES);
  const series = PAGE_POLICIES.map((p) => ({ name: p.toUpperCase(), misses: curve.misses[p]! }));
  const rising = series.filter((s) => anomalies(curve.frames, s.misses).length > 0).map((s) => s.name);
  const title = rising.length > 0 ? `Misses against frames: ${rising.join(", ")} ${rising.length === 1 ? "misses" : "miss"} more with more frames somewhere (ringed)` : "Misses against frames";
  $("pg-curve").innerHTML = faultCurveSvg({ frames: curve.frames, series, references: refs.length, title });
}

/** Wires the panel's controls and runs the example. */
export function setUpPagingPanel(): void {
  onClick("pg-run", run);
  for (const id of ["pg-frames", "pg-refs"]) {
    $(id).addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") run();
    });
  }
  $("pg-policy").addEventListener("change", run);
  run();
}
