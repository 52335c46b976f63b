import type { RestoreConfig, StackConfig } from "../sections/stack";
import type { Topology } from "../topology";
import { transferClient } from "./privateer";

// A restore onto this stack: each volume's source (a privateer server's copy or an off-site
// repository), the client that copies it, and every volume the restore writes over.

/** One restore: what it reads on `server`, and the volume it writes here. */
export interface RestoreTransfer {
  server: string;
  volume: string;
  /** The client whose copy is read; absent for a volume local to the server. */
  source?: string;
  /** `latest` or a snapshot's name: a copy from the server's history. */
  snapshot?: string;
  allowEmpty: boolean;
  /** The volume restored into. */
  to: string;
}

/** One restore from an off-site repository: `source`'s copy of `volume`, into `to` here. */
export interface OffsiteRestoreTransfer {
  volume: string;
  source: string;
  /** `latest` or a snapshot's id. */
  snapshot: string;
  allowEmpty: boolean;
  to: string;
}

export interface RestorePlan extends Omit<RestoreConfig, "volumes"> {
  /** Each client's restores from privateer servers, in the order the config gives them. */
  byClient: { client: string; transfers: RestoreTransfer[] }[];
  /** The restores from off-site repositories, in the order the config gives them. */
  offsite: OffsiteRestoreTransfer[];
  /** Every volume the restore writes over (copies, and packit's rebuilt database): nothing it does not stop may use them. */
  targetVolumes: string[];
}

export function restorePlan(topology: Topology, config: StackConfig): RestorePlan | undefined {
  if (config.restore === undefined) return undefined;
  const { volumes, ...rest } = config.restore;
  const clients = topology.clients.filter((c) => config.machines.includes(c.name));
  const byClient = new Map<string, RestoreTransfer[]>();
  const offsite: OffsiteRestoreTransfer[] = [];
  /** The client whose copy of the entry's volume is read: the one named, or the one that backs it up (validation checked there is one). */
  const sourceOf = (entry: { volume: string; source?: string }) => {
    const source = entry.source ?? topology.clients.find((c) => c.backup.includes(entry.volume))?.name;
    if (source === undefined) throw new Error(`no client backs up volume '${entry.volume}'`);
    return source;
  };
  for (const entry of volumes) {
    if (entry.from === "offsite") {
      offsite.push({ volume: entry.volume, source: sourceOf(entry), snapshot: entry.snapshot ?? "latest", allowEmpty: entry.allowEmpty, to: entry.to ?? entry.volume });
      continue;
    }
    if (entry.server === undefined) throw new Error(`restore of '${entry.volume}': no server`);
    const server = entry.server;
    const client = transferClient(clients, entry.client);
    const local = topology.volumes.find((v) => v.name === entry.volume)?.local === true;
    const source = local ? undefined : sourceOf(entry);
    byClient.set(client, [
      ...(byClient.get(client) ?? []),
      { server, volume: entry.volume, source, snapshot: entry.snapshot, allowEmpty: entry.allowEmpty, to: entry.to ?? entry.volume },
    ]);
  }
  const targetVolumes = [...new Set([...volumes.map((v) => v.to ?? v.volume), ...(rest.packit !== undefined ? [rest.packit.databaseVolume] : [])])];
  return { ...rest, byClient: [...byClient].map(([client, transfers]) => ({ client, transfers })), offsite, targetVolumes };
}
