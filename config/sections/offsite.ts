import { z } from "zod";
import { cron, dockerName, hostName, port, stepId, vaultPath } from "../primitives";

// Off-site copies of the volumes a client pushes: one encrypted, deduplicating restic
// repository per client and volume, in an S3-compatible bucket, taken on a schedule and on
// demand, thinned by a retention policy, checked weekly against a sample of its data, and a
// source that restores read from.

/** An S3 endpoint: http(s)://host[:port], nothing after it; a trailing '/' is dropped. */
const endpoint = z.string().superRefine((value, ctx) => {
  const match = /^(https?):\/\/([^/:]+|\[[0-9a-fA-F:]+\])(?::([0-9]{1,5}))?\/?$/.exec(value);
  const host = match?.[2]?.replace(/^\[|\]$/g, "");
  const portNumber = match?.[3] === undefined ? 443 : Number(match[3]);
  if (match === null || host === undefined || !hostName.safeParse(host).success || !port.safeParse(portNumber).success) {
    ctx.addIssue({ code: "custom", message: `'${value}' is not an S3 endpoint such as https://s3.eu-west-2.amazonaws.com or http://minio.internal:9000` });
  }
}).transform((value) => value.replace(/\/$/, ""));

/** S3's rule for bucket names (lower case, digits, '.', '-'; 3 to 63). */
const bucket = z
  .string()
  .regex(/^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: (issue) => `'${String(issue.input)}' is not an S3 bucket name (a-z, 0-9, '.', '-'; 3 to 63)` });

/** Folders inside the bucket: names of letters, digits, '_', '.', '-', none of them '.' or '..'. */
const prefix = z
  .string()
  .regex(/^(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+)*$/, {
    error: (issue) => `'${String(issue.input)}' is not a prefix such as montagu or backups/montagu (no leading or trailing '/', no '.' or '..' part)`,
  });

const region = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: (issue) => `'${String(issue.input)}' is not a region such as eu-west-2` });

const kept = (what: string, fallback: number) =>
  z.number().int({ error: `must be a whole number of ${what} snapshots` }).min(0, { error: `must be 0 or more ${what} snapshots` }).max(1000).default(fallback);

/** How much of the data a check reads back: restic's --read-data-subset as a percentage. */
const share = z.string().regex(/^(?:100|[1-9]?[0-9](?:\.[0-9]{1,3})?)%$/, { error: (issue) => `'${String(issue.input)}' is not a share such as 5%` });

export const offsiteVolume = z.strictObject({
  volume: dockerName,
  /** The client whose volume it is; may be left out when one client of this stack backs it up. */
  client: dockerName.optional(),
  /** When it is copied; the client's scheduled push of the volume's schedule when not given. */
  schedule: cron.optional(),
  /** An empty volume is refused (its snapshot would become the latest) unless set. */
  allowEmpty: z.boolean().default(false),
});

/** Where in the bucket the volumes' restic repositories are: each at <this>/<client>/<volume>. */
export const volumeRepositoriesPrefix = (store: { prefix: string }) => `${store.prefix}/volumes`;

export const offsite = z.strictObject({
  store: z.strictObject({
    endpoint,
    region: region.default("us-east-1"),
    bucket,
    /** Every repository is at <prefix>/volumes/<client>/<volume> in the bucket. */
    prefix: prefix.default("montagu"),
    /** Fields `access_key_id` and `secret_access_key`. */
    credentialsVaultPath: vaultPath,
  }),
  /** The volume repositories' password: field `password`. Lose it and the copies cannot be read. Needed for volumes, here or restored. */
  passwordVaultPath: vaultPath.optional(),
  container: dockerName.default("montagu-offsite"),
  /** Its locks, status files and restic's cache: no backup data. */
  stateVolume: dockerName.default("montagu_offsite_state"),
  volumes: z.array(offsiteVolume).default([]),
  /** restic's `forget --keep-daily/--keep-weekly/--keep-monthly`, then `prune`, after each copy. */
  keep: z.strictObject({ daily: kept("daily", 7).refine((n) => n >= 1, { error: "keep at least 1 daily snapshot: the newest copy is always kept" }), weekly: kept("weekly", 4), monthly: kept("monthly", 6) }).prefault({}),
  /** `restic check --read-data-subset`, of each repository. */
  check: z.strictObject({ schedule: cron.default("0 4 * * 0"), readDataSubset: share.default("5%") }).prefault({}),
  /** Every volume copied off-site now: runs when `id` changes. */
  backup: z.strictObject({ id: stepId }).optional(),
});
