import * as pulumi from "@pulumi/pulumi";
import { script } from "../shared/script";
import { restoreCommand, type RestoreSource, type TransferClient, transferOn } from "./transfer";

export interface RestoreEntry extends RestoreSource {
  /** The volume restored into. */
  to: string;
}

export interface PrivateerRestoreArgs {
  /** Changing it runs the restore again. */
  id: string;
  on: TransferClient;
  volumes: RestoreEntry[];
  /** Only check that every source may be restored, and say what it holds; copy nothing. */
  checkOnly?: boolean;
}

function describe(entry: RestoreEntry, client: string): string {
  const from = entry.source === undefined ? `${entry.server} (local)` : `${entry.server}, source ${entry.source}`;
  const snapshot = entry.snapshot === undefined ? "" : `, snapshot ${entry.snapshot}`;
  return `restore of ${entry.volume} from ${from}${snapshot} into ${entry.to} on ${client}`;
}

/**
 * privateer's `restore <volume> --server <server> [--source <client>] [--to-volume <to>]`, run
 * when `id` changes; or, with `checkOnly`, the look at every source that comes before anything
 * on the target changes.
 */
export class PrivateerRestore extends pulumi.ComponentResource {
  /** The last step: what comes after the restore waits for it. */
  readonly done: pulumi.Resource[];

  constructor(name: string, args: PrivateerRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerRestore", name, {}, opts);
    const client = args.on;
    const check = args.checkOnly === true;
    let previous: pulumi.Resource | undefined;
    for (const entry of args.volumes) {
      previous = script(
        `${name}-${entry.to}`,
        {
          script: transferOn(
            client,
            `${check ? "check before the " : ""}${describe(entry, client.name)}`,
            check ? [] : [{ volume: entry.to, readOnly: false }],
            restoreCommand(entry, entry.to, check),
            !check,
          ),
          environment: client.environment,
          triggers: [args.id],
        },
        // In order, each after the one before: a failure stops the rest.
        { parent: this, dependsOn: previous === undefined ? [] : [previous] },
      );
    }
    this.done = previous === undefined ? [] : [previous];
    this.registerOutputs({ id: args.id });
  }
}
