import type { z } from "zod";
import { type At, validFields, validFieldsOfEach } from "./salvage";
import { barman, standInPrimary } from "./sections/database";
import { dumps } from "./sections/dumps";
import { freshness } from "./sections/freshness";
import { offsite } from "./sections/offsite";
import { prometheus } from "./sections/prometheus";
import { stackConfigSchema } from "./sections/stack";
import { archiveExport, archiveImport, packitRestore, privateer, restoreVolume } from "./sections/transfers";

// The cross-field rules run even when some field is malformed, over the parts of the stack
// config that are valid on their own. Each part is salvaged once, here, for every rule.

type Salvaged<Schema extends z.ZodObject> = Partial<z.output<Schema>>;

export interface SalvagedConfig {
  /** The sections valid as a whole (and `machines`, `topology`). */
  whole: Salvaged<typeof stackConfigSchema>;
  /** The sections as given, whatever they hold. */
  raw: { privateer?: unknown; barman?: unknown; restore?: unknown; prepareRestore?: unknown; standInPrimary?: unknown; freshness?: unknown; prometheus?: unknown; dumps?: unknown; offsite?: unknown };
  /** The valid fields of each section. */
  privateer: Salvaged<typeof privateer>;
  barman: Salvaged<typeof barman>;
  standInPrimary: Salvaged<typeof standInPrimary>;
  freshness: Salvaged<typeof freshness>;
  prometheus: Salvaged<typeof prometheus>;
  dumps: Salvaged<typeof dumps>;
  offsite: Salvaged<typeof offsite>;
  /** The valid fields of each `restore.volumes` entry, and the entries as given. */
  restoreEntries: At<Salvaged<typeof restoreVolume>>[];
  rawRestoreEntries: unknown;
  /** The valid fields of `restore.packit`, when `restore` is a section that has one. */
  packit?: Salvaged<typeof packitRestore>;
  /** The valid fields of `privateer.export` and `privateer.import`, and each as given, when given. */
  archiveExport?: { valid: Salvaged<typeof archiveExport>; raw: Record<string, unknown> };
  archiveImport?: { valid: Salvaged<typeof archiveImport>; raw: Record<string, unknown> };
}

const field = (record: unknown, key: string): unknown =>
  typeof record === "object" && record !== null ? (record as Record<string, unknown>)[key] : undefined;

/** The raw `restore.volumes` of the stack config, whatever it holds. */
function rawRestoreVolumes(rawConfig: unknown): unknown {
  const rawRestore = field(rawConfig, "restore");
  return typeof rawRestore === "object" && rawRestore !== null ? (rawRestore as { volumes?: unknown }).volumes : undefined;
}

/** The valid fields of a section given as an object, and the section as given; undefined when it is not given. */
function section<Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>, raw: unknown): { valid: Partial<z.output<z.ZodObject<Shape>>>; raw: Record<string, unknown> } | undefined {
  if (raw === undefined) return undefined;
  const record = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return { valid: validFields(schema, raw), raw: record };
}

export function salvage(rawConfig: unknown): SalvagedConfig {
  const raw = {
    privateer: field(rawConfig, "privateer"),
    barman: field(rawConfig, "barman"),
    restore: field(rawConfig, "restore"),
    prepareRestore: field(rawConfig, "prepareRestore"),
    standInPrimary: field(rawConfig, "standInPrimary"),
    freshness: field(rawConfig, "freshness"),
    prometheus: field(rawConfig, "prometheus"),
    dumps: field(rawConfig, "dumps"),
    offsite: field(rawConfig, "offsite"),
  };
  const rawPackit = typeof raw.restore === "object" && raw.restore !== null ? field(raw.restore, "packit") : undefined;
  return {
    whole: validFields(stackConfigSchema, rawConfig),
    raw,
    privateer: validFields(privateer, raw.privateer),
    barman: validFields(barman, raw.barman),
    standInPrimary: validFields(standInPrimary, raw.standInPrimary),
    freshness: validFields(freshness, raw.freshness),
    prometheus: validFields(prometheus, raw.prometheus),
    dumps: validFields(dumps, raw.dumps),
    offsite: validFields(offsite, raw.offsite),
    restoreEntries: validFieldsOfEach(restoreVolume, rawRestoreVolumes(rawConfig)),
    rawRestoreEntries: rawRestoreVolumes(rawConfig),
    packit: rawPackit === undefined ? undefined : validFields(packitRestore, rawPackit),
    archiveExport: section(archiveExport, field(raw.privateer, "export")),
    archiveImport: section(archiveImport, field(raw.privateer, "import")),
  };
}
