import { CONFIG_NAMESPACE } from "../load";
import type { JsonSchema, Kind } from "./schema";

// docs/configuration.md: every setting of the stack config with its type, default, limits
// and description, as the JSON Schema of the settings has them.

/** The keywords this page shows; a schema with any other fails the generator rather than lose it. */
const SHOWN = new Set(["$schema", "type", "title", "description", "default", "properties", "required", "additionalProperties", "propertyNames", "items", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"]);

/** What zod writes for an integer with no bound of its own. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

interface Row {
  path: string;
  schema: JsonSchema;
  required: boolean;
}

/** GitHub's anchor for a heading. */
const anchor = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-");

/** A '|' ends a table's cell even within a code span, unless escaped; elsewhere the escape would show. */
const cellSafe = (text: string) => text.replace(/\|/g, "\\|");

const code = (text: string) => `\`${text}\``;

/** Text whose code spans are kept, and nothing outside them read as markup. */
function prose(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/[*<]/g, (c) => (c === "<" ? "&lt;" : `\\${c}`))))
    .join("");
}

const plural = (count: unknown, one: string, many: string) => `${String(count)} ${count === 1 ? one : many}`;

function checkKeywords(schema: JsonSchema, where: string): void {
  const unknown = Object.keys(schema).filter((key) => !SHOWN.has(key));
  if (unknown.length > 0) throw new Error(`${where}: the reference does not show ${unknown.join(", ")}`);
}

function typeOf(schema: JsonSchema): string {
  if (typeof schema.title === "string") return `[${schema.title}](#${anchor(schema.title)})`;
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => code(String(value))).join(" or ");
  if (schema.type === "array") return (schema.items as JsonSchema).type === "object" ? "list of objects" : `list of ${typeOf(schema.items as JsonSchema)}`;
  if (schema.type === "object" && schema.properties === undefined) return `map of ${typeOf(schema.additionalProperties as JsonSchema)}`;
  return String(schema.type);
}

function limitsOf(schema: JsonSchema): string[] {
  const limits: string[] = [];
  const { minimum, maximum } = schema as { minimum?: number; maximum?: number };
  const low = minimum === undefined || minimum <= -UNBOUNDED ? undefined : minimum;
  const high = maximum === undefined || maximum >= UNBOUNDED ? undefined : maximum;
  if (low !== undefined && high !== undefined) limits.push(`${low} to ${high}`);
  else if (low !== undefined) limits.push(`at least ${low}`);
  else if (high !== undefined) limits.push(`at most ${high}`);
  if (schema.minLength !== undefined) limits.push(`at least ${plural(schema.minLength, "character", "characters")}`);
  if (schema.maxLength !== undefined) limits.push(`at most ${plural(schema.maxLength, "character", "characters")}`);
  if (schema.minItems !== undefined) limits.push(`at least ${plural(schema.minItems, "entry", "entries")}`);
  if (schema.maxItems !== undefined) limits.push(`at most ${plural(schema.maxItems, "entry", "entries")}`);
  // A kind's pattern is under its heading; a field's own is here.
  if (typeof schema.pattern === "string" && schema.title === undefined) limits.push(`pattern ${code(schema.pattern)}`);
  if (schema.type === "array") limits.push(...limitsOf(schema.items as JsonSchema).map((limit) => `each ${limit}`));
  return limits;
}

/** The settings within `schema`, depth first: `a.b`, and `a[].b` within a list's entries. */
function rowsWithin(schema: JsonSchema, prefix: string, where: string): Row[] {
  checkKeywords(schema, where);
  const inner = schema.type === "array" ? (schema.items as JsonSchema) : schema;
  if (schema.type === "array") checkKeywords(inner, `${where}[]`);
  const properties = inner.properties as Record<string, JsonSchema> | undefined;
  if (properties === undefined) return [];
  const required = new Set((inner.required as string[] | undefined) ?? []);
  const base = schema.type === "array" ? `${prefix}[].` : prefix === "" ? "" : `${prefix}.`;
  return Object.entries(properties).flatMap(([key, value]) => {
    const path = `${base}${key}`;
    if (typeof value.description !== "string") throw new Error(`${where}.${key}: no description (give it one with .describe() in config/sections/)`);
    return [{ path, schema: value, required: required.has(key) }, ...rowsWithin(value, path, `${where}.${key}`)];
  });
}

