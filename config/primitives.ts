import { CronExpressionParser } from "cron-parser";
import { z } from "zod";

// Docker's own rule for container and volume names: one character is a name.
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const dockerName = z
  .string()
  .regex(DOCKER_NAME, { error: (issue) => `'${String(issue.input)}' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)` });

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

const SNAPSHOT_NAME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Whether `name` is a history snapshot's name, `YYYYMMDDTHHMMSSZ`, of a real moment (UTC). */
export function isSnapshotName(name: string): boolean {
  const match = SNAPSHOT_NAME.exec(name);
  if (match === null) return false;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const moment = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 31 February over into March, hour 24 into the next day: a real moment round-trips.
  return (
    moment.getUTCFullYear() === year &&
    moment.getUTCMonth() === month - 1 &&
    moment.getUTCDate() === day &&
    moment.getUTCHours() === hour &&
    moment.getUTCMinutes() === minute &&
    moment.getUTCSeconds() === second
  );
}

/** A history snapshot to restore from: `latest`, or one by name such as 20261126T131500Z. */
export const snapshot = z.string().refine((value) => value === "latest" || isSnapshotName(value), {
  error: (issue) => `'${String(issue.input)}' is not latest or a snapshot name such as 20261126T131500Z (a real UTC date and time)`,
});
