import { z } from "zod";
import {
  cron,
  dockerName,
  environmentVariable,
  hostName,
  imageReference,
  imageTag,
  isValidTimeZone,
  oneLine,
  pgIdentifier,
  port,
  retentionPolicy,
  snapshot,
  stepId,
  TIME_ZONES,
} from "./primitives";
import { ALWAYS, type At, validFields, validFieldsOfEach } from "./salvage";
import { repeats, topologyParts, topologySchema, type TopologyParts } from "./topology";

// Settings privateer has no place for: this project's own stack config, namespace `montagu-backup`.

const passwordGroup = z.string().regex(/^[a-zA-Z0-9_-]+$/, { error: "must be a vault password group such as 'production' or 'fake'" });

/** A zone of that name in another case, which is what was probably meant. */
function timeZoneHint(zone: string): string {
  const meant = [...TIME_ZONES].find((known) => known.toLowerCase() === zone.toLowerCase());
  return meant === undefined ? "" : ` (names are case-sensitive: '${meant}')`;
}

const standInPrimary = z.strictObject({
  container: dockerName.default("montagu-db"),
  volume: dockerName.default("montagu_primary_data"),
  port: port.default(5432),
  database: z.string().regex(/^[a-z_][a-z0-9_]*$/).default("montagu"),
  passwordGroup: passwordGroup.default("fake"),
  /**
   * Zero data loss: barman's WAL receiver becomes the synchronous standby, so a commit is
   * acknowledged only once barman holds its WAL. Costs latency on every commit.
   */
  synchronousBarman: z.boolean().default(false),
});

