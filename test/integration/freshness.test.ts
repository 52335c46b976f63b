import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../simulator/harness/eventually";
import type { SimulatedHost } from "../../simulator/rig/hosts";
import { dataCentre } from "../../simulator/dataCentre";
import { startMailServer, type MailServer } from "../../simulator/rig/mail";
import { barmanStack, standInStack } from "../../simulator/stacks";

// What tells whether the backups are good and recent, on one data centre: scheduled dumps of a
// real PostgreSQL database on production2 (dated, read back whole, with a checksum that still
// matches, thinned as `keep` says, none lost to a failed run), and the freshness monitor on
// annex2 watching a real scheduled push and barman's WAL from the real primary, telling a real
// SMTP server when each goes stale and when it recovers.

const TOPOLOGY = "test/fixtures/privateer.json";
const VOLUME = "montagu_orderly_volume";
const DUMPS_VOLUME = "montagu_packit_db_backup";
const DUMP = /^montagu-production2-\d{8}T\d{6}Z\.dump$/;
const PUSH = `push/production2/${VOLUME}`;
const WAL = "barman/wal";
/** The schedule pushes every minute: late after a missed run and a bit. */
const PUSH_STALE_AFTER = 90;
const WAL_STALE_AFTER = 45;

type Metrics = Record<string, Record<string, number>>;

const centre = dataCentre({ machines: ["annex2", "production2"], topology: TOPOLOGY, parallel: true });
let annex2: SimulatedHost;
let production2: SimulatedHost;
let mail: MailServer;
let writer: NodeJS.Timeout | undefined;

const sql = (query: string) =>
  production2.docker.out("exec", "montagu-db", "runuser", "-u", "postgres", "--", "psql", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);

beforeAll(async () => {
  await centre.start();
  ({ annex2, production2 } = centre.hosts);
  mail = await startMailServer();
  await centre.up("annex2", {
    ...barmanStack("production2"),
    "montagu-backup:freshness": {
      checkEvery: "5s",
      staleAfter: { [PUSH]: `${PUSH_STALE_AFTER}s`, [WAL]: `${WAL_STALE_AFTER}s` },
      email: { host: mail.host, port: mail.port, from: "montagu-backup@example.org", to: ["backup-alerts@example.org"] },
    },
  });
  await centre.up("production2", {
    ...standInStack({ applicationVolumes: [VOLUME] }),
    "montagu-backup:dumps": {
      volume: DUMPS_VOLUME,
      schedule: "* * * * *",
      keep: { days: 1, weeks: 0 },
      databases: [{ database: "montagu", host: "localhost", port: 5432, user: "vimc", passwordGroup: "fake" }],
    },
  });
  // An empty volume is never pushed: give the schedule something to push.
  await production2.docker.out("run", "--rm", "--volume", `${VOLUME}:/volume`, "debian:bookworm", "sh", "-c", "echo orderly > /volume/report");
  await sql("CREATE TABLE IF NOT EXISTS reports AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 5000) g; ALTER TABLE reports OWNER TO vimc");
  await sql("CREATE TABLE IF NOT EXISTS ticks (at timestamptz DEFAULT now()); ALTER TABLE ticks OWNER TO vimc");
  // A primary in use writes WAL all the time; this one is kept in use.
  writer = setInterval(() => void sql("INSERT INTO ticks DEFAULT VALUES").catch(() => undefined), 3_000);
});

afterAll(() => clearInterval(writer));

describe("scheduled, verified, dated dumps", () => {
  const inDumps = (...command: string[]) => production2.docker.run(["exec", "montagu-dumps", ...command], { allowFailure: true });
  const dumps = async () => (await production2.docker.out("exec", "montagu-dumps", "ls", "/dumps")).split("\n").filter((name) => DUMP.test(name)).sort();
  const dumpNow = () => inDumps("montagu-dump", "/dumps", "montagu", "production2", "localhost", "5432", "vimc", "1", "0");

  it("dumps on the schedule, named with the database, the place and the time, with a checksum that matches and a table of contents that lists the tables", async () => {
    const [first] = await eventually("the first scheduled dump", 150, async () => {
      const found = await dumps();
      return found.length > 0 ? found : undefined;
    });
    const checked = await inDumps("sh", "-c", `cd /dumps && sha256sum -c ${first}.sha256`);
    expect(checked.code, checked.stderr).toBe(0);
    const listed = await inDumps("pg_restore", "--list", `/dumps/${first}`);
    expect(listed.stdout).toMatch(/TABLE DATA public reports/);
  });

  it("keeps what `keep` says: with one day kept, a new dump today replaces the older one of today", async () => {
    const before = await dumps();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const result = await dumpNow();
    expect(result.code, result.stderr).toBe(0);
    const after = await dumps();
    expect(after).toHaveLength(1);
    expect(before).not.toContain(after[0]);
    expect(result.stdout).toMatch(/reads back whole \(\d+ entries/);
  });

  it("removes nothing and leaves no partial file when the database cannot be dumped", async () => {
    const before = await dumps();
    const checksum = (await inDumps("cat", `/dumps/${before[0]}.sha256`)).stdout;
    await production2.docker.out("stop", "montagu-db");
    try {
      const result = await dumpNow();
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/montagu-dump: montagu: no new dump, nothing removed: pg_dump failed/);
      // Checked while the database is still down: a scheduled run after it comes back may dump it anew.
      expect(await dumps()).toEqual(before);
      expect((await inDumps("cat", `/dumps/${before[0]}.sha256`)).stdout).toBe(checksum);
      expect((await inDumps("sh", "-c", "ls -A /dumps | grep -c partial || true")).stdout.trim()).toBe("0");
    } finally {
      await production2.docker.out("start", "montagu-db");
    }
  });
});

