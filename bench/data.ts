import { execFileSync } from "node:child_process";
import type { SimulatedHost } from "../test/rig/hosts";

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
