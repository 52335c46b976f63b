import type { SalvagedConfig } from "../salvaged";
import { onThisEngine } from "./engine";
import type { TopologyParts } from "../topology";
import type { Problem } from "../problems";

// The freshness monitor runs where the backups are kept, and is told only about backups it
// watches: which those are, by the ids that staleAfter names and the plan gives them, is here.

/** A push the topology schedules: `client` pushes `volume` to `server` on `schedule`. */
export interface ScheduledPush {
  client: string;
  server: string;
  volume: string;
  schedule: string;
}

export const pushId = (push: { client: string; volume: string }) => `push/${push.client}/${push.volume}`;
export const dumpId = (dump: { client: string; database: string }) => `dump/${dump.client}/${dump.database}`;
export const offsiteId = (copy: { client: string; volume: string }) => `offsite/${copy.client}/${copy.volume}`;

/** A volume a client copies off-site (its `offsite` section), watched here in the store. */
export interface WatchedOffsiteCopy {
  client: string;
  volume: string;
  schedule?: string;
}

/** The copy's schedule: its own, or, as the client's `offsite` section does, its push's. */
export function offsiteCopySchedule(pushes: ScheduledPush[], copy: WatchedOffsiteCopy): string | undefined {
  return copy.schedule ?? pushes.find((push) => push.client === copy.client && push.volume === copy.volume)?.schedule;
}

/** Dumps a client makes and pushes: where the monitor finds them. */
export interface WatchedDump {
  client: string;
  volume: string;
  database: string;
}
export const BARMAN_IDS = ["barman/wal", "barman/base-backup", "barman/nightly-recovery"] as const;
/** What barman sends to the off-site bucket, when it does. */
export const BARMAN_OFFSITE_IDS = ["barman/offsite-wal", "barman/offsite-base-backup"] as const;

/** What a stack's monitor watches, beside the topology's pushes to its servers. */
export interface Watched {
  servers: string[];
  barman: boolean;
  barmanOffsite?: boolean;
  dumps?: WatchedDump[];
  offsiteCopies?: WatchedOffsiteCopy[];
}

/** The ids of every backup a monitor watches. */
export function watchedIds(pushes: ScheduledPush[], watched: Watched): string[] {
  const { servers, barman, barmanOffsite = false, dumps = [], offsiteCopies = [] } = watched;
  const ids = pushes.filter((push) => servers.includes(push.server)).map(pushId);
  return [
    ...new Set([...ids, ...dumps.map(dumpId), ...offsiteCopies.map(offsiteId), ...(barman ? BARMAN_IDS : []), ...(barman && barmanOffsite ? BARMAN_OFFSITE_IDS : [])]),
  ];
}

/** The scheduled push that brings `dump`'s volume to one of `servers` (validation checked there is one). */
export function pushOfDump(pushes: ScheduledPush[], servers: string[], dump: WatchedDump): ScheduledPush | undefined {
  return pushes.find((push) => push.client === dump.client && push.volume === dump.volume && servers.includes(push.server));
}

/** Every push the clients' schedules run; a client of a partly invalid topology may have no name yet. */
export function scheduledPushes(clients: { name?: string; schedule?: { jobs: Omit<ScheduledPush, "client">[] } }[]): ScheduledPush[] {
  return clients.flatMap((client) => (client.schedule?.jobs ?? []).map((job) => ({ client: client.name ?? "", server: job.server, volume: job.volume, schedule: job.schedule })));
}

export function freshnessProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  if (salvaged.raw.freshness === undefined) return [];
  const servers = onThisEngine(topology.servers, machines).map(({ value }) => value.name!);
  const barman = salvaged.raw.barman !== undefined;
  if (servers.length === 0 && !barman) {
    return [{ path: ["config", "freshness"], message: "watches the backups kept on this machine: needs a privateer server or barman on this stack" }];
  }
  const pushes = scheduledPushes(topology.clients.map(({ value }) => value));
  const problems: Problem[] = [];
  const dumps: WatchedDump[] = [];
  const rawDumps = (salvaged.raw.freshness as { dumps?: unknown } | null)?.dumps;
  (Array.isArray(rawDumps) ? rawDumps : []).forEach((entry: Partial<WatchedDump> | null, i) => {
    if (typeof entry?.client !== "string" || typeof entry.volume !== "string" || typeof entry.database !== "string") return;
    const dump = { client: entry.client, volume: entry.volume, database: entry.database };
    dumps.push(dump);
    if (pushOfDump(pushes, servers, dump) === undefined) {
      problems.push({ path: ["config", "freshness", "dumps", i, "volume"], message: `no scheduled push of the topology brings ${dump.client}'s ${dump.volume} to ${servers.join(", ") || "a server of this stack"}` });
    }
  });
  const offsiteCopies: WatchedOffsiteCopy[] = [];
  const rawOffsite = (salvaged.raw.freshness as { offsite?: unknown } | null)?.offsite;
  (Array.isArray(rawOffsite) ? rawOffsite : []).forEach((entry: Partial<WatchedOffsiteCopy> | null, i) => {
    if (typeof entry?.client !== "string" || typeof entry.volume !== "string") return;
    const copy = { client: entry.client, volume: entry.volume, schedule: typeof entry.schedule === "string" ? entry.schedule : undefined };
    offsiteCopies.push(copy);
    const at = (field: string) => ["config", "freshness", "offsite", i, field];
    const client = topology.clients.find(({ value }) => value.name === copy.client)?.value;
    if (client === undefined) {
      problems.push({ path: at("client"), message: `'${copy.client}' is not a client of the topology` });
    } else if (!(client.backup ?? []).includes(copy.volume)) {
      problems.push({ path: at("volume"), message: `'${copy.volume}' is not a volume ${copy.client} backs up (${(client.backup ?? []).join(", ") || "none"})` });
    } else if (!("schedule" in entry) && offsiteCopySchedule(pushes, copy) === undefined) {
      problems.push({ path: at("schedule"), message: `${copy.client} has no scheduled push of ${copy.volume} to take the copy's schedule from: give it` });
    }
  });
  if (offsiteCopies.length > 0 && salvaged.raw.offsite === undefined) {
    problems.push({ path: ["config", "freshness", "offsite"], message: "reads the copies in the off-site store: needs montagu-backup:offsite (its store) on this stack" });
  }
  const known = watchedIds(pushes, { servers, barman, dumps, offsiteCopies, barmanOffsite: salvaged.barman.offsite !== undefined });
  // The ids as given, whatever their durations hold: each problem is reported at once.
  const rawStaleAfter = (salvaged.raw.freshness as { staleAfter?: unknown } | null)?.staleAfter;
  const given = typeof rawStaleAfter === "object" && rawStaleAfter !== null && !Array.isArray(rawStaleAfter) ? Object.keys(rawStaleAfter) : [];
  for (const id of given.filter((id) => !known.includes(id))) {
    problems.push({ path: ["config", "freshness", "staleAfter", id], message: `'${id}' is not a backup this stack watches (${known.length === 0 ? "none" : known.join(", ")})` });
  }
  return problems;
}
