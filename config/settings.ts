import { z } from "zod";
import { cron, dockerName, isValidTimeZone, port } from "./primitives";
import { ALWAYS, type At, validFields } from "./salvage";
import { repeats, topologyParts, topologySchema, type TopologyParts } from "./topology";

// Settings privateer has no place for: this project's own stack config, namespace `montagu-backup`.

const passwordGroup = z.string().regex(/^[a-zA-Z0-9_-]+$/, { error: "must be a vault password group such as 'production' or 'fake'" });

const standInPrimary = z.strictObject({
  container: dockerName.default("montagu-db"),
  volume: dockerName.default("montagu_primary_data"),
  port: port.default(5432),
  database: z.string().regex(/^[a-z_][a-z0-9_]*$/).default("montagu"),
  passwordGroup: passwordGroup.default("fake"),
});

const barman = z.strictObject({
  // No default on purpose: two barman instances on one slot silently lose WAL.
  slot: z
    .string({ error: "the replication slot must be given (two barman instances on one slot lose data)" })
    .regex(/^[a-z0-9_]{1,63}$/, { error: "must be a PostgreSQL replication slot name ([a-z0-9_], at most 63)" }),
  container: dockerName.default("barman-montagu"),
  database: z
    .strictObject({
      host: z.string().min(1),
      port: port.default(5432),
      name: z.string().min(1).default("montagu"),
    }),
  passwordGroup: passwordGroup.default("production"),
  retentionPolicy: z.string().min(1).default("RECOVERY WINDOW OF 3 MONTHS"),
  metricsPort: port.default(5000),
  schedule: z
    .strictObject({
      cron: cron.default("* * * * *"),
      metrics: cron.default("*/5 * * * *"),
      baseBackup: cron.default("0 0 1 * *"),
    })
    .prefault({}),
  volumes: z
    .strictObject({
      data: dockerName.default("barman_data"),
      logs: dockerName.default("barman_logs"),
      metrics: dockerName.default("barman_metrics"),
      recover: dockerName.default("barman_recover"),
      nightly: dockerName.default("montagu_db_volume"),
    })
    .prefault({}),
});

export const stackConfigSchema = z.strictObject({
  machines: z.array(z.string()).min(1, { error: "name at least one machine of the topology" }),
  topology: z.string().min(1).default("privateer.json"),
  timezone: z
    .string()
    .refine(isValidTimeZone, { error: (issue) => `unknown time zone '${String(issue.input)}'` })
    .default("Europe/London"),
  standInPrimary: standInPrimary.optional(),
  barman: barman.optional(),
});

export type StackConfig = z.output<typeof stackConfigSchema>;
export type StandInPrimaryConfig = NonNullable<StackConfig["standInPrimary"]>;
export type BarmanConfig = NonNullable<StackConfig["barman"]>;

type Path = (string | number)[];
interface Claim {
  value: string | number;
  path: Path;
}

/**
 * Everything a stack puts on its one Docker engine: published ports, container names and
 * the volumes that hold keys or data. Two claims of the same thing on one engine collide.
 */
