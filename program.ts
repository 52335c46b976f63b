import * as pulumi from "@pulumi/pulumi";
import { loadSettings } from "./config/load";
import type { Settings } from "./config/settings";
import { databasePassword } from "./components/shared/passwords";
import { Barman } from "./components/barman/barman";
import { Privateer, type PrivateerOutputs } from "./components/privateer/privateer";
import { PackitDump } from "./components/packit/dump";
import { PrepareRestore } from "./components/barman/prepareRestore";
import { Restore } from "./components/restore/restore";
import { DATABASE_USERS, StandInPrimary } from "./components/barman/standInPrimary";
import { dockerEnvironment } from "./components/shared/host";
import { Freshness } from "./components/freshness/freshness";
import { Prometheus } from "./components/prometheus/prometheus";
import { Dumps } from "./components/dumps/dumps";
import { OffsiteCopies } from "./components/offsite/offsiteCopies";
import type { OffsiteSource } from "./components/offsite/offsiteRestore";
import { offsiteSecrets } from "./components/offsite/store";
import { imageFromDirectory } from "./components/shared/dockerImage";

/** The stack's outputs; every field is something an operator reads or another stack uses. */
export interface StackOutputs {
  machines: string[];
  primary?: {
    container: pulumi.Output<string>;
    volume: pulumi.Output<string>;
    port: pulumi.Output<number>;
    database: pulumi.Output<string>;
  };
  privateer?: PrivateerOutputs;
  restore?: { id: string; verification: pulumi.Output<string | undefined> };
  prepareRestore?: { id: string; preparedAt: pulumi.Output<string> };
  barman?: {
    container: pulumi.Output<string>;
    volumes: Record<string, pulumi.Output<string>>;
    metricsUrl: pulumi.Output<string>;
    commands: { status: string; check: string; barman: string };
  };
  dumps?: { container: pulumi.Output<string>; volume: pulumi.Output<string> };
  freshness?: { container: pulumi.Output<string>; metricsUrl: pulumi.Output<string>; statusUrl: pulumi.Output<string>; alertRules: string; backups: string[] };
  prometheus?: { url: pulumi.Output<string> };
  offsite?: { container?: pulumi.Output<string>; repositories: string[] };
}

/** Declares every component the validated settings ask for, on the stack's Docker engine. */
export function declareStack(settings: Settings): StackOutputs {
  const { config, plan } = settings;
  const outputs: StackOutputs = { machines: config.machines };
  const environment = dockerEnvironment();
  let prepared: PrepareRestore | undefined;
  // What keeps the volumes the freshness monitor reads: it mounts them only once they exist.
  const keepers: pulumi.Resource[] = [];

  const beforeBackup: Record<string, pulumi.Resource[]> = {};
  if (config.standInPrimary !== undefined) {
    const group = config.standInPrimary.passwordGroup;
    const passwords = Object.fromEntries(DATABASE_USERS.map((user) => [user, databasePassword(group, user)])) as Record<
      (typeof DATABASE_USERS)[number],
      pulumi.Output<string>
    >;
    const primary = new StandInPrimary("primary", { settings: config.standInPrimary, passwords });
    for (const volume of config.standInPrimary.applicationVolumes) beforeBackup[volume] = [primary];
    outputs.primary = {
      container: primary.containerName,
      volume: primary.volumeName,
      port: primary.port,
      database: primary.database,
    };
  }
  // The off-site store's keys: barman's uploads, the volume copies and the restores all read them.
  const offsiteStore = plan.offsite === undefined ? undefined : { store: plan.offsite.store, secrets: offsiteSecrets(plan.offsite.store) };
  if (config.barman !== undefined) {
    const group = config.barman.passwordGroup;
    const barman = new Barman("barman", {
      settings: config.barman,
      timezone: config.timezone,
      passwords: { backup: databasePassword(group, "barman"), stream: databasePassword(group, "streaming_barman") },
      offsite: offsiteStore,
    });
    keepers.push(barman);
    outputs.barman = { container: barman.containerName, volumes: barman.volumeNames, metricsUrl: barman.metricsUrl, commands: barman.commands };
    if (plan.prepareRestore !== undefined) {
      prepared = new PrepareRestore(
        "prepare-restore",
        {
          settings: plan.prepareRestore,
          barmanContainer: barman.containerName,
          recoverVolume: barman.volumeNames.recover,
          servers: (plan.privateer?.servers ?? []).map((server) => server.container),
          environment,
        },
        { dependsOn: [barman] },
      );
      outputs.prepareRestore = { id: plan.prepareRestore.id, preparedAt: prepared.preparedAt };
    }
  }
  if (plan.packitDump !== undefined) {
    const dump = new PackitDump("packit-dump", { ...plan.packitDump, environment });
    beforeBackup[plan.packitDump.settings.volume] = [...(beforeBackup[plan.packitDump.settings.volume] ?? []), dump];
  }
  if (plan.dumps !== undefined) {
    // The client's scheduler pushes the dumps' volume: made (and its container running) first.
    const dumps = new Dumps("dumps", { plan: plan.dumps, timezone: config.timezone });
    beforeBackup[plan.dumps.volume] = [...(beforeBackup[plan.dumps.volume] ?? []), dumps];
    outputs.dumps = { container: dumps.containerName, volume: dumps.volumeName };
  }
  let offsite: OffsiteSource | undefined;
  if (plan.offsite !== undefined && offsiteStore !== undefined) {
    const { copies, store } = plan.offsite;
    outputs.offsite = { repositories: copies.map((copy) => `${store.repositoryBase}/${copy.client}/${copy.volume}`) };
    // The image restic runs in, only where volumes are copied or restored.
    if (copies.length > 0 || (plan.restore?.offsite.length ?? 0) > 0) {
      const image = imageFromDirectory("offsite-image", "offsite", "montagu-backup/offsite:local", {});
      offsite = { ...offsiteStore, image: image.repoDigest };
    }
    if (copies.length > 0 && offsite !== undefined) {
      const copier = new OffsiteCopies("offsite", { plan: plan.offsite, image: offsite.image, secrets: offsite.secrets, timezone: config.timezone, environment, before: beforeBackup });
      outputs.offsite.container = copier.containerName;
    }
  }
  const privateer = plan.privateer === undefined ? undefined : new Privateer("privateer", { plan: plan.privateer, environment, beforeBackup });
  outputs.privateer = privateer?.outputs;
  if (privateer !== undefined) keepers.push(privateer);
  if (plan.restore !== undefined && privateer !== undefined) {
    const restore = new Restore(
      "restore",
      { plan: plan.restore, clients: privateer.clients, environment, offsite },
      // A restore in the stack that prepares a copy restores that copy, once it is ready.
      { dependsOn: prepared === undefined ? [] : [prepared] },
    );
    outputs.restore = { id: plan.restore.id, verification: restore.verification };
  }
  if (plan.freshness !== undefined) {
    const freshness = new Freshness("freshness", { plan: plan.freshness }, { dependsOn: keepers });
    outputs.freshness = { container: freshness.containerName, metricsUrl: freshness.metricsUrl, statusUrl: freshness.statusUrl, alertRules: freshness.alertRules, backups: freshness.backups };
    if (plan.prometheus !== undefined) {
      const prometheus = new Prometheus("prometheus", { plan: plan.prometheus }, { dependsOn: [freshness] });
      outputs.prometheus = { url: prometheus.url };
    }
  }
  return outputs;
}

/** The whole program: read and validate config, then compose the components. */
export function main(): StackOutputs {
  return declareStack(loadSettings());
}
