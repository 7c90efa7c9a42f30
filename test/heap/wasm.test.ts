/**
 * A Heap as the malloc of a WebAssembly module (heap.md, "as the heap of a WebAssembly module"):
 * the module imports its memory and `malloc`/`free`/`calloc`/`realloc`/`posix_memalign` from
 * `env`, keeps its static data below `__heap_base`, and the heap lives above it, growing the
 * memory with `memory.grow` when it needs more.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DoubleFreeError, Errno, Heap, HeapError, LinearMemory, VmError } from "../../src/index.js";
import { WASI_ERRNO } from "../../src/heap/wasm/abi.js";
import { compileWat, loadWabt, sharedWasm } from "./helpers/wasmClient.js";
import { ENGINES, type EngineName } from "./helpers/wasmEngines.js";

const HEAP_BASE = 4096;
/** The module's static data: a 1024-byte data segment at 0 with this pattern. */
const DATA_LEN = 1024;
const dataByte = (i: number): number => (i * 31 + 7) & 0xff;
/** A table of 256 i32 pointers the module keeps its blocks in (static data, below the base). */
const TABLE = 1024;
const TABLE_SLOTS = 256;
/** posix_memalign's out-pointer slot, and where the module stores its return value. */
const MEMPTR = 2048;
const MEMALIGN_ERR = 2052;
/** [SCRATCH_END, HEAP_BASE) is the module's, never written by anyone: it must stay zero. */
const SCRATCH_END = 2056;

/** The byte the module's `fill` writes at offset `i` of a block filled with `seed`. */
const pat = (seed: number, i: number): number => (seed + i * 7) & 0xff;

function watData(): string {
  let s = "";
  for (let i = 0; i < DATA_LEN; i++) s += "\\" + dataByte(i).toString(16).padStart(2, "0");
  return s;
}

