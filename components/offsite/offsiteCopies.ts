import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import { stringify } from "yaml";
import type { OffsitePlan } from "../../config/plan";
import { SECRETS_DIR } from "../shared/host";
import { script, scriptFile } from "../shared/script";
import { type OffsiteSecrets, repositoryPassword } from "./store";

export interface OffsiteCopiesArgs {
  plan: OffsitePlan;
  /** The montagu-offsite image (images/offsite), built on this stack's engine. */
  image: pulumi.Input<string>;
  secrets: OffsiteSecrets;
  timezone: string;
  environment: Record<string, string>;
  /** What makes or fills a volume before it is copied, by volume. */
  before?: Record<string, pulumi.Resource[]>;
}

const SCHEDULE_FILE = "/etc/montagu/schedule.yml";

/** The scheduler's file: each volume's copy on its schedule, and its repository's check on the check's. */
export function offsiteSchedule(plan: OffsitePlan, timezone: string): string {
  return stringify({
    defaults: { timezone },
    jobs: plan.copies.flatMap((copy) => [
      {
        name: `offsite-${copy.client}-${copy.volume}`,
        command: quote(["montagu-offsite", "backup", copy.client, copy.volume, ...(copy.allowEmpty ? ["--allow-empty"] : [])]),
        schedule: copy.schedule,
      },
      {
        name: `offsite-check-${copy.client}-${copy.volume}`,
        command: quote(["montagu-offsite", "check", copy.client, copy.volume, plan.check.readDataSubset]),
        schedule: plan.check.schedule,
      },
    ]),
  });
}

/**
 * A client's volumes copied off-site: a container that runs each copy on its schedule (a
 * restic snapshot, then the retention and a prune) and each repository's weekly check, and
 * copies every volume now when the on-demand backup's id changes.
 */
export class OffsiteCopies extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: OffsiteCopiesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:OffsiteCopies", name, {}, opts);
    const { plan, secrets } = args;
    const volumes = [...new Set(plan.copies.map((copy) => copy.volume))];
    const state = new docker.Volume(`${name}-state`, { name: plan.stateVolume }, { parent: this });
    const container = new docker.Container(
      `${name}-container`,
      {
        name: plan.container,
        image: args.image,
        restart: "always",
        networkMode: "host",
        envs: [
          `OFFSITE_REPOSITORY=${plan.store.repositoryBase}`,
          `AWS_DEFAULT_REGION=${plan.store.region}`,
          `OFFSITE_KEEP=${plan.keep.join(" ")}`,
          `OFFSITE_SECRETS_DIR=${SECRETS_DIR}`,
        ],
        volumes: [
          { volumeName: state.name, containerPath: "/state" },
          ...volumes.map((volume) => ({ volumeName: volume, containerPath: `/volumes/${volume}`, readOnly: true })),
        ],
        uploads: [
          { file: SCHEDULE_FILE, content: offsiteSchedule(plan, args.timezone), permissions: "0644" },
          { file: `${SECRETS_DIR}/s3-access-key-id`, content: secrets.accessKeyId, permissions: "0600" },
          { file: `${SECRETS_DIR}/s3-secret-access-key`, content: secrets.secretAccessKey, permissions: "0600" },
          { file: `${SECRETS_DIR}/restic-password`, content: repositoryPassword(secrets), permissions: "0600" },
        ],
      },
      { parent: this, deleteBeforeReplace: true, dependsOn: volumes.flatMap((volume) => args.before?.[volume] ?? []) },
    );
    if (plan.backup !== undefined) {
      const copyArguments = plan.copies.flatMap((copy) => [copy.client, copy.volume, copy.allowEmpty ? "allow-empty" : "refuse-empty"]);
      script(
        `${name}-backup`,
        { script: pulumi.output(container.name).apply((c) => scriptFile(path.join(__dirname, "backup.sh"), [c, ...copyArguments])), environment: args.environment, triggers: [plan.backup.id] },
        { parent: this, dependsOn: [container] },
      );
    }
    this.containerName = container.name;
    this.registerOutputs({ containerName: this.containerName });
  }
}
