import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import { IMAGES_DIR } from "../shared/dockerImage";
import { clientCopyDir, historyDir, KEYS_DIR, LOCAL_DIR, PREPARE_WORK_DIR, PREPARED_STAMP, RESTORES_DIR, VOLUMES_DIR } from "./layout";

// The shell scripts that command resources run on the machine running `pulumi up`. Each
// starts a throwaway privateer client container on the stack's Docker engine, as privateer
// does for its verbs.

/** Where a transfer runs: a client's key volume and image, on the stack's engine. */
export interface TransferClient {
  name: string;
  keyVolumeName: pulumi.Input<string>;
  /** The client's record of its restores, mounted at RESTORES_DIR for restores. */
  restoresVolumeName: pulumi.Input<string>;
  image: pulumi.Input<string>;
  /** What points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
}

/** The script of one transfer on `client`: a throwaway client container with `volumes` mounted, running `command`. */
export function transferOn(
  client: TransferClient,
  description: string,
  volumes: ClientRun["volumes"],
  command: string[],
  withRestores = false,
): pulumi.Output<string> {
  return pulumi
    .all([client.keyVolumeName, client.image, client.restoresVolumeName])
    .apply(([keyVolume, image, restores]) =>
      transferScript(description, { keyVolume, image, volumes, command, restoresVolume: withRestores ? restores : undefined }),
    );
}

export interface ClientRun {
  keyVolume: string;
  image: string;
  /** Volumes mounted under /privateer/volumes/<volume>. */
  volumes: { volume: string; readOnly: boolean }[];
  command: string[];
  /** The client's record of its restores, for a restore. */
  restoresVolume?: string;
}

/**
 * A transfer is a client of the host: on the host's network it reaches a server as `ssh` on
 * the host would (its names, its loopback), and it starts without a network of its own to set
 * up: measured here, 0.17 s against 0.38 s, a fifth of a push that finds little to do.
 */
export function dockerRun(run: ClientRun): string {
  const args = ["docker", "run", "--rm", "--network", "host"];
  args.push("--volume", `${run.keyVolume}:${KEYS_DIR}:ro`);
  for (const { volume, readOnly } of run.volumes) args.push("--volume", `${volume}:${VOLUMES_DIR}/${volume}${readOnly ? ":ro" : ""}`);
  if (run.restoresVolume !== undefined) args.push("--volume", `${run.restoresVolume}:${RESTORES_DIR}`);
  args.push(run.image, ...run.command);
  return quote(args);
}

/**
 * rsync's overall progress, one line per 10% rather than one per file, so that a long copy
 * shows in the update log without burying it.
 */
const PROGRESS_FILTER = `tr '\\r' '\\n' | awk '/%/ { p = int($2); if (p >= shown + 10 || p == 100) { print; shown = p }; next } NF { print }'`;

/** Read when a stack runs, so that what runs is the script as it is then. */
const readScript = (...parts: string[]) => fs.readFileSync(path.join(...parts), "utf8");

/**
 * The client container's command that makes `destination` what `rsync -a --delete source
 * destination` makes it (both directories, one of them `server:path`), under the server's lock
 * on the copy, once the source has passed copy.sh's checks, reporting progress and totals
 * instead of every file. An empty destination is filled in parallel streams first (copy.sh says
 * why); `updateOptions` are rsync's when it updates an existing copy.
 */
function copyCommand(options: string[], source: string, destination: string, updateOptions: string[] = []): string[] {
  const program = readScript(IMAGES_DIR, "privateer", "client", "lock.sh") + readScript(__dirname, "copy.sh");
  return ["bash", "-c", program, "copy", ...options, source, destination, "--", ...updateOptions];
}

/**
 * privateer's `backup`: the volume into `<client>/<volume>` on the server's data volume. The
 * copy it replaces is kept in the server's history first; an empty volume is pushed only
 * when `allowEmpty` says so.
 */
export function pushCommand(volume: string, server: string, client: string, allowEmpty = false): string[] {
  const copy = clientCopyDir(client, volume);
  return copyCommand(
    [
      "--lock", `${copy}:exclusive`,
      "--keep-history",
      ...(allowEmpty ? ["--allow-empty"] : []),
    ],
    `${VOLUMES_DIR}/${volume}/`,
    `${server}:${copy}/`,
  );
}

/** Where a restore reads from on its server, and what the source must be. */
export interface RestoreSource {
  server: string;
  volume: string;
  /** The client whose copy is restored; absent for a server-local volume. */
  source?: string;
  /** `latest` or a snapshot's name: a copy from the server's history rather than the current one. */
  snapshot?: string;
  allowEmpty: boolean;
}

/**
 * privateer's `restore`, comparing content (`--checksum`) rather than rsync's quick check of
 * size and mtime when the target already holds a copy: a database file rewritten on the
 * target in the same second, at the same size, as the server's copy was stamped would
 * otherwise be kept, and the restored database would mix two copies. A target that holds an
 * earlier restore of the same source (the client's record in RESTORES_DIR says so) is compared
 * by size and mtime, after every file changed there since is marked to be sent again. A server-local volume is
 * a prepared copy: only a finished one (stamped) is restored, without the prepare's own work.
 * With `check`, the source is checked and nothing is copied.
 */
export function restoreCommand(from: RestoreSource, destinationVolume: string, check = false): string[] {
  const options = [...(from.allowEmpty ? ["--allow-empty"] : []), ...(check ? ["--check"] : [])];
  if (!check) options.push("--restore-stamp", `${RESTORES_DIR}/${destinationVolume}`);
  let source: string;
  if (from.source === undefined) {
    source = `${LOCAL_DIR}/${from.volume}`;
    options.push("--lock", `${source}:shared`, "--require-stamp", PREPARED_STAMP, "--exclude-top", PREPARE_WORK_DIR);
  } else {
    source = clientCopyDir(from.source, from.volume);
    options.push("--lock", `${source}:shared`);
    if (from.snapshot === "latest") options.push("--newest-in", historyDir(from.source, from.volume));
    else if (from.snapshot !== undefined) source = `${historyDir(from.source, from.volume)}/${from.snapshot}`;
    else options.push("--refuse-unfinished");
  }
  return copyCommand(options, `${from.server}:${source}/`, `${VOLUMES_DIR}/${destinationVolume}/`, ["--checksum"]);
}

export function transferScript(description: string, run: ClientRun): string {
  return [
    `echo ${quote([`${description}: starting`])}`,
    `${dockerRun(run)} | ${PROGRESS_FILTER}`,
    `echo ${quote([`${description}: done`])}`,
  ].join("\n");
}

/** privateer's `check --connection`: the server must answer with its own name. */
export function connectionCheckScript(client: string, server: { name: string; hostname: string; port: number }, run: Omit<ClientRun, "command">): string {
  const where = `${client} -> ${server.name} (${server.hostname}:${server.port})`;
  return [
    `if ! answer=$(${dockerRun({ ...run, command: ["ssh", server.name, "cat", `${KEYS_DIR}/name`] })} 2>&1); then`,
    `  echo ${quote([`privateer: connection ${where} refused:`])} "$answer" >&2`,
    "  exit 1",
    "fi",
    `if [ "$answer" != ${quote([server.name])} ]; then`,
    `  echo ${quote([`privateer: ${where} answered as`])} "'$answer'" ${quote([`instead of '${server.name}'`])} >&2`,
    "  exit 1",
    "fi",
    `echo ${quote([`privateer: connection ${where} ok`])}`,
  ].join("\n");
}
