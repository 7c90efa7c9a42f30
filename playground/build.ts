/**
 * Builds the playground: bundles `playground/src/main.ts` and the library it imports (`vmheap`
 * and `vmheap/viz`, taken from `src/`, so no `npm run build` is needed first) into
 * `playground/dist/main.js`.
 * The page, `playground/index.html`, loads it.
 *
 *   npx tsx playground/build.ts        build once
 *   npm run playground                 build, then serve on http://localhost:8080
 */
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** Builds `playground/dist/main.js`; returns its size in bytes. */
export async function buildPlayground(): Promise<number> {
  const r = await build({
    entryPoints: [join(here, "src", "main.ts")],
    outfile: join(here, "dist", "main.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: true,
    minifySyntax: true,
    metafile: true,
    logLevel: "warning",
    alias: { "vmheap/viz": join(root, "src", "viz", "index.ts"), vmheap: join(root, "src", "index.ts") },
  });
  return Object.values(r.metafile.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bytes = await buildPlayground();
  console.log(`playground/dist/main.js built (${(bytes / 1024).toFixed(0)} KiB with its source map)`);
}
