/**
 * The C ABI of wasm32 through `heap.wasmImports()` (heap.md, "as the heap of a WebAssembly
 * module"), tested from C's point of view: a WAT client calls the malloc family as C code does
 * and keeps `errno` in its own memory, exported through `__errno_location` as wasi-libc does.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Errno, Heap, type DataModel, type LinearMemory } from "../../src/index.js";
import { moduleErrno, validWasmAlignment, WASI_ERRNO } from "../../src/heap/wasm/abi.js";
import { ABI_HEAP_BASE, abiClientText, compileWat, loadWabt, MEMPTR_ADDR, type AbiClient, type ErrnoExport } from "./helpers/wasmClient.js";
import { ENGINES, type EngineName } from "./helpers/wasmEngines.js";

beforeAll(loadWabt);

interface Client {
  heap: Heap<LinearMemory>;
  c: AbiClient;
  memory: WebAssembly.Memory;
}

function client(engine: EngineName, opts: { errno?: "wasi" | "linux"; dataModel?: DataModel; errnoExport?: ErrnoExport } = {}): Client {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024 });
  const heap = new Heap({ memory, base: ABI_HEAP_BASE, dataModel: opts.dataModel ?? "wasm32" });
  let instance: WebAssembly.Instance | undefined;
  const imports = heap.wasmImports({ ...ENGINES[engine](), ...(opts.errno ? { errno: opts.errno } : {}), instance: () => instance });
  instance = new WebAssembly.Instance(compileWat("abi-client.wat", abiClientText(opts.errnoExport ?? "global")), { env: { memory, ...imports } });
  return { heap, c: instance.exports as unknown as AbiClient, memory };
}

const HUGE = 0xffff_fff0; // a size_t no heap of a wasm32 module can give

describe("errno numbers of the module's libc", () => {
  it("WASI's by default (wasi-libc, Emscripten, musl): EINVAL 28, ENOMEM 48; Linux's as an option", () => {
    expect(WASI_ERRNO).toEqual({ EINVAL: 28, ENOMEM: 48 });
    expect(moduleErrno("wasi", Errno.ENOMEM)).toBe(48);
    expect(moduleErrno("wasi", Errno.EINVAL)).toBe(28);
    expect(moduleErrno("linux", Errno.ENOMEM)).toBe(12);
    expect(moduleErrno("linux", Errno.EINVAL)).toBe(22);
  });

  it("posix_memalign alignments valid on wasm32: powers of two that are multiples of sizeof(void *) = 4", () => {
    for (const a of [4, 8, 16, 32, 4096, 2 ** 31]) expect(validWasmAlignment(a), String(a)).toBe(true);
    for (const a of [0, 1, 2, 3, 6, 12, 0x300, 2 ** 31 + 4]) expect(validWasmAlignment(a), String(a)).toBe(false);
  });

  it("rejects options it does not know", () => {
    const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 1 }), base: 1024 });
    expect(() => heap.wasmImports({ errno: "darwin" as never })).toThrow(/errno must be "wasi" or "linux"/);
    expect(() => heap.wasmImports({ instance: 5 as never })).toThrow(/instance must be a function/);
  });
});

describe.each(Object.keys(ENGINES) as EngineName[])("the C ABI of wasm32 through the %s engine", (engine) => {
  describe.each([
    ["wasi", WASI_ERRNO.ENOMEM, WASI_ERRNO.EINVAL],
    ["linux", Errno.ENOMEM, Errno.EINVAL],
  ] as const)("errno numbering %s", (numbering, ENOMEM, EINVAL) => {
    it.each(["global", "function"] as const)("a failing malloc, calloc or realloc sets the C program's errno to ENOMEM (errno exported as a %s)", (how) => {
      const { heap, c } = client(engine, { errno: numbering, errnoExport: how });
      c.set_errno(0);
      expect(c.malloc(HUGE)).toBe(0);
      expect(c.get_errno()).toBe(ENOMEM);
      expect(heap.errno).toBe(Errno.ENOMEM); // heap.errno keeps Linux's numbers, as everywhere in vmheap
      c.set_errno(0);
      expect(c.calloc(0x10000, 0x10000)).toBe(0); // nmemb * size overflows size_t
      expect(c.get_errno()).toBe(ENOMEM);
      c.set_errno(0);
      expect(c.calloc(0x10000, 0x8000)).toBe(0); // 2 GiB: fits size_t, no heap can hold it
      expect(c.get_errno()).toBe(ENOMEM);
      const p = c.malloc(100) >>> 0;
      c.fill(p, 100, 0x5a);
      c.set_errno(0);
      expect(c.realloc(p, HUGE)).toBe(0);
      expect(c.get_errno()).toBe(ENOMEM);
      expect(c.all(p, 100, 0x5a)).toBe(1); // the old block intact and still owned
      c.set_errno(0);
      expect(c.reallocarray(p, 0x10000, 0x10001)).toBe(0);
      expect(c.get_errno()).toBe(ENOMEM);
      expect(c.all(p, 100, 0x5a)).toBe(1);
      c.set_errno(0);
      expect(c.malloc(64 << 20)).toBe(0); // past the memory's maximum (1024 pages)
      expect(c.get_errno()).toBe(ENOMEM);
      c.free(p);
      heap.check();
    });

    it("calls that succeed, free, and realloc(p, 0) leave errno alone", () => {
      const { heap, c } = client(engine, { errno: numbering });
      c.set_errno(777);
      const p = c.malloc(10) >>> 0;
      const q = c.calloc(3, 7) >>> 0;
      const r = c.realloc(0, 40) >>> 0;
      expect(p * q * r).not.toBe(0);
      c.free(p);
      c.free(0);
      expect(c.realloc(q, 0)).toBe(0); // frees q: NULL, and no error (glibc)
      expect(c.malloc(0)).not.toBe(0);
      expect(c.get_errno()).toBe(777);
      c.free(r);
      heap.check();
    });

    it("posix_memalign: 0, EINVAL or ENOMEM in the module's numbers, memptr written only on success, errno untouched", () => {
      const { heap, c } = client(engine, { errno: numbering });
      c.set_errno(777);
      for (const a of [0, 1, 2, 3, 12, 0x300]) {
        c.set_memptr(0xdead);
        expect(c.posix_memalign(a, 10), `alignment ${a}`).toBe(EINVAL);
        expect(c.memptr()).toBe(0xdead);
      }
      c.set_memptr(0xdead);
      expect(c.posix_memalign(8, HUGE)).toBe(ENOMEM);
      expect(c.memptr()).toBe(0xdead);
      expect(c.get_errno()).toBe(777);
      const ptrs: number[] = [];
      for (const a of [4, 8, 16, 64, 256, 4096]) {
        expect(c.posix_memalign(a, 10), `alignment ${a}`).toBe(0);
        const p = c.memptr() >>> 0;
        expect(p % Math.max(a, 16), `alignment ${a}`).toBe(0);
        expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(10);
        ptrs.push(p);
      }
      expect(c.posix_memalign(4, 0)).toBe(0); // size 0 succeeds
      ptrs.push(c.memptr() >>> 0);
      expect(c.get_errno()).toBe(777);
      for (const p of ptrs) c.free(p);
      heap.check();
    });

    it("aligned_alloc with an alignment that is not a power of two: NULL and errno = EINVAL", () => {
      const { heap, c } = client(engine, { errno: numbering });
      c.set_errno(0);
      expect(c.aligned_alloc(3, 10)).toBe(0);
      expect(c.get_errno()).toBe(EINVAL);
      c.set_errno(0);
      expect(c.aligned_alloc(0, 10)).toBe(0);
      expect(c.get_errno()).toBe(EINVAL);
      c.set_errno(0);
      expect(c.memalign(64, HUGE)).toBe(0);
      expect(c.get_errno()).toBe(ENOMEM);
      const p = c.aligned_alloc(128, 1) >>> 0;
      const q = c.memalign(24, 10) >>> 0; // rounded up to 32
      expect(p % 128).toBe(0);
      expect(q % 32).toBe(0);
      c.free(p);
      c.free(q);
      heap.check();
    });
  });

  it("without errno exported, a failure still returns NULL and sets heap.errno", () => {
    const { heap, c } = client(engine, { errnoExport: "none" });
    c.set_errno(5);
    heap.errno = 0;
    expect(c.malloc(HUGE)).toBe(0);
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(c.get_errno()).toBe(5);
  });

  it.each(["wasm32", "lp64"] as const)("every pointer is 16-byte aligned (alignof(max_align_t) on wasm32) with dataModel %s", (dataModel) => {
    const { heap, c } = client(engine, { dataModel });
    const ptrs: number[] = [];
    for (let n = 0; n < 300; n += 1) {
      const p = c.malloc(n) >>> 0;
      expect(p % 16, `malloc(${n})`).toBe(0);
      const q = c.calloc(1, n) >>> 0;
      expect(q % 16, `calloc(1, ${n})`).toBe(0);
      ptrs.push(p, q);
    }
    for (let i = 0; i < ptrs.length; i += 3) {
      const r = c.realloc(ptrs[i]!, i * 5) >>> 0;
      expect(r % 16).toBe(0);
      ptrs[i] = r;
    }
    heap.check();
    for (const p of ptrs) c.free(p);
    heap.check();
  });

  it("wasm32 is dlmalloc's layout on wasm32: 4 bytes of overhead, 16-byte chunks at least", () => {
    const { heap, c } = client(engine);
    for (const [n, usable] of [
      [0, 12],
      [1, 12],
      [12, 12],
      [13, 28],
      [28, 28],
      [29, 44],
      [100, 108],
    ]) {
      const p = c.malloc(n!) >>> 0;
      expect(c.malloc_usable_size(p), `malloc_usable_size(malloc(${n}))`).toBe(usable);
      expect(p % 16).toBe(0);
    }
    expect(heap.chunks().filter((k) => k.kind === "used").map((k) => k.size)).toEqual([16, 16, 16, 32, 32, 48, 112]);
    expect(c.malloc_usable_size(0)).toBe(0);
    heap.check();
  });

  it("a pointer at or past 2 GiB as an i32 argument is read unsigned (an invalid pointer, not a negative number)", () => {
    const { heap } = client(engine);
    const imports = heap.wasmImports(ENGINES[engine]());
    expect(imports.malloc_usable_size(-16)).toBe(0);
    expect(imports.malloc(-1)).toBe(0);
    expect(() => imports.free(-16)).toThrow(/invalid pointer \(0xfffffff0\)/);
    heap.check();
  });
});

it("MEMPTR lies below the client's heap base", () => {
  expect(MEMPTR_ADDR + 4).toBeLessThanOrEqual(ABI_HEAP_BASE);
});
