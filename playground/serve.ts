/**
 * A static file server for the playground (node:http, no dependencies). With `isolated`, every
 * response carries `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`, which make the page cross-origin isolated:
 * `SharedArrayBuffer` exists and the heap uses it. Without, the heap falls back to an
 * `ArrayBuffer`, as on any plain static host.
 *
 *   npm run playground                      build, serve on http://localhost:8080 (not isolated)
 *   npm run playground -- --isolated        the same, with COOP/COEP
 *   npm run playground -- --port 9000
 */
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPlayground } from "./build.js";

const here = dirname(fileURLToPath(import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

/** Options for {@link servePlayground}. */
export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  /** Send COOP/COEP headers (cross-origin isolation). */
  isolated?: boolean;
}

/** Serves `playground/` on 127.0.0.1; resolves with the server and its URL once listening. */
export function servePlayground(opts: ServeOptions = {}): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(here, path === "/" ? "index.html" : path));
    const headers: Record<string, string> = { "Cache-Control": "no-store" };
    if (opts.isolated === true) {
      headers["Cross-Origin-Opener-Policy"] = "same-origin";
      headers["Cross-Origin-Embedder-Policy"] = "require-corp";
    }
    if (!file.startsWith(here + sep)) {
      res.writeHead(403, headers).end("forbidden");
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body),
      () => res.writeHead(404, headers).end("not found"),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      const a = server.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}/` });
    });
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const isolated = args.includes("--isolated");
  const i = args.indexOf("--port");
  const port = i >= 0 ? Number(args[i + 1]) : 8080;
  await buildPlayground();
  const { url } = await servePlayground({ port, isolated });
  console.log(`playground on ${url} (${isolated ? "cross-origin isolated: COOP/COEP sent" : "not cross-origin isolated"}); Ctrl-C stops it`);
}
