import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      // index.ts only re-exports names.
      exclude: ["src/index.ts"],
      reporter: ["text-summary", "text"],
      thresholds: { lines: 90, branches: 80 },
    },
  },
});