const barman = z.strictObject({
  // No default on purpose: two barman instances on one slot silently lose WAL.
  slot: z
    .string({ error: "the replication slot must be given (two barman instances on one slot lose data)" })
    .regex(/^[a-z0-9_]{1,63}$/, { error: "must be a PostgreSQL replication slot name ([a-z0-9_], at most 63)" }),
  container: dockerName.default("barman-montagu"),
  database: z
    .strictObject({
      host: hostName,
      port: port.default(5432),
      name: pgIdentifier.default("montagu"),
    }),
  passwordGroup: passwordGroup.default("production"),
  /** `local` builds images/barman; `upstream` pulls vimc/montagu-barman:<imageTag>. */
  image: z.enum(["local", "upstream"]).default("local"),
  imageTag: imageTag.default("master"),
  retentionPolicy: retentionPolicy.default("RECOVERY WINDOW OF 3 MONTHS"),
  metricsPort: port.default(5000),
  schedule: z
    .strictObject({
      cron: cron.default("* * * * *"),
      metrics: cron.default("*/5 * * * *"),
      baseBackup: cron.default("0 0 1 * *"),
      /** The nightly copy into the nightly volume, its age in the metrics. */
      nightly: cron.default("0 3 * * *"),
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
  /**
   * What proves each nightly copy restorable: the copy is started, `query` runs on `database`
   * (its answer goes to the metrics), pg_amcheck checks `amcheckTables` of its tables, chosen
   * at random each night, with their indexes (0: none), and the copy is stopped cleanly again.
   */
  verify: z
    .strictObject({
      database: pgIdentifier.default("montagu"),
      query: oneLine.pipe(z.string().trim().min(1, { error: "must not be blank" })).default("SELECT count(*) FROM pg_catalog.pg_class"),
      amcheckTables: z.number().int().min(0).max(100_000).default(5),
    })
    .prefault({}),
});

const backupVolume = z.strictObject({
  volume: dockerName,
  server: dockerName,
  /** The client that pushes; may be left out when the stack provisions one client only. */
  client: dockerName.optional(),
  /** A push of an empty source volume is refused unless set (an empty volume is more often a mistake than data). */
  allowEmpty: z.boolean().default(false),
});

const restoreVolume = z.strictObject({
  volume: dockerName,
  server: dockerName,
  /** The client whose copy is restored; not for `local` volumes; may be left out when one client backs the volume up. */
  source: dockerName.optional(),
  /** The volume restored into; defaults to `volume`. */
  to: dockerName.optional(),
  /** The client that restores; may be left out when the stack provisions one client only. */
  client: dockerName.optional(),
  /** Absent: the server's current copy `<client>/<volume>/`; `latest` or a name such as 20261126T131500Z: a history snapshot (not for `local` volumes). */
  snapshot: snapshot.optional(),
  /** A restore from an empty source is refused unless set. */
  allowEmpty: z.boolean().default(false),
  /** Restoring into a volume that anything on this stack's engine uses (a backed-up volume, barman's, privateer's) is refused unless set. */
  allowOverwriteSource: z.boolean().default(false),
});

const snapshotsKept = z.number().int({ error: "must be a whole number of snapshots" }).min(0, { error: "must be 0 or more snapshots" });

/** The history a privateer server keeps of every client's copy. */
const history = z.strictObject({
  /** When the server snapshots each client's copy. */
  schedule: cron.default("*/15 * * * *"),
  /** How many daily snapshots are kept. */
  daily: snapshotsKept.default(7),
  /** How many weekly snapshots are kept. */
  weekly: snapshotsKept.default(4),
});

const privateer = z.strictObject({
  /** `local` builds images/privateer/*; `upstream` pulls mrcide/privateer-*:<tag>. */
  images: z.enum(["local", "upstream"]).default("local"),
  keys: z
    .strictObject({
      /** Whether this stack generates every machine's keypair (and writes them to vault when the topology has one). */
      generate: z.boolean().optional(),
      /** Raise to replace every key. */
      generation: z.number().int().min(1).default(1),
    })
    .prefault({}),
  /** Changing it runs every connection check again (they also run whenever keys or servers change). */
  checkId: stepId.optional(),
  /** An on-demand push: runs when `id` changes. */
  backup: z.strictObject({ id: stepId, volumes: z.array(backupVolume).min(1) }).optional(),
  /** The server's hard-link snapshots of each client's copy: taken on `schedule`, keeping `daily` daily and `weekly` weekly ones. */
  history: history.prefault({}),
});

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;

/** Why `value` is not a moment a point-in-time recovery can reach, or undefined. */
function targetTimeProblem(value: string, now = Date.now()): string | undefined {
  const match = TIMESTAMP.exec(value);
  if (match === null) return `'${value}' is not a time with a zone, such as 2026-11-21T18:30:00Z`;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetHours > 14 || offsetMinutes > 59) {
    return `'${value}' is not a real date and time`;
  }
  if (Date.parse(value.replace(" ", "T")) > now) return `'${value}' is in the future: a point-in-time recovery replays WAL up to a moment that has passed`;
  return undefined;
}

const isoTimestamp = z.string().superRefine((value, ctx) => {
  const problem = targetTimeProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/** More parallel copy jobs than any machine has cores. */
const MAX_JOBS = 64;

/** A restorable copy of the database on the backup host, made when `id` changes. */
const prepareRestore = z.strictObject({
  id: stepId,
  backup: z.string().regex(/^(latest|oldest|\d{8}T\d{6})$/, { error: "must be latest, oldest or a backup id such as 20250601T010001" }).default("latest"),
  /** Point-in-time recovery: replay WAL up to this moment. */
  targetTime: isoTimestamp.optional(),
  /** Parallel copy jobs; the backup host's core count when left out. */
  jobs: z.number().int().min(1).max(MAX_JOBS, { error: `must be at most ${MAX_JOBS} (parallel copy jobs, one per core of the backup host)` }).optional(),
  /** How long replaying WAL may take, in seconds. */
  replayTimeout: z.number().int().min(1).default(3600),
  /** The database that replays WAL on the copy. */
  database: z
    .strictObject({
      /** Its image; `local` builds images/postgres. Left out: `local` on a stack with a standInPrimary (offline), else ghcr.io/vimc/montagu-db:main. */
      image: imageReference.optional(),
      args: z.array(oneLine).optional(),
    })
    .prefault({}),
});

const verify = z.strictObject({
  container: dockerName,
  user: pgIdentifier.default("vimc"),
  database: pgIdentifier.default("montagu"),
  query: z.string().min(1),
});

/** packit's database, dumped before its dump volume is pushed (`pg_dump -Fc`, inside its container). */
const packitDump = z.strictObject({
  container: dockerName.default("montagu-packit-db"),
  user: pgIdentifier.default("packituser"),
  database: pgIdentifier.default("packit"),
  /** Mounted at /pgbackup in the container; the dump is /pgbackup/packit. */
  volume: dockerName.default("montagu_packit_db_backup"),
});

/** packit's database rebuilt from the restored dump: an empty database, `pg_restore`, stopped again. */
const packitRestore = z.strictObject({
  dumpVolume: dockerName.default("montagu_packit_db_backup"),
  databaseVolume: dockerName.default("montagu_packit_db"),
  image: imageReference.default("ghcr.io/mrc-ide/packit-db:main"),
  /** Environment for the image, e.g. what makes it create the user and database. */
  env: z.array(environmentVariable).default([]),
  user: pgIdentifier.default("packituser"),
  database: pgIdentifier.default("packit"),
  waitSeconds: z.number().int().min(1).default(300),
});

/** A restore onto this machine, run when `id` changes: stop, copy each volume, start, verify. */
const restore = z.strictObject({
  id: stepId,
  volumes: z.array(restoreVolume).min(1),
  /** Containers stopped before anything is copied. */
  stop: z.array(dockerName).default([]),
  /** Containers started once everything is copied. */
  start: z.array(dockerName).default([]),
  /** A query run on the restored database; its result is a stack output. */
  verify: verify.optional(),
  /** Rebuild packit's database from its restored dump, after the copies and before the start. */
  packit: packitRestore.optional(),
});

export const stackConfigSchema = z.strictObject({
  machines: z.array(z.string()).min(1, { error: "name at least one machine of the topology" }),
  topology: z.string().min(1).default("privateer.json"),
  timezone: z
    .string()
    .refine(isValidTimeZone, { error: (issue) => `unknown time zone '${String(issue.input)}'${timeZoneHint(String(issue.input))}` })
    .default("Europe/London"),
  standInPrimary: standInPrimary.optional(),
  barman: barman.optional(),
  privateer: privateer.prefault({}),
  prepareRestore: prepareRestore.optional(),
  packitDump: packitDump.optional(),
  restore: restore.optional(),
});

/** The stack config as its schema parses it, before the defaults that depend on other settings. */
type ParsedStackConfig = z.output<typeof stackConfigSchema>;
type ParsedPrepareRestore = NonNullable<ParsedStackConfig["prepareRestore"]>;
/** `prepareRestore` with its database image resolved: always a string after parsing. */
export type PrepareRestoreConfig = Omit<ParsedPrepareRestore, "database"> & {
  database: Omit<ParsedPrepareRestore["database"], "image"> & { image: string };
};
/** The stack config as components receive it, every default resolved. */
export type StackConfig = Omit<ParsedStackConfig, "prepareRestore"> & { prepareRestore?: PrepareRestoreConfig };

/** The prepared copy's database image when none is given: built here offline (a stand-in primary's stack), else montagu's. */
const DEFAULT_PREPARE_IMAGE = { standIn: "local", otherwise: "ghcr.io/vimc/montagu-db:main" } as const;

/** The defaults that depend on other settings. */
function resolveDefaults(config: ParsedStackConfig): StackConfig {
  const { prepareRestore: prepare, ...rest } = config;
  if (prepare === undefined) return rest;
  const fallback = config.standInPrimary !== undefined ? DEFAULT_PREPARE_IMAGE.standIn : DEFAULT_PREPARE_IMAGE.otherwise;
  return { ...rest, prepareRestore: { ...prepare, database: { ...prepare.database, image: prepare.database.image ?? fallback } } };
}
export type StandInPrimaryConfig = NonNullable<StackConfig["standInPrimary"]>;
export type BarmanConfig = NonNullable<StackConfig["barman"]>;
export type PrivateerConfig = StackConfig["privateer"];
export type HistoryConfig = PrivateerConfig["history"];
export type RestoreConfig = NonNullable<StackConfig["restore"]>;
export type PackitDumpConfig = NonNullable<StackConfig["packitDump"]>;
export type PackitRestoreConfig = NonNullable<RestoreConfig["packit"]>;

type Path = (string | number)[];
interface Claim {
  value: string | number;
  path: Path;
  /** What holds a claimed volume, e.g. `barman's data volume`. */
  what?: string;
}

/** The machines of `items` this stack provisions; a repeated name is reported by the topology rules, and its repeats are left out. */
function onThisEngine<T extends { name?: string }>(items: At<T>[], machines: string[]): At<T>[] {
  const repeated = new Set(repeats(items, (item) => item.name));
  return items.filter((item) => !repeated.has(item) && item.value.name !== undefined && machines.includes(item.value.name));
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

  const claim = (claims: Claim[], value: string | number | undefined, path: Path, what?: string) => {
    if (value !== undefined) claims.push({ value, path, what });
  };
  for (const { at: i, value: s } of onThisEngine(topology.servers, machines)) {
    claim(ports, s.port, top("servers", i, "port"));
    claim(containers, s.container, top("servers", i, "container"));
    // The server's history runs beside it (components/privateer/history.ts).
    if (s.container !== undefined) claim(containers, `${s.container}_history`, top("servers", i, "container"));
    claim(volumes, s.key_volume, top("servers", i, "key_volume"), `the key volume of privateer server '${s.name}'`);
    claim(volumes, s.data_volume, top("servers", i, "data_volume"), `the data volume of privateer server '${s.name}'`);
  }
  for (const { at: i, value: c } of onThisEngine(topology.clients, machines)) {
    claim(volumes, c.key_volume, top("clients", i, "key_volume"), `the key volume of privateer client '${c.name}'`);
    if (c.schedule === undefined) continue;
    containers.push({ value: c.schedule.container, path: top("clients", i, "schedule", "container") });
    if (c.schedule.port !== undefined) ports.push({ value: c.schedule.port, path: top("clients", i, "schedule", "port") });
  }
  const config = validFields(stackConfigSchema, rawConfig);
  const primary = validFields(standInPrimary, (rawConfig as { standInPrimary?: unknown } | undefined)?.standInPrimary);
  if (config.standInPrimary !== undefined || Object.keys(primary).length > 0) {
    if (primary.port !== undefined) ports.push({ value: primary.port, path: cfg("standInPrimary", "port") });
    if (primary.container !== undefined) containers.push({ value: primary.container, path: cfg("standInPrimary", "container") });
    claim(volumes, primary.volume, cfg("standInPrimary", "volume"), "the stand-in primary's data volume");
  }
  const b = validFields(barman, (rawConfig as { barman?: unknown } | undefined)?.barman);
  if (b.metricsPort !== undefined) ports.push({ value: b.metricsPort, path: cfg("barman", "metricsPort") });
  if (b.container !== undefined) containers.push({ value: b.container, path: cfg("barman", "container") });
  for (const [key, name] of Object.entries(b.volumes ?? {})) claim(volumes, name, cfg("barman", "volumes", key), `barman's ${key} volume`);
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

/** The client of this stack that a transfer runs on: the one named, or the only one. */
function transferClient(topology: TopologyParts, machines: string[], named: string | undefined): string | { problem: string } {
  const clients = topology.clients.map(({ value }) => value.name).filter((n): n is string => n !== undefined && machines.includes(n));
  if (named !== undefined) {
    return clients.includes(named) ? named : { problem: `'${named}' is not a client this stack provisions (${clients.join(", ") || "none"})` };
  }
  if (clients.length === 1) return clients[0];
  return { problem: `name the client: this stack provisions ${clients.length === 0 ? "no client" : `several (${clients.join(", ")})`}` };
}

/** The raw `restore.volumes` of the stack config, whatever it holds. */
function rawRestoreVolumes(rawConfig: unknown): unknown {
  const rawRestore = (rawConfig as { restore?: unknown } | undefined)?.restore;
  return typeof rawRestore === "object" && rawRestore !== null ? (rawRestore as { volumes?: unknown }).volumes : undefined;
}

/** privateer's rules for `backup` and `restore`, on this stack's transfers. */
function transferProblems(topology: TopologyParts, machines: string[], rawConfig: unknown) {
  const problems: { path: Path; message: string }[] = [];
  const settings = validFields(privateer, (rawConfig as { privateer?: unknown } | undefined)?.privateer);
  // Entry by entry, so that one malformed entry does not hide the others' problems.
  const restoreEntries = validFieldsOfEach(restoreVolume, rawRestoreVolumes(rawConfig));
  const servers = new Set(topology.servers.map(({ value }) => value.name));
  const volumes = new Map(topology.volumes.map(({ value }) => [value.name, value]));
  const backersOf = (volume: string) =>
    topology.clients.filter(({ value }) => value.backup?.includes(volume)).map(({ value }) => value.name as string);
  const at = (...path: Path): Path => ["config", "privateer", ...path];
  const atRestore = (...path: Path): Path => ["config", ...path];
  const checkServer = (server: string, path: Path) => {
    if (!servers.has(server)) problems.push({ path, message: `unknown server '${server}'` });
  };

  const pushed = new Map<string, number>();
  settings.backup?.volumes.forEach((entry, i) => {
    checkServer(entry.server, at("backup", "volumes", i, "server"));
    const client = transferClient(topology, machines, entry.client);
    if (typeof client !== "string") {
      problems.push({ path: at("backup", "volumes", i, "client"), message: client.problem });
    } else if (!backersOf(entry.volume).includes(client)) {
      problems.push({ path: at("backup", "volumes", i, "volume"), message: `client '${client}' does not back up volume '${entry.volume}'` });
    } else {
      const key = JSON.stringify([client, entry.server, entry.volume]);
      const earlier = pushed.get(key);
      if (earlier !== undefined) {
        problems.push({
          path: at("backup", "volumes", i, "volume"),
          message: `volume '${entry.volume}' of '${client}' is already pushed to '${entry.server}' by montagu-backup:privateer.backup.volumes[${earlier}]`,
        });
      } else {
        pushed.set(key, i);
      }
    }
  });

  restoreEntries.forEach(({ at: i, value: entry }) => {
    if (entry.server !== undefined) checkServer(entry.server, atRestore("restore", "volumes", i, "server"));
    const client = transferClient(topology, machines, entry.client);
    if (typeof client !== "string") problems.push({ path: atRestore("restore", "volumes", i, "client"), message: client.problem });
    if (entry.volume === undefined) return;
    const volume = volumes.get(entry.volume);
    if (volume === undefined) {
      problems.push({ path: atRestore("restore", "volumes", i, "volume"), message: `unknown volume '${entry.volume}'` });
      return;
    }
    const backers = backersOf(entry.volume);
    if (volume.local === true) {
      if (entry.source !== undefined) {
        problems.push({ path: atRestore("restore", "volumes", i, "source"), message: `volume '${entry.volume}' is local to the server: it has no source` });
      }
      if (entry.snapshot !== undefined) {
        problems.push({
          path: atRestore("restore", "volumes", i, "snapshot"),
          message: `volume '${entry.volume}' is local to the server: it has no history to take a snapshot from`,
        });
      }
    } else if (entry.source === undefined) {
      if (backers.length !== 1) {
        problems.push({
          path: atRestore("restore", "volumes", i, "source"),
          message: `give the source: ${backers.length === 0 ? "no client backs up" : `${backers.join(", ")} back up`} volume '${entry.volume}'`,
        });
      }
    } else if (!backers.includes(entry.source)) {
      problems.push({ path: atRestore("restore", "volumes", i, "source"), message: `client '${entry.source}' does not back up volume '${entry.volume}'` });
    }
  });
  return problems;
}

/**
 * Every volume that something declared on this stack's Docker engine uses, with what uses it:
 * the volumes its clients back up (first), the privateer servers' and clients' key and data
 * volumes, the `local` volumes its servers serve, barman's volumes and the stand-in primary's.
 */
function volumesInUse(topology: TopologyParts, machines: string[], rawConfig: unknown): (Claim & { backedUpBy?: string })[] {
  const inUse: (Claim & { backedUpBy?: string })[] = [];
  for (const { at: i, value: c } of onThisEngine(topology.clients, machines)) {
    (c.backup ?? []).forEach((volume, j) => inUse.push({ value: volume, path: ["topology", "clients", i, "backup", j], backedUpBy: c.name }));
  }
  const claims = engineClaims(topology, machines, rawConfig).volumes;
  const serving = onThisEngine(topology.servers, machines).map(({ value }) => `'${value.name}'`);
  const local = serving.length === 0 ? [] : topology.volumes.filter(({ value }) => value.local === true && value.name !== undefined);
  const localClaims = local.map(({ at, value }) => ({
    value: value.name!,
    path: ["topology", "volumes", at, "name"],
    what: `a local volume that privateer server ${serving.join(", ")} serves`,
  }));
  // The servers' and clients' volumes first, then the local volumes, then the stack config's.
  const fromTopology = claims.filter((c) => c.path[0] === "topology");
  const fromConfig = claims.filter((c) => c.path[0] !== "topology");
  return [...inUse, ...fromTopology, ...localClaims, ...fromConfig];
}

/**
 * The guard on restores: a restore never writes over a volume that anything on this stack's
 * engine uses (unless its entry says so), two entries never write one volume, and packit's
 * database is never rebuilt over its own dump or over a volume in use.
 */
function restoreTargetProblems(topology: TopologyParts, machines: string[], rawConfig: unknown) {
  const problems: { path: Path; message: string }[] = [];
  const rawRestore = (rawConfig as { restore?: unknown } | undefined)?.restore;
  if (typeof rawRestore !== "object" || rawRestore === null) return problems;
  const inUse = volumesInUse(topology, machines, rawConfig);
  const useOf = (volume: string) => inUse.find((use) => use.value === volume);
  const entries = validFieldsOfEach(restoreVolume, rawRestoreVolumes(rawConfig));
  const rawEntries = rawRestoreVolumes(rawConfig) as Record<string, unknown>[];
  const firstTarget = new Map<string, number>();

  for (const { at: i, value: entry } of entries) {
    // A malformed `to` is reported on its own; the entry's target is then unknown.
    if (entry.to === undefined && (rawEntries[i] as { to?: unknown } | undefined)?.to !== undefined) continue;
    const target = entry.to ?? entry.volume;
    if (target === undefined) continue;
    const path: Path = ["config", "restore", "volumes", i, entry.to === undefined ? "volume" : "to"];
    const earlier = firstTarget.get(target);
    if (earlier !== undefined) {
      problems.push({ path, message: `volume '${target}' is already restored into by montagu-backup:restore.volumes[${earlier}]: one restore would overwrite the other` });
    } else {
      firstTarget.set(target, i);
    }
    const use = useOf(target);
    if (use === undefined || entry.allowOverwriteSource === true) continue;
    const override = `(set montagu-backup:restore.volumes[${i}].allowOverwriteSource to true if that is really meant)`;
    problems.push({
      path,
      message:
        use.backedUpBy !== undefined
          ? `refused: '${use.backedUpBy}' backs up volume '${target}', so restoring over it would overwrite the source of its backups ${override}`
          : `refused: volume '${target}' is ${use.what} on this stack's engine (${formatPath(use.path)}); restoring over it would destroy it ${override}`,
    });
  }

  const rawPackit = (rawRestore as { packit?: unknown }).packit;
  if (rawPackit === undefined) return problems;
  const packit = validFields(packitRestore, rawPackit);
  const databaseVolume = packit.databaseVolume;
  if (databaseVolume === undefined) return problems;
  const path: Path = ["config", "restore", "packit", "databaseVolume"];
  if (databaseVolume === packit.dumpVolume) {
    problems.push({ path, message: `must not be the dump volume '${databaseVolume}': rebuilding packit's database there would destroy the dump it is rebuilt from` });
  }
  const restoredBy = databaseVolume === packit.dumpVolume ? undefined : firstTarget.get(databaseVolume);
  if (restoredBy !== undefined) {
    problems.push({
      path,
      message: `must not be '${databaseVolume}', which montagu-backup:restore.volumes[${restoredBy}] restores into: rebuilding packit's database there would destroy that restore`,
    });
  }
  const use = useOf(databaseVolume);
  if (use !== undefined) {
    problems.push({
      path,
      message:
        use.backedUpBy !== undefined
          ? `refused: '${use.backedUpBy}' backs up volume '${databaseVolume}', so rebuilding packit's database in it would overwrite the source of its backups`
          : `refused: volume '${databaseVolume}' is ${use.what} on this stack's engine (${formatPath(use.path)}); rebuilding packit's database in it would destroy it`,
    });
  }
  return problems;
}

/**
 * barman's volumes among the other roles on the engine: none is a volume that a client there
 * backs up (the nightly copy would overwrite the source of its backups), and with a privateer
 * server there, the recover volume is one of the topology's `local` volumes, the one it serves.
 */
function barmanRoleProblems(topology: TopologyParts, machines: string[], rawConfig: unknown) {
  const problems: { path: Path; message: string }[] = [];
  const rawBarman = (rawConfig as { barman?: unknown } | undefined)?.barman;
  if (rawBarman === undefined) return problems;
  const volumes = validFields(barman, rawBarman).volumes;
  if (volumes === undefined) return problems;
  const clients = onThisEngine(topology.clients, machines);
  for (const [key, volume] of Object.entries(volumes)) {
    const backer = clients.find(({ value }) => value.backup?.includes(volume));
    if (backer !== undefined) {
      problems.push({
        path: ["config", "barman", "volumes", key],
        message: `volume '${volume}' is backed up by '${backer.value.name}' on this stack's engine (clients[${backer.at}].backup): barman's ${key} volume there would overwrite the source of its backups`,
      });
    }
  }
  if (onThisEngine(topology.servers, machines).length > 0) {
    const local = topology.volumes.filter(({ value }) => value.local === true && value.name !== undefined).map(({ value }) => value.name!);
    if (!local.includes(volumes.recover)) {
      problems.push({
        path: ["config", "barman", "volumes", "recover"],
        message: `volume '${volumes.recover}' is not a local volume of the topology (${local.map((v) => `'${v}'`).join(", ") || "none"}): the privateer server on this engine would serve restores an empty volume`,
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
    const rawPrivateer = (raw.config as { privateer?: unknown } | undefined)?.privateer;
    for (const problem of transferProblems(topology, machines, raw.config)) ctx.addIssue({ code: "custom", ...problem });
    for (const problem of restoreTargetProblems(topology, machines, raw.config)) ctx.addIssue({ code: "custom", ...problem });
    const configFields = validFields(stackConfigSchema, raw.config);
    const packit = configFields.restore?.packit;
    if (packit !== undefined && !configFields.restore!.volumes.some((v) => (v.to ?? v.volume) === packit.dumpVolume)) {
      ctx.addIssue({
        code: "custom",
        path: ["config", "restore", "packit", "dumpVolume"],
        message: `restore.volumes does not restore '${packit.dumpVolume}', so there would be no dump to restore from`,
      });
    }
    const rawConfig = (raw.config ?? {}) as { prepareRestore?: unknown; barman?: unknown };
    if (rawConfig.prepareRestore !== undefined && rawConfig.barman === undefined) {
      ctx.addIssue({ code: "custom", path: ["config", "prepareRestore"], message: "needs barman on this stack (montagu-backup:barman)" });
    }
    const keys = validFields(privateer, rawPrivateer).keys;
    const hasVault = typeof raw.topology === "object" && raw.topology !== null && "vault" in raw.topology;
    if (keys?.generate === false && !hasVault) {
      ctx.addIssue({
        code: "custom",
        path: ["config", "privateer", "keys", "generate"],
        message: `the topology has no vault to read keys from, so this stack must generate them`,
      });
    }
    for (const problem of barmanRoleProblems(topology, machines, raw.config)) ctx.addIssue({ code: "custom", ...problem });
    const claims = engineClaims(topology, machines, raw.config);
    const problems = [
      ...collisions(claims.ports, (p) => `port ${p}`),
      ...collisions(claims.containers, (c) => `container name '${c}'`),
      ...collisions(claims.volumes, (v) => `volume '${v}'`),
    ];
    for (const problem of problems) ctx.addIssue({ code: "custom", ...problem });
  }, ALWAYS)
  // Runs only on valid settings: components receive every default resolved.
  .transform(({ topology, config }) => ({ topology, config: resolveDefaults(config) }));

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
