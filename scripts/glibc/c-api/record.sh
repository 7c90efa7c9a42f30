#!/usr/bin/env bash
# Records glibc 2.36's C results at the edges heap.md names (scripts/glibc/c-api/c-api.c), as a
# fixture for test/spec/heap.*.spec.test.ts. Needs gcc and setarch; `npm test` only reads it.
#   bash scripts/glibc/c-api/record.sh      (from the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../../test/fixtures/glibc"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
gcc -O0 -fno-builtin -Wall -Wno-alloc-size-larger-than -o "$build/c-api" "$here/c-api.c"
setarch -R env -i "$build/c-api" > "$out/c-api.txt"
