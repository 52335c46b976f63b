import type { StackConfig } from "../sections/stack";
import type { Topology, TopologyServer } from "../topology";

// privateer's export and import: which copy an export reads, the name its archive takes, and
// the volume an import makes.

/** privateer's `export`: what it reads, and where its archive goes. */
export interface ExportPlan {
  id: string;
  volume: string;
  /** A directory on the machine running `pulumi up`, without a trailing `/`. */
  directory: string;
  /** The archive's name before its time: `<source or machine>-<volume>`. */
  name: string;
  from:
    | {
        kind: "volume";
        /** A prepared copy that a server of this stack serves: only a finished one is exported, without the prepare's own work. */
        prepared: boolean;
      }
    | {
        kind: "copy";
        server: string;
        /** The server's data volume, on this stack's engine. */
        dataVolume: string;
        /** The client whose copy is read. */
        client: string;
        /** `latest` or a snapshot's name: a copy from the server's history. */
        snapshot?: string;
      };
}

/** privateer's `import`: a tar file made by an export, into a volume that does not exist yet. */
export interface ImportPlan {
  id: string;
  file: string;
  volume: string;
}

export function archivePlans(topology: Topology, config: StackConfig, servers: TopologyServer[]): { export?: ExportPlan; import?: ImportPlan } {
  const plans: { export?: ExportPlan; import?: ImportPlan } = {};
  const wanted = config.privateer.export;
  if (wanted !== undefined) {
    const directory = wanted.to === "/" ? "/" : wanted.to.replace(/\/$/, "");
    const local = topology.volumes.find((v) => v.name === wanted.volume)?.local === true;
    if (wanted.server === undefined) {
      const machine = wanted.source ?? (config.machines.length === 1 ? config.machines[0] : undefined);
      if (machine === undefined) throw new Error("export: no machine names the archive");
      plans.export = { id: wanted.id, volume: wanted.volume, directory, name: `${machine}-${wanted.volume}`, from: { kind: "volume", prepared: local && servers.length > 0 } };
    } else {
      const server = servers.find((s) => s.name === wanted.server);
      if (server === undefined) throw new Error(`export: server '${wanted.server}' is not provisioned by this stack`);
      const backers = topology.clients.filter((c) => c.backup.includes(wanted.volume));
      const client = wanted.source ?? (backers.length === 1 ? backers[0].name : undefined);
      if (client === undefined) throw new Error(`export: no client backs up volume '${wanted.volume}'`);
      plans.export = {
        id: wanted.id,
        volume: wanted.volume,
        directory,
        name: `${client}-${wanted.volume}`,
        from: { kind: "copy", server: server.name, dataVolume: server.data_volume, client, snapshot: wanted.snapshot },
      };
    }
  }
  const archive = config.privateer.import;
  if (archive !== undefined) plans.import = { id: archive.id, file: archive.file, volume: archive.volume };
  return plans;
}
