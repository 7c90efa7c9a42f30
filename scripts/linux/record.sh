#!/usr/bin/env bash
# Records what this machine's Linux does, as fixtures for the tests of the virtual-memory model.
# Needs gcc (static glibc) and setarch; `npm test` only reads the fixtures.
#   bash scripts/linux/record.sh      (from the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../test/fixtures/linux"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
mkdir -p "$out"

# mremap(2) and madvise(2): results and errors, case by case.
gcc -O1 -static -o "$build/mremap" "$here/mremap.c"
setarch -R "$build/mremap" > "$out/mremap.txt"

# Minor faults of a fresh mmapped malloc block (glibc writes only its header).
gcc -O1 -static -o "$build/faults" "$here/mmapped-block-faults.c"
setarch -R "$build/faults" > "$out/mmapped-block-faults.txt"

# The fault and memory counts of vm.md: lazy anonymous pages, the zero page, a write across a
# page boundary, fork's copy-on-write, a private file mapping's first write.
gcc -O1 -static -o "$build/vm-faults" "$here/faults.c"
setarch -R "$build/vm-faults" "$build/scratch.bin" > "$out/faults.txt"

# How mmap, munmap and mprotect split and merge regions: the maps lines after each step.
gcc -O1 -static -o "$build/regions" "$here/regions.c"
setarch -R "$build/regions" "$build/regions.bin" | sed "s#$build/#/tmp/#" > "$out/regions.txt"

# brk and sbrk: byte-exact break, shrinking and growing again, its failures, RLIMIT_DATA.
gcc -O1 -static -o "$build/brk" "$here/brk.c"
setarch -R "$build/brk" > "$out/brk.txt"

# What mmap does with prot bits it does not know, and with a file mapping longer than its file.
gcc -O1 -static -o "$build/file-edges" "$here/file-edges.c"
setarch -R "$build/file-edges" "$build/file-edges.bin" > "$out/file-edges.txt"

# The top of user space: x86-64's TASK_SIZE_MAX, and an i386 process's on this 64-bit kernel
# (no 32-bit libc needed: the i386 program makes its system calls itself).
gcc -O1 -static -o "$build/task-top" "$here/task-top.c"
setarch -R "$build/task-top" > "$out/task-top.txt"
gcc -m32 -O1 -static -nostdlib -fno-pie -no-pie -fno-stack-protector -o "$build/i386" "$here/i386.c"
setarch -R "$build/i386" | sed "s#$build/#/tmp/#" > "$out/i386.txt"

# Which page tables fork copies (the child's faults reading each kind of mapping).
gcc -O1 -static -o "$build/fork-tables" "$here/fork-tables.c"
setarch -R "$build/fork-tables" "$build/fork-tables.bin" > "$out/fork-tables.txt"

# Which maps lines are [heap] and [stack] after MAP_FIXED, munmap and mprotect inside them.
gcc -O1 -static -o "$build/names" "$here/names.c"
setarch -R "$build/names" > "$out/names.txt"

# A private file mapping made writable, then read-only again, keeps a line of its own.
gcc -O1 -o "$build/relro-merge" "$here/relro-merge.c"
setarch -R "$build/relro-merge" "$build/file.bin" > "$out/relro-merge.txt"

# mmap hints (where a mapping goes when its address is taken, unaligned, out of range) and the
# errors of mmap, munmap and mprotect, in a fresh static process.
gcc -O1 -static -o "$build/mmap-hints" "$here/mmap-hints.c"
setarch -R "$build/mmap-hints" | sed "s#$build/#/tmp/#" > "$out/mmap-hints.txt"

# How far the main stack grows down towards a mapping below it (Linux's stack_guard_gap).
gcc -O1 -static -o "$build/stack-gap" "$here/stack-gap.c"
(ulimit -s 8192 && setarch -R "$build/stack-gap") > "$out/stack-gap.txt"

# The layout of a static and of a PIE program: its maps at main and after mmap and sbrk, the
# mm fields of /proc/self/stat, and its program headers (which the tests give the model).
# The binaries are called /tmp/prog-static and /tmp/prog-pie in the recordings.
gcc -O1 -static -o "$build/prog-static" "$here/layout.c"
gcc -O1 -pie -fPIE -o "$build/prog-pie" "$here/layout.c"
for kind in static pie; do
  setarch -R "$build/prog-$kind" | sed "s#$build/#/tmp/#" > "$out/layout-$kind.txt"
  readelf -lW "$build/prog-$kind" > "$out/layout-$kind.phdrs.txt"
done

{ echo "kernel: $(uname -r)"; echo "gcc: $(gcc -dumpfullversion)"; echo "glibc: $(ldd --version | head -1)"; } > "$out/machine.txt"
echo "recorded into $out"
