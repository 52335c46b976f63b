import * as path from "node:path";
import { run } from "../docker";
import type { RegisteredResource } from "../run";
import { PROJECT_DIR } from "../stackConfig";
import type { ApplierContext, Handler, Inputs, Outputs } from "./handler";

const TRAILING_NEWLINE = /\n$/;

// pulumi-command 1.x's local Command (provider/pkg/provider/local in pulumi/pulumi-command):
// - its Diff calls every change an update: a replacement comes only from the registration's
//   replaceOnChanges (the SDK registers `triggers[*]`), which the applier applies to all types;
// - Update runs `update`, or `create` again without one, with the old stdout and stderr in
//   PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR (each only when not empty) unless
//   addPreviousOutputInEnv is false; the outputs become what that run printed;
// - `logging` chooses which of stdout and stderr reach the update log (both by default);
// - a failed run fails the step with the command's combined output.
export function commandHandlers(applier: ApplierContext): Record<string, Handler> {
  const runCommand = (script: string | undefined, inputs: Inputs, resource: RegisteredResource, previous: Outputs) =>
    runScript(applier.log, script, inputs, resource, previous);
  return {
    "command:local:Command": {
      mapped: ["create", "update", "delete", "environment", "triggers", "interpreter", "dir", "stdin", "logging", "addPreviousOutputInEnv"],
      create: (inputs, resource) => runCommand(inputs.create, inputs, resource, {}),
      replaces: () => false,
      update: (previous, inputs, resource) => runCommand(inputs.update ?? inputs.create, inputs, resource, previous.outputs),
      delete: async ({ resource, outputs }) => {
        if (resource.inputs.delete !== undefined) await runCommand(resource.inputs.delete, resource.inputs, resource, outputs);
      },
    },
  };
}

type Logging = "stdout" | "stderr" | "stdoutAndStderr" | "none";

/** The command provider's run of one of a command's scripts (create, update or delete), `previous` its last outputs. */
async function runScript(log: (line: string) => void, script: string | undefined, inputs: Inputs, resource: RegisteredResource, previous: Outputs): Promise<Outputs> {
  if (script === undefined) return { stdout: previous.stdout ?? "", stderr: previous.stderr ?? "" };
  const [shell, ...shellArgs] = (inputs.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"];
  const env: NodeJS.ProcessEnv = { ...process.env, ...(inputs.environment ?? {}) };
  delete env.PULUMI_COMMAND_STDOUT;
  delete env.PULUMI_COMMAND_STDERR;
  if (inputs.addPreviousOutputInEnv !== false) {
    if (typeof previous.stdout === "string" && previous.stdout !== "") env.PULUMI_COMMAND_STDOUT = previous.stdout;
    if (typeof previous.stderr === "string" && previous.stderr !== "") env.PULUMI_COMMAND_STDERR = previous.stderr;
  }
  const logging = (inputs.logging as Logging | undefined) ?? "stdoutAndStderr";
  const logged = new Set<string>([...(logging === "stdout" || logging === "stdoutAndStderr" ? ["stdout"] : []), ...(logging === "stderr" || logging === "stdoutAndStderr" ? ["stderr"] : [])]);
  log(`running ${resource.name}`);
  // Each line as the script prints it, as the provider streams it to the update's log: an
  // rsync's progress is seen while it copies.
  const result = await run(shell, [...shellArgs, script], {
    env,
    cwd: inputs.dir !== undefined ? path.resolve(PROJECT_DIR, inputs.dir) : PROJECT_DIR,
    input: inputs.stdin,
    allowFailure: true,
    onLine: (line, stream) => {
      if (line !== "" && logged.has(stream)) log(`  ${resource.name}: ${line}`);
    },
  });
  if (result.code !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`command exited ${result.code}:\n${tail}`);
  }
  return { stdout: result.stdout.replace(TRAILING_NEWLINE, ""), stderr: result.stderr.replace(TRAILING_NEWLINE, "") };
}
