import * as fs from "node:fs";
import * as path from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR, referenceFiles } from "../../config/reference/generate";
import { caseFolded } from "../../config/reference/schema";
import { SCENARIOS, scenarioConfig } from "./snapshot/declared";

// The reference page and the JSON Schema are written from the zod schemas by `npm run
// docs:config`; the schema is a second description of a stack file beside zod's, so it is
// checked with a JSON Schema validator (as an editor checks a stack file), against the stack
// files and the configs that zod accepts, and against what zod refuses.

describe("npm run docs:config", () => {
  const files = referenceFiles();

  it.each(Object.keys(files))("wrote the committed %s", (file) => {
    const committed = fs.readFileSync(path.join(PROJECT_DIR, file), "utf8");
    expect(committed, `${file} differs from the schemas in config/sections/: run npm run docs:config`).toBe(files[file]);
  });
});

describe("schema/stack-config.json", () => {
  const schema = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "schema", "stack-config.json"), "utf8")) as object;
  // Strict: a keyword the validator does not know is an error in the schema, not ignored.
  const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
  const problems = (document: unknown) => (validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`));
  const stackFiles = fs.readdirSync(PROJECT_DIR).filter((file) => /^Pulumi\..+\.yaml$/.test(file));
  const machines = { "montagu-backup:machines": ["annex2"] };

  it("is checked against every stack file", () => {
    expect(stackFiles.length).toBeGreaterThanOrEqual(6);
  });

  it.each(stackFiles)("accepts %s", (file) => {
    expect(problems(parse(fs.readFileSync(path.join(PROJECT_DIR, file), "utf8")))).toEqual([]);
  });

  it.each(Object.keys(SCENARIOS))("accepts the snapshot scenario %s, which the program accepts", (name) => {
    expect(problems({ config: scenarioConfig(name).config })).toEqual([]);
  });

  it("leaves other namespaces to their providers", () => {
    expect(problems({ config: { ...machines, "docker:host": "ssh://vagrant@annex2", "vault:address": "https://vault:8200", "aws:region": "eu-west-2" } })).toEqual([]);
  });

  it("refuses an unknown setting, a key with no namespace, and a stack file without machines", () => {
    expect(problems({ config: { ...machines, "montagu-backup:machnes": ["annex2"] } })).toEqual(["/config must NOT have additional properties"]);
    expect(problems({ config: { ...machines, timezone: "UTC" } })).toEqual(["/config must NOT have additional properties"]);
    expect(problems({ config: { "docker:host": "ssh://annex2" } })).toEqual(["/config must have required property 'montagu-backup:machines'"]);
    expect(problems({ config: { ...machines, "montagu-backup:barman": { slot: "barman", database: { host: "db" }, imagetag: "x" } } })).toEqual([
      "/config/montagu-backup:barman must NOT have additional properties",
    ]);
  });

  it("checks values as a stack file gives them, before zod's transforms: a duration is text", () => {
    expect(problems({ config: { ...machines, "montagu-backup:freshness": { checkEvery: "90s", staleAfter: { "barman/wal": "2h" } } } })).toEqual([]);
    expect(problems({ config: { ...machines, "montagu-backup:freshness": { checkEvery: 90 } } })).toEqual(["/config/montagu-backup:freshness/checkEvery must be string"]);
    expect(problems({ config: { ...machines, "montagu-backup:barman": { slot: "barman", database: { host: "db", port: 70000 } } } })).toEqual([
      "/config/montagu-backup:barman/database/port must be <= 65535",
    ]);
    expect(problems({ config: { ...machines, "montagu-backup:barman": { database: { host: "db" } } } })).toEqual(["/config/montagu-backup:barman must have required property 'slot'"]);
  });

  it("takes a retention policy in any case, as zod does (a JSON Schema pattern has no flags)", () => {
    const barman = (retentionPolicy: string) => ({ config: { ...machines, "montagu-backup:barman": { slot: "barman", database: { host: "db" }, retentionPolicy } } });
    expect(problems(barman("recovery window of 3 months"))).toEqual([]);
    expect(problems(barman("REDUNDANCY 2"))).toEqual([]);
    expect(problems(barman("KEEP EVERYTHING"))).toHaveLength(1);
    expect(caseFolded("^(?:ab|c\\d)[0-9]$")).toBe("^(?:[Aa][Bb]|[Cc]\\d)[0-9]$");
  });
});
