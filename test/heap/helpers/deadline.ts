/**
 * Runs one function of a scenario module in a worker thread with a deadline: a heap call that
 * loops for ever on damaged metadata would block the test's own thread, where no timeout can
 * fire; in a worker it is terminated and reported as hung. (isolated.ts does the same for the
 * scenarios of corruption.ts, in batches.)
 */
import { Worker } from "node:worker_threads";

export type DeadlineResult = { status: "done"; result: unknown } | { status: "error"; message: string } | { status: "hung"; ms: number };

/** How long a worker may take to load TypeScript and the module, on top of the deadline. */
const STARTUP_MS = 30_000;

/**
 * Calls `name(...args)` exported by the module at `moduleUrl` (a file URL) in a fresh worker;
 * `ms` after the call began (the worker's loading time not counted), it is terminated and "hung" reported.
 */
export function runWithDeadline(moduleUrl: URL, name: string, args: unknown[], ms: number): Promise<DeadlineResult> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL("./deadlineWorker.mjs", import.meta.url), { workerData: { module: moduleUrl.href, name, args } });
    const hung = (): void => {
      resolve({ status: "hung", ms });
      void worker.terminate();
    };
    let timer = setTimeout(hung, STARTUP_MS);
    worker.on("message", (m: DeadlineResult | { status: "start" }) => {
      clearTimeout(timer);
      if (m.status === "start") {
        timer = setTimeout(hung, ms);
        return;
      }
      resolve(m);
      void worker.terminate();
    });
    worker.once("error", (e) => {
      clearTimeout(timer);
      resolve({ status: "error", message: String(e) });
    });
  });
}
