import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import type { PackitRestoreConfig } from "../../config/settings";
import { script } from "../shared/script";

export interface PackitRestoreArgs {
  settings: PackitRestoreConfig;
  id: string;
  environment: Record<string, string>;
}

const CONTAINER = "packit-db-restore";

/**
 * packit's database rebuilt from its restored dump, as the runbook does it: empty the
 * database volume, start the database image on it with the dump read-only at /pgbackup, wait
 * until it is up, `pg_restore --exit-on-error --no-owner`, stop it. One script, each step
 * after the one before; any failure fails the update before anything is started.
 */
export class PackitRestore extends pulumi.ComponentResource {
  readonly restore: pulumi.Resource;

  constructor(name: string, args: PackitRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PackitRestore", name, {}, opts);
    const s = args.settings;
    const envs = s.env.flatMap((e) => ["--env", e]);
    this.restore = script(
      `${name}-pg-restore`,
      {
        script: [
          `docker rm --force ${CONTAINER} >/dev/null 2>&1 || true`,
          `trap 'docker rm --force ${CONTAINER} >/dev/null 2>&1 || true' EXIT`,
          // Before the database is touched: a missing or unreadable dump leaves it as it is.
          `echo ${quote([`packit: checking the dump in ${s.dumpVolume}`])}`,
          `if ! listed=$(${quote(["docker", "run", "--rm", "--volume", `${s.dumpVolume}:/pgbackup:ro`, "--entrypoint", "pg_restore", s.image, "--list", "/pgbackup/packit"])} 2>&1); then`,
          `  echo ${quote([`packit: refused: volume ${s.dumpVolume} holds no readable dump (/pgbackup/packit); ${s.databaseVolume} is left as it is:`])} "$(printf '%s' "$listed" | tail -3)" >&2`,
          "  exit 3",
          "fi",
          `echo "packit: the dump lists $(grep -c '^[0-9]' <<<"$listed") entries"`,
          `echo ${quote([`packit: emptying ${s.databaseVolume}`])}`,
          quote(["docker", "run", "--rm", "--volume", `${s.databaseVolume}:/pgdata`, "--entrypoint", "find", s.image, "/pgdata", "-mindepth", "1", "-delete"]),
          `echo ${quote([`packit: starting an empty ${s.database} database`])}`,
          quote([
            "docker", "run", "--detach", "--name", CONTAINER,
            "--volume", `${s.dumpVolume}:/pgbackup:ro`, "--volume", `${s.databaseVolume}:/pgdata`, ...envs, s.image,
          ]) + " >/dev/null",
          `for waited in $(seq ${s.waitSeconds}); do`,
          `  if ${quote(["docker", "exec", CONTAINER, "psql", "-U", s.user, "-d", s.database, "-Atc", "SELECT 1"])} >/dev/null 2>&1; then break; fi`,
          `  [ "$waited" -lt ${s.waitSeconds} ] || { echo "packit: the database did not start"; docker logs --tail 30 ${CONTAINER}; exit 1; } >&2`,
          "  sleep 1",
          "done",
          `echo ${quote([`packit: pg_restore into ${s.database}`])}`,
          quote(["docker", "exec", CONTAINER, "pg_restore", "--verbose", "--exit-on-error", "--no-owner", "-d", s.database, "-U", s.user, "/pgbackup/packit"]) + " 2>&1",
          `docker stop ${CONTAINER} >/dev/null`,
          'echo "packit: restored"',
        ].join("\n"),
        environment: args.environment,
        triggers: [args.id],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
