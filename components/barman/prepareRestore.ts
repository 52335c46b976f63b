import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import type { PrepareRestoreConfig } from "../../config/settings";
import { imageFromDirectory } from "../shared/dockerImage";
import { PREPARE_WORK_DIR } from "../privateer/layout";
import { script, scriptFile } from "../shared/script";

export interface PrepareRestoreArgs {
  settings: PrepareRestoreConfig;
  /** The barman container, running. */
  barmanContainer: pulumi.Input<string>;
  /** The volume mounted at /recover in it, a privateer `local` volume that targets restore from. */
  recoverVolume: pulumi.Input<string>;
  /** The privateer servers' containers on this engine, which serve the recover volume under the lock the swap takes. */
  servers: string[];
  environment: Record<string, string>;
}

const VOLUME_MOUNT = "/montagu-volume";
/** Where montagu-prepare (images/barman/prepare.sh) makes the copy, within the volume. */
const STAGING = `${PREPARE_WORK_DIR}/staging`;

/**
 * PostgreSQL reads recovery_target_time before it knows any zone abbreviation, `Z`
 * included: give it a numeric offset instead.
 */
export function recoveryTargetTime(isoTime: string): string {
  return isoTime.replace("T", " ").replace(/Z$/, "+00:00");
}

/**
 * A restorable copy of the database in the recovery volume, made when `id` changes: empty
 * the staging copy, `barman recover` the chosen backup (or to a point in time) into it, replay
 * the WAL by starting the database image on it until its recovery has ended, then stamp it and
 * put it in place of the volume's copy. Until that last step the volume keeps serving the
 * copy it had, so a failed prepare leaves the last finished copy. Each step is a command of
 * its own, in order, so `pulumi preview` lists them and a failure stops the rest.
 */
export class PrepareRestore extends pulumi.ComponentResource {
  /** When the copy was made (RFC 3339). */
  readonly preparedAt: pulumi.Output<string>;

  constructor(name: string, args: PrepareRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrepareRestore", name, {}, opts);
    const { settings } = args;
    const local = settings.database.image === "local";
    const image = local
      ? imageFromDirectory(`${name}-database-image`, "postgres", "montagu-backup/postgres:local", { parent: this }).repoDigest
      : pulumi.output(settings.database.image);
    const databaseArgs = settings.database.args ?? (local ? [] : ["/etc/montagu/postgresql.production.conf"]);

    let previous: pulumi.Resource[] = [];
    const step = (stepName: string, body: pulumi.Input<string>) => {
      const created = script(`${name}-${stepName}`, { script: body, environment: args.environment, triggers: [settings.id] }, { parent: this, dependsOn: previous });
      previous = [created];
      return created;
    };
    const inBarman = (...words: string[]) =>
      pulumi.output(args.barmanContainer).apply((container) => quote(["docker", "exec", container, "montagu-prepare", ...words]));

    step("wipe", inBarman("wipe", "/recover"));
    const target = settings.targetTime === undefined ? [] : ["--target-time", recoveryTargetTime(settings.targetTime)];
    const jobs = settings.jobs === undefined ? [] : ["--jobs", String(settings.jobs)];
    const from = settings.from === "offsite" ? ["--from-offsite"] : [];
    step("recover", inBarman("recover", "/recover", "--backup", settings.backup, ...target, ...jobs, ...from));
    step(
      "replay",
      pulumi.all([args.recoverVolume, image]).apply(([volume, databaseImage]) =>
        scriptFile(path.join(__dirname, "replay.sh"), [
          String(settings.replayTimeout), volume, VOLUME_MOUNT, `${VOLUME_MOUNT}/${STAGING}`, databaseImage, ...databaseArgs,
        ]),
      ),
    );
    // The stamp swaps the copy into the volume's place: nothing but barman and the servers may have it open.
    step(
      "in-use",
      pulumi.all([args.recoverVolume, args.barmanContainer]).apply(([volume, container]) =>
        scriptFile(path.join(__dirname, "swap-guard.sh"), [volume, container, ...args.servers], [path.join(__dirname, "..", "shared", "volume-users.sh")]),
      ),
    );
    const stamp = step("stamp", inBarman("stamp", "/recover"));
    this.preparedAt = stamp.stdout;
    this.registerOutputs({ preparedAt: this.preparedAt });
  }
}
