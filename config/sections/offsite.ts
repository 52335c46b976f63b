import { z } from "zod";
import { atMost, cron, dockerName, hostName, port, stepId, vaultPath } from "../primitives";

// Off-site copies of the volumes a client pushes: one encrypted, deduplicating restic
// repository per client and volume, in an S3-compatible bucket, taken on a schedule and on
// demand, thinned by a retention policy, checked weekly against a sample of its data, and a
// source that restores read from.

const endpoint = z
  .string()
  .superRefine((value, ctx) => {
    const match = /^(https?):\/\/([^/:]+|\[[0-9a-fA-F:]+\])(?::([0-9]{1,5}))?\/?$/.exec(value);
    const host = match?.[2]?.replace(/^\[|\]$/g, "");
    const portNumber = match?.[3] === undefined ? 443 : Number(match[3]);
    if (match === null || host === undefined || !hostName.safeParse(host).success || !port.safeParse(portNumber).success) {
      ctx.addIssue({ code: "custom", message: `'${value}' is not an S3 endpoint such as https://s3.eu-west-2.amazonaws.com or http://minio.internal:9000` });
    }
  })
  .transform((value) => value.replace(/\/$/, ""))
  .meta({ title: "S3 endpoint", description: "http(s)://host[:port], nothing after it, such as https://s3.eu-west-2.amazonaws.com; a trailing '/' is dropped." });

// S3's rules for general purpose bucket names (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html,
// as of 2026-12): a name S3 would refuse makes every off-site copy fail, so none is accepted.
const BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/** Why S3 refuses `name` as a bucket's name, or undefined when it takes it. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `is ${name.length} characters long: S3 takes 3 to 63`;
  if (!/^[a-z0-9.-]+$/.test(name)) return "holds more than lower-case letters, digits, '.' and '-'";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "must begin and end with a letter or digit";
  if (name.includes("..")) return "has two adjacent dots";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "is formatted as an IP address";
  const prefix = BUCKET_PREFIXES.find((p) => name.startsWith(p));
  if (prefix !== undefined) return `starts with '${prefix}', which S3 reserves`;
  const suffix = BUCKET_SUFFIXES.find((p) => name.endsWith(p));
  if (suffix !== undefined) return `ends with '${suffix}', which S3 reserves`;
  return undefined;
}

const bucket = z
  .string()
  .superRefine((value, ctx) => {
    const problem = bucketNameProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: `'${value}' is not an S3 bucket name: it ${problem}` });
  })
  .meta({
    title: "S3 bucket",
    description: `S3's rules for bucket names: 3 to 63 lower-case letters, digits, '.' and '-', beginning and ending with a letter or digit; no '..', no IP address form, none of the reserved prefixes (${BUCKET_PREFIXES.join(", ")}) or suffixes (${BUCKET_SUFFIXES.join(", ")}).`,
  });

const prefix = z
  .string()
  .regex(/^(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+)*$/, {
    error: (issue) => `'${String(issue.input)}' is not a prefix such as montagu or backups/montagu (no leading or trailing '/', no '.' or '..' part)`,
  })
  .meta({ title: "bucket prefix", description: "Folders inside the bucket, such as montagu or backups/montagu: names of letters, digits, '_', '.', '-', none of them '.' or '..'." });

const region = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: (issue) => `'${String(issue.input)}' is not a region such as eu-west-2` })
  .meta({ title: "S3 region", description: "A region such as eu-west-2." });

const kept = (what: string, fallback: number, max: number, meaning: string) =>
  z.number().int({ error: `must be a whole number of ${what} snapshots` }).min(0, { error: `must be 0 or more ${what} snapshots` }).max(max, atMost(max, meaning)).default(fallback);

const share = z
  .string()
  .regex(/^(?:100|[1-9]?[0-9](?:\.[0-9]{1,3})?)%$/, { error: (issue) => `'${String(issue.input)}' is not a share such as 5%` })
  .meta({ title: "share", description: "A percentage such as 5% or 2.5%, up to 100%." });

export const offsiteVolume = z.strictObject({
  volume: dockerName.describe("The volume copied: one the client pushes."),
  client: dockerName.optional().describe("The client whose volume it is; may be left out when one client of this stack backs it up."),
  schedule: cron.optional().describe("When it is copied; the client's scheduled push of the volume's schedule when not given."),
  allowEmpty: z.boolean().default(false).describe("An empty volume is refused (its snapshot would become the latest) unless set."),
});

/** Where in the bucket the volumes' restic repositories are: each at <this>/<client>/<volume>. */
export const volumeRepositoriesPrefix = (store: { prefix: string }) => `${store.prefix}/volumes`;

export const offsite = z.strictObject({
  store: z
    .strictObject({
      endpoint: endpoint.describe("The store's S3 endpoint."),
      region: region.default("us-east-1").describe("The bucket's region."),
      bucket: bucket.describe("The bucket every copy is in."),
      prefix: prefix.default("montagu").describe("Every repository is at <prefix>/volumes/<client>/<volume> in the bucket, barman's copies at <prefix>/barman."),
      credentialsVaultPath: vaultPath.describe("Where the store's keys are in vault: fields `access_key_id` and `secret_access_key`."),
    })
    .describe("The S3-compatible bucket, and the keys to it."),
  passwordVaultPath: vaultPath.optional().describe("The volume repositories' password: field `password`. Lose it and the copies cannot be read. Needed for volumes, here or restored."),
  container: dockerName.default("montagu-offsite").describe("The container that makes the copies and checks on schedule."),
  stateVolume: dockerName.default("montagu_offsite_state").describe("The container's locks, status files and restic's cache: no backup data."),
  volumes: z.array(offsiteVolume).default([]).describe("The volumes copied off-site from this stack's clients."),
  keep: z
    .strictObject({
      daily: kept("daily", 7, 3660, "ten years of days")
        .refine((n) => n >= 1, { error: "keep at least 1 daily snapshot: the newest copy is always kept" })
        .describe("Days whose newest snapshot is kept (at least 1: the newest copy is always kept)."),
      weekly: kept("weekly", 4, 520, "ten years of weeks").describe("Weeks whose newest snapshot is kept."),
      monthly: kept("monthly", 6, 120, "ten years of months").describe("Months whose newest snapshot is kept."),
    })
    .prefault({})
    .describe("restic's `forget --keep-daily/--keep-weekly/--keep-monthly --prune`, in each weekly check."),
  check: z
    .strictObject({
      schedule: cron.default("0 4 * * 0").describe("When each repository is checked."),
      readDataSubset: share.default("5%").describe("How much of its data a check reads back (restic's --read-data-subset)."),
    })
    .prefault({})
    .describe("`restic check --read-data-subset`, of each repository."),
  backup: z
    .strictObject({ id: stepId.describe("Changing it copies every volume again.") })
    .optional()
    .describe("Every volume copied off-site now: runs when `id` changes."),
});
