import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { formatPath, settingsSchema, type Settings } from "./settings";

export const CONFIG_NAMESPACE = "montagu-backup";

export class InvalidSettingsError extends Error {
  constructor(
    readonly stack: string,
    readonly problems: string[],
  ) {
    super(
      `Stack '${stack}' is not valid, so nothing was declared. ` +
        `${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "InvalidSettingsError";
  }
}

/** `text` with its control characters (a newline, say) written as JSON escapes them. */
function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Pulumi stores structured config as JSON text; plain strings stay strings. */
function decode(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** This project's keys of the stack config, without their namespace, decoded. */
export function projectConfig(allConfig: Record<string, string>): Record<string, unknown> {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(allConfig)) {
    if (key.startsWith(prefix)) result[key.slice(prefix.length)] = decode(value);
  }
  return result;
}

/**
 * Validates stack config and the topology file it names in one pass, so that the user sees
 * every problem at once. `projectDir` anchors a relative topology path.
 */
export function validateSettings(stack: string, config: Record<string, unknown>, projectDir: string): Settings {
  const topologyPath = typeof config.topology === "string" ? config.topology : "privateer.json";
  let topology: unknown;
  try {
    topology = JSON.parse(fs.readFileSync(path.resolve(projectDir, topologyPath), "utf8"));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new InvalidSettingsError(stack, [`montagu-backup:topology: cannot read '${topologyPath}': ${reason}`]);
  }
  const result = settingsSchema.safeParse({ topology, config });
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => {
      const where = formatPath(issue.path);
      // An unknown key is reported on its parent; name the key itself.
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
      if (keys.length > 0) {
        return keys.map((key) => `${where === "" || where === "montagu-backup:" ? where : `${where}.`}${key}: unknown setting`);
      }
      return [`${where}: ${issue.message}`];
    });
    // One line per problem, whatever the input held: a control character is shown escaped.
    throw new InvalidSettingsError(stack, problems.map(escapeControl));
  }
  return result.data;
}

/** Reads and validates this stack's settings from the running Pulumi program. */
export function loadSettings(): Settings {
  const stack = pulumi.getStack();
  try {
    return validateSettings(stack, projectConfig(pulumi.runtime.allConfig()), process.cwd());
  } catch (error) {
    // RunError prints the message alone, without a stack trace that would bury it.
    if (error instanceof InvalidSettingsError) throw new pulumi.RunError(error.message);
    throw error;
  }
}
