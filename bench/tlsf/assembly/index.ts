// Thin wrapper exposing AssemblyScript's built-in TLSF allocator
// (std/assembly/rt/tlsf.ts, selected by `--runtime minimal`) to JavaScript.
// Built by bench/run.mjs with:
//   node_modules/.bin/asc bench/tlsf/assembly/index.ts --runtime minimal -O3 \
//     --outFile bench/tlsf/build/tlsf.wasm

export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}

export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}
