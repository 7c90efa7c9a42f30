#!/usr/bin/env node
// Writes the wasm engine of the heap, derived from src/heap/Heap.ts:
//
//   src/heap/wasm/engine.generated.as   the engine methods of Heap.ts in AssemblyScript
//   src/heap/wasm/engine.generated.ts   that code compiled with asc, one binary per data model,
//                                       as base64, with the hash of everything it was built from
//
//   node scripts/gen-wasm-engine.mjs           # (re)writes both
//   node scripts/gen-wasm-engine.mjs --check   # exits 1 when either is out of date
//
// Why generate: the C or Rust module that uses the heap as its malloc must call it
// wasm-to-wasm, so the engine has to exist as WebAssembly; and a hand-kept copy of ~1,000 lines
// of allocator drifts (STYLE.md, "One algorithm, several engines"). So the general path of
// Heap.ts (mallocImpl, freeImpl, reallocImpl, ... and every method they reach; not the
// written-out LP64 fast paths, which are the same algorithm by construction and tested so)
// is translated, method by method, with the TypeScript parser:
//
//   a JavaScript number            → the narrowest wasm integer type that holds every value it
//                                    can take: a metadata word (Int32Array) and a bitwise result
//                                    are i32 (>>>: u32); a sum, difference or product is i64
//                                    (two 32-bit values stay exact in 64 bits, so 2^31 + 2^31
//                                    is 2^32, as in JavaScript) unless its range (below) lies
//                                    within an i32 or a u32; a variable, parameter or result is
//                                    the join of all that is assigned to it (iterated until
//                                    nothing widens), or i32/u32 when its range lies within one
//   ranges                         → each number also carries the interval of values it can
//                                    take, derived conservatively, never guessed: a literal or
//                                    constant its value; a layout field its values over every
//                                    data model; hdr, bins, arena what init (abi.as) holds them
//                                    to (at most MAX_HEAP_ADDRESS, arena at least MIN_ARENA);
//                                    a root's parameter a u32 (the C ABI's size_t or pointer);
//                                    a metadata word any i32; x >>> k (k known in [0, 31]) at
//                                    most (2^32 − 1) >> k; x & y at most y when y is in [0, 2^31);
//                                    a + b, a − b, a · b from the ends of a's and b's; a
//                                    variable the hull of all assigned to it (a fourth widening:
//                                    unknown). A const's range is narrowed where a condition
//                                    guards it: after `if (x < y ...) return`, in the branches
//                                    of an if or ?:, on the right of && and || (x at least or at
//                                    most y's range allows; a const is never assigned again).
//                                    A sum whose every value fits an i32 (u32) is computed in
//                                    i32 (u32) arithmetic, which is exact for it (i32 arithmetic
//                                    gives the result modulo 2^32, which is then the result);
//                                    two values whose ranges fit an i32 (a u32) are compared as
//                                    such. Everything else stays i64.
//   a & b, a | b, ~a, a << b, ...  → i32 operations on the low 32 bits (ToInt32, as JavaScript)
//   m[a >>> 2], m[i], m[...] = v   → 32-bit loads and stores of the module's memory, at the low
//                                    32 bits of the address (where i32 arithmetic is exact)
//   this.method(...)               → a function of the module; fields → globals and constants
//   if (a || b) return; if (a && b) → one branch per test, in order (`ifThen`; also a ? b : c
//                                    in a condition that returns): binaryen would compute a
//                                    chain of cheap tests without branches, each as 0 or 1,
//                                    which costs more where the first test decides
//   Math.ceil(a / b), Math.floor   → exact integer division (ceilDiv, floorDiv)
//   throw new XError(what, op, at) → an imported JavaScript `fail(kind, what, op, at)` that
//                                    throws the same typed error (messages and operation
//                                    names travel as numbers, the tables below)
//   this.errno = E                 → a global the C-ABI layer turns into the module's errno
//   this.host.sbrk / copy / zero   → the wasm host (host.as): memory.grow, memory.copy/fill
//
// The engine takes the methods of FastPathHeap (src/heap/FastPathHeap.ts) in place of Heap's:
// free's common cases written out for any data model, each header and chunk-map word read once
// (`this.freeFast`, as free's LP64 fast path has them with literal numbers); a Heap method it
// overrides stays as `super_<name>`, which its `super.<name>(...)` calls. JavaScript's heaps do
// not use that class (a heap-only import would carry a third copy of free); the tests run it
// in JavaScript and on the engine, the forgery fuzzer included.
//
// What a linear-memory heap on a wasm memory never has is folded away before translation: no
// mapping source (`this.maps` is null), no lock, `typeof x === "number"` (C passes numbers).
// The data model's numbers (W, alignment, ...) are constants of a small module per model,
// computed by running Heap.ts's own setUp; asc compiles the engine once per data model.
// Anything the translator does not know how to translate is an error naming the line of
// Heap.ts, never a silent guess.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const rel = (p) => path.join(REPO, p);
/** The TypeScript the engine is derived from. */
export const SOURCES = {
  heap: "src/heap/Heap.ts",
  fastPath: "src/heap/FastPathHeap.ts",
  bins: "src/heap/bins.ts",
  chunk: "src/heap/chunk.ts",
  header: "src/heap/header.ts",
  errno: "src/errno.ts",
};
/** The hand-written AssemblyScript around the engine: the host (memory, imports) and the C ABI. */
export const HAND_WRITTEN = { host: "src/heap/wasm/host.as", abi: "src/heap/wasm/abi.as" };
export const OUT_AS = "src/heap/wasm/engine.generated.as";
export const OUT_TS = "src/heap/wasm/engine.generated.ts";
/** asc's options: the binaries depend on them (and on asc's version), so the hash covers them. */
export const ASC_FLAGS = ["-O3", "--noAssert", "--runtime", "stub", "--importMemory", "--initialMemory", "0", "--noExportMemory", "--use", "abort="];

/** The methods the C ABI calls (abi.as): the engine is these and every method they reach. */
const ROOTS = ["mallocImpl", "freeImpl", "callocImpl", "reallocImpl", "reallocarray", "memalignImpl", "usableImpl", "trimImpl"];
/** Public methods that, inside the engine, are their general path (the engine has no lock and no fast path of its own). */
const CALL_AS = { malloc: "mallocImpl", free: "freeImpl", realloc: "reallocImpl", calloc: "callocImpl" };
/**
 * Functions left as calls: the rare paths (growing and trimming the heap, moving the bitmap,
 * naming a bad pointer, aligned and moved blocks); freeChunk, whose common cases freeFast has
 * written out before it (free inlines freeFast alone); and malloc's takeFree, takeDv and
 * allocFromTop. Inlined, each at every place allocChunk calls it (takeFree three times), those
 * three made malloc so large a function that V8's code for it spilled on every path; as calls,
 * the programs of bench/wasm ran 0.94 times the instructions (callgrind: tree 1.02, hashtab
 * 0.94, strbuild 0.97, mix 0.84) and about 2% less time. (Earlier, with malloc smaller,
 * inlining the top's carving took 15% off a malloc/free pair next to the top.) Every other
 * function is inlined where it is called (AssemblyScript's @inline), as Heap.ts's fast paths
 * write them out by hand. Inlining the realloc paths too made no difference measurable above
 * the noise, and the binary 40% bigger.
 */
const COLD = new Set(["takeFree", "super_takeFree", "takeDv", "allocFromTop", "freeChunk", "super_freeChunk", "badPointer", "grow", "moveBitmap", "trim", "lowerBitmap", "growIntoTop", "reallocMove", "memalignImpl", "carveOk", "noteFootprint", "splitTail"]);
/** Fields of the heap that the engine keeps in globals, set from the header by `attachHeader`. */
const GLOBAL_FIELDS = new Set(["hdr", "bins", "arena"]);
/** Fields that are constants of a data model (computed by running setUp, see layoutConstants). */
const LAYOUT_FIELDS = new Set(["W", "W2", "amask", "gshift", "minChunk", "smallLimit", "binWords", "mode"]);
/** Error classes the engine raises, in the order of their `kind` number. */
export const ERROR_KINDS = ["HeapCorruptionError", "DoubleFreeError", "InvalidPointerError"];
/** The data models compiled, by their name in HeapOptions.dataModel and their layout object in chunk.ts. */
export const MODELS = { lp64: "LP64", ilp32: "ILP32", wasm32: "WASM32" };

// ───────────────────────── reading the sources ─────────────────────────

