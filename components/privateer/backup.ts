import * as pulumi from "@pulumi/pulumi";
import { script } from "../shared/script";
import { pushCommand, type TransferClient, transferOn } from "./transfer";

export interface PrivateerBackupArgs {
  /** Changing it runs the backup again. */
  id: string;
  on: TransferClient;
  server: string;
  volumes: { volume: string; allowEmpty: boolean }[];
  /** What must be done before a volume is pushed (its database dumped, say), by volume. */
  before?: Record<string, pulumi.Resource[]>;
}

/** privateer's `backup <volume> --server <server>`, run when `id` changes. */
export class PrivateerBackup extends pulumi.ComponentResource {
  constructor(name: string, args: PrivateerBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerBackup", name, {}, opts);
    const { on: client, server } = args;
    let previous: pulumi.Resource | undefined;
    for (const { volume, allowEmpty } of args.volumes) {
      // One volume at a time: parallel pushes would only compete for the same link.
      previous = script(
        `${name}-${volume}`,
        {
          script: transferOn(
            client,
            `backup of ${volume} from ${client.name} to ${server}`,
            [{ volume, readOnly: true }],
            pushCommand(volume, server, client.name, allowEmpty),
          ),
          environment: client.environment,
          triggers: [args.id],
        },
        { parent: this, dependsOn: [...(previous === undefined ? [] : [previous]), ...(args.before?.[volume] ?? [])] },
      );
    }
    this.registerOutputs({ id: args.id });
  }
}
