import * as fs from "node:fs";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";

export interface ScriptArgs {
  /** Bash, run with `set -euo pipefail`; what it prints goes to the update log. */
  script: pulumi.Input<string>;
  /** What points the docker CLI at the stack's engine (and secrets the script hands on, by name). */
  environment: Record<string, pulumi.Input<string>>;
  /** It runs when created, and again only when one of these changes. */
  triggers: pulumi.Input<unknown>[];
}

/**
 * The command provider (1.x) runs a command's `update` whenever any input other than
 * `triggers` changes (an edited script, a rebuilt image in it, a new DOCKER_HOST), and `create`
 * again when it has no `update`; a changed trigger replaces the command, which runs `create`.
 * A step that ran with an id has done its work: its update records the new script for the next
 * id and keeps what the step printed (its outputs), running nothing. The update log shows only
 * a step's stderr (`logging`), so that such an update says it ran nothing, and its kept output
 * is not printed again as if the step had run.
 */
export const KEEP_RESULT = `echo "not run: this step ran with its id and runs again only when the id changes; its last result is kept" >&2\nprintf '%s' "\${PULUMI_COMMAND_STDOUT:-}"`;

/**
 * What a step's create runs: the body under `set -euo pipefail`, with what it prints on stdout
 * (its result, which the stack's outputs read) copied to stderr, the stream the log shows.
 */
export function stepBody(body: string): string {
  return `set -euo pipefail\nexec > >(tee >(cat >&2))\n${body}`;
}

/** An imperative step: a short bash script that the command provider runs where `pulumi up` runs. */
export function script(name: string, args: ScriptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
  return new command.local.Command(
    name,
    {
      create: pulumi.output(args.script).apply(stepBody),
      update: KEEP_RESULT,
      interpreter: ["/bin/bash", "-c"],
      environment: args.environment,
      triggers: args.triggers,
      logging: "stderr",
    },
    opts,
  );
}

/**
 * A script file beside a component (`set -euo pipefail` and its usage at its top, checked by
 * shellcheck in the unit tests) as a step's body, given its arguments, each quoted, with the
 * functions of `libraries` (files of functions only, shared by several steps) defined before
 * it. Read when a stack runs, so that what runs is the files as they are then.
 */
export function scriptFile(file: string, args: string[], libraries: string[] = []): string {
  const read = (path: string) => fs.readFileSync(path, "utf8");
  return [`set -- ${quote(args)}`, ...libraries.map(read), read(file)].join("\n");
}
