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
//   a JavaScript number            → i64: every integer the heap computes is exact in it, sums
//                                    and differences of 32-bit values never overflow, so the
//                                    arithmetic is JavaScript's (2^31 + 2^31 stays 2^32)
//   a & b, a | b, ~a, a << b, ...  → the same operation on the values' low 32 bits, read back
//                                    as a signed (>>> : unsigned) 32-bit value: JavaScript's
//   m[a >>> 2], m[i], m[...] = v   → 32-bit loads and stores of the module's memory
//   this.method(...)               → a function of the module; fields → globals and constants
//   Math.ceil(a / b), Math.floor   → exact integer division (ceilDiv, floorDiv)
//   throw new XError(what, op, at) → an imported JavaScript `fail(kind, what, op, at)` that
//                                    throws the same typed error (messages and operation
//                                    names travel as numbers, the tables below)
//   this.errno = E                 → a global the C-ABI layer turns into the module's errno
//   this.host.sbrk / copy / zero   → the wasm host (host.as): memory.grow, memory.copy/fill
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
 * naming a bad pointer, aligned and moved blocks). Every other function is inlined where it is
 * called (AssemblyScript's @inline), as Heap.ts's fast paths write them out by hand: the hot
 * paths become straight-line code.
 */
const COLD = new Set(["badPointer", "grow", "moveBitmap", "trim", "lowerBitmap", "growIntoTop", "reallocMove", "memalignImpl", "checkTop", "carveTop", "noteFootprint", "allocFromTop", "splitTail"]);
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

function heapClass(sf) {
  const cls = sf.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === "Heap");
  if (!cls) throw new Error("gen-wasm-engine: class Heap not found");
  return cls;
}

// ───────────────────────── the translator ─────────────────────────

/**
 * Translates the engine methods of Heap.ts (and the functions of bins.ts they call) to
 * AssemblyScript. Expressions come back as `{ c: code, t: type, k?: known boolean }`, types
 * being "i64" (a JavaScript number), "bool", "op" (an operation name: an i32 code) or "void".
 */
class Translator {
  constructor(sources, consts, errno) {
    this.heap = ts.createSourceFile("Heap.ts", sources.heap, ts.ScriptTarget.ES2022, true);
    this.bins = ts.createSourceFile("bins.ts", sources.bins, ts.ScriptTarget.ES2022, true);
    this.consts = consts; // module constants by name
    this.errno = errno; // the Errno object
    this.methods = new Map();
    for (const m of heapClass(this.heap).members) {
      if (ts.isMethodDeclaration(m) && !(ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) this.methods.set(m.name.getText(this.heap), m);
    }
    this.functions = new Map();
    for (const sf of [this.bins, this.heap]) {
      for (const s of sf.statements) if (ts.isFunctionDeclaration(s) && s.name) this.functions.set(s.name.text, s);
    }
    this.queue = [];
    this.done = new Set();
    this.usedConsts = new Set();
    this.ops = []; // operation names ("malloc", "free", ...): op code = index
    this.messages = []; // HeapCorruptionError messages: message code = index
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

  /** The AssemblyScript of every function the roots reach, in the order first reached. */
  translateAll(roots) {
    for (const r of roots) this.need(r);
    const out = [];
    while (this.queue.length > 0) {
      const name = this.queue.shift();
      const decl = this.methods.get(name) ?? this.functions.get(name);
      if (!decl) throw new Error(`gen-wasm-engine: no method or function ${name}`);
      out.push(this.fn(name, decl));
    }
    return out;
  }

  typeOf(node, what) {
    if (!node) return null;
    const t = node.getText(node.getSourceFile());
    if (t === "number" || /^\d+( \| \d+)*$/.test(t)) return "i64";
    if (t === "boolean") return "bool";
    if (t === "string") return "op";
    if (t === "void" || t === "never") return "void";
    this.fail(node, `no wasm type for ${what} of type ${t}`);
  }

  returnType(decl) {
    if (!decl.type) this.fail(decl, "a translated method needs a declared return type");
    return this.typeOf(decl.type, "the result");
  }

  asType(t) {
    return { i64: "i64", bool: "bool", op: "i32", void: "void" }[t];
  }

  fn(name, decl) {
    const scope = new Map();
    this.scopes = [scope];
    this.aliases = new Map(); // local name → "m" | "host"
    const params = decl.parameters.map((p) => {
      const pn = p.name.getText(p.getSourceFile());
      let t = p.type ? this.typeOf(p.type, `parameter ${pn}`) : p.initializer && (p.initializer.kind === ts.SyntaxKind.FalseKeyword || p.initializer.kind === ts.SyntaxKind.TrueKeyword) ? "bool" : null;
      if (t === null) this.fail(p, "a parameter needs a type");
      scope.set(pn, t);
      const dflt = p.initializer ? ` = ${this.expr(p.initializer).c}` : "";
      return `${pn}: ${this.asType(t)}${dflt}`;
    });
    this.ret = this.returnType(decl);
    const body = this.block(decl.body, "");
    const sf = decl.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(decl.getStart(sf));
    const inline = COLD.has(name) ? "" : "// @ts-ignore: decorator\n@inline ";
    return `// ${path.basename(sf.fileName)}:${line + 1} ${name}\n${inline}export function ${name}(${params.join(", ")}): ${this.asType(this.ret)} ${body}\n`;
  }

  lookup(name) {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].has(name)) return this.scopes[i].get(name);
    return null;
  }

