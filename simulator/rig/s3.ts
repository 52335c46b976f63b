import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../harness/docker";
import { PROJECT_DIR } from "../harness/stackConfig";
import { ensureNetwork, outer, purposeOf, RIG_LABEL, RIG_NETWORK, rigContainer } from "./hosts";

// An S3-compatible server on the rig's network (Versity's gateway, from its Go module), which
// every simulated host's containers reach by its name: the off-site copies go there, and the
// tests look at its buckets as folders.

const S3_IMAGE = "montagu-rig-s3:latest";
const GATEWAY_MODULE = "github.com/versity/versitygw/cmd/versitygw@v1.8.0";
/** Built once per machine: Go's module and build caches make a second build take seconds. */
const BIN_DIR = "/tmp/montagu-rig/bin";

export interface S3Server {
  /** The name the simulated hosts reach it by. */
  host: string;
  port: number;
  /** http://<host>:<port> */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Makes a bucket (a folder of the gateway's root). */
  createBucket(bucket: string): Promise<void>;
  /** Every object's key under `prefix` in `bucket`, sorted. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** Runs a shell command in the server's container (to damage an object, say). */
  shell(command: string): Promise<string>;
}

/** The gateway's binary, built when this machine has none yet (the tests' global setup builds it before the lanes start). */
export async function gatewayBinary(): Promise<string> {
  const binary = path.join(BIN_DIR, "versitygw");
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(BIN_DIR, { recursive: true });
    // Built aside and renamed into place: a lane never runs another's half-written binary.
    const aside = fs.mkdtempSync(path.join(BIN_DIR, ".build-"));
    try {
      await run("go", ["install", GATEWAY_MODULE], { env: { ...process.env, CGO_ENABLED: "0", GOBIN: aside } });
      fs.renameSync(path.join(aside, "versitygw"), binary);
    } finally {
      fs.rmSync(aside, { recursive: true, force: true });
    }
  }
  return binary;
}

/** Starts an empty S3 server named `name` (an earlier one of that name is removed). */
export async function startS3Server(name = "s3"): Promise<S3Server> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), "rig-s3-"));
  try {
    fs.copyFileSync(path.join(PROJECT_DIR, "simulator/rig/s3/Dockerfile"), path.join(context, "Dockerfile"));
    fs.copyFileSync(await gatewayBinary(), path.join(context, "versitygw"));
    await outer.run(["build", "--quiet", "--tag", S3_IMAGE, context], { env: { DOCKER_BUILDKIT: "0" } });
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
  const container = rigContainer(name);
  const accessKeyId = "rigaccess";
  const secretAccessKey = "rig-secret-key-0123456789";
  await outer.run(["rm", "--force", "--volumes", container], { allowFailure: true });
  await ensureNetwork();
  await outer.run([
    "run", "--detach", "--name", container, "--label", `${RIG_LABEL}=${purposeOf(name)}`, "--network", RIG_NETWORK, "--network-alias", name,
    "--env", `ROOT_ACCESS_KEY=${accessKeyId}`, "--env", `ROOT_SECRET_KEY=${secretAccessKey}`,
    // A volume of its own: the gateway keeps objects' metadata in extended attributes, which the image's overlay may not hold.
    "--volume", "/data",
    S3_IMAGE,
  ]);
  const shell = (command: string) => outer.out("exec", container, "bash", "-c", command);
  const deadline = Date.now() + 30_000;
  while ((await outer.run(["exec", container, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7070"], { allowFailure: true })).code !== 0) {
    if (Date.now() > deadline) throw new Error(`rig S3 server did not start:\n${(await outer.run(["logs", container], { allowFailure: true })).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    host: name,
    port: 7070,
    endpoint: `http://${name}:7070`,
    accessKeyId,
    secretAccessKey,
    async createBucket(bucket) {
      await shell(`mkdir -p /data/${bucket}`);
    },
    async keys(bucket, prefix = "") {
      const listed = await shell(`cd /data/${bucket} && find ${prefix === "" ? "." : `./${prefix}`} -type f -printf '%P\\n' 2>/dev/null || true`);
      return listed.split("\n").filter(Boolean).map((key) => (prefix === "" ? key : `${prefix}/${key}`)).sort();
    },
    shell,
  };
}
