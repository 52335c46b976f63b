import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import type { RestorePlan } from "../../config/plan";
import { PackitRestore } from "../packit/rebuild";
import type { PrivateerClient } from "../privateer/client";
import { PrivateerRestore } from "../privateer/pull";
import { script } from "../shared/script";

export interface RestoreArgs {
  plan: RestorePlan;
  /** The client that runs each client's transfers, by name. */
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
    const { plan } = args;
    const step = (stepName: string, body: string, after: pulumi.Resource[]) =>
      script(`${name}-${stepName}`, { script: body, environment: args.environment, triggers: [plan.id] }, { parent: this, dependsOn: after });

    const onEachClient = (stepName: string, checkOnly: boolean, after: pulumi.Resource[]) => {
      let last = after;
      for (const { client, transfers: volumes } of plan.byClient) {
        const component = args.clients.get(client);
        if (component === undefined) throw new Error(`restore: client '${client}' is not provisioned by this stack`);
        const transfer = new PrivateerRestore(
          `${name}-${stepName}${client}`,
          { id: plan.id, on: component.transfers, volumes, checkOnly },
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
        `for container in ${quote(plan.stop.length > 0 ? plan.stop : [""])}; do`,
        '  [ -n "$container" ] || continue',
        '  if docker container inspect "$container" >/dev/null 2>&1; then docker stop "$container" >/dev/null; echo "restore: stopped $container"',
        '  else echo "restore: $container does not exist, nothing to stop"; fi',
        "done",
      ].join("\n"),
      checked,
    );
    let last = onEachClient("", false, [stop]);

    if (plan.packit !== undefined) {
      last = [new PackitRestore(`${name}-packit`, { settings: plan.packit, id: plan.id, environment: args.environment }, { parent: this, dependsOn: last })];
    }

    const start = step(
      "start",
      [...plan.start.map((c) => `docker start ${quote([c])} >/dev/null && echo ${quote([`restore: started ${c}`])}`), "true"].join("\n"),
      last,
    );

    if (plan.verify !== undefined) {
      const v = plan.verify;
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
