import { salvage } from "./salvaged";
import type { DumpsConfig, HistoryConfig, PackitDumpConfig, PrepareRestoreConfig, RestoreConfig, StackConfig } from "./sections/stack";
import { volumesInUse } from "./rules/engine";
import { type FreshnessPlan, freshnessPlan } from "./freshness";
import { type TopologyClient, type TopologyServer, type Topology, topologyParts } from "./topology";
import { volumeRepositoriesPrefix } from "./sections/offsite";

// What a valid stack declares, every question the config leaves open answered once: which
// client runs each transfer, what a restore reads and where it writes, which keys the stack
// makes or reads. Components declare resources from this, and look nothing up again.

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

/** The bucket every off-site repository is in, and how the stack reaches it. */
export interface OffsiteStore {
  /** restic's repository of `client`'s volume `volume`: s3:<endpoint>/<bucket>/<prefix>/volumes/<client>/<volume>. */
  repositoryBase: string;
  region: string;
  credentialsVaultPath: string;
  /** The volume repositories' password; validation made sure it is there where volumes are copied or restored. */
  passwordVaultPath?: string;
  /** barman's copies: s3://<bucket>/<prefix>/barman, and the endpoint barman-cloud reaches it at. */
  barmanUrl: string;
  endpoint: string;
}

/** One volume copied off-site, on its schedule. */
export interface OffsiteCopy {
  client: string;
  volume: string;
  schedule: string;
  allowEmpty: boolean;
}

/** Off-site copies made on this stack, and the store that restores from off-site read. */
export interface OffsitePlan {
  store: OffsiteStore;
  container: string;
  stateVolume: string;
  copies: OffsiteCopy[];
  /** restic forget's options. */
  keep: string[];
  check: { schedule: string; readDataSubset: string };
  backup?: { id: string };
}

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
  /** Every volume in use on this stack's engine, with what uses it: what the guard on restores protects. */
  volumesInUse: { volume: string; usedBy: string }[];
}

/** The client a transfer runs on: the one named, or the stack's only one (validation checked which). */
function transferClient(clients: TopologyClient[], named: string | undefined): string {
  const client = named ?? (clients.length === 1 ? clients[0].name : undefined);
  if (client === undefined || !clients.some((c) => c.name === client)) throw new Error(`no client of this stack runs the transfer (${named ?? "unnamed"})`);
  return client;
}

function privateerPlan(topology: Topology, config: StackConfig): PrivateerPlan | undefined {
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

function archivePlans(topology: Topology, config: StackConfig, servers: TopologyServer[]): Pick<PrivateerPlan, "export" | "import"> {
  const plans: Pick<PrivateerPlan, "export" | "import"> = {};
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

function restorePlan(topology: Topology, config: StackConfig): RestorePlan | undefined {
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

function offsitePlan(topology: Topology, config: StackConfig): OffsitePlan | undefined {
  const wanted = config.offsite;
  if (wanted === undefined) return undefined;
  const { store } = wanted;
  const clients = topology.clients.filter((c) => config.machines.includes(c.name));
  const copies = wanted.volumes.map((entry) => {
    const client = entry.client ?? clients.find((c) => c.backup.includes(entry.volume))?.name;
    if (client === undefined) throw new Error(`offsite: no client of this stack backs up '${entry.volume}'`);
    const pushed = topology.clients.find((c) => c.name === client)?.schedule?.jobs.find((job) => job.volume === entry.volume);
    const schedule = entry.schedule ?? pushed?.schedule;
    if (schedule === undefined) throw new Error(`offsite: no schedule for '${entry.volume}'`);
    return { client, volume: entry.volume, schedule, allowEmpty: entry.allowEmpty };
  });
  return {
    store: {
      repositoryBase: `s3:${store.endpoint}/${store.bucket}/${volumeRepositoriesPrefix(store)}`,
      region: store.region,
      credentialsVaultPath: store.credentialsVaultPath,
      passwordVaultPath: wanted.passwordVaultPath,
      barmanUrl: `s3://${store.bucket}/${store.prefix}/barman`,
      endpoint: store.endpoint,
    },
    container: wanted.container,
    stateVolume: wanted.stateVolume,
    copies,
    keep: ["--keep-daily", String(wanted.keep.daily), "--keep-weekly", String(wanted.keep.weekly), "--keep-monthly", String(wanted.keep.monthly)],
    check: wanted.check,
    backup: wanted.backup,
  };
}

/** The plan of a valid stack config (validation has answered every question this asks). */
export function resolvePlan(topology: Topology, config: StackConfig): Plan {
  const privateer = privateerPlan(topology, config);
  const { packitDump: dump, privateer: { backup } } = config;
  const packitDump = dump !== undefined && backup !== undefined && backup.volumes.some((v) => v.volume === dump.volume) ? { settings: dump, id: backup.id } : undefined;
  const inUse = volumesInUse(topologyParts(topology), config.machines, salvage(config));
  return {
    privateer,
    prepareRestore: config.prepareRestore,
    packitDump,
    restore: restorePlan(topology, config),
    freshness: freshnessPlan(topology, config),
    dumps: config.dumps === undefined ? undefined : { ...config.dumps, name: config.dumps.name ?? config.machines[0] },
    offsite: offsitePlan(topology, config),
    volumesInUse: inUse.map((use) => ({ volume: String(use.value), usedBy: use.backedUpBy !== undefined ? `backed up by '${use.backedUpBy}'` : (use.what ?? "") })),
  };
}