function moduleText(shared: boolean): string {
  return `
(module
  (import "env" "memory" (memory 1 256 ${shared ? "shared" : ""}))
  (import "env" "malloc" (func $malloc (param i32) (result i32)))
  (import "env" "free" (func $free (param i32)))
  (import "env" "calloc" (func $calloc (param i32 i32) (result i32)))
  (import "env" "realloc" (func $realloc (param i32 i32) (result i32)))
  (import "env" "posix_memalign" (func $posix_memalign (param i32 i32 i32) (result i32)))

  (global (export "__heap_base") i32 (i32.const ${HEAP_BASE}))
  (data (i32.const 0) "${watData()}")

  ;; p[i] = seed + 7 i
  (func $fill (param $p i32) (param $n i32) (param $seed i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $p) (local.get $i))
                    (i32.add (local.get $seed) (i32.mul (local.get $i) (i32.const 7))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; 1 when p[i] == (seed + 7 i) & 255 for every i < n
  (func $check (param $p i32) (param $n i32) (param $seed i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.and (i32.add (local.get $seed) (i32.mul (local.get $i) (i32.const 7))) (i32.const 255)))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; 1 when p[i] == 0 for every i < n
  (func $zero (param $p i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.load8_u (i32.add (local.get $p) (local.get $i))) (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func $slot (param $k i32) (result i32) (i32.add (i32.const ${TABLE}) (i32.shl (local.get $k) (i32.const 2))))
  (func $get (param $k i32) (result i32) (i32.load (call $slot (local.get $k))))

  (func (export "fill") (param i32 i32 i32) (call $fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "check") (param i32 i32 i32) (result i32) (call $check (local.get 0) (local.get 1) (local.get 2)))
  (func (export "malloc") (param i32) (result i32) (call $malloc (local.get 0)))
  (func (export "free") (param i32) (call $free (local.get 0)))
  (func (export "realloc") (param i32 i32) (result i32) (call $realloc (local.get 0) (local.get 1)))

  ;; Allocates a (40 B), b (200 B), c (3000 B) into slots 0..2, fills them, reallocs a to
  ;; 10000 B (slot 3), and checks inside wasm that a's first 40 bytes survived and b and c are
  ;; untouched, also after filling all 10000 bytes of the new block. 1 on success, a negative
  ;; step number on the first failure.
  (func (export "realloc_scenario") (param $seed i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $a2 i32)
    (local.set $a (call $malloc (i32.const 40)))
    (local.set $b (call $malloc (i32.const 200)))
    (local.set $c (call $malloc (i32.const 3000)))
    (if (i32.eqz (i32.and (i32.and (local.get $a) (local.get $b)) (local.get $c)))
      (then (if (i32.or (i32.or (i32.eqz (local.get $a)) (i32.eqz (local.get $b))) (i32.eqz (local.get $c)))
        (then (return (i32.const -1))))))
    (i32.store (call $slot (i32.const 0)) (local.get $a))
    (i32.store (call $slot (i32.const 1)) (local.get $b))
    (i32.store (call $slot (i32.const 2)) (local.get $c))
    (call $fill (local.get $a) (i32.const 40) (local.get $seed))
    (call $fill (local.get $b) (i32.const 200) (i32.add (local.get $seed) (i32.const 1)))
    (call $fill (local.get $c) (i32.const 3000) (i32.add (local.get $seed) (i32.const 2)))
    (local.set $a2 (call $realloc (local.get $a) (i32.const 10000)))
    (if (i32.eqz (local.get $a2)) (then (return (i32.const -2))))
    (i32.store (call $slot (i32.const 3)) (local.get $a2))
    (if (i32.eqz (call $check (local.get $a2) (i32.const 40) (local.get $seed))) (then (return (i32.const -3))))
    (if (i32.eqz (call $check (local.get $b) (i32.const 200) (i32.add (local.get $seed) (i32.const 1)))) (then (return (i32.const -4))))
    (if (i32.eqz (call $check (local.get $c) (i32.const 3000) (i32.add (local.get $seed) (i32.const 2)))) (then (return (i32.const -5))))
    (call $fill (local.get $a2) (i32.const 10000) (i32.add (local.get $seed) (i32.const 3)))
    (if (i32.eqz (call $check (local.get $b) (i32.const 200) (i32.add (local.get $seed) (i32.const 1)))) (then (return (i32.const -6))))
    (if (i32.eqz (call $check (local.get $c) (i32.const 3000) (i32.add (local.get $seed) (i32.const 2)))) (then (return (i32.const -7))))
    (i32.const 1))

  ;; posix_memalign(MEMPTR, alignment, size) with *MEMPTR preset to $sentinel; stores the
  ;; returned error at MEMALIGN_ERR and returns what it reads back from *MEMPTR.
  (func (export "memalign") (param $alignment i32) (param $size i32) (param $sentinel i32) (result i32)
    (i32.store (i32.const ${MEMPTR}) (local.get $sentinel))
    (i32.store (i32.const ${MEMALIGN_ERR})
      (call $posix_memalign (i32.const ${MEMPTR}) (local.get $alignment) (local.get $size)))
    (i32.load (i32.const ${MEMPTR})))

  ;; count blocks of size bytes into slots first.., block k filled with seed + k.
  ;; Returns how many were allocated (stops at the first NULL).
  (func (export "alloc_many") (param $first i32) (param $count i32) (param $size i32) (param $seed i32) (result i32)
    (local $k i32) (local $p i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $p (call $malloc (local.get $size)))
        (br_if $done (i32.eqz (local.get $p)))
        (i32.store (call $slot (i32.add (local.get $first) (local.get $k))) (local.get $p))
        (call $fill (local.get $p) (local.get $size) (i32.add (local.get $seed) (local.get $k)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (local.get $k))

  ;; How many of the blocks in slots first.. still hold their pattern.
  (func (export "check_many") (param $first i32) (param $count i32) (param $size i32) (param $seed i32) (result i32)
    (local $k i32) (local $ok i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $ok (i32.add (local.get $ok)
          (call $check (call $get (i32.add (local.get $first) (local.get $k))) (local.get $size)
                       (i32.add (local.get $seed) (local.get $k)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (local.get $ok))

  (func (export "free_many") (param $first i32) (param $count i32)
    (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (call $free (call $get (i32.add (local.get $first) (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next))))

  ;; Dirties a block, frees it, then callocs the same size: 1 when the calloc'ed block reads
  ;; as zero. The calloc'ed pointer is left in slot $k.
  (func (export "calloc_after_free") (param $size i32) (param $k i32) (result i32)
    (local $p i32) (local $q i32)
    (local.set $p (call $malloc (local.get $size)))
    (call $fill (local.get $p) (local.get $size) (i32.const 0xa5))
    (call $free (local.get $p))
    (local.set $q (call $calloc (i32.const 1) (local.get $size)))
    (i32.store (call $slot (local.get $k)) (local.get $q))
    (if (i32.eqz (local.get $q)) (then (return (i32.const -1))))
    (call $zero (local.get $q) (local.get $size)))

  (func (export "double_free")
    (local $p i32)
    (local.set $p (call $malloc (i32.const 24)))
    (call $free (local.get $p))
    (call $free (local.get $p)))

  ;; The module grows its own memory (as a C module's runtime might): the heap must follow.
  (func (export "grow_self") (param $pages i32) (result i32) (memory.grow (local.get $pages)))
)`;
}

