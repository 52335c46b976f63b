// What components share about the Docker engine they run on.

/** Where a container finds the secrets uploaded into it, one file each (barman-montagu's and the stand-in primary's images read them there). */
export const SECRETS_DIR = "/run/montagu/secrets";

/** A server that a client reaches on its own loopback is reached over the host's network. */
export function onLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname.startsWith("127.") || hostname === "::1";
}
