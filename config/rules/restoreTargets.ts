import type { SalvagedConfig } from "../salvaged";
import type { TopologyParts } from "../topology";
import { formatPath, type Path, type Problem } from "../problems";
import { onThisEngine } from "./engine";
import { volumeOwners, volumesInUse } from "./owners";

// The guard on what overwrites what on a stack's engine: restores, packit's rebuild, and
// barman's volumes among the other roles.

/**
 * The guard on restores: a restore never writes over a volume that anything on this stack's
 * engine uses (unless its entry says so), two entries never write one volume, and packit's
 * database is never rebuilt over its own dump or over a volume in use.
 */
export function restoreTargetProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  const problems: Problem[] = [];
  const rawRestore = salvaged.raw.restore;
  if (typeof rawRestore !== "object" || rawRestore === null) return problems;
  const inUse = volumesInUse(topology, machines, salvaged);
  const useOf = (volume: string) => inUse.find((use) => use.value === volume);
  const entries = salvaged.restoreEntries;
  const rawEntries = salvaged.rawRestoreEntries as Record<string, unknown>[];
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
    if (use?.backupSystem === true) {
      // allowOverwriteSource restores a machine's own volumes from its copy; the backup system's
      // volumes hold that copy, its keys or its state: a restore reading and writing one loses both.
      problems.push({
        path,
        message: `refused: volume '${target}' is ${use.what} on this stack's engine (${formatPath(use.path)}); restoring over it would destroy it, and allowOverwriteSource does not allow it: it is for montagu's own volumes`,
      });
      continue;
    }
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

  // A restore stops what uses the volumes it writes; never what keeps the backups: the copies
  // a restore reads would stop being served, and barman would stop receiving WAL.
  const backupServers = new Map<string, string>();
  for (const { at, value: server } of onThisEngine(topology.servers, machines)) {
    if (server.container === undefined) continue;
    backupServers.set(server.container, `privateer server '${server.name}' (servers[${at}].container)`);
    backupServers.set(`${server.container}_history`, `privateer server '${server.name}''s history (servers[${at}].container)`);
  }
  if (salvaged.raw.barman !== undefined && salvaged.barman.container !== undefined) backupServers.set(salvaged.barman.container, "barman (montagu-backup:barman.container)");
  const stop = (rawRestore as { stop?: unknown }).stop;
  if (Array.isArray(stop)) {
    stop.forEach((container, i) => {
      const server = typeof container === "string" ? backupServers.get(container) : undefined;
      if (server !== undefined) {
        problems.push({ path: ["config", "restore", "stop", i], message: `refused: '${container}' is ${server} on this stack's engine: a restore never stops a backup server's containers, whatever its entries allow` });
      }
    });
  }

  const packit = salvaged.packit;
  if (packit === undefined) return problems;
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
  // montagu's database by its name is no volume in use for a restore (restoring it is what a
  // restore is for), but packit's rebuild empties what it is given: never the database's.
  const database = volumeOwners(topology, machines, salvaged).find((owner) => owner.volume === databaseVolume && owner.role.name === "database");
  if (use === undefined && restoredBy === undefined && database !== undefined) {
    problems.push({ path, message: `refused: volume '${databaseVolume}' is ${database.owner} (${formatPath(database.path)}); rebuilding packit's database in it would destroy it` });
  }
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
 * With a privateer server on the engine, barman's recover volume is one of the topology's
 * `local` volumes, the one it serves (its other volumes' owners are checked in owners.ts).
 */
export function barmanRoleProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  const problems: Problem[] = [];
  if (salvaged.raw.barman === undefined) return problems;
  const volumes = salvaged.barman.volumes;
  if (volumes === undefined) return problems;
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
