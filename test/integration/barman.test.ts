import * as fs from "node:fs";
import { eventually } from "../../simulator/harness/eventually";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulatedHost } from "../../simulator/rig/hosts";
import { dataCentre } from "../../simulator/dataCentre";
import { freshnessMetrics as readFreshnessMetrics } from "../../simulator/freshness";
import { barmanStack, standInStack } from "../../simulator/stacks";
import { startMailServer, type MailServer } from "../../simulator/rig/mail";
import { type S3Server, startS3Server } from "../../simulator/rig/s3";
import { browse, rigAddress } from "../../simulator/statusPage";

// A real PostgreSQL primary on production2, barman streaming from it on annex2; scheduled dumps
// of it on production2 (dated, read back whole, with a checksum that still matches, thinned as
// `keep` says, none lost to a failed run); and the freshness monitor on annex2 watching a real
// scheduled push and barman's WAL, telling a real SMTP server when each goes stale and recovers;
// barman's WAL and base backups copied to a real S3 server, and a point in time recovered from
// the bucket alone.

const TOPOLOGY = "test/fixtures/privateer.json";
const BARMAN_IMAGE = "montagu-backup/barman:local";
/** What the nightly copy is asked, to prove it starts and holds the data. */
const VERIFY_QUERY = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE NOT datistemplate";

const VOLUME = "montagu_orderly_volume";
const DUMPS_VOLUME = "montagu_packit_db_backup";
const DUMP = /^montagu-production2-\d{8}T\d{6}Z\.dump$/;
const PUSH = `push/production2/${VOLUME}`;
const WAL = "barman/wal";
/** The schedule pushes every minute: late after a missed run and a bit. */
const PUSH_STALE_AFTER = 75;
const WAL_STALE_AFTER = 30;

const BUCKET = "montagu-offsite";
/** The stack's own Prometheus on annex2, scraping every 5 s. */
const PROMETHEUS_PORT = 9090;
/** Where the status page's screenshots are kept, with the tests' results. */
const SCREENSHOTS = "test-results/status-page";


