import type { At } from "../salvage";
import type { SalvagedConfig } from "../salvaged";
import { repeats, type TopologyParts } from "../topology";
import { formatPath, type Path, type Problem } from "../problems";

// What a stack puts on its one Docker engine, role by role: two claims of one port or container
// name collide. Its volumes have owners (owners.ts).

export interface Claim {
  value: string | number;
  path: Path;
}

/** The machines of `items` this stack provisions; a repeated name is reported by the topology rules, and its repeats are left out. */
export function onThisEngine<T extends { name?: string }>(items: At<T>[], machines: string[]): At<T>[] {
  const repeated = new Set(repeats(items, (item) => item.name));
  return items.filter((item) => !repeated.has(item) && item.value.name !== undefined && machines.includes(item.value.name));
}

/**
 * The ports a stack publishes and the containers it names on its one Docker engine. Two
 * claims of the same thing on one engine collide.
 */
export function engineClaims(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig) {
  const ports: Claim[] = [];
  const containers: Claim[] = [];
  const top = (...path: Path): Path => ["topology", ...path];
  const cfg = (...path: Path): Path => ["config", ...path];

  const claim = (claims: Claim[], value: string | number | undefined, path: Path) => {
    if (value !== undefined) claims.push({ value, path });
  };
  for (const { at: i, value: s } of onThisEngine(topology.servers, machines)) {
    claim(ports, s.port, top("servers", i, "port"));
    claim(containers, s.container, top("servers", i, "container"));
    // The server's history runs beside it (components/privateer/history.ts).
    if (s.container !== undefined) claim(containers, `${s.container}_history`, top("servers", i, "container"));
  }
  for (const { at: i, value: c } of onThisEngine(topology.clients, machines)) {
    if (c.schedule === undefined) continue;
    containers.push({ value: c.schedule.container, path: top("clients", i, "schedule", "container") });
    if (c.schedule.port !== undefined) ports.push({ value: c.schedule.port, path: top("clients", i, "schedule", "port") });
  }
  const { whole: config, standInPrimary: primary, barman: b } = salvaged;
  if (config.standInPrimary !== undefined || Object.keys(primary).length > 0) {
    if (primary.port !== undefined) ports.push({ value: primary.port, path: cfg("standInPrimary", "port") });
    if (primary.container !== undefined) containers.push({ value: primary.container, path: cfg("standInPrimary", "container") });
  }
  if (b.metricsPort !== undefined) ports.push({ value: b.metricsPort, path: cfg("barman", "metricsPort") });
  if (b.container !== undefined) containers.push({ value: b.container, path: cfg("barman", "container") });
  const f = salvaged.freshness;
  if (salvaged.raw.freshness !== undefined) {
    if (f.metricsPort !== undefined) ports.push({ value: f.metricsPort, path: cfg("freshness", "metricsPort") });
    if (f.container !== undefined) containers.push({ value: f.container, path: cfg("freshness", "container") });
  }
  const p = salvaged.prometheus;
  if (salvaged.raw.prometheus !== undefined) {
    if (p.port !== undefined) ports.push({ value: p.port, path: cfg("prometheus", "port") });
    if (p.container !== undefined) containers.push({ value: p.container, path: cfg("prometheus", "container") });
  }
  const d = salvaged.dumps;
  if (salvaged.raw.dumps !== undefined) {
    if (d.container !== undefined) containers.push({ value: d.container, path: cfg("dumps", "container") });
  }
  const o = salvaged.offsite;
  if (salvaged.raw.offsite !== undefined) {
    if (o.container !== undefined && (o.volumes ?? []).length > 0) containers.push({ value: o.container, path: cfg("offsite", "container") });
  }
  return { ports, containers };
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
