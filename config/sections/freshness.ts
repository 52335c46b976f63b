import { z } from "zod";
import { cron, dockerName, hostName, pgIdentifier, port, vaultPath } from "../primitives";
import { dumpPlace } from "./dumps";

// The freshness monitor on the backup host: which backups it watches comes from the topology
// and the other sections (config/rules/freshness.ts, config/plan/freshness.ts); this section
// says where it runs, how often it looks, what is late for each backup when its schedule does
// not say, and whom it tells.

const SECONDS_PER = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Parsed as seconds. */
export const duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, { error: (issue) => `'${String(issue.input)}' is not a duration such as 90s, 30m, 26h or 32d` })
  .transform((text) => Number(text.slice(0, -1)) * SECONDS_PER[text.slice(-1) as keyof typeof SECONDS_PER])
  .meta({ title: "duration", description: "A whole number of seconds, minutes, hours or days: 90s, 30m, 26h, 32d." });

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const emailAddress = z
  .string()
  .regex(new RegExp(`^[A-Za-z0-9._%+-]{1,64}@${LABEL}(?:\\.${LABEL})*$`), {
    error: (issue) => `'${String(issue.input)}' is not an email address such as backup-alerts@example.org`,
  })
  .meta({ title: "email address", description: "An address in the form real ones take, such as backup-alerts@example.org: nothing that could start another header or recipient." });

const email = z
  .strictObject({
    host: hostName.describe("The SMTP server that relays the alerts."),
    port: port.default(25).describe("The SMTP server's port."),
    starttls: z.boolean().default(false).describe("STARTTLS before logging in or sending, the server's certificate checked."),
    allowPlaintextLogin: z
      .boolean()
      .default(false)
      .describe("Log in without STARTTLS, the password in clear text on the network: only for a relay on the same host. A login without STARTTLS is refused unless set."),
    username: z
      .string()
      .regex(/^[A-Za-z0-9._@+-]{1,128}$/, { error: "must be an SMTP user name ([A-Za-z0-9._@+-], at most 128)" })
      .optional()
      .describe("Logs in as this user, with the password in vault at `passwordVaultPath` (field `password`)."),
    passwordVaultPath: vaultPath.optional().describe("Where the SMTP password is in vault (field `password`); given with `username`."),
    from: emailAddress.describe("The alerts' sender."),
    to: z.array(emailAddress).min(1, { error: "name at least one address to alert" }).describe("Who is alerted."),
  })
  .superRefine((value, ctx) => {
    if ((value.username === undefined) !== (value.passwordVaultPath === undefined)) {
      ctx.addIssue({ code: "custom", path: [value.username === undefined ? "username" : "passwordVaultPath"], message: "username and passwordVaultPath go together" });
    }
    if (value.username !== undefined && !value.starttls && !value.allowPlaintextLogin) {
      ctx.addIssue({
        code: "custom",
        path: ["starttls"],
        message: "a login sends its password: set starttls to true, or allowPlaintextLogin to true for a relay on the same host (the password then crosses the network in clear text)",
      });
    }
  });

export const freshness = z.strictObject({
  container: dockerName.default("montagu-freshness").describe("The monitor's container."),
  volume: dockerName.default("montagu_freshness").describe("What the monitor remembers (what it has told), its status files and 31 days of every backup's checks (the status page's history): kept on destroy."),
  metricsPort: port.default(5001).describe("The host port of the monitor's Prometheus metrics."),
  checkEvery: duration
    .refine((seconds) => seconds <= 86_400, { error: "is longer than a day: a monitor that looks less often than that would tell of a late backup only days late" })
    .prefault("60s")
    .describe("How often it looks at every backup (at most 1d)."),
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: "must be a name such as annex2 ([A-Za-z0-9_.-], at most 63)" })
    .optional()
    .describe("The place the alerts name; the stack's machines when not given."),
  staleAfter: z
    .record(z.string(), duration.refine((seconds) => seconds <= 366 * 86_400, { error: "is longer than 366d: a backup late only after that is one never watched; a larger value is more likely a typo than a need" }))
    .default({})
    .describe(
      "Per backup id: late after this, whatever its schedule says (by default, worked out from its schedule: a daily push is late after 26 h; barman's WAL after an hour). The ids, of backups this stack watches: `push/<client>/<volume>`, `dump/<client>/<database>`, `offsite/<client>/<volume>`, `barman/wal`, `barman/base-backup`, `barman/nightly-recovery`, `barman/offsite-wal`, `barman/offsite-base-backup`.",
    ),
  email: email.optional().describe("Alerts by email: one when a backup becomes late, one when it recovers."),
  dumps: z
    .array(
      z.strictObject({
        client: dockerName.describe("The client that makes the dumps."),
        volume: dockerName.describe("The dumps' volume, which the client pushes here."),
        database: pgIdentifier.describe("The database dumped."),
        name: dumpPlace.optional().describe("The place the dumps' names carry; the client's name when not given."),
        schedule: cron.default("0 1 * * *").describe("The dumps' own schedule."),
      }),
    )
    .default([])
    .describe("Dated dumps made on a client (its `dumps` section) and pushed here: the newest whose sha256 still matches is the last success."),
  offsite: z
    .array(
      z.strictObject({
        client: dockerName.describe("The client that makes the copies."),
        volume: dockerName.describe("The volume copied."),
        schedule: cron.optional().describe("The copy's schedule; the topology's push of the volume when not given."),
      }),
    )
    .default([])
    .describe("Off-site copies of volumes that a client makes (its `offsite` section) into the store of this stack's `montagu-backup:offsite`: the newest snapshot in the volume's repository is the last success."),
});