describe("barman on the backup host, streaming from a real primary", () => {
  const centre = dataCentre({ machines: ["annex2", "production2"], topology: TOPOLOGY, parallel: true });
  let annex2: SimulatedHost;
  let production2: SimulatedHost;
  let mail: MailServer;
  let s3: S3Server;

  const barman = (...args: string[]) => annex2.docker.run(["exec", "barman-montagu", "barman", ...args], { allowFailure: true });
  const sql = (query: string) =>
    production2.docker.out("exec", "montagu-db", "runuser", "-u", "postgres", "--", "psql", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const metricsText = () =>
    annex2.docker.out(
      "run", "--rm", "--network", "host", "--entrypoint", "python3", BARMAN_IMAGE, "-c",
      "import urllib.request; print(urllib.request.urlopen('http://localhost:5000/metrics', timeout=10).read().decode())",
    );
  const metrics = async () =>
    Object.fromEntries((await metricsText()).split("\n").filter(Boolean).map((line) => [line.split("{")[0], Number(line.split(" ").pop())]));
  const collect = () => annex2.docker.run(["exec", "barman-montagu", "barman-metrics", "collect"], { allowFailure: true });
  /** A throwaway container of barman's image on annex2, running `script` with `dockerArgs`. */
  const inBarmanImage = (script: string, dockerArgs: string[] = []) =>
    annex2.docker.run(["run", "--rm", "--network", "host", "--entrypoint", "bash", ...dockerArgs, BARMAN_IMAGE, "-euo", "pipefail", "-c", script], { allowFailure: true });
  /** One with none of barman's volumes, and the bucket's address and keys: what it reads comes from the bucket alone. */
  const fromBucket = (script: string) =>
    inBarmanImage(script, [
      "--env", `BARMAN_OFFSITE_URL=s3://${BUCKET}/montagu/barman`, "--env", `BARMAN_OFFSITE_ENDPOINT=${s3.endpoint}`, "--env", "AWS_DEFAULT_REGION=us-east-1",
      "--env", `AWS_ACCESS_KEY_ID=${s3.accessKeyId}`, "--env", `AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
    ]);
  /** The script that starts PostgreSQL on the copy in /tmp/copy, waits for its recovery to end, and asks `query` of montagu. */
  const queryCopy = (query: string) => `
    pg=/usr/lib/postgresql/15/bin
    chown -R postgres:postgres /tmp/copy && chmod 0700 /tmp/copy
    runuser -u postgres -- "$pg/pg_ctl" --pgdata=/tmp/copy --wait --timeout=300 --silent --log=/tmp/replay.log \\
      --options="-c listen_addresses='' -c unix_socket_directories=/tmp -c port=5499 -c archive_mode=off -c shared_preload_libraries=''" start ||
      { tail -30 /tmp/replay.log >&2; exit 1; }
    runuser -u postgres -- env PATH="$pg:$PATH" montagu-wait-recovery /tmp/copy 300 --host=/tmp --port=5499 --dbname=postgres ||
      { tail -30 /tmp/replay.log >&2; exit 1; }
    runuser -u postgres -- psql --no-psqlrc -h /tmp -p 5499 -d montagu -Atc '${query}'`;
  const switchWal = async () => {
    const result = await annex2.docker.run(["exec", "barman-montagu", "montagu-switch-wal", "60"], { allowFailure: true });
    const closed = /The WAL file (\w{24}) has been closed/.exec(result.stdout)?.[1];
    expect(closed, result.stdout + result.stderr).toBeDefined();
    return closed!;
  };
  const inBucket = (segment: string) =>
    eventually(`${segment} in the bucket`, 150, async () => ((await s3.keys(BUCKET, "montagu/barman/montagu/wals")).some((key) => key.includes(segment)) ? true : undefined), 1000);


  beforeAll(async () => {
    await centre.start();
    ({ annex2, production2 } = centre.hosts);
    mail = await startMailServer();
    s3 = await startS3Server();
    centre.vault.secrets.set("secret/vimc/backup/offsite", { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey });
    await centre.up("annex2", {
      ...barmanStack("production2", { verify: { database: "montagu", query: VERIFY_QUERY }, offsite: {} }),
      "montagu-backup:offsite": { store: { endpoint: s3.endpoint, bucket: BUCKET, credentialsVaultPath: "secret/vimc/backup/offsite" } },
      "montagu-backup:freshness": {
        checkEvery: "5s",
        staleAfter: { [PUSH]: `${PUSH_STALE_AFTER}s`, [WAL]: `${WAL_STALE_AFTER}s` },
        email: { host: mail.host, port: mail.port, from: "montagu-backup@example.org", to: ["backup-alerts@example.org"] },
      },
      "montagu-backup:prometheus": { port: PROMETHEUS_PORT, scrapeInterval: "5s" },
    });
    await centre.up("production2", {
      // The volume the test topology's schedule pushes.
      ...standInStack({ applicationVolumes: [VOLUME] }),
      "montagu-backup:dumps": {
        volume: DUMPS_VOLUME,
        schedule: "* * * * *",
        keep: { days: 1, weeks: 0 },
        // barman's user reads every table, whoever owns it (the dump fails loudly on one it cannot read).
        databases: [{ database: "montagu", host: "localhost", port: 5432, user: "barman", passwordGroup: "fake" }],
      },
    });
    // An empty volume is never pushed: give the schedule something to push.
    await production2.docker.out("run", "--rm", "--volume", `${VOLUME}:/volume`, "debian:bookworm", "sh", "-c", "echo orderly > /volume/report");
  });

  it("takes the first base backup by itself, and barman check is all OK", async () => {
    const backups = await eventually("a base backup", 240, async () => {
      const listed = (await barman("list-backups", "--minimal", "montagu")).stdout.trim();
      return listed === "" ? undefined : listed.split("\n");
    });
    expect(backups.length).toBeGreaterThanOrEqual(1);
    const check = await eventually("barman check all OK", 120, async () => {
      await barman("cron");
      const result = await barman("check", "montagu");
      return result.code === 0 ? result.stdout : undefined;
    });
    expect(check).not.toMatch(/FAILED/);
    expect(check).toMatch(/replication slot: OK/);
  });

  it("receives the WAL holding rows just committed on the primary", async () => {
    await sql("CREATE TABLE IF NOT EXISTS batch (id serial PRIMARY KEY, payload text)");
    const segment = await sql("INSERT INTO batch (payload) SELECT md5(g::text) FROM generate_series(1, 1000) g; SELECT pg_walfile_name(pg_current_wal_lsn())");
    const switched = await barman("switch-wal", "--force", "--archive", "--archive-timeout", "120", "montagu");
    expect(switched.code, switched.stderr).toBe(0);
    const archived = await annex2.docker.out("exec", "barman-montagu", "bash", "-c", `ls /var/lib/barman/montagu/wals/*/ | grep -c '^${segment}' || true`);
    expect(Number(archived)).toBeGreaterThanOrEqual(1);
  });

  it("archives the primary's current WAL segment within seconds, even when the primary is quiet", async () => {
    // barman alone waits for the primary's next background WAL record: 0 to 20 s measured here, and
    // past a 60 s timeout on a primary just started.
    for (let round = 1; round <= 3; round++) {
      const started = performance.now();
      const result = await annex2.docker.run(["exec", "barman-montagu", "montagu-switch-wal", "60"], { allowFailure: true });
      const elapsed = (performance.now() - started) / 1000;
      expect(result.code, result.stderr).toBe(0);
      const closed = /The WAL file (\w{24}) has been closed/.exec(result.stdout)?.[1];
      expect(closed, result.stdout).toBeDefined();
      const archived = await annex2.docker.run(["exec", "barman-montagu", "bash", "-c", `ls /var/lib/barman/montagu/wals/*/${closed}*`], { allowFailure: true });
      expect(archived.code, `round ${round}: ${closed} is not in barman's archive`).toBe(0);
      expect(elapsed, `round ${round}`).toBeLessThan(4);
    }
  });

  describe("off-site copies of the database in a real S3 server", () => {
    it("sends, on its schedule, each WAL segment barman archives and each base backup it finishes to the bucket", async () => {
      const archived = (await annex2.docker.out("exec", "barman-montagu", "bash", "-c", "ls /var/lib/barman/montagu/wals/*/ | grep -E '^[0-9A-F]{24}$'")).split("\n");
      const started = performance.now();
      await eventually("every archived segment in the bucket", 150, async () => {
        const keys = await s3.keys(BUCKET, "montagu/barman/montagu/wals");
        return archived.every((segment) => keys.some((key) => key.endsWith(`/${segment}`))) ? true : undefined;
      }, 1000);
      console.log(`barman off-site: the ${archived.length} segments archived so far in the bucket ${((performance.now() - started) / 1000).toFixed(1)} s later (uploads every 10 s)`);
      const backups = (await barman("list-backups", "--minimal", "montagu")).stdout.trim().split("\n");
      const listed = await eventually("the base backups in the bucket", 120, async () => {
        const result = await fromBucket('barman-cloud-backup-list --cloud-provider aws-s3 --endpoint-url "$BARMAN_OFFSITE_ENDPOINT" "$BARMAN_OFFSITE_URL" montagu');
        return backups.every((id) => result.stdout.includes(id)) ? result.stdout : undefined;
      }, 2000);
      expect(listed).toContain(backups[0]);
      await collect();
      const now = await metrics();
      expect(now.barman_offsite_upload_failed).toBe(0);
      expect(now.barman_offsite_time_since_last_wal_upload_seconds).toBeLessThan(150);
      expect(now.barman_offsite_time_of_last_backup_upload).toBeGreaterThan(0);
    });

    it("recovers a point in time from the bucket alone: exactly the rows committed before it", async () => {
      await sql("CREATE TABLE IF NOT EXISTS pitr (id int)");
      await sql("INSERT INTO pitr SELECT generate_series(1, 100)");
      const target = await sql("SELECT now()");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await sql("INSERT INTO pitr SELECT generate_series(101, 200)");
      await inBucket(await switchWal());
      const started = performance.now();
      const recovered = await fromBucket(`
        mkdir /tmp/copy
        montagu-offsite-barman recover /tmp/copy --target-time "${target}"
        ${queryCopy("SELECT count(*), max(id) FROM pitr")}
      `);
      console.log(`barman off-site: point-in-time recovery from the bucket in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      expect(recovered.code, recovered.stderr).toBe(0);
      expect(recovered.stdout.trim().split("\n").pop()).toBe("100|100");
      expect(await sql("SELECT count(*) FROM pitr")).toBe("200");
    });
  });

  it("serves metrics that tell the truth: OK now, not OK with the primary down, OK again after", async () => {
    expect(await collect()).toMatchObject({ code: 0 });
    const healthy = await metrics();
    expect(healthy.barman_ok).toBe(1);
    expect(healthy.barman_available_backups).toBeGreaterThanOrEqual(1);
    expect(healthy.barman_time_since_last_backup_seconds).toBeLessThan(600);
    expect(healthy.pg_version_major).toBe(15);

    await production2.docker.run(["stop", "montagu-db"]);
    await collect();
    const down = await metrics();
    expect(down.barman_ok).toBe(0);
    expect(down.barman_time_since_last_backup_seconds).toBeGreaterThanOrEqual(healthy.barman_time_since_last_backup_seconds);

    await production2.docker.run(["start", "montagu-db"]);
    await eventually("barman_ok 1 again", 180, async () => {
      await barman("cron");
      await collect();
      return (await metrics()).barman_ok === 1 ? true : undefined;
    });
  });

  it("makes the nightly copy, shows its age in the metrics, and shows a failed one", async () => {
    const started = performance.now();
    const nightly = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
    const nightlySeconds = (performance.now() - started) / 1000;
    expect(nightly.code, nightly.stderr).toBe(0);
    // The proof that the copy is restorable costs little beside the recovery it proves.
    const verificationSeconds = Number(/verified in ([0-9.]+)s/.exec(nightly.stderr)?.[1]);
    const recoverySeconds = nightlySeconds - verificationSeconds;
    console.log(
      `nightly: recovery ${recoverySeconds.toFixed(2)} s, verification ${verificationSeconds.toFixed(2)} s: ` +
        `verification / recovery = ${(verificationSeconds / recoverySeconds).toFixed(3)}`,
    );
    expect(verificationSeconds / recoverySeconds).toBeLessThanOrEqual(0.3);
    expect(nightly.stderr).toMatch(/WAL replayed/);
    // Of its WAL, the copy keeps the segment of its last checkpoint: not what was replayed, nor
    // the segments PostgreSQL renamed ahead for reuse. The verification above started it.
    const kept = /kept WAL segment ([0-9A-F]{24}), where the copy's last checkpoint is; removed (\d+) others/.exec(nightly.stderr);
    expect(kept, nightly.stderr).not.toBeNull();
    const segments = (await annex2.docker.out("exec", "barman-montagu", "ls", "/nightly/pg_wal")).split("\n").filter((name) => /^[0-9A-F]{24}$/.test(name));
    expect(segments[0]).toBe(kept![1]);
    expect(segments.length).toBeLessThanOrEqual(2);
    const inNightly = (command: string) => annex2.docker.out("exec", "barman-montagu", "bash", "-c", `cd /nightly && ${command}`);
    const copy = "find . -path ./.montagu -prune -o -type f -printf '%i %p\\n' | sort";
    const finished = { stamp: await inNightly("cat .barman-last-restore"), files: await inNightly(copy) };
    expect(finished.stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const fresh = await metrics();
    expect(fresh.barman_time_since_last_nightly_recovery_seconds).toBeLessThan(120);
    expect(fresh.barman_nightly_recovery_failed).toBe(0);

    // A nightly run that cannot reach barman fails, and says so in the metrics.
    await annex2.docker.run(["exec", "barman-montagu", "mv", "/usr/bin/barman", "/usr/bin/barman.away"]);
    const failed = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
    await annex2.docker.run(["exec", "barman-montagu", "mv", "/usr/bin/barman.away", "/usr/bin/barman"]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/nightly recovery into \/nightly failed/);
    const after = await metrics();
    expect(after.barman_nightly_recovery_failed).toBe(1);
    expect(after.barman_time_since_last_nightly_recovery_seconds).toBeGreaterThanOrEqual(fresh.barman_time_since_last_nightly_recovery_seconds);
    // The failed night worked on its staging copy: last night's finished copy is still in place, file for file.
    expect(await inNightly("cat .barman-last-restore")).toBe(finished.stamp);
    expect(await inNightly(copy)).toBe(finished.files);
  });

  it("proves each nightly copy restorable: started, asked, stopped cleanly; a copy that does not start is flagged at once", async () => {
    // A restore reading the volume (its shared lock) makes the swap wait, not fail.
    const nightly = await annex2.docker.run(
      ["exec", "barman-montagu", "bash", "-c", "flock --shared /nightly sleep 20 & sleep 0.5; montagu-prepare nightly /nightly"],
      { allowFailure: true },
    );
    expect(nightly.code, nightly.stderr).toBe(0);
    expect(nightly.stderr).toMatch(/a restore is reading \/nightly: the finished copy takes its place once that restore ends/);
    expect(nightly.stderr).toMatch(/verified in [0-9.]+s: montagu,postgres/);
    const good = await metrics();
    expect(good.barman_nightly_verification_failed).toBe(0);
    expect(good.barman_time_since_last_verified_nightly_seconds).toBeLessThan(120);
    expect(good.barman_nightly_verification_seconds).toBeGreaterThan(0);
    expect(await metricsText()).toMatch(/^barman_nightly_verification_answer\{database="montagu",answer="montagu,postgres"\} 1$/m);
    // pg_amcheck on a sample (of up to 5): every table there is, with its indexes.
    const tables = await sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
    expect(nightly.stderr).toMatch(new RegExp(`amcheck: ${tables} of montagu's tables, with their indexes, undamaged`));
    expect(good.barman_nightly_verification_amcheck_tables).toBe(Number(tables));
    // Stopped cleanly: the copy is as finished as before it was asked.
    const state = await annex2.docker.out("exec", "barman-montagu", "bash", "-c", "/usr/lib/postgresql/15/bin/pg_controldata /nightly | sed -n 's/^Database cluster state: *//p'");
    expect(state).toBe("shut down");

    // A copy that does not start: its control file is gone.
    await annex2.docker.run(["exec", "barman-montagu", "mv", "/nightly/global/pg_control", "/nightly/global/pg_control.aside"]);
    const broken = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "verify", "/nightly"], { allowFailure: true });
    await annex2.docker.run(["exec", "barman-montagu", "mv", "/nightly/global/pg_control.aside", "/nightly/global/pg_control"]);
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/the copy in \/nightly did not start/);
    const flagged = await metrics();
    expect(flagged.barman_nightly_verification_failed).toBe(1);
    // The last verified copy keeps its time, so its age keeps growing.
    expect(flagged.barman_nightly_verification_time).toBe(good.barman_nightly_verification_time);

    // A copy that starts and answers, but whose table is damaged: pg_amcheck finds it.
    const table = `/nightly/${await sql("SELECT pg_relation_filepath('batch')")}`;
    const inBarman = (script: string) => annex2.docker.run(["exec", "barman-montagu", "bash", "-euo", "pipefail", "-c", script], { allowFailure: true });
    expect((await inBarman(`cp -p ${table} /tmp/table-aside && dd if=/dev/urandom of=${table} bs=1 seek=64 count=256 conv=notrunc status=none`)).code).toBe(0);
    try {
      const damaged = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "verify", "/nightly"], { allowFailure: true });
      expect(damaged.code).not.toBe(0);
      expect(damaged.stderr).toMatch(/pg_amcheck found damage in the copy in \/nightly \(exit \d\): (?:"public"\."\w+" )*"public"\."batch"/);
      expect((await metrics()).barman_nightly_verification_failed).toBe(1);
    } finally {
      await inBarman(`cp -p /tmp/table-aside ${table}`);
    }
  });

  it("refuses a night whose WAL is damaged, which PostgreSQL would take for the end of the WAL, and flags it", async () => {
    const again = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "verify", "/nightly"], { allowFailure: true });
    expect(again.code, again.stderr).toBe(0);
    const verified = await metrics();
    expect(verified.barman_nightly_verification_failed).toBe(0);
    // Three segments after the latest base backup, each holding rows; the middle one is damaged.
    const segments: string[] = [];
    for (let round = 1; round <= 3; round++) {
      await sql(`INSERT INTO batch (payload) SELECT 'round ${round}' FROM generate_series(1, 200)`);
      segments.push(await sql("SELECT pg_walfile_name(pg_current_wal_lsn())"));
      const switched = await annex2.docker.run(["exec", "barman-montagu", "montagu-switch-wal", "60"], { allowFailure: true });
      expect(switched.code, switched.stderr).toBe(0);
    }
    // Damage as a disk's would come: after the uploader has sent the segments off-site. Damaged
    // before, the bucket would hold the damaged segment too, and the bucket's recovery further on would stop at it.
    for (const segment of segments) await inBucket(segment);
    const damaged = `$(ls /var/lib/barman/montagu/wals/*/${segments[1]})`;
    const inBarman = (script: string) => annex2.docker.run(["exec", "barman-montagu", "bash", "-euo", "pipefail", "-c", script], { allowFailure: true });
    expect((await inBarman(`cp -p ${damaged} /tmp/aside && dd if=/dev/urandom of=${damaged} bs=1024 seek=1 count=2 conv=notrunc status=none`)).code).toBe(0);
    try {
      const night = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
      expect(night.code).not.toBe(0);
      expect(night.stderr).toMatch(/the copy's recovery ended in WAL segment [0-9A-F]{16}, before [0-9A-F]{16}, the newest barman gave it: a segment between them is damaged or missing/);
      const flagged = await metrics();
      expect(flagged.barman_nightly_recovery_failed).toBe(1);
      expect(flagged.barman_nightly_verification_failed).toBe(1);
      expect(flagged.barman_nightly_verification_time).toBe(verified.barman_nightly_verification_time);
      expect(flagged.barman_time_since_last_verified_nightly_seconds).toBeGreaterThan(verified.barman_time_since_last_verified_nightly_seconds);
    } finally {
      await inBarman(`cp -p /tmp/aside ${damaged}`);
    }
    // With the segment whole again, the next night is verified again.
    const night = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
    expect(night.code, night.stderr).toBe(0);
    expect((await metrics()).barman_nightly_verification_failed).toBe(0);
  });

  it("says which user cannot connect when a password is wrong, and reports barman_ok 0", async () => {
    await sql("ALTER ROLE streaming_barman PASSWORD 'not-the-one-barman-has'");
    await annex2.docker.run(["restart", "barman-montagu"]);
    const logs = await eventually("the failing user in the log", 90, async () => {
      const result = await annex2.docker.run(["logs", "--since", "2m", "barman-montagu"], { allowFailure: true });
      const text = `${result.stdout}${result.stderr}`;
      return /replication user 'streaming_barman' cannot connect/.test(text) ? text : undefined;
    });
    expect(logs).toMatch(/password authentication failed for user "streaming_barman"/);
    expect((await metrics()).barman_ok).toBe(0);

    await sql("ALTER ROLE streaming_barman PASSWORD 'streaming_barman'");
    await annex2.docker.run(["restart", "barman-montagu"]);
    await eventually("barman_ok 1 after the password is right", 180, async () => {
      await barman("cron");
      await collect();
      return (await metrics()).barman_ok === 1 ? true : undefined;
    });
  });
  describe("scheduled, verified, dated dumps", () => {
    const inDumps = (...command: string[]) => production2.docker.run(["exec", "montagu-dumps", ...command], { allowFailure: true });
    const dumps = async () => (await production2.docker.out("exec", "montagu-dumps", "ls", "/dumps")).split("\n").filter((name) => DUMP.test(name)).sort();
    const dumpNow = () => inDumps("montagu-dump", "/dumps", "montagu", "production2", "localhost", "5432", "barman", "1", "0");
    let existing: string[] = [];
    beforeAll(async () => {
      await sql("CREATE TABLE IF NOT EXISTS reports AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 5000) g");
      existing = await dumps();
    });

    it("dumps on the schedule, named with the database, the place and the time, with a checksum that matches and a table of contents that lists the tables", async () => {
      const [first] = await eventually("a scheduled dump made since the table was", 150, async () => {
        const found = (await dumps()).filter((name) => !existing.includes(name));
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
        // The tests after this one use the primary at once: started is not yet accepting
        // connections, and the server that first answers on the socket is the entrypoint's
        // own, which applies the roles with no network address and is then stopped.
        await eventually("the primary serving again", 120, async () => ((await sql("SHOW listen_addresses").catch(() => "")) !== "" ? true : undefined), 500);
      }
    });
  });

  describe("the freshness monitor: an email when a backup goes stale and one when it recovers", () => {
    let writer: NodeJS.Timeout | undefined;
    beforeAll(async () => {
      await sql("CREATE TABLE IF NOT EXISTS ticks (at timestamptz DEFAULT now())");
      // A primary in use writes WAL all the time; this one is kept in use.
      writer = setInterval(() => void sql("INSERT INTO ticks DEFAULT VALUES").catch(() => undefined), 3_000);
    });
    afterAll(() => clearInterval(writer));
    const freshnessMetrics = () => readFreshnessMetrics(annex2);
    /** The messages since the stacks settled: what a stack just built told while its first backups arrived is not counted. */
    let settled = 0;
    const newMessages = async () => (await mail.messages()).slice(settled);
    const subjects = async () => (await newMessages()).map((m) => m.subject);
    const told = async (subject: string) => (await subjects()).filter((s) => s === `[annex2] ${subject}`).length;

    it("shows both fresh once the first push and the first WAL have arrived, with every alert sent", async () => {
      const fresh = await eventually("the push and the WAL fresh", 240, async () => {
        const now = await freshnessMetrics();
        const ages = now.montagu_backup_time_since_last_success_seconds;
        return now.montagu_backup_time_of_last_success?.[PUSH] !== undefined && now.montagu_backup_time_of_last_success?.[WAL] !== undefined && ages[PUSH] < PUSH_STALE_AFTER && ages[WAL] < WAL_STALE_AFTER
          ? now
          : undefined;
      });
      expect(fresh.montagu_backup_stale[PUSH]).toBe(0);
      expect(fresh.montagu_backup_stale[WAL]).toBe(0);
      expect(fresh.montagu_backup_monitor_ok[""]).toBe(1);
      // While the stacks were built, and while the tests above stopped the primary and barman, backups were late: told, and told of their recovery.
      await eventually("every alert sent", 60, async () => ((await freshnessMetrics()).montagu_backup_alerts_unsent[""] === 0 ? true : undefined));
      settled = (await mail.messages()).length;
      const stale = (await mail.messages()).filter((m) => m.subject.includes("STALE")).length;
      expect((await mail.messages()).filter((m) => m.subject.includes("RECOVERED")).length).toBe(stale);
    });

    /** The alerts annex2's Prometheus has firing now, as `alertname backup`. */
    const firing = async () => {
      const text = await annex2.docker.out(
        "run", "--rm", "--network", "host", "--entrypoint", "python3", BARMAN_IMAGE, "-c",
        `import urllib.request; print(urllib.request.urlopen('http://localhost:${PROMETHEUS_PORT}/api/v1/alerts', timeout=10).read().decode())`,
      );
      const alerts: { labels: Record<string, string>; state: string }[] = JSON.parse(text).data.alerts;
      return alerts.filter((alert) => alert.state === "firing").map((alert) => `${alert.labels.alertname} ${alert.labels.backup ?? ""}`.trim());
    };

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
      const now = await freshnessMetrics();
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
      const now = await freshnessMetrics();
      expect(now.montagu_backup_stale[PUSH]).toBe(0);
      expect(now.montagu_backup_stale[WAL]).toBe(0);
      expect(now.montagu_backup_time_since_last_success_seconds[PUSH]).toBeLessThan(PUSH_STALE_AFTER);
      expect(now.montagu_backup_time_since_last_success_seconds[WAL]).toBeLessThan(WAL_STALE_AFTER);
      console.log(`freshness: both RECOVERED emails ${elapsed.toFixed(0)} s after the restart`);
    });

    it("the push alone late: Prometheus fires its alert from the generated rules, a real browser shows it late and the rest fresh at a phone's width and a desktop's, and a new push clears the alert", async () => {
      // The recoveries just above, seen by Prometheus too: no backup late.
      await eventually("no MontaguBackupLate firing", 60, async () => ((await firing()).some((alert) => alert.startsWith("MontaguBackupLate")) ? undefined : true), 2_000);
      await production2.docker.out("stop", "privateer_scheduler");
      const stopped = Date.now();
      await eventually("Prometheus firing the push's alert", PUSH_STALE_AFTER + 120, async () => ((await firing()).includes(`MontaguBackupLate ${PUSH}`) ? true : undefined), 2_000);
      const elapsed = (Date.now() - stopped) / 1000;
      const metrics = await freshnessMetrics();
      expect(metrics.montagu_backup_stale[PUSH]).toBe(1);
      // Not before the monitor's own threshold: the rule's number is the monitor's.
      expect(metrics.montagu_backup_time_since_last_success_seconds[PUSH]).toBeGreaterThan(PUSH_STALE_AFTER);
      expect((await firing()).filter((alert) => alert.startsWith("MontaguBackupLate"))).toEqual([`MontaguBackupLate ${PUSH}`]);
      const page = `http://${await rigAddress(annex2)}:5001/`;
      for (const [width, height, name] of [[390, 1600, "phone"], [1280, 900, "desktop"]] as const) {
        const shown = await browse(page, width, height, `${SCREENSHOTS}/${name}.png`);
        expect(shown.cards.length).toBeGreaterThanOrEqual(4);
        expect(shown.cards.filter((card) => card.state === "late").map((card) => card.backup)).toEqual([PUSH]);
        expect(shown.cards.filter((card) => card.backup !== PUSH).map((card) => [card.backup, card.state])).toEqual(
          shown.cards.filter((card) => card.backup !== PUSH).map((card) => [card.backup, "fresh"]),
        );
        expect(shown.cards.find((card) => card.backup === PUSH)!.text).toMatch(/^late push\/production2\/montagu_orderly_volume production2's push of montagu_orderly_volume to annex2 age \d+ (s|min) of 75 s allowed/);
        expect(fs.statSync(shown.screenshot).size).toBeGreaterThan(10_000);
      }
      // A new push clears it.
      await production2.docker.out("start", "privateer_scheduler");
      const restarted = Date.now();
      await eventually("Prometheus no longer firing the push's alert", 180, async () => ((await firing()).includes(`MontaguBackupLate ${PUSH}`) ? undefined : true), 2_000);
      console.log(`prometheus: the push's alert cleared ${((Date.now() - restarted) / 1000).toFixed(0)} s after the schedule started again`);
      console.log(`prometheus: MontaguBackupLate for the push firing ${elapsed.toFixed(0)} s after the schedule stopped (threshold ${PUSH_STALE_AFTER} s); screenshots in ${SCREENSHOTS}/`);
    });
  });
});