/** Evaluates a module of plain constants and functions (no imports): its exports. */
async function evalModule(source) {
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString("base64")}`);
}

/** Module-level `const NAME = <number>` of a source (exported or not), evaluated. */
function numericConstants(source, known) {
  const sf = ts.createSourceFile("x.ts", source, ts.ScriptTarget.ES2022, true);
  const out = {};
  for (const s of sf.statements) {
    if (!ts.isVariableStatement(s) || !(s.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of s.declarationList.declarations) {
      if (!d.initializer || !ts.isIdentifier(d.name)) continue;
      const init = d.initializer;
      if (ts.isArrowFunction(init) || ts.isObjectLiteralExpression(init) || ts.isCallExpression(init)) continue;
      const names = Object.keys({ ...known, ...out });
      try {
        const v = new Function(...names, `return (${init.getText(sf)});`)(...names.map((n) => (n in out ? out[n] : known[n])));
        if (typeof v === "number") out[d.name.text] = v;
      } catch {
        // not a constant expression
      }
    }
  }
  return out;
}

/**
 * The numbers a data model gives the engine's fields: Heap.ts's setUp run on a header at 0
 * (hdr, bins and arena are then offsets from the header), with the mode of a heap on a wasm
 * memory as the engine sees it: no lock, nothing to sync (wasm reads the memory directly).
 */
function layoutConstants(heapSf, heapSource, env, layout) {
  const cls = heapClass(heapSf);
  const setUp = cls.members.find((m) => ts.isMethodDeclaration(m) && m.name.getText(heapSf) === "setUp");
  if (!setUp?.body) throw new Error("gen-wasm-engine: Heap.setUp not found");
  const body = heapSource.slice(setUp.body.getStart(heapSf), setUp.body.end);
  const js = ts.transpile(`(function (host, hdr, layout, mode) ${body})`, { target: ts.ScriptTarget.ES2022 });
  const names = Object.keys(env);
  const fn = new Function(...names, `return ${js}`)(...names.map((n) => env[n]));
  const self = {};
  fn.call(self, { u32: null }, 0, layout, 0);
  return self;
}

/** The subclass of Heap whose methods the engine takes instead of Heap's (see Heap.ts), if any. */
function fastPathClass(sf) {
  return sf.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === "FastPathHeap") ?? null;
}

function heapClass(sf) {
  const cls = sf.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === "Heap");
  if (!cls) throw new Error("gen-wasm-engine: class Heap not found");
  return cls;
}

// ───────────────────────── the translator ─────────────────────────

/** The join of two value types: the narrowest that holds both ("i32" ⊂ "i64", "u32" ⊂ "i64"). */
function join(a, b) {
  if (a === undefined || a === b) return b;
  if (b === undefined) return a;
  if (a === "bool" || b === "bool" || a === "op" || b === "op") return null; // a mix of kinds: an error
  return "i64";
}

/** The type of an integer constant: i32 when it is one, u32 when it fits 32 unsigned bits, else i64. */
function literalType(v) {
  if (!Number.isSafeInteger(v)) throw new Error(`gen-wasm-engine: ${v} is not an integer`);
  return v === (v | 0) ? "i32" : v === v >>> 0 ? "u32" : "i64";
}

// ─── ranges: the values a number can take, for sums computed in 32 bits where that is exact ───

/** The values of an i32 and of a u32. */
const I32 = [-(2 ** 31), 2 ** 31 - 1];
const U32 = [0, 2 ** 32 - 1];
/** The values a type holds (null: any integer, an i64). */
const typeRange = (t) => (t === "i32" ? I32 : t === "u32" ? U32 : null);
/** Whether range `r` (null: unknown) lies within `b`. */
const within = (r, b) => r != null && r[0] >= b[0] && r[1] <= b[1];
/** What is known of an expression's values: its range, a literal's value, else its type's. */
const rangeOf = (x) => x.r ?? (x.lit !== undefined ? [x.lit, x.lit] : typeRange(x.t));
/** The smallest range that holds both (null when either is unknown). */
const hull = (a, b) => (a == null || b == null ? null : [Math.min(a[0], b[0]), Math.max(a[1], b[1])]);
/** The values in both (null: none can be, or unknown). */
function meet(a, b) {
  if (a == null) return b;
  if (b == null) return a;
  const r = [Math.max(a[0], b[0]), Math.min(a[1], b[1])];
  return r[0] <= r[1] ? r : null;
}
/** The range of `a op b` for JavaScript's + - * on integers in ranges `a`, `b` (null: unknown). */
function arithRange(op, a, b) {
  if (a == null || b == null) return null;
  if (op === "+") return [a[0] + b[0], a[1] + b[1]];
  if (op === "-") return [a[0] - b[1], a[1] - b[0]];
  if (op === "*") {
    const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
    return p.every(Number.isSafeInteger) ? [Math.min(...p), Math.max(...p)] : null;
  }
  return null;
}
/** The relation that holds when `x rel y` is false, and `y rel' x` for `x rel y`. */
const NEGATE = { "<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==" };
const CONVERSE = { "<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!=" };
/** What `x rel y` says of x, given y in `ry` (null: nothing). */
function bound(rel, ry) {
  if (ry == null) return null;
  if (rel === "<") return [-Infinity, ry[1] - 1];
  if (rel === "<=") return [-Infinity, ry[1]];
  if (rel === ">") return [ry[0] + 1, Infinity];
  if (rel === ">=") return [ry[0], Infinity];
  if (rel === "==") return ry;
  return null;
}

/**
 * Translates the engine methods of Heap.ts (and the functions of bins.ts they call) to
 * AssemblyScript.
 *
 * Every JavaScript number gets the narrowest wasm type that holds each value it can take, so
 * that the arithmetic stays JavaScript's: a value read from the metadata (Int32Array) or made
 * by a bitwise operator is an i32 (`>>>`: a u32); a sum, difference or product is an i64 (two
 * 32-bit values add up past 32 bits); a variable, parameter or result is the join of everything
 * assigned to it (found by iterating until nothing widens). Where JavaScript itself only uses
 * the low 32 bits of a value (a metadata address, a stored word, an operand of a bitwise
 * operator: ToInt32/ToUint32), the value is computed in i32 arithmetic, whose wrap-around gives
 * exactly those bits. Expressions come back as `{ c: code, t: type, k?: known boolean }`, with
 * types "i32", "u32", "i64", "bool", "op" (an operation name: an i32 code) and "void".
 */