const defaultOf = (row: Row) => (row.schema.default !== undefined ? code(JSON.stringify(row.schema.default)) : row.required ? "*required*" : "");

function tableRow(row: Row): string {
  const cells = [code(row.path), typeOf(row.schema), defaultOf(row), limitsOf(row.schema).join("; "), prose(String(row.schema.description))];
  return `| ${cells.map(cellSafe).join(" | ")} |`;
}

function settingSection(key: string, schema: JsonSchema, required: boolean): string[] {
  const name = `${CONFIG_NAMESPACE}:${key}`;
  const self: Row = { path: name, schema, required };
  const rows = rowsWithin(schema, "", name);
  const limits = limitsOf(schema);
  const facts = [`Type: ${typeOf(schema)}`, required ? "required" : schema.default !== undefined ? `default ${defaultOf(self)}` : "optional", ...(limits.length > 0 ? [`limits: ${limits.join("; ")}`] : [])];
  return [
    `### ${code(name)}`,
    "",
    prose(String(schema.description)),
    "",
    `${facts.join(" · ")}.`,
    ...(rows.length === 0 ? [] : ["", "| Setting | Type | Default | Limits | Description |", "| --- | --- | --- | --- | --- |", ...rows.map(tableRow)]),
    "",
  ];
}

function kindSection(kind: Kind): string[] {
  const pattern = kind.pattern === undefined ? [] : ["", `Pattern: ${code(kind.pattern)}${kind.caseInsensitive ? ", letters in either case" : ""}.`];
  return [`### ${kind.title}`, "", prose(kind.description), ...pattern, ""];
}

/** The page, from the settings' JSON Schema and the kinds of value it names. */
export function configurationPage(settings: JsonSchema, kinds: Map<string, Kind>): string {
  if (typeof settings.properties !== "object" || settings.properties === null) throw new Error("the settings' schema has no properties");
  const properties = settings.properties as Record<string, JsonSchema>;
  const required = new Set((settings.required as string[] | undefined) ?? []);
  const titled = [...kinds.values()].sort((a, b) => a.title.localeCompare(b.title, "en", { sensitivity: "base" }));
  return [
    "# Configuration reference",
    "",
    "<!-- Generated by `npm run docs:config` from the schemas in config/sections/: change a description there, not here. A unit test fails while the two differ. -->",
    "",
    `A stack's settings are the \`${CONFIG_NAMESPACE}:\` keys under \`config:\` in its \`Pulumi.<stack>.yaml\`. Each is listed here with its type, default, limits and what it does; a nested setting is named by its path within the key (\`database.host\` of \`${CONFIG_NAMESPACE}:barman\`, and \`volumes[].volume\` for a field of each entry of a list). *required* in a table means required whenever the section or entry it is in is given.`,
    "",
    "Beyond what this page lists, the program checks the settings against each other and against the topology file (a pushed volume is one its client backs up, barman has a slot of its own, ...): `pulumi preview` reports every problem at once, each with its setting's path, and declares nothing until there are none.",
    "",
    "## Checking a stack file as you type",
    "",
    `[schema/stack-config.json](../schema/stack-config.json) is this page as a JSON Schema (draft 7) of a whole stack file. Point the YAML language server (VS Code's YAML extension, or yaml-language-server in another editor) at it, for one stack file with a first line \`# yaml-language-server: $schema=./schema/stack-config.json\` (the path is from the stack file), or for every stack file in the editor's settings: \`"yaml.schemas": { "./schema/stack-config.json": "Pulumi.*.yaml" }\` (the path is from the workspace's root). The editor then marks an unknown \`${CONFIG_NAMESPACE}:\` setting, a value of the wrong type or out of its limits, and a required setting left out, completes names and defaults, and shows these descriptions on hover. Other namespaces, such as \`docker:host\`, are left to their providers.`,
    "",
    "## Settings",
    "",
    ...Object.entries(properties).flatMap(([key, schema]) => settingSection(key, schema, required.has(key))),
    "## Kinds of value",
    "",
    "What a setting of each kind takes, wherever it is.",
    "",
    ...titled.flatMap(kindSection),
  ].join("\n");
}
