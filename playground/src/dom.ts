/** Small DOM helpers shared by the panels. */

/** The element with id `id` (the page is ours: a missing one is a bug). */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`playground: no element #${id}`);
  return el as T;
}

/** Runs `fn` on click of button `id`. */
export function onClick(id: string, fn: () => void): void {
  $(id).addEventListener("click", fn);
}

/** A new element with text and, optionally, a class. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== "") e.textContent = text;
  if (className !== "") e.className = className;
  return e;
}

/** An integer read from input `id`, or NaN. */
export function intOf(id: string): number {
  const v = $<HTMLInputElement>(id).value.trim();
  return /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
}

/** `0x…` */
export const hex = (n: number): string => "0x" + n.toString(16);
