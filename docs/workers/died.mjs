// A worker died: node docs/workers/died.mjs (after npm run build)
import { Worker } from "node:worker_threads";
import { Heap } from "vmheap";

const heap = new Heap({ concurrent: true });
const mine = heap.malloc(1000);
heap.memory.u8.fill(7, mine, mine + 1000);

// A worker that allocates and frees without end, killed in the middle of it.
const worker = new Worker(new URL("./churnWorker.mjs", import.meta.url), { workerData: heap.memory.buffer });
await new Promise((resolve) => worker.once("message", resolve)); // it has started
const id = worker.threadId; // (read it now: it is -1 once the worker has stopped)
await worker.terminate();

console.log("it held its arena's lock:", heap.recover(id)); // its call undone, its lock released
heap.check(); // (without recover: a HeapError naming the lock, after 10 s of waiting for it)
console.log("this thread's block is intact:", heap.memory.u8.subarray(mine, mine + 1000).every((b) => b === 7));
const q = heap.malloc(64); // and the heap takes calls again, from every thread
heap.free(q);
heap.free(mine);
heap.check();
console.log("done");
