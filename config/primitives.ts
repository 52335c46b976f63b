import { z } from "zod";

// Docker's own rule for container and volume names: one character is a name.
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const dockerName = z
  .string()
  .regex(DOCKER_NAME, { error: (issue) => `'${String(issue.input)}' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)` })
  .meta({ title: "Docker name", description: "A container or volume name as Docker takes it: a letter or digit, then letters, digits, '_', '.' and '-'." });

// Free text never reaches a file or a command line: each field takes the narrowest form its
// real values have. None of these forms can hold whitespace, a quote, a shell metacharacter
// or a leading `-`.

const HOST_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
const IPV6 = /^[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}$/;

export const hostName = z.string().refine((value) => HOST_NAME.test(value) || IPV6.test(value), {
  error: (issue) => `'${String(issue.input)}' is not a host name (letters, digits and '-' in dot-separated labels) or an IP address`,
}).meta({ title: "host name", description: "A DNS host name, an IPv4 address (which has that form) or an IPv6 one: what ssh's `HostName` and libpq's `host` take." });

// Docker's grammar of references (distribution/reference): [domain[:port]/]path[:tag][@digest].
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}";
const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*` +
    `(?::${TAG})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

export const imageReference = z.string().regex(IMAGE_REFERENCE, {
  error: (issue) => `'${String(issue.input)}' is not an image reference such as ghcr.io/vimc/montagu-db:main`,
}).meta({ title: "image reference", description: "An image reference as docker takes it, such as ghcr.io/vimc/montagu-db:main." });

export const imageTag = z.string().regex(new RegExp(`^${TAG}$`), {
  error: (issue) => `'${String(issue.input)}' is not an image tag ([a-zA-Z0-9_][a-zA-Z0-9_.-]*, at most 128)`,
}).meta({ title: "image tag", description: "An image tag, such as master or v1.2.0." });

export const pgIdentifier = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/, {
  error: (issue) => `'${String(issue.input)}' is not a PostgreSQL name ([a-zA-Z_][a-zA-Z0-9_]*, at most 63)`,
}).meta({ title: "PostgreSQL name", description: "A PostgreSQL database or user name as an unquoted identifier: never read as a connection string." });

/**
 * The error of a count or time past `max`, `meaning` what `max` amounts to: no real deployment
 * needs more, so a larger value is a typo (an extra three zeros) that would keep everything
 * until the disk fills, or wait for days on a step that has failed.
 */
export function atMost(max: number, meaning: string) {
  return { error: (issue: { input?: unknown }) => `${String(issue.input)} is more than ${max} (${meaning}): a larger value is more likely a typo than a need` };
}

/** The most that barman's retention policy may keep: base backups, and a window in each unit. */
export const RETENTION_LIMITS = { REDUNDANCY: 100, DAY: 3660, WEEK: 520, MONTH: 120 } as const;

export const retentionPolicy = z.string().regex(/^(?:REDUNDANCY [1-9][0-9]{0,3}|RECOVERY WINDOW OF [1-9][0-9]{0,3} (?:DAY|WEEK|MONTH)S?)$/i, {
  error: (issue) => `'${String(issue.input)}' is not a barman retention policy such as 'RECOVERY WINDOW OF 3 MONTHS' or 'REDUNDANCY 2'`,
}).superRefine((value, ctx) => {
  const [, count, unit] = /([0-9]+)(?: (DAY|WEEK|MONTH))?/i.exec(value) ?? [];
  const limit = RETENTION_LIMITS[(unit?.toUpperCase() ?? "REDUNDANCY") as keyof typeof RETENTION_LIMITS];
  if (Number(count) > limit) {
    ctx.addIssue({ code: "custom", message: `'${value}' keeps more than ${limit} ${unit === undefined ? "base backups" : `${unit.toLowerCase()}s`} (ten years, or a hundred backups): a larger value is more likely a typo than a need` });
  }
}).meta({ title: "retention policy", description: "barman's retention policy, as barman.conf takes it: REDUNDANCY n, or RECOVERY WINDOW OF n DAYS, WEEKS or MONTHS (singular too); in any case." });

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export const oneLine = z.string().refine((value) => !CONTROL.test(value), {
  error: (issue) => `'${String(issue.input)}' must be on one line, without control characters`,
}).meta({ title: "one line", description: "Text on one line: no newline, tab or other control character." });

