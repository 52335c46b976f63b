import { z } from "zod";
import { atMost, cron, dockerName, environmentVariable, hostDirectory, hostTarFile, imageReference, pgIdentifier, snapshot, stepId } from "../primitives";

// The stack config's sections for privateer's transfers: its own options, on-demand pushes,
// restores, and packit's dump and rebuild around them.

export const backupVolume = z.strictObject({
  volume: dockerName.describe("The volume pushed: one the client backs up (its `backup` in the topology file)."),
  server: dockerName.describe("The privateer server it is pushed to."),
  client: dockerName.optional().describe("The client that pushes; may be left out when the stack provisions one client only."),
  allowEmpty: z.boolean().default(false).describe("A push of an empty source volume is refused unless set (an empty volume is more often a mistake than data)."),
});

/** An off-site snapshot: restic's `latest`, or a snapshot's id (8 to 64 hex digits). */
export const offsiteSnapshot = z.string().regex(/^(?:latest|[0-9a-f]{8,64})$/, {
  error: (issue) => `'${String(issue.input)}' is not latest or an off-site snapshot's id such as 458ad4b9`,
});

export const restoreVolume = z.strictObject({
  volume: dockerName.describe("The volume whose copy is restored, as the topology file names it."),
  from: z.enum(["server", "offsite"]).default("server").describe("`server`: a privateer server's copy (the default); `offsite`: the source client's off-site repository (montagu-backup:offsite)."),
  server: dockerName.optional().describe("The privateer server read from; not with `from: offsite`."),
  source: dockerName.optional().describe("The client whose copy is restored; not for `local` volumes; may be left out when one client backs the volume up."),
  to: dockerName.optional().describe("The volume restored into; defaults to `volume`."),
  client: dockerName.optional().describe("The client that restores; may be left out when the stack provisions one client only."),
  snapshot: z.string().optional().describe("From a server: absent, its current copy `<client>/<volume>/`; `latest` or a name such as 20261126T131500Z, a history snapshot (not for `local` volumes). Off-site: `latest` (the default) or a snapshot's id."),
  allowEmpty: z.boolean().default(false).describe("A restore from an empty source is refused unless set."),
  allowOverwriteSource: z.boolean().default(false).describe("Restoring into a volume of montagu's on this stack's engine that a client backs up, or the stand-in primary's, is refused unless set (a machine restored from its own copy). The backup system's own volumes (privateer's keys and copies, the local volumes it serves, barman's, the monitor's, the dumps', the off-site state) are refused even so."),
}).superRefine((entry, ctx) => {
  if (entry.from === "server" && entry.server === undefined) ctx.addIssue({ code: "custom", path: ["server"], message: "name the server whose copy is restored (or set from: offsite)" });
  if (entry.from === "offsite" && entry.server !== undefined) ctx.addIssue({ code: "custom", path: ["server"], message: "an off-site restore reads the bucket, not a server: leave server out" });
  if (entry.snapshot === undefined) return;
  const checked = (entry.from === "offsite" ? offsiteSnapshot : snapshot).safeParse(entry.snapshot);
  if (!checked.success) ctx.addIssue({ code: "custom", path: ["snapshot"], message: checked.error.issues[0].message });
});

const snapshotsKept = z.number().int({ error: "must be a whole number of snapshots" }).min(0, { error: "must be 0 or more snapshots" });

const history = z.strictObject({
  schedule: cron.default("*/15 * * * *").describe("When the server snapshots each client's copy."),
  daily: snapshotsKept.max(3660, atMost(3660, "ten years of days")).default(7).describe("How many daily snapshots are kept (at most 3660)."),
  weekly: snapshotsKept.max(520, atMost(520, "ten years of weeks")).default(4).describe("How many weekly snapshots are kept (at most 520)."),
});

export const archiveExport = z.strictObject({
  id: stepId.describe("Changing it runs the export again."),
  volume: dockerName.describe("The volume exported, or whose copy on `server` is."),
  to: hostDirectory.describe("The directory the tar file and its checksum are written to."),
  server: dockerName.optional().describe("The server whose copy is exported; absent: the volume on this stack's engine."),
  source: dockerName.optional().describe("With `server`: the client whose copy is exported (may be left out when one client backs the volume up). Without: the machine the archive is named after (may be left out when the stack provisions one machine)."),
  snapshot: snapshot.optional().describe("With `server`: `latest` or a snapshot's name, a copy from the server's history rather than the current one."),
});

