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
  /** ISO times; undefined while the backup runs. */
  begin?: string;
  end?: string;
  size?: number;
  beginWal?: string;
  endWal?: string;
}

export interface HistorySnapshot {
  /** Its name: its UTC time, 20261126T131500Z. */
  name: string;
  /** Bytes and files in it. */
  size: number;
  files: number;
}

export interface BackupHostReader {
  barmanBackups(backupHost: StackInfo): Promise<BarmanBackup[]>;
  snapshots(backupHost: StackInfo, client: string, volume: string): Promise<HistorySnapshot[]>;
  /** The time of the prepared copy restores read, or undefined when there is none. */
  preparedAt(backupHost: StackInfo): Promise<string | undefined>;
}

const run = promisify(execFile);
/** An epoch in seconds as ISO; undefined for none (a backup under way has none). */
const isoFromEpoch = (seconds: unknown) => {
  const value = typeof seconds === "number" || typeof seconds === "string" ? Number(seconds) : Number.NaN;
  return seconds === "" || !Number.isFinite(value) ? undefined : new Date(value * 1000).toISOString().replace(".000Z", "Z");
};

/** barman's `2026-11-27 10:00:00.123456+00:00`, as ISO; undefined for its "None" of a backup under way. */
const isoFromText = (text: unknown) => {
  if (typeof text !== "string" || text === "" || text === "None") return undefined;
  const when = Date.parse(text.replace(" ", "T"));
  return Number.isNaN(when) ? undefined : new Date(when).toISOString().replace(/\.\d{3}Z$/, "Z");
};

/** `barman -f json list-backups montagu`'s answer, as backups. */
export function barmanBackupsFrom(json: string): BarmanBackup[] {
  const listed = JSON.parse(json) as Record<string, Record<string, unknown>[]>;
  return (listed.montagu ?? []).map((b) => ({
    id: String(b.backup_id),
    status: String(b.status),
    begin: isoFromEpoch(b.begin_time_timestamp) ?? isoFromText(b.begin_time),
    end: isoFromEpoch(b.end_time_timestamp) ?? isoFromText(b.end_time),
    size: typeof b.size_bytes === "number" ? b.size_bytes : undefined,
    beginWal: typeof b.begin_wal === "string" ? b.begin_wal : undefined,
    endWal: typeof b.end_wal === "string" ? b.end_wal : undefined,
  }));
}

export class DockerReader implements BackupHostReader {
  private async exec(stack: StackInfo, container: string, args: string[]): Promise<string> {
    const env = stack.dockerHost === undefined ? process.env : { ...process.env, DOCKER_HOST: stack.dockerHost };
    const { stdout } = await run("docker", ["exec", container, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  async barmanBackups(stack: StackInfo): Promise<BarmanBackup[]> {
    return barmanBackupsFrom(await this.exec(stack, barmanSettings(stack).container, ["barman", "-f", "json", "list-backups", "montagu"]));
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
