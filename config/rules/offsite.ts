import type { SalvagedConfig } from "../salvaged";
import { onThisEngine } from "./engine";
import type { TopologyParts } from "../topology";
import type { Problem } from "../problems";

// Off-site copies are of volumes a client of this stack pushes, each once, on a schedule;
// restores from off-site need the store, and a volume that has copies.

const hasField = (record: unknown, key: string) => typeof record === "object" && record !== null && key in record;

export function offsiteProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  const problems: Problem[] = [];
  const clients = onThisEngine(topology.clients, machines).map(({ value }) => value);
  const seen = new Map<string, number>();
  const entries = salvaged.raw.offsite === undefined ? [] : (salvaged.offsite.volumes ?? []);
  entries.forEach((entry, i) => {
    const at = (field: string) => ["config", "offsite", "volumes", i, field];
    const backers = clients.filter((c) => (c.backup ?? []).includes(entry.volume));
    let client = entry.client;
    if (client === undefined) {
      if (backers.length !== 1) {
        problems.push({
          path: at(backers.length === 0 ? "volume" : "client"),
          message:
            backers.length === 0
              ? `no client of this stack backs up '${entry.volume}': only a volume a client pushes is copied off-site`
              : `name the client: ${backers.map((c) => c.name).join(", ")} back up '${entry.volume}'`,
        });
        return;
      }
      client = backers[0].name;
    } else if (!backers.some((c) => c.name === client)) {
      problems.push({ path: at("client"), message: `'${client}' is not a client of this stack that backs up '${entry.volume}'` });
      return;
    }
    const key = `${client}/${entry.volume}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) problems.push({ path: at("volume"), message: `'${entry.volume}' of '${client}' is already copied off-site by offsite.volumes[${earlier}]` });
    seen.set(key, i);
    const pushed = clients.find((c) => c.name === client)?.schedule?.jobs?.some((job) => job.volume === entry.volume) === true;
    if (entry.schedule === undefined && !pushed) {
      problems.push({ path: at("schedule"), message: `give a schedule: '${client}' has no scheduled push of '${entry.volume}' to follow` });
    }
  });

  const restoresFromOffsite = salvaged.restoreEntries.some(({ value }) => value.from === "offsite");
  // Given but malformed, the schema says so; only a missing one is this rule's.
  if (salvaged.raw.offsite !== undefined && !hasField(salvaged.raw.offsite, "passwordVaultPath") && (entries.length > 0 || restoresFromOffsite)) {
    problems.push({ path: ["config", "offsite", "passwordVaultPath"], message: "give the vault path of the volume repositories' password: volumes are copied or restored here" });
  }
  if (salvaged.barman.offsite !== undefined && salvaged.raw.offsite === undefined) {
    problems.push({ path: ["config", "barman", "offsite"], message: "needs montagu-backup:offsite on this stack: its store is where barman's copies go" });
  }

  const prepareFrom = (salvaged.raw.prepareRestore as { from?: unknown } | undefined)?.from;
  if (prepareFrom === "offsite" && salvaged.barman.offsite === undefined) {
    problems.push({ path: ["config", "prepareRestore", "from"], message: "needs barman.offsite (and montagu-backup:offsite's store): that is where barman's copies are read from" });
  }

  salvaged.restoreEntries.forEach(({ at: i, value: entry }) => {
    if (entry.from !== "offsite") return;
    if (salvaged.raw.offsite === undefined) {
      problems.push({ path: ["config", "restore", "volumes", i, "from"], message: "needs montagu-backup:offsite on this stack: its store and password are where the copies are read" });
    }
    const volume = topology.volumes.find(({ value }) => value.name === entry.volume)?.value;
    if (volume?.local === true) {
      problems.push({ path: ["config", "restore", "volumes", i, "volume"], message: `volume '${entry.volume}' is local to the server: it has no off-site copy (restore it from its server)` });
    }
  });
  return problems;
}