class Translator {
  constructor(sources, consts, errno, cold, fieldRanges = {}) {
    this.cold = cold;
    this.fieldRanges = fieldRanges; // layout fields and globals: the values they take in every data model
    this.heap = ts.createSourceFile("Heap.ts", sources.heap, ts.ScriptTarget.ES2022, true);
    this.fastPath = ts.createSourceFile("FastPathHeap.ts", sources.fastPath ?? "", ts.ScriptTarget.ES2022, true);
    this.bins = ts.createSourceFile("bins.ts", sources.bins, ts.ScriptTarget.ES2022, true);
    this.consts = consts; // module constants by name
    this.errno = errno; // the Errno object
    this.methods = new Map();
    // Heap's methods, then FastPathHeap's, which take their place (its written-out common
    // cases); a Heap method it overrides stays as super_<name>, for its `super.<name>(...)`.
    for (const cls of [heapClass(this.heap), fastPathClass(this.fastPath)].filter((x) => x !== null)) {
      for (const m of cls.members) {
        if (!ts.isMethodDeclaration(m) || (ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) continue;
        const name = m.name.getText(cls.getSourceFile());
        if (cls.name.text === "FastPathHeap" && this.methods.has(name)) this.methods.set(`super_${name}`, this.methods.get(name));
        this.methods.set(name, m);
      }
    }
    this.functions = new Map();
    for (const sf of [this.bins, this.heap, this.fastPath]) {
      for (const s of sf.statements) if (ts.isFunctionDeclaration(s) && s.name) this.functions.set(s.name.text, s);
    }
    this.usedConsts = new Set();
    this.ops = []; // operation names ("malloc", "free", ...): op code = index
    this.messages = []; // HeapCorruptionError messages: message code = index
    /** Inferred types: declaration node (variable, parameter) or "return:name" → type. */
    this.types = new Map();
    /** Inferred ranges, the same keys: { r: the hull of every value assigned (null: unknown), n: times widened }. */
    this.ranges = new Map();
    /** Slots whose type is fixed (the roots' parameters). */
    this.fixed = new Set();
  }

  fail(node, why) {
    const sf = node.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    throw new Error(`gen-wasm-engine: ${path.basename(sf.fileName)}:${line + 1}: ${why}: ${node.getText(sf).slice(0, 160)}`);
  }

  need(name) {
    if (!this.done.has(name)) {
      this.done.add(name);
      this.queue.push(name);
    }
  }

  opCode(name) {
    let i = this.ops.indexOf(name);
    if (i < 0) i = this.ops.push(name) - 1;
    return `${i} /* ${name} */`;
  }

  messageCode(text) {
    let i = this.messages.indexOf(text);
    if (i < 0) i = this.messages.push(text) - 1;
    return `${i} /* ${text} */`;
  }

  /**
   * Widens the inferred type of `key` by `t`, and its range by `r` (the values assigned, null:
   * unknown); notes that another pass is needed when either changed. A range widened a fourth
   * time becomes unknown, so that a counting loop settles.
   */
  observe(key, t, node, r = null) {
    const old = this.types.get(key);
    const j = join(old, t);
    if (j === null) this.fail(node, `a value of type ${t} where one of type ${old} was`);
    if (j !== old) {
      this.types.set(key, j);
      this.widened = true;
    }
    if (t === "bool" || t === "op") return;
    const o = this.ranges.get(key);
    if (o === undefined) {
      this.ranges.set(key, { r, n: 0 });
      this.widened = true;
    } else if (o.r !== null && !within(r, o.r)) {
      o.n++;
      o.r = o.n > 3 ? null : hull(o.r, r);
      this.widened = true;
    }
  }

  /** The range of a numeric slot so far (null: unknown). */
  slotRange(key) {
    return this.ranges.get(key)?.r ?? null;
  }

  /**
   * A numeric slot's type so far: i32 or u32 when its range lies within one, else the join of
   * the types assigned (nothing assigned yet: i32, the narrowest).
   */
  slotType(key) {
    const r = this.fixed.has(key) ? null : this.slotRange(key);
    if (within(r, I32)) return "i32";
    if (within(r, U32)) return "u32";
    return this.types.get(key) ?? "i32";
  }

  /** The AssemblyScript of every function the roots reach, in the order first reached. */
  translateAll(roots) {
    for (const r of roots) {
      const decl = this.methods.get(r) ?? this.functions.get(r);
      if (!decl) throw new Error(`gen-wasm-engine: no method or function ${r}`);
      // The C ABI calls the roots with size_t and pointer values: any unsigned 32-bit number.
      // (Their parameters stay i64, the type abi.as passes.)
      for (const p of decl.parameters) if (p.type && this.kindOf(p.type, "a parameter") === "num") (this.observe(p, "i64", p, U32), this.fixed.add(p));
    }
    for (let pass = 0; ; pass++) {
      if (pass > 50) throw new Error("gen-wasm-engine: types do not settle");
      this.widened = false;
      this.queue = [...roots];
      this.done = new Set(roots);
      this.usedConsts.clear();
      this.unsettled = null;
      const out = [];
      while (this.queue.length > 0) {
        const name = this.queue.shift();
        const decl = this.methods.get(name) ?? this.functions.get(name);
        if (!decl) throw new Error(`gen-wasm-engine: no method or function ${name}`);
        out.push(this.fn(name, decl));
      }
      if (!this.widened && this.unsettled !== null) throw this.unsettled;
      if (!this.widened) return out;
    }
  }

  /** "num", "bool", "op" or "void" for a declared TypeScript type. */
  kindOf(node, what) {
    const t = node.getText(node.getSourceFile());
    if (t === "number" || /^\d+( \| \d+)*$/.test(t)) return "num";
    if (t === "boolean") return "bool";
    if (t === "string") return "op";
    if (t === "void" || t === "never") return "void";
    this.fail(node, `no wasm type for ${what} of type ${t}`);
  }

  /** The type of a declared parameter or variable. */
  declType(decl) {
    const kind = decl.type ? this.kindOf(decl.type, `parameter ${decl.name.getText(decl.getSourceFile())}`) : null;
    if (kind === "num") return this.slotType(decl);
    if (kind !== null) return kind;
    return null;
  }

  returnType(name, decl) {
    if (!decl.type) this.fail(decl, "a translated method needs a declared return type");
    const kind = this.kindOf(decl.type, "the result");
    return kind === "num" ? this.slotType(`return:${name}`) : kind;
  }

  asType(t) {
    return { i32: "i32", u32: "u32", i64: "i64", bool: "bool", op: "i32", void: "void" }[t];
  }

  fn(name, decl) {
    const scope = new Map();
    this.scopes = [scope];
    this.aliases = new Map(); // local name → "m" | "host" | "field"
    this.fnName = name;
    const params = decl.parameters.map((p) => {
      const pn = p.name.getText(p.getSourceFile());
      let t = this.declType(p);
      if (t === null && p.initializer && (p.initializer.kind === ts.SyntaxKind.FalseKeyword || p.initializer.kind === ts.SyntaxKind.TrueKeyword)) t = "bool";
      if (t === null) this.fail(p, "a parameter needs a type");
      scope.set(pn, { key: p, t });
      let dflt = "";
      if (p.initializer) {
        const x = this.exact(p.initializer);
        if (t !== "bool" && t !== "op") this.observe(p, x.t, p, rangeOf(x));
        dflt = ` = ${x.c}`;
      }
      return `${pn}: ${this.asType(t)}${dflt}`;
    });
    this.ret = this.returnType(name, decl);
    const body = this.block(decl.body, "");
    const sf = decl.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(decl.getStart(sf));
    const inline = this.cold.has(name) ? "" : "// @ts-ignore: decorator\n@inline ";
    return `// ${path.basename(sf.fileName)}:${line + 1} ${name}\n${inline}export function ${name}(${params.join(", ")}): ${this.asType(this.ret)} ${body}\n`;
  }

  lookup(name) {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].has(name)) return this.scopes[i].get(name);
    return null;
  }

  // ─── statements ───

  /**
   * A block whose closing brace is indented by `ind`, its statements one step more; entered
   * only when `guard` (an expression) is `truth`, which may narrow the ranges of consts in it.
   */
  block(node, ind, guard = null, truth = true) {
    this.scopes.push(new Map());
    if (guard !== null) this.refine(guard, truth);
    const lines = [];
    for (const s of node.statements) {
      const t = this.stmt(s, ind + "  ");
      if (t !== "") lines.push(t);
    }
    this.scopes.pop();
    return `{\n${lines.join("\n")}\n${ind}}`;
  }

  /** A statement as a block (the branch of an if, a loop body), closing at `ind`; entered when `guard` is `truth`. */
  body(s, ind, guard = null, truth = true) {
    return this.block(ts.isBlock(s) ? s : { statements: [s] }, ind, guard, truth);
  }

  /** `f()` translated where `guard` is known to be `truth`. */
  guarded(guard, truth, f) {
    this.scopes.push(new Map());
    this.refine(guard, truth);
    try {
      return f();
    } finally {
      this.scopes.pop();
    }
  }

  /** Whether every path through statement `s` leaves the block around it (return, throw, break, continue). */
  exits(s) {
    if (ts.isBlock(s)) return s.statements.length > 0 && this.exits(s.statements[s.statements.length - 1]);
    if (ts.isIfStatement(s)) return s.elseStatement !== undefined && this.exits(s.thenStatement) && this.exits(s.elseStatement);
    return ts.isReturnStatement(s) || ts.isThrowStatement(s) || ts.isBreakStatement(s) || ts.isContinueStatement(s);
  }

  /**
   * Narrows, in the innermost scope, the range of each const local that `e` being `truth`
   * bounds: `x < y` true gives x at most y's highest value less one and y at least x's lowest
   * plus one; `a && b` true, both; `a || b` false, neither; `!a`, the other way. A const is
   * never assigned again, so what a condition said of it holds wherever that condition guards.
   */
  refine(e, truth) {
    const K = ts.SyntaxKind;
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    if (ts.isPrefixUnaryExpression(e) && e.operator === K.ExclamationToken) return this.refine(e.operand, !truth);
    if (!ts.isBinaryExpression(e)) return;
    const op = e.operatorToken.kind;
    if ((op === K.AmpersandAmpersandToken && truth) || (op === K.BarBarToken && !truth)) {
      this.refine(e.left, truth);
      this.refine(e.right, truth);
      return;
    }
    const rel = { [K.LessThanToken]: "<", [K.LessThanEqualsToken]: "<=", [K.GreaterThanToken]: ">", [K.GreaterThanEqualsToken]: ">=", [K.EqualsEqualsEqualsToken]: "==", [K.ExclamationEqualsEqualsToken]: "!=" }[op];
    if (rel === undefined) return;
    const r = truth ? rel : NEGATE[rel];
    this.narrow(e.left, r, e.right);
    this.narrow(e.right, CONVERSE[r], e.left);
  }

  /** Narrows the range of `x` (when it is a numeric const local) by `x rel y`. */
  narrow(x, rel, y) {
    while (ts.isParenthesizedExpression(x)) x = x.expression;
    if (!ts.isIdentifier(x) || this.isNull(y) || ts.isTypeOfExpression(y)) return;
    const v = this.lookup(x.text);
    if (v === null || !v.konst || v.t === "bool" || v.t === "op") return;
    const b = bound(rel, rangeOf(this.exact(y)));
    const r = meet(rangeOf(this.exact(x)), b);
    // (an empty range: the code after is never reached; an unbounded end: nothing known)
    if (b === null || r === null || !Number.isFinite(r[0]) || !Number.isFinite(r[1])) return;
    this.scopes[this.scopes.length - 1].set(x.text, { ...v, r });
  }

  /** Statement `s`, indented by `ind`; `chained`: the `if` of an `else if`, kept one statement. */
  stmt(s, ind, chained = false) {
    if (ts.isVariableStatement(s)) return this.varList(s.declarationList, ind, true);
    if (ts.isExpressionStatement(s)) {
      const e = s.expression;
      if (ts.isBinaryExpression(e) && e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && e.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
        return this.assign(e, ind);
      }
      if (ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) return `${ind}${this.incr(e)};`;
      if (ts.isCallExpression(e)) {
        const x = this.exact(e);
        return x.c === "" ? "" : `${ind}${x.c};`;
      }
      this.fail(s, "statement not translated");
    }
    if (ts.isIfStatement(s)) {
      if (!chained && !s.elseStatement) return this.ifThen(s.expression, s.thenStatement, ind);
      const c = this.cond(s.expression);
      if (c.k === true) return ind + this.body(s.thenStatement, ind);
      if (c.k === false) return s.elseStatement ? ind + this.body(s.elseStatement, ind) : "";
      let out = `${ind}if (${c.c}) ${this.body(s.thenStatement, ind, s.expression, true)}`;
      if (s.elseStatement && ts.isIfStatement(s.elseStatement)) {
        this.scopes.push(new Map());
        this.refine(s.expression, false);
        out += ` else ${this.stmt(s.elseStatement, ind, true).trimStart()}`;
        this.scopes.pop();
      } else if (s.elseStatement) out += ` else ${this.body(s.elseStatement, ind, s.expression, false)}`;
      // What follows an if whose branch always leaves is reached only when its condition is false (or true).
      if (!s.elseStatement && this.exits(s.thenStatement)) this.refine(s.expression, false);
      else if (s.elseStatement && this.exits(s.thenStatement) && !this.exits(s.elseStatement)) this.refine(s.expression, false);
      else if (s.elseStatement && this.exits(s.elseStatement) && !this.exits(s.thenStatement)) this.refine(s.expression, true);
      return out;
    }
    if (ts.isReturnStatement(s)) {
      if (!s.expression) return `${ind}return;`;
      const x = this.exact(s.expression);
      if (this.ret === "i32" || this.ret === "u32" || this.ret === "i64") {
        this.num(x, s.expression);
        this.observe(`return:${this.fnName}`, x.t, s, rangeOf(x));
      } else if (x.t !== this.ret) this.fail(s.expression, `expected a ${this.ret}, got a ${x.t}`);
      return `${ind}return ${this.conv(x, this.slotOrRet(), s.expression)};`;
    }
    if (ts.isBlock(s)) return ind + this.block(s, ind);
    if (ts.isForStatement(s)) {
      this.scopes.push(new Map());
      const init = s.initializer ? (ts.isVariableDeclarationList(s.initializer) ? this.varList(s.initializer, "", false) : this.fail(s, "loop initializer not translated")) : "";
      const cond = s.condition ? this.cond(s.condition).c : "";
      const inc = s.incrementor ? this.incr(s.incrementor) : "";
      const out = `${ind}for (${init}; ${cond}; ${inc}) ${this.body(s.statement, ind)}`;
      this.scopes.pop();
      return out;
    }
    if (ts.isWhileStatement(s)) return `${ind}while (${this.cond(s.expression).c}) ${this.body(s.statement, ind)}`;
    if (ts.isThrowStatement(s)) return `${ind}${this.raise(s.expression)}`;
    if (ts.isBreakStatement(s) && !s.label) return `${ind}break;`;
    if (ts.isContinueStatement(s) && !s.label) return `${ind}continue;`;
    if (ts.isEmptyStatement(s)) return "";
    this.fail(s, `statement kind ${ts.SyntaxKind[s.kind]} not translated`);
  }

  /**
   * `if (e) then` without an else, each test of `e` its own branch: `if (a || b) leave;` (a
   * branch that always leaves) as `if (a) leave; if (b) leave;`, `if (a && b) then` as
   * `if (a) { if (b) then }`, `if (a ? b : c) leave;` as `if (a) { if (b) leave; } else
   * { if (c) leave; }`, in the same short-circuit order. Written as one condition,
   * binaryen evaluates a chain of cheap tests without branches (each turned into 0 or 1, and-ed
   * or or-ed), which costs more instructions on the path where the chain is decided early or
   * where none holds, the common one for a chain of checks.
   */
  ifThen(e, then, ind) {
    let x = e;
    while (ts.isParenthesizedExpression(x)) x = x.expression;
    const op = ts.isBinaryExpression(x) ? x.operatorToken.kind : null;
    if (op === ts.SyntaxKind.BarBarToken && this.exits(then)) {
      const a = this.ifThen(x.left, then, ind);
      const b = this.ifThen(x.right, then, ind);
      return a === "" ? b : b === "" ? a : `${a}\n${b}`;
    }
    if (op === ts.SyntaxKind.AmpersandAmpersandToken) {
      // (a && b && c parses as (a && b) && c: its first test, then the rest nested)
      const terms = [];
      const flatten = (t) => {
        while (ts.isParenthesizedExpression(t)) t = t.expression;
        if (ts.isBinaryExpression(t) && t.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) {
          flatten(t.left);
          flatten(t.right);
        } else terms.push(t);
      };
      flatten(x);
      const nest = (i, at) => {
        if (i === terms.length - 1) return this.ifThen(terms[i], then, at);
        const a = this.cond(terms[i]);
        if (a.k === false) return "";
        this.scopes.push(new Map());
        this.refine(terms[i], true);
        const inner = nest(i + 1, a.k === true ? at : at + "  ");
        this.scopes.pop();
        return a.k === true ? inner : `${at}if (${a.c}) {\n${inner}\n${at}}`;
      };
      return nest(0, ind);
    }
    if (ts.isConditionalExpression(x) && this.exits(then)) {
      // if (a ? b : c) leave; as if (a) { if (b) leave; } else { if (c) leave; }
      const a = this.cond(x.condition);
      const branch = (y, truth, at) => {
        this.scopes.push(new Map());
        this.refine(x.condition, truth);
        const t = this.ifThen(y, then, at);
        this.scopes.pop();
        return t;
      };
      if (a.k === true) return branch(x.whenTrue, true, ind);
      if (a.k === false) return branch(x.whenFalse, false, ind);
      const yes = branch(x.whenTrue, true, ind + "  ");
      const no = branch(x.whenFalse, false, ind + "  ");
      return `${ind}if (${a.c}) {\n${yes}\n${ind}} else {\n${no}\n${ind}}`;
    }
    const c = this.cond(e);
    if (c.k === false) return "";
    const out = c.k === true ? ind + this.body(then, ind) : `${ind}if (${c.c}) ${this.body(then, ind, e, true)}`;
    // What follows an if whose branch always leaves is reached only when its condition is false.
    if (this.exits(then)) this.refine(e, false);
    return out;
  }

  slotOrRet() {
    return this.ret === "i32" || this.ret === "u32" || this.ret === "i64" ? this.slotType(`return:${this.fnName}`) : this.ret;
  }

  /** `i++`, `--i`, `i += 1` (a loop's step, or a statement) on a numeric local: arithmetic, so i64. */
  incr(e) {
    if (ts.isBinaryExpression(e)) return this.assign(e, "").replace(/;$/, "");
    if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && ts.isIdentifier(e.operand)) {
      const v = this.lookup(e.operand.text);
      if (v === null || v.t === "bool") this.fail(e, "++ and -- only on numeric locals");
      this.observe(v.key, "i64", e);
      return e.getText(e.getSourceFile());
    }
    this.fail(e, "increment not translated");
  }

  /** `let`/`const` declarations; the heap's views (m, host) and fields under their own name are aliases, not locals. */
  varList(list, ind, statement) {
    const parts = [];
    for (const d of list.declarations) {
      const n = d.name.getText(d.getSourceFile());
      const init = d.initializer;
      if (init && this.isView(init)) {
        this.aliases.set(n, this.isView(init));
        continue;
      }
      // const W = this.W: the field itself (a constant or global of the module) under its name.
      if (init && ts.isPropertyAccessExpression(init) && init.expression.kind === ts.SyntaxKind.ThisKeyword && init.name.text === n && (LAYOUT_FIELDS.has(n) || GLOBAL_FIELDS.has(n))) {
        this.aliases.set(n, "field");
        continue;
      }
      let t = d.type ? this.declType(d) : null;
      let code;
      if (init) {
        const x = this.exact(init);
        if (t === null) t = x.t === "bool" || x.t === "op" ? x.t : (this.observe(d, x.t, d, rangeOf(x)), this.slotType(d));
        else if (t !== "bool" && t !== "op") (this.observe(d, x.t, d, rangeOf(x)), (t = this.slotType(d)));
        code = this.conv(x, t, init);
      } else {
        if (t === null) this.fail(d, "a variable needs a type or a value");
        if (t !== "bool" && t !== "op") this.observe(d, "i32", d, [0, 0]);
        code = t === "bool" ? "false" : "0";
      }
      if (t === "void") this.fail(d, "a variable of no value");
      // A const (never assigned again) may have its range narrowed by the conditions that guard its uses.
      this.scopes[this.scopes.length - 1].set(n, { key: d, t, konst: (list.flags & ts.NodeFlags.Const) !== 0 });
      parts.push(`${n}: ${this.asType(t)} = ${code}`);
    }
    if (parts.length === 0) return "";
    return `${ind}let ${parts.join(", ")}${statement ? ";" : ""}`;
  }

  /** "m" when `e` is the heap's metadata view (this.m or its alias), "host" for this.host, else null. */
  isView(e) {
    if (ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword) {
      if (e.name.text === "m") return "m";
      if (e.name.text === "host") return "host";
    }
    if (ts.isPropertyAccessExpression(e) && this.hostOf(e.expression) && e.name.text === "u32") return "m";
    if (ts.isIdentifier(e) && (this.aliases.get(e.text) === "m" || this.aliases.get(e.text) === "host")) return this.aliases.get(e.text);
    return null;
  }

  hostOf(e) {
    return this.isView(e) === "host";
  }

  assign(e, ind) {
    const op = e.operatorToken.kind;
    const left = e.left;
    // The metadata view replaced after growth (m = this.m = h.u32): wasm reads memory directly.
    if (this.isView(left) === "m" || (ts.isIdentifier(left) && left.text === "m")) return "";
    if (ts.isElementAccessExpression(left) && this.isView(left.expression) === "m") {
      if (op !== ts.SyntaxKind.EqualsToken) this.fail(e, "compound stores are not translated (write m[i] = m[i] op v)");
      // Int32Array stores ToInt32(v): the low 32 bits.
      return `${ind}store<i32>(${this.address(left.argumentExpression)}, ${this.low(e.right)});`;
    }
    const text = ts.tokenToString(op);
    if (ts.isPropertyAccessExpression(left) && left.expression.kind === ts.SyntaxKind.ThisKeyword && left.name.text === "errno") {
      if (op !== ts.SyntaxKind.EqualsToken) this.fail(e, "errno is only assigned");
      return `${ind}errno = ${this.conv(this.exact(e.right), "i32", e.right)};`;
    }
    if (!ts.isIdentifier(left) || this.lookup(left.text) === null) this.fail(e, "assignment target not translated");
    const v = this.lookup(left.text);
    const name = left.text;
    if (op === ts.SyntaxKind.EqualsToken) {
      const x = this.exact(e.right);
      if (v.t === "bool" || v.t === "op") {
        if (x.t !== v.t) this.fail(e, `expected a ${v.t}, got a ${x.t}`);
        return `${ind}${name} = ${x.c};`;
      }
      this.observe(v.key, x.t, e, rangeOf(x));
      return `${ind}${name} = ${this.conv(x, this.slotType(v.key), e.right)};`;
    }
    if (v.t === "bool" || v.t === "op") this.fail(e, `${text} on a ${v.t}`);
    const arith = { "+=": "+", "-=": "-", "*=": "*", "%=": "%" }[text];
    const bit = { "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>", ">>>=": ">>>" }[text];
    if (!arith && !bit) this.fail(e, `assignment ${text} not translated`);
    const x = arith ? this.arith(arith, left, e.right) : this.bitwise(bit, left, e.right);
    this.observe(v.key, x.t, e, rangeOf(x));
    return `${ind}${name} = ${this.conv(x, this.slotType(v.key), e)};`;
  }

  /** `throw new XError(...)`: the imported fail(), which throws it in JavaScript. */
  raise(e) {
    if (!ts.isNewExpression(e) || !ts.isIdentifier(e.expression)) this.fail(e, "only `throw new XError(...)` is translated");
    const kind = ERROR_KINDS.indexOf(e.expression.text);
    if (kind < 0) this.fail(e, `error class ${e.expression.text} not known to the engine`);
    const args = e.arguments ?? [];
    let msg = "0";
    let rest = args;
    if (kind === 0) {
      if (!ts.isStringLiteral(args[0])) this.fail(e, "a HeapCorruptionError message must be a string literal");
      msg = this.messageCode(args[0].text);
      rest = args.slice(1);
    }
    const op = this.exact(rest[0]);
    if (op.t !== "op") this.fail(rest[0], "the operation must be a name");
    const at = this.exact(rest[1]);
    this.num(at, rest[1]);
    return `fail(${kind} /* ${e.expression.text} */, ${msg}, ${op.c}, <f64>(${at.c})); unreachable();`;
  }

  // ─── expressions ───

  num(x, node) {
    if (x.t !== "i32" && x.t !== "u32" && x.t !== "i64") this.fail(node, `expected a number, got a ${x.t}`);
  }

  /**
   * `x` as a value of type `t`: a widening (t is a join that includes x's type), or a narrowing
   * of a value whose range lies within t (exact: the low 32 bits of such a value are it).
   */
  conv(x, t, node) {
    if (x.t === t) return x.c;
    if (t === "i64" && (x.t === "i32" || x.t === "u32")) return `<i64>(${x.c})`;
    if ((x.t === "i32" || x.t === "u32" || x.t === "i64") && x.lit === undefined && within(rangeOf(x), typeRange(t))) return `<${t}>(${x.c})`;
    if (x.lit !== undefined && literalType(x.lit) !== "i64" && (t === "i32" || t === "u32") && (t === literalType(x.lit) || (t === "u32" && x.lit >= 0))) {
      // A named constant is declared with its own type: a non-negative i32 one read as a u32 says so.
      return t === literalType(x.lit) || /^\(?-?\d+\)?$/.test(x.c) ? x.c : `<${t}>${x.c}`;
    }
    // While types and ranges still widen, a value may not fit the slot's type yet: the next pass decides.
    try {
      this.fail(node, `a ${x.t} where a ${t} is expected`);
    } catch (err) {
      this.unsettled ??= err;
      return `<${this.asType(t)}>(${x.c})`;
    }
  }

  cond(e) {
    const x = this.exact(e);
    if (x.t === "bool") return x;
    this.num(x, e);
    return { c: `(${x.c} != 0)`, t: "bool" };
  }

  /** The byte address of `m[i]`: `a` for `m[a >>> 2]` (metadata addresses are multiples of 4), else `i << 2`; as an unsigned 32-bit address. */
  address(i) {
    let e = i;
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken && ts.isNumericLiteral(e.right) && e.right.text === "2") {
      return `<usize>${this.low(e.left)}`;
    }
    return `(<usize>${this.low(i)} << 2)`;
  }

  isNull(e) {
    return e.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(e) && e.text === "undefined");
  }

  isMaps(e) {
    return ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword && e.name.text === "maps";
  }

  /**
   * The low 32 bits of a numeric expression, as an i32: exact for what JavaScript computes
   * with ToInt32 or ToUint32 (bitwise operands, stored words, addresses), since i32
   * arithmetic wraps modulo 2^32.
   */
  low(e) {
    while (ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e) || ts.isAsExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
    if (ts.isNumericLiteral(e)) return String(Number(e.text.replace(/_/g, "")) | 0);
    if (ts.isBinaryExpression(e)) {
      const text = ts.tokenToString(e.operatorToken.kind);
      if (text === "+" || text === "-" || text === "*") return `(${this.low(e.left)} ${text} ${this.low(e.right)})`;
      if (["&", "|", "^", "<<", ">>"].includes(text)) return this.bitwise(text, e.left, e.right).c;
      if (text === ">>>") return `<i32>${this.bitwise(text, e.left, e.right).c}`;
    }
    if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken) return `(-${this.low(e.operand)})`;
    if (ts.isConditionalExpression(e)) {
      const c = this.cond(e.condition);
      if (c.k === true) return this.low(e.whenTrue);
      if (c.k === false) return this.low(e.whenFalse);
      return `(${c.c} ? ${this.low(e.whenTrue)} : ${this.low(e.whenFalse)})`;
    }
    const x = this.exact(e);
    this.num(x, e);
    return x.t === "i32" ? x.c : `<i32>(${x.c})`;
  }

  exact(e) {
    if (ts.isParenthesizedExpression(e)) {
      const x = this.exact(e.expression);
      return { ...x, c: `(${x.c})` };
    }
    if (ts.isNonNullExpression(e) || ts.isAsExpression(e) || ts.isTypeAssertionExpression(e)) return this.exact(e.expression);
    if (ts.isNumericLiteral(e)) {
      const v = Number(e.text.replace(/_/g, ""));
      return { c: String(v), t: literalType(v), lit: v };
    }
    if (e.kind === ts.SyntaxKind.TrueKeyword) return { c: "true", t: "bool", k: true };
    if (e.kind === ts.SyntaxKind.FalseKeyword) return { c: "false", t: "bool", k: false };
    if (ts.isStringLiteral(e)) return { c: this.opCode(e.text), t: "op" };
    if (ts.isIdentifier(e)) {
      if (this.aliases.get(e.text) === "field") return this.field(e.text);
      const v = this.lookup(e.text);
      if (v !== null) return { c: e.text, t: v.t, r: v.t === "bool" || v.t === "op" ? undefined : (v.r ?? this.slotRange(v.key) ?? undefined) };
      if (e.text in this.consts) {
        this.usedConsts.add(e.text);
        const val = this.consts[e.text];
        return { c: e.text, t: literalType(val), lit: val };
      }
      this.fail(e, "unknown name");
    }
    if (ts.isPropertyAccessExpression(e)) return this.property(e);
    if (ts.isElementAccessExpression(e)) {
      if (this.isView(e.expression) !== "m") this.fail(e, "only the metadata view may be indexed");
      return { c: `load<i32>(${this.address(e.argumentExpression)})`, t: "i32" };
    }
    if (ts.isCallExpression(e)) return this.call(e);
    if (ts.isConditionalExpression(e)) {
      const c = this.cond(e.condition);
      if (c.k === true) return this.exact(e.whenTrue);
      if (c.k === false) return this.exact(e.whenFalse);
      const a = this.guarded(e.condition, true, () => this.exact(e.whenTrue));
      const b = this.guarded(e.condition, false, () => this.exact(e.whenFalse));
      if (a.t === "bool" || b.t === "bool" || a.t === "op" || b.t === "op") {
        if (a.t !== b.t) this.fail(e, "branches of different types");
        return { c: `(${c.c} ? ${a.c} : ${b.c})`, t: a.t };
      }
      const t = join(a.t, b.t);
      return { c: `(${c.c} ? ${this.conv(a, t, e.whenTrue)} : ${this.conv(b, t, e.whenFalse)})`, t, r: hull(rangeOf(a), rangeOf(b)) ?? undefined };
    }
    if (ts.isPrefixUnaryExpression(e)) {
      const op = e.operator;
      if (op === ts.SyntaxKind.ExclamationToken) {
        const x = this.cond(e.operand);
        return x.k !== undefined ? { c: String(!x.k), t: "bool", k: !x.k } : { c: `!${x.c}`, t: "bool" };
      }
      if (op === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) {
        const v = -Number(e.operand.text.replace(/_/g, ""));
        return { c: `(${v})`, t: literalType(v), lit: v };
      }
      const x = this.exact(e.operand);
      this.num(x, e.operand);
      const rx = rangeOf(x);
      if (op === ts.SyntaxKind.MinusToken) return { c: `(-${this.conv(x, "i64", e)})`, t: "i64", r: rx == null ? undefined : [-rx[1], -rx[0]] };
      if (op === ts.SyntaxKind.TildeToken) return { c: `(~${this.low(e.operand)})`, t: "i32" };
      this.fail(e, "unary operator not translated");
    }
    if (ts.isBinaryExpression(e)) return this.binary(e);
    if (ts.isTypeOfExpression(e)) this.fail(e, "typeof is translated only in a comparison with a string");
    this.fail(e, `expression kind ${ts.SyntaxKind[e.kind]} not translated`);
  }

  field(name) {
    return { c: name === "mode" ? "MODE" : name, t: "i32", r: this.fieldRanges[name] };
  }

  property(e) {
    const sf = e.getSourceFile();
    const obj = e.expression;
    const name = e.name.text;
    if (obj.kind === ts.SyntaxKind.ThisKeyword) {
      if (GLOBAL_FIELDS.has(name) || LAYOUT_FIELDS.has(name)) return this.field(name);
      if (name === "errno") return { c: "errno", t: "i32" };
      this.fail(e, `field ${name} not translated`);
    }
    if (ts.isPropertyAccessExpression(obj) && obj.expression.kind === ts.SyntaxKind.ThisKeyword && obj.name.text === "layout") {
      if (name === "align") return { c: "ALIGN", t: "i32", r: this.fieldRanges.align };
      this.fail(e, "layout field not translated");
    }
    if (this.hostOf(obj) && name === "pageSize") return { c: "PAGE", t: "i32", r: [4096, 4096] };
    if (ts.isIdentifier(obj) && obj.text === "Errno") {
      if (!(name in this.errno)) this.fail(e, "unknown errno");
      return { c: `${this.errno[name]} /* ${name} */`, t: "i32", lit: this.errno[name] };
    }
    this.fail(e, `property ${obj.getText(sf)}.${name} not translated`);
  }

  /** The arguments of a call of `decl`, each widened to its parameter's type (which it widens first). */
  args(call, decl) {
    const params = decl.parameters;
    if (call.arguments.length > params.length) this.fail(call, "too many arguments");
    return call.arguments.map((a, i) => {
      const x = this.exact(a);
      const p = params[i];
      const kind = p.type ? this.kindOf(p.type, "a parameter") : x.t === "bool" ? "bool" : "num";
      if (kind !== "num") {
        if (x.t !== kind) this.fail(a, `expected a ${kind}, got a ${x.t}`);
        return x.c;
      }
      this.num(x, a);
      this.observe(p, x.t, a, rangeOf(x));
      return this.conv(x, this.slotType(p), a);
    });
  }

  call(e) {
    const callee = e.expression;
    const sf = e.getSourceFile();
    if (ts.isPropertyAccessExpression(callee)) {
      const obj = callee.expression;
      const name = callee.name.text;
      if (obj.kind === ts.SyntaxKind.SuperKeyword) {
        const target = `super_${name}`;
        const decl = this.methods.get(target);
        if (!decl) this.fail(e, `no overridden method ${name}`);
        this.need(target);
        return { c: `${target}(${this.args(e, decl).join(", ")})`, t: this.returnType(target, decl), r: this.slotRange(`return:${target}`) ?? undefined };
      }
      if (obj.kind === ts.SyntaxKind.ThisKeyword) {
        const target = CALL_AS[name] ?? name;
        const decl = this.methods.get(target);
        if (!decl) this.fail(e, `method ${target} not found`);
        this.need(target);
        return { c: `${target}(${this.args(e, decl).join(", ")})`, t: this.returnType(target, decl), r: this.slotRange(`return:${target}`) ?? undefined };
      }
      if (this.hostOf(obj)) {
        const a = e.arguments;
        if (name === "sync") return { c: "", t: "void" }; // wasm reads the memory itself: nothing to pick up
        if (name === "ld") return { c: `load<i32>(<usize>${this.low(a[0])})`, t: "i32" };
        if (name === "st") return { c: `store<i32>(<usize>${this.low(a[0])}, ${this.low(a[1])})`, t: "void" };
        if (name === "copy") return { c: `memory.copy(<usize>${this.low(a[0])}, <usize>${this.low(a[1])}, <usize>${this.low(a[2])})`, t: "void" };
        if (name === "zero") return { c: `memory.fill(<usize>${this.low(a[0])}, 0, <usize>${this.low(a[1])})`, t: "void" };
        if (name === "sbrk") {
          const x = this.exact(a[0]);
          this.num(x, a[0]);
          return { c: `hostSbrk(${this.conv(x, "i64", a[0])})`, t: "i64" };
        }
        this.fail(e, `host method ${name} not translated`);
      }
      if (ts.isIdentifier(obj) && obj.text === "Math") {
        if (name === "clz32") return { c: `<i32>clz<u32>(<u32>${this.low(e.arguments[0])})`, t: "i32", r: [0, 32] };
        if (name === "max" || name === "min") {
          const rs = [];
          const a = e.arguments.map((x) => {
            const v = this.exact(x);
            this.num(v, x);
            rs.push(rangeOf(v));
            return this.conv(v, "i64", x);
          });
          const f = name === "max" ? Math.max : Math.min;
          const r = rs.every((x) => x != null) ? [f(...rs.map((x) => x[0])), f(...rs.map((x) => x[1]))] : undefined;
          return { c: `${name === "max" ? "imax" : "imin"}(${a.join(", ")})`, t: "i64", r };
        }
        if (name === "ceil" || name === "floor") {
          let q = e.arguments[0];
          while (ts.isParenthesizedExpression(q)) q = q.expression;
          if (!ts.isBinaryExpression(q) || q.operatorToken.kind !== ts.SyntaxKind.SlashToken) this.fail(e, `Math.${name} is translated only around a division`);
          const a = this.exact(q.left);
          const b = this.exact(q.right);
          this.num(a, q.left);
          this.num(b, q.right);
          return { c: `${name}Div(${this.conv(a, "i64", q.left)}, ${this.conv(b, "i64", q.right)})`, t: "i64" };
        }
      }
      if (ts.isIdentifier(obj) && obj.text === "Number" && name === "isSafeInteger") {
        this.num(this.exact(e.arguments[0]), e.arguments[0]);
        return { c: "true", t: "bool", k: true }; // every value the engine has is an integer
      }
      if (this.isMaps(obj)) this.fail(e, "a mapped-block lookup that is not folded away");
      this.fail(e, `call of ${callee.getText(sf)} not translated`);
    }
    if (ts.isIdentifier(callee) && this.functions.has(callee.text)) {
      const decl = this.functions.get(callee.text);
      this.need(callee.text);
      return { c: `${callee.text}(${this.args(e, decl).join(", ")})`, t: this.returnType(callee.text, decl), r: this.slotRange(`return:${callee.text}`) ?? undefined };
    }
    this.fail(e, "call not translated");
  }

  /**
   * JavaScript's `+ - * %` on integers: exact in i64 (two 32-bit values stay within 64 bits);
   * in i32 (u32) arithmetic when the operands' ranges put every possible result within an i32
   * (u32), where the low 32 bits of the operands give the result's, which is then the result.
   */
  arith(text, left, right) {
    const a = this.exact(left);
    const b = this.exact(right);
    this.num(a, left);
    this.num(b, right);
    const r = arithRange(text, rangeOf(a), rangeOf(b));
    if (within(r, I32)) return { c: `(${this.low(left)} ${text} ${this.low(right)})`, t: "i32", r };
    if (within(r, U32)) return { c: `(<u32>${this.low(left)} ${text} <u32>${this.low(right)})`, t: "u32", r };
    return { c: `(${this.conv(a, "i64", left)} ${text} ${this.conv(b, "i64", right)})`, t: "i64", r: r ?? undefined };
  }

  /** JavaScript's bitwise operators: on the low 32 bits of the operands, an i32 result (`>>>`: a u32). */
  bitwise(text, left, right) {
    const la = this.low(left);
    const lb = this.low(right);
    const r = this.bitRange(text, left, right);
    if (text === ">>>") return { c: `(<u32>${la} >>> <u32>${lb})`, t: "u32", r };
    // wasm's i32 shifts take the count modulo 32, as JavaScript's do.
    return { c: `(${la} ${text} ${lb})`, t: "i32", r };
  }

  /**
   * The range of a bitwise operation's result, from its operands' (undefined: its type's).
   * Only what holds of the operands' low 32 bits: a value in [0, 2^31) is its own ToInt32
   * and ToUint32; a shift count in [0, 31] is its own count.
   */
  bitRange(text, left, right) {
    const ra = rangeOf(this.exact(left));
    const rb = rangeOf(this.exact(right));
    const pos = (r) => within(r, [0, I32[1]]);
    const count = within(rb, [0, 31]) ? rb : null;
    if (text === ">>>" && count !== null) {
      const hi = within(ra, U32) ? ra[1] : U32[1];
      return [0, Math.floor(hi / 2 ** count[0])];
    }
    if (text === "&" && (pos(ra) || pos(rb))) return [0, Math.min(pos(ra) ? ra[1] : Infinity, pos(rb) ? rb[1] : Infinity)];
    if (text === "|" && pos(ra) && pos(rb)) return [Math.max(ra[0], rb[0]), 2 ** Math.ceil(Math.log2(Math.max(ra[1], rb[1]) + 1)) - 1];
    if (text === "<<" && count !== null && count[0] === count[1] && pos(ra) && ra[1] * 2 ** count[0] <= I32[1]) return [ra[0] * 2 ** count[0], ra[1] * 2 ** count[0]];
    if (text === ">>" && count !== null && count[0] === count[1] && within(ra, I32)) return [Math.floor(ra[0] / 2 ** count[0]), Math.floor(ra[1] / 2 ** count[0])];
    return undefined;
  }

  binary(e) {
    const K = ts.SyntaxKind;
    const op = e.operatorToken.kind;
    if (op === K.AmpersandAmpersandToken || op === K.BarBarToken) {
      const and = op === K.AmpersandAmpersandToken;
      const a = this.cond(e.left);
      if (a.k === !and) return a; // false && x, true || x: x is never evaluated
      // x is evaluated only when the left side is true (&&) or false (||)
      this.scopes.push(new Map());
      this.refine(e.left, and);
      const b = this.cond(e.right);
      this.scopes.pop();
      if (a.k === and) return b;
      if (b.k === and) return a;
      return { c: `(${a.c} ${and ? "&&" : "||"} ${b.c})`, t: "bool" };
    }
    const eq = op === K.EqualsEqualsEqualsToken || op === K.EqualsEqualsToken;
    const ne = op === K.ExclamationEqualsEqualsToken || op === K.ExclamationEqualsToken;
    if (eq || ne) {
      // What a heap on a wasm memory knows: it has no mapped blocks; C passes numbers.
      const known = (v) => ({ c: String(v), t: "bool", k: v });
      if (this.isMaps(e.left) && this.isNull(e.right)) return known(eq);
      if (ts.isTypeOfExpression(e.left) && ts.isStringLiteral(e.right)) {
        this.exact(e.left.expression);
        return known((e.right.text === "number") === eq);
      }
      if (this.isNull(e.right)) {
        if (op === K.EqualsEqualsToken || op === K.ExclamationEqualsToken) {
          this.exact(e.left);
          return known(ne); // a number is never null nor undefined
        }
        this.fail(e, "a comparison with null or undefined");
      }
    }
    const text = ts.tokenToString(op);
    if (eq || ne || ["<", "<=", ">", ">="].includes(text)) {
      const a = this.exact(e.left);
      const b = this.exact(e.right);
      const cmp = eq ? "==" : ne ? "!=" : text;
      if (a.t === "bool" || a.t === "op" || b.t === "bool" || b.t === "op") {
        if (a.t !== b.t || (!eq && !ne)) this.fail(e, `comparing a ${a.t} with a ${b.t}`);
        return { c: `(${a.c} ${cmp} ${b.c})`, t: "bool" };
      }
      // Both in the type that holds both: the comparison is exact. Two values whose ranges lie
      // within an i32 (or within a u32) are compared as such, whatever their types.
      const ra = rangeOf(a);
      const rb = rangeOf(b);
      const t = within(ra, I32) && within(rb, I32) ? "i32" : within(ra, U32) && within(rb, U32) ? "u32" : a.lit !== undefined && literalType(a.lit) !== "i64" && (b.t === "i32" || b.t === "u32") && (literalType(a.lit) === b.t || (b.t === "u32" && a.lit >= 0))
        ? b.t
        : b.lit !== undefined && literalType(b.lit) !== "i64" && (a.t === "i32" || a.t === "u32") && (literalType(b.lit) === a.t || (a.t === "u32" && b.lit >= 0))
          ? a.t
          : join(a.t, b.t);
      return { c: `(${this.conv(a, t, e.left)} ${cmp} ${this.conv(b, t, e.right)})`, t: "bool" };
    }
    if (text === "/") this.fail(e, "a division is translated only inside Math.ceil or Math.floor");
    if (["+", "-", "*", "%"].includes(text)) return this.arith(text, e.left, e.right);
    if (["&", "|", "^", "<<", ">>", ">>>"].includes(text)) return this.bitwise(text, e.left, e.right);
    this.fail(e, `operator ${text} not translated`);
  }
}

