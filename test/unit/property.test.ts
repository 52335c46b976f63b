import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { parse as parseShell } from "shell-quote";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidSettingsError, validateSettings } from "../../config/load";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { runStack } from "../../simulator/harness/run";
import { rsaPrivateKeyOutputs } from "../../simulator/harness/tlsKey";
import { validated } from "../fixtures/validate";

// For every topology and stack config, the program either declares resources or reports every
// problem with its path; never an unhandled exception, and never a value with a newline, a
// leading '-' or a shell metacharacter reaching a script, a generated file or a command line
// unquoted. Inputs are a few valid stacks with some fields replaced, by good values or by
// hostile ones; every hostile value carries the marker, so that it can be traced to where it lands.

type Json = any;
const MARK = "ZQX";
const HOSTILE = [
  `${MARK}\nProxyCommand touch /tmp/p`, `-${MARK}`, `--${MARK}=1`, `${MARK};touch /tmp/p`, `$(${MARK})`, `\`${MARK}\``,
  `${MARK} x`, `${MARK}'q`, `${MARK}"q`, `${MARK}|x`, `${MARK}&`, `${MARK}>f`, `${MARK}*`, `${MARK}\\`, ` ${MARK}`, `${MARK}\t`, `a=${MARK} host=x`,
];
const GOOD_NAMES = ["annex2", "production2", "uat", "orderly", "v", "barman_recover", "montagu_db_volume", "k", "x.y-z_1"];
const GOOD = [...GOOD_NAMES, "", " ", "localhost", "10.0.0.1", "@daily", "*/5 * * * *", "0 0 30 2 *", "0 0 L * *", "Europe/London", "europe/london", "UTC", "latest", "2024-02-29T12:00:00Z", "2026-02-30T12:00:00Z", "postgres:17", "local", "REDUNDANCY 2", "A=b", 0, 1, 64, 65, 10022, 70000, -1, true, false, null, [], {}];

function baseTopology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [
      { name: "production2", backup: ["orderly", "montagu_packit_db_backup"], schedule: { port: 8080, jobs: [{ server: "annex2", volume: "orderly", schedule: "@daily" }] } },
      { name: "uat", key_volume: "uat_keys" },
    ],
    volumes: [{ name: "orderly" }, { name: "montagu_packit_db_backup" }, { name: "barman_recover", local: true }],
  };
}

