import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { BarmanConfig } from "../../config/settings";
import { imageFromDirectory } from "../shared/dockerImage";
import { onLoopback, SECRETS_DIR } from "../shared/host";
import type { OffsiteStore } from "../../config/plan";
import type { OffsiteSecrets } from "../offsite/store";

export interface BarmanArgs {
  settings: BarmanConfig;
  timezone: string;
  /** Secrets: the passwords of the backup user (`barman`) and the replication user (`streaming_barman`). */
  passwords: { backup: pulumi.Input<string>; stream: pulumi.Input<string> };
  /** The store barman's copies go to, when `settings.offsite` asks for them. */
  offsite?: { store: OffsiteStore; secrets: OffsiteSecrets };
}

const SCHEDULE_FILE = "/etc/montagu/schedule.yml";
/** What montagu-prepare's verify step reads (images/barman/prepare.sh). */
const VERIFY_DIR = "/etc/montagu/verify";
const METRICS_PORT = 5000;

/** Mount points inside the container, as barman-montagu has them. */
export const BARMAN_MOUNTS = { data: "/var/lib/barman", logs: "/var/log/barman", metrics: "/metrics", recover: "/recover", nightly: "/nightly" } as const;

/** The schedule barman-montagu runs in its container (yacron format). */
export function barmanSchedule(settings: BarmanConfig, timezone: string): string {
  return stringify({
    defaults: { timezone },
    jobs: [
      { name: "barman-cron", command: "barman cron", schedule: settings.schedule.cron },
      { name: "metrics", command: "barman-metrics collect", schedule: settings.schedule.metrics },
      { name: "base-backup", command: "barman backup --wait montagu", schedule: settings.schedule.baseBackup },
      { name: "nightly-recovery", command: `montagu-prepare nightly ${BARMAN_MOUNTS.nightly}`, schedule: settings.schedule.nightly },
      ...(settings.offsite === undefined
        ? []
        : [
            // Within its minute, every 10 s: a WAL segment leaves seconds after barman has it.
            { name: "offsite-upload", command: "montagu-offsite-barman upload --for 50", schedule: settings.offsite.upload },
            { name: "offsite-retention", command: "montagu-offsite-barman retention", schedule: settings.offsite.retention },
          ]),
    ],
  });
}

/**
 * barman-montagu on the backup host: a barman container streaming WAL from the primary,
 * taking base backups on its schedule and serving Prometheus metrics, with its five volumes.
 */
export class Barman extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly volumeNames: Record<keyof typeof BARMAN_MOUNTS, pulumi.Output<string>>;
  readonly metricsUrl: pulumi.Output<string>;
  readonly commands: { status: string; check: string; barman: string };

  constructor(name: string, args: BarmanArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:Barman", name, {}, opts);
    const { settings } = args;
    const hostNetwork = onLoopback(settings.database.host);

    const image =
      settings.image === "upstream"
        ? new docker.RemoteImage(`${name}-image`, { name: `vimc/montagu-barman:${settings.imageTag}`, keepLocally: true }, { parent: this }).imageId
        : imageFromDirectory(`${name}-image`, "barman", "montagu-backup/barman:local", { parent: this }).repoDigest;

    // Backups, WAL, logs, metrics and recoveries: none of it goes with the stack.
    const volumes = Object.fromEntries(
      (Object.keys(BARMAN_MOUNTS) as (keyof typeof BARMAN_MOUNTS)[]).map((key) => [
        key,
        new docker.Volume(`${name}-${key}`, { name: settings.volumes[key] }, { parent: this, retainOnDelete: true }),
      ]),
    ) as Record<keyof typeof BARMAN_MOUNTS, docker.Volume>;

    if (settings.offsite !== undefined && args.offsite === undefined) throw new Error("barman: off-site copies asked for, and no off-site store");
    const offsite = settings.offsite === undefined ? undefined : args.offsite;
    const container = new docker.Container(
      `${name}-container`,
      {
        name: settings.container,
        image,
        restart: "always",
        networkMode: hostNetwork ? "host" : undefined,
        ports: hostNetwork ? undefined : [{ internal: METRICS_PORT, external: settings.metricsPort }],
        envs: [
          `BARMAN_MONTAGU_HOST=${settings.database.host}`,
          `BARMAN_MONTAGU_PORT=${settings.database.port}`,
          `BARMAN_MONTAGU_DBNAME=${settings.database.name}`,
          `BARMAN_MONTAGU_SLOT_NAME=${settings.slot}`,
          `BARMAN_MONTAGU_RETENTION_POLICY=${settings.retentionPolicy}`,
          `BARMAN_METRICS_PORT=${hostNetwork ? settings.metricsPort : METRICS_PORT}`,
          ...(offsite === undefined
            ? []
            : [
                `BARMAN_OFFSITE_URL=${offsite.store.barmanUrl}`,
                `BARMAN_OFFSITE_ENDPOINT=${offsite.store.endpoint}`,
                `BARMAN_OFFSITE_RETENTION=${settings.retentionPolicy}`,
                `AWS_DEFAULT_REGION=${offsite.store.region}`,
              ]),
        ],
        volumes: (Object.keys(BARMAN_MOUNTS) as (keyof typeof BARMAN_MOUNTS)[]).map((key) => ({
          volumeName: volumes[key].name,
          containerPath: BARMAN_MOUNTS[key],
        })),
        uploads: [
          { file: `${SECRETS_DIR}/barman`, content: pulumi.secret(args.passwords.backup), permissions: "0600" },
          { file: `${SECRETS_DIR}/streaming_barman`, content: pulumi.secret(args.passwords.stream), permissions: "0600" },
          { file: SCHEDULE_FILE, content: barmanSchedule(settings, args.timezone), permissions: "0644" },
          // Files, not a command line: the query reaches psql as it was written.
          { file: `${VERIFY_DIR}/database`, content: settings.verify.database, permissions: "0644" },
          { file: `${VERIFY_DIR}/query`, content: settings.verify.query, permissions: "0644" },
          { file: `${VERIFY_DIR}/amcheck-tables`, content: `${settings.verify.amcheckTables}`, permissions: "0644" },
          ...(offsite === undefined
            ? []
            : [
                { file: `${SECRETS_DIR}/s3-access-key-id`, content: offsite.secrets.accessKeyId, permissions: "0600" },
                { file: `${SECRETS_DIR}/s3-secret-access-key`, content: offsite.secrets.secretAccessKey, permissions: "0600" },
              ]),
        ],
      },
      { parent: this, deleteBeforeReplace: true },
    );

    this.containerName = container.name;
    this.volumeNames = Object.fromEntries(Object.entries(volumes).map(([key, v]) => [key, v.name])) as Barman["volumeNames"];
    this.metricsUrl = pulumi.output(`http://localhost:${settings.metricsPort}/metrics`);
    this.commands = {
      status: `docker exec ${settings.container} barman status montagu`,
      check: `docker exec ${settings.container} barman check montagu`,
      barman: `docker exec ${settings.container} barman`,
    };
    this.registerOutputs({ containerName: this.containerName, volumeNames: this.volumeNames, metricsUrl: this.metricsUrl });
  }
}
