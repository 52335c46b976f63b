import type { SalvagedConfig } from "../salvaged";
import type { TopologyParts } from "../topology";
import type { Problem } from "../problems";

// Rules between the stack config's sections, and between them and the topology file.

/** Every machine named is one of the topology's servers or clients. */
export function machineProblems(topology: TopologyParts, salvaged: SalvagedConfig): Problem[] {
  const { machines = [], topology: file = "privateer.json" } = salvaged.whole;
  const known = new Set([...topology.servers, ...topology.clients].map(({ value }) => value.name));
  const problems: Problem[] = [];
  machines.forEach((machine, i) => {
    if (!known.has(machine)) problems.push({ path: ["config", "machines", i], message: `machine '${machine}' is not a server or client in ${file}` });
  });
  return problems;
}

/** packit's rebuild needs its dump restored; a prepare needs barman; keys read from vault need a vault. */
export function dependencyProblems(rawTopology: unknown, salvaged: SalvagedConfig): Problem[] {
  const problems: Problem[] = [];
  const restore = salvaged.whole.restore;
  const packit = restore?.packit;
  if (restore !== undefined && packit !== undefined && !restore.volumes.some((v) => (v.to ?? v.volume) === packit.dumpVolume)) {
    problems.push({
      path: ["config", "restore", "packit", "dumpVolume"],
      message: `restore.volumes does not restore '${packit.dumpVolume}', so there would be no dump to restore from`,
    });
  }
  if (salvaged.raw.prepareRestore !== undefined && salvaged.raw.barman === undefined) {
    problems.push({ path: ["config", "prepareRestore"], message: "needs barman on this stack (montagu-backup:barman)" });
  }
  const keys = salvaged.privateer.keys;
  const hasVault = typeof rawTopology === "object" && rawTopology !== null && "vault" in rawTopology;
  if (keys?.generate === false && !hasVault) {
    problems.push({
      path: ["config", "privateer", "keys", "generate"],
      message: `the topology has no vault to read keys from, so this stack must generate them`,
    });
  }
  return problems;
}
