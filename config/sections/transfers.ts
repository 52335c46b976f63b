import { z } from "zod";
import { cron, dockerName, environmentVariable, hostDirectory, hostTarFile, imageReference, pgIdentifier, snapshot, stepId } from "../primitives";

// The stack config's sections for privateer's transfers: its own options, on-demand pushes,
// restores, and packit's dump and rebuild around them.

export const backupVolume = z.strictObject({
  volume: dockerName,
  server: dockerName,
  /** The client that pushes; may be left out when the stack provisions one client only. */
  client: dockerName.optional(),
  /** A push of an empty source volume is refused unless set (an empty volume is more often a mistake than data). */
  allowEmpty: z.boolean().default(false),
});

/** An off-site snapshot: restic's `latest`, or a snapshot's id (8 to 64 hex digits). */
export const offsiteSnapshot = z.string().regex(/^(?:latest|[0-9a-f]{8,64})$/, {
  error: (issue) => `'${String(issue.input)}' is not latest or an off-site snapshot's id such as 458ad4b9`,
});

export const restoreVolume = z.strictObject({
  volume: dockerName,
  /** `server`: a privateer server's copy (the default); `offsite`: the source client's off-site repository (montagu-backup:offsite). */
  from: z.enum(["server", "offsite"]).default("server"),
  /** The privateer server read from; not with `from: offsite`. */
  server: dockerName.optional(),
  /** The client whose copy is restored; not for `local` volumes; may be left out when one client backs the volume up. */
  source: dockerName.optional(),
  /** The volume restored into; defaults to `volume`. */
  to: dockerName.optional(),
  /** The client that restores; may be left out when the stack provisions one client only. */
  client: dockerName.optional(),
  /**
   * From a server: absent, its current copy `<client>/<volume>/`; `latest` or a name such as
   * 20261126T131500Z, a history snapshot (not for `local` volumes). Off-site: `latest` (the
   * default) or a snapshot's id.
   */
  snapshot: z.string().optional(),
  /** A restore from an empty source is refused unless set. */
  allowEmpty: z.boolean().default(false),
  /** Restoring into a volume that anything on this stack's engine uses (a backed-up volume, barman's, privateer's) is refused unless set. */
  allowOverwriteSource: z.boolean().default(false),
}).superRefine((entry, ctx) => {
  if (entry.from === "server" && entry.server === undefined) ctx.addIssue({ code: "custom", path: ["server"], message: "name the server whose copy is restored (or set from: offsite)" });
  if (entry.from === "offsite" && entry.server !== undefined) ctx.addIssue({ code: "custom", path: ["server"], message: "an off-site restore reads the bucket, not a server: leave server out" });
  if (entry.snapshot === undefined) return;
  const checked = (entry.from === "offsite" ? offsiteSnapshot : snapshot).safeParse(entry.snapshot);
  if (!checked.success) ctx.addIssue({ code: "custom", path: ["snapshot"], message: checked.error.issues[0].message });
});

const snapshotsKept = z.number().int({ error: "must be a whole number of snapshots" }).min(0, { error: "must be 0 or more snapshots" });

/** The history a privateer server keeps of every client's copy. */
const history = z.strictObject({
  /** When the server snapshots each client's copy. */
  schedule: cron.default("*/15 * * * *"),
  /** How many daily snapshots are kept. */
  daily: snapshotsKept.default(7),
  /** How many weekly snapshots are kept. */
  weekly: snapshotsKept.default(4),
});

/**
 * privateer's `export`, run when `id` changes: a volume as a tar file in `to`, a directory on
 * the machine running `pulumi up`, with its checksum beside it. Without `server`, a volume on
 * this stack's engine; with `server` (which this stack provisions), that server's copy of
 * `source`'s volume, or one of its history snapshots.
 */
