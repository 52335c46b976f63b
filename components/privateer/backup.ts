import * as pulumi from "@pulumi/pulumi";
import { script } from "../script";
import { VOLUMES_DIR } from "./layout";
import { rsyncWithProgress, transferScript } from "./transfer";

export interface PrivateerBackupArgs {
  /** Changing it runs the backup again. */
  id: string;
  client: string;
  server: string;
  volumes: string[];
  keyVolumeName: pulumi.Input<string>;
  image: pulumi.Input<string>;
  hostNetwork: boolean;
  environment: Record<string, string>;
  /** What must be done before a volume is pushed (its database dumped, say), by volume. */
  before?: Record<string, pulumi.Resource[]>;
}

/** privateer's `backup <volume> --server <server>`, run when `id` changes. */
export class PrivateerBackup extends pulumi.ComponentResource {
  constructor(name: string, args: PrivateerBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerBackup", name, {}, opts);
    let previous: pulumi.Resource | undefined;
    for (const volume of args.volumes) {
      // One volume at a time: parallel pushes would only compete for the same link.
      previous = script(
        `${name}-${volume}`,
        {
          script: pulumi.all([args.keyVolumeName, args.image]).apply(([keyVolume, image]) =>
            transferScript(`backup of ${volume} from ${args.client} to ${args.server}`, {
              keyVolume,
              image,
              hostNetwork: args.hostNetwork,
              volumes: [{ volume, readOnly: true }],
              command: rsyncWithProgress(`${VOLUMES_DIR}/${volume}`, `${args.server}:${VOLUMES_DIR}/${args.client}`),
            }),
          ),
          environment: args.environment,
          triggers: [args.id],
        },
        { parent: this, dependsOn: [...(previous === undefined ? [] : [previous]), ...(args.before?.[volume] ?? [])] },
      );
    }
    this.registerOutputs({ id: args.id });
  }
}
