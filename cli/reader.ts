import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { LOCAL_DIR, MONTAGU_DIR, PREPARED_STAMP } from "../components/privateer/layout";
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

/** A time with its zone (show-backup's `2026-12-05 06:05:02.542430+00:00`, restic's RFC 3339), as ISO to the second. */
const isoFromText = (text: unknown) => {
  if (typeof text !== "string" || text === "" || text === "None") return undefined;
  const when = Date.parse(text.replace(" ", "T"));
  return Number.isNaN(when) ? undefined : new Date(when).toISOString().replace(/\.\d{3}Z$/, "Z");
};

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/**
 * barman-cloud's time, Python's ctime() of it (`Sat Dec  5 06:05:02 2026`), which drops the zone:
 * read as UTC, the zone PostgreSQL's image runs in unless TZ is set (barman takes its times from
 * the database server).
 */
const isoFromCtime = (text: unknown) => {
  const match = typeof text === "string" ? /^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(text) : null;
  if (match === null || !MONTHS.includes(match[1])) return undefined;
  const [, month, day, hours, minutes, seconds, year] = match;
  return new Date(Date.UTC(Number(year), MONTHS.indexOf(month), Number(day), Number(hours), Number(minutes), Number(seconds))).toISOString().replace(".000Z", "Z");
};

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
      begin: isoFromEpoch(base.begin_time_timestamp) ?? isoFromText(base.begin_time),
      end: isoFromEpoch(b.end_time_timestamp) ?? isoFromEpoch(base.end_time_timestamp) ?? isoFromText(base.end_time),
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

/** `montagu-offsite-barman list`'s answer (barman-cloud-backup-list --format json), as backups. */
export function barmanOffsiteBackupsFrom(json: string): BarmanBackup[] {
  const listed = JSON.parse(json) as { backups_list?: Record<string, unknown>[] };
  return (listed.backups_list ?? []).map((b) => ({
    id: String(b.backup_id),
    status: String(b.status),
    begin: isoFromCtime(b.begin_time),
    end: isoFromCtime(b.end_time),
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
      const summary = (typeof s.summary === "object" && s.summary !== null ? s.summary : {}) as Record<string, unknown>;
      return {
        id: String(s.short_id ?? String(s.id).slice(0, 8)),
        time: isoFromText(s.time) ?? String(s.time),
        size: typeof summary.total_bytes_processed === "number" ? summary.total_bytes_processed : undefined,
        files: typeof summary.total_files_processed === "number" ? summary.total_files_processed : undefined,
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
