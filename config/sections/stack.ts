import { z } from "zod";
import { isValidTimeZone, TIME_ZONES } from "../primitives";
import { barman, prepareRestore, standInPrimary } from "./database";
import { dumps } from "./dumps";
import { freshness } from "./freshness";
import { offsite } from "./offsite";
import { packitDump, privateer, restore } from "./transfers";

// The stack config as a whole (namespace `montagu-backup`): settings privateer has no place
// for, each section's own rules, and the defaults that depend on other sections.

/** A zone of that name in another case, which is what was probably meant. */
function timeZoneHint(zone: string): string {
  const meant = [...TIME_ZONES].find((known) => known.toLowerCase() === zone.toLowerCase());
  return meant === undefined ? "" : ` (names are case-sensitive: '${meant}')`;
}

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
  freshness: freshness.optional(),
  dumps: dumps.optional(),
  offsite: offsite.optional(),
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
export type OffsiteConfig = NonNullable<StackConfig["offsite"]>;
export type PackitRestoreConfig = NonNullable<RestoreConfig["packit"]>;
