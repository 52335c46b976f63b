import { z } from "zod";
import { CONFIG_NAMESPACE } from "../load";
import { stackConfigSchema } from "../sections/stack";

// The stack config's JSON Schema, made from its zod schema, as a whole Pulumi.<stack>.yaml
// file: what an editor checks as a stack file is typed, and what the reference page lists.

/** A JSON Schema, as z.toJSONSchema writes one. */
export type JsonSchema = { [keyword: string]: unknown };

/** A kind of value that many settings share (a Docker name, a cron schedule): what it takes. */
export interface Kind {
  title: string;
  description: string;
  /** Its pattern as the schema has it; `caseInsensitive` when zod's regex has the `i` flag. */
  pattern?: string;
  caseInsensitive: boolean;
}

/**
 * `pattern` matching letters in either case. JSON Schema patterns have no flags, and zod drops
 * a regex's `i` on the way to JSON Schema, which would make the schema refuse what zod takes.
 */
export function caseFolded(pattern: string): string {
  let folded = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      folded += c + pattern[++i];
    } else if (inClass) {
      if (/[a-zA-Z]/.test(c)) throw new Error(`cannot fold the letters of a character class in /${pattern}/i`);
      if (c === "]") inClass = false;
      folded += c;
    } else if (c === "[") {
      inClass = true;
      folded += c;
    } else if (/[a-zA-Z]/.test(c) && !/\(\?$/.test(folded)) {
      folded += `[${c.toUpperCase()}${c.toLowerCase()}]`;
    } else {
      folded += c;
    }
  }
  return folded;
}

/** The regexes of a string schema's checks, flags and all (zod's JSON Schema has only their source). */
function regexesOf(schema: z.core.$ZodType): RegExp[] {
  const checks = (schema._zod.def as { checks?: z.core.$ZodCheck[] }).checks ?? [];
  return checks.flatMap((check) => {
    const def = check._zod.def as { format?: string; pattern?: RegExp };
    return def.format === "regex" && def.pattern !== undefined ? [def.pattern] : [];
  });
}

/** The `montagu-backup` settings' schema, keys without their namespace, and the kinds of value they use. */
export function settingsJsonSchema(): { schema: JsonSchema; kinds: Map<string, Kind> } {
  const kinds = new Map<string, Kind>();
  const schema = z.toJSONSchema(stackConfigSchema, {
    // A stack file holds what zod parses, not what it makes of it: `checkEvery: 90s`, not 90.
    io: "input",
    // What the YAML language server reads (it knows draft 7 and earlier).
    target: "draft-07",
    override: ({ zodSchema, jsonSchema }) => {
      const regexes = regexesOf(zodSchema);
      const folded = regexes.filter((regex) => regex.flags.includes("i"));
      if (folded.length > 1) throw new Error(`more than one case-insensitive pattern in one schema: ${folded.join(", ")}`);
      if (folded.length === 1) jsonSchema.pattern = caseFolded(folded[0].source);
      const meta = z.globalRegistry.get(zodSchema);
      if (typeof meta?.title === "string" && typeof meta.description === "string" && !kinds.has(meta.title)) {
        kinds.set(meta.title, { title: meta.title, description: meta.description, pattern: regexes[0]?.source, caseInsensitive: folded.length === 1 });
      }
    },
  }) as JsonSchema;
  return { schema, kinds };
}

/** Where a stack file's settings are: `config:`, each key in its namespace. */
export function stackFileJsonSchema(settings: JsonSchema): JsonSchema {
  const properties = settings.properties as Record<string, JsonSchema>;
  const required = (settings.required as string[] | undefined) ?? [];
  const namespaced = (key: string) => `${CONFIG_NAMESPACE}:${key}`;
  return {
    $schema: settings.$schema,
    title: `Pulumi.<stack>.yaml of ${CONFIG_NAMESPACE}`,
    description: `A stack file of ${CONFIG_NAMESPACE}: its settings under config:, each key as ${CONFIG_NAMESPACE}:<setting>. Generated from config/sections/ by npm run docs:config; docs/configuration.md describes every setting.`,
    type: "object",
    properties: {
      config: {
        type: "object",
        properties: Object.fromEntries(Object.entries(properties).map(([key, value]) => [namespaced(key), value])),
        required: required.map(namespaced),
        // Other namespaces (docker:host, vault:address) are their providers' to check; a key
        // with no namespace is not one Pulumi reads.
        patternProperties: { [`^(?!${CONFIG_NAMESPACE}:)[^:]+:.+$`]: {} },
        additionalProperties: false,
      },
      encryptionsalt: { type: "string" },
      secretsprovider: { type: "string" },
      encryptedkey: { type: "string" },
    },
    required: ["config"],
  };
}
