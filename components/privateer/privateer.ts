import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import type { KeysPlan, PrivateerPlan } from "../../config/plan";
import { ArchiveExport, ArchiveImport } from "./archive";
import { PrivateerBackup } from "./backup";
import { PrivateerClient } from "./client";
import { PrivateerImages } from "./privateerImages";
import { keysFromVault, type MachineKey, PrivateerKeys } from "./keys";
import { publicKeyFingerprint } from "./layout";
import { PrivateerServer } from "./server";

export interface PrivateerOutputs {
  servers: Record<string, { address: pulumi.Output<string>; port: pulumi.Output<number> }>;
  fingerprints: Record<string, pulumi.Output<string>>;
  schedulers: Record<string, pulumi.Output<string | undefined>>;
  /** The last export: its tar on the machine running `pulumi up`, and the tar's SHA-256. */
  export?: { id: string; archive: pulumi.Output<string>; sha256: pulumi.Output<string> };
  /** The last import: the volume it made, from which tar, of which SHA-256. */
  import?: { id: string; volume: pulumi.Output<string>; archive: pulumi.Output<string>; sha256: pulumi.Output<string> };
}

/** `value`, which the plan says is there. */
function planned<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing from the plan`);
  return value;
}

export interface PrivateerArgs {
  plan: PrivateerPlan;
  /** What points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
  /** What must be done before a volume is pushed, by volume. */
  beforeBackup?: Record<string, pulumi.Resource[]>;
}

/**
 * Everything privateer does for this stack's machines: keys, servers, clients with their
 * schedules, and the on-demand backups, exports and imports the config asks for. Its children
 * were at the stack's root before it was a component: each is aliased there, so that existing
 * stacks keep them (and their children) rather than replace them, which their fixed Docker
 * names forbid (exports and imports came after, and have no old place).
 */
export class Privateer extends pulumi.ComponentResource {
  readonly outputs: PrivateerOutputs;
  /** This stack's clients, by name, for the transfers other components run on them. */
  readonly clients: Map<string, PrivateerClient>;

  constructor(name: string, args: PrivateerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:Privateer", name, {}, opts);
    const { plan, environment, beforeBackup = {} } = args;
    const { topology, servers, clients } = plan;
    const child: pulumi.ComponentResourceOptions = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };
    const vaultSettings = plan.keys.vault;
    const provider =
      vaultSettings === undefined
        ? undefined
        : new vault.Provider("vault", { address: vaultSettings.url, token: vaultSettings.token === undefined ? undefined : pulumi.secret(vaultSettings.token) });
    const keys = machineKeys(plan.keys, provider, child);
    const key = (machine: string) => planned(keys[machine], `the key of ${machine}`);
    const images = new PrivateerImages("privateer-images", {
      source: plan.images,
      tag: topology.tag,
      roles: [...(servers.length > 0 ? ["server" as const] : []), ...(clients.length > 0 ? ["client" as const] : [])],
    }, child);

    const serverComponents = servers.map(
      (server) =>
        new PrivateerServer(`privateer-server-${server.name}`, {
          server,
          key: key(server.name),
          clients: topology.clients.map((c) => ({ name: c.name, publicKey: key(c.name).publicKey })),
          localVolumes: plan.localVolumes,
          image: planned(images.server, "the server image"),
          history: { settings: plan.history, image: planned(images.history, "the history image") },
          timezone: plan.timezone,
        }, child),
    );
    const clientComponents = new Map(
      clients.map((client) => [
        client.name,
        new PrivateerClient(
          `privateer-client-${client.name}`,
          {
            client,
            servers: topology.servers.map((server) => ({ server, publicKey: key(server.name).publicKey })),
            key: key(client.name),
            timezone: plan.timezone,
            image: planned(images.client, "the client image"),
            checkId: plan.checkId,
            environment,
            before: beforeBackup,
          },
          // On a stack that also runs the server, the client's checks need it up.
          { ...child, dependsOn: serverComponents },
        ),
      ]),
    );

    if (plan.backup !== undefined) {
      for (const group of plan.backup.groups) {
        const component = clientNamed(clientComponents, group.client);
        new PrivateerBackup(
          `privateer-backup-${group.client}-${group.server}`,
          { id: plan.backup.id, on: component.transfers, server: group.server, volumes: group.volumes, before: beforeBackup },
          { ...child, dependsOn: component.ready },
        );
      }
    }

    // Exports and imports run in a container of one of our images: the server's (ours even with
    // upstream's images, for the history) where the stack has a server, else the client's.
    const toolImage = () => planned(images.history ?? images.client, "a privateer image");
    let exported: ArchiveExport | undefined;
    if (plan.export !== undefined) {
      const { from } = plan.export;
      const server = from.kind === "copy" ? serverComponents[servers.findIndex((s) => s.name === from.server)] : undefined;
      if (from.kind === "copy" && server === undefined) throw new Error(`export: server '${from.server}' is not provisioned by this stack`);
      exported = new ArchiveExport(
        "privateer-export",
        { plan: plan.export, image: from.kind === "copy" ? planned(images.history, "the server image") : toolImage(), environment },
        { parent: this, dependsOn: server === undefined ? [] : [server] },
      );
    }
    const imported = plan.import === undefined ? undefined : new ArchiveImport("privateer-import", { plan: plan.import, image: toolImage(), environment }, { parent: this });

    this.outputs = {
      servers: Object.fromEntries(serverComponents.map((s, i) => [servers[i].name, { address: s.address, port: s.port }])),
      fingerprints: Object.fromEntries(Object.entries(keys).map(([machine, k]) => [machine, k.publicKey.apply(publicKeyFingerprint)])),
      schedulers: Object.fromEntries([...clientComponents].map(([name, c]) => [name, c.schedulerUrl])),
      // Only when asked for: a stack without them declares what it did before.
      ...(exported === undefined || plan.export === undefined ? {} : { export: { id: plan.export.id, archive: exported.archive, sha256: exported.sha256 } }),
      ...(imported === undefined || plan.import === undefined
        ? {}
        : { import: { id: plan.import.id, volume: imported.volume, archive: imported.archive, sha256: imported.sha256 } }),
    };
    this.clients = clientComponents;
    this.registerOutputs(this.outputs);
  }
}

/** The keys this stack needs: generated here (and written to vault), or read from vault. */
function machineKeys(plan: KeysPlan, provider: vault.Provider | undefined, opts: pulumi.ComponentResourceOptions): Record<string, MachineKey> {
  if (plan.generate) {
    const vaultTarget = plan.vault !== undefined && provider !== undefined ? { prefix: plan.vault.prefix, provider } : undefined;
    return new PrivateerKeys("privateer-keys", { machines: plan.machines, generation: plan.generation, vault: vaultTarget }, opts).keys;
  }
  return keysFromVault(plan.machines, plan.vault.prefix, planned(provider, "the vault provider"));
}

/** The client of this stack that the plan names. */
export function clientNamed(clients: Map<string, PrivateerClient>, name: string): PrivateerClient {
  return planned(clients.get(name), `client '${name}'`);
}
