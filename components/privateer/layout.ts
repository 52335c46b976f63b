import * as crypto from "node:crypto";
import { stringify } from "yaml";
import type { PrivateerClient, PrivateerServer } from "../../config/topology";

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

/** One line per client key. */
export function authorizedKeys(clientPublicKeys: string[]): string {
  return clientPublicKeys.map((key) => `${key.trim()}\n`).join("");
}

/** `[hostname]:port <server public key>` per server: the server's sshd uses its own keypair as host key. */
export function knownHosts(servers: { server: PrivateerServer; publicKey: string }[]): string {
  return servers.map(({ server, publicKey }) => `[${server.hostname}]:${server.port} ${publicKey.trim()}\n`).join("");
}

/** ssh client config: each server by its privateer name. */
export function sshConfig(servers: PrivateerServer[]): string {
  return servers.map((s) => `Host ${s.name}\n    User root\n    Port ${s.port}\n    HostName ${s.hostname}\n`).join("\n");
}

/** privateer's backup: the volume, read-only, pushed to `<client>/<volume>` on the server's data volume. */
export function backupCommand(server: string, client: string, volume: string): string[] {
  return ["rsync", "-av", "--delete", `${VOLUMES_DIR}/${volume}`, `${server}:${VOLUMES_DIR}/${client}`];
}

/** privateer's restore: a client's copy (or a server-local volume) into the volume `to`. */
export function restoreSource(server: string, volume: string, source: string | undefined): string {
  return source === undefined ? `${server}:${LOCAL_DIR}/${volume}/` : `${server}:${VOLUMES_DIR}/${source}/${volume}/`;
}

/** The schedule file privateer writes for a client's scheduler (yacron format). */
export function scheduleFile(client: PrivateerClient, timezone: string): string {
  const schedule = client.schedule;
  if (schedule === undefined) throw new Error(`client ${client.name} has no schedule`);
  const document: Record<string, unknown> = { defaults: { timezone } };
  if (schedule.port !== undefined) document.web = { listen: [`http://0.0.0.0:${schedule.port}`] };
  document.jobs = schedule.jobs.map((job, i) => ({
    name: `job-${i + 1}`,
    command: backupCommand(job.server, client.name, job.volume).join(" "),
    schedule: job.schedule,
  }));
  return stringify(document);
}

/** `SHA256:...`, as `ssh-keygen -lf` prints it. */
export function publicKeyFingerprint(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? "";
  return `SHA256:${crypto.createHash("sha256").update(Buffer.from(blob, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/** A server that a client reaches on its own loopback is reached over the host's network. */
export function onLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname.startsWith("127.") || hostname === "::1";
}
