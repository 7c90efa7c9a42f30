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
import { HeapError } from "../errors.js";

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
  let since = 0;
  let seen = 0;
  for (;;) {
    let cur = Atomics.load(v, i);
    if ((cur & HOLDER) === 0) {
      if (Atomics.compareExchange(v, i, cur, id | WAITERS) === cur) return;
      continue;
    }
    // The same holder all along: count the time it has held the lock (see stuck).
    if ((cur & HOLDER) !== seen) {
      seen = cur & HOLDER;
      since = Date.now();
    }
    stuck(i, id, seen, since);
    if ((cur & WAITERS) === 0) {
      if (Atomics.compareExchange(v, i, cur, cur | WAITERS) !== cur) continue;
      cur |= WAITERS;
    }
    sleep(v, i, cur);
  }
}

/**
 * Milliseconds a thread waits for a lock that one holder keeps all along before it gives up
 * (see {@link stuck}). A call holds a lock for microseconds, and an arena's owner gives its
 * lock up at its next call or at the end of its task: this is far more than either.
 */
export const LOCK_PATIENCE_MS = 10_000;
let patience = LOCK_PATIENCE_MS;

/** Sets {@link LOCK_PATIENCE_MS} for this thread (tests); returns the previous value. @internal */
export function setLockPatience(ms: number): number {
  const old = patience;
  patience = ms;
  return old;
}

/**
 * Throws instead of waiting for ever for lock word `i`, held by `holder` since `since`: when
 * the holder is this very thread (`id`), which is inside no call, so the word can only come from
 * a copy of the heap's bytes or a thread that died; or when one holder has kept it longer than
 * {@link LOCK_PATIENCE_MS}. Nothing has changed then: the caller's call has not begun.
 */
function stuck(i: number, id: number, holder: number, since: number): void {
  const self = holder === id;
  if (!self && Date.now() - since < patience) return;
  const why = self ? "this very thread, which is inside no call" : `for ${Date.now() - since} ms`;
  throw new HeapError(
    `a lock of the heap (word at 0x${(i * 4).toString(16)}) is held by thread ${holder - 1}, ${why}: if that thread died, call heap.recover(${holder - 1}); ` +
      "if these bytes are a copy taken while a thread was in a call, open it with Heap.attach(copy, { snapshot: true })",
    "lock",
    i * 4,
  );
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
