/**
 * vmheap: a C-exact, fast malloc over linear memory, and a model of how a Linux process gets
 * and manages its memory. Everything public is exported here by name.
 * @packageDocumentation
 * @module vmheap
 */
export { Errno, errnoName, type ErrnoValue } from "./errno.js";
export {
  VmError,
  ArgumentError,
  HeapError,
  DoubleFreeError,
  InvalidPointerError,
  HeapCorruptionError,
  MemoryFault,
  SegmentationFault,
  ProtectionFault,
  AlignmentFault,
  BusError,
  OutOfMemoryError,
  FrameError,
  DetachedMemoryError,
  type Access,
} from "./errors.js";
export {
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  PROT_EXEC,
  MAP_SHARED,
  MAP_PRIVATE,
  MAP_FIXED,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_FAILED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_DONTNEED,
  MADV_FREE,
  MREMAP_MAYMOVE,
  MREMAP_FIXED,
  M_TRIM_THRESHOLD,
  M_TOP_PAD,
  M_MMAP_THRESHOLD,
  M_MMAP_MAX,
} from "./constants.js";
export {
  LinearMemory,
  WASM_PAGE,
  DEFAULT_MAX_BYTES,
  DEFAULT_INITIAL_BYTES,
  type LinearMemoryOptions,
  type FreshMemoryOptions,
  type BufferMemoryOptions,
  type WasmMemoryOptions,
} from "./memory/LinearMemory.js";
export { Brk, type BrkOptions, type BreakTarget, type BreakCell } from "./heap/Brk.js";
import { Heap as HeapClass, withArenas, type HeapMemory } from "./heap/Heap.js";
import { SharedHeap } from "./heap/arenas.js";
export {
  DEFAULT_MMAP_THRESHOLD,
  DEFAULT_TRIM_THRESHOLD,
  MAX_HEAP_BYTES,
  type HeapOptions,
  type AttachOptions,
  type MallInfo,
  type DataModel,
  type ChunkInfo,
  type MappedBlock,
  type HeapMemory,
} from "./heap/Heap.js";
export type { TypedArray, TypedArrayConstructor } from "./heap/views.js";
/**
 * The malloc family over linear memory (`new Heap()`), or inside a process (`process.heap`),
 * with C semantics; all its state lives in the memory it manages. See the class's methods,
 * and `heap.md` for the semantics.
 *
 * As a type, `Heap` is any heap: its `memory` is a {@link LinearMemory} or, for a process's
 * heap, an {@link AddressSpace}. `new Heap(...)` makes a `Heap<LinearMemory>`, whose blocks
 * are read and written through `heap.memory.u8` / `heap.memory.dv`; `process.heap` is a
 * `Heap<AddressSpace>`. Both are assignable to `Heap`.
 * @example
 * ```ts
 * import { Heap, heapMap } from "vmheap";
 *
 * const heap = new Heap();
 * const p = heap.malloc(100);
 * heap.memory.u8.set(new TextEncoder().encode("hello"), p);
 * const q = heap.realloc(p, 200);
 * // realloc grew the block in place: the same address, the bytes kept
 * console.log(q === p, heap.mallocUsableSize(q), new TextDecoder().decode(heap.memory.u8.subarray(q, q + 5))); // true 200 hello
 * const big = heap.malloc(1000);
 * heap.free(q);
 * heap.check(); // every chunk and bin is sound
 * const { uordblks, fordblks } = heap.mallinfo();
 * console.log(uordblks, fordblks, heap.mallocFootprint()); // 3088 3088 6176
 * console.log(heapMap(heap, { width: 48, rows: 3 }));
 * // 0x0710 mmmmmmmmm......████████████████████████████████~
 * // 0x0d00 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
 * // 0x1300 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
 * // █▓ used (shades alternate)  . free  ~ top  m chunk map   1 cell = 32 B (≥ 1 per chunk)   0x710..0x1820: 4368 B in 4 chunks
 * heap.free(big);
 * ```
 * @class
 */
