/**
 * What every `vmheap` subcommand shares: where its output goes, how it reads its options
 * (`node:util` parseArgs, strict), and how a mistake becomes a message and an exit code rather
 * than a stack trace.
 *
 * ```text
 *   exit 0   done
 *   exit 1   the input is wrong: a missing or malformed file, an allocation the trace cannot make
 *   exit 2   the command line is wrong: an unknown option, a value that is not a number
 * ```
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Where a command reads and writes: the real console and files, or a test's buffers. */
export interface Io {
  /** Prints one line of output (no newline). */
  out(line: string): void;
  /** Prints one line of diagnostics (no newline). */
  err(line: string): void;
  /** Reads a text file; throws like `fs.readFileSync`. */
  readFile(path: string): string;
  /** Writes a text file; throws like `fs.writeFileSync`. */
  writeFile(path: string, text: string): void;
}

/** The console and the file system. */
export const processIo: Io = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
  readFile: (path) => readFileSync(path, "utf8"),
  writeFile: (path, text) => writeFileSync(path, text),
};

/** Exit code for a wrong input file or an input the model cannot run. */
export const EXIT_INPUT = 1;
/** Exit code for a wrong command line. */
export const EXIT_USAGE = 2;

/** A mistake to report in one line, with the exit code it deserves. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A wrong command line: exit code 2. */
export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);
/** A wrong input: exit code 1. */
export const inputError = (message: string): CliError => new CliError(message, EXIT_INPUT);

/** A subcommand of `vmheap`. */
export interface Command {
  /** Its name on the command line. */
  readonly name: string;
  /** One line for the list of commands. */
  readonly summary: string;
  /** The text of `vmheap NAME --help`. */
  readonly help: string;
  /** Runs it with the arguments after its name; returns the exit code. */
  run(args: readonly string[], io: Io): number;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The options every command takes. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
} as const satisfies Options;

/**
 * Parses `args` strictly against `options` (plus `--help` and `--json`), turning parseArgs'
 * errors into a usage error that names the command.
 */
export function parse<O extends Options>(command: string, args: readonly string[], options: O, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...options }, allowPositionals: positionals > 0, strict: true });
  } catch (e) {
    // parseArgs' messages are clear ("Unknown option '--x'"); its advice about "--" is not for us.
    const msg = (e as Error).message
      .replace(/\. To specify a positional argument.*$/s, "")
      .replace(/\s*\n\s*/g, " ");
    throw usageError(`vmheap ${command}: ${msg}`);
  }
  if (parsed.positionals.length > positionals) {
    throw usageError(`vmheap ${command}: unexpected argument '${parsed.positionals[positionals]!}'`);
  }
  return parsed;
}

/**
 * Reads a whole number from an option: decimal, or hex with `0x`; a usage error otherwise.
 * @param min - the smallest value allowed
 */
export function intOption(command: string, name: string, text: string | undefined, dflt: number, min = 0): number {
  if (text === undefined) return dflt;
  const v = parseNumber(text);
  if (v === null || v < min) throw usageError(`vmheap ${command}: --${name} must be a whole number${min > 0 ? ` ≥ ${min}` : ""}, got '${text}'`);
  return v;
}

/** A whole number written in decimal or with a `0x` prefix, or null. */
export function parseNumber(text: string): number | null {
  const t = text.trim().replace(/_/g, "");
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) return null;
  const v = Number(t);
  return Number.isSafeInteger(v) ? v : null;
}

/** Runs `body`, turning a {@link CliError} into its message and exit code. */
export function guarded(io: Io, body: () => number): number {
  try {
    return body();
  } catch (e) {
    if (e instanceof CliError) {
      io.err(e.message);
      return e.exitCode;
    }
    throw e;
  }
}

/** `JSON.stringify` with two-space indentation, as one line per call to `out`. */
export function printJson(io: Io, value: unknown): void {
  for (const l of JSON.stringify(value, null, 2).split("\n")) io.out(l);
}

/** Prints a block of text one line at a time. */
export function printText(io: Io, text: string): void {
  for (const l of text.split("\n")) io.out(l);
}

/** Writes an SVG picture to `path`, or reports why it could not. */
export function writePicture(io: Io, command: string, path: string, svg: string): void {
  try {
    io.writeFile(path, svg);
  } catch (e) {
    throw inputError(`vmheap ${command}: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
