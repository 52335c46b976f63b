import type { SalvagedConfig } from "../salvaged";
import type { TopologyParts } from "../topology";
import { formatPath, type Path, type Problem } from "../problems";
import { onThisEngine } from "./engine";

// Who writes where: every volume on a stack's one Docker engine, with the part of the system
// that owns it. A volume has one owner; the few pairs that share one by design are listed in
// SHARED. What a restore, packit's rebuild or an import then writes is checked against this
// registry (restoreTargets.ts, archives.ts), and at run time against the engine itself.

/**
 * What owns a volume. montagu's services (`service`) own the volumes their containers use on
 * a client machine, even though no stack declares those containers; the backup system
 * (`backup`) owns the volumes its own containers and steps keep.
 */
export type Role =
  | { kind: "service"; name: "pushed" | "database" | "packitDatabase" | "packitDump" | "standIn" | "application" }
  | { kind: "backup"; name: "serverKeys" | "serverData" | "clientKeys" | "served" | "barman" | "barmanRecover" | "freshness" | "prometheus" | "dumps" | "offsiteState" };

export interface Owner {
  volume: string;
  /** The owner, as a message names it: `barman's data volume`, `an application volume that 'production2' backs up`. */
  owner: string;
  /** The setting that makes it the owner. */
  path: Path;
  role: Role;
  /** For a volume a client backs up: the client. */
  backedUpBy?: string;
}

/**
 * montagu's own volumes on a machine that runs its services (a client of the topology), as
 * montagu's deployment names them: its database's and packit's database's. On a stack with
 * a stand-in primary, the stand-in is the database and these names are free.
 */
export const MONTAGU_SERVICE_VOLUMES: readonly { volume: string; owner: string; name: "database" | "packitDatabase" }[] = [
  { volume: "montagu_db_volume", owner: "montagu's database", name: "database" },
  { volume: "montagu_packit_db", owner: "packit's database", name: "packitDatabase" },
];

type RoleName = Role["name"];

/** The pairs of roles that share a volume by design: what a client pushes is made by its service or by a backup step meant to be pushed. */
const SHARED: [RoleName, RoleName][] = [
  // A volume a client backs up is the data of one of montagu's services there, or dumps made to be pushed.
  ["pushed", "database"],
  ["pushed", "packitDatabase"],
  ["pushed", "packitDump"],
  ["pushed", "standIn"],
  ["pushed", "application"],
  ["pushed", "dumps"],
  // The recover volume is the local volume the privateer server serves, by barmanRoleProblems' rule.
  ["served", "barmanRecover"],
];

/** Whether two owners of these roles may share one volume. */
export function mayShare(a: Role, b: Role): boolean {
  if (a.name === b.name) return a.kind === "service";
  return SHARED.some(([x, y]) => (x === a.name && y === b.name) || (x === b.name && y === a.name));
}

