import type { SalvagedConfig } from "../salvaged";
import type { TopologyParts } from "../topology";
import { formatPath, type Path, type Problem } from "../problems";
import { onThisEngine } from "./engine";
import { volumesInUse } from "./owners";

// privateer's `export` and `import` on a stack: what an export reads (a volume on the stack's
// engine, or the copy a server of the stack holds), and that an import makes a volume of its
// own, never one that anything on the engine uses.

/** The volumes a restore on this stack writes: its entries' targets and packit's database. */
function restoreTargets(salvaged: SalvagedConfig): { volume: string; path: Path }[] {
  const targets: { volume: string; path: Path }[] = [];
  for (const { at: i, value: entry } of salvaged.restoreEntries) {
    const target = entry.to ?? entry.volume;
    if (target !== undefined) targets.push({ volume: target, path: ["config", "restore", "volumes", i, entry.to === undefined ? "volume" : "to"] });
  }
  const database = salvaged.packit?.databaseVolume;
  if (database !== undefined) targets.push({ volume: database, path: ["config", "restore", "packit", "databaseVolume"] });
  return targets;
}

export function archiveProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  const problems: Problem[] = [];
  const at = (...path: Path): Path => ["config", "privateer", ...path];
  // Every machine of a stack is a privateer server or client, so each stack has an image to run them in.
  const servers = onThisEngine(topology.servers, machines);

  const exported = salvaged.archiveExport;
  // The volume an export reads on this stack's engine, when it reads one there.
  let exportedHere: string | undefined;
  if (exported !== undefined) {
    const { valid: entry, raw } = exported;
    // A field given but malformed is reported on its own; the rules that need it are left out.
    const known = (key: string) => raw[key] === undefined || (entry as Record<string, unknown>)[key] !== undefined;
    if (raw.server !== undefined && entry.server !== undefined) {
      const server = entry.server;
      if (!topology.servers.some(({ value }) => value.name === server)) {
        problems.push({ path: at("export", "server"), message: `unknown server '${server}'` });
      } else if (!servers.some(({ value }) => value.name === server)) {
        problems.push({
          path: at("export", "server"),
          message: `server '${server}' is not provisioned by this stack (${machines.join(", ")}): export its copies on the stack of '${server}', which reads them from its data volume`,
        });
      }
      if (entry.volume !== undefined) {
        const volume = topology.volumes.find(({ value }) => value.name === entry.volume)?.value;
        const backers = topology.clients.filter(({ value }) => value.backup?.includes(entry.volume!)).map(({ value }) => value.name as string);
        if (volume === undefined) {
          problems.push({ path: at("export", "volume"), message: `unknown volume '${entry.volume}'` });
        } else if (volume.local === true) {
          problems.push({
            path: at("export", "volume"),
            message: `volume '${entry.volume}' is local to the server, not a client's copy: export it as a volume of this stack's engine (leave out server and snapshot)`,
          });
        } else if (entry.source === undefined && known("source")) {
          if (backers.length !== 1) {
            problems.push({
              path: at("export", "source"),
              message: `give the source: ${backers.length === 0 ? "no client backs up" : `${backers.join(", ")} back up`} volume '${entry.volume}'`,
            });
          }
        } else if (entry.source !== undefined && !backers.includes(entry.source)) {
          problems.push({ path: at("export", "source"), message: `client '${entry.source}' does not back up volume '${entry.volume}'` });
        }
      }
    } else if (raw.server === undefined) {
      exportedHere = entry.volume;
      if (entry.snapshot !== undefined) {
        problems.push({ path: at("export", "snapshot"), message: "a snapshot is of a server's copy: give server (and source) to export one" });
      }
      if (entry.source !== undefined && !machines.includes(entry.source)) {
        problems.push({
          path: at("export", "source"),
          message: `'${entry.source}' is not a machine of this stack (${machines.join(", ")}): without server, source names the machine whose volume is exported, in the archive's name`,
        });
      } else if (raw.source === undefined && machines.length > 1) {
        problems.push({
          path: at("export", "source"),
          message: `name the machine whose volume is exported, for the archive's name: this stack provisions several (${machines.join(", ")})`,
        });
      }
    }
  }

  const imported = salvaged.archiveImport;
  if (imported !== undefined) {
    const volume = imported.valid.volume;
    if (volume !== undefined) {
      const path = at("import", "volume");
      const use = volumesInUse(topology, machines, salvaged).find((candidate) => candidate.value === volume);
      const restored = restoreTargets(salvaged).find((target) => target.volume === volume);
      const refused = `refused: an import makes a new volume, and`;
      if (use !== undefined) {
        problems.push({
          path,
          message:
            use.backedUpBy !== undefined
              ? `${refused} '${use.backedUpBy}' backs up volume '${volume}' on this stack's engine`
              : `${refused} volume '${volume}' is ${use.what} on this stack's engine (${formatPath(use.path)})`,
        });
      } else if (restored !== undefined) {
        problems.push({ path, message: `${refused} volume '${volume}' is written by ${formatPath(restored.path)} on this stack` });
      } else if (exportedHere === volume) {
        problems.push({ path, message: `${refused} volume '${volume}' is the one montagu-backup:privateer.export reads: one of the two would fail` });
      }
    }
  }
  return problems;
}
