import type { HistoryConfig, StackConfig } from "../sections/stack";
import type { Topology, TopologyClient, TopologyServer } from "../topology";
import { archivePlans, type ExportPlan, type ImportPlan } from "./archives";

// privateer on this stack: the servers and clients it provisions, whose keys it makes or reads,
// and the on-demand push grouped by client and server.

/** One push: a volume of `client`'s, to `server`. */
export interface Push {
  volume: string;
  allowEmpty: boolean;
}

/** The pushes of one client to one server, in the order the config gives them. */
export interface PushGroup {
  client: string;
  server: string;
  volumes: Push[];
}

export type Vault = NonNullable<Topology["vault"]>;

/** The keys a stack needs: made here (and written to vault when there is one), or read from vault. */
export type KeysPlan =
  | { generate: true; machines: string[]; generation: number; vault?: Vault }
  | { generate: false; machines: string[]; vault: Vault };

export interface PrivateerPlan {
  /** The servers and clients this stack provisions. */
  servers: TopologyServer[];
  clients: TopologyClient[];
  /** Every server and client of the topology: each machine knows every other's key. */
  topology: Topology;
  /** The topology's volumes local to its servers (prepared copies), served read-only. */
  localVolumes: string[];
  keys: KeysPlan;
  images: StackConfig["privateer"]["images"];
  checkId?: string;
  history: HistoryConfig;
  timezone: string;
  backup?: { id: string; groups: PushGroup[] };
  export?: ExportPlan;
  import?: ImportPlan;
}

/** The client a transfer runs on: the one named, or the stack's only one (validation checked which). */
export function transferClient(clients: TopologyClient[], named: string | undefined): string {
  const client = named ?? (clients.length === 1 ? clients[0].name : undefined);
  if (client === undefined || !clients.some((c) => c.name === client)) throw new Error(`no client of this stack runs the transfer (${named ?? "unnamed"})`);
  return client;
}

export function privateerPlan(topology: Topology, config: StackConfig): PrivateerPlan | undefined {
  const servers = topology.servers.filter((s) => config.machines.includes(s.name));
  const clients = topology.clients.filter((c) => config.machines.includes(c.name));
  if (servers.length === 0 && clients.length === 0) return undefined;
  const options = config.privateer;

  const all = [...topology.servers, ...topology.clients].map((m) => m.name);
  let keys: KeysPlan;
  if (options.keys.generate ?? topology.vault === undefined) {
    keys = { generate: true, machines: all, generation: options.keys.generation, vault: topology.vault };
  } else {
    if (topology.vault === undefined) throw new Error("keys are read from vault, and the topology has none");
    // Servers need every client's public key, clients every server's.
    const needed = new Set([
      ...config.machines,
      ...(servers.length > 0 ? topology.clients.map((c) => c.name) : []),
      ...(clients.length > 0 ? topology.servers.map((s) => s.name) : []),
    ]);
    keys = { generate: false, machines: [...needed], vault: topology.vault };
  }

  let backup: PrivateerPlan["backup"];
  if (options.backup !== undefined) {
    const groups = new Map<string, PushGroup>();
    for (const entry of options.backup.volumes) {
      const client = transferClient(clients, entry.client);
      const key = `${client}->${entry.server}`;
      const group = groups.get(key) ?? { client, server: entry.server, volumes: [] };
      group.volumes.push({ volume: entry.volume, allowEmpty: entry.allowEmpty });
      groups.set(key, group);
    }
    backup = { id: options.backup.id, groups: [...groups.values()] };
  }

  return {
    servers,
    clients,
    topology,
    ...archivePlans(topology, config, servers),
    localVolumes: topology.volumes.filter((v) => v.local).map((v) => v.name),
    keys,
    images: options.images,
    checkId: options.checkId,
    history: options.history,
    timezone: config.timezone,
    backup,
  };
}
