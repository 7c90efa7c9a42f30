/**
 * Small hand-written WebAssembly clients of the heap, in WAT: what a C module compiled to wasm32
 * does with its malloc family (imports from `env`, its static data and `errno` below
 * `__heap_base`), without needing a C toolchain.
 */
import wabtInit from "wabt";

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt | null = null;
const compiled = new Map<string, WebAssembly.Module>();

/** Loads wabt (once); call from `beforeAll`. */
export async function loadWabt(): Promise<void> {
  wabt ??= await wabtInit();
}

/** Compiles WAT text to a module (cached by text). */
export function compileWat(name: string, text: string, threads = false): WebAssembly.Module {
  const key = `${threads}:${text}`;
  let m = compiled.get(key);
  if (m === undefined) {
    if (wabt === null) throw new Error("call loadWabt() first");
    const mod = wabt.parseWat(name, text, { threads });
    try {
      // (no mod.validate(): wabt.js validates without the features passed to parseWat; the
      // engine validates the binary anyway when it compiles it)
      m = new WebAssembly.Module(mod.toBinary({}).buffer as Uint8Array<ArrayBuffer>);
    } finally {
      mod.destroy();
    }
    compiled.set(key, m);
  }
  return m;
}

/** Whether this runtime can make a shared WebAssembly.Memory. */
export const sharedWasm = ((): boolean => {
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
    return true;
  } catch {
    return false;
  }
})();

/** Where the C-ABI client keeps its `errno` (a static int, below the heap). */
export const ERRNO_ADDR = 1024;
/** The client's `void *` slot that `posix_memalign` writes. */
export const MEMPTR_ADDR = 1028;
/** The client's `__heap_base`. */
export const ABI_HEAP_BASE = 2048;

/** How a client tells where its `errno` is. */
export type ErrnoExport = "global" | "function" | "none";

/**
 * A client that calls every function of the malloc family as C does and keeps `errno` in its
 * memory, exported as wasi-libc's `errno` global (`"global"`: what `-Wl,--export=errno`
 * gives), as musl's `__errno_location()` (`"function"`), or not at all.
 */
export function abiClientText(errnoExport: ErrnoExport | boolean, shared = false): string {
  const how = errnoExport === true ? "function" : errnoExport === false ? "none" : errnoExport;
  return `
(module
  (import "env" "memory" (memory 1 1024 ${shared ? "shared" : ""}))
  (import "env" "malloc" (func $malloc (param i32) (result i32)))
  (import "env" "free" (func $free (param i32)))
  (import "env" "calloc" (func $calloc (param i32 i32) (result i32)))
  (import "env" "realloc" (func $realloc (param i32 i32) (result i32)))
  (import "env" "reallocarray" (func $reallocarray (param i32 i32 i32) (result i32)))
  (import "env" "posix_memalign" (func $posix_memalign (param i32 i32 i32) (result i32)))
  (import "env" "aligned_alloc" (func $aligned_alloc (param i32 i32) (result i32)))
  (import "env" "memalign" (func $memalign (param i32 i32) (result i32)))
  (import "env" "malloc_usable_size" (func $malloc_usable_size (param i32) (result i32)))
  (global (export "__heap_base") i32 (i32.const ${ABI_HEAP_BASE}))
  ${how === "function" ? `(func (export "__errno_location") (result i32) (i32.const ${ERRNO_ADDR}))` : ""}
  ${how === "global" ? `(global (export "errno") i32 (i32.const ${ERRNO_ADDR}))` : ""}
  (func (export "get_errno") (result i32) (i32.load (i32.const ${ERRNO_ADDR})))
  (func (export "set_errno") (param i32) (i32.store (i32.const ${ERRNO_ADDR}) (local.get 0)))
  (func (export "memptr") (result i32) (i32.load (i32.const ${MEMPTR_ADDR})))
  (func (export "set_memptr") (param i32) (i32.store (i32.const ${MEMPTR_ADDR}) (local.get 0)))
  (func (export "malloc") (param i32) (result i32) (call $malloc (local.get 0)))
  (func (export "free") (param i32) (call $free (local.get 0)))
  (func (export "calloc") (param i32 i32) (result i32) (call $calloc (local.get 0) (local.get 1)))
  (func (export "realloc") (param i32 i32) (result i32) (call $realloc (local.get 0) (local.get 1)))
  (func (export "reallocarray") (param i32 i32 i32) (result i32) (call $reallocarray (local.get 0) (local.get 1) (local.get 2)))
  ;; posix_memalign(&memptr, alignment, size): the error it returns
  (func (export "posix_memalign") (param i32 i32) (result i32)
    (call $posix_memalign (i32.const ${MEMPTR_ADDR}) (local.get 0) (local.get 1)))
  (func (export "aligned_alloc") (param i32 i32) (result i32) (call $aligned_alloc (local.get 0) (local.get 1)))
  (func (export "memalign") (param i32 i32) (result i32) (call $memalign (local.get 0) (local.get 1)))
  (func (export "malloc_usable_size") (param i32) (result i32) (call $malloc_usable_size (local.get 0)))
  ;; p[0..n) = byte
  (func (export "fill") (param $p i32) (param $n i32) (param $b i32) (memory.fill (local.get $p) (local.get $b) (local.get $n)))
  ;; 1 when p[0..n) all equal byte
  (func (export "all") (param $p i32) (param $n i32) (param $b i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i))) (local.get $b)) (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
)`;
}

/** The exports of {@link abiClientText}'s module. */
export interface AbiClient {
  get_errno(): number;
  set_errno(v: number): void;
  memptr(): number;
  set_memptr(v: number): void;
  malloc(n: number): number;
  free(p: number): void;
  calloc(n: number, size: number): number;
  realloc(p: number, n: number): number;
  reallocarray(p: number, n: number, size: number): number;
  posix_memalign(alignment: number, size: number): number;
  aligned_alloc(alignment: number, size: number): number;
  memalign(alignment: number, size: number): number;
  malloc_usable_size(p: number): number;
  fill(p: number, n: number, b: number): void;
  all(p: number, n: number, b: number): number;
  grow(pages: number): number;
  __errno_location?: () => number;
}
