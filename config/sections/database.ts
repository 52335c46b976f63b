import { z } from "zod";
import { atMost, cron, dockerName, hostName, imageReference, imageTag, oneLine, pgIdentifier, port, retentionPolicy, stepId } from "../primitives";

// The stack config's sections for the database: the stand-in primary, barman, and the
// prepared copy that restores read.

export const passwordGroup = z
  .string()
  .regex(/^[a-zA-Z0-9_-]+$/, { error: "must be a vault password group such as 'production' or 'fake'" })
  .meta({
    title: "password group",
    description: "Where database users' passwords are in vault: `secret/vimc/database/<group>/users/<user>`, field `password`; the group `fake` (for local testing) makes each password its user's name.",
  });

export const standInPrimary = z.strictObject({
  container: dockerName.default("montagu-db").describe("The primary's container."),
  volume: dockerName.default("montagu_primary_data").describe("Its data: kept when the stack is destroyed."),
  port: port.default(5432).describe("The host port it listens on."),
  database: z.string().regex(/^[a-z_][a-z0-9_]*$/).default("montagu").describe("The database it makes."),
  passwordGroup: passwordGroup.default("fake").describe("The passwords of barman's users (`barman`, `streaming_barman`), which it makes."),
  synchronousBarman: z.boolean().default(false).describe("Zero data loss: barman's WAL receiver becomes the synchronous standby, so a commit is acknowledged only once barman holds its WAL. Costs latency on every commit."),
  applicationVolumes: z.array(dockerName).default([]).describe("The volumes montagu's other services keep beside the database (orderly's, packit's), made here as their deployment would make them, and kept when the stack is destroyed: a stack with a stand-in has no such deployment, and privateer's scheduler pushes only volumes that exist."),
});

const barmanSchedule = z.strictObject({
  cron: cron.default("* * * * *").describe("`barman cron`: barman's own upkeep (WAL archiving, retention)."),
  metrics: cron.default("*/5 * * * *").describe("Collecting the metrics."),
  baseBackup: cron.default("0 0 1 * *").describe("A base backup."),
  nightly: cron.default("0 3 * * *").describe("The nightly copy into the nightly volume, its age in the metrics."),
});

const barmanVolumes = z.strictObject({
  data: dockerName.default("barman_data").describe("Base backups and WAL."),
  logs: dockerName.default("barman_logs").describe("barman's logs."),
  metrics: dockerName.default("barman_metrics").describe("The metrics and the status files the freshness monitor reads."),
  recover: dockerName.default("barman_recover").describe("Where `prepareRestore` makes its copy; with a privateer server on this stack, the topology's local volume that it serves."),
  nightly: dockerName.default("montagu_db_volume").describe("The nightly copy of the database."),
});

export const barman = z.strictObject({
  // No default on purpose: two barman instances on one slot silently lose WAL.
  slot: z
    .string({ error: "the replication slot must be given (two barman instances on one slot lose data)" })
    .regex(/^[a-z0-9_]{1,63}$/, { error: "must be a PostgreSQL replication slot name ([a-z0-9_], at most 63)" })
    .describe("The primary's replication slot that barman streams WAL through: one per barman instance (two on one slot lose WAL)."),
  container: dockerName.default("barman-montagu").describe("barman's container."),
  database: z
    .strictObject({
      host: hostName.describe("The primary's host; on a loopback address (localhost, 127.x, ::1) barman uses the host's network."),
      port: port.default(5432).describe("The primary's port."),
      name: pgIdentifier.default("montagu").describe("The database barman connects to."),
    })
    .describe("The primary that barman backs up."),
  passwordGroup: passwordGroup.default("production").describe("The passwords of barman's users on the primary (`barman`, `streaming_barman`)."),
  image: z.enum(["local", "upstream"]).default("local").describe("`local` builds images/barman; `upstream` pulls vimc/montagu-barman:<imageTag>."),
  imageTag: imageTag.default("master").describe("The tag pulled with `image: upstream`."),
  retentionPolicy: retentionPolicy.default("RECOVERY WINDOW OF 3 MONTHS").describe("What barman keeps of its backups and WAL, and of their off-site copies with `offsite`."),
  metricsPort: port.default(5000).describe("The host port of barman's Prometheus metrics."),
  schedule: barmanSchedule.prefault({}).describe("When barman's jobs run, in the stack's `timezone`."),
  volumes: barmanVolumes.prefault({}).describe("barman's volumes, kept when the stack is destroyed; none may be a volume that a client on this engine backs up."),
  offsite: z
    .strictObject({
      upload: cron.default("* * * * *").describe("Sending what barman has not sent yet (every 10 s within the minute it runs)."),
      retention: cron.default("30 5 * * *").describe("Thinning the bucket to `retentionPolicy`."),
    })
    .optional()
    .describe("barman's WAL and base backups copied to the stack's off-site store (montagu-backup:offsite) with barman's cloud tools: what barman has not sent yet goes on `upload`, and the bucket is thinned to barman's own retention policy on `retention`."),
  verify: z
    .strictObject({
      database: pgIdentifier.default("montagu").describe("The database the query runs on and pg_amcheck checks."),
      query: oneLine
        .pipe(z.string().trim().min(1, { error: "must not be blank" }))
        .default("SELECT count(*) FROM pg_catalog.pg_class")
        .describe("Run on the started copy; its answer goes to the metrics."),
      amcheckTables: z.number().int().min(0).max(100_000, atMost(100_000, "more tables than montagu has")).default(5).describe("How many of its tables pg_amcheck checks each night, chosen at random, with their indexes (0: none)."),
    })
    .prefault({})
    .describe("What proves each nightly copy restorable: the copy is started, `query` runs on `database` (its answer goes to the metrics), pg_amcheck checks `amcheckTables` of its tables, chosen at random each night, with their indexes (0: none), and the copy is stopped cleanly again."),
});

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;