/** Three stacks between them using every setting; each a valid starting point. */
const BASES: Json[] = [
  {
    machines: ["annex2"],
    timezone: "Europe/London",
    barman: { slot: "barman", database: { host: "production2.example", name: "montagu" }, retentionPolicy: "REDUNDANCY 2", schedule: { nightly: "0 3 * * *" }, volumes: { nightly: "montagu_db_volume" } },
    prepareRestore: { id: "p1", targetTime: "2024-02-29T12:00:00Z", jobs: 4, database: { image: "postgres:17", args: ["-c", "max_connections=10"] } },
    privateer: {
      history: { schedule: "*/15 * * * *" },
      export: { id: "x1", volume: "orderly", to: "/var/backups/montagu", server: "annex2", source: "production2", snapshot: "latest" },
    },
  },
  {
    machines: ["production2"],
    privateer: {
      checkId: "c1",
      backup: { id: "b1", volumes: [{ volume: "orderly", server: "annex2" }, { volume: "montagu_packit_db_backup", server: "annex2" }] },
      export: { id: "x1", volume: "orderly", to: "/srv/archives/" },
    },
    packitDump: { container: "packit-db", user: "packituser", database: "packit", volume: "montagu_packit_db_backup" },
  },
  {
    machines: ["uat"],
    privateer: { import: { id: "i1", file: "/srv/archives/production2-orderly-20261126T131500Z.tar", volume: "orderly_2026" } },
    restore: {
      id: "r1",
      volumes: [
        { volume: "orderly", server: "annex2", to: "orderly" },
        { volume: "montagu_packit_db_backup", server: "annex2" },
        { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
      ],
      stop: ["montagu-api"],
      start: ["montagu-api"],
      verify: { container: "db", user: "vimc", database: "montagu", query: "select 1" },
      packit: { image: "ghcr.io/mrc-ide/packit-db:main", env: ["POSTGRES_DB=packit"], user: "packituser", database: "packit" },
    },
  },
];

/** Every path to a leaf (or a list) of `value`. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [...(prefix.length > 0 ? [prefix] : []), ...entries.flatMap(([key, child]) => paths(child, [...prefix, key]))];
}

function setAt(root: Json, at: (string | number)[], value: Json) {
  let node = root;
  for (const key of at.slice(0, -1)) node = node[key];
  node[at[at.length - 1]] = value;
}

const value = fc.oneof(fc.constantFrom(...HOSTILE), fc.constantFrom(...GOOD), fc.constantFrom(...HOSTILE).map((h) => [h]));
const input = fc
  .record({ base: fc.nat(BASES.length - 1), changes: fc.array(fc.tuple(fc.boolean(), fc.nat(), value), { maxLength: 3 }) })
  .map(({ base, changes }) => {
    const topology = baseTopology();
    const config = structuredClone(BASES[base]);
    for (const [inTopology, which, replacement] of changes) {
      const root = inTopology ? topology : config;
      const all = paths(root);
      setAt(root, all[which % all.length], structuredClone(replacement));
    }
    return { topology, config };
  });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "property-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;

// One key for every machine: generating RSA keys would be most of each run's time. Its base64
// may spell the marker by chance (1 key in a few hundred: CI met "uHZ0CZQXl56DF"), which would
// read as a hostile value reaching a file: such a key is made again.
let key = rsaPrivateKeyOutputs(1024);
while (Object.values(key).some((text) => text.includes(MARK))) key = rsaPrivateKeyOutputs(1024);
const base = dryProvider({
  "vault:generic/getSecret:getSecret": () => ({ data: { private: key.privateKeyPemPkcs8, public: key.publicKeyOpenssh.trim(), password: "p" } }),
});
const provider = { ...base, create: async (r: Json) => (r.type === "tls:index/privateKey:PrivateKey" ? key : base.create(r)) };

const INERT = /[A-Za-z0-9_.\/:=@%+,-]/;

/**
 * Where a hostile value lands in `script` so that bash would read one of its characters as
 * syntax: a marker in an unquoted word with an unescaped metacharacter, or in double quotes
 * that hold an unescaped `$` or backquote. Single quotes and backslash escapes are safe.
 */
function unquotedMarks(script: string): number[] {
  const found: number[] = [];
  let i = 0;
  while (i < script.length) {
    const c = script[i];
    if (c === "'") {
      i = script.indexOf("'", i + 1) + 1 || script.length;
    } else if (c === '"') {
      let j = i + 1;
      let expands = false;
      while (j < script.length && script[j] !== '"') {
        if (script[j] === "\\") j++;
        else if (script[j] === "$" || script[j] === "`") expands = true;
        j++;
      }
      const mark = script.indexOf(MARK, i);
      if (expands && mark !== -1 && mark < j) found.push(mark);
      i = j + 1;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      // An unquoted word, up to whitespace or a quote.
      let j = i;
      let syntax = false;
      while (j < script.length && !/[\s'"]/.test(script[j])) {
        if (script[j] === "\\") j++;
        else if (!INERT.test(script[j])) syntax = true;
        j++;
      }
      const mark = script.indexOf(MARK, i);
      if (syntax && mark !== -1 && mark < j) found.push(mark);
      i = j;
    }
  }
  return found;
}

/** Validates, then runs the program on what is valid; asserts the property either way. */
async function check(topology: Json, config: Json): Promise<"declared" | "refused"> {
  const file = path.join(dir, `privateer-${files++}.json`);
  fs.writeFileSync(file, JSON.stringify(topology));
  const stackConfig = { ...config, topology: file };
  try {
    validateSettings("property", stackConfig, dir);
  } catch (error) {
    if (!(error instanceof InvalidSettingsError)) throw error;
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) expect(problem).toMatch(/^(montagu-backup:)?[A-Za-z_][^\n\r]*?: [^\n\r]+$/);
    expect(error.message.split("\n")).toHaveLength(error.problems.length + 1);
    return "refused";
  }
  const run = await runStack("property", Object.fromEntries(Object.entries(stackConfig).map(([k, v]) => [`montagu-backup:${k}`, v])), provider);
  expect(run.resources.length).toBeGreaterThan(0);
  for (const resource of run.resources) {
    if (resource.type === "command:local:Command") {
      const script = String(resource.inputs.create);
      expect(unquotedMarks(script), `${resource.name}: ${script}`).toEqual([]);
      const words = parseShell(script).filter((w): w is string => typeof w === "string");
      // The replay database's own arguments come after its image, where docker passes them on
      // to it: `-c name=value` is what they are for.
      const databaseArgs: unknown[] = config.prepareRestore?.database?.args ?? [];
      expect(words.filter((w) => new RegExp(`^-+${MARK}`).test(w) && !databaseArgs.includes(w)), resource.name).toEqual([]);
    }
    if (resource.type === "docker:index/container:Container") {
      const { envs = [], uploads = [], command = [] } = resource.inputs as { envs?: string[]; uploads?: { content: string }[]; command?: string[] };
      const reached = [...envs, ...uploads.map((u) => String(u.content)), ...command].filter((text) => text.includes(MARK));
      expect(reached, resource.name).toEqual([]);
    }
  }
  return "declared";
}

describe("any topology and stack config", () => {
  it("is declared, or refused with every problem on its path, and no hostile value reaches a script, a file or a command line unquoted", async () => {
    let declared = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(input, async ({ topology, config }) => {
        const outcome = await check(topology, config);
        if (outcome === "declared") declared++;
        else refused++;
      }),
      { numRuns: 100, seed: Number(process.env.PROPERTY_SEED ?? 20261121) },
    );
    // Both halves of the property were tried.
    expect(declared).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
  });

  it("refuses, quotes or keeps out of every script and file each hostile value in each field of the three stacks", async () => {
    let declared = 0;
    for (const [b, stack] of BASES.entries()) {
      for (const inTopology of [true, false]) {
        const all = paths(inTopology ? baseTopology() : stack).filter((at) => at.length > 0);
        for (const at of all) {
          for (const hostile of HOSTILE.slice(0, 5)) {
            const topology = baseTopology();
            const config = structuredClone(BASES[b]);
            setAt(inTopology ? topology : config, at, hostile);
            if ((await check(topology, config)) === "declared") declared++;
          }
        }
      }
    }
    // Some fields take any text (a query, an id): those values reach scripts quoted, or not at all.
    expect(declared).toBeGreaterThan(0);
  });
});

