// A copy of a heap's bytes: node docs/workers/snapshot.mjs (after npm run build)
import { Heap, HeapError } from "vmheap";

const heap = new Heap({ concurrent: true });
const p = heap.malloc(100); // this thread keeps its arena's lock until its task ends
heap.memory.u8.fill(9, p, p + 100);
const copy = heap.memory.buffer.slice(0); // the bytes, with that lock held in them

try {
  Heap.attach(copy).check(); // the copy's lock names this thread, which is in no call
} catch (e) {
  console.log(e instanceof HeapError, e.message.slice(0, 60) + "…");
}
const snap = Heap.attach(copy, { snapshot: true }); // its locks recovered: the heap as it was
console.log(snap.mallocUsableSize(p) >= 100, new Uint8Array(copy)[p + 99]); // true 9
snap.free(p);
snap.check();

const bad = heap.memory.buffer.slice(0);
new Int32Array(bad)[heap.base / 4 + 2] = -1; // the lock word (H_LOCK): no lock holds that
try {
  Heap.attach(bad);
} catch (e) {
  console.log(e.name, e.message);
}
