/**
 * A segment lies in a block of the main heap: the segment table may name no other memory. A
 * crafted buffer whose table names a "segment" outside the main heap (below its base, where a
 * program keeps its own data, a wasm module's statics say) is refused on attach: recovering a
 * thread there (the snapshot's, or Heap.recover after a plain attach) would write to that memory
 * (the arena's log emptied, its front cache recounted), which no heap owns.
 */
import { describe, expect, it } from "vitest";
import { Heap, HeapCorruptionError, LinearMemory } from "../../src/index.js";

// The shared area's layout (arenas.ts).
const A_SLOTS = (4 + 1 + 4096 + 15) & ~15;
const SLOT_WORDS = 16;
const A_TABLE = A_SLOTS + 64 * SLOT_WORDS;
const S_LOCK = 0;
const S_SEGS = 3;
const S_LOG = 9;
const G_MAGIC = 0;
const G_SLOT = 1;
const G_SIZE = 2;
const G_NEXT = 3;
const G_HDR = 4;
const G_PENDING = 5;
const G_SHIFT = 6;
const LOG_WORDS = 4096;
const CACHE_WORDS = 132;
const SEG_HEADER = 64;
const SEG_MAGIC = 0x67736d76;
const MiB = 1 << 20;

interface Shared {
  area: number;
}

/**
 * A concurrent heap at 2 MiB in its buffer, the MiB below it the program's (filled with 0x5a),
 * and arena 5 crafted to hold its log in that MiB, its lock held by thread 1233 (holder 1234);
 * `listed`: the MiB also on the arena's list of segments, else the log's word alone.
 */
function crafted(listed: boolean): { buf: SharedArrayBuffer; changed: () => number } {
  const memory = new LinearMemory({ maxBytes: 16 * MiB, shared: true });
  const heap = new Heap({ memory, base: 2 * MiB, concurrent: true });
  const buf = memory.buffer as SharedArrayBuffer;
  const v = new Int32Array(buf);
  new Uint8Array(buf, 0, 2 * MiB).fill(0x5a);
  const area = (heap as unknown as { shared: Shared }).shared.area;
  const sa = area + A_SLOTS + 5 * SLOT_WORDS;
  const x = MiB;
  v[area + A_TABLE + (x >>> 20)] = x | 5;
  v[(x >>> 2) + G_MAGIC] = SEG_MAGIC;
  // Its header as the table makes it (a first segment's layout, a 64-bit heap's granules).
  const pending = (x + SEG_HEADER + 4 * (1 + LOG_WORDS + CACHE_WORDS) + 15) & ~15;
  v[(x >>> 2) + G_SLOT] = 5;
  v[(x >>> 2) + G_SIZE] = MiB;
  v[(x >>> 2) + G_NEXT] = 0;
  v[(x >>> 2) + G_HDR] = pending + 2 * (((MiB >>> 7) + 15) & ~15);
  v[(x >>> 2) + G_PENDING] = pending;
  v[(x >>> 2) + G_SHIFT] = 4;
  v[(x + SEG_HEADER) >>> 2] = 0; // the log: empty
  v[sa + S_LOG] = x + SEG_HEADER;
  v[sa + S_SEGS] = listed ? x : 0;
  v[sa + S_LOCK] = 1234;
  const before = new Uint8Array(buf, 0, 2 * MiB).slice();
  // The bytes below the heap that differ from what the program (and the crafting) left there.
  const changed = (): number => new Uint8Array(buf, 0, 2 * MiB).reduce((n, b, i) => n + (b !== before[i] ? 1 : 0), 0);
  return { buf, changed };
}

describe("a segment table naming memory outside the main heap", () => {
  it.each([
    ["the log's word alone", false],
    ["the arena's list", true],
  ])("is refused on attach, with a snapshot (%s), and the memory below the heap is untouched", (_, listed) => {
    const { buf, changed } = crafted(listed);
    let err: unknown = null;
    try {
      Heap.attach(buf, { snapshot: true });
    } catch (e) {
      err = e;
    }
    expect(changed()).toBe(0);
    expect(err).toBeInstanceOf(HeapCorruptionError);
    expect((err as Error).message).toMatch(/^attach\(\): the segment table's word for MiB 1 \(word at 0x[0-9a-f]+\) holds 0x100005, which is not sound/);
  });

  it("is refused on a plain attach, whose recover would write there", () => {
    const { buf, changed } = crafted(false);
    let attached: Heap | null = null;
    try {
      attached = Heap.attach(buf);
    } catch (e) {
      expect(e).toBeInstanceOf(HeapCorruptionError);
    }
    if (attached !== null) attached.recover(1233);
    expect(changed()).toBe(0);
    expect(attached).toBeNull();
  });
});
