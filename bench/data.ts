import { execFileSync } from "node:child_process";
import type { SimulatedHost } from "../simulator/rig/hosts";
import { SMOKE } from "./benchmark";

/** `files` files of `kilobytes` KB of random bytes in nested directories of `volume`; returns its size in bytes. */
export async function generateVolume(host: SimulatedHost, volume: string, files: number, kilobytes: number): Promise<number> {
  await host.docker.run([
    "run", "--rm", "--volume", `${volume}:/data`, "debian:bookworm", "bash", "-c",
    `head -c ${kilobytes * 1024 * 64} /dev/urandom > /tmp/pool
     for i in $(seq 0 $((${files} - 1))); do
       d=/data/d$((i / 500))/e$((i % 500 / 50)); [ -d $d ] || mkdir -p $d
       dd if=/tmp/pool of=$d/f$i bs=1024 skip=$(( (i * 7) % (${kilobytes} * 63) )) count=${kilobytes} status=none
     done`,
  ]);
  return volumeBytes(host, volume);
}

export async function volumeBytes(host: SimulatedHost, volume: string): Promise<number> {
  const du = await host.docker.out("run", "--rm", "--volume", `${volume}:/data:ro`, "debian:bookworm", "du", "-sb", "/data");
  return Number(du.split(/\s/)[0]);
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Writes back what earlier work left in memory. Every simulated host shares this kernel and
 * disk, so that writeback would otherwise slow whatever is measured next.
 */
export const flushWrites = () => execFileSync("sync");

/**
 * What a client container needs to ssh to the server with a key that may run anything there:
 * the benchmarks' raw copies run tar on the server, which a client's own key, bound to
 * privateer-gate, may not. The key goes first in the server's authorized_keys (replacing an
 * earlier one), so sshd takes its line, without the gate, before the client key's.
 */
export async function rawServerAccess(server: SimulatedHost, keyVolume = "privateer_montagu_keys"): Promise<{ dockerArgs: string[]; setup: string; ssh: string }> {
  const key = await server.docker.out(
    "run", "--rm", "--entrypoint", "bash", "--volume", `${keyVolume}:/keys`, "montagu-backup/privateer-server:local", "-c",
    "set -euo pipefail; ssh-keygen -q -t ed25519 -N '' -C bench-raw -f /tmp/raw; { cat /tmp/raw.pub; grep -v ' bench-raw$' /keys/authorized_keys || true; } > /tmp/keys; cat /tmp/keys > /keys/authorized_keys; cat /tmp/raw",
  );
  return {
    dockerArgs: ["--env", `RAW_KEY=${key}`],
    setup: `install -m 600 /dev/null /tmp/raw_key && printf '%s\\n' "$RAW_KEY" > /tmp/raw_key`,
    ssh: "ssh -i /tmp/raw_key",
  };
}

/**
 * `barman backup --wait` on `barman`'s host, of the primary on `primary`'s. On a quiet primary
 * that takes minutes whatever the size (176 s for 22 MB measured here): barman's backup waits
 * for a spread checkpoint, then for the segment that ends it to be archived, which the
 * streaming archiver holds back until WAL of the next arrives and `barman cron` comes round
 * (images/barman/switch-wal.sh). A smoke takes an immediate checkpoint and brings that WAL and
 * that cron at once: the same steps, without the waits.
 */
export async function baseBackup(barman: SimulatedHost, primary: SimulatedHost): Promise<void> {
  await firstBackupDone(barman, primary);
  if (!SMOKE) {
    await barman.docker.run(["exec", "barman-montagu", "barman", "backup", "--wait", "montagu"]);
    return;
  }
  let done = false;
  const backup = barman.docker.run(["exec", "barman-montagu", "barman", "backup", "--immediate-checkpoint", "--wait", "montagu"]).finally(() => {
    done = true;
  });
  while (!done) await bringWal(barman, primary);
  await backup;
}

/** One transaction on the primary and a `barman cron`: the WAL that ends a backup, archived now. */
async function bringWal(barman: SimulatedHost, primary: SimulatedHost): Promise<void> {
  await primary.docker.run(["exec", "montagu-db", "psql", "-U", "postgres", "-d", "montagu", "-Atc", "SELECT txid_current()"], { allowFailure: true });
  await barman.docker.run(["exec", "barman-montagu", "barman", "cron"], { allowFailure: true });
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

/**
 * barman's entrypoint takes a first base backup itself when there is none, and barman refuses
 * a second one while it runs ("Another backup process is running", or "Impossible to start the
 * backup" as it begins): seen in CI's smoke, whose small data is made before that first one
 * ends. So wait until barman lists a backup and none is under way, bringing its WAL meanwhile.
 */
async function firstBackupDone(barman: SimulatedHost, primary: SimulatedHost): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const listed = await barman.docker.run(["exec", "barman-montagu", "barman", "list-backups", "montagu"], { allowFailure: true });
    const lines = listed.stdout.split("\n").filter((line) => line.trim() !== "");
    if (listed.code === 0 && lines.length > 0 && !lines.some((line) => /STARTED|WAITING_FOR_WALS/.test(line))) return;
    if (Date.now() > deadline) throw new Error(`barman's first base backup did not end in 10 minutes: ${listed.stdout}${listed.stderr}`);
    await bringWal(barman, primary);
  }
}