describe("the freshness monitor: an email when a backup goes stale and one when it recovers", () => {
  /** Each backup's metrics, by name then backup id. */
  const metrics = async (): Promise<Metrics> => {
    const text = await annex2.docker.out(
      "exec", "montagu-freshness", "python3", "-c",
      "import urllib.request; print(urllib.request.urlopen('http://localhost:5001/metrics', timeout=10).read().decode())",
    );
    const result: Metrics = {};
    for (const line of text.split("\n").filter(Boolean)) {
      const [, name, backup] = /^(\w+)(?:\{backup="([^"]+)")?/.exec(line)!;
      (result[name] ??= {})[backup ?? ""] = Number(line.split(" ").pop());
    }
    return result;
  };
  /** The messages since the stacks settled: what a stack just built told while its first backups arrived is not counted. */
  let settled = 0;
  const newMessages = async () => (await mail.messages()).slice(settled);
  const subjects = async () => (await newMessages()).map((m) => m.subject);
  const told = async (subject: string) => (await subjects()).filter((s) => s === `[annex2] ${subject}`).length;

  it("shows both fresh once the first push and the first WAL have arrived, with every alert sent", async () => {
    const fresh = await eventually("the push and the WAL fresh", 240, async () => {
      const now = await metrics();
      const ages = now.montagu_backup_time_since_last_success_seconds;
      return now.montagu_backup_time_of_last_success?.[PUSH] !== undefined && now.montagu_backup_time_of_last_success?.[WAL] !== undefined && ages[PUSH] < PUSH_STALE_AFTER && ages[WAL] < WAL_STALE_AFTER
        ? now
        : undefined;
    });
    expect(fresh.montagu_backup_stale[PUSH]).toBe(0);
    expect(fresh.montagu_backup_stale[WAL]).toBe(0);
    expect(fresh.montagu_backup_monitor_ok[""]).toBe(1);
    // Before the first push and the first WAL, both were late: told, and told of their recovery.
    await eventually("every alert sent", 60, async () => ((await metrics()).montagu_backup_alerts_unsent[""] === 0 ? true : undefined));
    settled = (await mail.messages()).length;
    const stale = (await mail.messages()).filter((m) => m.subject.includes("STALE")).length;
    expect((await mail.messages()).filter((m) => m.subject.includes("RECOVERED")).length).toBe(stale);
  });

  it("sends one STALE email for each, and the metrics show their age, once the schedule and barman stop", async () => {
    await production2.docker.out("stop", "privateer_scheduler");
    await annex2.docker.out("stop", "barman-montagu");
    const stopped = Date.now();
    await eventually("both STALE emails", PUSH_STALE_AFTER + 120, async () => ((await told(`STALE: ${PUSH}`)) === 1 && (await told(`STALE: ${WAL}`)) === 1 ? true : undefined), 3_000);
    const elapsed = (Date.now() - stopped) / 1000;
    // More checks: still one each.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect(await subjects()).toEqual(expect.arrayContaining([`[annex2] STALE: ${PUSH}`, `[annex2] STALE: ${WAL}`]));
    expect(await subjects()).toHaveLength(2);
    const now = await metrics();
    expect(now.montagu_backup_stale[PUSH]).toBe(1);
    expect(now.montagu_backup_stale[WAL]).toBe(1);
    expect(now.montagu_backup_time_since_last_success_seconds[PUSH]).toBeGreaterThan(PUSH_STALE_AFTER);
    expect(now.montagu_backup_time_since_last_success_seconds[WAL]).toBeGreaterThan(WAL_STALE_AFTER);
    const [pushAlert] = (await newMessages()).filter((m) => m.subject.endsWith(PUSH));
    expect(pushAlert.to).toBe("backup-alerts@example.org");
    expect(pushAlert.body).toMatch(/production2's push of montagu_orderly_volume to annex2 is late/);
    expect(pushAlert.body).toMatch(/^last success: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)$/m);
    const status = await annex2.docker.out("exec", "montagu-freshness", "cat", `/state/status/${PUSH}.status`);
    expect(status).toMatch(/^state=stale$/m);
    console.log(`freshness: both STALE emails ${elapsed.toFixed(0)} s after the stop (thresholds ${PUSH_STALE_AFTER} s and ${WAL_STALE_AFTER} s, checks every 5 s)`);
  });

  it("sends one RECOVERED email for each once the schedule pushes and barman streams again, and the ages reset", async () => {
    await production2.docker.out("start", "privateer_scheduler");
    await annex2.docker.out("start", "barman-montagu");
    const started = Date.now();
    await eventually("both RECOVERED emails", 240, async () => ((await told(`RECOVERED: ${PUSH}`)) === 1 && (await told(`RECOVERED: ${WAL}`)) === 1 ? true : undefined), 3_000);
    const elapsed = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect(await subjects()).toHaveLength(4);
    const now = await metrics();
    expect(now.montagu_backup_stale[PUSH]).toBe(0);
    expect(now.montagu_backup_stale[WAL]).toBe(0);
    expect(now.montagu_backup_time_since_last_success_seconds[PUSH]).toBeLessThan(PUSH_STALE_AFTER);
    expect(now.montagu_backup_time_since_last_success_seconds[WAL]).toBeLessThan(WAL_STALE_AFTER);
    console.log(`freshness: both RECOVERED emails ${elapsed.toFixed(0)} s after the restart`);
  });
});
