// npm run bench:restore — the whole drill (prepare on annex2, then restore on uat) against a
// raw copy of the same bytes between the same hosts, and the time from starting the restored
// database to its first answered query, each the median of BENCH_ROUNDS (default 3).
// BENCH_SCALE (pgbench scale, default 130: about 2 GB of database), BENCH_FILES and
// BENCH_FILE_KB (default 20,000 files of 100 KB: about 2 GB). BENCH_SMOKE=1: scale 1, 100
// files of 4 KB, one round.
import { performance } from "node:perf_hooks";
import { benchmark, RUNS, size, startBenchDataCentre } from "./benchmark";
import { baseBackup, flushWrites, generateVolume, median, rawServerAccess, volumeBytes } from "./data";
import type { StackConfig } from "../simulator/harness/stackConfig";
import { prepareRig } from "../simulator/rig/hosts";
import { barmanStack, standInStack } from "../simulator/stacks";
import { cliBuilds } from "../components/shared/dockerImage";

const SCALE = size("BENCH_SCALE", 130, 1);
const FILES = size("BENCH_FILES", 20_000, 100);
const FILE_KB = size("BENCH_FILE_KB", 100, 4);
const POSTGRES_IMAGE = "montagu-backup/postgres:local";
const CLIENT_IMAGE = "montagu-backup/privateer-client:local";
const ROUNDS = size("BENCH_ROUNDS", RUNS, RUNS);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (start: number) => (performance.now() - start) / 1000;

const benchStart = performance.now();

async function main() {
  await prepareRig();
  const base: Record<string, StackConfig> = {
    annex2: barmanStack("bench-production2"),
    production2: standInStack(),
    uat: {},
  };
  const centre = await startBenchDataCentre({
    machines: ["annex2", "production2", "uat"],
    topology: "bench/privateer.json",
    prefix: "bench-",
    settings: base,
    log: (machine, line) => process.env.BENCH_VERBOSE && console.log(`${seconds(benchStart).toFixed(1).padStart(7)} s ${machine}: ${line}`),
  });
  const up = centre.up;
  const { annex2, production2, uat } = centre.hosts;

  await up("annex2");
  await up("production2");
  // uat runs its stack already (its privateer client, keys and image), as a machine does
  // before anyone asks it to restore: the drill is the update that asks.
  await up("uat");
  console.log(`generating: pgbench scale ${SCALE}, ${FILES} files of ${FILE_KB} KB`);
  await production2.docker.run(["exec", "montagu-db", "pgbench", "-i", "-q", "-s", String(SCALE), "-U", "vimc", "montagu"]);
  const volumeSize = await generateVolume(production2, "montagu_orderly_volume", FILES, FILE_KB);
  // A base backup that holds the data, and the volume on the server, as on any normal day.
  await baseBackup(annex2, production2);
  await up("production2", { "montagu-backup:privateer": { backup: { id: "bench", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } } });
  // The database image is on both machines before the clock starts, as a pulled image would be.
  for (const host of [annex2, uat]) {
    // As the stacks build it (BuildKit), so that their build finds it cached.
    for (const build of cliBuilds("postgres", POSTGRES_IMAGE)) await host.docker.withBuildKit().run(build, { env: { DOCKER_BUILDKIT: "1" } });
  }
  const rounds: { drill: number; prepared: number; raw: number; firstQuery: number }[] = [];
  let megabytes = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round restores onto a uat that has none of the data yet, as a new machine would.
    await uat.docker.run(["rm", "--force", "montagu-db"]);
    await uat.docker.run(["volume", "rm", "--force", "montagu_db_volume", "montagu_orderly_volume", "raw_copy"]);
    await uat.docker.run(["create", "--name", "montagu-db", "--volume", "montagu_db_volume:/pgdata", POSTGRES_IMAGE]);
    flushWrites();

    const drillStart = performance.now();
    await up("annex2", { "montagu-backup:prepareRestore": { id: `bench-${round}`, database: { image: "local" } } });
    const prepared = seconds(drillStart);
    await up("uat", {
      "montagu-backup:restore": {
        id: `bench-${round}`,
        volumes: [
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2" },
        ],
        stop: ["montagu-db"],
      },
    });
    const drill = seconds(drillStart);
    megabytes = ((await volumeBytes(uat, "montagu_db_volume")) + volumeSize) / 1e6;

    const startedAt = performance.now();
    await uat.docker.run(["start", "montagu-db"]);
    for (;;) {
      const answer = await uat.docker.run(["exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-Atc", "SELECT count(*) FROM pgbench_branches"], { allowFailure: true });
      if (answer.code === 0) break;
      await sleep(50);
    }
    const firstQuery = seconds(startedAt);
    await uat.docker.run(["stop", "montagu-db"]);
    flushWrites();

    // The same bytes, raw: tar over ssh from annex2's volumes into a fresh volume on uat.
    const rawAccess = await rawServerAccess(annex2);
    const rawStart = performance.now();
    await uat.docker.run([
      "run", "--rm", "--volume", "privateer_keys:/privateer/keys:ro", "--volume", "raw_copy:/raw", ...rawAccess.dockerArgs, CLIENT_IMAGE, "bash", "-c",
      `set -euo pipefail; ${rawAccess.setup}; ${rawAccess.ssh} annex2 'tar -C /privateer -cf - local/barman_recover volumes/production2/montagu_orderly_volume' | tar -C /raw -xf -`,
    ]);
    const raw = seconds(rawStart);
    console.log(
      `round ${round}: drill ${drill.toFixed(1)} s (prepare ${prepared.toFixed(1)} s, restore ${(drill - prepared).toFixed(1)} s) for ${megabytes.toFixed(0)} MB; ` +
        `raw copy (tar over ssh) ${raw.toFixed(1)} s; first query ${firstQuery.toFixed(2)} s after the restored database was started`,
    );
    rounds.push({ drill, prepared, raw, firstQuery });
  }
  const [drill, prepared, raw, firstQuery] = (["drill", "prepared", "raw", "firstQuery"] as const).map((key) => median(rounds.map((r) => r[key])));
  console.log(
    `medians of ${ROUNDS}: drill ${drill.toFixed(1)} s (prepare ${prepared.toFixed(1)} s) for ${megabytes.toFixed(0)} MB, ` +
      `${(megabytes / drill).toFixed(0)} MB/s; raw copy ${raw.toFixed(1)} s, ${(megabytes / raw).toFixed(0)} MB/s`,
  );
  console.log(`RESULT restore drill_vs_raw=${(raw / drill).toFixed(2)} first_query_s=${firstQuery.toFixed(2)} drill_s=${drill.toFixed(1)}`);
}

benchmark(main);
