// npm run bench:offsite — the off-site copy of a volume (restic into a real S3 server, as the
// stack's montagu-offsite container makes it) against a raw upload of the same files to the
// same server (rclone copy, 4 streams); a second copy of the unchanged volume as a fraction of
// the first; and how long a WAL segment barman archives takes to reach the bucket.
// OFFSITE_BENCH_FILES and OFFSITE_BENCH_FILE_KB set the size (default 20,000 files of 100 KB, 2 GB;
// BENCH_SMOKE=1: 100 files of 4 KB, each figure once).
import { performance } from "node:perf_hooks";
import * as path from "node:path";
import { benchmark, removeAtEnd, RUNS, size, startBenchDataCentre } from "./benchmark";
import { flushWrites, generateVolume, median } from "./data";
import { eventually } from "../simulator/harness/eventually";
import { PROJECT_DIR } from "../simulator/harness/stackConfig";
import { outer, prepareRig, rigContainer } from "../simulator/rig/hosts";
import { startS3Server } from "../simulator/rig/s3";
import { barmanStack, standInStack } from "../simulator/stacks";

const FILES = size("OFFSITE_BENCH_FILES", 20_000, 100);
const FILE_KB = size("OFFSITE_BENCH_FILE_KB", 100, 4);
const VOLUME = "montagu_orderly_volume";
const BUCKET = "bench-offsite";
const RCLONE_IMAGE = "montagu-bench/rclone:local";

async function main() {
  await prepareRig();
  // Before starting: a server that fails to start may still have left its container.
  removeAtEnd(() => outer.run(["rm", "--force", "--volumes", rigContainer("bench-s3")], { allowFailure: true }));
  const s3 = await startS3Server("bench-s3");
  const store = { endpoint: s3.endpoint, bucket: BUCKET, credentialsVaultPath: "secret/bench/offsite" };
  const centre = await startBenchDataCentre({
    machines: ["annex2", "production2"],
    topology: "bench/privateer.json",
    prefix: "bench-",
    settings: {
      annex2: { ...barmanStack("bench-production2", { offsite: {} }), "montagu-backup:offsite": { store } },
      production2: {
        ...standInStack(),
        "montagu-backup:offsite": { store, passwordVaultPath: "secret/bench/offsite-password", volumes: [{ volume: VOLUME, schedule: "0 3 1 1 *" }] },
      },
    },
  });
  centre.vault.secrets.set("secret/bench/offsite", { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey });
  centre.vault.secrets.set("secret/bench/offsite-password", { password: "bench repository password" });
  const { annex2, production2 } = centre.hosts;

  console.log(`setting up: ${FILES} files of ${FILE_KB} KB in ${VOLUME} on production2, barman on annex2`);
  await centre.up("annex2");
  const bytes = await generateVolume(production2, VOLUME, FILES, FILE_KB);
  await centre.up("production2");
  console.log(`volume: ${(bytes / 1e6).toFixed(0)} MB`);
  await production2.docker.run(["build", "--quiet", "--tag", RCLONE_IMAGE, path.join(PROJECT_DIR, "bench/offsite")], { env: { DOCKER_BUILDKIT: "0" } });

  // Exactly what the stack's schedule and on-demand step run.
  const copy = () => production2.docker.out("exec", "montagu-offsite", "montagu-offsite", "backup", "production2", VOLUME);
  const clearRepository = () => s3.shell(`rm -rf /data/${BUCKET}/montagu/volumes`);
  const rawUpload = () =>
    production2.docker.out(
      "run", "--rm", "--network", "host", "--volume", `${VOLUME}:/data:ro`, RCLONE_IMAGE, "copy", "/data", `:s3:${BUCKET}/raw`,
      "--s3-provider", "Other", "--s3-endpoint", s3.endpoint, "--s3-access-key-id", s3.accessKeyId, "--s3-secret-access-key", s3.secretAccessKey,
      "--transfers", "4",
    );
  const clearRaw = () => s3.shell(`rm -rf /data/${BUCKET}/raw`);
  const timed = async (action: () => Promise<unknown>) => {
    flushWrites();
    const start = performance.now();
    await action();
    return (performance.now() - start) / 1000;
  };

  // Taking turns, so that a slow spell of this shared machine falls on both.
  const full: number[] = [];
  const raw: number[] = [];
  const unchanged: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await clearRepository();
    full.push(await timed(copy));
    unchanged.push(await timed(copy));
    await clearRaw();
    raw.push(await timed(rawUpload));
  }
  const show = (what: string, seconds: number[]) =>
    console.log(`${what.padEnd(40)} ${seconds.map((s) => s.toFixed(2)).join("  ")}  median ${median(seconds).toFixed(2)} s (${(bytes / 1e6 / median(seconds)).toFixed(0)} MB/s)`);
  show("off-site copy, first (restic)", full);
  show("off-site copy, unchanged (restic)", unchanged);
  show("raw upload (rclone copy, 4 streams)", raw);
  // Where an unchanged copy's time goes: every restic command opens the repository (its key
  // derived with scrypt, the index read), and a copy is one (backup). `snapshots` takes no lock
  // (--no-lock, for montagu-backup list), so this is the open without a lock's round trips.
  const opens: number[] = [];
  for (let run = 0; run < RUNS; run++) opens.push(await timed(() => production2.docker.out("exec", "montagu-offsite", "montagu-offsite", "snapshots", "production2", VOLUME)));
  console.log(`${"one restic command (snapshots)".padEnd(40)} ${opens.map((s) => s.toFixed(2)).join("  ")}  median ${median(opens).toFixed(2)} s`);

  // barman's WAL: from the moment a segment is archived on annex2 to the moment it is in the bucket.
  await eventually("barman's first base backup", 300, async () =>
    (await annex2.docker.run(["exec", "barman-montagu", "barman", "list-backups", "--minimal", "montagu"], { allowFailure: true })).stdout.trim() || undefined,
  );
  const lags: number[] = [];
  for (let round = 0; round < RUNS; round++) {
    const switched = await annex2.docker.out("exec", "barman-montagu", "montagu-switch-wal", "60");
    const segment = /The WAL file (\w{24}) has been closed/.exec(switched)?.[1];
    if (segment === undefined) throw new Error(`no segment closed: ${switched}`);
    const start = performance.now();
    await eventually(`${segment} in the bucket`, 180, async () => ((await s3.keys(BUCKET, "montagu/barman/montagu/wals")).some((key) => key.includes(segment)) ? true : undefined), 500);
    lags.push((performance.now() - start) / 1000);
  }
  show("WAL segment archived -> in the bucket", lags);

  const vsRaw = median(full) / median(raw);
  const unchangedFraction = median(unchanged) / median(full);
  console.log(`RESULT offsite vs_raw_upload=${vsRaw.toFixed(2)} unchanged_fraction=${unchangedFraction.toFixed(3)} wal_lag_s=${median(lags).toFixed(1)}`);
}

benchmark(main);