interface Exports {
  fill(p: number, n: number, seed: number): void;
  check(p: number, n: number, seed: number): number;
  malloc(n: number): number;
  free(p: number): void;
  realloc(p: number, n: number): number;
  realloc_scenario(seed: number): number;
  memalign(alignment: number, size: number, sentinel: number): number;
  alloc_many(first: number, count: number, size: number, seed: number): number;
  check_many(first: number, count: number, size: number, seed: number): number;
  free_many(first: number, count: number): void;
  calloc_after_free(size: number, k: number): number;
  double_free(): void;
  grow_self(pages: number): number;
}

function compile(shared: boolean): WebAssembly.Module {
  return compileWat(`heap-user${shared ? "-shared" : ""}.wat`, moduleText(shared), shared);
}

interface Setup {
  memory: WebAssembly.Memory;
  heap: Heap<LinearMemory>;
  wasm: Exports;
}

function setupWith(shared: boolean, engine: EngineName): Setup {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 256, ...(shared ? { shared: true } : {}) } as WebAssembly.MemoryDescriptor);
  // The module's data segment is written at instantiation; the heap is created first, as an
  // embedder does (the segment lies below the base, so the order must not matter).
  const heap = new Heap({ memory, base: HEAP_BASE });
  const instance = new WebAssembly.Instance(compile(shared), { env: { memory, ...heap.wasmImports(ENGINES[engine]()) } });
  return { memory, heap, wasm: instance.exports as unknown as Exports };
}

/** The module's static data below the base: the data segment, and the never-written scratch. */
function expectStaticDataIntact(heap: Heap<LinearMemory>): void {
  const u8 = heap.memory.u8;
  let bad = -1;
  for (let i = 0; i < DATA_LEN && bad < 0; i++) if (u8[i] !== dataByte(i)) bad = i;
  expect(bad, "first corrupted byte of the data segment").toBe(-1);
  for (let i = SCRATCH_END; i < HEAP_BASE && bad < 0; i++) if (u8[i] !== 0) bad = i;
  expect(bad, "first written byte of the module's scratch below __heap_base").toBe(-1);
}

function slot(heap: Heap<LinearMemory>, k: number): number {
  return heap.memory.dv.getUint32(TABLE + 4 * k, true);
}

