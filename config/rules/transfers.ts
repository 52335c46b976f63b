import type { SalvagedConfig } from "../salvaged";
import type { TopologyParts } from "../topology";
import type { Path, Problem } from "../problems";

// privateer's own rules on a stack's transfers: which client runs each, and what it may
// push or restore.

/** The client of this stack that a transfer runs on: the one named, or the only one. */
export function transferClient(topology: TopologyParts, machines: string[], named: string | undefined): string | { problem: string } {
  const clients = topology.clients.map(({ value }) => value.name).filter((n): n is string => n !== undefined && machines.includes(n));
  if (named !== undefined) {
    return clients.includes(named) ? named : { problem: `'${named}' is not a client this stack provisions (${clients.join(", ") || "none"})` };
  }
  if (clients.length === 1) return clients[0];
  return { problem: `name the client: this stack provisions ${clients.length === 0 ? "no client" : `several (${clients.join(", ")})`}` };
}

/** privateer's rules for `backup` and `restore`, on this stack's transfers. */
export function transferProblems(topology: TopologyParts, machines: string[], salvaged: SalvagedConfig): Problem[] {
  const problems: Problem[] = [];
  const settings = salvaged.privateer;
  // Entry by entry, so that one malformed entry does not hide the others' problems.
  const restoreEntries = salvaged.restoreEntries;
  const servers = new Set(topology.servers.map(({ value }) => value.name));
  const volumes = new Map(topology.volumes.map(({ value }) => [value.name, value]));
  const backersOf = (volume: string) =>
    topology.clients.filter(({ value }) => value.backup?.includes(volume)).map(({ value }) => value.name as string);
  const at = (...path: Path): Path => ["config", "privateer", ...path];
  const atRestore = (...path: Path): Path => ["config", ...path];
  const checkServer = (server: string, path: Path) => {
    if (!servers.has(server)) problems.push({ path, message: `unknown server '${server}'` });
  };

  const pushed = new Map<string, number>();
  settings.backup?.volumes.forEach((entry, i) => {
    checkServer(entry.server, at("backup", "volumes", i, "server"));
    const client = transferClient(topology, machines, entry.client);
    if (typeof client !== "string") {
      problems.push({ path: at("backup", "volumes", i, "client"), message: client.problem });
    } else if (!backersOf(entry.volume).includes(client)) {
      problems.push({ path: at("backup", "volumes", i, "volume"), message: `client '${client}' does not back up volume '${entry.volume}'` });
    } else {
      const key = JSON.stringify([client, entry.server, entry.volume]);
      const earlier = pushed.get(key);
      if (earlier !== undefined) {
        problems.push({
          path: at("backup", "volumes", i, "volume"),
          message: `volume '${entry.volume}' of '${client}' is already pushed to '${entry.server}' by montagu-backup:privateer.backup.volumes[${earlier}]`,
        });
      } else {
        pushed.set(key, i);
      }
    }
  });

  restoreEntries.forEach(({ at: i, value: entry }) => {
    if (entry.server !== undefined) checkServer(entry.server, atRestore("restore", "volumes", i, "server"));
    const client = transferClient(topology, machines, entry.client);
    if (typeof client !== "string") problems.push({ path: atRestore("restore", "volumes", i, "client"), message: client.problem });
    if (entry.volume === undefined) return;
    const volume = volumes.get(entry.volume);
    if (volume === undefined) {
      problems.push({ path: atRestore("restore", "volumes", i, "volume"), message: `unknown volume '${entry.volume}'` });
      return;
    }
    const backers = backersOf(entry.volume);
    if (volume.local === true) {
      if (entry.source !== undefined) {
        problems.push({ path: atRestore("restore", "volumes", i, "source"), message: `volume '${entry.volume}' is local to the server: it has no source` });
      }
      if (entry.snapshot !== undefined) {
        problems.push({
          path: atRestore("restore", "volumes", i, "snapshot"),
          message: `volume '${entry.volume}' is local to the server: it has no history to take a snapshot from`,
        });
      }
    } else if (entry.source === undefined) {
      if (backers.length !== 1) {
        problems.push({
          path: atRestore("restore", "volumes", i, "source"),
          message: `give the source: ${backers.length === 0 ? "no client backs up" : `${backers.join(", ")} back up`} volume '${entry.volume}'`,
        });
      }
    } else if (!backers.includes(entry.source)) {
      problems.push({ path: atRestore("restore", "volumes", i, "source"), message: `client '${entry.source}' does not back up volume '${entry.volume}'` });
    }
  });
  return problems;
}
