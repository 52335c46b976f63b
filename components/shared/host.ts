import * as pulumi from "@pulumi/pulumi";

// What components share about the Docker engine they run on.

/** Where a container finds the secrets uploaded into it, one file each (barman-montagu's and the stand-in primary's images read them there). */
export const SECRETS_DIR = "/run/montagu/secrets";

/** A server that a client reaches on its own loopback is reached over the host's network. */
export function onLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname.startsWith("127.") || hostname === "::1";
}

/** Points the docker CLI in command resources at the engine the docker provider uses. */
export function dockerEnvironment(): Record<string, string> {
  const host = new pulumi.Config("docker").get("host");
  return host === undefined ? {} : { DOCKER_HOST: host };
}