function expectGoodPointer(p: number): void {
  expect(p).toBeGreaterThanOrEqual(HEAP_BASE);
  expect(p % 16).toBe(0);
}

/** JS-side view of a block the module filled: every byte is the pattern. */
function expectPattern(heap: Heap<LinearMemory>, p: number, n: number, seed: number): void {
  const u8 = heap.memory.u8;
  let bad = -1;
  for (let i = 0; i < n && bad < 0; i++) if (u8[p + i] !== pat(seed, i)) bad = i;
  expect(bad, `first wrong byte of the block at 0x${p.toString(16)}`).toBe(-1);
}

beforeAll(loadWabt);

describe.each([
  ["an unshared WebAssembly.Memory", false, "js"],
  ["a shared WebAssembly.Memory", true, "js"],
  ["an unshared WebAssembly.Memory", false, "wasm"],
  ["a shared WebAssembly.Memory", true, "wasm"],
] as const)("Heap as the malloc of a wasm module, over %s, through the %s engine", (_name, shared, engine) => {
  const setup = (sh: boolean): Setup => setupWith(sh, engine);
  it.skipIf(shared && !sharedWasm)("instantiates with the heap's wasmImports and leaves the data segment alone", () => {
    const { memory, heap } = setup(shared);
    expect(heap.memory.wasm).toBe(memory);
    expect(memory.buffer instanceof SharedArrayBuffer).toBe(shared);
    expectStaticDataIntact(heap);
    heap.check();
  });

  it.skipIf(shared && !sharedWasm)("malloc/realloc from wasm: pointers above the base, 16-aligned, contents survive a realloc", () => {
    const { heap, wasm } = setup(shared);
    expect(wasm.realloc_scenario(40)).toBe(1);
    const [a, b, c, a2] = [0, 1, 2, 3].map((k) => slot(heap, k)) as [number, number, number, number];
    for (const p of [a, b, c, a2]) expectGoodPointer(p);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(heap.mallocUsableSize(a2)).toBeGreaterThanOrEqual(10_000);
    expect(heap.mallocUsableSize(b)).toBeGreaterThanOrEqual(200);
    expect(heap.mallocUsableSize(c)).toBeGreaterThanOrEqual(3000);
    // the live blocks a2, b, c do not overlap
    const live = [
      [a2, 10_000],
      [b, 200],
      [c, 3000],
    ] as const;
    for (const [p, n] of live) for (const [q, m] of live) if (p !== q) expect(p + n <= q || q + m <= p).toBe(true);
    // the JS side reads what the module wrote
    expectPattern(heap, a2, 10_000, 43);
    expectPattern(heap, b, 200, 41);
    expectPattern(heap, c, 3000, 42);
    heap.check();
    const inUse = heap.mallinfo().uordblks;
    wasm.free(a2);
    wasm.free(b);
    wasm.free(c);
    heap.check();
    expect(heap.mallinfo().uordblks).toBeLessThanOrEqual(inUse - (10_000 + 200 + 3000)); // all three came back
    expectStaticDataIntact(heap);
  });

  it.skipIf(shared && !sharedWasm)("posix_memalign writes the pointer into the module's memory at memptr (4 bytes, C ABI)", () => {
    const { heap, wasm } = setup(shared);
    const sentinel = 0x0bad_f00d;
    const p = wasm.memalign(64, 100, sentinel) >>> 0;
    const err = heap.memory.dv.getInt32(MEMALIGN_ERR, true);
    expect(err).toBe(0);
    expect(p).not.toBe(sentinel);
    expectGoodPointer(p);
    expect(p % 64).toBe(0);
    expect(heap.mallocUsableSize(p)).toBeGreaterThanOrEqual(100);
    // the 4 bytes after memptr are the module's: only memptr itself was written
    expect(heap.memory.dv.getUint32(MEMPTR, true)).toBe(p);

    const big = wasm.memalign(4096, 5000, sentinel) >>> 0;
    expect(heap.memory.dv.getInt32(MEMALIGN_ERR, true)).toBe(0);
    expect(big % 4096).toBe(0);
    expectGoodPointer(big);
    wasm.fill(big, 5000, 9);
    expectPattern(heap, big, 5000, 9);
    heap.check();

    // a bad alignment: EINVAL (wasi-libc's 28), and memptr is left as it was
    const errno = heap.errno;
    expect(wasm.memalign(3, 10, sentinel) >>> 0).toBe(sentinel);
    expect(heap.memory.dv.getInt32(MEMALIGN_ERR, true)).toBe(WASI_ERRNO.EINVAL);
    expect(wasm.memalign(2, 10, sentinel) >>> 0).toBe(sentinel);
    expect(heap.memory.dv.getInt32(MEMALIGN_ERR, true)).toBe(WASI_ERRNO.EINVAL);
    // 4 is sizeof(void *) on wasm32: a valid alignment
    const small = wasm.memalign(4, 10, sentinel) >>> 0;
    expect(heap.memory.dv.getInt32(MEMALIGN_ERR, true)).toBe(0);
    expectGoodPointer(small);
    // more than the memory can ever hold: ENOMEM (wasi-libc's 48), memptr untouched
    expect(wasm.memalign(64, 64 * 1024 * 1024, sentinel) >>> 0).toBe(sentinel);
    expect(heap.memory.dv.getInt32(MEMALIGN_ERR, true)).toBe(WASI_ERRNO.ENOMEM);
    expect(heap.errno).toBe(errno); // posix_memalign never touches errno

    wasm.free(p);
    wasm.free(big);
    wasm.free(small);
    heap.check();
    // the scratch slots are the only bytes written below the base
    heap.memory.dv.setUint32(MEMPTR, 0, true);
    heap.memory.dv.setUint32(MEMALIGN_ERR, 0, true);
    expectStaticDataIntact(heap);
  });

  // KNOWN SRC BUG (unshared memory only): fails until the heap's break survives a memory.grow
  // that detaches the old ArrayBuffer; see "the break survives ..." below.
  it.skipIf(shared && !sharedWasm)("grows the wasm memory with memory.grow when it needs more, and JS still reads the right contents", () => {
    const { memory, heap, wasm } = setup(shared);
    const before = memory.buffer.byteLength;
    expect(before).toBe(65_536); // the empty heap fits in the module's one page
    const first = 16;
    const count = 240;
    expect(first + count).toBeLessThanOrEqual(TABLE_SLOTS);
    const size = 1500; // 240 * 1500 B = 351 KiB: needs several more pages
    expect(wasm.alloc_many(first, count, size, 7)).toBe(count);
    expect(memory.buffer.byteLength).toBeGreaterThan(before);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(HEAP_BASE + count * size);
    expect(memory.buffer.byteLength % 65_536).toBe(0);
    expect(memory.buffer.byteLength).toBeLessThanOrEqual(256 * 65_536);
    expect(heap.memory.byteLength).toBe(memory.buffer.byteLength);
    expect(heap.memory.u8.length).toBe(memory.buffer.byteLength);

    const ptrs = Array.from({ length: count }, (_, k) => slot(heap, first + k));
    for (const p of ptrs) {
      expectGoodPointer(p);
      expect(p + size).toBeLessThanOrEqual(memory.buffer.byteLength);
    }
    expect(new Set(ptrs).size).toBe(count);
    const sorted = [...ptrs].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(size);
    // blocks written before and after each growth all read back, from JS and from wasm
    ptrs.forEach((p, k) => expectPattern(heap, p, size, 7 + k));
    expect(wasm.check_many(first, count, size, 7)).toBe(count);
    // a write from JS is seen by the module
    const p0 = ptrs[0]!;
    for (let i = 0; i < size; i++) heap.memory.u8[p0 + i] = pat(200, i);
    expect(wasm.check(p0, size, 200)).toBe(1);
    expectStaticDataIntact(heap);
    heap.check();
    const inUse = heap.mallinfo().uordblks;
    expect(inUse).toBeGreaterThanOrEqual(count * size);

    wasm.free_many(first, count);
    heap.check();
    expect(heap.mallinfo().uordblks).toBeLessThanOrEqual(inUse - count * size); // every block came back
    expect(memory.buffer.byteLength).toBeGreaterThan(before); // a wasm memory never shrinks
    expectStaticDataIntact(heap);
  });

  // KNOWN SRC BUG (unshared memory only): same cause as the test above.
  it.skipIf(shared && !sharedWasm)("a realloc from wasm that needs new pages keeps the contents", () => {
    const { memory, heap, wasm } = setup(shared);
    const p = wasm.malloc(1000);
    expectGoodPointer(p);
    wasm.fill(p, 1000, 77);
    const keep = wasm.malloc(16); // so p cannot simply grow into the top
    const q = wasm.realloc(p, 300_000) >>> 0;
    expectGoodPointer(q);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(q + 300_000);
    expect(wasm.check(q, 1000, 77)).toBe(1);
    expectPattern(heap, q, 1000, 77);
    heap.check();
    wasm.free(q);
    wasm.free(keep);
    heap.check();
  });

  it.skipIf(shared && !sharedWasm)("calloc from wasm returns zeroed memory even when it reuses a freed block", () => {
    const { heap, wasm } = setup(shared);
    expect(wasm.calloc_after_free(2000, 5)).toBe(1);
    const q = slot(heap, 5);
    expectGoodPointer(q);
    wasm.free(q);
    heap.check();
  });

  it.skipIf(shared && !sharedWasm)("malloc from wasm returns 0 with ENOMEM past the memory's maximum, and the heap stays usable", () => {
    const { memory, heap, wasm } = setup(shared);
    const p = wasm.malloc(100);
    wasm.fill(p, 100, 3);
    expect(wasm.malloc(20 * 1024 * 1024)).toBe(0); // the memory's maximum is 16 MiB
    expect(heap.errno).toBe(Errno.ENOMEM);
    expect(memory.buffer.byteLength).toBeLessThanOrEqual(256 * 65_536);
    expect(wasm.check(p, 100, 3)).toBe(1);
    heap.check();
    const r = wasm.malloc(100);
    expectGoodPointer(r);
    wasm.free(r);
    wasm.free(p);
    heap.check();
  });

  it.skipIf(shared && !sharedWasm)("malloc(0) from wasm returns a unique, freeable, non-NULL pointer", () => {
    const { heap, wasm } = setup(shared);
    const a = wasm.malloc(0);
    const b = wasm.malloc(0);
    expectGoodPointer(a);
    expectGoodPointer(b);
    expect(a).not.toBe(b);
    wasm.free(a);
    wasm.free(b);
    heap.check();
  });

  it.skipIf(shared && !sharedWasm)("a double free in wasm throws DoubleFreeError out of the wasm call; the heap stays usable", () => {
    const { heap, wasm } = setup(shared);
    const live = wasm.malloc(64);
    wasm.fill(live, 64, 1);
    let caught: unknown;
    try {
      wasm.double_free();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DoubleFreeError);
    expect(caught).toBeInstanceOf(HeapError);
    expect(caught).toBeInstanceOf(VmError);
    expect((caught as Error).name).toBe("DoubleFreeError");
    expect((caught as Error).message).toContain("double free detected");
    heap.check();
    expect(wasm.check(live, 64, 1)).toBe(1);
    const again = wasm.malloc(24);
    expectGoodPointer(again);
    wasm.free(again);
    wasm.free(live);
    heap.check();
    expectStaticDataIntact(heap);
  });

  it.skipIf(shared && !sharedWasm)("keeps working after the module grows the memory itself", () => {
    const { memory, heap, wasm } = setup(shared);
    const p = wasm.malloc(500);
    wasm.fill(p, 500, 11);
    expect(wasm.grow_self(2)).toBe(1);
    expect(memory.buffer.byteLength).toBe(3 * 65_536);
    // the heap's views must follow the new buffer (the old one is detached when unshared)
    expect(heap.memory.u8.length).toBe(3 * 65_536);
    expectPattern(heap, p, 500, 11);
    const q = wasm.malloc(500);
    expectGoodPointer(q);
    wasm.fill(q, 500, 12);
    expect(wasm.check(p, 500, 11)).toBe(1);
    expectPattern(heap, q, 500, 12);
    heap.check();
    wasm.free(p);
    wasm.free(q);
    heap.check();
    expectStaticDataIntact(heap);
  });
});

