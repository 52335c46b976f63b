import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { DockerCli, run } from "./docker";
import type { RegisteredResource, ResourceProvider } from "./run";
import { PROJECT_DIR } from "./stackConfig";
import { rsaPrivateKeyOutputs } from "./tlsKey";

/** A vault server's KV v1 secrets engine, in memory, shared by the stacks of one test. */
export class FakeVault {
  readonly secrets = new Map<string, Record<string, string>>();
}

// Applies what the program declares to a real Docker engine, the way the docker and command
// providers would. Strict: an input it does not map fails the update, never silently dropped.

type Inputs = Record<string, any>;
type Outputs = Record<string, unknown>;

interface Applied {
  resource: RegisteredResource;
  outputs: Outputs;
}

interface Handler {
  /** Input keys this applier knows how to carry out, nested ones as `parent.child`. */
  mapped: string[];
  create(inputs: Inputs, resource: RegisteredResource): Promise<Outputs>;
  /** An in-place update, for the changes that do not need a replacement. */
  update?(previous: Applied, inputs: Inputs, resource: RegisteredResource): Promise<Outputs>;
  /** Whether a change needs a replacement; without it every change does. */
  replaces?(previous: Applied, inputs: Inputs): boolean;
  /** A change the provider finds beyond the inputs themselves (an image's build context). */
  changedOutside?(previous: Applied, inputs: Inputs): boolean;
  delete(applied: Applied): Promise<void>;
}

export class UnmappedInputError extends Error {}

function checkMapped(resource: RegisteredResource, mapped: string[]) {
  const unknown: string[] = [];
  const visit = (value: unknown, prefix: string) => {
    if (typeof value !== "object" || value === null) return;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (typeof item !== "object" || item === null || Array.isArray(item)) continue;
      for (const [key, child] of Object.entries(item)) {
        const name = prefix === "" ? key : `${prefix}.${key}`;
        if (mapped.includes(name)) {
          if (mapped.some((m) => m.startsWith(`${name}.`))) visit(child, name);
        } else {
          unknown.push(name);
        }
      }
    }
  };
  visit(resource.inputs, "");
  if (unknown.length > 0) {
    throw new UnmappedInputError(`the test applier does not map input(s) ${unknown.join(", ")} of ${resource.type} '${resource.name}'`);
  }
}

const TRAILING_NEWLINE = /\n$/;

/** Every file of an image's build context (paths, modes, contents) and its Dockerfile, as one hash. */
function contextHash(inputs: Inputs): string {
  const context = path.resolve(PROJECT_DIR, inputs.build?.context ?? ".");
  const hash = crypto.createHash("sha256");
  const visit = (directory: string) => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        visit(full);
        continue;
      }
      hash.update(`${path.relative(context, full)}\0${fs.lstatSync(full).mode}\0`);
      hash.update(entry.isSymbolicLink() ? fs.readlinkSync(full) : fs.readFileSync(full));
    }
  };
  visit(context);
  hash.update(fs.readFileSync(path.resolve(context, inputs.build?.dockerfile ?? "Dockerfile")));
  return hash.digest("hex");
}

export interface ApplierOptions {
  /** The stack's `docker:host`, as the docker provider would read it. */
  dockerHost: string;
  /** Streams command output, as the update log would show it. */
  log?: (line: string) => void;
  /** The vault that vault resources and look-ups use. */
  vault?: FakeVault;
}

export class DockerApplier implements ResourceProvider {
  private readonly docker: DockerCli;
  private readonly state = new Map<string, Applied>();
  private readonly order: string[] = [];
  private readonly log: (line: string) => void;
  private readonly vault: FakeVault | undefined;
  /** URNs touched (created, updated or left unchanged) by each run, most recent last. */
  readonly history: { created: string[]; updated: string[]; unchanged: string[] }[] = [];

  constructor(options: ApplierOptions) {
    this.docker = new DockerCli(options.dockerHost);
    this.log = options.log ?? (() => undefined);
    this.vault = options.vault;
  }

  private requireVault(): FakeVault {
    if (this.vault === undefined) throw new Error("the program uses vault, but this test gave the applier none");
    return this.vault;
  }

  async invoke(token: string, args: Record<string, unknown>): Promise<Outputs> {
    if (token === "vault:generic/getSecret:getSecret") {
      const path = String(args.path);
      const data = this.requireVault().secrets.get(path);
      // What the vault provider reports for a path with nothing there.
      if (data === undefined) throw new Error(`no secret found at "${path}"`);
      return { path, data, dataJson: JSON.stringify(data), leaseId: "", leaseDuration: 0, leaseRenewable: false, leaseStartTime: "" };
    }
    throw new UnmappedInputError(`the test applier answers no invoke ${token}`);
  }