// ───────────────────────── generation ─────────────────────────

/** Reads every source the engine depends on. */
export function readSources() {
  const src = {};
  for (const [k, p] of Object.entries(SOURCES)) src[k] = fs.readFileSync(rel(p), "utf8");
  const hand = {};
  for (const [k, p] of Object.entries(HAND_WRITTEN)) hand[k] = fs.readFileSync(rel(p), "utf8");
  return { src, hand };
}

/** The module constants (header, chunk, bins, Heap.ts's own) and Errno, as the engine sees them. */
async function constants(src) {
  const chunk = await evalModule(src.chunk);
  const bins = await evalModule(src.bins);
  const header = await evalModule(src.header);
  const errno = await evalModule(src.errno);
  const base = { ...chunk, ...bins, ...header };
  const numeric = Object.fromEntries(Object.entries(base).filter(([, v]) => typeof v === "number"));
  const heapConsts = numericConstants(src.heap, numeric);
  return { consts: { ...numeric, ...heapConsts }, env: { ...base, ...heapConsts }, errno: errno.Errno, chunk };
}

/** The numbers of each data model (MODELS): its layout object, and setUp's fields run with it. */
export async function models(src) {
  const { env, chunk } = await constants(src);
  const heapSf = ts.createSourceFile("Heap.ts", src.heap, ts.ScriptTarget.ES2022, true);
  const out = {};
  for (const [name, layoutName] of Object.entries(MODELS)) {
    const layout = chunk[layoutName];
    out[name] = { layout, fields: layoutConstants(heapSf, src.heap, env, layout) };
  }
  return out;
}

