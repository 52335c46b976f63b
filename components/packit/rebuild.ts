import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { PackitRestoreConfig } from "../../config/settings";
import { script, scriptFile } from "../shared/script";

export interface PackitRestoreArgs {
  settings: PackitRestoreConfig;
  id: string;
  environment: Record<string, string>;
}

/** rebuild.sh with its arguments, and the shared guard it calls. */
export function rebuildScript(s: PackitRestoreConfig): string {
  const args = [s.image, s.dumpVolume, s.databaseVolume, s.user, s.database, String(s.waitSeconds), ...s.env];
  return scriptFile(path.join(__dirname, "rebuild.sh"), args, [path.join(__dirname, "..", "shared", "volume-users.sh")]);
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
        script: rebuildScript(s),
        environment: args.environment,
        triggers: [args.id],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