  // ─── statements ───

  /** A block whose closing brace is indented by `ind`, its statements one step more. */
  block(node, ind) {
    this.scopes.push(new Map());
    const lines = [];
    for (const s of node.statements) {
      const t = this.stmt(s, ind + "  ");
      if (t !== "") lines.push(t);
    }
    this.scopes.pop();
    return `{\n${lines.join("\n")}\n${ind}}`;
  }

  /** A statement as a block (the branch of an if, a loop body), closing at `ind`. */
  body(s, ind) {
    return this.block(ts.isBlock(s) ? s : { statements: [s] }, ind);
  }

  stmt(s, ind) {
    const sf = s.getSourceFile();
    if (ts.isVariableStatement(s)) return this.varList(s.declarationList, ind, true);
    if (ts.isExpressionStatement(s)) {
      const e = s.expression;
      if (ts.isBinaryExpression(e) && e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && e.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
        return this.assign(e, ind);
      }
      if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && ts.isIdentifier(e.operand) && this.lookup(e.operand.text) === "i64") {
        return `${ind}${e.getText(sf)};`;
      }
      if (ts.isCallExpression(e)) {
        const x = this.expr(e);
        return x.c === "" ? "" : `${ind}${x.c};`;
      }
      this.fail(s, "statement not translated");
    }
    if (ts.isIfStatement(s)) {
      const c = this.cond(s.expression);
      if (c.k === true) return ind + this.body(s.thenStatement, ind);
      if (c.k === false) return s.elseStatement ? ind + this.body(s.elseStatement, ind) : "";
      let out = `${ind}if (${c.c}) ${this.body(s.thenStatement, ind)}`;
      if (s.elseStatement) out += ts.isIfStatement(s.elseStatement) ? ` else ${this.stmt(s.elseStatement, ind).trimStart()}` : ` else ${this.body(s.elseStatement, ind)}`;
      return out;
    }
    if (ts.isReturnStatement(s)) {
      if (!s.expression) return `${ind}return;`;
      const x = this.expr(s.expression);
      this.expect(x, this.ret, s.expression);
      return `${ind}return ${x.c};`;
    }
    if (ts.isBlock(s)) return ind + this.block(s, ind);
    if (ts.isForStatement(s)) {
      this.scopes.push(new Map());
      const init = s.initializer ? (ts.isVariableDeclarationList(s.initializer) ? this.varList(s.initializer, "", false) : this.expr(s.initializer).c) : "";
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

  incr(e) {
    if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && ts.isIdentifier(e.operand)) return e.getText(e.getSourceFile());
    if (ts.isBinaryExpression(e)) return this.assign(e, "").replace(/;$/, "");
    this.fail(e, "loop incrementor not translated");
  }

