import * as crypto from "node:crypto";
import { stringify } from "yaml";
import type { TopologyClient, TopologyServer } from "../../config/topology";

// What privateer 2.x writes, byte for byte where it matters: vault paths, key volume files
// and their modes, the schedule file, the transfer commands.

/** KV v1 path of a machine's keypair: `<prefix>/<machine>`, the `secret` mount named once. */
export function vaultKeyPath(prefix: string, machine: string): string {
  const rest = prefix.replace(/^\/+/, "").replace(/^secret(\/|$)/, "").replace(/\/+$/, "");
  return ["secret", rest, machine].filter((part) => part !== "").join("/");
}

export interface KeyFile {
  name: string;
  /** Octal, as the docker provider's upload takes it. */
  mode: "0600" | "0644";
  secret: boolean;
}

export const KEYS_DIR = "/privateer/keys";
export const VOLUMES_DIR = "/privateer/volumes";
export const LOCAL_DIR = "/privateer/local";
/** Our own place on a server's data volume; no client is named so (client names start with [a-zA-Z0-9]). */
export const MONTAGU_DIR = `${VOLUMES_DIR}/.montagu`;

/** The current copy of a client's volume, where privateer keeps it. */
export function clientCopyDir(client: string, volume: string): string {
  return `${VOLUMES_DIR}/${client}/${volume}`;
}

/** The snapshots of a client's copy, one directory each, named by their UTC time (20261126T131500Z). */
export function historyDir(client: string, volume: string): string {
  return `${MONTAGU_DIR}/history/${client}/${volume}`;
}

/** The marker of a push into a client's copy that has not ended (images/privateer/server/gate.py, UNFINISHED). */
export function unfinishedMarker(client: string, volume: string): string {
  return `${MONTAGU_DIR}/unfinished/${client}/${volume}`;
}

/** A prepared copy of the database is finished once this file, holding its time, is at its top (barman-montagu's name). */
export const PREPARED_STAMP = ".barman-last-restore";
/** Where a prepare works in the volume it prepares, out of the copy it serves. */
export const PREPARE_WORK_DIR = ".montagu";
/**
 * Where a transfer finds its client's record of each restore, one file per volume restored: the
 * source, and when the copy ended (components/privateer/copy.sh). A volume of its own per client,
 * `<key volume>_restores`, so that nothing of ours is written into restored data.
 */
export const RESTORES_DIR = "/privateer/restores";
export const restoresVolumeName = (keyVolume: string) => `${keyVolume}_restores`;

export const SERVER_KEY_FILES: KeyFile[] = [
  { name: "id_rsa", mode: "0600", secret: true },
  { name: "id_rsa.pub", mode: "0644", secret: false },
  { name: "authorized_keys", mode: "0600", secret: false },
  { name: "name", mode: "0644", secret: false },
];

export const CLIENT_KEY_FILES: KeyFile[] = [
  { name: "id_rsa", mode: "0600", secret: true },
  { name: "id_rsa.pub", mode: "0644", secret: false },
  { name: "known_hosts", mode: "0600", secret: false },
  { name: "config", mode: "0600", secret: false },
  { name: "name", mode: "0644", secret: false },
];
export const SCHEDULE_FILE: KeyFile = { name: "yacron.yml", mode: "0644", secret: false };

/** The server's forced command for every client key (images/privateer/server/gate.py). */
export const GATE = "/usr/local/bin/privateer-gate";

/**
 * One line per client key, as privateer writes, each bound to the server's gate: the key may
 * make privateer's transfers, writing only into its own client's copies, and nothing else
 * (`restrict`: no shell, pty or forwarding of ports, agent or X11).
 */
export function authorizedKeys(clients: { name: string; publicKey: string }[]): string {
  return clients.map(({ name, publicKey }) => `restrict,command="${GATE} ${name}" ${publicKey.trim()}\n`).join("");
}

/** `[hostname]:port <server public key>` per server: the server's sshd uses its own keypair as host key. */
export function knownHosts(servers: { server: TopologyServer; publicKey: string }[]): string {
  return servers.map(({ server, publicKey }) => `[${server.hostname}]:${server.port} ${publicKey.trim()}\n`).join("");
}

/** ssh client config: each server by its privateer name. */
export function sshConfig(servers: TopologyServer[]): string {
  return servers.map((s) => `Host ${s.name}\n    User root\n    Port ${s.port}\n    HostName ${s.hostname}\n`).join("\n");
}

/** privateer's backup: the volume, read-only, pushed to `<client>/<volume>` on the server's data volume. */
export function backupCommand(server: string, client: string, volume: string): string[] {
  return ["rsync", "-av", "--delete", `${VOLUMES_DIR}/${volume}`, `${server}:${VOLUMES_DIR}/${client}`];
}

/** `word` as one word for a POSIX shell: as it is when it holds nothing the shell reads, else in single quotes. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_.\/:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** The schedule file privateer writes for a client's scheduler (yacron format). */
export function scheduleFile(client: TopologyClient, timezone: string): string {
  const schedule = client.schedule;
  if (schedule === undefined) throw new Error(`client ${client.name} has no schedule`);
  const document: Record<string, unknown> = { defaults: { timezone } };
  if (schedule.port !== undefined) document.web = { listen: [`http://0.0.0.0:${schedule.port}`] };
  document.jobs = schedule.jobs.map((job, i) => ({
    name: `job-${i + 1}`,
    // Each word quoted for the shell that runs it. Names are Docker names, which need no
    // quoting, so privateer's command stays byte for byte what it writes and what the
    // scheduler recognises (shell-quote would write `annex2\\:/privateer/...`).
    command: backupCommand(job.server, client.name, job.volume).map(shellWord).join(" "),
    schedule: job.schedule,
  }));
  return stringify(document);
}

/** `SHA256:...`, as `ssh-keygen -lf` prints it. */
export function publicKeyFingerprint(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? "";
  return `SHA256:${crypto.createHash("sha256").update(Buffer.from(blob, "base64")).digest("base64").replace(/=+$/, "")}`;
}
