// Runs corruption scenarios (helpers/corruption.ts) in a worker thread, so that one which
// hangs the heap can be stopped by the test (see isolated.ts). Protocol: receives
// { jobs: [{ id, name, params }] } as workerData; posts { type: "start", id } before each job,
// { type: "done", id, result } or { type: "error", id, message } after it, then { type: "end" }.
import { parentPort, workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const { scenarios } = await tsImport("./corruption.ts", import.meta.url);
for (const job of workerData.jobs) {
  parentPort.postMessage({ type: "start", id: job.id });
  try {
    const result = scenarios[job.name](job.params);
    parentPort.postMessage({ type: "done", id: job.id, result });
  } catch (e) {
    parentPort.postMessage({ type: "error", id: job.id, message: String(e && e.stack ? e.stack : e) });
  }
}
parentPort.postMessage({ type: "end" });
