import { CronExpressionParser } from "cron-parser";
import { z } from "zod";

// Docker's own rule for container and volume names.
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export const dockerName = z
  .string()
  .regex(DOCKER_NAME, { error: (issue) => `'${String(issue.input)}' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)` });

export const port = z
  .number({ error: "must be a port number" })
  .int({ error: "must be a whole number" })
  .min(1, { error: (issue) => `port ${String(issue.input)} is out of range 1-65535` })
  .max(65535, { error: (issue) => `port ${String(issue.input)} is out of range 1-65535` });

// The nicknames the schedulers we run (yacron, via python-crontab) understand.
const CRON_NICKNAMES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

/** Why `expression` is not a schedule that yacron runs, or undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (trimmed.startsWith("@")) {
    return CRON_NICKNAMES.has(trimmed) ? undefined : `unknown cron nickname '${trimmed}'`;
  }
  const fields = trimmed.split(/\s+/).filter((field) => field.length > 0);
  if (fields.length !== 5) {
    return `cron expression '${expression}' must have five fields (minute hour day month weekday), found ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(trimmed, { strict: false });
    return undefined;
  } catch (error) {
    return `cron expression '${expression}' does not parse: ${(error as Error).message}`;
  }
}

export const cron = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
