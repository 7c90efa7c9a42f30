/**
 * The lock words of a concurrent heap (src/heap/lock.ts), one thread driving every state a word
 * can be in: what other threads would have left there is written into the word by hand. The
 * workers of the stress and recover tests run the same code under real contention.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HeapError } from "../../src/errors.js";
import { WAITERS, holder, lock, reclaim, setLockPatience, tryLock, unlock, yieldLock } from "../../src/heap/lock.js";

const words = (): Int32Array => new Int32Array(new SharedArrayBuffer(16));
let restore: number | null = null;
afterEach(() => {
  if (restore !== null) setLockPatience(restore);
  restore = null;
});

describe("lock words", () => {
  it("tryLock takes a free word only; unlock gives it back; holder reads the holder bits", () => {
    const v = words();
    expect(tryLock(v, 1, 7)).toBe(true);
    expect(holder(v, 1)).toBe(7);
    expect(tryLock(v, 1, 8)).toBe(false);
    unlock(v, 1);
    expect(v[1]).toBe(0);
    v[1] = 9 | WAITERS;
    expect(holder(v, 1)).toBe(9);
    unlock(v, 1); // a waiter is woken (none here): the word is free either way
    expect(v[1]).toBe(0);
  });

  it("lock takes a word with no holder, WAITERS or not, keeping WAITERS for the others", () => {
    const v = words();
    lock(v, 0, 3);
    expect(v[0]).toBe(3);
    v[0] = WAITERS; // given back by yieldLock, waiters left
    lock(v, 0, 4);
    expect(v[0]).toBe(4 | WAITERS);
  });

  it("a word held by this very thread throws at once, naming the lock and the ways out", () => {
    const v = words();
    v[2] = 5;
    expect(() => lock(v, 2, 5)).toThrow(HeapError);
    expect(() => lock(v, 2, 5)).toThrow(/word at 0x8\) is held by thread 4, this very thread, which is inside no call: .*heap\.recover\(4\).*snapshot: true/);
    expect(v[2]).toBe(5); // nothing changed
  });

  it("a word another holder keeps past the patience throws, after setting WAITERS", () => {
    const v = words();
    restore = setLockPatience(30);
    v[3] = 11;
    const t0 = Date.now();
    expect(() => lock(v, 3, 12)).toThrow(/held by thread 10, for \d+ ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(30);
    expect(v[3]).toBe(11 | WAITERS); // the holder would wake the waiter when it gives the lock back
  });

  it("yieldLock leaves WAITERS with no holder; reclaim takes it back after the waiters' grace", () => {
    const v = words();
    v[1] = 6;
    yieldLock(v, 1);
    expect(v[1]).toBe(WAITERS);
    expect(tryLock(v, 1, 6)).toBe(false); // the owner's plain take fails: a waiter goes first
    const t0 = Date.now();
    reclaim(v, 1, 6, 20); // nobody took it within 20 ms: taken without WAITERS
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    expect(v[1]).toBe(6);
    unlock(v, 1);
    reclaim(v, 1, 6, 20); // a free word: taken at once
    expect(v[1]).toBe(6);
  });

  it("reclaim of a word another thread holds waits for it as lock does", () => {
    const v = words();
    restore = setLockPatience(20);
    v[0] = 2;
    expect(() => reclaim(v, 0, 3, 5)).toThrow(HeapError);
    expect(holder(v, 0)).toBe(2);
  });
});
