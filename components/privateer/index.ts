import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import type { Settings } from "../../config/settings";
import { PrivateerBackup } from "./backup";
import { PrivateerClient } from "./client";
import { PrivateerImages } from "./images";
import { keysFromVault, type MachineKey, PrivateerKeys } from "./keys";
import { publicKeyFingerprint } from "./layout";
import { PrivateerServer } from "./server";

export interface PrivateerDeclared {
  outputs: PrivateerOutputs;
  /** This stack's clients, by name, for the transfers other components run on them. */
  clients: Map<string, PrivateerClient>;
}

export interface PrivateerOutputs {
  servers: Record<string, { address: pulumi.Output<string>; port: pulumi.Output<number> }>;
  fingerprints: Record<string, pulumi.Output<string>>;
  schedulers: Record<string, pulumi.Output<string | undefined>>;
}

/**
 * Everything privateer does for this stack's machines: keys, servers, clients with their
 * schedules, and the on-demand backups and restores the config asks for.
 */
export function declarePrivateer(
  settings: Settings,
  environment: Record<string, string>,
  /** What must be done before a volume is pushed, by volume. */
  beforeBackup: Record<string, pulumi.Resource[]> = {},
): PrivateerDeclared | undefined {
  const { topology, config } = settings;
  const options = config.privateer;
  const servers = topology.servers.filter((s) => config.machines.includes(s.name));
  const clients = topology.clients.filter((c) => config.machines.includes(c.name));
  if (servers.length === 0 && clients.length === 0) return undefined;

  const provider = topology.vault === undefined ? undefined : new vault.Provider("vault", { address: topology.vault.url, token: topology.vault.token === undefined ? undefined : pulumi.secret(topology.vault.token) });
  const keys = machineKeys(settings, provider);
  const images = new PrivateerImages("privateer-images", {
    source: options.images,
    tag: topology.tag,
    roles: [...(servers.length > 0 ? ["server" as const] : []), ...(clients.length > 0 ? ["client" as const] : [])],
  });
  const serverImage = images.server!;
  const clientImage = images.client!;

  const serverComponents = servers.map(
    (server) =>
      new PrivateerServer(`privateer-server-${server.name}`, {
        server,
        key: keys[server.name],
        clients: topology.clients.map((c) => ({ name: c.name, publicKey: keys[c.name].publicKey })),
        localVolumes: topology.volumes.filter((v) => v.local).map((v) => v.name),
        image: serverImage,
        history: { settings: options.history, image: images.history! },
        timezone: config.timezone,
      }),
  );
  const clientComponents = new Map(
    clients.map((client) => [
      client.name,
      new PrivateerClient(
        `privateer-client-${client.name}`,
        {
          client,
          servers: topology.servers.map((server) => ({ server, publicKey: keys[server.name].publicKey })),
          key: keys[client.name],
          timezone: config.timezone,
          image: clientImage,
          checkId: options.checkId,
          environment,
        },
        // On a stack that also runs the server, the client's checks need it up.
        { dependsOn: serverComponents },
      ),
    ]),
  );
  const transferOn = (name: string | undefined) => transferClientOf(clientComponents, name);

  if (options.backup !== undefined) {
    const groups = new Map<string, { client: string; server: string; volumes: { volume: string; allowEmpty: boolean }[] }>();
    for (const entry of options.backup.volumes) {
      const { client } = transferOn(entry.client);
      const key = `${client}->${entry.server}`;
      const group = groups.get(key) ?? { client, server: entry.server, volumes: [] };
      group.volumes.push({ volume: entry.volume, allowEmpty: entry.allowEmpty });
      groups.set(key, group);
    }
    for (const group of groups.values()) {
      const { component } = transferOn(group.client);
      new PrivateerBackup(
        `privateer-backup-${group.client}-${group.server}`,
        { id: options.backup.id, on: component.transfers, server: group.server, volumes: group.volumes, before: beforeBackup },
        { dependsOn: component.ready },
      );
    }
  }

  return {
    outputs: {
      servers: Object.fromEntries(serverComponents.map((s, i) => [servers[i].name, { address: s.address, port: s.port }])),
      fingerprints: Object.fromEntries(Object.entries(keys).map(([machine, key]) => [machine, key.publicKey.apply(publicKeyFingerprint)])),
      schedulers: Object.fromEntries([...clientComponents].map(([name, c]) => [name, c.schedulerUrl])),
    },
    clients: clientComponents,
  };
}

/** The keys this stack needs: generated here (and written to vault), or read from vault. */
function machineKeys({ topology, config }: Settings, provider: vault.Provider | undefined): Record<string, MachineKey> {
  const generate = config.privateer.keys.generate ?? topology.vault === undefined;
  const all = [...topology.servers, ...topology.clients].map((m) => m.name);
  if (generate) {
    const vaultTarget = topology.vault !== undefined && provider !== undefined ? { prefix: topology.vault.prefix, provider } : undefined;
    return new PrivateerKeys("privateer-keys", { machines: all, generation: config.privateer.keys.generation, vault: vaultTarget }).keys;
  }
  // Servers need every client's public key, clients every server's.
  const hasServer = topology.servers.some((s) => config.machines.includes(s.name));
  const hasClient = topology.clients.some((c) => config.machines.includes(c.name));
  const needed = new Set([
    ...config.machines,
    ...(hasServer ? topology.clients.map((c) => c.name) : []),
    ...(hasClient ? topology.servers.map((s) => s.name) : []),
  ]);
  return keysFromVault([...needed], topology.vault!.prefix, provider!);
}

/** The client a transfer runs on: the one named, or the stack's only client (the schema checked which). */
export function transferClientOf(clients: Map<string, PrivateerClient>, name: string | undefined): { client: string; component: PrivateerClient } {
  const client = name ?? [...clients.keys()][0];
  return { client, component: clients.get(client)! };
}
