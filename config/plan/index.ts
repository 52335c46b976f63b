import { salvage } from "../salvaged";
import type { DumpsConfig, PackitDumpConfig, PrepareRestoreConfig, StackConfig } from "../sections/stack";
import { type Role, volumeOwners, volumesInUse } from "../rules/owners";
import { topologyParts, type Topology } from "../topology";
import { type FreshnessPlan, freshnessPlan } from "./freshness";
import { type OffsitePlan, offsitePlan } from "./offsite";
import { type PrivateerPlan, privateerPlan } from "./privateer";
import { type PrometheusPlan, prometheusPlan } from "./prometheus";
import { type RestorePlan, restorePlan } from "./restore";

// What a valid stack declares, every question the config leaves open answered once: which
// client runs each transfer, what a restore reads and where it writes, which keys the stack
// makes or reads. Components declare resources from this, and look nothing up again; each
// part is worked out in the file of its name.

export type { ExportPlan, ImportPlan } from "./archives";
export type { FreshnessPlan, LastSuccessReader, WatchedBackup } from "./freshness";
export type { OffsiteCopy, OffsitePlan, OffsiteStore } from "./offsite";
export type { KeysPlan, PrivateerPlan, Push, PushGroup, Vault } from "./privateer";
export type { PrometheusPlan } from "./prometheus";
export type { OffsiteRestoreTransfer, RestorePlan, RestoreTransfer } from "./restore";

/** Scheduled dumps, with the place their names carry resolved. */
export type DumpsPlan = Omit<DumpsConfig, "name"> & { name: string };

export interface Plan {
  /** Absent when this stack provisions no privateer server or client. */
  privateer?: PrivateerPlan;
  prepareRestore?: PrepareRestoreConfig;
  /** packit's dump, made before its volume is pushed, by the push's id; absent when the volume is not pushed. */
  packitDump?: { settings: PackitDumpConfig; id: string };
  restore?: RestorePlan;
  dumps?: DumpsPlan;
  /** The off-site store and the copies this stack makes; absent when the stack has no `offsite` section. */
  offsite?: OffsitePlan;
  /** The monitor of every backup kept here; absent when the stack has none. */
  freshness?: FreshnessPlan;
  /** The stack's own Prometheus, scraping the monitor and loading its rules; absent without `prometheus`. */
  prometheus?: PrometheusPlan;
  /** Every volume in use on this stack's engine, with what uses it: what the guard on restores protects. */
  volumesInUse: { volume: string; usedBy: string }[];
  /** Who writes where: every volume on this stack's engine with its one owner (several only where SHARED in config/rules/owners.ts allows). */
  volumeOwners: { volume: string; owner: string; role: Role }[];
}

/** The plan of a valid stack config (validation has answered every question this asks). */
export function resolvePlan(topology: Topology, config: StackConfig): Plan {
  const privateer = privateerPlan(topology, config);
  const { packitDump: dump, privateer: { backup } } = config;
  const packitDump = dump !== undefined && backup !== undefined && backup.volumes.some((v) => v.volume === dump.volume) ? { settings: dump, id: backup.id } : undefined;
  const parts = topologyParts(topology);
  const salvaged = salvage(config);
  const freshness = freshnessPlan(topology, config);
  const inUse = volumesInUse(parts, config.machines, salvaged);
  return {
    privateer,
    prepareRestore: config.prepareRestore,
    packitDump,
    restore: restorePlan(topology, config),
    freshness,
    prometheus: prometheusPlan(config, freshness),
    dumps: config.dumps === undefined ? undefined : { ...config.dumps, name: config.dumps.name ?? config.machines[0] },
    offsite: offsitePlan(topology, config),
    volumesInUse: inUse.map((use) => ({ volume: String(use.value), usedBy: use.backedUpBy !== undefined ? `backed up by '${use.backedUpBy}'` : use.what })),
    volumeOwners: volumeOwners(parts, config.machines, salvaged).map(({ volume, owner, role }) => ({ volume, owner, role })),
  };
}
