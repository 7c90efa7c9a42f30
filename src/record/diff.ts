/**
 * What changed between two snapshots, kept so that it applies both ways: a step of a
 * recording holds the records that went and the records that came (lists keyed by address),
 * and each changed number's value before and after. Forwards: drop `removed`, insert `added`,
 * take the `after` values; backwards: the other way round. Nothing here knows how a heap
 * works: the same code diffs chunks, mapped blocks, regions and pages.
 *
 * ```text
 *   before  [a][b ][c   ]          removed [b][c]        forward:  before − removed + added
 *   after   [a][b'    ][d]   ──▶   added   [b'][d]       backward: after  − added   + removed
 * ```
 */
import { ArgumentError } from "../errors.js";
import type { ChunkInfo } from "../heap/Heap.js";
import type { AddressSpaceSnapshot, HeapSnapshot, HeapTotals, MappedBlockInfo, PageInfo, RegionInfo } from "./snapshot.js";

/** Records of a list that went (`removed`, as they were) and came (`added`, as they are now); a changed record is in both. */
export interface ListChange<T> {
  /** Rows of the list before that are not in the list after (or changed: their old version). */
  removed: T[];
  /** Rows of the list after that were not in the list before (or changed: their new version). */
  added: T[];
}

/** Numbers that changed: name → `[before, after]`. */
export type FieldChange = Record<string, [number, number]>;

/** How a state changed in one step; parts that did not change are left out. */
export interface StateDiff {
  /** The heap's chunks (keyed by address). */
  chunks?: ListChange<ChunkInfo>;
  /** Blocks with a mapping of their own (keyed by pointer). */
  mapped?: ListChange<MappedBlockInfo>;
  /** The heap's totals: `mallinfo.arena` … `mallinfo.keepcost`, `footprint`, `maxFootprint`, `errno`. */
  totals?: FieldChange;
  /** The address space's regions (keyed by start). */
  regions?: ListChange<RegionInfo>;
  /** Its pages (keyed by address). */
  pages?: ListChange<PageInfo>;
  /** Its counters (`status()` fields). */
  status?: FieldChange;
}

/** A heap snapshot and, when one is watched, an address-space snapshot: what a recording's steps change. */
export interface RecordedState {
  /** The heap. */
  heap: HeapSnapshot;
  /** The address space the heap lives in, or null (a heap on linear memory). */
  as: AddressSpaceSnapshot | null;
}

type Row = object;

/** Two flat records (numbers, strings, booleans) are equal field by field. */
function sameRow(a: Row, b: Row): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (x[k] !== y[k]) return false;
  for (const k in y) if (!(k in x)) return false;
  return true;
}

/** The change from list `a` to list `b`, both sorted by `key` with distinct keys. O(|a| + |b|). */
export function diffList<T extends Row>(a: readonly T[], b: readonly T[], key: (r: T) => number): ListChange<T> {
  const removed: T[] = [];
  const added: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const ka = i < a.length ? key(a[i]!) : Infinity;
    const kb = j < b.length ? key(b[j]!) : Infinity;
    if (ka < kb) removed.push(a[i++]!);
    else if (kb < ka) added.push(b[j++]!);
    else {
      if (!sameRow(a[i]!, b[j]!)) {
        removed.push(a[i]!);
        added.push(b[j]!);
      }
      i++;
      j++;
    }
  }
  return { removed, added };
}

/**
 * `list` with a change applied forwards (drop `removed`, insert `added`) or backwards. Returns
 * a new list; the records themselves are shared, never modified.
 * @throws ArgumentError when a record to drop is not in `list` as recorded (the change was
 *   made from another state)
 */
export function applyList<T extends Row>(list: readonly T[], change: ListChange<T>, forward: boolean, key: (r: T) => number): T[] {
  const drop = forward ? change.removed : change.added;
  const put = forward ? change.added : change.removed;
  const gone = new Map<number, T>();
  for (const r of drop) gone.set(key(r), r);
  const kept: T[] = [];
  for (const r of list) {
    const g = gone.get(key(r));
    if (g === undefined) {
      kept.push(r);
      continue;
    }
    if (!sameRow(g, r)) throw new ArgumentError(`the record at ${key(r)} is not as the change expects`);
    gone.delete(key(r));
  }
  if (gone.size > 0) throw new ArgumentError(`the record at ${gone.keys().next().value as number} the change drops is missing`);
  if (put.length === 0) return kept;
  const ins = [...put].sort((x, y) => key(x) - key(y));
  const out: T[] = [];
  let i = 0;
  for (const r of kept) {
    while (i < ins.length && key(ins[i]!) < key(r)) out.push(ins[i++]!);
    out.push(r);
  }
  while (i < ins.length) out.push(ins[i++]!);
  return out;
}

