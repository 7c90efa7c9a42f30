// The worker of died.mjs: allocates and frees until it is terminated.
import { parentPort, workerData } from "node:worker_threads";
import { Heap } from "vmheap";

const heap = Heap.attach(workerData);
const live = [];
for (let i = 0; ; i++) {
  if (i === 1000) parentPort.postMessage("started");
  if (live.length < 100 && (i * 7919) % 3 !== 0) live.push(heap.malloc(16 + ((i * 131) % 4000)));
  else if (live.length > 0) heap.free(live.splice((i * 17) % live.length, 1)[0]);
}
