/**
 * `vmheap` itself: the list of commands, `--help` of each, unknown commands, and the tours as
 * subcommands (text and `--json`).
 */
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/main.js";
import { toStory } from "../../src/cli/story.js";
import { main as demoMain } from "../../src/cli/demo.js";
import { cli } from "./helpers.js";

describe("vmheap", () => {
  it("--help lists every command with its summary", () => {
    const r = cli("--help");
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("Usage: vmheap COMMAND [options]");
    for (const name of ["demo", "tour", "replay", "pagesim", "walk"]) expect(r.out.some((l) => new RegExp(`^  ${name}\\s+\\S`).test(l)), name).toBe(true);
    expect(cli("-h").out).toEqual(r.out);
  });

  it("every command has --help: its usage line, options, exit code 0, nothing run", () => {
    for (const c of COMMANDS) {
      for (const flag of ["--help", "-h"]) {
        const r = cli(c.name, flag);
        expect(r.code, c.name).toBe(0);
        expect(r.out[0], c.name).toMatch(new RegExp(`^Usage: vmheap ${c.name}\\b`));
        expect(r.out.join("\n"), c.name).toContain("--json");
        expect(r.out.join("\n"), c.name).toBe(c.help);
      }
      expect(cli("help", c.name).out.join("\n")).toBe(c.help);
    }
  });

  it("no command: the help on stderr and exit code 2; an unknown one: exit code 2", () => {
    const none = cli();
    expect(none.code).toBe(2);
    expect(none.out).toEqual([]);
    expect(none.err[0]).toBe("Usage: vmheap COMMAND [options]");
    const bad = cli("frobnicate");
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual(["vmheap: unknown command 'frobnicate' (commands: demo, tour, replay, pagesim, walk; vmheap --help)"]);
  });

  it("demo prints the same text as npm run demo", () => {
    const lines: string[] = [];
    demoMain((l) => lines.push(l));
    const r = cli("demo");
    expect(r.code).toBe(0);
    expect(r.out).toEqual(lines);
  });

  it("demo --json: the same story, split into its sections: thirteen numbered, then lettered ones", () => {
    const j = cli("demo", "--json").json<{ intro: string[]; sections: { title: string; lines: string[] }[] }>();
    expect(j.intro[0]).toBe("vmheap demo: a glibc-style malloc over a linear memory");
    const marks = j.sections.map((s) => s.title.split(".")[0]);
    expect(marks.slice(0, 13)).toEqual(Array.from({ length: 13 }, (_, i) => String(i + 1)));
    expect(marks.slice(13)).toEqual(Array.from({ length: marks.length - 13 }, (_, i) => String.fromCharCode(65 + i)));
    const titled = (l: string): boolean => j.sections.some((s) => s.title === l);
    const lines: string[] = [];
    demoMain((l) => lines.push(l));
    expect(lines.filter((l, i) => lines[i + 1] === "-".repeat(l.length) && l !== "")).toEqual(j.sections.map((s) => s.title));
    expect(titled("1. malloc: blocks of different sizes")).toBe(true);
    expect(j.sections[0]!.title).toBe("1. malloc: blocks of different sizes");
    expect(j.sections[0]!.lines.some((l) => /a = malloc\(\s+24\)/.test(l))).toBe(true);
    for (const s of j.sections) expect(s.lines.at(-1)).not.toBe("");
  });

  it("tour: the process half alone, numbered from 1", () => {
    const r = cli("tour");
    expect(r.code).toBe(0);
    const titles = r.out.filter((l) => /^\d+\. /.test(l));
    expect(titles.map((t) => t.split(".")[0])).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(titles[0]).toBe("1. a process and its maps");
    const j = cli("tour", "--json").json<{ sections: { title: string }[] }>();
    expect(j.sections.map((s) => s.title)).toEqual(titles);
    expect(cli("tour", "--frobnicate").code).toBe(2);
  });
});

describe("toStory", () => {
  it("splits at titles underlined by dashes of their length, dropping blank lines at the ends", () => {
    expect(toStory(["intro", "", "1. a", "----", "x", "-- not a rule", "", "2. b", "----", "y", ""])).toEqual({
      intro: ["intro"],
      sections: [
        { title: "1. a", lines: ["x", "-- not a rule"] },
        { title: "2. b", lines: ["y"] },
      ],
    });
  });
});
