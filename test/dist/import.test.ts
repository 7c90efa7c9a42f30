/**
 * The built package, as users load it: `dist/index.js` from ESM and `dist/index.cjs` from CJS,
 * each in a fresh Node process (fixtures/smoke.mjs, fixtures/smoke.cjs), plus the package's own
 * "exports" map (the fixtures also load "vmheap" by name, a self-reference).
 *
 * Needs `npm run build` first (`npm test` and CI build before running the tests); skipped when
 * there is no dist/ at all.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const dist = join(root, "dist");
const built = existsSync(join(dist, "index.js")) && existsSync(join(dist, "index.cjs"));

interface Smoke {
  format: string;
  pointers: number[];
  aligned: boolean;
  usable: boolean;
  realloced: boolean;
  zeroed: boolean;
  overflow: number;
  overflowErrno: number;
  ENOMEM: number;
  errName: string | null;
  errMessage: string | null;
  isDoubleFree: boolean;
  isHeapError: boolean;
  isVmError: boolean;
  isError: boolean;
  selfIsSame: boolean;
  exports: string[];
  views: Record<string, unknown> & {
    zeroed: boolean;
    overflow: null;
    overflowErrno: boolean;
    foreign: CaughtView;
    double: CaughtView;
  };
  surprises: Record<"notNumber" | "freeString" | "typo" | "secondHeap" | "detached" | "maxBytes", Caught>;
}

interface CaughtView {
  name: string;
  message: string;
  isInvalid: boolean;
  isDouble: boolean;
}

interface Caught {
  name: string;
  message: string;
  isArgument: boolean;
  isDetached: boolean;
  isVmError: boolean;
}

function run(fixture: string): Smoke {
  const out = execFileSync(process.execPath, [join(here, "fixtures", fixture)], { cwd: root, encoding: "utf8", timeout: 30_000 });
  const lines = out.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Smoke;
}

/** What api.md says is importable from the package root (the parts that exist so far). */
const required = [
  "LinearMemory",
  "Brk",
  "Heap",
  "Errno",
  "VmError",
  "HeapError",
  "DoubleFreeError",
  "InvalidPointerError",
  "HeapCorruptionError",
  "MemoryFault",
  "SegmentationFault",
  "ProtectionFault",
  "AlignmentFault",
  "BusError",
  "OutOfMemoryError",
  "PROT_NONE",
  "PROT_READ",
  "PROT_WRITE",
  "PROT_EXEC",
  "MAP_SHARED",
  "MAP_PRIVATE",
  "MAP_FIXED",
  "MAP_ANONYMOUS",
  "MAP_FIXED_NOREPLACE",
  "MAP_FAILED",
  "ArgumentError",
  "DetachedMemoryError",
];

describe.skipIf(!built)("the built package (dist/)", () => {
  const results = new Map<string, Smoke>();
  const get = (fixture: string): Smoke => {
    let r = results.get(fixture);
    if (r === undefined) {
      r = run(fixture);
      results.set(fixture, r);
    }
    return r;
  };

  it.each([
    ["smoke.mjs", "esm"],
    ["smoke.cjs", "cjs"],
  ])("%s: malloc/realloc/calloc/free round trip through the built %s entry", (fixture, format) => {
    const r = get(fixture);
    expect(r.format).toBe(format);
    expect(r.pointers).toHaveLength(3);
    expect(r.aligned).toBe(true);
    expect(r.usable).toBe(true);
    expect(r.realloced).toBe(true);
    expect(r.zeroed).toBe(true);
    expect(r.overflow).toBe(0);
    expect(r.overflowErrno).toBe(12);
    expect(r.ENOMEM).toBe(12);
  });

  it.each(["smoke.mjs", "smoke.cjs"])("%s: a double free throws DoubleFreeError, a HeapError and a VmError", (fixture) => {
    const r = get(fixture);
    expect(r.errName).toBe("DoubleFreeError");
    expect(r.errMessage).toContain("free(): double free detected");
    expect(r.isDoubleFree).toBe(true);
    expect(r.isHeapError).toBe(true);
    expect(r.isVmError).toBe(true);
    expect(r.isError).toBe(true);
  });

  it.each(["smoke.mjs", "smoke.cjs"])("%s: typed-array views of every type: aligned, resized with their contents, freed; free(view) errors in glibc's words", (fixture) => {
    const v = get(fixture).views;
    for (const name of ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"]) {
      expect(v[name], name).toEqual({ type: true, length: [5, 500], aligned: true, kept: true });
    }
    expect(v.zeroed).toBe(true);
    expect(v.overflow).toBeNull();
    expect(v.overflowErrno).toBe(true);
    expect(v.foreign).toEqual({ name: "InvalidPointerError", message: "free(): invalid pointer (a Float32Array over another buffer than this heap's)", isInvalid: true, isDouble: false });
    expect(v.double.name).toBe("DoubleFreeError");
    expect(v.double.isDouble).toBe(true);
    expect(v.double.message).toContain("free(): double free detected");
  });

  it.each(["smoke.mjs", "smoke.cjs"])("%s: the typed errors at the API's edge are the classes the entry exports", (fixture) => {
    const s = get(fixture).surprises;
    const argument = { name: "ArgumentError", isArgument: true, isDetached: false, isVmError: true };
    expect(s.notNumber).toEqual({ ...argument, message: 'malloc(): size must be a number, got "100"' });
    expect(s.freeString).toMatchObject({ ...argument, message: expect.stringContaining('free(): invalid pointer ("16")') });
    expect(s.typo).toEqual({ ...argument, message: 'Heap: unknown option "maxbytes" (did you mean maxBytes?)' });
    expect(s.secondHeap).toMatchObject({ ...argument, message: expect.stringContaining("Heap.attach") });
    expect(s.maxBytes).toMatchObject({ ...argument, message: expect.stringContaining("more than a heap can address") });
    expect(s.detached).toMatchObject({ name: "DetachedMemoryError", isArgument: false, isDetached: true, isVmError: true, message: expect.stringContaining("detached") });
  });

  it.each(["smoke.mjs", "smoke.cjs"])("%s: the package name resolves through the exports map to the same entry", (fixture) => {
    expect(get(fixture).selfIsSame).toBe(true);
  });

  it("ESM and CJS export the same names, including everything api.md lists that exists", () => {
    const esm = get("smoke.mjs").exports;
    const cjs = get("smoke.cjs").exports;
    expect(cjs).toEqual(esm);
    for (const name of required) expect(esm, name).toContain(name);
    expect(esm).not.toContain("default");
  });

  it("ships type declarations for both entries", () => {
    expect(existsSync(join(dist, "index.d.ts"))).toBe(true);
    expect(existsSync(join(dist, "index.d.cts"))).toBe(true);
  });
});
