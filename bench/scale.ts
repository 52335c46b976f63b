// npm run bench:scale — the whole drill (push, prepare, restore, first query) at several sizes,
// each step's time per GB against a raw copy of the same bytes between the same hosts, the
// peak memory of every container, and the weekly refresh (a restore onto last week's copy,
// 5% of the rows and 1% of the files changed since) as a fraction of a full restore, both on a
// link limited to 1 Gbit/s.
// BENCH_SCALE_GB: the sizes, each of database and as much again of volume data (default
// "1,4,8"; a larger machine can run "1,8,50"). Each size needs about ten times its size of disk.
// BENCH_SMOKE=1: "0.01" (pgbench scale 1 and 100 files).
import { performance } from "node:perf_hooks";
import { benchmark, keepRig, SMOKE, startBenchDataCentre } from "./benchmark";
import { baseBackup, flushWrites, generateVolume, rawServerAccess, volumeBytes } from "./data";
import type { StackConfig } from "../simulator/harness/stackConfig";
import { limitLink, prepareRig, unlimitLink, type SimulatedHost } from "../simulator/rig/hosts";
import { logWhenVerbose } from "../simulator/dataCentre";
import { barmanStack, standInStack } from "../simulator/stacks";
import { cliBuilds } from "../components/shared/dockerImage";

const SIZES_GB = (process.env.BENCH_SCALE_GB ?? (SMOKE ? "0.01" : "1,4,8")).split(",").map(Number);
const FILE_KB = 100;
/** pgbench's scale that makes about a GB of database. */
const PGBENCH_SCALE_PER_GB = 66;
const REFRESH_LINK_MBIT = 1000;
const POSTGRES_IMAGE = "montagu-backup/postgres:local";
const CLIENT_IMAGE = "montagu-backup/privateer-client:local";
const VOLUME = "montagu_orderly_volume";
const HOSTS = ["annex2", "production2", "uat"] as const;
type Machine = (typeof HOSTS)[number];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const secondsSince = (start: number) => (performance.now() - start) / 1000;

if (SIZES_GB.some((size) => !(size > 0))) throw new Error(`BENCH_SCALE_GB must be sizes in GB separated by commas, such as 1,4,8: got '${process.env.BENCH_SCALE_GB}'`);

/** The highest memory use seen of each container on the hosts, sampled every two seconds. */
class MemoryPeaks {
  readonly peaks = new Map<string, number>();
  private running = true;
  private readonly done: Promise<void>;

