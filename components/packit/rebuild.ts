import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { PackitRestoreConfig } from "../../config/settings";
import { script, scriptFile } from "../shared/script";

export interface PackitRestoreArgs {
  settings: PackitRestoreConfig;
  id: string;
  environment: Record<string, string>;
}

/** packit's database rebuilt from its restored dump (rebuild.sh says how), when the restore's id changes. */
export class PackitRestore extends pulumi.ComponentResource {
  readonly restore: pulumi.Resource;

  constructor(name: string, args: PackitRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PackitRestore", name, {}, opts);
    const s = args.settings;
    this.restore = script(
      `${name}-pg-restore`,
      {
        script: scriptFile(path.join(__dirname, "rebuild.sh"), [s.image, s.dumpVolume, s.databaseVolume, s.user, s.database, String(s.waitSeconds), ...s.env]),
        environment: args.environment,
        triggers: [args.id],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