  /** What a resource's provider returned, as the stack's state holds it. */
  outputsOf(urn: string): Outputs {
    const applied = this.state.get(urn);
    if (applied === undefined) throw new Error(`no resource ${urn} in the state`);
    return applied.outputs;
  }

  /** Starts the bookkeeping of one `pulumi up`. */
  beginRun() {
    this.history.push({ created: [], updated: [], unchanged: [] });
  }

  private get currentRun() {
    if (this.history.length === 0) this.beginRun();
    return this.history[this.history.length - 1];
  }

  async create(resource: RegisteredResource): Promise<Outputs> {
    const handler = this.handlers[resource.type];
    if (handler === undefined) throw new UnmappedInputError(`the test applier does not know resource type ${resource.type}`);
    checkMapped(resource, handler.mapped);

    const previous = this.state.get(resource.urn);
    let outputs: Outputs;
    const unchanged =
      previous !== undefined && isDeepStrictEqual(previous.resource.inputs, resource.inputs) && handler.changedOutside?.(previous, resource.inputs) !== true;
    if (unchanged) {
      this.currentRun.unchanged.push(resource.urn);
      outputs = previous.outputs;
    } else if (previous !== undefined) {
      const replace = handler.update === undefined || (handler.replaces?.(previous, resource.inputs) ?? true);
      if (!replace) {
        outputs = await handler.update!(previous, resource.inputs, resource);
      } else if (resource.deleteBeforeReplace) {
        if (!previous.resource.retainOnDelete) await handler.delete(previous);
        outputs = await handler.create(resource.inputs, resource);
      } else {
        // Pulumi's default: the replacement first, then the old one goes (unless retained).
        outputs = await handler.create(resource.inputs, resource);
        if (!previous.resource.retainOnDelete) await handler.delete(previous);
      }
      this.currentRun.updated.push(resource.urn);
    } else {
      outputs = await handler.create(resource.inputs, resource);
      this.currentRun.created.push(resource.urn);
      this.order.push(resource.urn);
    }
    this.state.set(resource.urn, { resource, outputs });
    return outputs;
  }

  /**
   * What the engine does after the program ends: resources it no longer declares are
   * deleted, newest first, except those marked retainOnDelete. `pulumi destroy` is finish([]).
   */
  async finish(declared: RegisteredResource[]): Promise<void> {
    const keep = new Set(declared.map((r) => r.urn));
    for (const urn of [...this.order].reverse()) {
      if (keep.has(urn)) continue;
      const applied = this.state.get(urn)!;
      if (!applied.resource.retainOnDelete) await this.handlers[applied.resource.type].delete(applied);
      this.state.delete(urn);
      this.order.splice(this.order.indexOf(urn), 1);
    }
  }