  constructor(hosts: Record<Machine, SimulatedHost>) {
    this.done = (async () => {
      while (this.running) {
        for (const [machine, host] of Object.entries(hosts)) {
          const stats = await host.docker.run(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"], { allowFailure: true });
          for (const line of stats.stdout.split("\n").filter(Boolean)) {
            const [name, usage] = line.split(" ");
            const bytes = parseBytes(usage);
            // Transfer containers have random names: one row for them all.
            const key = `${machine}/${/^[a-z]+_[a-z]+$/.test(name) && !name.includes("montagu") && !name.startsWith("barman") && !name.startsWith("privateer") ? "(transfer)" : name}`;
            this.peaks.set(key, Math.max(this.peaks.get(key) ?? 0, bytes));
          }
        }
        await sleep(2_000);
      }
    })();
  }

  async stop() {
    this.running = false;
    await this.done;
  }
}

function parseBytes(text: string): number {
  const match = /^([\d.]+)([KMGT]?i?B)$/.exec(text);
  if (match === null) return 0;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[match[2]] ?? 1;
  return Number(match[1]) * unit;
}

interface SizeResult {
  gigabytes: number;
  steps: Record<"push" | "prepare" | "restore" | "firstQuery", number>;
  raw: Record<"push" | "prepare" | "restore", number>;
  refresh: number;
  fullOnLink: number;
  peakMemory: Map<string, number>;
}

async function measure(sizeGb: number): Promise<SizeResult> {
  const base: Record<Machine, StackConfig> = {
    annex2: barmanStack("bench-production2"),
    production2: standInStack(),
    uat: {},
  };
  const centre = await startBenchDataCentre({ machines: HOSTS, topology: "bench/privateer.json", prefix: "bench-", settings: base, log: logWhenVerbose });
  const { hosts, up } = centre;
  const { annex2, production2, uat } = hosts;
  const push = (id: string) => up("production2", { "montagu-backup:privateer": { backup: { id, volumes: [{ volume: VOLUME, server: "annex2" }] } } });
  const prepare = (id: string) => up("annex2", { "montagu-backup:prepareRestore": { id, database: { image: "local" } } });
  const restore = (id: string) =>
    up("uat", {
      "montagu-backup:restore": {
        id,
        volumes: [
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
          { volume: VOLUME, server: "annex2", source: "production2" },
        ],
        stop: ["montagu-db"],
      },
    });
  const emptyUat = async () => {
    await uat.docker.run(["rm", "--force", "montagu-db"]);
    await uat.docker.run(["volume", "rm", "--force", "montagu_db_volume", VOLUME]);
    await uat.docker.run(["create", "--name", "montagu-db", "--volume", "montagu_db_volume:/pgdata", POSTGRES_IMAGE]);
  };
  const timed = async (what: string, action: () => Promise<unknown>) => {
    flushWrites();
    const start = performance.now();
    await action();
    const took = secondsSince(start);
    console.log(`  ${sizeGb} GB: ${what} ${took.toFixed(1)} s`);
    return took;
  };
  /** tar over ssh between a machine and annex2, with the client image privateer's transfers use. */
  const rawCopy = async (host: SimulatedHost, remote: string, direction: "push" | "pull") => {
    const access = await rawServerAccess(annex2);
    flushWrites();
    const start = performance.now();
    await host.docker.run([
      "run", "--rm", "--volume", "privateer_keys:/privateer/keys:ro", "--volume", `${VOLUME}:/volume`, "--volume", "raw_copy:/raw", ...access.dockerArgs, CLIENT_IMAGE, "bash", "-c",
      direction === "push"
        ? `set -euo pipefail; ${access.setup}; tar -C /volume -cf - . | ${access.ssh} annex2 'mkdir -p /privateer/volumes/raw && tar -C /privateer/volumes/raw -xf -'`
        : `set -euo pipefail; ${access.setup}; ${access.ssh} annex2 'tar -C /privateer -cf - ${remote}' | tar -C /raw -xf -`,
    ]);
    const took = secondsSince(start);
    // Space for the next step, untimed.
    if (direction === "push") await annex2.docker.run(["run", "--rm", "--volume", "privateer_montagu_data:/d", "debian:bookworm", "rm", "-rf", "/d/raw"]);
    else await host.docker.run(["volume", "rm", "raw_copy"]);
    console.log(`  ${sizeGb} GB: raw ${direction} (tar over ssh) ${took.toFixed(1)} s`);
    return took;
  };

  await up("annex2");
  await up("production2");
  await up("uat");
  console.log(`${sizeGb} GB: generating pgbench scale ${Math.round(sizeGb * PGBENCH_SCALE_PER_GB)} and ${Math.round((sizeGb * 1e6) / FILE_KB)} files of ${FILE_KB} KB`);
  await production2.docker.run(["exec", "montagu-db", "pgbench", "-i", "-q", "-s", String(Math.round(sizeGb * PGBENCH_SCALE_PER_GB)), "-U", "vimc", "montagu"]);
  const fileCount = Math.round((sizeGb * 1e6) / FILE_KB);
  const volumeSize = await generateVolume(production2, VOLUME, fileCount, FILE_KB);
  await baseBackup(annex2, production2);
  for (const host of [annex2, uat]) {
    // As the stacks build it (BuildKit), so that their build finds it cached.
    for (const build of cliBuilds("postgres", POSTGRES_IMAGE)) await host.docker.withBuildKit().run(build, { env: { DOCKER_BUILDKIT: "1" } });
  }
  await emptyUat();

  const memory = new MemoryPeaks(hosts);
  const steps = {
    push: await timed("push", () => push("first")),
    prepare: await timed("prepare", () => prepare("first")),
    restore: await timed("restore", () => restore("first")),
    firstQuery: 0,
  };
  const databaseSize = await volumeBytes(uat, "montagu_db_volume");
  const gigabytes = (databaseSize + volumeSize) / 1e9;
  const started = performance.now();
  await uat.docker.run(["start", "montagu-db"]);
  while ((await uat.docker.run(["exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-Atc", "SELECT count(*) FROM pgbench_branches"], { allowFailure: true })).code !== 0) await sleep(50);
  steps.firstQuery = secondsSince(started);
  await uat.docker.run(["stop", "montagu-db"]);
  await memory.stop();

  // The same bytes, raw: the volume to annex2, the base backup copied on annex2, both to uat.
  const rawPush = await rawCopy(production2, "", "push");
  const rawPrepare = await timed("raw local copy of the database", () =>
    annex2.docker.run(["exec", "barman-montagu", "bash", "-c", "set -euo pipefail; b=$(ls -d /var/lib/barman/montagu/base/*/data | tail -1); cp -a \"$b\" /var/lib/barman/raw && sync"]),
  );
  await annex2.docker.run(["exec", "barman-montagu", "rm", "-rf", "/var/lib/barman/raw"]);
  const rawRestore = await rawCopy(uat, `local/barman_recover volumes/production2/${VOLUME}`, "pull");
  const raw = { push: rawPush, prepare: rawPrepare, restore: rawRestore };

  // Last week's copy is on uat; since then 5% of the rows and 1% of the files changed.
  const accounts = Math.round(sizeGb * PGBENCH_SCALE_PER_GB) * 100_000;
  await production2.docker.run(["exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-c", `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= ${Math.round(accounts * 0.05)}`]);
  await production2.docker.run([
    "run", "--rm", "--volume", `${VOLUME}:/data`, "debian:bookworm", "bash", "-c",
    `find /data -type f | sort | awk 'NR % 100 == 0' | while read -r f; do head -c ${FILE_KB * 1024} /dev/urandom > "$f"; done`,
  ]);
  await push("week");
  await prepare("week");
  await limitLink(annex2, REFRESH_LINK_MBIT);
  const refresh = await timed(`refresh restore on ${REFRESH_LINK_MBIT} Mbit/s`, () => restore("week"));
  await emptyUat();
  const fullOnLink = await timed(`full restore on ${REFRESH_LINK_MBIT} Mbit/s`, () => restore("week-full"));
  await unlimitLink(annex2);
  // Before the next size, for its disk and memory.
  if (!keepRig()) await centre.remove();
  return { gigabytes, steps, raw, refresh, fullOnLink, peakMemory: memory.peaks };
}

async function main() {
  await prepareRig();
  const results: SizeResult[] = [];
  for (const size of SIZES_GB) {
    const r = await measure(size);
    results.push(r);
    const perGb = (s: number) => (s / r.gigabytes).toFixed(1);
    const drill = r.steps.push + r.steps.prepare + r.steps.restore + r.steps.firstQuery;
    const raw = r.raw.push + r.raw.prepare + r.raw.restore;
    console.log(
      `size ${r.gigabytes.toFixed(2)} GB: s/GB push ${perGb(r.steps.push)} (raw ${perGb(r.raw.push)}), prepare ${perGb(r.steps.prepare)} (raw ${perGb(r.raw.prepare)}), ` +
        `restore ${perGb(r.steps.restore)} (raw ${perGb(r.raw.restore)}), first query ${r.steps.firstQuery.toFixed(2)} s; drill ${perGb(drill)} s/GB, raw ${perGb(raw)} s/GB, ` +
        `raw/drill ${(raw / drill).toFixed(2)}; refresh ${r.refresh.toFixed(1)} s of a full ${r.fullOnLink.toFixed(1)} s = ${(r.refresh / r.fullOnLink).toFixed(2)}`,
    );
    const peaks = [...r.peakMemory.entries()].sort((a, b) => b[1] - a[1]).map(([name, bytes]) => `${name} ${(bytes / 1024 ** 2).toFixed(0)} MiB`);
    console.log(`  peak memory: ${peaks.join(", ")}`);
  }
  const drillPerGb = results.map((r) => (r.steps.push + r.steps.prepare + r.steps.restore + r.steps.firstQuery) / r.gigabytes);
  const growth = drillPerGb[drillPerGb.length - 1] / drillPerGb[0];
  const drillVsRaw = Math.min(...results.map((r) => (r.raw.push + r.raw.prepare + r.raw.restore) / (r.steps.push + r.steps.prepare + r.steps.restore + r.steps.firstQuery)));
  const refresh = Math.max(...results.map((r) => r.refresh / r.fullOnLink));
  console.log(`RESULT scale per_gb_growth=${growth.toFixed(2)} drill_vs_raw_min=${drillVsRaw.toFixed(2)} refresh_fraction=${refresh.toFixed(2)}`);

  // The plot of this run, docs/benchmarks/scale.svg (bench/scalePlot.ts); not of a smoke run.
  // To commit it, put the figures in bench/scaleMeasured.ts as well: a unit test checks the two agree.
  if (!SMOKE) {
    const { writeScalePlot } = await import("./scalePlot");
    const points = results.map((r) => {
      const drill = r.steps.push + r.steps.prepare + r.steps.restore + r.steps.firstQuery;
      const raw = r.raw.push + r.raw.prepare + r.raw.restore;
      return { gigabytes: Number(r.gigabytes.toFixed(2)), drillSeconds: drill, drillSecondsPerGb: drill / r.gigabytes, rawOverDrill: raw / drill, refreshOverFull: r.refresh / r.fullOnLink };
    });
    console.log(`plot: ${writeScalePlot(points, `run of ${new Date().toISOString().slice(0, 10)}`)}`);
  }
}

benchmark(main);
