import type { At } from "../salvage";
import type { SalvagedConfig } from "../salvaged";
import { repeats, type TopologyParts } from "../topology";
import { formatPath, type Path, type Problem } from "../problems";

// What a stack puts on its one Docker engine, role by role: two claims of one port, container
// name or volume collide, and a restore must not write over a volume in use.

/** A volume in use on the engine, by what: backed up by a client, or held by a role (`what`). */
export type VolumeInUse = Claim & { backedUpBy?: string };

export interface Claim {
  value: string | number;
  path: Path;
  /** What holds a claimed volume, e.g. `barman's data volume`. */
  what?: string;
}

/** The machines of `items` this stack provisions; a repeated name is reported by the topology rules, and its repeats are left out. */
export function onThisEngine<T extends { name?: string }>(items: At<T>[], machines: string[]): At<T>[] {
  const repeated = new Set(repeats(items, (item) => item.name));
  return items.filter((item) => !repeated.has(item) && item.value.name !== undefined && machines.includes(item.value.name));
}

/**
 * Everything a stack puts on its one Docker engine: published ports, container names and
 * the volumes that hold keys or data. Two claims of the same thing on one engine collide.
 */
export function engineClaims(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig) {
  const ports: Claim[] = [];
  const containers: Claim[] = [];
  const volumes: Claim[] = [];
  const top = (...path: Path): Path => ["topology", ...path];
  const cfg = (...path: Path): Path => ["config", ...path];

  const claim = (claims: Claim[], value: string | number | undefined, path: Path, what?: string) => {
    if (value !== undefined) claims.push({ value, path, what });
  };
  for (const { at: i, value: s } of onThisEngine(topology.servers, machines)) {
    claim(ports, s.port, top("servers", i, "port"));
    claim(containers, s.container, top("servers", i, "container"));
    // The server's history runs beside it (components/privateer/history.ts).
    if (s.container !== undefined) claim(containers, `${s.container}_history`, top("servers", i, "container"));
    claim(volumes, s.key_volume, top("servers", i, "key_volume"), `the key volume of privateer server '${s.name}'`);
    claim(volumes, s.data_volume, top("servers", i, "data_volume"), `the data volume of privateer server '${s.name}'`);
  }
  for (const { at: i, value: c } of onThisEngine(topology.clients, machines)) {
    claim(volumes, c.key_volume, top("clients", i, "key_volume"), `the key volume of privateer client '${c.name}'`);
    if (c.schedule === undefined) continue;
    containers.push({ value: c.schedule.container, path: top("clients", i, "schedule", "container") });
    if (c.schedule.port !== undefined) ports.push({ value: c.schedule.port, path: top("clients", i, "schedule", "port") });
  }
  const { whole: config, standInPrimary: primary, barman: b } = salvaged;
  if (config.standInPrimary !== undefined || Object.keys(primary).length > 0) {
    if (primary.port !== undefined) ports.push({ value: primary.port, path: cfg("standInPrimary", "port") });
    if (primary.container !== undefined) containers.push({ value: primary.container, path: cfg("standInPrimary", "container") });
    claim(volumes, primary.volume, cfg("standInPrimary", "volume"), "the stand-in primary's data volume");
  }
  if (b.metricsPort !== undefined) ports.push({ value: b.metricsPort, path: cfg("barman", "metricsPort") });
  if (b.container !== undefined) containers.push({ value: b.container, path: cfg("barman", "container") });
  for (const [key, name] of Object.entries(b.volumes ?? {})) claim(volumes, name, cfg("barman", "volumes", key), `barman's ${key} volume`);
  const f = salvaged.freshness;
  if (salvaged.raw.freshness !== undefined) {
    if (f.metricsPort !== undefined) ports.push({ value: f.metricsPort, path: cfg("freshness", "metricsPort") });
    if (f.container !== undefined) containers.push({ value: f.container, path: cfg("freshness", "container") });
    claim(volumes, f.volume, cfg("freshness", "volume"), "the freshness monitor's volume");
  }
  const d = salvaged.dumps;
  if (salvaged.raw.dumps !== undefined) {
    if (d.container !== undefined) containers.push({ value: d.container, path: cfg("dumps", "container") });
    claim(volumes, d.volume, cfg("dumps", "volume"), "the dumps' volume");
  }
  const o = salvaged.offsite;
  if (salvaged.raw.offsite !== undefined) {
    if (o.container !== undefined && (o.volumes ?? []).length > 0) containers.push({ value: o.container, path: cfg("offsite", "container") });
    claim(volumes, o.stateVolume, cfg("offsite", "stateVolume"), "the off-site copies' state volume");
  }
  return { ports, containers, volumes };
}

export function collisions(claims: Claim[], what: (value: string | number) => string): Problem[] {
  const first = new Map<string | number, Claim>();
  const problems: Problem[] = [];
  for (const claim of claims) {
    const earlier = first.get(claim.value);
    if (earlier === undefined) {
      first.set(claim.value, claim);
    } else {
      problems.push({
        path: claim.path,
        message: `${what(claim.value)} is already used on this stack's Docker engine by ${formatPath(earlier.path)}`,
      });
    }
  }
  return problems;
}

/**
 * Every volume that something declared on this stack's Docker engine uses, with what uses it:
 * the volumes its clients back up (first), the privateer servers' and clients' key and data
 * volumes, the `local` volumes its servers serve, barman's volumes and the stand-in primary's.
 */
export function volumesInUse(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): VolumeInUse[] {
  const inUse: VolumeInUse[] = [];
  for (const { at: i, value: c } of onThisEngine(topology.clients, machines)) {
    (c.backup ?? []).forEach((volume, j) => inUse.push({ value: volume, path: ["topology", "clients", i, "backup", j], backedUpBy: c.name }));
  }
  const claims = engineClaims(topology, machines, salvaged).volumes;
  const serving = onThisEngine(topology.servers, machines).map(({ value }) => `'${value.name}'`);
  const local = serving.length === 0 ? [] : topology.volumes.filter(({ value }) => value.local === true && value.name !== undefined);
  const localClaims = local.map(({ at, value }) => ({
    value: value.name!,
    path: ["topology", "volumes", at, "name"],
    what: `a local volume that privateer server ${serving.join(", ")} serves`,
  }));
  // The servers' and clients' volumes first, then the local volumes, then the stack config's.
  const fromTopology = claims.filter((c) => c.path[0] === "topology");
  const fromConfig = claims.filter((c) => c.path[0] !== "topology");
  return [...inUse, ...fromTopology, ...localClaims, ...fromConfig];
}