  /** `let`/`const` declarations; the heap's views (m, host) become aliases, not locals. */
  varList(list, ind, statement) {
    const kw = list.flags & ts.NodeFlags.Const ? "const" : "let";
    const parts = [];
    for (const d of list.declarations) {
      const n = d.name.getText(d.getSourceFile());
      if (d.initializer && this.isView(d.initializer)) {
        this.aliases.set(n, this.isView(d.initializer));
        continue;
      }
      // const W = this.W: the field itself (a constant or global of the module) under its name.
      const init = d.initializer;
      if (init && ts.isPropertyAccessExpression(init) && init.expression.kind === ts.SyntaxKind.ThisKeyword && init.name.text === n && (LAYOUT_FIELDS.has(n) || GLOBAL_FIELDS.has(n))) {
        this.aliases.set(n, "field");
        continue;
      }
      let t;
      let code;
      if (d.initializer) {
        const x = this.expr(d.initializer);
        t = d.type ? this.typeOf(d.type, n) : x.t;
        this.expect(x, t, d.initializer);
        code = x.c;
      } else {
        t = this.typeOf(d.type, n);
        code = t === "bool" ? "false" : "0";
      }
      if (t === "void") this.fail(d, "a variable of no value");
      this.scopes[this.scopes.length - 1].set(n, t);
      parts.push(`${n}: ${this.asType(t)} = ${code}`);
    }
    if (parts.length === 0) return "";
    // Locals are all `let`: `const` of a value computed at run time is a local anyway.
    return `${ind}${kw === "const" ? "const" : "let"} ${parts.join(", ")}${statement ? ";" : ""}`;
  }

