// npm run bench:privateer — our volume push against three references on the same files and
// the same link between two simulated hosts; each figure the median of three runs.
// BENCH_FILES and BENCH_FILE_KB change the size (default: 20,000 files of 100 KB, about 2 GB;
// BENCH_SMOKE=1: 100 files of 4 KB, once).
import { performance } from "node:perf_hooks";
import { benchmark, RUNS, size, stackCommand, startBenchDataCentre } from "./benchmark";
import { flushWrites, generateVolume, median, rawServerAccess } from "./data";
import { run } from "../simulator/harness/docker";
import { prepareRig } from "../simulator/rig/hosts";

const FILES = size("BENCH_FILES", 20_000, 100);
const FILE_KB = size("BENCH_FILE_KB", 100, 4);
const VOLUME = "montagu_orderly_volume";
const CLIENT_IMAGE = "montagu-backup/privateer-client:local";
// OpenSSH's own cipher preference, which privateer's transfer gets.
const OPENSSH_DEFAULT_CIPHERS = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";


interface Contender {
  what: string;
  action: () => Promise<unknown>;
  /** Sets the scene for each run, untimed. */
  before?: () => Promise<unknown>;
}

/**
 * Each contender RUNS times, taking turns (A B C, A B C, ...), so that a slow spell of this
 * shared machine falls on all of them rather than on whichever ran then; their medians.
 */
async function timedInTurns(contenders: Contender[]): Promise<number[]> {
  const seconds: number[][] = contenders.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (const [index, { action, before }] of contenders.entries()) {
      if (before !== undefined) await before();
      flushWrites();
      const start = performance.now();
      await action();
      seconds[index].push((performance.now() - start) / 1000);
    }
  }
  return contenders.map(({ what }, index) => {
    console.log(`${what.padEnd(44)} ${seconds[index].map((s) => s.toFixed(2)).join("  ")}  median ${median(seconds[index]).toFixed(2)} s`);
    return median(seconds[index]);
  });
}

