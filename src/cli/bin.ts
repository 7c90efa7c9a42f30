#!/usr/bin/env node
/**
 * The `vmheap` executable (the package's `bin`): runs {@link run} on the process's arguments
 * and exits with its code.
 */
import { processIo } from "./command.js";
import { run } from "./main.js";

// `vmheap demo | head`: the reader went away; stop quietly, as a C program dies of SIGPIPE.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
process.exitCode = run(process.argv.slice(2), processIo);
