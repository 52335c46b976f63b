import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import { stringify } from "yaml";
import type { DumpsPlan } from "../../config/plan";
import { imageFromDirectory } from "../shared/dockerImage";
import { SECRETS_DIR } from "../shared/host";
import { databasePassword } from "../shared/passwords";

export interface DumpsArgs {
  plan: DumpsPlan;
  timezone: string;
}

const DUMPS_DIR = "/dumps";
const SCHEDULE_FILE = "/etc/montagu/schedule.yml";
const PGPASS = `${SECRETS_DIR}/pgpass`;

/** The scheduler's file: one job per database, each a `montagu-dump` (images/dumps/dump.py). */
export function dumpSchedule(plan: DumpsPlan, timezone: string): string {
  return stringify({
    defaults: { timezone },
    jobs: plan.databases.map((db) => ({
      name: `dump-${db.database}`,
      command: quote(["montagu-dump", DUMPS_DIR, db.database, plan.name, db.host, String(db.port), db.user, String(plan.keep.days), String(plan.keep.weeks)]),
      schedule: plan.schedule,
    })),
  });
}

/** A `.pgpass` line: `:` and `\` in a field are escaped, as libpq reads them. */
const pgpassField = (value: string) => value.replace(/[\\:]/g, (c) => `\\${c}`);

/**
 * Scheduled logical dumps on a client: a container running each database's dump on the
 * schedule, into a volume of their own that is kept on destroy and pushed like any other.
 */
export class Dumps extends pulumi.ComponentResource {
  readonly volumeName: pulumi.Output<string>;
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: DumpsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:Dumps", name, {}, opts);
    const { plan } = args;
    const image = imageFromDirectory(`${name}-image`, "dumps", "montagu-backup/dumps:local", { parent: this });
    const volume = new docker.Volume(`${name}-volume`, { name: plan.volume }, { parent: this, retainOnDelete: true });
    const pgpass = pulumi
      .all(plan.databases.map((db) => databasePassword(db.passwordGroup, db.user, { parent: this })))
      .apply((passwords) =>
        plan.databases.map((db, i) => [db.host, String(db.port), db.database, db.user, passwords[i]].map(pgpassField).join(":")).join("\n") + "\n",
      );
    const container = new docker.Container(
      `${name}-container`,
      {
        name: plan.container,
        image: image.repoDigest,
        restart: "always",
        networkMode: plan.network ?? "host",
        envs: [`PGPASSFILE=${PGPASS}`],
        volumes: [{ volumeName: volume.name, containerPath: DUMPS_DIR }],
        uploads: [
          { file: SCHEDULE_FILE, content: dumpSchedule(plan, args.timezone), permissions: "0644" },
          { file: PGPASS, content: pulumi.secret(pgpass), permissions: "0600" },
        ],
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.volumeName = volume.name;
    this.containerName = container.name;
    this.registerOutputs({ volumeName: this.volumeName, containerName: this.containerName });
  }
}
