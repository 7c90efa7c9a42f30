/**
 * Watching the plain stores a concurrent heap's handle makes to its shared words: the moments
 * at which another thread could read them half written, or at which the thread could die.
 */

/**
 * Runs `fn` with `holder.v` (a handle's view of the shared words) seen through a proxy that
 * calls `before(index, value)` ahead of each plain store, and returns the number of those
 * stores. `before` may throw: the store is then not made (a thread that died there). Atomic
 * operations go to the array itself, uncounted: an atomic store is seen whole.
 */
export function spyStores(holder: { v: Int32Array }, before: (index: number, value: number) => void, fn: () => void): number {
  const real = holder.v;
  let stores = 0;
  const view = new Proxy(real, {
    get: (t, k) => {
      const x = Reflect.get(t, k, t) as unknown;
      return typeof x === "function" ? (x as (...a: unknown[]) => unknown).bind(t) : x;
    },
    set: (t, k, x) => {
      stores++;
      before(Number(k), Number(x));
      return Reflect.set(t, k, x, t);
    },
  });
  // (Atomics take a typed array, not a proxy of one.)
  const A = Atomics as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = new Map<string, (...a: unknown[]) => unknown>();
  for (const name of ["load", "store", "or", "and", "xor", "add", "sub", "exchange", "compareExchange", "wait", "notify"]) {
    const f = A[name]!;
    saved.set(name, f);
    A[name] = (arr: unknown, ...rest: unknown[]) => f.call(Atomics, arr === view ? real : arr, ...rest);
  }
  holder.v = view;
  try {
    fn();
  } finally {
    holder.v = real;
    for (const [name, f] of saved) A[name] = f;
  }
  return stores;
}
