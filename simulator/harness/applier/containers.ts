import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type DockerCli, run } from "../docker";
import type { ApplierContext, Handler, Inputs, Outputs } from "./handler";

export function containerHandlers(applier: ApplierContext): Record<string, Handler> {
  return {
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
      create: (inputs) => createContainer(applier.docker, inputs),
      delete: async ({ outputs }) => {
        await applier.docker.run(["rm", "--force", String(outputs.name)]);
      },
    },
  };
}

async function createContainer(docker: DockerCli, inputs: Inputs): Promise<Outputs> {
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
    await docker.run(args);
    for (const upload of inputs.uploads ?? []) await uploadFile(docker, inputs.name, upload, scratch);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  if (inputs.start !== false) {
    await docker.run(["start", inputs.name]);
    if (inputs.wait === true) await waitHealthy(docker, inputs.name, inputs.waitTimeout ?? 60);
    if (inputs.mustRun !== false) {
      const running = await docker.out("inspect", "-f", "{{.State.Running}}", inputs.name);
      if (running !== "true") {
        const logs = await docker.run(["logs", "--tail", "20", inputs.name], { allowFailure: true });
        throw new Error(`container ${inputs.name} is not running after start:\n${logs.stdout}${logs.stderr}`);
      }
    }
  }
  return { name: inputs.name, id: await docker.out("inspect", "-f", "{{.Id}}", inputs.name) };
}

/** The provider's upload: a one-file tar copied into the created container. */
async function uploadFile(docker: DockerCli, container: string, upload: Inputs, scratch: string) {
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
  await docker.run(["cp", "-", `${container}:/`], { input: archive.stdoutBytes });
}

async function waitHealthy(docker: DockerCli, name: string, timeoutSeconds: number) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const status = await docker.out("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", name);
    if (status === "healthy") return;
    if (status === "none") throw new Error(`container ${name}: wait is set but the container has no health check`);
    if (status === "unhealthy" || Date.now() > deadline) {
      const logs = await docker.run(["logs", "--tail", "30", name], { allowFailure: true });
      throw new Error(`container ${name} did not become healthy within ${timeoutSeconds}s (${status}):\n${logs.stdout}${logs.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
