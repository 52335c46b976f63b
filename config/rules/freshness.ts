import type { SalvagedConfig } from "../salvaged";
import { onThisEngine } from "./engine";
import { offsiteCopySchedule, pushOfDump, scheduledPushes, watchedIds, type WatchedDump, type WatchedOffsiteCopy } from "../freshness";
import type { TopologyParts } from "../topology";
import type { Problem } from "../problems";

// The freshness monitor runs where the backups are kept, and is told only about backups it watches.

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
