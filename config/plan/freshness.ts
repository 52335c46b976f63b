import { CronExpressionParser } from "cron-parser";
import { alertRules, alertRulesYaml } from "./alertRules";
import { dumpId, offsiteCopySchedule, offsiteId, pushId, pushOfDump, scheduledPushes } from "../rules/freshness";
import { volumeRepositoriesPrefix } from "../sections/offsite";
import type { StackConfig } from "../sections/stack";
import type { Topology } from "../topology";

// Which backups the freshness monitor watches, where it reads each one's last success, and
// when each is late: the topology's scheduled pushes to this stack's servers, and barman's WAL,
// base backups and nightly recovery when barman runs here.

const HOUR = 3600;
/** Where the monitor mounts what it reads: each a volume it may only read. */
export const SOURCES = { privateer: "/sources/privateer", barmanData: "/sources/barman", barmanMetrics: "/sources/barman-metrics" } as const;
/** barman's own server name (images/barman). */
const BARMAN_SERVER = "montagu";
/** barman streams WAL continuously, so it has no schedule to be late against. */
export const WAL_STALE_AFTER = HOUR;

/** How the monitor finds a backup's last success (images/freshness/monitor.py). */
export type LastSuccessReader =
  | { kind: "timestamp-file"; path: string }
  | { kind: "newest-object"; endpoint: string; region: string; bucket: string; prefix: string }
  | { kind: "barman-backups"; path: string }
  | { kind: "newest-file"; paths: string[] }
  | { kind: "verified-dump"; directory: string; prefix: string };

export interface WatchedBackup {
  /** `push/<client>/<volume>`, `dump/<client>/<database>`, `offsite/<client>/<volume>`, `barman/wal`, `barman/base-backup`, `barman/nightly-recovery`, `barman/offsite-wal` or `barman/offsite-base-backup`. */
  id: string;
  /** What the alerts call it. */
  description: string;
  /** Its schedule, when it has one: what its lateness is worked out from. */
  schedule?: string;
  staleAfterSeconds: number;
  /** The longest wait between two of its scheduled runs: its next run is due that long after its last success. */
  intervalSeconds?: number;
  /** For an off-site copy: the id of the backup it copies (its off-site lag is the gap between their last successes). */
  offsiteOf?: string;
  read: LastSuccessReader;
}

export interface FreshnessPlan {
  container: string;
  volume: string;
  metricsPort: number;
  checkEverySeconds: number;
  /** The place the alerts name. */
  name: string;
  email?: NonNullable<StackConfig["freshness"]>["email"];
  /** The volumes it reads, each at its own mount point. */
  mounts: { volume: string; path: string }[];
  /** Where the keys of the off-site store are in vault, when it reads the store. */
  offsiteCredentialsVaultPath?: string;
  /** With barman: where its nightly verification records its answer, and the flags of a failed night. */
  nightly?: { verified: string; failed: string[] };
  backups: WatchedBackup[];
  /** Prometheus alerting rules on the same thresholds (config/plan/alertRules.ts), as the file's text. */
  alertRules: string;
}

/** The nicknames croniter and the scheduler know that cron-parser does not. */
const SAME_AS = { "@midnight": "0 0 * * *" } as Record<string, string>;
const FIRST_RUN_CONSIDERED = new Date("2026-01-01T00:00:00Z");
const RUNS_CONSIDERED = 2000;
const DAYS_CONSIDERED = 400;

/**
 * The longest wait between two runs of `schedule` over a year of runs (every month's length
 * included), as the clock on the wall counts it: a clock change moves a run by an hour, which
 * the grace below covers, so a daily job is late after 26 h in every time zone.
 */
