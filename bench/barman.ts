// npm run bench:barman — a base backup through our barman container against pg_basebackup
// straight to the same disk, and the kill test: commits acknowledged by the primary, the
// primary's machine lost (its network cut, the database killed, its data discarded), a copy
// prepared from barman, acknowledged commits counted that are missing; asynchronous (as
// today) and synchronous. The link from the primary to barman is limited to BENCH_LINK_MBIT
// (default 8) so that, under load, the WAL stream lags behind the commits as it does on a
// busy or distant link: what asynchronous mode loses is what was still on its way.
// BENCH_SCALE sets pgbench's scale for the base backup (default 130: about 2 GB). BENCH_SMOKE=1:
// scale 1, one base backup each, on the asynchronous kill test's pair, and that test's load for
// seconds rather than tens.
// npm run bench:sync runs the kill test alone.
import { eventually } from "../simulator/harness/eventually";
import { performance } from "node:perf_hooks";
import { benchmark, keepRig, RUNS, SMOKE, size, startBenchDataCentre } from "./benchmark";
import { baseBackup, median } from "./data";
import type { StackConfig } from "../simulator/harness/stackConfig";
import { cutNetwork, limitLink, prepareRig, type SimulatedHost } from "../simulator/rig/hosts";
import { logWhenVerbose } from "../simulator/dataCentre";
import { barmanStack, standInStack } from "../simulator/stacks";

const SCALE = size("BENCH_SCALE", 130, 1);
const LINK_MBIT = size("BENCH_LINK_MBIT", 8, 8);
/** How long one client commits to measure a commit's latency, and how long four load the primary before its machine is lost. */
const [LATENCY_SECONDS, LOAD_SECONDS] = SMOKE ? [2, 3] : [10, 8];
const POSTGRES_IMAGE = "montagu-backup/postgres:local";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await action();
  return (performance.now() - start) / 1000;
}

interface Pair {
  annex2: SimulatedHost;
  production2: SimulatedHost;
  up: (machine: "annex2" | "production2", extra?: StackConfig) => Promise<unknown>;
  /** Removes both hosts, but with RIG_KEEP=1. */
  remove: () => Promise<void>;
}

/** barman on bench-annex2 streaming from a fresh primary on bench-production2. */
async function pair(synchronous: boolean): Promise<Pair> {
  const base: Record<string, StackConfig> = {
    annex2: barmanStack("bench-production2"),
    production2: standInStack({ synchronousBarman: synchronous }),
  };
  const centre = await startBenchDataCentre({ machines: ["annex2", "production2"], topology: "bench/privateer.json", prefix: "bench-", settings: base, log: logWhenVerbose });
  const { annex2, production2 } = centre.hosts;
  const up = centre.up;
  await up("annex2");
  await up("production2");
  await eventually("barman's first base backup", 300, async () =>
    (await annex2.docker.out("exec", "barman-montagu", "barman", "list-backups", "--minimal", "montagu")) !== "" || undefined,
  );
  const wanted = synchronous ? "sync" : "async";
  await eventually(`barman streaming as a ${wanted} standby`, 180, async () => {
    await annex2.docker.run(["exec", "barman-montagu", "barman", "cron"], { allowFailure: true });
    const state = await production2.docker.out("exec", "montagu-db", "psql", "-U", "postgres", "-d", "montagu", "-Atc", "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'");
    return state === wanted || undefined;
  });
  return { annex2, production2, up, remove: async () => (keepRig() ? undefined : centre.remove()) };
}

/** pgbench on the primary's machine itself (so that cutting its network leaves the loader connected), each commit a row of 1 kB. */
const loader = (host: SimulatedHost, seconds: number, clients: number) =>
  host.docker.run(
    [
      "run", "--rm", "--name", "loader", "--network", "host", "--env", "PGPASSWORD=vimc", "--entrypoint", "bash", POSTGRES_IMAGE, "-c",
      "echo 'INSERT INTO ack (payload) VALUES (repeat(md5(random()::text), 32));' > /tmp/ack.sql; " +
        `pgbench -n -h 127.0.0.1 -U vimc -c ${clients} -T ${seconds} -f /tmp/ack.sql montagu 2>&1`,
    ],
    { allowFailure: true },
  );

