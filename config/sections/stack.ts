import { z } from "zod";
import { isValidTimeZone, TIME_ZONES } from "../primitives";
import { barman, prepareRestore, standInPrimary } from "./database";
import { dumps } from "./dumps";
import { freshness } from "./freshness";
import { offsite } from "./offsite";
import { prometheus } from "./prometheus";
import { packitDump, privateer, restore } from "./transfers";

// The stack config as a whole (namespace `montagu-backup`): settings privateer has no place
// for, each section's own rules, and the defaults that depend on other sections.

/** A zone of that name in another case, which is what was probably meant. */
function timeZoneHint(zone: string): string {
  const meant = [...TIME_ZONES].find((known) => known.toLowerCase() === zone.toLowerCase());
  return meant === undefined ? "" : ` (names are case-sensitive: '${meant}')`;
}

export const stackConfigSchema = z.strictObject({
  machines: z
    .array(z.string())
    .min(1, { error: "name at least one machine of the topology" })
    .describe("The servers and clients of the topology that this stack provisions: their containers run on this stack's Docker engine (`docker:host`)."),
  topology: z.string().min(1).default("privateer.json").describe("The topology file (privateer 2.x's privateer.json): every server, client, volume and schedule, and the vault the keys are in; relative to the project's directory."),
  timezone: z
    .string()
    .refine(isValidTimeZone, { error: (issue) => `unknown time zone '${String(issue.input)}'${timeZoneHint(String(issue.input))}` })
    .meta({ title: "time zone", description: "A time zone by its exact name, such as Europe/London or UTC." })
    .default("Europe/London")
    .describe("The zone every schedule of this stack is read in."),
  standInPrimary: standInPrimary
    .optional()
    .describe(
      "A PostgreSQL primary for a stack that has no real montagu database (`local`, tests): WAL level replica, replication slots, and the users `barman` and `streaming_barman`.",
    ),
  barman: barman
    .optional()
    .describe("barman on the backup host: a container streaming WAL from the primary, taking base backups on its schedule, making and checking a nightly copy, and serving Prometheus metrics."),
  privateer: privateer.prefault({}).describe("privateer 2.x for the topology's servers and clients among `machines`: its images and keys, the servers' history, and the on-demand push, export and import."),
  prepareRestore: prepareRestore.optional().describe("A restorable copy of the database on the backup host (in barman's `recover` volume), made when `id` changes."),
  packitDump: packitDump.optional().describe("packit's database, dumped before its dump volume is pushed (`pg_dump -Fc`, inside its container), when `privateer.backup` pushes that volume."),
  restore: restore.optional().describe("A restore onto this machine, run when `id` changes: stop, copy each volume, start, verify."),
  freshness: freshness
    .optional()
    .describe("A monitor of how old every backup kept here is: Prometheus metrics, a status file per backup, and an email when one becomes late and when it recovers. It runs where the backups are: with a privateer server or barman on this stack."),
  prometheus: prometheus
    .optional()
    .describe(
      "A Prometheus on the backup host that scrapes the freshness monitor and barman and loads the alerting rules generated from the plan (the same as the output `freshness.alertRules`): for a stack whose team has no Prometheus of its own to load them into. Needs `freshness`.",
    ),
  dumps: dumps
    .optional()
    .describe("Scheduled logical dumps (`pg_dump -Fc`) of databases into a volume of their own, each read back whole before it counts, named with its database, place and time, and thinned to `keep`; the volume is pushed as any other."),
  offsite: offsite
    .optional()
    .describe(
      "Off-site copies of the volumes a client pushes: one encrypted, deduplicating restic repository per client and volume in an S3-compatible bucket, taken on a schedule and on demand, thinned by `keep`, checked weekly against a sample of its data; and the store that off-site restores and barman's copies use.",
    ),
});

/** The stack config as its schema parses it, before the defaults that depend on other settings. */
export type ParsedStackConfig = z.output<typeof stackConfigSchema>;
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
export function resolveDefaults(config: ParsedStackConfig): StackConfig {
  const { prepareRestore: prepare, ...rest } = config;
  if (prepare === undefined) return rest;
  const fallback = config.standInPrimary !== undefined ? DEFAULT_PREPARE_IMAGE.standIn : DEFAULT_PREPARE_IMAGE.otherwise;
  return { ...rest, prepareRestore: { ...prepare, database: { ...prepare.database, image: prepare.database.image ?? fallback } } };
}
export type StandInPrimaryConfig = NonNullable<StackConfig["standInPrimary"]>;
export type BarmanConfig = NonNullable<StackConfig["barman"]>;
export type PrivateerConfig = StackConfig["privateer"];
export type HistoryConfig = PrivateerConfig["history"];
export type ArchiveExportConfig = NonNullable<PrivateerConfig["export"]>;
export type ArchiveImportConfig = NonNullable<PrivateerConfig["import"]>;
export type RestoreConfig = NonNullable<StackConfig["restore"]>;
export type PackitDumpConfig = NonNullable<StackConfig["packitDump"]>;
export type DumpsConfig = NonNullable<StackConfig["dumps"]>;
export type FreshnessConfig = NonNullable<StackConfig["freshness"]>;
export type PrometheusConfig = NonNullable<StackConfig["prometheus"]>;
export type OffsiteConfig = NonNullable<StackConfig["offsite"]>;
export type PackitRestoreConfig = NonNullable<RestoreConfig["packit"]>;
