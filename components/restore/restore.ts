import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { RestorePlan } from "../../config/plan";
import { OffsiteRestore, type OffsiteSource } from "../offsite/offsiteRestore";
import { PackitRestore } from "../packit/rebuild";
import type { PrivateerClient } from "../privateer/client";
import { PrivateerRestore } from "../privateer/pull";
import { script, scriptFile } from "../shared/script";

/** The restored database may still be starting: how long the verification query is retried. */
const VERIFY_SECONDS = 60;
/** The functions stop.sh and stopped.sh share. */
const RUNNING = path.join(__dirname, "running.sh");
const VOLUME_USERS = path.join(__dirname, "..", "shared", "volume-users.sh");

export interface RestoreArgs {
  plan: RestorePlan;
  /** The client that runs each client's transfers, by name. */
  clients: Map<string, PrivateerClient>;
  environment: Record<string, string>;
  /** Where the restores from off-site read; needed when the plan has any. */
  offsite?: OffsiteSource;
}

/**
 * A restore onto this machine, as an explicit stack update: when `id` changes, check every
 * source, stop what uses the volumes (refusing when something it does not stop uses them, or
 * when what it stopped comes back), copy every volume from its server, check that what was
 * stopped stayed stopped, start again (each container must stay up), and run the
 * verification query. Each step waits for the one before; if one fails the update stops there, so nothing
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
      if (plan.offsite.length > 0) {
        if (args.offsite === undefined) throw new Error("restore: volumes from off-site, and no off-site store on this stack");
        const transfer = new OffsiteRestore(
          `${name}-${stepName}offsite`,
          { id: plan.id, transfers: plan.offsite, source: args.offsite, environment: args.environment, checkOnly },
          { parent: this, dependsOn: last },
        );
        last = transfer.done;
      }
      return last;
    };

    // Every source is looked at before anything on this machine changes: a refused one (empty,
    // unfinished, missing) fails the update while the services still run on their data.
    const checked = onEachClient("check-", true, []);
    const stop = step("stop", scriptFile(path.join(__dirname, "stop.sh"), [String(plan.settleSeconds), ...plan.stop, "--", ...plan.targetVolumes], [RUNNING, VOLUME_USERS]), checked);
    let last = onEachClient("", false, [stop]);

    if (plan.packit !== undefined) {
      last = [new PackitRestore(`${name}-packit`, { settings: plan.packit, id: plan.id, environment: args.environment }, { parent: this, dependsOn: last })];
    }

    const stayedStopped = step("stopped", scriptFile(path.join(__dirname, "stopped.sh"), plan.stop, [RUNNING]), last);
    const start = step("start", scriptFile(path.join(__dirname, "start.sh"), [String(plan.settleSeconds), ...plan.start]), [stayedStopped]);

    if (plan.verify !== undefined) {
      const v = plan.verify;
      const verify = step("verify", scriptFile(path.join(__dirname, "verify.sh"), [String(VERIFY_SECONDS), v.container, v.user, v.database, `--command=${v.query}`]), [start]);
      this.verification = verify.stdout;
    } else {
      this.verification = pulumi.output(undefined);
    }
    this.registerOutputs({ verification: this.verification });
  }
}