  private readonly handlers: Record<string, Handler> = {
    "tls:index/privateKey:PrivateKey": {
      mapped: ["algorithm", "rsaBits"],
      create: async (inputs) => {
        if (inputs.algorithm !== "RSA") throw new UnmappedInputError(`the test applier makes RSA keys only, not ${inputs.algorithm}`);
        return rsaPrivateKeyOutputs(inputs.rsaBits ?? 2048);
      },
      delete: async () => undefined,
    },

    "pulumi:providers:vault": {
      // The SDK fills in the last three from the environment; they tune the client, not what it writes.
      mapped: ["address", "token", "version", "maxLeaseTtlSeconds", "maxRetries", "skipTlsVerify"],
      create: async () => ({}),
      delete: async () => undefined,
    },

    "vault:generic/secret:Secret": {
      mapped: ["path", "dataJson"],
      create: async (inputs) => {
        const data = JSON.parse(inputs.dataJson) as Record<string, string>;
        this.requireVault().secrets.set(inputs.path, data);
        return { data };
      },
      update: (_previous, inputs, resource) => this.handlers["vault:generic/secret:Secret"].create(inputs, resource),
      replaces: (previous, inputs) => previous.resource.inputs.path !== inputs.path,
      delete: async ({ resource }) => {
        this.requireVault().secrets.delete(resource.inputs.path);
      },
    },

    "docker:index/volume:Volume": {
      mapped: ["name", "driver", "driverOpts", "labels", "labels.label", "labels.value"],
      create: async (inputs) => {
        const args = ["volume", "create"];
        if (inputs.driver !== undefined) args.push("--driver", inputs.driver);
        for (const [key, value] of Object.entries(inputs.driverOpts ?? {})) args.push("--opt", `${key}=${String(value)}`);
        for (const { label, value } of inputs.labels ?? []) args.push("--label", `${label}=${value}`);
        args.push(inputs.name);
        const name = await this.docker.out(...args);
        return { name, driver: inputs.driver ?? "local", mountpoint: await this.docker.out("volume", "inspect", "-f", "{{.Mountpoint}}", name) };
      },
      delete: async ({ outputs }) => {
        await this.docker.run(["volume", "rm", String(outputs.name)]);
      },
    },

    "docker:index/image:Image": {
      mapped: [
        "imageName",
        "skipPush",
        "buildOnPreview",
        "build",
        "build.context",
        "build.dockerfile",
        "build.builderVersion",
        "build.args",
        "build.target",
      ],
      create: async (inputs) => {
        if (inputs.skipPush !== true) throw new UnmappedInputError("the test applier has no registry to push to; set skipPush");
        const build = inputs.build ?? {};
        const context = path.resolve(PROJECT_DIR, build.context ?? ".");
        const args = ["build", "--tag", inputs.imageName, "--file", path.resolve(context, build.dockerfile ?? "Dockerfile")];
        for (const [key, value] of Object.entries(build.args ?? {})) args.push("--build-arg", `${key}=${String(value)}`);
        if (build.target !== undefined) args.push("--target", build.target);
        args.push(context);
        const buildKit = build.builderVersion !== "BuilderV1";
        this.log(`building ${inputs.imageName} from ${path.relative(PROJECT_DIR, context)}`);
        await this.docker.run(args, { env: { DOCKER_BUILDKIT: buildKit ? "1" : "0" } });
        // For an image that is not pushed, the provider's repoDigest is the local image ID.
        const id = await this.docker.out("image", "inspect", "-f", "{{.Id}}", inputs.imageName);
        return { imageName: inputs.imageName, baseImageName: inputs.imageName, repoDigest: id, contextHash: contextHash(inputs) };
      },
      // The provider hashes the build context and builds again when it changed.
      changedOutside: (previous, inputs) => previous.outputs.contextHash !== contextHash(inputs),
      update: (_previous, inputs, resource) => this.handlers["docker:index/image:Image"].create(inputs, resource),
      replaces: () => false,
      // Images built for a stack stay on the engine, as the provider leaves them.
      delete: async () => undefined,
    },

    "docker:index/container:Container": {
      mapped: [
        "name",
        "image",
        "command",
        "restart",
        "envs",
        "ports",
        "ports.internal",
        "ports.external",
        "ports.ip",
        "ports.protocol",
        "volumes",
        "volumes.volumeName",
        "volumes.containerPath",
        "volumes.readOnly",
        "networkMode",
        "uploads",
        "uploads.file",
        "uploads.content",
        "uploads.contentBase64",
        "uploads.permissions",
        "uploads.executable",
        "labels",
        "labels.label",
        "labels.value",
        "wait",
        "waitTimeout",
        "mustRun",
        "start",
      ],
      create: (inputs) => this.createContainer(inputs),
      delete: async ({ outputs }) => {
        await this.docker.run(["rm", "--force", String(outputs.name)]);
      },
    },

    "command:local:Command": {
      mapped: ["create", "update", "delete", "environment", "triggers", "interpreter", "dir", "stdin", "logging", "addPreviousOutputInEnv"],
      create: (inputs, resource) => this.runCommand(inputs.create, inputs, resource, {}),
      // Changed triggers replace the command; any other change runs its update (or create) again.
      replaces: (previous, inputs) => !isDeepStrictEqual(previous.resource.inputs.triggers, inputs.triggers),
      update: (previous, inputs, resource) => this.runCommand(inputs.update ?? inputs.create, inputs, resource, previous.outputs),
      delete: async ({ resource, outputs }) => {
        if (resource.inputs.delete !== undefined) await this.runCommand(resource.inputs.delete, resource.inputs, resource, outputs);
      },
    },
  };

