import { z } from "zod";
import { cron, dockerName, hostName, imageTag, port } from "./primitives";
import { ALWAYS, type At, validFieldsOfEach } from "./salvage";

// privateer.json, as privateer 2.x reads it (snake_case keys are privateer's, kept as they are).

const server = z.strictObject({
  name: dockerName,
  hostname: hostName,
  port,
  key_volume: dockerName,
  data_volume: dockerName,
  container: dockerName,
});

const scheduleJob = z.strictObject({
  server: dockerName,
  volume: dockerName,
  schedule: cron,
});

const client = z.strictObject({
  name: dockerName,
  backup: z.array(dockerName).default([]),
  key_volume: dockerName.default("privateer_keys"),
  schedule: z
    .strictObject({
      jobs: z.array(scheduleJob),
      port: port.optional(),
      container: dockerName.default("privateer_scheduler"),
    })
    .optional(),
});

const volume = z.strictObject({
  name: dockerName,
  local: z.boolean().default(false),
});

const vault = z.strictObject({
  url: z.url({ error: "must be a URL" }),
  prefix: z.string().min(1),
  token: z.string().optional(),
});

type Issue = { path: (string | number)[]; message: string };
type Server = z.output<typeof server>;
type Client = z.output<typeof client>;
type Volume = z.output<typeof volume>;

export interface TopologyParts {
  servers: At<Partial<Server>>[];
  clients: At<Partial<Client>>[];
  volumes: At<Partial<Volume>>[];
  /** Whether the topology lists its volumes (an empty list included), so that a volume can be unknown. */
  volumesListed: boolean;
}

/**
 * The valid fields of each server, client and volume of a (possibly partly invalid)
 * topology: a server whose port is malformed still has a name that jobs may refer to.
 */
export function topologyParts(raw: unknown): TopologyParts {
  const record = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    servers: validFieldsOfEach(server, record.servers),
    clients: validFieldsOfEach(client, record.clients),
    volumes: validFieldsOfEach(volume, record.volumes),
    volumesListed: Array.isArray(record.volumes),
  };
}

/** The entries whose key an earlier entry already has. */
export function repeats<T>(items: At<T>[], key: (item: T) => string | undefined): At<T>[] {
  const seen = new Set<string>();
  return items.filter(({ value }) => {
    const k = key(value);
    if (k === undefined) return false;
    const repeated = seen.has(k);
    seen.add(k);
    return repeated;
  });
}

/** The rules privateer enforces on its configuration, each with its own message. */
export function topologyProblems({ servers, clients, volumes, volumesListed }: TopologyParts): Issue[] {
  const problems: Issue[] = [];
  for (const { at, value } of repeats(servers, (s) => s.name)) {
    problems.push({ path: ["servers", at, "name"], message: `duplicate server name '${value.name}'` });
  }
  for (const { at, value } of repeats(clients, (c) => c.name)) {
    problems.push({ path: ["clients", at, "name"], message: `duplicate client name '${value.name}'` });
  }
  for (const { at, value } of repeats(volumes, (v) => v.name)) {
    problems.push({ path: ["volumes", at, "name"], message: `duplicate volume name '${value.name}'` });
  }
  const serverNames = new Set(servers.map(({ value }) => value.name));
  const volumesByName = new Map(volumes.map(({ value }) => [value.name, value]));
  // Without a list of volumes, or with one whose names are malformed, unknown-volume findings
  // would only be noise; an empty list is a list, and every volume is unknown to it.
  const volumesKnown = volumesListed && volumes.every(({ value }) => value.name !== undefined);

  for (const { at: i, value: c } of clients) {
    if (c.name !== undefined && serverNames.has(c.name)) {
      problems.push({ path: ["clients", i, "name"], message: `'${c.name}' is both a server and a client` });
    }
    const backup = c.backup ?? [];
    backup.forEach((name, j) => {
      const known = volumesByName.get(name);
      if (known === undefined) {
        if (!volumesKnown) return;
        problems.push({ path: ["clients", i, "backup", j], message: `unknown volume '${name}'` });
      } else if (known.local) {
        problems.push({
          path: ["clients", i, "backup", j],
          message: `volume '${name}' is local to the servers and cannot be backed up by a client`,
        });
      }
    });
    c.schedule?.jobs.forEach((job, k) => {
      if (!serverNames.has(job.server)) {
        problems.push({ path: ["clients", i, "schedule", "jobs", k, "server"], message: `unknown server '${job.server}'` });
      }
      if (c.backup !== undefined && !backup.includes(job.volume)) {
        problems.push({
          path: ["clients", i, "schedule", "jobs", k, "volume"],
          message: `client '${c.name}' does not back up volume '${job.volume}'`,
        });
      }
    });
  }

  // Two servers on one machine cannot both publish the same port.
  const portOwner = new Map<string, At<Partial<Server>>>();
  for (const entry of servers) {
    if (entry.value.hostname === undefined || entry.value.port === undefined) continue;
    const key = `${entry.value.hostname}:${entry.value.port}`;
    const owner = portOwner.get(key);
    if (owner === undefined) {
      portOwner.set(key, entry);
    } else {
      problems.push({
        path: ["servers", entry.at, "port"],
        message: `port ${entry.value.port} on ${entry.value.hostname} is already used by servers[${owner.at}] ('${owner.value.name}')`,
      });
    }
  }
  return problems;
}

const topologyShape = z.strictObject({
  servers: z.array(server),
  clients: z.array(client),
  volumes: z.array(volume),
  vault: vault.optional(),
  tag: imageTag.default("latest"),
});

export const topologySchema = topologyShape.superRefine((topology, ctx) => {
  for (const problem of topologyProblems(topologyParts(topology))) ctx.addIssue({ code: "custom", ...problem });
}, ALWAYS);

export type Topology = z.output<typeof topologySchema>;
export type TopologyServer = Topology["servers"][number];
export type TopologyClient = Topology["clients"][number];
