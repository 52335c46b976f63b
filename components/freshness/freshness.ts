import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { FreshnessPlan } from "../../config/plan";
import { imageFromDirectory } from "../shared/dockerImage";
import { SECRETS_DIR } from "../shared/host";
import { vaultFields, vaultPassword } from "../shared/passwords";

export interface FreshnessArgs {
  plan: FreshnessPlan;
}

const CONFIG_FILE = "/etc/montagu/freshness.json";
const STATE_DIR = "/state";
const METRICS_PORT = 5001;

/** What images/freshness/monitor.py reads: the backups, how often to look, whom to tell. */
export function monitorConfig(plan: FreshnessPlan): string {
  const { email } = plan;
  return JSON.stringify(
    {
      name: plan.name,
      checkEverySeconds: plan.checkEverySeconds,
      nightly: plan.nightly,
      backups: plan.backups,
      rules: plan.alertRules,
      email:
        email === undefined
          ? undefined
          : { host: email.host, port: email.port, starttls: email.starttls, username: email.username, from: email.from, to: email.to },
    },
    null,
    1,
  );
}

/**
 * The freshness monitor on the backup host: reads (only reads) the volumes where each backup
 * lands, serves every backup's age as Prometheus metrics, writes a status file per backup,
 * and sends one email when a backup becomes late and one when it recovers.
 */
export class Freshness extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly metricsUrl: pulumi.Output<string>;
  readonly statusUrl: pulumi.Output<string>;
  /** The Prometheus alerting rules on the monitor's thresholds, also in its volume (RULES_FILE) for a Prometheus to load. */
  readonly alertRules: string;
  readonly backups: string[];

  constructor(name: string, args: FreshnessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:Freshness", name, {}, opts);
    const { plan } = args;
    const image = imageFromDirectory(`${name}-image`, "freshness", "montagu-backup/freshness:local", { parent: this });
    // What it has told, and 31 days of every backup's checks (the status page's strips): a
    // history nothing could make again, so kept on destroy like the volumes of backups.
    const state = new docker.Volume(`${name}-state`, { name: plan.volume }, { parent: this, retainOnDelete: true });
    const uploads: docker.types.input.ContainerUpload[] = [{ file: CONFIG_FILE, content: monitorConfig(plan), permissions: "0644" }];
    if (plan.offsiteCredentialsVaultPath !== undefined) {
      // Read-only use of the store: it lists the volumes' snapshots, and never needs their password.
      const keys = vaultFields(plan.offsiteCredentialsVaultPath, ["access_key_id", "secret_access_key"], { parent: this });
      uploads.push(
        { file: `${SECRETS_DIR}/s3-access-key-id`, content: keys.access_key_id, permissions: "0600" },
        { file: `${SECRETS_DIR}/s3-secret-access-key`, content: keys.secret_access_key, permissions: "0600" },
      );
    }
    if (plan.email?.passwordVaultPath !== undefined) {
      uploads.push({ file: `${SECRETS_DIR}/smtp-password`, content: pulumi.secret(vaultPassword(plan.email.passwordVaultPath, { parent: this })), permissions: "0600" });
    }
    const container = new docker.Container(
      `${name}-container`,
      {
        name: plan.container,
        image: image.repoDigest,
        restart: "always",
        ports: [{ internal: METRICS_PORT, external: plan.metricsPort }],
        envs: [`FRESHNESS_PORT=${METRICS_PORT}`],
        volumes: [
          { volumeName: state.name, containerPath: STATE_DIR },
          ...plan.mounts.map((mount) => ({ volumeName: mount.volume, containerPath: mount.path, readOnly: true })),
        ],
        uploads,
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.containerName = container.name;
    this.metricsUrl = pulumi.output(`http://localhost:${plan.metricsPort}/metrics`);
    this.statusUrl = pulumi.output(`http://localhost:${plan.metricsPort}/`);
    this.alertRules = plan.alertRules;
    this.backups = plan.backups.map((backup) => backup.id);
    this.registerOutputs({ containerName: this.containerName, metricsUrl: this.metricsUrl, statusUrl: this.statusUrl, alertRules: this.alertRules, backups: this.backups });
  }
}