describe("Heap over a WebAssembly.Memory that it has to grow", () => {
  // SPEC (heap.md, "as the heap of a WebAssembly module": the heap "grows the memory with
  // memory.grow when it needs to"). KNOWN SRC BUG: on an *unshared* memory, memory.grow detaches
  // the old ArrayBuffer; Brk.brk() stores the new break through the heap's word view *after*
  // moveBreak() grew the memory, i.e. into the detached buffer, so the write is lost (the break
  // word at base + 28 keeps its old value) and check() reports "heap end differs from the break".
  // LinearHost.sbrk only re-syncs its views after brk() returns. Shared memories are unaffected
  // (the old SharedArrayBuffer still aliases the same bytes).
  const kinds: Array<[string, boolean]> = [["an unshared", false]];
  if (sharedWasm) kinds.push(["a shared", true]);
  it.each(kinds)("the break survives a growth of %s memory: malloc(200000) then check() passes", (_name, shared) => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 256, ...(shared ? { shared: true } : {}) } as WebAssembly.MemoryDescriptor);
    const heap = new Heap({ memory, base: HEAP_BASE });
    const p = heap.malloc(200_000);
    expectGoodPointer(p);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(p + 200_000);
    expect(() => heap.check()).not.toThrow();
    // and the next block lies inside the memory too
    const q = heap.malloc(1500);
    expectGoodPointer(q);
    expect(q + 1500).toBeLessThanOrEqual(memory.buffer.byteLength);
    expect(q >= p + 200_000 || q + 1500 <= p).toBe(true);
  });
});