export const Heap = /* @__PURE__ */ withArenas(SharedHeap); // (the class itself, with the arenas of concurrent heaps: see vmheap/heap for the heap alone)
export type Heap<M extends HeapMemory = HeapMemory> = HeapClass<M>;
export type { ProcessHeapOptions } from "./heap/PagedHeap.js";
export { GlibcHeap, type GlibcHeapOptions } from "./heap/glibc/GlibcHeap.js";
export type { MallocState } from "./heap/glibc/state.js";
export type { GlibcMemory } from "./heap/glibc/memory.js";
export { replayGlibcTrace, type GlibcReplayOptions } from "./heap/glibc/replay.js";
export { WASI_ERRNO, LINUX_ERRNO, type WasmImports, type WasmImportOptions, type ErrnoNumbering } from "./heap/wasm/abi.js";
export { compileWasmEngine, type WasmEngineBinaries } from "./heap/wasm/engine.js";
export { memoryImport, exportedGlobal, type MemoryLimits } from "./heap/wasm/binary.js";
export { MAX_REQUEST } from "./heap/chunk.js";
export { heapMap, chunkTable, formatMallinfo, MAP_GLYPHS, type HeapMapOptions } from "./viz/heapMap.js";
export {
  PhysicalMemory,
  DEFAULT_PAGE_SIZE,
  MIN_PAGE_SIZE,
  MAX_PAGE_SIZE,
  MAX_FRAMES,
  PINNED,
  isValidPageSize,
  type PhysicalMemoryOptions,
} from "./memory/PhysicalMemory.js";
export { PageTable, defaultLevels, MAX_ADDRESS_BITS, MAX_LEVELS, MAX_LEVEL_BITS, type PageTableOptions, type WalkStep } from "./paging/PageTable.js";
export {
  Tlb,
  needFor,
  NEED_READ,
  NEED_WRITE,
  NEED_EXEC,
  TLB_FLAGS,
  DEFAULT_TLB_ENTRIES,
  DEFAULT_TLB_WAYS,
  type TlbOptions,
  type TlbEntry,
  type TlbReplacement,
} from "./paging/Tlb.js";
export { Mmu, MAX_FAULT_RETRIES, type MmuOptions, type FaultHandler, type AlignmentPolicy } from "./paging/Mmu.js";
/** The page-table-entry bit layout and its helpers (names like `USER` and `COW` are too generic for the root). */
export { pte } from "./paging/pteNamespace.js";
export {
  AddressSpace,
  type AddressSpaceOptions,
  type ReplacementPolicy,
  type VmStatus,
  type VmEvent,
  type VmEventListener,
} from "./vm/AddressSpace.js";
export { SwapSpace, type SwapSpaceOptions } from "./vm/Swap.js";
export { MemFile, type MemFileOptions } from "./vm/MemFile.js";
export { Vma, VmaList, mergeable } from "./vm/Vma.js";
export { simulateReplacement, type ReplayPolicy, type ReplayStep, type ReplayResult } from "./vm/replay.js";
export {
  Process,
  TEXT_BASE_64,
  TEXT_BASE_32,
  DEFAULT_STACK_SIZE,
  INITIAL_STACK_BYTES,
  type ProcessOptions,
  type ProcessLayout,
} from "./vm/Process.js";
export {
  HeapRecorder,
  RECORDING_VERSION,
  type Recording,
  type RecordedStep,
  type HeapCall,
  type RecorderOptions,
  type RecordableHeap,
} from "./record/Recorder.js";
export { Player, checkRecording, describeStep, type PlayerState } from "./record/Player.js";
export {
  snapshotHeap,
  snapshotAddressSpace,
  checkHeapSnapshot,
  checkAddressSpaceSnapshot,
  SNAPSHOT_VERSION,
  type HeapSnapshot,
  type HeapTotals,
  type MappedBlockInfo,
  type AddressSpaceSnapshot,
  type RegionInfo,
  type PageInfo,
  type SnapshotSource,
} from "./record/snapshot.js";
export { describeHeapEvent, type HeapEvent } from "./record/events.js";
export type { StateDiff, ListChange, FieldChange, RecordedState } from "./record/diff.js";
