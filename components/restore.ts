import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import type { RestoreConfig } from "../config/settings";
import type { Topology } from "../config/topology";
import { PackitRestore } from "./packitRestore";
import type { PrivateerClient } from "./privateer/client";
import { transferClientOf } from "./privateer";
import { PrivateerRestore, type RestoreEntry } from "./privateer/restore";
import { script } from "./script";

export interface RestoreArgs {
  settings: RestoreConfig;
  topology: Topology;
  clients: Map<string, PrivateerClient>;
  environment: Record<string, string>;
}

/**
 * A restore onto this machine, as an explicit stack update: when `id` changes, stop what uses
 * the volumes, copy every volume from its server, start again, and run the verification
 * query. Each step waits for the one before; if one fails the update stops there, so nothing
 * is started on half-restored data, and running the update again resumes at the failed step.
 */
export class Restore extends pulumi.ComponentResource {
  /** What the verification query answered, when there is one. */
  readonly verification: pulumi.Output<string | undefined>;

  constructor(name: string, args: RestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:Restore", name, {}, opts);
    const { settings } = args;
    const step = (stepName: string, body: string, after: pulumi.Resource[]) =>
      script(`${name}-${stepName}`, { script: body, environment: args.environment, triggers: [settings.id] }, { parent: this, dependsOn: after });

    const byClient = new Map<string, RestoreEntry[]>();
    for (const entry of settings.volumes) {
      const { client } = transferClientOf(args.clients, entry.client);
      const local = args.topology.volumes.find((v) => v.name === entry.volume)?.local === true;
      const source = local ? undefined : (entry.source ?? args.topology.clients.find((c) => c.backup.includes(entry.volume))!.name);
      byClient.set(client, [
        ...(byClient.get(client) ?? []),
        { server: entry.server, volume: entry.volume, source, snapshot: entry.snapshot, allowEmpty: entry.allowEmpty, to: entry.to ?? entry.volume },
      ]);
    }
    const onEachClient = (stepName: string, checkOnly: boolean, after: pulumi.Resource[]) => {
      let last = after;
      for (const [client, volumes] of byClient) {
        const { component } = transferClientOf(args.clients, client);
        const transfer = new PrivateerRestore(
          `${name}-${stepName}${client}`,
          { id: settings.id, on: component.transfers, volumes, checkOnly },
          { parent: this, dependsOn: [...last, ...component.ready] },
        );
        last = transfer.done;
      }
      return last;
    };

    // Every source is looked at before anything on this machine changes: a refused one (empty,
    // unfinished, missing) fails the update while the services still run on their data.
    const checked = onEachClient("check-", true, []);
    const stop = step(
      "stop",
      [
        `for container in ${quote(settings.stop.length > 0 ? settings.stop : [""])}; do`,
        '  [ -n "$container" ] || continue',
        '  if docker container inspect "$container" >/dev/null 2>&1; then docker stop "$container" >/dev/null; echo "restore: stopped $container"',
        '  else echo "restore: $container does not exist, nothing to stop"; fi',
        "done",
      ].join("\n"),
      checked,
    );
    let last = onEachClient("", false, [stop]);

    if (settings.packit !== undefined) {
      last = [new PackitRestore(`${name}-packit`, { settings: settings.packit, id: settings.id, environment: args.environment }, { parent: this, dependsOn: last })];
    }

    const start = step(
      "start",
      [...settings.start.map((c) => `docker start ${quote([c])} >/dev/null && echo ${quote([`restore: started ${c}`])}`), "true"].join("\n"),
      last,
    );

    if (settings.verify !== undefined) {
      const v = settings.verify;
      const psql = quote(["docker", "exec", v.container, "psql", "-U", v.user, "-d", v.database, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", `--command=${v.query}`]);
      const verify = step(
        "verify",
        [
          // The database may still be starting: give it a minute to accept connections.
          "for attempt in $(seq 60); do",
          `  if answer=$(${psql} 2>&1); then printf '%s\\n' "$answer"; exit 0; fi`,
          "  sleep 1",
          "done",
          `echo "restore: the verification query failed: $answer" >&2`,
          "exit 1",
        ].join("\n"),
        [start],
      );
      this.verification = verify.stdout;
    } else {
      this.verification = pulumi.output(undefined);
    }
    this.registerOutputs({ verification: this.verification });
  }
}
