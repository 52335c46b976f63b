import type { SalvagedConfig } from "../salvaged";
import { onThisEngine } from "./engine";
import type { TopologyParts } from "../topology";
import type { Problem } from "../problems";

// Dumps leave the machine: their volume is one a client here backs up; each is named for one place and one database.

export function dumpsProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  if (salvaged.raw.dumps === undefined) return [];
  const problems: Problem[] = [];
  const { volume, name, databases } = salvaged.dumps;
  const backers = onThisEngine(topology.clients, machines).filter(({ value }) => volume !== undefined && (value.backup ?? []).includes(volume));
  if (volume !== undefined && backers.length === 0) {
    problems.push({ path: ["config", "dumps", "volume"], message: `no client on this stack backs up '${volume}': the dumps would never leave this machine` });
  }
  if (name === undefined && machines.length > 1) {
    problems.push({ path: ["config", "dumps", "name"], message: "give the place the dumps' names carry: the stack has several machines" });
  }
  const seen = new Set<string>();
  (databases ?? []).forEach((db, i) => {
    if (seen.has(db.database)) problems.push({ path: ["config", "dumps", "databases", i, "database"], message: `'${db.database}' is dumped twice: each database once` });
    seen.add(db.database);
  });
  return problems;
}
