import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { LOCAL_DIR, MONTAGU_DIR, PREPARED_STAMP } from "../components/privateer/layout";
import { Refusal } from "./engine";
import { barmanSettings, type StackInfo } from "./roles";

// What can be restored, read through the backup host's Docker engine (its stack's
// `docker:host`): barman's backups, the server's history snapshots, the prepared copy's time.
// Read-only: `docker exec` of listing commands in the containers the stack runs.

export interface BarmanBackup {
  id: string;
  status: string;
  /** ISO times; undefined until barman has them (a backup under way). */
  begin?: string;
  end?: string;
  /** The base backup's own bytes, without WAL (show-backup's disk_usage_bytes; barman-cloud's size). */
  size?: number;
  /** The WAL the backup itself spans, first and last segment. */
  beginWal?: string;
  endWal?: string;
  /** The newest WAL segment barman holds: how far a prepare from this backup can replay. */
  lastWal?: string;
}

export interface HistorySnapshot {
  /** Its name: its UTC time, 20261126T131500Z. */
  name: string;
  /** Bytes and files in it. */
  size: number;
  files: number;
}

/** One restic snapshot of a volume in the off-site store. */
export interface OffsiteSnapshot {
  /** restic's short id: what a restore's `snapshot` takes with `from: offsite`. */
  id: string;
  /** When the copy was taken, ISO. */
  time: string;
  /** Bytes and files the copy read (restic's summary, 0.17 on); undefined without one. */
  size?: number;
  files?: number;
}

export interface BackupHostReader {
  barmanBackups(backupHost: StackInfo): Promise<BarmanBackup[]>;
  /** barman's backups in the off-site bucket (barman.offsite), read with barman-cloud in barman's container. */
  barmanOffsiteBackups(backupHost: StackInfo): Promise<BarmanBackup[]>;
  /** A volume's restic snapshots off-site, read in `container`, which copies it, on `stack`'s engine. */
  offsiteSnapshots(stack: StackInfo, container: string, client: string, volume: string): Promise<OffsiteSnapshot[]>;
  snapshots(backupHost: StackInfo, client: string, volume: string): Promise<HistorySnapshot[]>;
  /** The time of the prepared copy restores read, or undefined when there is none. */
  preparedAt(backupHost: StackInfo): Promise<string | undefined>;
}

const run = promisify(execFile);
/** An epoch in seconds (barman prints it as a string) as ISO; undefined for none. */
const isoFromEpoch = (seconds: unknown) => {
  const value = typeof seconds === "number" || typeof seconds === "string" ? Number(seconds) : Number.NaN;
  return seconds === "" || !Number.isFinite(value) ? undefined : new Date(value * 1000).toISOString().replace(".000Z", "Z");
};

/**
 * A time with its zone (show-backup's `2026-12-05 06:05:02.542430+00:00`, barman-cloud's
 * `2026-07-05T07:05:02.542430+01:00`, restic's RFC 3339), as ISO UTC to the second. One without
 * its zone is refused, naming `what`: read in whatever zone this process has, it would be a guess.
 */
const isoFromText = (text: unknown, what: string) => {
  if (typeof text !== "string" || text === "" || text === "None") return undefined;
  const when = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) ? Date.parse(text.replace(" ", "T")) : Number.NaN;
  if (Number.isNaN(when)) throw new Refusal(`${what} is '${text}', not a time with its zone`);
  return new Date(when).toISOString().replace(/\.\d{3}Z$/, "Z");
};

/**
 * A backup's begin_time or end_time in the bucket: its `_iso` twin, which
 * montagu-offsite-barman-list adds from backup.info with the zone PostgreSQL reported it in.
 * barman-cloud 3.4's own field is ctime() of that time (`Sat Dec  5 06:05:02 2026`): the wall
 * clock with its zone dropped, an hour off for a server in London in summer if read as UTC.
 */
function offsiteTime(backup: Record<string, unknown>, field: "begin_time" | "end_time"): string | undefined {
  const what = `barman-cloud's ${field} of backup ${String(backup.backup_id)}`;
  const zoned = backup[`${field}_iso`];
  if (zoned !== undefined && zoned !== null) return isoFromText(zoned, what);
  if (backup[field] === undefined || backup[field] === null) return undefined;
  throw new Refusal(
    `${what} is '${String(backup[field])}', without its zone, and there is no ${field}_iso: which backup a time falls in cannot be told. ` +
      "montagu-offsite-barman list gives it from backup.info, unless the time there has no zone either or the barman image predates it",
  );
}

const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const text = (value: unknown) => (typeof value === "string" && value !== "" && value !== "None" ? value : undefined);
const bytes = (value: unknown) => (typeof value === "number" ? value : undefined);

/**
 * barman's backups, from `barman -f json list-backups montagu` and `barman -f json show-backup
 * montagu ID` of each (barman 3.4's field names; test/fixtures/realOutput.ts has its real
 * output). The list has only the id, status and end; the begin, sizes and WAL are show-backup's,
 * which barman gives only once a backup's copy is done.
 */