export function longestGapSeconds(schedule: string): number {
  const runs = CronExpressionParser.parse(SAME_AS[schedule] ?? schedule, { tz: "UTC", currentDate: FIRST_RUN_CONSIDERED });
  const end = FIRST_RUN_CONSIDERED.getTime() + DAYS_CONSIDERED * 24 * HOUR * 1000;
  let previous = runs.next().getTime();
  let longest = 0;
  for (let i = 0; i < RUNS_CONSIDERED && previous < end; i++) {
    const next = runs.next().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest / 1000;
}

/** Late once a run is missed and then some: the longest gap, plus that gap again up to two hours (a daily job: 26 h). */
export function staleAfterSchedule(schedule: string): number {
  const gap = longestGapSeconds(schedule);
  return gap + Math.min(gap, 2 * HOUR);
}

export function freshnessPlan(topology: Topology, config: StackConfig): FreshnessPlan | undefined {
  const settings = config.freshness;
  if (settings === undefined) return undefined;
  const servers = topology.servers.filter((server) => config.machines.includes(server.name));
  const overrides = settings.staleAfter;
  const backups: WatchedBackup[] = [];
  const mounts: FreshnessPlan["mounts"] = [];
  const pushes = scheduledPushes(topology.clients);
  const watch = (backup: Omit<WatchedBackup, "staleAfterSeconds" | "intervalSeconds">, scheduled: number) =>
    backups.push({
      ...backup,
      staleAfterSeconds: overrides[backup.id] ?? scheduled,
      ...(backup.schedule === undefined ? {} : { intervalSeconds: longestGapSeconds(backup.schedule) }),
    });

  for (const server of servers) {
    const root = `${SOURCES.privateer}/${server.name}`;
    mounts.push({ volume: server.data_volume, path: root });
    for (const push of pushes.filter((p) => p.server === server.name)) {
      watch(
        { id: pushId(push), description: `${push.client}'s push of ${push.volume} to ${server.name}`, schedule: push.schedule, read: { kind: "timestamp-file", path: `${root}/.montagu/pushed/${push.client}/${push.volume}` } },
        staleAfterSchedule(push.schedule),
      );
    }
  }
  for (const dump of settings.dumps) {
    const push = pushOfDump(pushes, servers.map((s) => s.name), dump);
    if (push === undefined) throw new Error(`freshness: no scheduled push brings ${dump.client}'s ${dump.volume} to this stack`);
    // A dump is here once the push after it has run.
    watch(
      {
        id: dumpId(dump),
        description: `${dump.client}'s dump of ${dump.database}, pushed in ${dump.volume}`,
        schedule: dump.schedule,
        read: { kind: "verified-dump", directory: `${SOURCES.privateer}/${push.server}/${dump.client}/${dump.volume}`, prefix: `${dump.database}-${dump.name ?? dump.client}-` },
      },
      staleAfterSchedule(dump.schedule) + longestGapSeconds(push.schedule),
    );
  }
  const store = config.offsite?.store;
  for (const copy of settings.offsite) {
    const schedule = offsiteCopySchedule(pushes, copy);
    if (schedule === undefined || store === undefined) throw new Error(`freshness: no schedule or no store for ${offsiteId(copy)}`);
    // restic writes a snapshot's object last, once everything it names is stored: its time is the copy's.
    watch(
      {
        id: offsiteId(copy),
        description: `${copy.client}'s off-site copy of ${copy.volume}`,
        schedule,
        offsiteOf: pushId(copy),
        read: { kind: "newest-object", endpoint: store.endpoint, region: store.region, bucket: store.bucket, prefix: `${volumeRepositoriesPrefix(store)}/${copy.client}/${copy.volume}/snapshots/` },
      },
      staleAfterSchedule(schedule),
    );
  }
  const barman = config.barman;
  if (barman !== undefined) {
    mounts.push({ volume: barman.volumes.data, path: SOURCES.barmanData }, { volume: barman.volumes.metrics, path: SOURCES.barmanMetrics });
    const home = `${SOURCES.barmanData}/${BARMAN_SERVER}`;
    watch({ id: "barman/wal", description: "WAL arriving at barman from the primary", read: { kind: "newest-file", paths: [`${home}/streaming`, `${home}/wals`] } }, WAL_STALE_AFTER);
    watch(
      { id: "barman/base-backup", description: "barman's base backup", schedule: barman.schedule.baseBackup, read: { kind: "barman-backups", path: `${home}/base` } },
      staleAfterSchedule(barman.schedule.baseBackup),
    );
    watch(
      { id: "barman/nightly-recovery", description: "the nightly recovery of barman's latest backup", schedule: barman.schedule.nightly, read: { kind: "timestamp-file", path: `${SOURCES.barmanMetrics}/nightly-last-success` } },
      staleAfterSchedule(barman.schedule.nightly),
    );
    if (barman.offsite !== undefined) {
      // Sent on the upload's schedule after barman has them: late after barman's own allowance plus the upload's gap.
      const uploadGap = longestGapSeconds(barman.offsite.upload);
      watch(
        { id: "barman/offsite-wal", description: "barman's WAL reaching the off-site bucket", schedule: barman.offsite.upload, offsiteOf: "barman/wal", read: { kind: "timestamp-file", path: `${SOURCES.barmanMetrics}/offsite-wal-last-upload` } },
        WAL_STALE_AFTER + uploadGap,
      );
      watch(
        { id: "barman/offsite-base-backup", description: "barman's base backup reaching the off-site bucket", schedule: barman.schedule.baseBackup, offsiteOf: "barman/base-backup", read: { kind: "timestamp-file", path: `${SOURCES.barmanMetrics}/offsite-backup-last-upload` } },
        staleAfterSchedule(barman.schedule.baseBackup) + uploadGap,
      );
    }
  }
  const plan: Omit<FreshnessPlan, "alertRules"> = {
    container: settings.container,
    volume: settings.volume,
    metricsPort: settings.metricsPort,
    checkEverySeconds: settings.checkEvery,
    name: settings.name ?? config.machines.join("+"),
    email: settings.email,
    mounts,
    offsiteCredentialsVaultPath: settings.offsite.length > 0 ? store?.credentialsVaultPath : undefined,
    nightly: barman === undefined ? undefined : { verified: `${SOURCES.barmanMetrics}/nightly-verified.json`, failed: [`${SOURCES.barmanMetrics}/nightly-failed`, `${SOURCES.barmanMetrics}/nightly-verify-failed`] },
    backups,
  };
  return { ...plan, alertRules: alertRulesYaml(alertRules(plan, barman === undefined ? undefined : { offsite: barman.offsite !== undefined })) };
}
