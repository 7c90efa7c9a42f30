/**
 * Runs corruption scenarios in a worker thread with a deadline per scenario. A heap that loops
 * forever on damaged metadata would block the test's own thread, where no timeout can fire;
 * in a worker it is terminated and reported as hung, and the remaining scenarios go on in a
 * fresh worker.
 */
import { Worker } from "node:worker_threads";
import type { ScenarioName, scenarios } from "./corruption.js";

/** One scenario to run: `scenarios[name](params)`. */
export interface Job<N extends ScenarioName = ScenarioName> {
  id: string;
  name: N;
  params: Parameters<(typeof scenarios)[N]>[0];
  /** Longest the scenario may take once started. */
  timeoutMs: number;
}

export type JobResult =
  | { status: "done"; result: unknown }
  | { status: "error"; message: string }
  | { status: "hung"; timeoutMs: number };

type Message = { type: "start"; id: string } | { type: "done"; id: string; result: unknown } | { type: "error"; id: string; message: string } | { type: "end" };

/** How long a worker may take to load TypeScript and the scenarios before its first job. */
const STARTUP_MS = 60_000;

function runBatch(jobs: readonly Job[], results: Map<string, JobResult>): Promise<readonly Job[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./scenarioWorker.mjs", import.meta.url), { workerData: { jobs } });
    let current: Job | null = null;
    let timer: NodeJS.Timeout | null = null;
    let settled = false;
    const arm = (ms: number, onTimeout: () => void): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(onTimeout, ms);
    };
    const finish = (rest: readonly Job[] | Error): void => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      void worker.terminate();
      if (rest instanceof Error) reject(rest);
      else resolve(rest);
    };
    arm(STARTUP_MS, () => finish(new Error("the scenario worker did not start")));
    worker.on("message", (m: Message) => {
      if (m.type === "start") {
        current = jobs.find((j) => j.id === m.id) ?? null;
        const job = current;
        if (job === null) return;
        arm(job.timeoutMs, () => {
          results.set(job.id, { status: "hung", timeoutMs: job.timeoutMs });
          finish(jobs.slice(jobs.indexOf(job) + 1));
        });
      } else if (m.type === "done") {
        results.set(m.id, { status: "done", result: m.result });
      } else if (m.type === "error") {
        results.set(m.id, { status: "error", message: m.message });
      } else {
        finish([]);
      }
    });
    worker.on("error", (e) => finish(e));
    worker.on("exit", (code) => {
      if (settled) return;
      const job: Job | null = current;
      if (job === null) return finish(new Error(`the scenario worker exited (code ${code}) before its first job`));
      if (!results.has(job.id)) results.set(job.id, { status: "error", message: `the scenario worker exited (code ${code})` });
      finish(jobs.slice(jobs.indexOf(job) + 1));
    });
  });
}

/** Runs every job, each at most its `timeoutMs` once started; a hung one does not stop the rest. */
export async function runIsolated(jobs: readonly Job[]): Promise<Map<string, JobResult>> {
  const results = new Map<string, JobResult>();
  let rest = jobs;
  while (rest.length > 0) rest = await runBatch(rest, results);
  return results;
}
