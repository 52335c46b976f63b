import { z } from "zod";
import { cron, dockerName, hostName, pgIdentifier, port, vaultPath } from "../primitives";
import { dumpPlace } from "./dumps";

// The freshness monitor on the backup host: which backups it watches comes from the topology
// and the other sections (config/rules/freshness.ts, config/plan/freshness.ts); this section
// says where it runs, how often it looks, what is late for each backup when its schedule does
// not say, and whom it tells.

const SECONDS_PER = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** A duration such as 90s, 30m, 26h or 32d, as seconds. */
export const duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, { error: (issue) => `'${String(issue.input)}' is not a duration such as 90s, 30m, 26h or 32d` })
  .transform((text) => Number(text.slice(0, -1)) * SECONDS_PER[text.slice(-1) as keyof typeof SECONDS_PER]);

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/** An address in the form real ones take: nothing that could start another header or recipient. */
const emailAddress = z.string().regex(new RegExp(`^[A-Za-z0-9._%+-]{1,64}@${LABEL}(?:\\.${LABEL})*$`), {
  error: (issue) => `'${String(issue.input)}' is not an email address such as backup-alerts@example.org`,
});

const email = z
  .strictObject({
    /** The SMTP server that relays the alerts. */
    host: hostName,
    port: port.default(25),
    /** STARTTLS before logging in or sending. */
    starttls: z.boolean().default(false),
    /** Logs in as this user, with the password in vault at `passwordVaultPath` (field `password`). */
    username: z
      .string()
      .regex(/^[A-Za-z0-9._@+-]{1,128}$/, { error: "must be an SMTP user name ([A-Za-z0-9._@+-], at most 128)" })
      .optional(),
    passwordVaultPath: vaultPath.optional(),
    from: emailAddress,
    to: z.array(emailAddress).min(1, { error: "name at least one address to alert" }),
  })
  .superRefine((value, ctx) => {
    if ((value.username === undefined) !== (value.passwordVaultPath === undefined)) {
      ctx.addIssue({ code: "custom", path: [value.username === undefined ? "username" : "passwordVaultPath"], message: "username and passwordVaultPath go together" });
    }
  });

export const freshness = z.strictObject({
  container: dockerName.default("montagu-freshness"),
  /** What the monitor remembers (what it has told) and its status files; no backup data. */
  volume: dockerName.default("montagu_freshness"),
  metricsPort: port.default(5001),
  /** How often it looks at every backup. */
  checkEvery: duration.default(60),
  /** The place the alerts name; the stack's machines when not given. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: "must be a name such as annex2 ([A-Za-z0-9_.-], at most 63)" })
    .optional(),
  /** Per backup id (`push/<client>/<volume>`, `barman/wal`, ...): late after this, whatever its schedule says. */
  staleAfter: z.record(z.string(), duration).default({}),
  email: email.optional(),
  /**
   * Dated dumps made on a client (its `dumps` section) and pushed here: the newest whose sha256
   * still matches is the last success. `name` is the place the dumps' names carry (the client's
   * name by default), `schedule` the dumps' own.
   */
  dumps: z
    .array(
      z.strictObject({
        client: dockerName,
        volume: dockerName,
        database: pgIdentifier,
        name: dumpPlace.optional(),
        schedule: cron.default("0 1 * * *"),
      }),
    )
    .default([]),
  /**
   * Off-site copies of volumes that a client makes (its `offsite` section) into the store of
   * this stack's `montagu-backup:offsite`: the newest snapshot in the volume's repository is the
   * last success. `schedule` is the copy's, the topology's push of the volume when not given.
   */
  offsite: z
    .array(
      z.strictObject({
        client: dockerName,
        volume: dockerName,
        schedule: cron.optional(),
      }),
    )
    .default([]),
});
