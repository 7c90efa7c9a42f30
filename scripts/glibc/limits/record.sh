#!/usr/bin/env bash
# Records glibc 2.36's answers at the edges of the aligned-allocation calls, as a fixture for the
# tests of the heap (test/spec/heap.spec.test.ts). Needs gcc and setarch; `npm test` only reads
# the fixture.
#   bash scripts/glibc/limits/record.sh      (from the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../../test/fixtures/glibc"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
gcc -O0 -fno-builtin -Wno-alloc-size-larger-than -o "$build/aligned-limits" "$here/aligned-limits.c"
setarch -R "$build/aligned-limits" > "$out/aligned-limits.txt"