describe("wasmImports", () => {
  it("provides the C-ABI functions the spec names", () => {
    const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 4 }), base: HEAP_BASE });
    const imports = heap.wasmImports();
    for (const name of ["malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc", "malloc_usable_size"] as const) {
      expect(typeof imports[name], name).toBe("function");
    }
    // i32 arguments arrive signed: a size of 0x8000_0000 or more is read as unsigned, not negative
    expect(imports.malloc(-1)).toBe(0);
    expect(heap.errno).toBe(Errno.ENOMEM);
    const p = imports.aligned_alloc(256, 10);
    expect(p % 256).toBe(0);
    expect(imports.malloc_usable_size(p)).toBeGreaterThanOrEqual(10);
    imports.free(p);
    heap.check();
  });
});

describe("a heap on a memory the module grows behind its back", () => {
  it("every entry point picks up the new buffer (unshared memory: the old one is detached)", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const heap = new Heap({ memory, base: 1024 });
    const p = heap.malloc(100);
    const before = heap.mallocUsableSize(p);
    memory.grow(1);
    expect(heap.mallocUsableSize(p)).toBe(before);
    memory.grow(1);
    expect(heap.mallinfo().uordblks).toBeGreaterThan(0);
    memory.grow(1);
    expect(heap.mallocTrim(0)).toBe(0);
    memory.grow(1);
    expect(heap.chunks().some((c) => c.ptr === p)).toBe(true);
    memory.grow(1);
    heap.free(p);
    heap.check();
  });
});
