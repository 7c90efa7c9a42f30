/**
 * `vmheap demo` and `vmheap tour`: the guided tours of src/cli/demo.ts and
 * src/cli/processTour.ts as subcommands. Their text is a story of numbered sections; `--json`
 * gives the same story as data: `{ intro, sections: [{ title, lines }] }`.
 */
import { type Command, type Io, guarded, parse, printJson, printText } from "./command.js";
import { main as demoMain } from "./demo.js";
import { processTour } from "./processTour.js";

/** A tour told as data: the lines before the first section, then each section's lines. */
export interface Story {
  intro: string[];
  sections: { title: string; lines: string[] }[];
}

/**
 * Splits a tour's lines into its sections: a section starts with its title line, underlined by
 * a line of dashes of the same length.
 */
export function toStory(lines: readonly string[]): Story {
  const story: Story = { intro: [], sections: [] };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const next = lines[i + 1];
    if (next !== undefined && l !== "" && next === "-".repeat(l.length)) {
      story.sections.push({ title: l, lines: [] });
      i++;
    } else if (story.sections.length > 0) story.sections[story.sections.length - 1]!.lines.push(l);
    else story.intro.push(l);
  }
  // The blank line printed before each title belongs to no section.
  for (const s of [{ lines: story.intro }, ...story.sections]) while (s.lines.at(-1) === "") s.lines.pop();
  return story;
}

/** Runs the process tour alone, numbering its sections from 1, one line at a time to `out`. */
export function tourMain(out: (line: string) => void): void {
  const say = (text = ""): void => {
    for (const l of text.split("\n")) out(l);
  };
  say("vmheap tour: how a Linux process gets its memory, on a simulated process");
  processTour(
    say,
    (title, text) => {
      say();
      say(title);
      say("-".repeat(title.length));
      say(text);
    },
    1,
  );
}

function storyCommand(name: string, summary: string, help: string, body: (out: (line: string) => void) => void): Command {
  return {
    name,
    summary,
    help,
    run(args: readonly string[], io: Io): number {
      return guarded(io, () => {
        const { values } = parse(name, args, {}, 0);
        if (values.help) {
          printText(io, help);
          return 0;
        }
        if (values.json) {
          const lines: string[] = [];
          body((l) => lines.push(l));
          printJson(io, toStory(lines));
        } else body((l) => io.out(l));
        return 0;
      });
    },
  };
}

/** `vmheap demo`. */
export const demoCommand = storyCommand(
  "demo",
  "a guided tour of the heap, then of a process's memory (npm run demo)",
  `Usage: vmheap demo [--json]

A guided tour of a glibc-style malloc on a fresh heap (malloc, free and coalescing, realloc,
posix_memalign, misuse caught, mallinfo, trimming), then of the same heap inside a simulated
Linux process (maps, lazy allocation, fork and copy-on-write, swapping, Belady's anomaly),
then the same C steps on glibc's allocator and on vmheap's. Every figure it prints is
measured as it runs; the story is the same on every run.

Options:
  --json      the same story as JSON: {intro, sections: [{title, lines}]}
  -h, --help  this text`,
  demoMain,
);

/** `vmheap tour`. */
export const tourCommand = storyCommand(
  "tour",
  "the process half of the demo: maps, lazy allocation, fork, swap",
  `Usage: vmheap tour [--json]

How a Linux process gets its memory, on a simulated process: its /proc/self/maps, mmap and
lazy allocation (VmSize against VmRSS), malloc from brk and from mmap, fork and copy-on-write,
paging out under memory pressure, and Belady's anomaly. The second half of 'vmheap demo'.

Options:
  --json      the same story as JSON: {intro, sections: [{title, lines}]}
  -h, --help  this text`,
  tourMain,
);
