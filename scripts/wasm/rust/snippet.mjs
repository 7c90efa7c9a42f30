// The Rust recipe's `#[global_allocator]`: the first ```rust block after "## Rust" in
// docs/wasm.md, as build.sh pastes it into program.rs. Read by bench/wasm/rust.mjs and by the
// test that checks the fixture was built from the docs as they are.

import { readFileSync } from "node:fs";

/** The snippet's text, given the repository's root folder. */
export function rustSnippet(root) {
  const docs = readFileSync(`${root}/docs/wasm.md`, "utf8");
  const section = docs.slice(docs.indexOf("\n## Rust") + 1);
  const start = section.indexOf("```rust\n") + "```rust\n".length;
  return section.slice(start, section.indexOf("\n```", start) + 1);
}
