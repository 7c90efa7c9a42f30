#!/usr/bin/env node
// Writes src/heap/PagedEngine.generated.ts: the heap engine of src/heap/Heap.ts, with every
// metadata access translated through a process's page tables; and
// src/heap/LoggedEngine.generated.ts: the same engine on linear memory with every metadata store
// logged in the heap's own memory first (the engine of a concurrent heap, see below).
//
//   node scripts/gen-paged-engine.mjs           # (re)writes both files
//   node scripts/gen-paged-engine.mjs --check   # exits 1 when one is out of date
//   node scripts/gen-paged-engine.mjs --derived # lists the stores the logged engine does not log
//
// Why generate: the engine reads and writes its metadata as `m[addr >>> 2]` on one Int32Array,
// written out at every use, because V8 does not inline accessor calls well enough on the hot
// paths. Inside a process the same words live in pages scattered over RAM, so each index
// must be translated first. Rather than keep two copies of ~1,500 lines in step by hand, this
// script derives the paged copy from Heap.ts with the TypeScript parser:
//
//   m[i]            (a read)                    → m[this.tr(i)]
//   m[i] = v;       (a store, as a statement)   → { const $i = i; const $x = v; ...; m[$a] = $x; }
//
// where `m` (or `this.m`) is then the RAM's words. tr (PagedHeap.ts) translates a virtual word
// index to a physical one through the read cache; a store is written out in place (a method
// would not be inlined into the large functions): it computes the index and the value first
// (computing the value may fault and evict the page a translation made earlier would point
// into), translates through the write cache (writeMiss on a miss), logs the old word in the
// undo log of the process heap's current call, and stores. Compound stores (m[i] |= v,
// m[i]++) are refused: write them as m[i] = m[i] | v.
//
// Every method and accessor of class Heap is copied except those listed in SKIP; the module's
// private helpers they use are copied too, its exports are imported from Heap.ts.
//
// The logged engine (flavour "logged") leaves reads alone and writes each store out as
//
//   m[i] = v;       → { const $i = i; const $x = v; <append (i, m[i]) to the log>; m[$i] = $x; }
//
// where the log is a count word at this.lg followed by (word index, old value) pairs, all in the
// same memory: when a thread dies inside a call of a concurrent heap, another thread undoes the
// call from the log (src/heap/arenas.ts). The entry and the count are written before the store,
// so the log always covers every store made. A full log calls this.logFull(i) instead. (The
// sums are truncated with `| 0`, which changes no value (a word index and a count far below
// 2^31): V8 then adds them without checking for an overflow, 40 instructions fewer a call in
// the churn benchmark, measured with callgrind.)
// That is written out in malloc and free (HOT: the fast paths, too large for V8 to inline a
// call into); the other methods call this.logStore(i, v), the same steps written once, which
// V8 inlines into them (a tenth of the bundle less).
// It is a class factory (makeLoggedEngine(Heap)): Heap.ts uses it, so it cannot extend Heap
// when its module is first evaluated.
//
// Stores to *derived* words are not logged: the bin bitmap with its summary word, a function of
// the bin heads, which recovery rebuilds after undoing a call (arenas.ts). The chunk map (the
// in-use bitmap: a pair of bits per granule, and the size words) is derived from the chunk
// headers too, but is logged all the same: recovery judges the chunk headers by it, so that a
// header the program smashed is refused rather than adopted. A store is derived only when its
// index is recognised as such from the code itself (see derivedIndex): an address computed
// from the header offsets H_BINMAP and H_SUMMARY, through const locals only (derivedIndex also
// recognises the chunk map's, from the value of the header word H_BITMAP or this.mapWord(...),
// so as to log them knowingly). Anything else is logged. Not logged either: the stores that
// change only the PINUSE flag of the chunk after one a call takes or frees (see pinuseOnly), a
// function of that chunk's CINUSE, which recovery rewrites for every chunk; and in malloc and
// free, the footers of free chunks (see isFooter), which recovery rewrites too (both from
// headers the chunk map has judged); and a store marked `// unlogged: <why>` in Heap.ts, to a
// word that held no metadata before the call (see annotated). `--derived` lists the stores
// left unlogged.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SRC = path.join(REPO, "src/heap/Heap.ts");
const OUT = path.join(REPO, "src/heap/PagedEngine.generated.ts");
const OUT_LOGGED = path.join(REPO, "src/heap/LoggedEngine.generated.ts");
/**
 * Members that stay Heap's own: construction, attaching (and checking the header it finds), the
 * concurrent heap's lock and recovery, wasm imports, and the check of a wasm memory's view (a
 * process's heap never syncs).
 */