/** Every volume on this stack's engine and its owner, in the order: the topology's, then the stack config's. */
export function volumeOwners(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Owner[] {
  const owners: Owner[] = [];
  const own = (volume: string | undefined, path: Path, owner: string, role: Role, backedUpBy?: string) => {
    if (volume !== undefined) owners.push({ volume, path, owner, role, backedUpBy });
  };
  const top = (...path: Path): Path => ["topology", ...path];
  const cfg = (...path: Path): Path => ["config", ...path];
  const service = (name: Extract<Role, { kind: "service" }>["name"]): Role => ({ kind: "service", name });
  const backup = (name: Extract<Role, { kind: "backup" }>["name"]): Role => ({ kind: "backup", name });

  const servers = onThisEngine(topology.servers, machines);
  const clients = onThisEngine(topology.clients, machines);
  // montagu's services run on its clients; a machine that is also a server is refused by the topology's rules.
  const serviceMachines = clients.filter(({ value }) => !topology.servers.some((s) => s.value.name === value.name));
  for (const { at: i, value: c } of clients) {
    (c.backup ?? []).forEach((volume, j) => own(volume, top("clients", i, "backup", j), `an application volume that '${c.name}' backs up`, service("pushed"), c.name));
  }
  const { standInPrimary: primary, barman: b } = salvaged;
  const standIn = salvaged.whole.standInPrimary !== undefined || Object.keys(primary).length > 0;
  if (serviceMachines.length > 0 && !standIn) {
    const { at, value } = serviceMachines[0];
    for (const known of MONTAGU_SERVICE_VOLUMES) own(known.volume, top("clients", at, "name"), `${known.owner} on '${value.name}'`, service(known.name));
  }
  for (const { at: i, value: s } of servers) {
    own(s.key_volume, top("servers", i, "key_volume"), `the key volume of privateer server '${s.name}'`, backup("serverKeys"));
    own(s.data_volume, top("servers", i, "data_volume"), `the data volume of privateer server '${s.name}'`, backup("serverData"));
  }
  for (const { at: i, value: c } of clients) {
    own(c.key_volume, top("clients", i, "key_volume"), `the key volume of privateer client '${c.name}'`, backup("clientKeys"));
  }
  if (servers.length > 0) {
    const serving = servers.map(({ value }) => `'${value.name}'`).join(", ");
    for (const { at, value } of topology.volumes) {
      if (value.local === true) own(value.name, top("volumes", at, "name"), `a local volume that privateer server ${serving} serves`, backup("served"));
    }
  }

  if (standIn) {
    own(primary.volume, cfg("standInPrimary", "volume"), "the stand-in primary's data volume", service("standIn"));
    (primary.applicationVolumes ?? []).forEach((volume, i) =>
      own(volume, cfg("standInPrimary", "applicationVolumes", i), "an application volume the stand-in primary makes", service("application")),
    );
  }
  for (const [key, name] of Object.entries(b.volumes ?? {})) {
    own(name, cfg("barman", "volumes", key), `barman's ${key} volume`, backup(key === "recover" ? "barmanRecover" : "barman"));
  }
  if (salvaged.raw.freshness !== undefined) own(salvaged.freshness.volume, cfg("freshness", "volume"), "the freshness monitor's volume", backup("freshness"));
  if (salvaged.raw.prometheus !== undefined) own(salvaged.prometheus.volume, cfg("prometheus", "volume"), "Prometheus's volume", backup("prometheus"));
  if (salvaged.raw.dumps !== undefined) own(salvaged.dumps.volume, cfg("dumps", "volume"), "the dumps' volume", backup("dumps"));
  if (salvaged.raw.offsite !== undefined) own(salvaged.offsite.stateVolume, cfg("offsite", "stateVolume"), "the off-site copies' state volume", backup("offsiteState"));
  const packitDump = salvaged.whole.packitDump;
  if (packitDump !== undefined) own(packitDump.volume, cfg("packitDump", "volume"), "packit's dump volume, which its database container writes", service("packitDump"));
  return owners;
}

/** A second owner of a volume, on its own path, naming the first owner and its path. */
export function ownerProblems(owners: Owner[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, Owner[]>();
  for (const owner of owners) {
    const earlier = seen.get(owner.volume) ?? [];
    const clash = earlier.find((other) => !mayShare(other.role, owner.role));
    if (clash !== undefined) {
      problems.push({
        path: owner.path,
        message: `volume '${owner.volume}' would be ${owner.owner}, but it is already ${clash.owner} (${formatPath(clash.path)}): a volume has one owner on an engine; name another volume`,
      });
    }
    seen.set(owner.volume, [...earlier, owner]);
  }
  return problems;
}

/** A volume in use on the engine, by what: backed up by a client, or held by a role (`what`). */
export interface VolumeInUse {
  value: string;
  path: Path;
  what: string;
  backedUpBy?: string;
  /** Whether it is the backup system's own: no restore writes over it, whatever its entry says. */
  backupSystem: boolean;
}

/**
 * The volumes a restore, packit's rebuild or an import must not write over: every owner's but
 * montagu's database's and packit's by their names (writing those from a copy is what a restore
 * on a machine is for), the volumes its clients back up first.
 */
export function volumesInUse(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): VolumeInUse[] {
  return volumeOwners(topology, machines, salvaged)
    .filter(({ role }) => role.name !== "database" && role.name !== "packitDatabase")
    .map(({ volume, path, owner, role, backedUpBy }) => ({ value: volume, path, what: owner, backedUpBy, backupSystem: role.kind === "backup" }));
}
