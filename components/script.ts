import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface ScriptArgs {
  /** Bash, run with `set -euo pipefail`; what it prints goes to the update log. */
  script: pulumi.Input<string>;
  /** What points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
  /** It runs when created, and again only when one of these changes. */
  triggers: pulumi.Input<unknown>[];
}

/** An imperative step: a short bash script that the command provider runs where `pulumi up` runs. */
export function script(name: string, args: ScriptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
  return new command.local.Command(
    name,
    {
      create: pulumi.output(args.script).apply((body) => `set -euo pipefail\n${body}`),
      interpreter: ["/bin/bash", "-c"],
      environment: args.environment,
      triggers: args.triggers,
    },
    opts,
  );
}