export const environmentVariable = z.string().refine((value) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(value) && !CONTROL.test(value), {
  error: (issue) => `'${String(issue.input)}' is not NAME=value on one line`,
}).meta({ title: "environment variable", description: "An environment variable for a container, NAME=value, on one line." });

export const stepId = z.string().refine((value) => value.trim().length > 0 && !CONTROL.test(value), {
  error: (issue) => `'${String(issue.input)}' is not an id: give some text, on one line (changing it runs the step again)`,
}).meta({ title: "step id", description: "An id that a change of runs a step again: some visible text, on one line." });

export const port = z
  .number({ error: "must be a port number" })
  .int({ error: "must be a whole number" })
  .min(1, { error: (issue) => `port ${String(issue.input)} is out of range 1-65535` })
  .max(65535, { error: (issue) => `port ${String(issue.input)} is out of range 1-65535` })
  .meta({ title: "port", description: "A TCP port, 1 to 65535." });

// The nicknames privateer-scheduler maps to five fields (images/scheduler/scheduler.py NICKNAMES), exact case.
const CRON_NICKNAMES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Three-letter names, case-insensitive, from `min` on (weekday: sun = 0; month: jan = 1). */
  names?: string[];
}

const CRON_FIELDS: CronField[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  // 7 is Sunday too, in both parsers.
  { name: "weekday", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];
/** The most days each month has, February in a leap year. */
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// One item of a field: `*`, a value, or a range `a-b`, each with an optional step `/n`. Values
// are numbers, or month and weekday names. Nothing else: croniter (the scheduler's parser)
// takes more (`L`, `#`, ranges that wrap), cron-style parsers differ on it, and none of it is
// needed to say when a backup runs.
const CRON_ITEM = /^(?:(\*)|([0-9]{1,2}|[a-zA-Z]{3})(?:-([0-9]{1,2}|[a-zA-Z]{3}))?)(?:\/([0-9]{1,2}))?$/;

/** The values of one field that an expression names, or a problem with the field. */
function cronFieldValues(text: string, field: CronField): Set<number> | string {
  const values = new Set<number>();
  const value = (word: string): number | string => {
    if (/^[0-9]+$/.test(word)) {
      const n = Number(word);
      return n >= field.min && n <= field.max ? n : `${field.name} ${word} is out of range ${field.min}-${field.max}`;
    }
    const named = field.names?.indexOf(word.toLowerCase()) ?? -1;
    return named >= 0 ? named + field.min : `'${word}' is not a ${field.name}`;
  };
  for (const item of text.split(",")) {
    const match = CRON_ITEM.exec(item);
    if (match === null) return `'${item}' is not a ${field.name}: use numbers, ${field.names === undefined ? "" : "names such as " + field.names[1] + ", "}*, a-b, */n and lists a,b`;
    const [, star, first, last, stepText] = match;
    let low = field.min;
    let high = field.max;
    if (star === undefined) {
      const a = value(first);
      if (typeof a === "string") return a;
      const b = last === undefined ? (stepText === undefined ? a : field.max) : value(last);
      if (typeof b === "string") return b;
      if (a > b) return `range ${first}-${last} of ${field.name} runs backwards`;
      [low, high] = [a, b];
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1 || step > field.max - field.min + 1) return `step /${stepText} of ${field.name} is out of range 1-${field.max - field.min + 1}`;
    for (let n = low; n <= high; n += step) values.add(n);
  }
  return values;
}

/**
 * Why `expression` is not a schedule that privateer-scheduler runs, or undefined when it is
 * one. The rule is the subset that both this check and the scheduler's croniter accept, and
 * that croniter can always find a next run for: a day that some month of the expression has.
 */
export function cronProblem(expression: string): string | undefined {
  if (expression.startsWith("@")) {
    return CRON_NICKNAMES.has(expression) ? undefined : `unknown cron nickname '${expression}' (known: ${[...CRON_NICKNAMES].join(", ")})`;
  }
  const fields = expression.split(/\s+/).filter((field) => field.length > 0);
  if (fields.length !== 5) {
    return `cron expression '${expression}' must have five fields (minute hour day month weekday), found ${fields.length}`;
  }
  if (fields.join(" ") !== expression) return `cron expression '${expression}' must have its fields separated by single spaces`;
  const values: Set<number>[] = [];
  for (const [i, text] of fields.entries()) {
    const parsed = cronFieldValues(text, CRON_FIELDS[i]);
    if (typeof parsed === "string") return `cron expression '${expression}' does not parse: ${parsed}`;
    values.push(parsed);
  }
  const [, , days, months] = values;
  if (![...months].some((month) => [...days].some((day) => day <= DAYS_IN_MONTH[month - 1]))) {
    return `cron expression '${expression}' never runs: no month it names has the day of month it names`;
  }
  return undefined;
}

export const cron = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
}).meta({ title: "cron schedule", description: "When a job runs, in the stack's `timezone`: five fields (minute, hour, day of month, month, weekday), each of numbers, names such as jan or mon, *, a-b, */n and lists a,b; or @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually. A day of month that none of its months has is refused." });