const SKIP = new Set(["initAttached", "checkHeader", "mapUnsound", "makeLockView", "locked", "recover", "threadId", "wasmImports", "stale"]);
/**
 * The logged engine's: the same but the check of a wasm memory's view (an engine is never locked
 * itself); and an aligned allocation's checks, which only read (the engine inherits them from
 * Heap: one copy of them in a bundle, not two).
 */
const SKIP_LOGGED = new Set(["initAttached", "checkHeader", "mapUnsound", "makeLockView", "locked", "recover", "threadId", "wasmImports", "alignedIn", "carveOk", "carveHeadOk"]);
/** Entries of each translation cache of PagedHeap (a power of two; PagedHeap.ts exports the same number). */
export const CACHE_MASK = 1023;
/** The logged engine's methods whose stores are logged written out in place (the rest call logStore, which V8 inlines into them). */
const HOT = new Set(["malloc", "free"]);
const isAssignment = (kind) => kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;

/** The paged engine's source, from Heap.ts's. */
export function generate(source) {
  return derive(source, "paged");
}

/** The logged engine's source, from Heap.ts's; the stores it leaves unlogged (derived words) are pushed on `derivedOut`. */
export function generateLogged(source, derivedOut = []) {
  return derive(source, "logged", derivedOut);
}

