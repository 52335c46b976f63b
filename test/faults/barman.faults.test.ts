import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../simulator/harness/eventually";
import { limitLink, outer, rigContainer, unlimitLink, type SimulatedHost } from "../../simulator/rig/hosts";
import { dataCentre } from "../../simulator/dataCentre";
import { type FaultRow, writeFaultRows } from "./table";
import { barmanStack, standInStack } from "../../simulator/stacks";

// Faults around barman: what was committed on the primary and acknowledged is in barman's
// store afterwards, proven by a nightly recovery that counts it, and barman check is all OK.

const TOPOLOGY = "test/fixtures/privateer.json";
/** The nightly copy answers with the number of rows in `ack`: the rows barman holds. */
const COUNT_QUERY = "SELECT count(*) FROM ack";

const rows: FaultRow[] = [];
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(0);

describe("faults around barman", () => {
  const centre = dataCentre({ machines: ["annex2", "production2"], topology: TOPOLOGY, parallel: true });
  let annex2: SimulatedHost;
  let production2: SimulatedHost;

  const barman = (...args: string[]) => annex2.docker.run(["exec", "barman-montagu", "barman", ...args], { allowFailure: true });
  const sql = (query: string) =>
    production2.docker.out("exec", "montagu-db", "runuser", "-u", "postgres", "--", "psql", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const committed = async () => Number(await sql("SELECT count(*) FROM ack"));
  const commit = (rowCount: number) => sql(`INSERT INTO ack SELECT FROM generate_series(1, ${rowCount})`);
  const backups = async () =>
    (await barman("list-backups", "montagu")).stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => ({ id: line.split(" ")[1], line }));
  const checkAllOk = (within: number) =>
    eventually("barman check all OK", within, async () => {
      await barman("cron");
      const check = await barman("check", "montagu");
      return check.code === 0 ? check.stdout : undefined;
    });
  /** A nightly recovery of everything barman holds, asked how many rows it has. */
  const rowsInBarman = async () => {
    const night = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
    if (night.code !== 0) throw new Error(`the nightly recovery failed:\n${night.stderr}`);
    const answer = /verified in [0-9.]+s: (\d+)/.exec(night.stderr)?.[1];
    if (answer === undefined) throw new Error(`no answer in the nightly's output:\n${night.stderr}`);
    return Number(answer);
  };
  const metric = async (name: string) => {
    await annex2.docker.run(["exec", "barman-montagu", "barman-metrics", "collect"], { allowFailure: true });
    const text = await annex2.docker.out(
      "exec", "barman-montagu", "python3", "-c",
      "import urllib.request; print(urllib.request.urlopen('http://localhost:5000/metrics', timeout=10).read().decode())",
    );
    return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
  };
  /** As a crash does it: the container's first process killed, and its restart policy brings it back. */
  const crash = async (host: SimulatedHost, container: string) => {
    const pid = await host.docker.out("inspect", "-f", "{{.State.Pid}}", container);
    await outer.run(["exec", rigContainer(host.name), "kill", "-KILL", pid]);
    await eventually(`${container} running again`, 60, async () => {
      const state = await host.docker.out("inspect", "-f", "{{.State.Running}} {{.State.Pid}}", container);
      return state.startsWith("true ") && !state.endsWith(` ${pid}`) ? true : undefined;
    });
  };

  beforeAll(async () => {
    await centre.start();
    ({ annex2, production2 } = centre.hosts);
    await centre.up("annex2", barmanStack("production2", { verify: { database: "montagu", query: COUNT_QUERY } }));
    // The volume the test topology's schedule pushes.
    await centre.up("production2", standInStack({ applicationVolumes: ["montagu_orderly_volume"] }));
    await sql("CREATE TABLE ack (id bigserial PRIMARY KEY)");
    await eventually("the first base backup", 300, async () => ((await backups()).some((b) => b.line.includes("Size:")) ? true : undefined));
    await checkAllOk(180);
    await commit(1000);
    expect(await rowsInBarman()).toBe(await committed());
  });

  afterAll(() => writeFaultRows("2-barman", rows));

  it("barman restarted mid-base-backup", async () => {
    // Large enough, and the link slow enough, that the base backup takes half a minute.
    await production2.docker.run(["exec", "montagu-db", "runuser", "-u", "postgres", "--", "pgbench", "-i", "-q", "-s", "20", "montagu"]);
    await limitLink(production2, 100);
    const before = await backups();
    const taking = annex2.docker.run(["exec", "barman-montagu", "barman", "backup", "montagu"], { allowFailure: true });
    const started = await eventually("the base backup under way", 60, async () => {
      const now = await backups();
      return now.find((b) => !before.some((old) => old.id === b.id));
    }, 500);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await crash(annex2, "barman-montagu");
    const taken = await taking;
    await unlimitLink(production2);
    expect(taken.code).not.toBe(0);
    await commit(1000);

    const after = await backups();
    const crashed = after.find((b) => b.id === started.id);
    // Every backup finished before is still there, as it was (its WAL size counts the WAL
    // archived since, which grows).
    const withoutWal = (line?: string) => line?.replace(/ - WAL Size: .*$/, "");
    for (const old of before) expect(withoutWal(after.find((b) => b.id === old.id)?.line)).toBe(withoutWal(old.line));
    const okBeforeNext = await metric("barman_ok");

    const next = performance.now();
    const again = await barman("backup", "--wait", "montagu");
    expect(again.code, again.stderr).toBe(0);
    const check = await checkAllOk(180);
    expect(check).not.toMatch(/FAILED/);
    expect(await rowsInBarman()).toBe(await committed());
    rows.push({
      fault: "barman's container crashed mid-base-backup (its process killed; restart policy brings it back)",
      observed:
        `\`barman backup\` fails; the backup it was taking is listed as \`${crashed?.line.replace(/^montagu /, "") ?? "gone"}\`; ` +
        `the ${before.length} backups finished before are listed unchanged; barman_ok is ${okBeforeNext}; WAL streaming resumes by itself`,
      next: `the next \`barman backup\` (the monthly schedule's, or by hand) finishes in ${seconds(next)} s; barman check all OK; a recovery holds every committed row`,
    });
  });

  it("barman stopped for a while as the primary keeps writing", async () => {
    await annex2.docker.run(["stop", "barman-montagu"]);
    const stopped = performance.now();
    let walStatus: string;
    let heldBytes: string;
    try {
      // Read once barman's receiver is gone: its last acknowledgement may move the slot as it goes.
      await eventually("barman's receiver gone from the primary", 60, async () =>
        (await sql("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'")) === "0" ? true : undefined);
      const slotBefore = await sql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'barman'");
      // Five segments' worth of commits while barman is away.
      for (let segment = 0; segment < 5; segment++) {
        await commit(2000);
        await sql("SELECT pg_switch_wal()");
      }
      const held = await sql(
        "SELECT wal_status || ' ' || pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = 'barman'",
      );
      [walStatus, heldBytes] = held.split(" ");
      // The slot keeps every segment barman has not received.
      expect(walStatus).toMatch(/^(reserved|extended)$/);
      expect(Number(heldBytes)).toBeGreaterThanOrEqual(4 * 16 * 1024 * 1024);
      expect(await sql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'barman'")).toBe(slotBefore);
    } finally {
      await annex2.docker.run(["start", "barman-montagu"]);
    }
    const away = seconds(stopped);
    const back = performance.now();
    const check = await checkAllOk(240);
    expect(check).not.toMatch(/FAILED/);
    expect(await rowsInBarman()).toBe(await committed());
    rows.push({
      fault: "barman stopped while the primary keeps writing",
      observed:
        `${away} s away and 5 WAL segments written: the replication slot held them (wal_status ${walStatus}, ${(Number(heldBytes) / 1048576).toFixed(0)} MB held, restart_lsn unchanged)`,
      next: `started again, barman catches up from the slot: check all OK ${seconds(back)} s later, and a recovery holds every committed row (no gap)`,
    });
  });

  it("the primary restarted during streaming", async () => {
    await commit(1000);
    const restarted = performance.now();
    await crash(production2, "montagu-db");
    await eventually("the primary answering again", 120, async () => ((await production2.docker.run(["exec", "montagu-db", "pg_isready"], { allowFailure: true })).code === 0 ? true : undefined));
    await commit(1000);
    const streaming = await eventually("barman streaming again", 180, async () => {
      await barman("cron");
      const state = await sql("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'");
      return state === "1" ? performance.now() : undefined;
    });
    const check = await checkAllOk(180);
    expect(check).not.toMatch(/FAILED/);
    expect(await rowsInBarman()).toBe(await committed());
    rows.push({
      fault: "the primary crashed during streaming (its process killed; restart policy brings it back)",
      observed: "the primary recovers from its own WAL; barman's receiver loses its connection",
      next: `barman's cron restarts the receiver: streaming again ${((streaming - restarted) / 1000).toFixed(0)} s after the crash; check all OK; a recovery holds every row committed before and after`,
    });
  });

  it("a WAL segment damaged in barman's store", async () => {
    const good = await metric("barman_nightly_verification_time");
    const segments: string[] = [];
    for (let round = 0; round < 3; round++) {
      await commit(500);
      segments.push(await sql("SELECT pg_walfile_name(pg_current_wal_lsn())"));
      expect((await annex2.docker.run(["exec", "barman-montagu", "montagu-switch-wal", "60"], { allowFailure: true })).code).toBe(0);
    }
    const inBarman = (script: string) => annex2.docker.run(["exec", "barman-montagu", "bash", "-euo", "pipefail", "-c", script], { allowFailure: true });
    const damaged = `$(ls /var/lib/barman/montagu/wals/*/${segments[1]})`;
    expect((await inBarman(`cp -p ${damaged} /tmp/aside && dd if=/dev/urandom of=${damaged} bs=1024 seek=1 count=2 conv=notrunc status=none`)).code).toBe(0);
    let night: Awaited<ReturnType<typeof inBarman>>;
    let prepare: Awaited<ReturnType<typeof inBarman>>;
    try {
      night = await annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
      prepare = await inBarman("montagu-prepare recover /recover && montagu-prepare replay /recover && montagu-prepare stamp /recover");
    } finally {
      await inBarman(`cp -p /tmp/aside ${damaged}`);
    }
    expect(night.code).not.toBe(0);
    expect(await metric("barman_nightly_recovery_failed")).toBe(1);
    expect(await metric("barman_nightly_verification_time")).toBe(good);
    expect(prepare.code).not.toBe(0);
    const refusal = /montagu-prepare: (the copy's recovery ended in WAL segment \S+, before \S+)/.exec(prepare.stderr)?.[1];
    expect(refusal, prepare.stderr).toBeDefined();

    expect(await rowsInBarman()).toBe(await committed());
    expect(await metric("barman_nightly_recovery_failed")).toBe(0);
    rows.push({
      fault: "a WAL segment damaged in barman's store",
      observed:
        `the nightly recovery fails: barman_nightly_recovery_failed 1, and the time of the last verified copy stays ${new Date(good * 1000).toISOString().slice(11, 19)}, so its age grows; ` +
        `a prepare refuses to stamp the copy (\`${refusal}\`)`,
      next: "fails the same way until the segment is replaced (from the primary or another copy); then the night is verified again with every committed row",
    });
  });
});
