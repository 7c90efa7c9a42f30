#!/usr/bin/env bash
# Builds program.rs twice and records what the tests of the Rust recipe read:
#   - for wasm32-unknown-unknown, with the `#[global_allocator]` of docs/wasm.md ("## Rust")
#     pasted in, so that the docs' snippet is the code that runs: test/fixtures/wasm/rust-program.wasm
#   - natively, with Rust's own allocator: its checksums, the reference the wasm build must match,
#     in test/fixtures/wasm/rust-program.txt (with the compiler and the snippet's sha256)
# Needs Debian's rustc and the wasm32 standard library (apt-get install rustc
# libstd-rust-dev-wasm32); `npm test` only reads the fixtures.
#   bash scripts/wasm/rust/build.sh      (from the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="$here/../../.."
out="$root/test/fixtures/wasm"
rustc=${RUSTC:-/usr/bin/rustc}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
mkdir -p "$out"

# The snippet: the first ```rust block after "## Rust" in docs/wasm.md (as snippet.mjs reads it).
awk '/^## Rust/{s=1} s&&/^```rust/{p=1;next} p&&/^```/{exit} p' "$root/docs/wasm.md" > "$build/alloc.rs"
[ -s "$build/alloc.rs" ] || { echo "no rust snippet in docs/wasm.md" >&2; exit 1; }
awk -v f="$build/alloc.rs" '/^\/\/ -- allocator --$/{while((getline l<f)>0)print l;next}1' "$here/program.rs" > "$build/wasm.rs"

"$rustc" --edition 2021 -O --crate-type cdylib --target wasm32-unknown-unknown \
  -C link-arg=--import-memory -C link-arg=--export=__heap_base -C strip=symbols \
  -o "$out/rust-program.wasm" "$build/wasm.rs"
"$rustc" --edition 2021 -O -o "$build/native" "$here/program.rs"
{
  echo "rustc: $("$rustc" --version)"
  echo "snippet-sha256: $(sha256sum < "$build/alloc.rs" | cut -d' ' -f1)"
  for rounds in 1 3 10; do echo "run $rounds $("$build/native" "$rounds")"; done
} > "$out/rust-program.txt"
echo "recorded into $out"
