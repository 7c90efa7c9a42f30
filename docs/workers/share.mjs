// Share a heap with a worker: node docs/workers/share.mjs (after npm run build)
import { Worker } from "node:worker_threads";
import { Heap } from "vmheap";

// A concurrent heap: each thread that uses it gets an arena of its own inside it.
const heap = new Heap({ concurrent: true });
const worker = new Worker(new URL("./shareWorker.mjs", import.meta.url), { workerData: heap.memory.buffer });
const id = worker.threadId; // (read it now: it is -1 once the worker has stopped)
const [p, n] = await new Promise((resolve) => worker.once("message", resolve));
const text = new TextDecoder().decode(heap.memory.u8.slice(p, p + n));
console.log(`the worker's block at 0x${p.toString(16)}: "${text}"`);

heap.free(p); // a block of the worker's arena, freed by this thread
await new Promise((resolve) => worker.once("exit", resolve));
// After any end of a worker, recover gives its arena to the next thread that attaches.
console.log("it held a lock when it ended:", heap.recover(id)); // false: its task had ended
heap.check();
const info = heap.mallinfo();
console.log("every block freed:", info.uordblks + info.fordblks === info.arena, `(${info.ordblks} free chunks)`);