/**
 * The AssemblyScript of the engine, and the tables (operation names, messages) that the
 * JavaScript side needs to turn `fail(kind, msg, op, at)` back into an error.
 */
export async function generateSource(src, { roots = ROOTS, cold = COLD } = {}) {
  const { consts, errno } = await constants(src);
  const tr = new Translator(src, consts, errno, cold, await fieldRanges(src));
  const fns = tr.translateAll(roots);
  const constLines = [...tr.usedConsts].sort().map((n) => `const ${n}: ${literalType(consts[n])} = ${consts[n]};`);
  const text = `// GENERATED by scripts/gen-wasm-engine.mjs from ${Object.values(SOURCES).join(", ")}: do not edit.
// Run \`npm run gen\` after changing them; a test fails while this file is out of date.
//
// The engine methods of Heap.ts in AssemblyScript, with JavaScript's integer arithmetic: each
// number in the narrowest type that holds all its values (i32, u32 or i64), sums and products
// in i64, bitwise operations on the low 32 bits (see the generator). "./layout" is made for
// each data model by the generator (W, alignment, ... as constants).
import { ALIGN, W, W2, amask, gshift, minChunk, smallLimit, binWords, MODE, PAGE, BINS_OFF } from "./layout";
import { imin, imax, ceilDiv, floorDiv, hostSbrk, fail } from "./host";

${constLines.join("\n")}

/** The heap's header (its base), its bin heads and its first chunk: set by attachHeader. */
export let hdr: i32 = 0;
export let bins: i32 = 0;
export let arena: i32 = 0;
/** What \`this.errno = ...\` sets: the C-ABI layer hands it to the module's errno, then clears it. */
export let errno: i32 = 0;

/** Points the engine at the heap whose header is at \`h\` (bins and arena as Heap.setUp places them). */
export function attachHeader(h: i32, firstChunk: i32): void {
  hdr = h;
  bins = h + BINS_OFF;
  arena = firstChunk;
}

/** The errno the last call set (0: none), cleared. */
export function takeErrno(): i32 {
  const e = errno;
  errno = 0;
  return e;
}

${fns.join("\n")}`;
  return { text, ops: tr.ops, messages: tr.messages };
}