export function barmanBackupsFrom(listed: string, shown: string[] = []): BarmanBackup[] {
  const details = new Map<string, Record<string, unknown>>();
  for (const answer of shown) {
    const backup = record(record(JSON.parse(answer)).montagu);
    details.set(String(backup.backup_id), backup);
  }
  return ((record(JSON.parse(listed)).montagu ?? []) as Record<string, unknown>[]).map((b) => {
    const id = String(b.backup_id);
    const base = record(details.get(id)?.base_backup_information);
    return {
      id,
      status: String(b.status),
      begin: isoFromEpoch(base.begin_time_timestamp) ?? isoFromText(base.begin_time, `show-backup's begin_time of ${id}`),
      end: isoFromEpoch(b.end_time_timestamp) ?? isoFromEpoch(base.end_time_timestamp) ?? isoFromText(base.end_time, `show-backup's end_time of ${id}`),
      size: bytes(base.disk_usage_bytes),
      beginWal: text(base.begin_wal),
      endWal: text(base.end_wal),
      lastWal: text(record(details.get(id)?.wal_information).last_available),
    };
  });
}

/** The backups whose show-backup says more than the list: those whose copy is done. */
export const finishedBackupIds = (listed: string): string[] =>
  ((record(JSON.parse(listed)).montagu ?? []) as Record<string, unknown>[]).filter((b) => b.status === "DONE" || b.status === "WAITING_FOR_WALS").map((b) => String(b.backup_id));

/** `montagu-offsite-barman list`'s answer (barman-cloud-backup-list --format json, with each time's zone), as backups. */
export function barmanOffsiteBackupsFrom(json: string): BarmanBackup[] {
  const listed = JSON.parse(json) as { backups_list?: Record<string, unknown>[] };
  return (listed.backups_list ?? []).map((b) => ({
    id: String(b.backup_id),
    status: String(b.status),
    begin: offsiteTime(b, "begin_time"),
    end: offsiteTime(b, "end_time"),
    size: bytes(b.size),
    beginWal: text(b.begin_wal),
    endWal: text(b.end_wal),
  }));
}

/** `montagu-offsite snapshots`' answer (restic's `snapshots --json`), as snapshots, oldest first. */
export function offsiteSnapshotsFrom(json: string): OffsiteSnapshot[] {
  const listed = JSON.parse(json) as Record<string, unknown>[];
  return listed
    .map((s) => {
      const summary = record(s.summary);
      return {
        id: String(s.short_id ?? String(s.id).slice(0, 8)),
        time: isoFromText(s.time, `restic's time of snapshot ${String(s.short_id ?? s.id)}`) ?? String(s.time),
        size: bytes(summary.total_bytes_processed),
        files: bytes(summary.total_files_processed),
      };
    })
    .sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

export class DockerReader implements BackupHostReader {
  private async exec(stack: StackInfo, container: string, args: string[]): Promise<string> {
    const env = stack.dockerHost === undefined ? process.env : { ...process.env, DOCKER_HOST: stack.dockerHost };
    const { stdout } = await run("docker", ["exec", container, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  async barmanBackups(stack: StackInfo): Promise<BarmanBackup[]> {
    const container = barmanSettings(stack).container;
    const listed = await this.exec(stack, container, ["barman", "-f", "json", "list-backups", "montagu"]);
    const ids = finishedBackupIds(listed);
    if (ids.length === 0) return barmanBackupsFrom(listed);
    // One exec for every show-backup: each answer is one line of JSON.
    const shown = await this.exec(stack, container, ["sh", "-c", 'for id in "$@"; do barman -f json show-backup montagu "$id" || exit; done', "show-backups", ...ids]);
    return barmanBackupsFrom(listed, shown.split("\n").filter((line) => line.trim() !== ""));
  }

  async barmanOffsiteBackups(stack: StackInfo): Promise<BarmanBackup[]> {
    // The bucket's address and keys are the container's own (its environment and secret files): none is on this command line.
    return barmanOffsiteBackupsFrom(await this.exec(stack, barmanSettings(stack).container, ["montagu-offsite-barman", "list"]));
  }

  async offsiteSnapshots(stack: StackInfo, container: string, client: string, volume: string): Promise<OffsiteSnapshot[]> {
    // As above: the repository's password and the store's keys stay in the container.
    return offsiteSnapshotsFrom(await this.exec(stack, container, ["montagu-offsite", "snapshots", client, volume]));
  }

  async snapshots(stack: StackInfo, client: string, volume: string): Promise<HistorySnapshot[]> {
    const container = stack.server?.container ?? "privateer_montagu_server";
    const dir = `${MONTAGU_DIR}/history/${client}/${volume}`;
    // One line per snapshot: name, bytes, files; nothing when the volume has no history yet.
    const script = `cd ${dir} 2>/dev/null || exit 0; for s in */; do s=\${s%/}; [ -d "$s" ] || continue; printf '%s %s %s\\n' "$s" "$(du -sb "$s" | cut -f1)" "$(find "$s" -type f | wc -l)"; done`;
    const out = await this.exec(stack, container, ["sh", "-c", script]);
    return out
      .split("\n")
      .filter((line) => /^\d{8}T\d{6}Z /.test(line))
      .map((line) => {
        const [name, size, files] = line.split(" ");
        return { name, size: Number(size), files: Number(files) };
      });
  }

  async preparedAt(stack: StackInfo): Promise<string | undefined> {
    const container = stack.server?.container ?? "privateer_montagu_server";
    const recover = barmanSettings(stack).recover;
    const out = await this.exec(stack, container, ["sh", "-c", `cat ${LOCAL_DIR}/${recover}/${PREPARED_STAMP} 2>/dev/null || true`]);
    return out.trim() === "" ? undefined : out.trim();
  }
}