export const archiveExport = z.strictObject({
  id: stepId,
  volume: dockerName,
  to: hostDirectory,
  /** The server whose copy is exported; absent: the volume on this stack's engine. */
  server: dockerName.optional(),
  /**
   * With `server`: the client whose copy is exported (may be left out when one client backs the
   * volume up). Without: the machine the archive is named after (may be left out when the
   * stack provisions one machine).
   */
  source: dockerName.optional(),
  /** With `server`: `latest` or a snapshot's name, a copy from the server's history rather than the current one. */
  snapshot: snapshot.optional(),
});

/** privateer's `import`, run when `id` changes: a tar file made by an export, its checksum checked, unpacked into a new volume. */
export const archiveImport = z.strictObject({
  id: stepId,
  /** The tar file on the machine running `pulumi up`; its checksum is `<file>.sha256`. */
  file: hostTarFile,
  /** The volume made from it: it must not exist yet. */
  volume: dockerName,
});

export const privateer = z.strictObject({
  /** `local` builds images/privateer/*; `upstream` pulls mrcide/privateer-*:<tag>. */
  images: z.enum(["local", "upstream"]).default("local"),
  keys: z
    .strictObject({
      /** Whether this stack generates every machine's keypair (and writes them to vault when the topology has one). */
      generate: z.boolean().optional(),
      /** Raise to replace every key. */
      generation: z.number().int().min(1).default(1),
    })
    .prefault({}),
  /** Changing it runs every connection check again (they also run whenever keys or servers change). */
  checkId: stepId.optional(),
  /** An on-demand push: runs when `id` changes. */
  backup: z.strictObject({ id: stepId, volumes: z.array(backupVolume).min(1) }).optional(),
  /** The server's hard-link snapshots of each client's copy: taken on `schedule`, keeping `daily` daily and `weekly` weekly ones. */
  history: history.prefault({}),
  /** A volume, or a server's copy of one, as a tar file on the machine running `pulumi up`: runs when `id` changes. */
  export: archiveExport.optional(),
  /** An exported tar file into a new volume: runs when `id` changes. */
  import: archiveImport.optional(),
});
const verify = z.strictObject({
  container: dockerName,
  user: pgIdentifier.default("vimc"),
  database: pgIdentifier.default("montagu"),
  query: z.string().min(1),
});

/** packit's database, dumped before its dump volume is pushed (`pg_dump -Fc`, inside its container). */
export const packitDump = z.strictObject({
  container: dockerName.default("montagu-packit-db"),
  user: pgIdentifier.default("packituser"),
  database: pgIdentifier.default("packit"),
  /** Mounted at /pgbackup in the container; the dump is /pgbackup/packit. */
  volume: dockerName.default("montagu_packit_db_backup"),
});

/** packit's database rebuilt from the restored dump: an empty database, `pg_restore`, stopped again. */
export const packitRestore = z.strictObject({
  dumpVolume: dockerName.default("montagu_packit_db_backup"),
  databaseVolume: dockerName.default("montagu_packit_db"),
  image: imageReference.default("ghcr.io/mrc-ide/packit-db:main"),
  /** Environment for the image, e.g. what makes it create the user and database. */
  env: z.array(environmentVariable).default([]),
  user: pgIdentifier.default("packituser"),
  database: pgIdentifier.default("packit"),
  waitSeconds: z.number().int().min(1).default(300),
});

/** A restore onto this machine, run when `id` changes: stop, copy each volume, start, verify. */
export const restore = z.strictObject({
  id: stepId,
  volumes: z.array(restoreVolume).min(1),
  /** Containers stopped before anything is copied. */
  stop: z.array(dockerName).default([]),
  /** Containers started once everything is copied. */
  start: z.array(dockerName).default([]),
  /**
   * How long a stopped container must stay stopped, and a started one up without restarting,
   * before the restore goes on.
   */
  settleSeconds: z.number().int().min(1).max(600).default(5),
  /** A query run on the restored database; its result is a stack output. */
  verify: verify.optional(),
  /** Rebuild packit's database from its restored dump, after the copies and before the start. */
  packit: packitRestore.optional(),
});