/** The numbers that differ between two records of numbers, by name. */
function diffFields(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>, prefix: string, out: FieldChange): void {
  for (const k in b) if (a[k] !== b[k]) out[prefix + k] = [a[k]!, b[k]!];
}

/** The heap totals as one flat record: `mallinfo.<field>`, `footprint`, `maxFootprint`, `errno`. */
function flatTotals(t: HeapTotals): Record<string, number> {
  const out: Record<string, number> = { footprint: t.footprint, maxFootprint: t.maxFootprint, errno: t.errno };
  for (const [k, v] of Object.entries(t.mallinfo)) out[`mallinfo.${k}`] = v as number;
  return out;
}

const byAddress = (r: { address: number }): number => r.address;
const byPtr = (r: MappedBlockInfo): number => r.ptr;
const byStart = (r: RegionInfo): number => r.start;

const isEmpty = (c: ListChange<unknown>): boolean => c.removed.length === 0 && c.added.length === 0;

/** How `b` differs from `a` (two states of the same heap and address space). */
export function diffStates(a: RecordedState, b: RecordedState): StateDiff {
  const d: StateDiff = {};
  const chunks = diffList(a.heap.chunks, b.heap.chunks, byAddress);
  if (!isEmpty(chunks)) d.chunks = chunks;
  const mapped = diffList(a.heap.mapped, b.heap.mapped, byPtr);
  if (!isEmpty(mapped)) d.mapped = mapped;
  const totals: FieldChange = {};
  diffFields(flatTotals(a.heap), flatTotals(b.heap), "", totals);
  if (Object.keys(totals).length > 0) d.totals = totals;
  if (a.as !== null && b.as !== null) {
    const regions = diffList(a.as.regions, b.as.regions, byStart);
    if (!isEmpty(regions)) d.regions = regions;
    const pages = diffList(a.as.pages, b.as.pages, byAddress);
    if (!isEmpty(pages)) d.pages = pages;
    const status: FieldChange = {};
    diffFields(a.as.status as unknown as Record<string, number>, b.as.status as unknown as Record<string, number>, "", status);
    if (Object.keys(status).length > 0) d.status = status;
  }
  return d;
}

/** Whether a diff changes nothing. */
export function diffIsEmpty(d: StateDiff): boolean {
  return Object.keys(d).length === 0;
}

/**
 * Sets the changed numbers of `o` (a fresh copy: `mallinfo` is copied again when one of its
 * fields changes), after checking that each has the value the change starts from.
 */
function applyFields(o: Record<string, unknown>, change: FieldChange | undefined, forward: boolean): void {
  if (change === undefined) return;
  for (const k in change) {
    const [was, now] = forward ? change[k]! : [change[k]![1], change[k]![0]];
    const inMallinfo = k.startsWith("mallinfo.");
    const cur = inMallinfo ? (o.mallinfo as Record<string, unknown>)[k.slice(9)] : o[k];
    if (cur !== was) throw new ArgumentError(`${k} is ${String(cur)}, the change expects ${was}`);
    if (inMallinfo) o.mallinfo = { ...(o.mallinfo as object), [k.slice(9)]: now };
    else o[k] = now;
  }
}

/**
 * The state `d` leads to from `s` (forward), or the state `d` came from, given the state it led
 * to (backward). Returns new objects where something changed and shares the rest; `s` itself
 * is not modified.
 * @throws ArgumentError when `d` was not made from this state
 */
export function applyDiff(s: RecordedState, d: StateDiff, forward: boolean): RecordedState {
  let heap = s.heap;
  if (d.chunks !== undefined || d.mapped !== undefined || d.totals !== undefined) {
    heap = { ...heap };
    applyFields(heap as unknown as Record<string, unknown>, d.totals, forward);
    if (d.chunks !== undefined) heap.chunks = applyList(s.heap.chunks, d.chunks, forward, byAddress);
    if (d.mapped !== undefined) heap.mapped = applyList(s.heap.mapped, d.mapped, forward, byPtr);
  }
  let as = s.as;
  if (as !== null && (d.regions !== undefined || d.pages !== undefined || d.status !== undefined)) {
    as = { ...as, status: { ...as.status } };
    applyFields(as.status as unknown as Record<string, unknown>, d.status, forward);
    if (d.regions !== undefined) as.regions = applyList(s.as!.regions, d.regions, forward, byStart);
    if (d.pages !== undefined) as.pages = applyList(s.as!.pages, d.pages, forward, byAddress);
  }
  return { heap, as };
}
