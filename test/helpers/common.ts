/** Helpers shared by every test folder. */

/** The seed for a fast-check property: `FC_SEED` from the environment, else the clock; printed. */
export function fcSeed(label: string): number {
  const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
  console.log(`fast-check seed (${label})`, seed, "- rerun with FC_SEED=" + seed);
  return seed;
}

/** Runs `fn`, returning what it threw (or undefined). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
