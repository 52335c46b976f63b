import type { SalvagedConfig } from "../salvaged";
import { onThisEngine } from "./engine";
import { pushOfDump, scheduledPushes, watchedIds, type WatchedDump } from "../freshness";
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
  const known = watchedIds(pushes, servers, barman, dumps, salvaged.barman.offsite !== undefined);
  // The ids as given, whatever their durations hold: each problem is reported at once.
  const rawStaleAfter = (salvaged.raw.freshness as { staleAfter?: unknown } | null)?.staleAfter;
  const given = typeof rawStaleAfter === "object" && rawStaleAfter !== null && !Array.isArray(rawStaleAfter) ? Object.keys(rawStaleAfter) : [];
  for (const id of given.filter((id) => !known.includes(id))) {
    problems.push({ path: ["config", "freshness", "staleAfter", id], message: `'${id}' is not a backup this stack watches (${known.length === 0 ? "none" : known.join(", ")})` });
  }
  return problems;
}