  private async createContainer(inputs: Inputs): Promise<Outputs> {
    const args = ["create", "--name", inputs.name];
    if (inputs.restart !== undefined) args.push("--restart", inputs.restart);
    for (const { label, value } of inputs.labels ?? []) args.push("--label", `${label}=${value}`);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "applier-"));
    try {
      if ((inputs.envs ?? []).length > 0) {
        const envFile = path.join(scratch, "env");
        for (const entry of inputs.envs as string[]) {
          if (entry.includes("\n")) throw new Error(`environment entry ${entry.split("=")[0]} spans lines`);
        }
        fs.writeFileSync(envFile, `${(inputs.envs as string[]).join("\n")}\n`, { mode: 0o600 });
        args.push("--env-file", envFile);
      }
      for (const p of inputs.ports ?? []) {
        args.push("--publish", `${p.ip ?? "0.0.0.0"}:${p.external ?? ""}:${p.internal}/${p.protocol ?? "tcp"}`);
      }
      for (const v of inputs.volumes ?? []) {
        args.push("--volume", `${v.volumeName}:${v.containerPath}${v.readOnly === true ? ":ro" : ""}`);
      }
      if (inputs.networkMode !== undefined) args.push("--network", inputs.networkMode);
      args.push(inputs.image, ...((inputs.command as string[] | undefined) ?? []));
      await this.docker.run(args);
      for (const upload of inputs.uploads ?? []) await this.upload(inputs.name, upload, scratch);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }

    if (inputs.start !== false) {
      await this.docker.run(["start", inputs.name]);
      if (inputs.wait === true) await this.waitHealthy(inputs.name, inputs.waitTimeout ?? 60);
      if (inputs.mustRun !== false) {
        const running = await this.docker.out("inspect", "-f", "{{.State.Running}}", inputs.name);
        if (running !== "true") {
          const logs = await this.docker.run(["logs", "--tail", "20", inputs.name], { allowFailure: true });
          throw new Error(`container ${inputs.name} is not running after start:\n${logs.stdout}${logs.stderr}`);
        }
      }
    }
    return { name: inputs.name, id: await this.docker.out("inspect", "-f", "{{.Id}}", inputs.name) };
  }

  /** The provider's upload: a one-file tar copied into the created container. */
  private async upload(container: string, upload: Inputs, scratch: string) {
    const content =
      upload.contentBase64 !== undefined ? Buffer.from(upload.contentBase64, "base64") : Buffer.from(upload.content ?? "", "utf8");
    const mode = upload.permissions !== undefined ? parseInt(upload.permissions, 8) : upload.executable === true ? 0o744 : 0o644;
    const relative = String(upload.file).replace(/^\/+/, "");
    const staged = path.join(scratch, "upload", relative);
    fs.mkdirSync(path.dirname(staged), { recursive: true });
    fs.writeFileSync(staged, content);
    fs.chmodSync(staged, mode);
    const archive = await run("tar", [
      "--create",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--no-recursion",
      "--directory",
      path.join(scratch, "upload"),
      relative,
    ]);
    fs.rmSync(staged);
    await this.docker.run(["cp", "-", `${container}:/`], { input: archive.stdoutBytes });
  }

  private async waitHealthy(name: string, timeoutSeconds: number) {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const status = await this.docker.out("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", name);
      if (status === "healthy") return;
      if (status === "none") throw new Error(`container ${name}: wait is set but the container has no health check`);
      if (status === "unhealthy" || Date.now() > deadline) {
        const logs = await this.docker.run(["logs", "--tail", "30", name], { allowFailure: true });
        throw new Error(`container ${name} did not become healthy within ${timeoutSeconds}s (${status}):\n${logs.stdout}${logs.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private async runCommand(script: string | undefined, inputs: Inputs, resource: RegisteredResource, previous: Outputs): Promise<Outputs> {
    if (script === undefined) return { stdout: "", stderr: "" };
    const [shell, ...shellArgs] = (inputs.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"];
    const env: NodeJS.ProcessEnv = { ...process.env, ...(inputs.environment ?? {}) };
    if (inputs.addPreviousOutputInEnv !== false && previous.stdout !== undefined) {
      env.PULUMI_COMMAND_STDOUT = String(previous.stdout);
      env.PULUMI_COMMAND_STDERR = String(previous.stderr);
    }
    this.log(`running ${resource.name}`);
    const result = await run(shell, [...shellArgs, script], {
      env,
      cwd: inputs.dir !== undefined ? path.resolve(PROJECT_DIR, inputs.dir) : PROJECT_DIR,
      input: inputs.stdin,
      allowFailure: true,
    });
    for (const line of `${result.stdout}${result.stderr}`.split("\n").filter(Boolean)) this.log(`  ${resource.name}: ${line}`);
    if (result.code !== 0) {
      const tail = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
      throw new Error(`command exited ${result.code}:\n${tail}`);
    }
    return { stdout: result.stdout.replace(TRAILING_NEWLINE, ""), stderr: result.stderr.replace(TRAILING_NEWLINE, "") };
  }
}