function engineClaims(topology: TopologyParts, machines: string[], rawConfig: unknown) {
  const ports: Claim[] = [];
  const containers: Claim[] = [];
  const volumes: Claim[] = [];
  const top = (...path: Path): Path => ["topology", ...path];
  const cfg = (...path: Path): Path => ["config", ...path];

  const claim = (claims: Claim[], value: string | number | undefined, path: Path) => {
    if (value !== undefined) claims.push({ value, path });
  };
  // A repeated machine name is reported by the topology rules; its repeats claim nothing.
  const onThisEngine = <T extends { name?: string }>(items: At<T>[]) => {
    const repeated = new Set(repeats(items, (item) => item.name));
    return items.filter((item) => !repeated.has(item) && item.value.name !== undefined && machines.includes(item.value.name));
  };
  for (const { at: i, value: s } of onThisEngine(topology.servers)) {
    claim(ports, s.port, top("servers", i, "port"));
    claim(containers, s.container, top("servers", i, "container"));
    claim(volumes, s.key_volume, top("servers", i, "key_volume"));
    claim(volumes, s.data_volume, top("servers", i, "data_volume"));
  }
  for (const { at: i, value: c } of onThisEngine(topology.clients)) {
    claim(volumes, c.key_volume, top("clients", i, "key_volume"));
    if (c.schedule === undefined) continue;
    containers.push({ value: c.schedule.container, path: top("clients", i, "schedule", "container") });
    if (c.schedule.port !== undefined) ports.push({ value: c.schedule.port, path: top("clients", i, "schedule", "port") });
  }
  const config = validFields(stackConfigSchema, rawConfig);
  const primary = validFields(standInPrimary, (rawConfig as { standInPrimary?: unknown } | undefined)?.standInPrimary);
  if (config.standInPrimary !== undefined || Object.keys(primary).length > 0) {
    if (primary.port !== undefined) ports.push({ value: primary.port, path: cfg("standInPrimary", "port") });
    if (primary.container !== undefined) containers.push({ value: primary.container, path: cfg("standInPrimary", "container") });
    if (primary.volume !== undefined) volumes.push({ value: primary.volume, path: cfg("standInPrimary", "volume") });
  }
  const b = validFields(barman, (rawConfig as { barman?: unknown } | undefined)?.barman);
  if (b.metricsPort !== undefined) ports.push({ value: b.metricsPort, path: cfg("barman", "metricsPort") });
  if (b.container !== undefined) containers.push({ value: b.container, path: cfg("barman", "container") });
  for (const [key, name] of Object.entries(b.volumes ?? {})) volumes.push({ value: name, path: cfg("barman", "volumes", key) });
  return { ports, containers, volumes };
}

function collisions(claims: Claim[], what: (value: string | number) => string) {
  const first = new Map<string | number, Claim>();
  const problems: { path: Path; message: string }[] = [];
  for (const claim of claims) {
    const earlier = first.get(claim.value);
    if (earlier === undefined) {
      first.set(claim.value, claim);
    } else {
      problems.push({
        path: claim.path,
        message: `${what(claim.value)} is already used on this stack's Docker engine by ${formatPath(earlier.path)}`,
      });
    }
  }
  return problems;
}

export const settingsSchema = z
  .strictObject({
    topology: topologySchema,
    config: stackConfigSchema,
  })
  .superRefine((settings, ctx) => {
    const raw = settings as { topology?: unknown; config?: unknown };
    const topology = topologyParts(raw.topology);
    const { machines = [], topology: file = "privateer.json" } = validFields(stackConfigSchema, raw.config);
    const known = new Set([...topology.servers, ...topology.clients].map(({ value }) => value.name));
    machines.forEach((machine, i) => {
      if (!known.has(machine)) {
        ctx.addIssue({ code: "custom", path: ["config", "machines", i], message: `machine '${machine}' is not a server or client in ${file}` });
      }
    });
    const claims = engineClaims(topology, machines, raw.config);
    const problems = [
      ...collisions(claims.ports, (p) => `port ${p}`),
      ...collisions(claims.containers, (c) => `container name '${c}'`),
      ...collisions(claims.volumes, (v) => `volume '${v}'`),
    ];
    for (const problem of problems) ctx.addIssue({ code: "custom", ...problem });
  }, ALWAYS);

export type Settings = z.output<typeof settingsSchema>;

/** `["topology","clients",1,"name"]` -> `clients[1].name`; config keys read as Pulumi config keys. */
export function formatPath(path: readonly PropertyKey[]): string {
  const [root, ...rest] = path;
  let text = "";
  for (const part of rest) {
    text += typeof part === "number" ? `[${part}]` : text === "" ? String(part) : `.${String(part)}`;
  }
  if (root === "config") return `montagu-backup:${text}`;
  return text === "" ? String(root ?? "") : text;
}
