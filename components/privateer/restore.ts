import * as pulumi from "@pulumi/pulumi";
import { script } from "../script";
import { restoreSource } from "./layout";
import { restoreCommand, type TransferClient, transferOn } from "./transfer";

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
  on: TransferClient;
  volumes: RestoreEntry[];
}

/** privateer's `restore <volume> --server <server> [--source <client>] [--to-volume <to>]`, run when `id` changes. */
export class PrivateerRestore extends pulumi.ComponentResource {
  constructor(name: string, args: PrivateerRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerRestore", name, {}, opts);
    const client = args.on;
    let previous: pulumi.Resource | undefined;
    for (const entry of args.volumes) {
      const from = entry.source === undefined ? `${entry.server} (local)` : `${entry.server}, source ${entry.source}`;
      previous = script(
        `${name}-${entry.to}`,
        {
          script: transferOn(
            client,
            `restore of ${entry.volume} from ${from} into ${entry.to} on ${client.name}`,
            [{ volume: entry.to, readOnly: false }],
            restoreCommand(restoreSource(entry.server, entry.volume, entry.source), entry.to),
          ),
          environment: client.environment,
          triggers: [args.id],
        },
        // In order, each after the one before: a failure stops the rest.
        { parent: this, dependsOn: previous === undefined ? [] : [previous] },
      );
    }
    this.registerOutputs({ id: args.id });
  }
}
