import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The library: the root (`vmheap`), the heap alone (`vmheap/heap`), the pictures (`vmheap/viz`) and the heap's wasm engine
    // (`vmheap/wasm`: its binaries, apart so that the root stays small), for ESM and CJS.
    entry: { index: "src/index.ts", heap: "src/heap/index.ts", viz: "src/viz/index.ts", wasm: "src/heap/wasm/index.ts" },
    format: ["esm", "cjs"],
    // Shared code in shared chunks for CJS too: one copy of each class, so that an error
    // thrown by vmheap/viz is an instance of the ArgumentError that vmheap exports.
    splitting: true,
    dts: true,
    sourcemap: true,
    // Keep the command (built by the second config, at the same time) when cleaning.
    clean: ["!cli.js"],
    target: "es2022",
    treeshake: true,
    // Folds the layout constants (H_TOP, CINUSE, ...) into the code: V8 does not inline
    // module-level consts by itself, and the hot paths read them on every operation.
    minifySyntax: true,
  },
  {
    // The `vmheap` command (the package's bin): one ESM file that keeps the source's
    // `#!/usr/bin/env node` line and needs nothing but Node.
    entry: { cli: "src/cli/bin.ts" },
    format: ["esm"],
    clean: false,
    target: "node20",
    platform: "node",
    treeshake: true,
    minifySyntax: true,
  },
]);
