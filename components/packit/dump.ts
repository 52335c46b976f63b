import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { PackitDumpConfig } from "../../config/settings";
import { script, scriptFile } from "../shared/script";

export interface PackitDumpArgs {
  settings: PackitDumpConfig;
  /** The push that carries the dump; the dump runs again whenever it does. */
  id: string;
  environment: Record<string, string>;
}

/** packit's database as a `pg_dump -Fc` in its dump volume, read back whole, made before that volume is pushed. */
export class PackitDump extends pulumi.ComponentResource {
  readonly dump: pulumi.Resource;

  constructor(name: string, args: PackitDumpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PackitDump", name, {}, opts);
    const s = args.settings;
    this.dump = script(
      `${name}-pg-dump`,
      {
        script: scriptFile(path.join(__dirname, "dump.sh"), [s.container, s.user, s.database]),
        environment: args.environment,
        triggers: [args.id],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
