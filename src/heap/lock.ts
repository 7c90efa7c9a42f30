/**
 * The lock words of a concurrent heap: futexes in the heap's own memory, used with `Atomics`,
 * that say which thread holds them.
 *
 * ```text
 *   ┌─┬─┬──────────────────────────────────────────────┐
 *   │0│W│ holder: threadId + 1 (0: the lock is free)     │   W = WAITERS: someone waits (or asks
 *   └─┴─┴──────────────────────────────────────────────┘       for the lock, see arenas.ts)
 *    31 30 29                                         0
 * ```
 *
 * Recording the holder in the word itself costs nothing more than a plain futex (one
 * compare-and-swap to take the lock, one exchange to give it back) and lets another thread,
 * after `worker.terminate()`, find the locks the dead worker held: `Heap.recover`.
 */

/** Set in a lock word while a thread waits for it: the holder must wake it (and an arena's holder gives it up soon). */
export const WAITERS = 0x4000_0000;
/** The holder bits of a lock word. */
export const HOLDER = 0x3fff_ffff;
/** Milliseconds a waiter sleeps before looking again (a lost wake-up costs no more than this). */
const WAIT_MS = 5;

/** The `threadId` of the running thread where the runtime has one (Node's `worker_threads`), else -1. */
export function runtimeThreadId(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const wt = typeof proc?.getBuiltinModule === "function" ? (proc.getBuiltinModule("node:worker_threads") as { threadId?: unknown } | undefined) : undefined;
  const id = wt?.threadId;
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0 && id < HOLDER ? id : -1;
}

/** Takes lock word `i` of `v` for holder `id` if it is free. */
export function tryLock(v: Int32Array, i: number, id: number): boolean {
  return Atomics.compareExchange(v, i, 0, id) === 0;
}

/**
 * Takes lock word `i` of `v` for holder `id`, waiting as long as it takes. A thread that had to
 * wait takes the lock with WAITERS set, as it cannot know whether others still wait (the
 * classic futex mutex: at worst one wake-up too many). A word with no holder is free, WAITERS
 * or not (see {@link yieldLock}).
 */
export function lock(v: Int32Array, i: number, id: number): void {
  if (Atomics.compareExchange(v, i, 0, id) === 0) return;
  for (;;) {
    let cur = Atomics.load(v, i);
    if ((cur & HOLDER) === 0) {
      if (Atomics.compareExchange(v, i, cur, id | WAITERS) === cur) return;
      continue;
    }
    if ((cur & WAITERS) === 0) {
      if (Atomics.compareExchange(v, i, cur, cur | WAITERS) !== cur) continue;
      cur |= WAITERS;
    }
    sleep(v, i, cur);
  }
}

/**
 * Gives lock word `i` of `v` back to the threads waiting for it: the word keeps WAITERS with
 * no holder, so that a plain `compareExchange(0 → id)` (an arena's owner taking its arena back,
 * see arenas.ts) fails and the owner lets a waiter go first ({@link reclaim}).
 */
export function yieldLock(v: Int32Array, i: number): void {
  Atomics.store(v, i, WAITERS);
  Atomics.notify(v, i, 1);
}

/**
 * Takes lock word `i` of `v` back for `id` after {@link yieldLock} or while others hold it:
 * a word left free with WAITERS is taken only after the waiters had `graceMs` to take it.
 */
export function reclaim(v: Int32Array, i: number, id: number, graceMs: number): void {
  for (let waited = false; ; ) {
    const cur = Atomics.load(v, i);
    if (cur === 0) {
      if (Atomics.compareExchange(v, i, 0, id) === 0) return;
    } else if ((cur & HOLDER) === 0) {
      if (!waited) {
        waited = true;
        try {
          Atomics.wait(v, i, cur, graceMs);
        } catch {
          // (a browser's main thread cannot wait: no grace there)
        }
        continue;
      }
      // Nobody took it: the waiter gave up or died. Taken without WAITERS (a thread still
      // waiting sets it again when it next looks), or every call would wait again.
      if (Atomics.compareExchange(v, i, cur, id) === cur) return;
    } else {
      lock(v, i, id);
      return;
    }
  }
}

/** Waits while word `i` of `v` holds `value`, for at most a few milliseconds. */
export function sleep(v: Int32Array, i: number, value: number): void {
  try {
    Atomics.wait(v, i, value, WAIT_MS);
  } catch {
    // Atomics.wait is not allowed on a browser's main thread: spin instead.
  }
}

/** Gives lock word `i` of `v` back, waking a waiter if there is one. */
export function unlock(v: Int32Array, i: number): void {
  if ((Atomics.exchange(v, i, 0) & WAITERS) !== 0) Atomics.notify(v, i, 1);
}

/** The holder of lock word `i` of `v` (`threadId + 1`), or 0 when it is free. */
export function holder(v: Int32Array, i: number): number {
  return Atomics.load(v, i) & HOLDER;
}
