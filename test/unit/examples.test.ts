import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { InvalidSettingsError, projectConfig, validateSettings } from "../../config/load";
import { encodeConfig, PROJECT_DIR, readStackConfig } from "../../simulator/harness/stackConfig";

// Every example a user may copy, validated as the program validates a stack: the commented
// examples in the stack files, and the configuration snippets of the README and the docs,
// each added to the stack it is for. An example and the program can no longer disagree.

type Json = any;
const NAMESPACE = "montagu-backup:";

/** The problems of `stack`'s config with `change` made to it (keys without the namespace). */
function problemsWith(stack: string, change: (config: Record<string, Json>) => void): string[] {
  const config = projectConfig(encodeConfig(readStackConfig(stack)));
  change(config);
  try {
    validateSettings(stack, config, PROJECT_DIR);
    return [];
  } catch (error) {
    if (error instanceof InvalidSettingsError) return error.problems;
    throw error;
  }
}

/** Adds each `montagu-backup:` key of `snippet` to `config`, merging into a section the stack already has. */
function add(config: Record<string, Json>, snippet: Record<string, Json>) {
  for (const [key, value] of Object.entries(snippet)) {
    expect(key.startsWith(NAMESPACE), `${key} is a key of this project`).toBe(true);
    const name = key.slice(NAMESPACE.length);
    const before = config[name];
    config[name] = typeof before === "object" && before !== null && !Array.isArray(before) ? { ...before, ...value } : value;
  }
}

/** The commented examples of a stack file: runs of comment lines that hold indented YAML (`#   key: value`). */
function commentedExamples(stack: string): string[] {
  const lines = fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8").split("\n");
  const blocks: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const match = /^\s*#(\s{2,}\S.*)$/.exec(line);
    if (match === null) {
      current = undefined;
      continue;
    }
    if (current === undefined) blocks.push((current = []));
    current.push(match[1]);
  }
  // Each block without the indentation its comment gave it.
  return blocks.map((block) => {
    const indent = Math.min(...block.map((line) => /^\s*/.exec(line)![0].length));
    return block.map((line) => line.slice(indent)).join("\n");
  });
}

/**
 * Where each commented example goes, in the order the stack file has them, with what its
 * prose asks for beside it: switched on together, as the comments describe.
 */
const STACK_FILE_EXAMPLES: Record<string, { into?: string; also?: (config: Record<string, Json>) => void }[]> = {
  annex2: [
    { into: "freshness" },
    // "add `offsite: {}` to the barman section above"
    { also: (config) => (config.barman = { ...config.barman, offsite: {} }) },
    { into: "freshness" },
  ],
  production2: [{}],
};

describe("the stack files' commented examples", () => {
  const stacks = fs
    .readdirSync(PROJECT_DIR)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined);

  it("are each listed here, with where it goes", () => {
    const found = Object.fromEntries(stacks.map((stack) => [stack, commentedExamples(stack).length]).filter(([, n]) => n !== 0));
    expect(found).toEqual(Object.fromEntries(Object.entries(STACK_FILE_EXAMPLES).map(([stack, examples]) => [stack, examples.length])));
  });

  it.each(Object.keys(STACK_FILE_EXAMPLES))("%s validates with its examples switched on", (stack) => {
    const examples = commentedExamples(stack);
    expect(
      problemsWith(stack, (config) => {
        STACK_FILE_EXAMPLES[stack].forEach(({ into, also }, i) => {
          const snippet = parse(examples[i]) as Record<string, Json>;
          if (into === undefined) add(config, snippet);
          else config[into] = { ...config[into], ...snippet };
          also?.(config);
        });
      }),
    ).toEqual([]);
  });
});

/** The YAML snippets of a markdown file that set this project's keys, each with the text before it. */
function markdownSnippets(file: string): { yaml: string; before: string }[] {
  const text = fs.readFileSync(path.join(PROJECT_DIR, file), "utf8");
  const snippets: { yaml: string; before: string }[] = [];
  for (const match of text.matchAll(/^([ \t]*)```yaml\n([\s\S]*?)^[ \t]*```$/gm)) {
    const indent = match[1].length;
    const yaml = match[2]
      .split("\n")
      .map((line) => line.slice(Math.min(indent, /^\s*/.exec(line)![0].length)))
      .join("\n");
    if (yaml.includes(NAMESPACE)) snippets.push({ yaml, before: text.slice(0, match.index) });
  }
  return snippets;
}

const MARKDOWN = ["README.md", ...fs.readdirSync(path.join(PROJECT_DIR, "docs"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".md")).map((f) => path.join("docs", f))];

/**
 * The stack a snippet (one YAML document of it) is for: the stack file its first comment
 * names, else the last one its text names before it, else what this list says.
 */
const STACK_OF: Record<string, string> = {
  // "On annex2's stack, generate a new set".
  "docs/operations/keys.md#0": "annex2",
  // The local stack's own page.
  "docs/operations/local-stack.md#0": "local",
  // A prepare from the bucket on a new backup host: annex2's stack with the store added.
  "docs/operations/offsite.md#0": "annex2",
  // A client's off-site copies.
  "docs/operations/offsite.md#1": "production2",
};

/** What a snippet needs beside it on its stack, as its text says. */
const BESIDE: Record<string, (config: Record<string, Json>) => void> = {
  "docs/operations/offsite.md#0": (config) => {
    config.offsite = { store: { endpoint: "https://s3.eu-west-2.amazonaws.com", region: "eu-west-2", bucket: "montagu-offsite", credentialsVaultPath: "secret/vimc/backup/offsite" } };
    config.barman = { ...config.barman, offsite: {} };
  },
};

describe("the configuration snippets of the README and the docs", () => {
  const cases = MARKDOWN.flatMap((file) =>
    markdownSnippets(file).flatMap(({ yaml, before }, i) =>
      yaml.split(/^---\s*$/m).map((document, j) => {
        const id = `${file}#${i}${j === 0 ? "" : `.${j}`}`;
        const named = /^\s*#.*?Pulumi\.([a-z0-9]+)\.yaml/.exec(document)?.[1] ?? [...before.matchAll(/Pulumi\.([a-z0-9]+)\.yaml/g)].at(-1)?.[1];
        return { id, snippet: parse(document) as Record<string, Json>, stack: STACK_OF[id] ?? named };
      }),
    ),
  );

  it("are found, each with the stack it is for", () => {
    expect(cases.length).toBeGreaterThan(10);
    expect(cases.filter(({ stack }) => stack === undefined).map(({ id }) => id)).toEqual([]);
  });

  it.each(cases.map((c) => [c.id, c] as const))("%s validates on its stack", (_, { id, snippet, stack }) => {
    expect(
      problemsWith(stack!, (config) => {
        BESIDE[id]?.(config);
        add(config, snippet);
      }),
    ).toEqual([]);
  });
});
