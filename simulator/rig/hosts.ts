import * as fs from "node:fs";
import * as path from "node:path";
import { DockerCli, run } from "../harness/docker";
import { PROJECT_DIR } from "../harness/stackConfig";

// Simulated machines for the integration tests: one Docker engine each (Docker-in-Docker),
// on one network where each answers to its machine name.

/**
 * Each test file's worker has a lane of the rig to itself: a network, host containers and
 * engines of its own, where its machines answer to the same names as in every other lane, so
 * that two data centres run side by side. A lane is named by vitest's VITEST_WORKER_ID, unique
 * in a run (VITEST_POOL_ID is not: after the unit tests' group, both integration workers get 1);
 * outside vitest (the benchmarks) there is one lane, unnamed.
 */
const WORKER = process.env.VITEST_WORKER_ID;
const NETWORK_BASE = "montagu-rig";
export const RIG_NETWORK = WORKER === undefined ? NETWORK_BASE : `${NETWORK_BASE}-${WORKER}`;
export const RIG_LABEL = "montagu-rig";
/** The outer engine's container of the rig's machine (or server) `name`, in this lane. */
export const rigContainer = (name: string) => (WORKER === undefined ? `rig-${name}` : `rig-${WORKER}-${name}`);
/** Hosts named so belong to a benchmark, which may run while the tests do: the tests' teardown leaves them. */
const BENCH_PREFIX = "bench-";
export const purposeOf = (name: string) => (name.startsWith(BENCH_PREFIX) ? "bench" : "test");
export const HOST_IMAGE = "montagu-rig-host:latest";
export const BASE_IMAGE = "debian:bookworm";
const SOCKET_ROOT = "/tmp/montagu-rig";
const BASE_ARCHIVE = path.join(SOCKET_ROOT, "base-image.tar");

