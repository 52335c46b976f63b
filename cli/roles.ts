import * as fs from "node:fs";
import * as path from "node:path";
import { Refusal } from "./engine";
import type { StackFiles } from "./stackFiles";

// Which stack plays which part, read from the stack files and the topology each names: no
// setting of the CLI's own. The backup host runs barman; the primary provisions a client that
// backs volumes up; a restore target provisions a client that backs nothing up. Stacks are
// grouped by their topology file, so `local` (every role, its own topology) stays apart.

const NS = "montagu-backup";

interface TopologyClient {
  name: string;
  backup?: string[];
}
interface TopologyServer {
  name: string;
  container?: string;
  data_volume?: string;
}
interface TopologyVolume {
  name: string;
  local?: boolean;
}
export interface Topology {
  servers: TopologyServer[];
  clients: TopologyClient[];
  volumes: TopologyVolume[];
}

export type Role = "backup host" | "primary" | "restore target";

export interface StackInfo {
  name: string;
  machines: string[];
  topologyFile: string;
  topology: Topology;
  config: Record<string, unknown>;
  roles: Role[];
  /** The privateer server among the stack's machines. */
  server?: TopologyServer;
  /** The clients among the stack's machines. */
  clients: TopologyClient[];
  dockerHost?: string;
}

/** The database's volume on the primary and on each target: the prepared copy is restored into it. */
export const DATABASE_VOLUME = "montagu_db_volume";

const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

export function stackInfo(files: StackFiles, name: string): StackInfo {
  const config = files.config(name);
  const machines = Array.isArray(config[`${NS}:machines`]) ? (config[`${NS}:machines`] as string[]) : [];
  const topologyFile = path.resolve(files.projectDir, typeof config[`${NS}:topology`] === "string" ? (config[`${NS}:topology`] as string) : "privateer.json");
  const raw = JSON.parse(fs.readFileSync(topologyFile, "utf8")) as Partial<Topology>;
  const topology: Topology = { servers: raw.servers ?? [], clients: raw.clients ?? [], volumes: raw.volumes ?? [] };
  const server = topology.servers.find((s) => machines.includes(s.name));
  const clients = topology.clients.filter((c) => machines.includes(c.name));
  const roles: Role[] = [];
  if (config[`${NS}:barman`] !== undefined) roles.push("backup host");
  if (clients.some((c) => (c.backup ?? []).length > 0)) roles.push("primary");
  if (clients.some((c) => (c.backup ?? []).length === 0)) roles.push("restore target");
  const dockerHost = typeof config["docker:host"] === "string" ? (config["docker:host"] as string) : undefined;
  return { name, machines, topologyFile, topology, config, roles, server, clients, dockerHost };
}

/** A stack by name, or a refusal naming the stacks there are. */
export function knownStack(files: StackFiles, name: string): StackInfo {
  if (!files.exists(name)) throw new Refusal(`no stack '${name}': the stacks are ${files.stacks().join(", ")}`);
  return stackInfo(files, name);
}

/** The stack, if it plays `role`; else a refusal naming the stacks that do. */
export function stackAs(files: StackFiles, name: string, role: Role, verb: string): StackInfo {
  const stack = knownStack(files, name);
  if (stack.roles.includes(role)) return stack;
  const those = files.stacks().filter((other) => stackInfo(files, other).roles.includes(role));
  const is = stack.roles.length === 0 ? "plays no part in backups" : `is the ${stack.roles.join(" and ")}`;
  throw new Refusal(`'${verb} ${name}' refused: ${name} is not a ${role} (it ${is}); ${verb} takes ${those.length === 0 ? "none of these stacks" : those.join(", ")}`);
}

/** The one stack of `role` beside `stack` (same topology file); a refusal when there is none or several. */
export function partner(files: StackFiles, stack: StackInfo, role: Role): StackInfo {
  const found = files
    .stacks()
    .map((name) => stackInfo(files, name))
    .filter((other) => other.topologyFile === stack.topologyFile && other.roles.includes(role));
  if (found.length === 1) return found[0];
  if (found.length > 1 && role === "primary") {
    // Several stacks push volumes: the primary is the one barman streams from.
    const backup = partner(files, stack, "backup host");
    const host = String(record(record(backup.config[`${NS}:barman`]).database).host ?? "");
    const streamed = found.filter((other) => other.machines.some((machine) => host === machine || host.split(".")[0] === machine));
    if (streamed.length === 1) return streamed[0];
  }
  throw new Refusal(
    found.length === 0
      ? `no stack beside ${stack.name} (topology ${path.relative(files.projectDir, stack.topologyFile)}) is the ${role}`
      : `several stacks beside ${stack.name} could be the ${role} (${found.map((s) => s.name).join(", ")}): cannot tell which`,
  );
}

export function barmanSettings(stack: StackInfo): { container: string; recover: string; offsite: boolean } {
  const barman = record(stack.config[`${NS}:barman`]);
  return {
    container: typeof barman.container === "string" ? barman.container : "barman-montagu",
    recover: typeof record(barman.volumes).recover === "string" ? (record(barman.volumes).recover as string) : "barman_recover",
    // barman sends its backups and WAL to the off-site store (barman.offsite).
    offsite: barman.offsite !== undefined,
  };
}

/** A volume the stack copies off-site with restic, and the container that does it. */
export interface OffsiteCopyInfo {
  stack: string;
  container: string;
  client: string;
  volume: string;
}

/** The stack's off-site copies (its `offsite.volumes`), each client resolved as config/plan/offsite.ts resolves it. */
export function offsiteCopies(stack: StackInfo): OffsiteCopyInfo[] {
  const offsite = record(stack.config[`${NS}:offsite`]);
  const container = typeof offsite.container === "string" ? offsite.container : "montagu-offsite";
  const volumes = Array.isArray(offsite.volumes) ? offsite.volumes.map(record) : [];
  return volumes.flatMap((entry) => {
    const volume = String(entry.volume);
    const client = typeof entry.client === "string" ? entry.client : stack.clients.find((c) => (c.backup ?? []).includes(volume))?.name;
    return client === undefined ? [] : [{ stack: stack.name, container, client, volume }];
  });
}