/** The most the heap's header and first chunk addresses can be: init (abi.as) refuses a heap placed higher. */
export const MAX_HEAP_ADDRESS = 0x7fff_0000;
/** The least the first chunk's address can be (it follows the header): init (abi.as) refuses one lower. */
export const MIN_ARENA = 16;

/**
 * The values each field of the heap takes in the engine, over every data model: a layout
 * field's numbers, and the header, bins and first chunk addresses, which init (abi.as) holds
 * to at most MAX_HEAP_ADDRESS (as Heap holds the heap below MAX_HEAP_BYTES), the first chunk
 * to at least MIN_ARENA (past the header).
 */
async function fieldRanges(src) {
  const out = { hdr: [0, MAX_HEAP_ADDRESS], arena: [MIN_ARENA, MAX_HEAP_ADDRESS] };
  const sf = ts.createSourceFile("Heap.ts", src.heap, ts.ScriptTarget.ES2022, true);
  if (!heapClass(sf).members.some((m) => ts.isMethodDeclaration(m) && m.name.getText(sf) === "setUp")) return out; // (a test's small Heap)
  const all = Object.values(await models(src));
  const span = (get) => [Math.min(...all.map(get)), Math.max(...all.map(get))];
  for (const f of LAYOUT_FIELDS) out[f] = span((m) => m.fields[f]);
  out.align = span((m) => m.layout.align);
  out.bins = [0, MAX_HEAP_ADDRESS + span((m) => m.fields.bins)[1]];
  return out;
}

