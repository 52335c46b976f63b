import type { SimulatedHost } from "./rig/hosts";

// Test data in Docker volumes, and a way to compare two volumes' trees exactly.

const BASE = "debian:bookworm";

export async function inVolume(host: SimulatedHost, volume: string, script: string, readOnly = false): Promise<string> {
  return host.docker.out("run", "--rm", "--volume", `${volume}:/data${readOnly ? ":ro" : ""}`, "--workdir", "/data", BASE, "bash", "-euo", "pipefail", "-c", script);
}

/**
 * 1000 files in 100 nested directories with three different modes, a symlink, an empty
 * directory, a file whose name holds a tab and a newline, and one file of `bigMegabytes` MB.
 */
export async function seedVolume(host: SimulatedHost, volume: string, bigMegabytes = 100): Promise<void> {
  await inVolume(
    host,
    volume,
    `
    for d in $(seq 0 9); do for e in $(seq 0 9); do
      mkdir -p "reports/$d/r$e"
      for f in $(seq 0 9); do echo "report $d/$e/$f $RANDOM" > "reports/$d/r$e/file-$f.txt"; done
      chmod 0600 "reports/$d/r$e/file-1.txt"; chmod 0755 "reports/$d/r$e/file-2.txt"
    done; done
    mkdir -p empty-dir
    ln -sfn reports/0/r0/file-0.txt latest
    echo "any byte but / and NUL may name a file" > "$(printf 'odd\tname\nhere')"
    head -c ${bigMegabytes}M /dev/urandom > big.bin
    `,
  );
}

/** Every entry with its type, mode, size, link target and content hash: equal trees, equal manifests. */
export async function manifest(host: SimulatedHost, volume: string, subdirectory = "."): Promise<string> {
  return inVolume(
    host,
    volume,
    `cd ${subdirectory}
     find . -mindepth 1 \\( -type d -printf '%p d %m\\n' \\) -o \\( ! -type d -printf '%p %y %m %s %l\\n' \\) | sort > /tmp/entries
     find . -type f -print0 | sort -z | xargs -0 -r sha256sum > /tmp/sums
     cat /tmp/entries /tmp/sums`,
    true,
  );
}
