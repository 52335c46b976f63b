import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StandInPrimaryConfig } from "../../config/settings";
import { imageFromDirectory } from "../shared/dockerImage";
import { SECRETS_DIR } from "../shared/host";

export const DATABASE_USERS = ["vimc", "barman", "streaming_barman"] as const;
export type DatabaseUser = (typeof DATABASE_USERS)[number];

export interface StandInPrimaryArgs {
  settings: StandInPrimaryConfig;
  /** One password per database user; secrets. */
  passwords: Record<DatabaseUser, pulumi.Input<string>>;
}

/**
 * A PostgreSQL primary for stacks that have no real montagu database (`local`, tests):
 * WAL level replica, replication slots, and the users `barman` and `streaming_barman`.
 * Passwords are uploaded as files rather than passed as environment variables, so that
 * `docker inspect` never shows them.
 */
export class StandInPrimary extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly volumeName: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  readonly database: pulumi.Output<string>;

  constructor(name: string, args: StandInPrimaryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:StandInPrimary", name, {}, opts);
    const { settings } = args;

    const image = imageFromDirectory(`${name}-image`, "postgres", "montagu-backup/postgres:local", { parent: this });
    const volume = new docker.Volume(`${name}-data`, { name: settings.volume }, { parent: this, retainOnDelete: true });

    const container = new docker.Container(
      `${name}-container`,
      {
        name: settings.container,
        // The image ID, so that a rebuilt image replaces the container.
        image: image.repoDigest,
        restart: "always",
        envs: [
          `MONTAGU_DB_NAME=${settings.database}`,
          // barman's WAL receiver names itself barman_receive_wal.
          ...(settings.synchronousBarman ? ["MONTAGU_DB_SYNCHRONOUS_STANDBY_NAMES=barman_receive_wal"] : []),
        ],
        ports: [{ internal: 5432, external: settings.port }],
        volumes: [{ volumeName: volume.name, containerPath: "/pgdata" }],
        uploads: DATABASE_USERS.map((user) => ({
          file: `${SECRETS_DIR}/${user}`,
          content: pulumi.secret(args.passwords[user]),
          permissions: "0600",
        })),
        // Dependent resources may connect as soon as the container exists.
        wait: true,
        waitTimeout: 300,
      },
      // The name is fixed, so the old container must go before its replacement comes.
      { parent: this, deleteBeforeReplace: true },
    );

    for (const volumeName of settings.applicationVolumes) {
      new docker.Volume(`${name}-application-${volumeName}`, { name: volumeName }, { parent: this, retainOnDelete: true });
    }

    this.containerName = container.name;
    this.volumeName = volume.name;
    this.port = pulumi.output(settings.port);
    this.database = pulumi.output(settings.database);
    this.registerOutputs({
      containerName: this.containerName,
      volumeName: this.volumeName,
      port: this.port,
      database: this.database,
    });
  }
}