async function main() {
  await prepareRig();
  // Hosts of its own, so that a benchmark and the tests can run side by side.
  const centre = await startBenchDataCentre({ machines: ["annex2", "production2"], topology: "bench/privateer.json", prefix: "bench-" });
  const up = (machine: "annex2" | "production2", privateer: Record<string, unknown>) => centre.up(machine, { "montagu-backup:privateer": privateer });
  const { annex2, production2 } = centre.hosts;

  console.log(`setting up: ${FILES} files of ${FILE_KB} KB in ${VOLUME} on production2`);
  await up("annex2", { keys: { generate: true } });
  const bytes = await generateVolume(production2, VOLUME, FILES, FILE_KB);
  const megabytes = bytes / 1e6;
  console.log(`volume: ${megabytes.toFixed(0)} MB`);

  // Our push, exactly as the stack runs it.
  const backup = { backup: { id: "bench", volumes: [{ volume: VOLUME, server: "annex2" }] } };
  const push = stackCommand(await up("production2", backup), `privateer-backup-production2-annex2-${VOLUME}`);
  const onProduction2 = (script: string) => run("bash", ["-c", script], { env: { ...process.env, DOCKER_HOST: production2.dockerHost } });
  const ours = () => onProduction2(push);
  const raw = await rawServerAccess(annex2);
  const clearServerCopy = () => annex2.docker.run(["run", "--rm", "--volume", "privateer_montagu_data:/d", "debian:bookworm", "rm", "-rf", "/d/production2", "/d/tar"]);
  const client = (script: string, extra: string[] = []) =>
    production2.docker.run(["run", "--rm", "--volume", "privateer_keys:/privateer/keys:ro", "--volume", `${VOLUME}:/privateer/volumes/${VOLUME}`, ...extra, CLIENT_IMAGE, "bash", "-c", script]);

  const privateerRsync = (from: string, to: string) => `rsync -av --delete -e 'ssh -o Ciphers=${OPENSSH_DEFAULT_CIPHERS}' ${from} ${to}`;
  const privateerPush = () => client(`${privateerRsync(`/privateer/volumes/${VOLUME}`, "annex2:/privateer/volumes/production2")} > /dev/null`);
  const [oursFull, privateerFull, tarFull, localCopy] = await timedInTurns([
    { what: "our push (full)", action: ours, before: clearServerCopy },
    { what: "privateer's rsync -av --delete over ssh", action: privateerPush, before: clearServerCopy },
    {
      what: "tar | ssh | tar",
      action: () => client(`${raw.setup}; tar -C /privateer/volumes -cf - ${VOLUME} | ${raw.ssh} annex2 'mkdir -p /privateer/volumes/tar && tar -C /privateer/volumes/tar -xf -'`, raw.dockerArgs),
      before: clearServerCopy,
    },
    {
      what: "cp -a on the same disk (the limit)",
      action: () => production2.docker.run(["run", "--rm", "--volume", `${VOLUME}:/src:ro`, "--volume", "bench_copy:/dst", "debian:bookworm", "cp", "-a", "/src/.", "/dst/"]),
      before: () => production2.docker.run(["volume", "rm", "--force", "bench_copy"]),
    },
  ]);

  // Incremental: 1% of the files change, then push again (the copy is otherwise current). Each
  // contender pushes into a copy of its own on the server, which the other never writes: our
  // push keeps each copy it makes in the history after it ends, and privateer's, into the same
  // copy, would have our next push keep what privateer wrote (0.74 s where the copy was ours,
  // 0.97-1.00 s after privateer's, 2026-12-05). Every round changes the same files, so each
  // copy is behind by those 1% whichever pushed last.
  const privateerOwnCopy = `annex2:/privateer/volumes/production2/privateer_${VOLUME}/`;
  const privateerIncrementalPush = () => client(`${privateerRsync(`/privateer/volumes/${VOLUME}/`, privateerOwnCopy)} > /dev/null`);
  await ours();
  await privateerIncrementalPush();
  let round = 0;
  const changeOnePercent = async () => {
    round++;
    await client(`for i in $(seq 0 100 $((${FILES} - 1))); do f=$(ls -d /privateer/volumes/${VOLUME}/d$((i / 500))/e$((i % 500 / 50)))/f$i; echo "change ${"$"}{RANDOM} ${round}" >> $f; done`);
  };
  const [oursIncremental, privateerIncremental] = await timedInTurns([
    { what: "our push after 1% changed", action: ours, before: changeOnePercent },
    { what: "privateer's push after 1% changed", action: privateerIncrementalPush, before: changeOnePercent },
  ]);

  // Restore: the server's copy back into a fresh volume on production2, exactly as the stack's
  // restore runs it (the update that asks for it restores once, untimed).
  const restoreTo = "bench_restore";
  const clearRestore = () => production2.docker.run(["volume", "rm", "--force", restoreTo]);
  const restored = await centre.up("production2", {
    "montagu-backup:privateer": backup,
    "montagu-backup:restore": { id: "bench", volumes: [{ volume: VOLUME, server: "annex2", source: "production2", to: restoreTo }] },
  });
  const restore = stackCommand(restored, `restore-production2-${restoreTo}`);
  const restoreScript = (command: string) =>
    `docker run --rm --volume privateer_keys:/privateer/keys:ro --volume ${restoreTo}:/privateer/volumes/${restoreTo} ${CLIENT_IMAGE} ${command}`;
  const [restoreFrom, restoreInto] = [`annex2:/privateer/volumes/production2/${VOLUME}/`, `/privateer/volumes/${restoreTo}/`];
  const [oursRestore, privateerRestore] = await timedInTurns([
    { what: "our restore", action: () => onProduction2(restore), before: clearRestore },
    {
      what: "privateer's restore",
      action: () => onProduction2(`${restoreScript(privateerRsync(restoreFrom, restoreInto))} > /dev/null`),
      before: clearRestore,
    },
  ]);

  console.log("");
  console.log(`full push: ours ${oursFull.toFixed(2)} s, privateer ${privateerFull.toFixed(2)} s, tar over ssh ${tarFull.toFixed(2)} s, local copy ${localCopy.toFixed(2)} s`);
  console.log(`incremental push (1% changed): ours ${oursIncremental.toFixed(2)} s (${(oursIncremental / oursFull).toFixed(3)} of full), privateer ${privateerIncremental.toFixed(2)} s (${(privateerIncremental / privateerFull).toFixed(3)} of full)`);
  console.log(`restore: ours ${(megabytes / oursRestore).toFixed(0)} MB/s, privateer ${(megabytes / privateerRestore).toFixed(0)} MB/s, local copy ${(megabytes / localCopy).toFixed(0)} MB/s`);
  console.log(
    `RESULT privateer vs_privateer=${(privateerFull / oursFull).toFixed(2)} vs_local_copy=${(localCopy / oursFull).toFixed(2)} ` +
      `incremental_fraction=${(oursIncremental / oursFull).toFixed(3)} restore_mb_s=${(megabytes / oursRestore).toFixed(0)}`,
  );
}

benchmark(main);
