import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { run } from "../docker";
import type { RegisteredResource } from "../run";
import { PROJECT_DIR } from "../stackConfig";
import type { ApplierContext, Handler, Inputs, Outputs } from "./handler";

const TRAILING_NEWLINE = /\n$/;

export function commandHandlers(applier: ApplierContext): Record<string, Handler> {
  const runCommand = (script: string | undefined, inputs: Inputs, resource: RegisteredResource, previous: Outputs) =>
    runScript(applier.log, script, inputs, resource, previous);
  return {
    "command:local:Command": {
      mapped: ["create", "update", "delete", "environment", "triggers", "interpreter", "dir", "stdin", "logging", "addPreviousOutputInEnv"],
      create: (inputs, resource) => runCommand(inputs.create, inputs, resource, {}),
      // Changed triggers replace the command; any other change runs its update (or create) again.
      replaces: (previous, inputs) => !isDeepStrictEqual(previous.resource.inputs.triggers, inputs.triggers),
      update: (previous, inputs, resource) => runCommand(inputs.update ?? inputs.create, inputs, resource, previous.outputs),
      delete: async ({ resource, outputs }) => {
        if (resource.inputs.delete !== undefined) await runCommand(resource.inputs.delete, resource.inputs, resource, outputs);
      },
    },
  };
}

/** The command provider's run of one of a command's scripts (create, update or delete), `previous` its last outputs. */
async function runScript(log: (line: string) => void, script: string | undefined, inputs: Inputs, resource: RegisteredResource, previous: Outputs): Promise<Outputs> {
  if (script === undefined) return { stdout: "", stderr: "" };
  const [shell, ...shellArgs] = (inputs.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"];
  const env: NodeJS.ProcessEnv = { ...process.env, ...(inputs.environment ?? {}) };
  if (inputs.addPreviousOutputInEnv !== false && previous.stdout !== undefined) {
    env.PULUMI_COMMAND_STDOUT = String(previous.stdout);
    env.PULUMI_COMMAND_STDERR = String(previous.stderr);
  }
  log(`running ${resource.name}`);
  const result = await run(shell, [...shellArgs, script], {
    env,
    cwd: inputs.dir !== undefined ? path.resolve(PROJECT_DIR, inputs.dir) : PROJECT_DIR,
    input: inputs.stdin,
    allowFailure: true,
  });
  for (const line of `${result.stdout}${result.stderr}`.split("\n").filter(Boolean)) log(`  ${resource.name}: ${line}`);
  if (result.code !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`command exited ${result.code}:\n${tail}`);
  }
  return { stdout: result.stdout.replace(TRAILING_NEWLINE, ""), stderr: result.stderr.replace(TRAILING_NEWLINE, "") };
}