/** The "./layout" module of one data model. */
export function layoutModule(model) {
  const f = model.fields;
  const lines = {
    W: f.W,
    W2: f.W2,
    amask: f.amask,
    gshift: f.gshift,
    minChunk: f.minChunk,
    smallLimit: f.smallLimit,
    binWords: f.binWords,
    MODE: f.mode,
    ALIGN: model.layout.align,
    PAGE: 4096,
    BINS_OFF: f.bins,
    ARENA_OFF: f.arena,
  };
  return Object.entries(lines)
    .map(([k, v]) => `export const ${k}: i32 = ${v};`)
    .join("\n");
}

/** The hash of everything a binary is built from: sources, generated code, asc's version and flags. */
export function buildHash(generated, hand, ascVersion) {
  const h = crypto.createHash("sha256");
  h.update(JSON.stringify({ generated, hand, ascVersion, flags: ASC_FLAGS }));
  return h.digest("hex");
}

export async function ascVersion() {
  return JSON.parse(fs.readFileSync(rel("node_modules/assemblyscript/package.json"), "utf8")).version;
}

/** Compiles the engine for one data model with asc. */
export async function compile(generated, hand, model, { text = false, layout = layoutModule(model), flags = ASC_FLAGS } = {}) {
  const { default: asc } = await import(pathToFileURL(rel("node_modules/assemblyscript/dist/asc.js")).href);
  const files = { "abi.ts": hand.abi, "host.ts": hand.host, "engine.ts": generated, "layout.ts": layout };
  const out = {};
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(["abi.ts", ...flags, "--outFile", "engine.wasm", ...(text ? ["--textFile", "engine.wat"] : [])], {
    readFile: (name) => (name in files ? files[name] : null),
    writeFile: (name, contents) => {
      out[name] = contents;
    },
    listFiles: () => [],
    stderr,
    stdout: asc.createMemoryStream(),
  });
  if (error) throw new Error(`gen-wasm-engine: asc failed: ${error.message}\n${stderr.toString()}`);
  return text ? out : out["engine.wasm"];
}

