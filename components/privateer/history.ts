import * as fs from "node:fs";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import { stringify } from "yaml";
import type { HistoryConfig } from "../../config/settings";
import { IMAGES_DIR } from "../shared/dockerImage";
import { VOLUMES_DIR } from "./layout";

export interface PrivateerHistoryArgs {
  settings: HistoryConfig;
  timezone: string;
  /** The server's container name; the history's is derived from it. */
  serverContainer: string;
  dataVolumeName: pulumi.Input<string>;
  /** An image with privateer-scheduler (images/privateer/server). */
  image: pulumi.Input<string>;
}

const HOME = "/etc/privateer-history";
/**
 * A copy that changed less than this many seconds ago is left for the next round: a push from
 * the privateer CLI, which takes no lock, may be under way.
 */
const SETTLE_SECONDS = 120;

/** The schedule of the server's history (yacron format, as privateer-scheduler runs it). */
export function historySchedule(settings: HistoryConfig, timezone: string): string {
  const command = ["bash", `${HOME}/history.sh`, "scheduled", VOLUMES_DIR, "--daily", `${settings.daily}`, "--weekly", `${settings.weekly}`, "--settle", `${SETTLE_SECONDS}`];
  return stringify({ defaults: { timezone }, jobs: [{ name: "history", command: quote(command), schedule: settings.schedule }] });
}

/**
 * The server's own history of every copy it holds, pushed by our stacks or by the privateer
 * CLI: on its schedule, a hard-link snapshot of each copy that changed, and retention. Our
 * pushes, on demand (copy.sh) and scheduled (privateer-scheduler), keep the copy they replace
 * at once; this covers the rest.
 */
export class PrivateerHistory extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: PrivateerHistoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerHistory", name, {}, opts);
    const container = new docker.Container(
      `${name}-container`,
      {
        name: `${args.serverContainer}_history`,
        image: args.image,
        restart: "always",
        command: ["privateer-scheduler", `${HOME}/schedule.yml`],
        volumes: [{ volumeName: args.dataVolumeName, containerPath: VOLUMES_DIR }],
        uploads: [
          { file: `${HOME}/history.sh`, content: fs.readFileSync(path.join(IMAGES_DIR, "privateer", "server", "history.sh"), "utf8"), permissions: "0644" },
          { file: `${HOME}/schedule.yml`, content: historySchedule(args.settings, args.timezone), permissions: "0644" },
        ],
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.containerName = container.name;
    this.registerOutputs({ containerName: this.containerName });
  }
}
