/**
 * The `vmheap` command: a list of subcommands, each with `--help` and `--json`.
 *
 * ```text
 *   vmheap demo                 the guided tour (npm run demo)
 *   vmheap tour                 its process half
 *   vmheap replay TRACE         a malloc trace: utilization, fragmentation, the heap
 *   vmheap pagesim ...          page replacement on a reference string
 *   vmheap walk VA              a page-table walk
 * ```
 */
import { type Command, EXIT_USAGE, type Io, printText } from "./command.js";
import { pagesimCommand } from "./pagesim.js";
import { replayCommand } from "./replay.js";
import { demoCommand, tourCommand } from "./story.js";
import { walkCommand } from "./walk.js";

/** Every subcommand, in the order `vmheap --help` lists them. */
export const COMMANDS: readonly Command[] = [demoCommand, tourCommand, replayCommand, pagesimCommand, walkCommand];

/** The text of `vmheap --help`. */
export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: vmheap COMMAND [options]",
    "",
    "A glibc-style malloc and a model of Linux virtual memory, to run and to look at.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Every command takes --help (what it does, its options) and --json (its results as JSON).",
    "Example: vmheap pagesim --policy fifo --frames 3 --refs 1,2,3,4,1,2,5,1,2,3,4,5",
  ].join("\n");
}

/**
 * Runs `vmheap` with `argv` (the arguments after the program name).
 * @returns the exit code: 0 done, 1 bad input, 2 bad command line
 * @example
 * ```ts
 * const code = run(["pagesim", "--refs", "1,2,3,1", "--json"], processIo);
 * ```
 */
export function run(argv: readonly string[], io: Io): number {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0] !== undefined) return run([rest[0], "--help"], io);
    // Asked for: the help on stdout. No command at all: the same text, as an error.
    if (name === undefined) {
      for (const l of mainHelp().split("\n")) io.err(l);
      return EXIT_USAGE;
    }
    printText(io, mainHelp());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`vmheap: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(", ")}; vmheap --help)`);
    return EXIT_USAGE;
  }
  return command.run(rest, io);
}