/** The engine the rig itself runs on. */
export const outer = new DockerCli(process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock");

export interface SimulatedHost {
  name: string;
  /** The value for the stack's `docker:host`. */
  dockerHost: string;
  docker: DockerCli;
}

/** Once per test run: the base image, the host image, the first lane's network. */
export async function prepareRig(): Promise<void> {
  if ((await outer.run(["info"], { allowFailure: true })).code !== 0) {
    throw new Error(`no Docker engine answers at ${outer.host}: the integration tests need one (see README)`);
  }
  await run("bash", [path.join(PROJECT_DIR, "simulator/rig/base-image.sh"), BASE_IMAGE], { env: outer.env });
  await outer.run(["build", "--quiet", "--tag", HOST_IMAGE, path.join(PROJECT_DIR, "simulator/rig/host")], {
    env: { DOCKER_BUILDKIT: "0" },
  });
  await ensureNetwork();
  fs.mkdirSync(SOCKET_ROOT, { recursive: true });
  await outer.run(["image", "save", "--output", BASE_ARCHIVE, BASE_IMAGE]);
}

let networkMade: Promise<void> | undefined;

/**
 * This lane's network, made when it is missing; once per process, since hosts started side by
 * side would each make one, and docker then holds two networks of that name and refuses both.
 */
export function ensureNetwork(): Promise<void> {
  networkMade ??= (async () => {
    if (!(await outer.exists("network", RIG_NETWORK))) await outer.run(["network", "create", RIG_NETWORK]);
  })().catch((error: unknown) => {
    networkMade = undefined;
    throw error;
  });
  return networkMade;
}

export async function removeHost(name: string) {
  await outer.run(["rm", "--force", "--volumes", rigContainer(name)], { allowFailure: true });
  await outer.run(["volume", "rm", "--force", `${rigContainer(name)}-docker`], { allowFailure: true });
}

/** A machine with a new, empty engine (whatever an earlier test left is gone). */
export async function startHost(name: string): Promise<SimulatedHost> {
  await removeHost(name);
  await ensureNetwork();
  const socketDir = path.join(SOCKET_ROOT, rigContainer(name));
  fs.rmSync(socketDir, { recursive: true, force: true });
  fs.mkdirSync(socketDir, { recursive: true });
  await outer.run([
    "run",
    "--detach",
    "--name",
    rigContainer(name),
    "--hostname",
    name,
    "--label",
    `${RIG_LABEL}=${purposeOf(name)}`,
    "--network",
    RIG_NETWORK,
    "--network-alias",
    name,
    // What Docker-in-Docker needs on this machine (plain --privileged is refused here).
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--volume",
    "/sys/fs/cgroup:/sys/fs/cgroup",
    "--volume",
    `${rigContainer(name)}-docker:/var/lib/docker`,
    "--volume",
    `${socketDir}:/run/rig`,
    HOST_IMAGE,
  ]);
  const host: SimulatedHost = { name, dockerHost: `unix://${socketDir}/docker.sock`, docker: new DockerCli(`unix://${socketDir}/docker.sock`) };
  const deadline = Date.now() + 60_000;
  while ((await host.docker.run(["info"], { allowFailure: true })).code !== 0) {
    if (Date.now() > deadline) {
      const logs = await outer.run(["logs", "--tail", "30", rigContainer(name)], { allowFailure: true });
      throw new Error(`simulated host ${name}: engine did not start\n${logs.stdout}${logs.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await host.docker.run(["image", "load", "--quiet", "--input", BASE_ARCHIVE]);
  return host;
}

async function inHostNetwork(host: SimulatedHost, command: string[]) {
  const pid = await outer.out("inspect", "-f", "{{.State.Pid}}", rigContainer(host.name));
  return run("nsenter", ["--target", pid, "--net", ...command]);
}

/**
 * The host's link to the rig's network: `eth0` when it starts, another name once it has been
 * disconnected and connected again (cutNetwork, reconnectNetwork). Its inner engine's bridge and
 * veths share the namespace, so the one `eth` interface is the link.
 */
async function rigLink(host: SimulatedHost): Promise<string> {
  const links = (await inHostNetwork(host, ["ip", "-o", "link", "show"])).stdout
    .split("\n")
    .map((line) => line.split(": ")[1]?.split("@")[0])
    .filter((name): name is string => name !== undefined && /^eth\d+$/.test(name));
  if (links.length !== 1) throw new Error(`simulated host ${host.name}: expected one link to the rig's network, found ${links.length} (${links.join(", ")})`);
  return links[0];
}

/** What leaves `host` (its containers on the host network included) goes at most `megabits` a second. */
export async function limitLink(host: SimulatedHost, megabits: number): Promise<void> {
  const link = await rigLink(host);
  await inHostNetwork(host, ["tc", "qdisc", "replace", "dev", link, "root", "tbf", "rate", `${megabits}mbit`, "burst", "1mbit", "latency", "400ms"]);
}

export async function unlimitLink(host: SimulatedHost): Promise<void> {
  const link = await rigLink(host).catch(() => undefined);
  if (link !== undefined) await inHostNetwork(host, ["tc", "qdisc", "del", "dev", link, "root"]).catch(() => undefined);
}

/** The host's cable pulled: its connections hang, as they do when a network dies, rather than being reset. */
export async function cutNetwork(host: SimulatedHost): Promise<void> {
  await outer.run(["network", "disconnect", RIG_NETWORK, rigContainer(host.name)]);
}

export async function reconnectNetwork(host: SimulatedHost): Promise<void> {
  await outer.run(["network", "connect", "--alias", host.name, RIG_NETWORK, rigContainer(host.name)]);
}

/**
 * This lane's hosts and servers, their engines' volumes and its network, gone: a test file's
 * data centre stops using the machine's memory and cores once the file ends (the test setup
 * file calls it), rather than when the whole run does.
 */
export async function removeLane(): Promise<void> {
  if (WORKER === undefined) return;
  const prefix = `^${rigContainer("")}`;
  const ids = (await outer.out("ps", "--all", "--quiet", "--filter", `label=${RIG_LABEL}`, "--filter", `name=${prefix}`)).split("\n").filter(Boolean);
  if (ids.length > 0) await outer.run(["rm", "--force", "--volumes", ...ids]);
  const volumes = (await outer.out("volume", "ls", "--quiet", "--filter", `name=${prefix}`)).split("\n").filter(Boolean);
  if (volumes.length > 0) await outer.run(["volume", "rm", "--force", ...volumes]);
  await outer.run(["network", "rm", RIG_NETWORK], { allowFailure: true });
  networkMade = undefined;
  for (const entry of fs.readdirSync(SOCKET_ROOT).filter((name) => name.startsWith(rigContainer("")))) {
    fs.rmSync(path.join(SOCKET_ROOT, entry), { recursive: true, force: true });
  }
}

/** Everything the tests' rig started, gone; a benchmark's hosts are left to it. */
export async function removeRig(): Promise<void> {
  const ids = (await outer.out("ps", "--all", "--quiet", "--filter", `label=${RIG_LABEL}=test`)).split("\n").filter(Boolean);
  if (ids.length > 0) await outer.run(["rm", "--force", "--volumes", ...ids]);
  const volumes = (await outer.out("volume", "ls", "--quiet", "--filter", "name=^rig-"))
    .split("\n")
    .filter((volume) => volume !== "" && !volume.startsWith(`rig-${BENCH_PREFIX}`));
  if (volumes.length > 0) await outer.run(["volume", "rm", "--force", ...volumes]);
  // Every lane's network; one a benchmark still uses stays (docker refuses to remove it).
  const networks = (await outer.out("network", "ls", "--format", "{{.Name}}", "--filter", `name=^${NETWORK_BASE}`)).split("\n").filter(Boolean);
  for (const network of networks) await outer.run(["network", "rm", network], { allowFailure: true });
}