describe("any volume setting given any volume of the registry of owners", () => {
  // Every role on one engine: annex2's server and barman beside production2's client, its
  // dumps, off-site copies and packit's dump. Each volume setting in turn is given the name of
  // a volume that another owner has: either the stack is refused, or every volume still has
  // owners that share it by design (a client pushes its service's data or its dumps; the
  // server serves barman's recover volume).
  const topology = (): Json => {
    const t = baseTopology();
    t.clients[0].backup.push("montagu_dumps");
    t.volumes.push({ name: "montagu_dumps" });
    return t;
  };
  const config: Json = {
    machines: ["annex2", "production2"],
    barman: { slot: "barman", database: { host: "localhost" }, volumes: { nightly: "nightly" } },
    freshness: {},
    dumps: { name: "production2", databases: [{ database: "montagu", host: "db", user: "vimc" }] },
    offsite: { store: { endpoint: "https://s3.example.org", bucket: "montagu-offsite", credentialsVaultPath: "secret/s3" } },
    packitDump: { volume: "montagu_packit_db_backup" },
  };
  const FIELDS: [boolean, (string | number)[]][] = [
    ...["data", "logs", "metrics", "recover", "nightly"].map((key): [boolean, (string | number)[]] => [false, ["barman", "volumes", key]]),
    [false, ["freshness", "volume"]],
    [false, ["dumps", "volume"]],
    [false, ["offsite", "stateVolume"]],
    [false, ["packitDump", "volume"]],
    [true, ["servers", 0, "key_volume"]],
    [true, ["servers", 0, "data_volume"]],
    [true, ["clients", 0, "key_volume"]],
  ];
  const ALLOWED = new Set(["pushed+database", "pushed+packitDatabase", "pushed+packitDump", "pushed+standIn", "pushed+application", "pushed+dumps", "served+barmanRecover"]);
  const allowed = (a: { kind: string; name: string }, b: { kind: string; name: string }) =>
    (a.name === b.name && a.kind === "service") || ALLOWED.has(`${a.name}+${b.name}`) || ALLOWED.has(`${b.name}+${a.name}`);
  const base = validated(topology(), config);
  if (base.settings === undefined) throw new Error(base.problems.join("\n"));
  const registry = base.settings.plan.volumeOwners;
  const names = [...new Set(registry.map(({ volume }) => volume))];

  it("is refused for a second owner, naming both, or declared with every volume owned once", () => {
    let collisions = 0;
    fc.assert(
      fc.property(fc.nat(FIELDS.length - 1), fc.constantFrom(...names), (field, name) => {
        const [inTopology, at] = FIELDS[field];
        const t = topology();
        const c = structuredClone(config);
        setAt(inTopology ? t : c, at, name);
        const { settings, problems } = validated(t, c);
        if (settings === undefined) {
          if (problems.some((p) => p.includes(`volume '${name}' would be`) && p.includes("but it is already"))) collisions++;
          return;
        }
        const byVolume = new Map<string, { kind: string; name: string }[]>();
        for (const { volume, role } of settings.plan.volumeOwners) byVolume.set(volume, [...(byVolume.get(volume) ?? []), role]);
        for (const [volume, roles] of byVolume) {
          for (const [i, a] of roles.entries()) {
            for (const b of roles.slice(i + 1)) expect(allowed(a, b), `${volume}: ${a.name} and ${b.name}`).toBe(true);
          }
        }
      }),
      { numRuns: 300, seed: Number(process.env.PROPERTY_SEED ?? 20261205) },
    );
    expect(names.length).toBeGreaterThan(12);
    expect(collisions).toBeGreaterThan(100);
  });
});