/** The .ts module that carries the binaries. */
export function bytesModule(hash, binaries, ops, messages) {
  const b64 = Object.entries(binaries).map(([k, v]) => `  ${k}:\n    "${Buffer.from(v).toString("base64").replace(/(.{100})/g, '$1" +\n    "')}",`);
  return `// GENERATED by scripts/gen-wasm-engine.mjs: do not edit. Run \`npm run gen\`.
// The wasm engine of the heap (engine.generated.as with host.as and abi.as), compiled with asc
// once per data model. A test fails while this file is out of date.
/* eslint-disable */

/** sha256 of the sources, the generated AssemblyScript, asc's version and its flags. */
export const ENGINE_HASH = "${hash}";

/** The engine's binary for each data model, base64. */
export const ENGINE_WASM: { readonly lp64: string; readonly ilp32: string; readonly wasm32: string } = {
${b64.join("\n")}
};

/** Operation names: the \`op\` of the engine's \`fail(kind, msg, op, at)\`. */
export const ENGINE_OPS: readonly string[] = ${JSON.stringify(ops)};

/** HeapCorruptionError messages: the \`msg\` of \`fail\`. */
export const ENGINE_MESSAGES: readonly string[] = ${JSON.stringify(messages, null, 2).replace(/\n/g, "\n")};
`;
}

/** Everything `npm run gen` writes for the engine: { [path]: text }. */
export async function generateAll({ compileBinaries = true, previous = null } = {}) {
  const { src, hand } = readSources();
  const { text, ops, messages } = await generateSource(src);
  const version = await ascVersion();
  const hash = buildHash(text, hand, version);
  let ts_ = previous;
  if (compileBinaries) {
    const numbers = await models(src);
    const binaries = {};
    for (const name of Object.keys(MODELS)) binaries[name] = await compile(text, hand, numbers[name]);
    ts_ = bytesModule(hash, binaries, ops, messages);
  }
  return { [OUT_AS]: text, [OUT_TS]: ts_, hash };
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const check = process.argv.includes("--check");
  const out = await generateAll({ compileBinaries: !check });
  if (check) {
    const curAs = fs.existsSync(rel(OUT_AS)) ? fs.readFileSync(rel(OUT_AS), "utf8") : "";
    const curTs = fs.existsSync(rel(OUT_TS)) ? fs.readFileSync(rel(OUT_TS), "utf8") : "";
    if (curAs !== out[OUT_AS] || !curTs.includes(`ENGINE_HASH = "${out.hash}"`)) {
      console.error(`${OUT_AS} or ${OUT_TS} is out of date: run npm run gen`);
      process.exit(1);
    }
  } else {
    fs.writeFileSync(rel(OUT_AS), out[OUT_AS]);
    fs.writeFileSync(rel(OUT_TS), out[OUT_TS]);
    console.log(`wrote ${OUT_AS}, ${OUT_TS}`);
  }
}
