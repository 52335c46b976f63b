import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import type { PackitDumpConfig } from "../../config/settings";
import { script } from "../shared/script";

export interface PackitDumpArgs {
  settings: PackitDumpConfig;
  /** The push that carries the dump; the dump runs again whenever it does. */
  id: string;
  environment: Record<string, string>;
}

/** packit's database as a `pg_dump -Fc` in its dump volume, made before that volume is pushed. */
export class PackitDump extends pulumi.ComponentResource {
  readonly dump: pulumi.Resource;

  constructor(name: string, args: PackitDumpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PackitDump", name, {}, opts);
    const s = args.settings;
    this.dump = script(
      `${name}-pg-dump`,
      {
        script: [
          `echo ${quote([`packit: dumping ${s.database} in ${s.container} to /pgbackup/packit`])}`,
          // Into a temporary file first: an interrupted dump never replaces a good one.
          quote(["docker", "exec", s.container, "pg_dump", "-U", s.user, "-Fc", s.database, "-f", "/pgbackup/packit.partial"]),
          quote(["docker", "exec", s.container, "mv", "/pgbackup/packit.partial", "/pgbackup/packit"]),
          quote(["docker", "exec", s.container, "ls", "-l", "/pgbackup/packit"]),
        ].join("\n"),
        environment: args.environment,
        triggers: [args.id],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