/**
 * Go's time.Time String() (`2006-01-02 15:04:05.999999999 -0700 MST`): what Pulumi hands the
 * program for an unquoted time in a stack file, which its YAML reads as a timestamp. The zone
 * is a name (`UTC`) or, for an offset YAML gave without one, the offset again (`+0100`).
 */
const GO_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?) ([+-]\d{2})(\d{2}) (?:[A-Za-z]{1,6}|[+-]\d{2,4})$/;

/** `value` in ISO 8601 when it is Go's form of a time, else as it is: the checks and the plan see one form. */
export function fromGoTime(value: string): string {
  const match = GO_TIME.exec(value);
  if (match === null) return value;
  const [, date, time, hours, minutes] = match;
  return `${date}T${time}${hours === "+00" && minutes === "00" ? "Z" : `${hours}:${minutes}`}`;
}

/** Why `value` (`given` as the stack file had it) is not a moment a point-in-time recovery can reach, or undefined. */
function targetTimeProblem(value: string, given = value, now = Date.now()): string | undefined {
  const match = TIMESTAMP.exec(value);
  if (match === null) return `'${given}' is not a time with a zone, such as 2026-11-21T18:30:00Z`;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetHours > 14 || offsetMinutes > 59) {
    return `'${given}' is not a real date and time`;
  }
  if (Date.parse(value.replace(" ", "T")) > now) return `'${given}' is in the future: a point-in-time recovery replays WAL up to a moment that has passed`;
  return undefined;
}

const isoTimestamp = z
  .string()
  .transform((given, ctx) => {
    const value = fromGoTime(given);
    const problem = targetTimeProblem(value, given);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    return value;
  })
  .meta({ title: "time", description: "A real moment that has passed, with its zone, such as 2026-11-21T18:30:00Z; quoted or not." });

/** More parallel copy jobs than any machine has cores. */
const MAX_JOBS = 64;

export const prepareRestore = z.strictObject({
  id: stepId.describe("Changing it makes the copy again."),
  from: z.enum(["barman", "offsite"]).default("barman").describe("`barman`: barman's own backups and WAL here; `offsite`: the copies barman sent to the bucket (barman.offsite), as on a new backup host."),
  backup: z
    .string()
    .regex(/^(latest|oldest|\d{8}T\d{6})$/, { error: "must be latest, oldest or a backup id such as 20250601T010001" })
    .default("latest")
    .describe("The base backup recovered: `latest`, `oldest` or a backup's id such as 20250601T010001."),
  targetTime: isoTimestamp.optional().describe("Point-in-time recovery: replay WAL up to this moment."),
  jobs: z.number().int().min(1).max(MAX_JOBS, { error: `must be at most ${MAX_JOBS} (parallel copy jobs, one per core of the backup host)` }).optional().describe("Parallel copy jobs; the backup host's core count when left out."),
  replayTimeout: z.number().int().min(1).max(604_800, atMost(604_800, "a week")).default(3600).describe("How long replaying WAL may take, in seconds (at most a week, 604800)."),
  database: z
    .strictObject({
      image: imageReference.optional().describe("Its image; `local` builds images/postgres. Left out: `local` on a stack with a standInPrimary (offline), else ghcr.io/vimc/montagu-db:main."),
      args: z.array(oneLine).optional().describe("Its arguments; left out: none with `local`, else /etc/montagu/postgresql.production.conf."),
    })
    .prefault({})
    .describe("The database that replays WAL on the copy."),
});