  /** "m" when `e` is the heap's metadata view (this.m or its alias), "host" for this.host, else null. */
  isView(e) {
    if (ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword) {
      if (e.name.text === "m") return "m";
      if (e.name.text === "host") return "host";
    }
    if (ts.isPropertyAccessExpression(e) && this.hostOf(e.expression) && e.name.text === "u32") return "m";
    if (ts.isIdentifier(e) && this.aliases.has(e.text)) return this.aliases.get(e.text);
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
      const v = this.expr(e.right);
      this.expect(v, "i64", e.right);
      return `${ind}store32(${this.wordAddress(left.argumentExpression)}, ${v.c});`;
    }
    let target;
    let t;
    if (ts.isPropertyAccessExpression(left) && left.expression.kind === ts.SyntaxKind.ThisKeyword && left.name.text === "errno") {
      target = "errno";
      t = "i64";
    } else if (ts.isIdentifier(left) && this.lookup(left.text) !== null) {
      target = left.text;
      t = this.lookup(left.text);
    } else {
      this.fail(e, "assignment target not translated");
    }
    const right = this.expr(e.right);
    const text = ts.tokenToString(op);
    if (op === ts.SyntaxKind.EqualsToken) {
      this.expect(right, t, e.right);
      return `${ind}${target} = ${right.c};`;
    }
    this.expect(right, "i64", e.right);
    const arith = { "+=": "+", "-=": "-", "*=": "*", "%=": "%" }[text];
    if (arith) return `${ind}${target} ${text} ${right.c};`;
    const bit = { "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>", ">>>=": ">>>" }[text];
    if (bit) return `${ind}${target} = ${this.bitwise(bit, { c: target, t: "i64" }, right)};`;
    this.fail(e, `assignment ${text} not translated`);
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
    const op = this.expr(rest[0]);
    this.expect(op, "op", rest[0]);
    const at = this.expr(rest[1]);
    this.expect(at, "i64", rest[1]);
    return `fail(${kind} /* ${e.expression.text} */, ${msg}, ${op.c}, ${at.c}); unreachable();`;
  }

  // ─── expressions ───

  expect(x, t, node) {
    if (x.t !== t) this.fail(node, `expected a ${t}, got a ${x.t}`);
  }

  cond(e) {
    const x = this.expr(e);
    if (x.t === "bool") return x;
    if (x.t === "i64") return { c: `(${x.c} != 0)`, t: "bool" };
    this.fail(e, "not a condition");
  }

  /** The byte address of metadata word `i` of `m[i]`: `a` for `m[a >>> 2]` (metadata addresses are multiples of 4). */
  wordAddress(i) {
    let e = i;
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken && ts.isNumericLiteral(e.right) && e.right.text === "2") {
      const a = this.expr(e.left);
      this.expect(a, "i64", e.left);
      return a.c;
    }
    const x = this.expr(i);
    this.expect(x, "i64", i);
    return `(${x.c} << 2)`;
  }

  bitwise(op, a, b) {
    const f = { "&": "band", "|": "bor", "^": "bxor", "<<": "shl", ">>": "sar", ">>>": "shr" }[op];
    return `${f}(${a.c}, ${b.c})`;
  }

  isNull(e) {
    return e.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(e) && e.text === "undefined");
  }

  isMaps(e) {
    return ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword && e.name.text === "maps";
  }

  expr(e) {
    const sf = e.getSourceFile();
    if (ts.isParenthesizedExpression(e)) {
      const x = this.expr(e.expression);
      return { ...x, c: `(${x.c})` };
    }
    if (ts.isNonNullExpression(e) || ts.isAsExpression(e) || ts.isTypeAssertionExpression(e)) return this.expr(e.expression);
    if (ts.isNumericLiteral(e)) return { c: String(Number(e.text.replace(/_/g, ""))), t: "i64" };
    if (e.kind === ts.SyntaxKind.TrueKeyword) return { c: "true", t: "bool", k: true };
    if (e.kind === ts.SyntaxKind.FalseKeyword) return { c: "false", t: "bool", k: false };
    if (ts.isStringLiteral(e)) return { c: this.opCode(e.text), t: "op" };
    if (ts.isIdentifier(e)) {
      if (this.aliases.get(e.text) === "field") return { c: e.text === "mode" ? "MODE" : e.text, t: "i64" };
      const t = this.lookup(e.text);
      if (t !== null) return { c: e.text, t };
      if (e.text in this.consts) {
        this.usedConsts.add(e.text);
        return { c: e.text, t: "i64" };
      }
      this.fail(e, "unknown name");
    }
    if (ts.isPropertyAccessExpression(e)) return this.property(e);
    if (ts.isElementAccessExpression(e)) {
      if (this.isView(e.expression) !== "m") this.fail(e, "only the metadata view may be indexed");
      return { c: `load32(${this.wordAddress(e.argumentExpression)})`, t: "i64" };
    }
    if (ts.isCallExpression(e)) return this.call(e);
    if (ts.isConditionalExpression(e)) {
      const c = this.cond(e.condition);
      if (c.k === true) return this.expr(e.whenTrue);
      if (c.k === false) return this.expr(e.whenFalse);
      const a = this.expr(e.whenTrue);
      const b = this.expr(e.whenFalse);
      if (a.t !== b.t) this.fail(e, "branches of different types");
      return { c: `(${c.c} ? ${a.c} : ${b.c})`, t: a.t };
    }
    if (ts.isPrefixUnaryExpression(e)) {
      const op = e.operator;
      if (op === ts.SyntaxKind.ExclamationToken) {
        const x = this.cond(e.operand);
        return x.k !== undefined ? { c: String(!x.k), t: "bool", k: !x.k } : { c: `!${x.c}`, t: "bool" };
      }
      const x = this.expr(e.operand);
      this.expect(x, "i64", e.operand);
      if (op === ts.SyntaxKind.MinusToken) return { c: `(-${x.c})`, t: "i64" };
      if (op === ts.SyntaxKind.TildeToken) return { c: `bnot(${x.c})`, t: "i64" };
      this.fail(e, "unary operator not translated");
    }
    if (ts.isBinaryExpression(e)) return this.binary(e);
    if (ts.isTypeOfExpression(e)) this.fail(e, "typeof is translated only in a comparison with a string");
    this.fail(e, `expression kind ${ts.SyntaxKind[e.kind]} not translated`);
  }

  property(e) {
    const sf = e.getSourceFile();
    const obj = e.expression;
    const name = e.name.text;
    if (obj.kind === ts.SyntaxKind.ThisKeyword) {
      if (GLOBAL_FIELDS.has(name) || LAYOUT_FIELDS.has(name)) return { c: name === "mode" ? "MODE" : name, t: "i64" };
      if (name === "errno") return { c: "errno", t: "i64" };
      this.fail(e, `field ${name} not translated`);
    }
    if (ts.isPropertyAccessExpression(obj) && obj.expression.kind === ts.SyntaxKind.ThisKeyword && obj.name.text === "layout") {
      if (name === "align") return { c: "ALIGN", t: "i64" };
      this.fail(e, "layout field not translated");
    }
    if (this.hostOf(obj) && name === "pageSize") return { c: "PAGE", t: "i64" };
    if (ts.isIdentifier(obj) && obj.text === "Errno") {
      if (!(name in this.errno)) this.fail(e, "unknown errno");
      return { c: `${this.errno[name]} /* ${name} */`, t: "i64" };
    }
    this.fail(e, `property ${obj.getText(sf)}.${name} not translated`);
  }

  args(call, decl) {
    const params = decl.parameters;
    if (call.arguments.length > params.length) this.fail(call, "too many arguments");
    return call.arguments.map((a, i) => {
      const x = this.expr(a);
      const p = params[i];
      const t = p.type ? this.typeOf(p.type, "parameter") : x.t;
      this.expect(x, t, a);
      return x.c;
    });
  }

  call(e) {
    const callee = e.expression;
    const sf = e.getSourceFile();
    if (ts.isPropertyAccessExpression(callee)) {
      const obj = callee.expression;
      const name = callee.name.text;
      if (obj.kind === ts.SyntaxKind.ThisKeyword) {
        const target = CALL_AS[name] ?? name;
        const decl = this.methods.get(target);
        if (!decl) this.fail(e, `method ${target} not found`);
        this.need(target);
        return { c: `${target}(${this.args(e, decl).join(", ")})`, t: this.returnType(decl) };
      }
      if (this.hostOf(obj)) {
        const a = e.arguments.map((x) => {
          const v = this.expr(x);
          this.expect(v, "i64", x);
          return v.c;
        });
        if (name === "sync") return { c: "", t: "void" }; // wasm reads the memory itself: nothing to pick up
        const host = { ld: ["load32", "i64"], st: ["store32", "void"], copy: ["hostCopy", "void"], zero: ["hostZero", "void"], sbrk: ["hostSbrk", "i64"] }[name];
        if (!host) this.fail(e, `host method ${name} not translated`);
        return { c: `${host[0]}(${a.join(", ")})`, t: host[1] };
      }
      if (ts.isIdentifier(obj) && obj.text === "Math") {
        if (name === "clz32" || name === "max" || name === "min") {
          const a = e.arguments.map((x) => {
            const v = this.expr(x);
            this.expect(v, "i64", x);
            return v.c;
          });
          return { c: `${name === "clz32" ? "clz32" : name === "max" ? "imax" : "imin"}(${a.join(", ")})`, t: "i64" };
        }
        if (name === "ceil" || name === "floor") {
          let q = e.arguments[0];
          while (ts.isParenthesizedExpression(q)) q = q.expression;
          if (!ts.isBinaryExpression(q) || q.operatorToken.kind !== ts.SyntaxKind.SlashToken) this.fail(e, `Math.${name} is translated only around a division`);
          const a = this.expr(q.left);
          const b = this.expr(q.right);
          this.expect(a, "i64", q.left);
          this.expect(b, "i64", q.right);
          return { c: `${name}Div(${a.c}, ${b.c})`, t: "i64" };
        }
      }
      if (ts.isIdentifier(obj) && obj.text === "Number" && name === "isSafeInteger") {
        const v = this.expr(e.arguments[0]);
        this.expect(v, "i64", e.arguments[0]);
        return { c: "true", t: "bool", k: true }; // every value the engine has is an integer
      }
      if (this.isMaps(obj)) this.fail(e, "a mapped-block lookup that is not folded away");
      this.fail(e, `call of ${callee.getText(sf)} not translated`);
    }
    if (ts.isIdentifier(callee) && this.functions.has(callee.text)) {
      const decl = this.functions.get(callee.text);
      this.need(callee.text);
      return { c: `${callee.text}(${this.args(e, decl).join(", ")})`, t: this.returnType(decl) };
    }
    this.fail(e, "call not translated");
  }

  binary(e) {
    const K = ts.SyntaxKind;
    const op = e.operatorToken.kind;
    if (op === K.AmpersandAmpersandToken || op === K.BarBarToken) {
      const and = op === K.AmpersandAmpersandToken;
      const a = this.cond(e.left);
      if (a.k === !and) return a; // false && x, true || x: x is never evaluated
      const b = this.cond(e.right);
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
        this.expr(e.left.expression);
        return known((e.right.text === "number") === eq);
      }
      if (this.isNull(e.right)) {
        if (op === K.EqualsEqualsToken || op === K.ExclamationEqualsToken) {
          this.expr(e.left);
          return known(ne); // a number is never null nor undefined
        }
        this.fail(e, "a comparison with null or undefined");
      }
      const a = this.expr(e.left);
      const b = this.expr(e.right);
      if (a.t !== b.t) this.fail(e, `comparing a ${a.t} with a ${b.t}`);
      return { c: `(${a.c} ${eq ? "==" : "!="} ${b.c})`, t: "bool" };
    }
    const a = this.expr(e.left);
    const b = this.expr(e.right);
    const text = ts.tokenToString(op);
    if (["<", "<=", ">", ">="].includes(text)) {
      this.expect(a, "i64", e.left);
      this.expect(b, "i64", e.right);
      return { c: `(${a.c} ${text} ${b.c})`, t: "bool" };
    }
    if (["+", "-", "*", "%"].includes(text)) {
      this.expect(a, "i64", e.left);
      this.expect(b, "i64", e.right);
      return { c: `(${a.c} ${text} ${b.c})`, t: "i64" };
    }
    if (["&", "|", "^", "<<", ">>", ">>>"].includes(text)) {
      this.expect(a, "i64", e.left);
      this.expect(b, "i64", e.right);
      return { c: this.bitwise(text, a, b), t: "i64" };
    }
    if (text === "/") this.fail(e, "a division is translated only inside Math.ceil or Math.floor");
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
export async function generateSource(src, { roots = ROOTS } = {}) {
  const { consts, errno } = await constants(src);
  const tr = new Translator(src, consts, errno);
  const fns = tr.translateAll(roots);
  const constLines = [...tr.usedConsts].sort().map((n) => `const ${n}: i64 = ${consts[n]};`);
  const text = `// GENERATED by scripts/gen-wasm-engine.mjs from ${Object.values(SOURCES).join(", ")}: do not edit.
// Run \`npm run gen\` after changing them; a test fails while this file is out of date.
//
// The engine methods of Heap.ts in AssemblyScript: a JavaScript number is an i64, and every
// bitwise operation goes through host.as's helpers, which give JavaScript's 32-bit results.
// "./layout" is made for each data model by the generator (W, alignment, ... as constants).
import { ALIGN, W, W2, amask, gshift, minChunk, smallLimit, binWords, MODE, PAGE, BINS_OFF } from "./layout";
import { band, bor, bxor, bnot, shl, sar, shr, clz32, imin, imax, ceilDiv, floorDiv, load32, store32, hostCopy, hostZero, hostSbrk, fail } from "./host";

${constLines.join("\n")}

/** The heap's header (its base), its bin heads and its first chunk: set by attachHeader. */
export let hdr: i64 = 0;
export let bins: i64 = 0;
export let arena: i64 = 0;
/** What \`this.errno = ...\` sets: the C-ABI layer hands it to the module's errno, then clears it. */
export let errno: i64 = 0;

/** Points the engine at the heap whose header is at \`h\` (bins and arena as Heap.setUp places them). */
export function attachHeader(h: i64, firstChunk: i64): void {
  hdr = h;
  bins = h + BINS_OFF;
  arena = firstChunk;
}

/** The errno the last call set (0: none), cleared. */
export function takeErrno(): i64 {
  const e = errno;
  errno = 0;
  return e;
}

${fns.join("\n")}`;
  return { text, ops: tr.ops, messages: tr.messages };
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
    .map(([k, v]) => `export const ${k}: i64 = ${v};`)
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
export async function compile(generated, hand, model, { text = false, layout = layoutModule(model) } = {}) {
  const { default: asc } = await import(pathToFileURL(rel("node_modules/assemblyscript/dist/asc.js")).href);
  const files = { "abi.ts": hand.abi, "host.ts": hand.host, "engine.ts": generated, "layout.ts": layout };
  const out = {};
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(["abi.ts", ...ASC_FLAGS, "--outFile", "engine.wasm", ...(text ? ["--textFile", "engine.wat"] : [])], {
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
