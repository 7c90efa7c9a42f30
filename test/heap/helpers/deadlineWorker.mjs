// Runs one exported function of a TypeScript module in a worker thread (see deadline.ts), so
// that a heap call which never returns can be stopped by the test. Protocol: workerData
// { module, name, args }; posts { status: "start" } once loaded, then { status: "done", result }
// or { status: "error", message }.
import { parentPort, workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const mod = await tsImport(workerData.module, import.meta.url);
parentPort.postMessage({ status: "start" });
try {
  parentPort.postMessage({ status: "done", result: await mod[workerData.name](...workerData.args) });
} catch (e) {
  parentPort.postMessage({ status: "error", message: String(e && e.stack ? e.stack : e) });
}