/** The kill test on a new pair, after `first` on it (if given). */
async function killTest(synchronous: boolean, first?: (on: Pair) => Promise<void>) {
  const mode = synchronous ? "sync" : "async";
  const started = await pair(synchronous);
  if (first !== undefined) await first(started);
  const { annex2, production2, up, remove } = started;
  await production2.docker.run(["exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-c", "CREATE TABLE ack (id bigserial PRIMARY KEY, payload text)"]);
  await limitLink(production2, LINK_MBIT);
  const latency = await loader(production2, LATENCY_SECONDS, 1);
  const commitMs = Number(/latency average = ([\d.]+) ms/.exec(latency.stdout)?.[1]);

  await production2.docker.run(["exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-c", "TRUNCATE ack"]);
  const load = loader(production2, 60, 4);
  await sleep(LOAD_SECONDS * 1000);
  // As postgres: to other users pg_stat_replication shows no positions.
  const lag = await production2.docker.out(
    "exec", "montagu-db", "psql", "-U", "postgres", "-d", "montagu", "-Atc",
    "SELECT coalesce(pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)), 'an unknown amount') FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'",
  );
  // The machine is lost: nothing more leaves it, then the database dies with its disk.
  await cutNetwork(production2);
  await production2.docker.run(["kill", "montagu-db"]);
  const loaded = await load;
  const acknowledged = Number(/number of transactions actually processed: (\d+)/.exec(loaded.stdout)?.[1]);
  await production2.docker.run(["rm", "--force", "montagu-db"]);
  await production2.docker.run(["volume", "rm", "montagu_primary_data"]);

  await up("annex2", { "montagu-backup:prepareRestore": { id: `kill-${mode}`, database: { image: "local" } } });
  await annex2.docker.run(["run", "--detach", "--name", "counter", "--volume", "barman_recover:/pgdata", POSTGRES_IMAGE]);
  const recovered = await eventually("the recovered copy", 180, async () =>
    Number(await annex2.docker.out("exec", "counter", "psql", "-U", "vimc", "-d", "montagu", "-Atc", "SELECT count(*) FROM ack")),
  );
  const lost = Math.max(0, acknowledged - recovered);
  console.log(
    `${mode}: ${commitMs.toFixed(2)} ms a commit on a ${LINK_MBIT} Mbit/s link; barman ${lag} behind under load; ` +
      `${acknowledged} commits acknowledged before the machine was lost, ${recovered} in barman's copy, ${lost} lost`,
  );
  await remove();
  return { commitMs, lost };
}

async function baseBackupRatio({ annex2, production2 }: Pair): Promise<number> {
  console.log(`generating the database: pgbench scale ${SCALE}`);
  await production2.docker.run(["exec", "montagu-db", "pgbench", "-i", "-q", "-s", String(SCALE), "-U", "vimc", "montagu"]);
  const size = await production2.docker.out("exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-Atc", "SELECT pg_size_pretty(pg_database_size('montagu'))");
  console.log(`database: ${size}`);
  const ours: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(await timed(() => baseBackup(annex2, production2)));
    raw.push(
      await timed(() =>
        annex2.docker.run([
          "exec", "barman-montagu", "bash", "-c",
          "rm -rf /var/lib/barman/raw && pg_basebackup -h bench-production2 -U streaming_barman -D /var/lib/barman/raw -X stream -c fast && sync && rm -rf /var/lib/barman/raw",
        ]),
      ),
    );
    console.log(`base backup ${i + 1}: barman ${ours[i].toFixed(1)} s, pg_basebackup to local disk ${raw[i].toFixed(1)} s`);
  }
  return median(ours) / median(raw);
}

async function main() {
  await prepareRig();
  const killOnly = process.argv.includes("kill");
  let ratio: number | undefined;
  const measureRatio = async (on: Pair) => {
    ratio = await baseBackupRatio(on);
  };
  if (!killOnly && !SMOKE) {
    const own = await pair(false);
    await measureRatio(own);
    await own.remove();
  }
  // A smoke measures it on the asynchronous kill test's pair, before the kill: a pair fewer to start.
  const asynchronous = await killTest(false, !killOnly && SMOKE ? measureRatio : undefined);
  const synchronous = await killTest(true);
  const kill =
    `sync_lost_commits=${synchronous.lost} async_lost_commits=${asynchronous.lost} ` +
    `sync_commit_ms=${synchronous.commitMs.toFixed(2)} async_commit_ms=${asynchronous.commitMs.toFixed(2)} link_mbit=${LINK_MBIT}`;
  console.log(ratio === undefined ? `RESULT sync ${kill}` : `RESULT barman base_backup_ratio=${ratio.toFixed(2)} ${kill}`);
}

benchmark(main);
