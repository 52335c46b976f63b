import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { OffsiteRestoreTransfer, OffsiteStore } from "../../config/plan";
import { script, scriptFile } from "../shared/script";
import { offsiteEnvironment, type OffsiteSecrets } from "./store";

/** What an off-site restore needs on the restoring stack: the store, its secrets, and the image that reads it. */
export interface OffsiteSource {
  store: OffsiteStore;
  secrets: OffsiteSecrets;
  image: pulumi.Input<string>;
}

export interface OffsiteRestoreArgs {
  id: string;
  transfers: OffsiteRestoreTransfer[];
  source: OffsiteSource;
  /** What points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
  /** Only look that each snapshot is there and holds files; copy nothing. */
  checkOnly: boolean;
}

/** Volumes restored from their off-site repositories, one after another; or, with `checkOnly`, their snapshots looked at. */
export class OffsiteRestore extends pulumi.ComponentResource {
  /** The last step: what comes after waits for it. */
  readonly done: pulumi.Resource[];

  constructor(name: string, args: OffsiteRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:OffsiteRestore", name, {}, opts);
    const environment = { ...args.environment, ...offsiteEnvironment(args.source.store, args.source.secrets) };
    let last: pulumi.Resource[] = [];
    for (const transfer of args.transfers) {
      const step = script(
        `${name}-${transfer.to}`,
        {
          script: pulumi
            .output(args.source.image)
            .apply((image) =>
              scriptFile(path.join(__dirname, "restore.sh"), [
                image,
                transfer.source,
                transfer.volume,
                transfer.snapshot,
                transfer.to,
                transfer.allowEmpty ? "allow-empty" : "refuse-empty",
                args.checkOnly ? "check" : "restore",
              ]),
            ),
          environment,
          triggers: [args.id],
        },
        { parent: this, dependsOn: last },
      );
      last = [step];
    }
    this.done = last;
    this.registerOutputs({});
  }
}
