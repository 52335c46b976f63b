import * as pulumi from "@pulumi/pulumi";
import { script } from "../script";
import { restoreSource, VOLUMES_DIR } from "./layout";
import { rsyncWithProgress, transferScript } from "./transfer";

export interface RestoreEntry {
  server: string;
  volume: string;
  /** The client whose copy is restored; absent for a server-local volume. */
  source?: string;
  /** The volume restored into. */
  to: string;
}

export interface PrivateerRestoreArgs {
  /** Changing it runs the restore again. */
  id: string;
  client: string;
  volumes: RestoreEntry[];
  keyVolumeName: pulumi.Input<string>;
  image: pulumi.Input<string>;
  hostNetwork: boolean;
  environment: Record<string, string>;
}

/** privateer's `restore <volume> --server <server> [--source <client>] [--to-volume <to>]`, run when `id` changes. */
export class PrivateerRestore extends pulumi.ComponentResource {
  readonly steps: pulumi.Resource[] = [];

  constructor(name: string, args: PrivateerRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerRestore", name, {}, opts);
    for (const entry of args.volumes) {
      const from = entry.source === undefined ? `${entry.server} (local)` : `${entry.server}, source ${entry.source}`;
      const previous = this.steps[this.steps.length - 1];
      this.steps.push(
        script(
          `${name}-${entry.to}`,
          {
            script: pulumi.all([args.keyVolumeName, args.image]).apply(([keyVolume, image]) =>
              transferScript(`restore of ${entry.volume} from ${from} into ${entry.to} on ${args.client}`, {
                keyVolume,
                image,
                hostNetwork: args.hostNetwork,
                volumes: [{ volume: entry.to, readOnly: false }],
                command: rsyncWithProgress(restoreSource(entry.server, entry.volume, entry.source), `${VOLUMES_DIR}/${entry.to}/`),
              }),
            ),
            environment: args.environment,
            triggers: [args.id],
          },
          // In order, each after the one before: a failure stops the rest.
          { parent: this, dependsOn: previous === undefined ? [] : [previous] },
        ),
      );
    }
    this.registerOutputs({ id: args.id });
  }
}