/**
 * The time zones both this program (Intl) and the scheduler's zoneinfo (Debian's tzdata)
 * know, by their exact names: zoneinfo reads a file per zone, so a name in another case is
 * refused on a case-sensitive file system.
 */
export const TIME_ZONES: ReadonlySet<string> = new Set([...Intl.supportedValuesOf("timeZone"), "UTC"]);

export function isValidTimeZone(zone: string): boolean {
  return TIME_ZONES.has(zone);
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

export const snapshot = z.string().refine((value) => value === "latest" || isSnapshotName(value), {
  error: (issue) => `'${String(issue.input)}' is not latest or a snapshot name such as 20261126T131500Z (a real UTC date and time)`,
}).meta({ title: "history snapshot", description: "A privateer server's history snapshot: `latest`, or one by name such as 20261126T131500Z (a real UTC moment)." });

/**
 * Why `value` is not a plain absolute path on the machine running `pulumi up`, or undefined
 * when it is one: `/` and names of letters, digits, `_`, `.` and `-`, no `.` or `..` part, no
 * empty part (a trailing `/` aside). Nothing a shell reads, no way up, no leading `-`.
 */
export function hostPathProblem(value: string): string | undefined {
  if (!value.startsWith("/")) return `'${value}' is not an absolute path (it must start with /)`;
  if (!/^\/[A-Za-z0-9_./-]*$/.test(value)) return `'${value}' holds more than letters, digits, '_', '.', '-' and '/'`;
  const parts = value.slice(1).replace(/\/$/, "").split("/");
  if (value !== "/" && parts.some((part) => part === "")) return `'${value}' has an empty part ('//')`;
  if (parts.some((part) => part === "..")) return `'${value}' climbs with '..'`;
  if (parts.some((part) => part === ".")) return `'${value}' has a '.' part`;
  if (value.length > 4096) return `'${value.slice(0, 40)}...' is longer than 4096 characters`;
  return undefined;
}

export const hostDirectory = z.string().superRefine((value, ctx) => {
  const problem = hostPathProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${problem}: give a directory such as /var/backups/montagu` });
}).meta({ title: "directory", description: "A directory on the machine running `pulumi up`, as a plain absolute path such as /var/backups/montagu: names of letters, digits, '_', '.' and '-', no '.' or '..' part." });

export const hostTarFile = z.string().superRefine((value, ctx) => {
  const problem = hostPathProblem(value) ?? (/[^/]\.tar$/.test(value) ? undefined : `'${value}' is not a file ending in .tar`);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${problem}: give a file such as /var/backups/montagu/production2-montagu_orderly_volume-20261126T131500Z.tar` });
}).meta({ title: "tar file", description: "A tar file on the machine running `pulumi up`, as a plain absolute path ending in `.tar`: names of letters, digits, '_', '.' and '-', no '.' or '..' part." });

export const vaultPath = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.-]+)+$/, { error: (issue) => `'${String(issue.input)}' is not a vault path such as secret/vimc/backup/offsite` })
  .meta({ title: "vault path", description: "A path in vault's KV store, such as secret/vimc/backup/offsite." });