function derive(source, flavour, derived = []) {
  const logged = flavour === "logged";
  const sf = ts.createSourceFile("Heap.ts", source, ts.ScriptTarget.ES2022, true);
  const cls = sf.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === "Heap");
  if (!cls) throw new Error("gen-paged-engine: class Heap not found");
  const text = (n) => source.slice(n.getStart(sf), n.end);
  const fail = (n, why) => {
    const { line } = sf.getLineAndCharacterOfPosition(n.getStart(sf));
    throw new Error(`gen-paged-engine: Heap.ts:${line + 1}: ${why}: ${text(n).slice(0, 120)}`);
  };

  const isM = (e) =>
    (ts.isIdentifier(e) && e.text === "m") ||
    (ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword && e.name.text === "m");
  const isMAccess = (e) => ts.isElementAccessExpression(e) && isM(e.expression);
  const hasMAccess = (n) => {
    let found = false;
    const visit = (x) => {
      if (found) return;
      if (isMAccess(x)) found = true;
      else ts.forEachChild(x, visit);
    };
    visit(n);
    return found;
  };

  /** Whether the function around `decl` still uses identifier `m` after the rewrite (always, unless it only assigns it). */
  const mStillRead = (decl) => {
    let fn = decl.parent;
    while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
    let read = false;
    const visit = (x) => {
      if (read) return;
      if (ts.isIdentifier(x) && x.text === "m" && x.parent !== decl) {
        const acc = x.parent;
        // (The array of a store that becomes this.logStore(i, x) is not read any more.)
        const viaLogStore = logged && ts.isElementAccessExpression(acc) && acc.expression === x && isStoreTarget(acc) && storeKind(acc.parent) === "logStore";
        if (!(ts.isPropertyAccessExpression(acc) && acc.name === x) && !viaLogStore) read = true;
      }
      ts.forEachChild(x, visit);
    };
    visit(fn);
    return read;
  };

  /** The const declaration (in an enclosing block or function) that identifier `id` names, or null. */
  const constDecl = (id) => {
    for (let b = id.parent; b; b = b.parent) {
      const stmts = ts.isBlock(b) || ts.isSourceFile(b) ? b.statements : null;
      if (stmts === null) continue;
      for (const st of stmts) {
        if (st.pos >= id.pos) break; // declared before its use
        if (!ts.isVariableStatement(st)) continue;
        for (const d of st.declarationList.declarations) {
          if (ts.isIdentifier(d.name) && d.name.text === id.text) return (st.declarationList.flags & ts.NodeFlags.Const) !== 0 && d.initializer ? d : null;
        }
      }
    }
    return null;
  };
  const unwrap = (e) => {
    while (ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    return e;
  };
  /** Whether `e` is the heap header's address: `this.hdr`, or a const local holding it. */
  const isHdr = (e) => {
    e = unwrap(e);
    if (ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword) return e.name.text === "hdr";
    if (!ts.isIdentifier(e)) return false;
    const d = constDecl(e);
    return d !== null && isHdr(d.initializer);
  };
  /** Whether `e` is `4 * NAME` or `4 * (NAME + x)` for a header offset in `names`. */
  const headerOffset = (e, names) => {
    e = unwrap(e);
    if (!ts.isBinaryExpression(e) || e.operatorToken.kind !== ts.SyntaxKind.AsteriskToken || e.left.getText(sf) !== "4") return false;
    let r = unwrap(e.right);
    if (ts.isBinaryExpression(r) && r.operatorToken.kind === ts.SyntaxKind.PlusToken) r = unwrap(r.left);
    return ts.isIdentifier(r) && names.includes(r.text);
  };
  const isShr2 = (e) => ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken && e.right.getText(sf) === "2";
  /**
   * What expression `e` computes, when it is one of the derived words' addresses: "map" (a word
   * index in the chunk map), "mapPtr" (the chunk map's byte address: the header word H_BITMAP's
   * value), "bins" (a byte address in the bin bitmap or its summary word), "binsWord" (a word
   * index there); else null. Conservative: an address it cannot follow is not derived.
   */
  function derivedIndex(e) {
    e = unwrap(e);
    if (ts.isIdentifier(e)) {
      const d = constDecl(e);
      return d === null ? null : derivedIndex(d.initializer);
    }
    if (ts.isConditionalExpression(e)) {
      const a = derivedIndex(e.whenTrue);
      return a !== null && a === derivedIndex(e.whenFalse) ? a : null;
    }
    if (ts.isCallExpression(e)) {
      const f = e.expression;
      return ts.isPropertyAccessExpression(f) && f.expression.kind === ts.SyntaxKind.ThisKeyword && f.name.text === "mapWord" ? "map" : null;
    }
    // A read of the header word H_BITMAP: the chunk map's address.
    if (isMAccess(e)) {
      const i = unwrap(e.argumentExpression);
      return isShr2(i) && ts.isBinaryExpression(unwrap(i.left)) && isHdr(unwrap(i.left).left) && headerOffset(unwrap(i.left).right, ["H_BITMAP"]) && unwrap(i.left).operatorToken.kind === ts.SyntaxKind.PlusToken ? "mapPtr" : null;
    }
    if (!ts.isBinaryExpression(e)) return null;
    const op = e.operatorToken.kind;
    if (isShr2(e)) {
      const a = derivedIndex(e.left);
      return a === "mapPtr" ? "map" : a === "bins" ? "binsWord" : null;
    }
    if (op === ts.SyntaxKind.PlusToken) {
      // The header's bin bitmap and summary: hdr + 4 * H_BINMAP (+ x), hdr + 4 * (H_BINMAP + w), hdr + 4 * H_SUMMARY.
      if (isHdr(e.left) && headerOffset(e.right, ["H_BINMAP", "H_SUMMARY"])) return "bins";
      // A derived word index plus an offset (the base on the left, as Heap.ts writes them).
      const a = derivedIndex(e.left);
      return a === "map" || a === "bins" ? a : null;
    }
    return null;
  }

  /**
   * Whether store `st` (m[X] = v) changes nothing but the PINUSE flag of the word it stores to:
   * "same" when v is `m[X] | PINUSE` or `m[X] & ~PINUSE` (the same X, as written); "checked"
   * when v is `y | PINUSE` or `y & ~PINUSE` for a local y that is only ever assigned m[X] (or
   * a number first): the generated code then logs the store unless only PINUSE changes. Those
   * are the flag of the chunk after one the call takes or frees, a function of that chunk's
   * CINUSE, which recovery rewrites for every chunk. Else null.
   */
  function pinuseOnly(st) {
    const v = unwrap(st.right);
    if (!ts.isBinaryExpression(v)) return null;
    const r = unwrap(v.right);
    const flag =
      (v.operatorToken.kind === ts.SyntaxKind.BarToken && ts.isIdentifier(r) && r.text === "PINUSE") ||
      (v.operatorToken.kind === ts.SyntaxKind.AmpersandToken && ts.isPrefixUnaryExpression(r) && r.operator === ts.SyntaxKind.TildeToken && ts.isIdentifier(unwrap(r.operand)) && unwrap(r.operand).text === "PINUSE");
    if (!flag) return null;
    const at = st.left.argumentExpression.getText(sf);
    let pure = true; // (an index written twice must be the same word twice: no call or assignment in it)
    const impure = (x) => {
      if (ts.isCallExpression(x) || (ts.isBinaryExpression(x) && isAssignment(x.operatorToken.kind)) || ts.isPrefixUnaryExpression(x) || ts.isPostfixUnaryExpression(x)) pure = false;
      ts.forEachChild(x, impure);
    };
    impure(st.left.argumentExpression);
    if (!pure) return null;
    const readsAt = (e) => {
      e = unwrap(e);
      return isMAccess(e) && e.expression.getText(sf) === st.left.expression.getText(sf) && e.argumentExpression.getText(sf) === at;
    };
    const a = unwrap(v.left);
    if (readsAt(a)) return "same";
    if (!ts.isIdentifier(a)) return null;
    // Every assignment of the local, in the function around the store.
    let fn = st.parent;
    while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
    if (!fn) return null;
    let ok = true;
    let reads = 0;
    const visit = (x) => {
      if (ts.isVariableDeclaration(x) && ts.isIdentifier(x.name) && x.name.text === a.text) {
        const init = x.initializer && unwrap(x.initializer);
        if (init && readsAt(init)) reads++;
        else if (!(init && ts.isNumericLiteral(init) && (x.parent.flags & ts.NodeFlags.Const) === 0)) ok = false;
      } else if (ts.isBinaryExpression(x) && isAssignment(x.operatorToken.kind) && ts.isIdentifier(unwrap(x.left)) && unwrap(x.left).text === a.text) {
        if (x.operatorToken.kind === ts.SyntaxKind.EqualsToken && readsAt(x.right)) reads++;
        else ok = false;
      } else if ((ts.isPrefixUnaryExpression(x) || ts.isPostfixUnaryExpression(x)) && ts.isIdentifier(unwrap(x.operand)) && unwrap(x.operand).text === a.text) {
        ok = false;
      }
      ts.forEachChild(x, visit);
    };
    visit(fn);
    return ok && reads > 0 ? "checked" : null;
  }

  /**
   * Whether store `st` is `m[(a + s) >>> 2] = s` (a and s locals; or `m[n >>> 2] = s` with a
   * const n = a + s): the footer of a free chunk at a of s bytes, a function of its header,
   * which recovery rewrites for every free chunk. Only in malloc and free (HOT), where the word
   * was before the call the footer of a free chunk (the one a split cuts, or the one after the
   * freed block that it merges with), or the last word of the block being freed, whose bytes
   * the call was giving up. (Not in the general paths: a realloc shrinking a block in place
   * frees its tail, whose footer lies in the block.)
   */
  function isFooter(st) {
    const i = unwrap(st.left.argumentExpression);
    const v = unwrap(st.right);
    if (!isShr2(i) || !ts.isIdentifier(v)) return false;
    let sum = unwrap(i.left);
    if (ts.isIdentifier(sum)) sum = unwrap(constDecl(sum)?.initializer ?? sum); // (n >>> 2, n = c + size)
    return ts.isBinaryExpression(sum) && sum.operatorToken.kind === ts.SyntaxKind.PlusToken && ts.isIdentifier(unwrap(sum.left)) && ts.isIdentifier(unwrap(sum.right)) && unwrap(sum.right).text === v.text;
  }

  /**
   * How the logged engine writes store `st` (m[i] = v): "unlogged" (a derived word, or a change
   * of the PINUSE flag alone), "checked" (logged unless it changes only PINUSE, see pinuseOnly),
   * "inline" (logged, written out: in malloc and free) or "logStore" (logged by a call).
   */
  function storeKind(st) {
    if (annotated(st.parent)) return "unlogged";
    const pin = pinuseOnly(st);
    const derivedAs = derivedIndex(st.left.argumentExpression);
    if ((derivedAs !== null && derivedAs !== "map") || pin === "same" || (HOT.has(methodOf(st)) && isFooter(st))) return "unlogged";
    if (pin === "checked") return "checked";
    return HOT.has(methodOf(st)) ? "inline" : "logStore";
  }
  /**
   * Whether store statement `node` is marked `// unlogged: <why>` on its line in Heap.ts: a
   * word that held no metadata before the call (the inside of a free chunk or of the top that a
   * split carves a header into; the bytes of the block being freed), which the undo need not put
   * back.
   */
  function annotated(node) {
    const after = ts.getTrailingCommentRanges(source, node.end) ?? [];
    return after.some((c) => /^\/\/ unlogged: \S/.test(source.slice(c.pos, c.end)));
  }
  /** Whether element access `acc` is the target of a store statement m[i] = v (not a compound one). */
  const isStoreTarget = (acc) => {
    const b = acc.parent;
    return ts.isBinaryExpression(b) && b.left === acc && b.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isExpressionStatement(b.parent);
  };
  /** The name of the class member around `node`. */
  const methodOf = (node) => {
    let x = node;
    while (x && !(ts.isClassElement(x) && x.parent === cls)) x = x.parent;
    return x?.name?.getText(sf) ?? "";
  };

  /** The node's text with every metadata access below it rewritten. */
  function render(node) {
    if (ts.isExpressionStatement(node) && ts.isBinaryExpression(node.expression) && isMAccess(node.expression.left) && node.expression.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
      const st = node.expression;
      const arr = render(st.left.expression);
      const kind = logged ? storeKind(st) : null;
      if (kind === "unlogged") {
        derived.push(`Heap.ts:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${text(node)}${annotated(node) ? " (marked)" : ""}`);
        return `${arr}[${render(st.left.argumentExpression)}] = ${render(st.right)};`;
      }
      if (logged) {
        const log = `const $n = this.lgN; if ($n < this.lgCap) { const $c = this.lg; ${arr}[($c + 1 + $n) | 0] = $i; ${arr}[($c + 2 + $n) | 0] = ${arr}[$i]!; ${arr}[$c] = ($n + 2) | 0; this.lgN = ($n + 2) | 0; } else this.logFull($i);`;
        if (kind === "checked") {
          derived.push(`Heap.ts:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${text(node)} (when only PINUSE changes)`);
          return `{ const $i = ${render(st.left.argumentExpression)}; const $x = ${render(st.right)}; if ((($x ^ ${arr}[$i]!) & ~PINUSE) !== 0) { ${log} } ${arr}[$i] = $x; }`;
        }
        if (kind === "logStore") return `this.logStore(${render(st.left.argumentExpression)}, ${render(st.right)});`;
        return `{ const $i = ${render(st.left.argumentExpression)}; const $x = ${render(st.right)}; ${log} ${arr}[$i] = $x; }`;
      }
      return (
        `{ const $i = ${render(st.left.argumentExpression)}; const $x = ${render(st.right)}; ` +
        `const $v = $i >>> this.ps; const $k = ($v & ${CACHE_MASK}) << 1; const $c = this.wc; ` +
        `const $a = $c[$k] === $v ? $c[$k + 1]! + ($i & this.pm) : this.writeMiss($i); ` +
        `const $u = this.undo; const $n = this.undoN; if ($n < $u.length) { $u[$n] = $i; $u[$n + 1] = ${arr}[$a]!; } ` +
        `this.undoN = $n + 2; ${arr}[$a] = $x; }`
      );
    }
    if (ts.isVariableStatement(node)) {
      const ds = node.declarationList.declarations;
      if (ds.length === 1 && ds[0].name.getText(sf) === "m" && !mStillRead(ds[0])) return "";
    }
    if (ts.isBinaryExpression(node) && isAssignment(node.operatorToken.kind)) {
      const op = node.operatorToken.kind;
      if (isMAccess(node.left) && op === ts.SyntaxKind.EqualsToken) {
        fail(node, "a metadata store must be a statement of its own"); // statements are handled above
      }
      // Anything else that would store into metadata: m[i] op= v, (m[i]!) = v, [m[i]] = ...
      if (hasMAccess(node.left)) {
        fail(node, op === ts.SyntaxKind.EqualsToken ? "a metadata store must be written m[i] = v" : "compound stores are not translated (write m[i] = m[i] op v)");
      }
    }
    if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) && hasMAccess(node.operand)) {
      const op = node.operator;
      if (op === ts.SyntaxKind.PlusPlusToken || op === ts.SyntaxKind.MinusMinusToken) fail(node, "++ and -- on metadata are not translated");
    }
    if ((ts.isForOfStatement(node) || ts.isForInStatement(node)) && hasMAccess(node.initializer)) fail(node, "a loop may not store into metadata");
    if (ts.isDeleteExpression(node) && hasMAccess(node.expression)) fail(node, "delete on metadata is not translated");
    if (ts.isPropertyAccessExpression(node) && isM(node)) {
      // this.m: indexed, copied into the local m, or replaced (m = this.m = h.u32).
      const p = node.parent;
      const ok =
        (ts.isElementAccessExpression(p) && p.expression === node) ||
        (ts.isVariableDeclaration(p) && p.initializer === node && p.name.getText(sf) === "m") ||
        (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.EqualsToken && (p.left === node || (p.right === node && ts.isIdentifier(p.left) && p.left.text === "m")));
      if (!ok) fail(node, "this.m may only be indexed, copied into m or replaced");
    }
    if (isMAccess(node)) {
      if (logged) return `${render(node.expression)}[${render(node.argumentExpression)}]`;
      return `${render(node.expression)}[this.tr(${render(node.argumentExpression)})]`;
    }
    if (ts.isIdentifier(node) && node.text === "m") {
      const p = node.parent;
      const ok =
        (ts.isElementAccessExpression(p) && p.expression === node) ||
        (ts.isVariableDeclaration(p) && p.name === node) ||
        (ts.isBinaryExpression(p) && p.left === node && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) ||
        (ts.isPropertyAccessExpression(p) && p.name === node) ||
        (logged && ts.isPropertyAccessExpression(p) && p.expression === node && p.name.text === "length"); // (stale(): the logged engine's m is the memory itself)
      if (!ok) fail(node, "the metadata array may only be indexed, declared or assigned");
    }
    // Copy the node's own text, with each child replaced by its rendering.
    const kids = node.getChildren(sf);
    if (kids.length === 0) return text(node);
    let out = "";
    let pos = node.getStart(sf);
    for (const k of kids) {
      const start = k.getStart(sf);
      out += source.slice(pos, start) + render(k);
      pos = k.end;
    }
    return out + source.slice(pos, node.end);
  }

  const members = [];
  for (const mem of cls.members) {
    const isMethod = ts.isMethodDeclaration(mem) || ts.isGetAccessorDeclaration(mem) || ts.isSetAccessorDeclaration(mem);
    if (!isMethod) continue;
    const mods = ts.getModifiers(mem) ?? [];
    if (mods.some((m) => m.kind === ts.SyntaxKind.StaticKeyword)) continue;
    if ((logged ? SKIP_LOGGED : SKIP).has(mem.name.getText(sf))) continue;
    // Leading JSDoc and comments are kept, the `override` keyword added after the modifiers.
    const full = source.slice(mem.getFullStart(), mem.end);
    const lead = full.slice(0, mem.getStart(sf) - mem.getFullStart());
    const modText = mods.map((m) => m.getText(sf)).join(" ");
    const afterMods = mods.length > 0 ? mods[mods.length - 1].end : mem.getStart(sf);
    let body = "";
    let pos = afterMods;
    for (const k of mem.getChildren(sf)) {
      if (k.end <= afterMods) continue;
      body += source.slice(pos, k.getStart(sf)) + render(k);
      pos = k.end;
    }
    body += source.slice(pos, mem.end);
    members.push(`${lead}${modText ? modText + " " : ""}override ${body.trimStart()}`);
  }
  let classBody = members.join("\n");

  // Module-level helpers: exported ones are imported from Heap.ts, private ones copied.
  const exported = new Set();
  const privateDecls = new Map();
  for (const s of sf.statements) {
    const exp = (ts.getModifiers(s) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const names = ts.isVariableStatement(s)
      ? s.declarationList.declarations.map((d) => d.name.getText(sf))
      : ts.isFunctionDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isClassDeclaration(s)
        ? [s.name.text]
        : [];
    for (const n of names) {
      if (exp) exported.add(n);
      else if (!ts.isClassDeclaration(s)) privateDecls.set(n, source.slice(s.getFullStart(), s.end).trim());
    }
  }
  /** The identifiers `code` (statements, then class members) names outside comments and strings. */
  const namesIn = (decls, members) => {
    const f = ts.createSourceFile("x.ts", `${decls}\nclass X__ {\n${members}\n}\n`, ts.ScriptTarget.ES2022, true);
    const names = new Set();
    const visit = (x) => {
      if (ts.isIdentifier(x)) names.add(x.text);
      ts.forEachChild(x, visit);
    };
    visit(f);
    return names;
  };
  const copied = [];
  for (let changed = true; changed; ) {
    changed = false;
    const names = namesIn(copied.join("\n"), classBody);
    for (const [n, decl] of privateDecls) {
      if (!copied.includes(decl) && names.has(n)) {
        copied.push(decl);
        changed = true;
      }
    }
  }
  const used = namesIn(copied.join("\n"), classBody);

  const imports = [];
  for (const s of sf.statements) {
    if (!ts.isImportDeclaration(s)) continue;
    const from = s.moduleSpecifier.text;
    const clause = s.importClause;
    const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : [];
    const keep = named.filter((e) => used.has(e.name.text)).map((e) => e.getText(sf));
    if (keep.length > 0) imports.push(`import ${clause.isTypeOnly ? "type " : ""}{ ${keep.join(", ")} } from "${from}";`);
  }
  const fromHeap = [...exported].filter((n) => n !== "Heap" && used.has(n));
  const typeNames = new Set(sf.statements.filter((s) => ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s)).map((s) => s.name.text));
  const heapImports = [logged ? "type Heap" : "Heap", ...fromHeap.map((n) => (typeNames.has(n) ? `type ${n}` : n))];
  imports.push(`import { ${heapImports.join(", ")} } from "./Heap.js";`);
  if (!logged && !imports.some((l) => /\bAddressSpace\b/.test(l))) imports.push(`import type { AddressSpace } from "../vm/AddressSpace.js";`);

  classBody = classBody.replace(/^[ \t]+$/gm, "").replace(/\n{3,}/g, "\n\n");
  if (logged) {
    return `// GENERATED by scripts/gen-paged-engine.mjs from src/heap/Heap.ts: do not edit.
// Run \`npm run gen\` after changing Heap.ts; a test fails while this file is out of date.
/* eslint-disable */
${imports.join("\n")}

${copied.join("\n\n")}

/**
 * The engine of {@link Heap} on linear memory with every metadata store logged first, in the
 * heap's own memory: the engine of a concurrent heap, whose calls another thread can undo when
 * the thread making them dies (see \`arenas.ts\`). A factory, called with the class \`Heap\` itself.
 * @internal
 */
export function makeLoggedEngine(Base: typeof Heap): new (opts?: HeapOptions) => Heap {
  class LoggedEngine extends Base {
    /** Word index of the log's count word (words used); the (word index, old value) pairs follow it. */
    protected lg!: number;
    /** Words the log can hold. */
    protected lgCap!: number;
    /** Words of the log in use (the count word's value, kept here too so that each store need not read it). */
    protected lgN!: number;
    /** Called instead of logging the store to word \`i\` when the log is full. */
    protected logFull(_i: number): void {}
    /** Stores \`x\` to word \`i\`, logged first (as the stores written out in malloc and free). */
    protected logStore(i: number, x: number): void {
      const m = this.m;
      const n = this.lgN;
      if (n < this.lgCap) {
        const c = this.lg;
        m[(c + 1 + n) | 0] = i;
        m[(c + 2 + n) | 0] = m[i]!;
        m[c] = (n + 2) | 0;
        this.lgN = (n + 2) | 0;
      } else this.logFull(i);
      m[i] = x;
    }

${classBody}
  }
  return LoggedEngine;
}
`;
  }
  return `// GENERATED by scripts/gen-paged-engine.mjs from src/heap/Heap.ts: do not edit.
// Run \`npm run gen\` after changing Heap.ts; a test fails while this file is out of date.
/* eslint-disable */
${imports.join("\n")}

${copied.join("\n\n")}

/**
 * The engine of {@link Heap} with every metadata word reached through a translation of its
 * index (\`tr\` for reads, stores written out through \`wc\`): the base of {@link PagedHeap}, a heap
 * inside a process's address space.
 * @internal
 */
export abstract class PagedEngine extends Heap<AddressSpace> {
  /** The RAM word holding virtual word \`i\`, for a read. */
  protected abstract tr(i: number): number;
  /** The RAM word holding virtual word \`i\`, for a write that missed the write cache: asks the MMU, fills the cache. */
  protected abstract writeMiss(i: number): number;
  /** The write cache: entry \`k\` is \`wc[2k]\`, a virtual page (-1: none), and \`wc[2k + 1]\`, the RAM word of its first word. */
  protected wc!: Int32Array;
  /** log2 of words per page, and words per page − 1. */
  protected ps!: number;
  protected pm!: number;
  /** The undo log of the current call: (word index, old value) pairs; \`undoN\` numbers used. */
  protected undo!: Int32Array;
  protected undoN!: number;

${classBody}
}
`;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const src = fs.readFileSync(SRC, "utf8");
  if (process.argv.includes("--derived")) {
    const list = [];
    generateLogged(src, list);
    for (const line of list) console.log(line);
    process.exit(0);
  }
  for (const [file, out] of [[OUT, generate(src)], [OUT_LOGGED, generateLogged(src)]]) {
    if (process.argv.includes("--check")) {
      const cur = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
      if (cur !== out) {
        console.error(`${path.relative(REPO, file)} is out of date: run npm run gen`);
        process.exit(1);
      }
    } else {
      fs.writeFileSync(file, out);
      console.log(`wrote ${path.relative(REPO, file)}`);
    }
  }
}