export const archiveImport = z.strictObject({
  id: stepId.describe("Changing it runs the import again."),
  file: hostTarFile.describe("The tar file on the machine running `pulumi up`; its checksum is `<file>.sha256`."),
  volume: dockerName.describe("The volume made from it: it must not exist yet."),
});

export const privateer = z.strictObject({
  images: z.enum(["local", "upstream"]).default("local").describe("`local` builds images/privateer/*; `upstream` pulls mrcide/privateer-*:<tag>."),
  keys: z
    .strictObject({
      generate: z.boolean().optional().describe("Whether this stack generates every machine's keypair (and writes them to vault when the topology has one)."),
      generation: z.number().int().min(1).default(1).describe("Raise to replace every key."),
    })
    .prefault({})
    .describe("privateer's ssh keypairs, one per machine of the topology."),
  checkId: stepId.optional().describe("Changing it runs every connection check again (they also run whenever keys or servers change)."),
  backup: z
    .strictObject({
      id: stepId.describe("Changing it runs the push again."),
      volumes: z.array(backupVolume).min(1).describe("What is pushed, and where."),
    })
    .optional()
    .describe("An on-demand push: runs when `id` changes."),
  history: history.prefault({}).describe("The server's hard-link snapshots of each client's copy: taken on `schedule`, keeping `daily` daily and `weekly` weekly ones."),
  export: archiveExport
    .optional()
    .describe(
      "privateer's `export`, run when `id` changes: a volume as a tar file in `to`, a directory on the machine running `pulumi up`, with its checksum beside it. Without `server`, a volume on this stack's engine; with `server` (which this stack provisions), that server's copy of `source`'s volume, or one of its history snapshots.",
    ),
  import: archiveImport
    .optional()
    .describe("privateer's `import`, run when `id` changes: a tar file made by an export, its checksum checked, unpacked into a new volume."),
});

const verify = z.strictObject({
  container: dockerName.describe("The database's container, where the query runs (psql)."),
  user: pgIdentifier.default("vimc").describe("The user the query runs as."),
  database: pgIdentifier.default("montagu").describe("The database the query runs on."),
  query: z.string().min(1).describe("The query; its answer is the stack output `restore.verification`."),
});

export const packitDump = z.strictObject({
  container: dockerName.default("montagu-packit-db").describe("packit's database container, where pg_dump runs."),
  user: pgIdentifier.default("packituser").describe("The user pg_dump connects as."),
  database: pgIdentifier.default("packit").describe("The database dumped."),
  volume: dockerName.default("montagu_packit_db_backup").describe("Mounted at /pgbackup in the container; the dump is /pgbackup/packit."),
});

export const packitRestore = z.strictObject({
  dumpVolume: dockerName.default("montagu_packit_db_backup").describe("The restored volume holding packit's dump: one that `volumes` restores into."),
  databaseVolume: dockerName.default("montagu_packit_db").describe("packit's database volume, made anew from the dump."),
  image: imageReference.default("ghcr.io/mrc-ide/packit-db:main").describe("The database image the dump is restored with."),
  env: z.array(environmentVariable).default([]).describe("Environment for the image, e.g. what makes it create the user and database."),
  user: pgIdentifier.default("packituser").describe("The user pg_restore connects as."),
  database: pgIdentifier.default("packit").describe("The database restored into."),
  waitSeconds: z.number().int().min(1).max(3600, atMost(3600, "an hour")).default(300).describe("How long the database may take to accept connections, in seconds (at most 3600)."),
});

export const restore = z.strictObject({
  id: stepId.describe("Changing it runs the restore again."),
  volumes: z.array(restoreVolume).min(1).describe("The volumes restored, each from a privateer server's copy or an off-site repository."),
  stop: z.array(dockerName).default([]).describe("Containers stopped before anything is copied."),
  start: z.array(dockerName).default([]).describe("Containers started once everything is copied."),
  settleSeconds: z.number().int().min(1).max(600).default(5).describe("How long a stopped container must stay stopped, and a started one up without restarting, before the restore goes on."),
  verify: verify.optional().describe("A query run on the restored database; its result is a stack output."),
  packit: packitRestore
    .optional()
    .describe("Rebuild packit's database from its restored dump, after the copies and before the start: an empty database, `pg_restore`, stopped again."),
});
