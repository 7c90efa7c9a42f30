/*
 * vmheap.h: vmheap as the malloc of a C program compiled to wasm32.
 *
 * The malloc family of the program becomes imports from the host (module "env"), which the
 * host fills with `heap.wasmImports({ engine: wasmEngine })` (vmheap and vmheap/wasm, in
 * JavaScript): the calls then go straight to vmheap's wasm engine, wasm-to-wasm, and the
 * JavaScript side sees the same heap (heap.check(), heap.mallinfo(), heap.free(p), ...).
 *
 * Include it in every file that allocates (or pass -include vmheap.h), and link so that the
 * libc's own allocator stays out:
 *
 *   wasi-libc: link against a copy of libc.a without its dlmalloc.o (docs/wasm.md):
 *     cp /usr/lib/wasm32-wasi/libc.a build/ && llvm-ar d build/libc.a dlmalloc.o
 *     clang --target=wasm32-wasi -O2 -include vmheap.h -Lbuild prog.c -o prog.wasm \
 *       -Wl,--import-memory -Wl,--export=__heap_base -Wl,--export-if-defined=errno
 *   freestanding (no libc): clang --target=wasm32 -nostdlib -O2 -include vmheap.h ... \
 *       -Wl,--no-entry -Wl,--import-memory -Wl,--export=__heap_base -Wl,--export-dynamic
 *
 * Without a libc, define VMHEAP_FREESTANDING: this header then declares size_t itself.
 * The host gives errno values in the module's libc's numbering (WASI's by default:
 * EINVAL 28, ENOMEM 48) and sets the program's errno where the module exports it: wasi-libc's
 * errno global (-Wl,--export-if-defined=errno), or __errno_location() (musl, Emscripten).
 */
#ifndef VMHEAP_H
#define VMHEAP_H

#ifdef VMHEAP_FREESTANDING
typedef __SIZE_TYPE__ size_t;
#else
#include <stddef.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VMHEAP_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

VMHEAP_IMPORT(malloc) void *malloc(size_t size);
VMHEAP_IMPORT(free) void free(void *ptr);
VMHEAP_IMPORT(calloc) void *calloc(size_t nmemb, size_t size);
VMHEAP_IMPORT(realloc) void *realloc(void *ptr, size_t size);
VMHEAP_IMPORT(reallocarray) void *reallocarray(void *ptr, size_t nmemb, size_t size);
VMHEAP_IMPORT(posix_memalign) int posix_memalign(void **memptr, size_t alignment, size_t size);
VMHEAP_IMPORT(aligned_alloc) void *aligned_alloc(size_t alignment, size_t size);
VMHEAP_IMPORT(memalign) void *memalign(size_t alignment, size_t size);
VMHEAP_IMPORT(malloc_usable_size) size_t malloc_usable_size(void *ptr);

/* wasi-libc's own code (atexit, locales) allocates through these names: the same imports. */
VMHEAP_IMPORT(malloc) void *__libc_malloc(size_t size);
VMHEAP_IMPORT(free) void __libc_free(void *ptr);
VMHEAP_IMPORT(calloc) void *__libc_calloc(size_t nmemb, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* VMHEAP_H */
