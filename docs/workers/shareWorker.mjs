// The worker of share.mjs: opens the heap it was given and leaves a block in it.
import { parentPort, workerData } from "node:worker_threads";
import { Heap } from "vmheap";

const heap = Heap.attach(workerData);
const bytes = new TextEncoder().encode("hello from a worker");
const p = heap.malloc(bytes.length);
heap.memory.u8.set(bytes, p);
parentPort.postMessage([p, bytes.length]);
