import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  treeshake: true,
  // Folds the layout constants (H_TOP, CINUSE, ...) into the code: V8 does not inline
  // module-level consts by itself, and the hot paths read them on every operation.
  minifySyntax: true,
});
