import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { StringDecoder } from "node:string_decoder";

export interface RunResult {
  stdoutBytes: Buffer;
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Calls `onLine` with each whole line of a stream as it arrives (the last, unterminated, at
 * the end): a long command's progress is seen while it runs, not after.
 */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let pending = "";
  // A character whose UTF-8 bytes fall across two chunks is decoded whole.
  const decoder = new StringDecoder("utf8");
  return {
    push(chunk) {
      const lines = (pending + (typeof chunk === "string" ? chunk : decoder.write(chunk))).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    },
    end() {
      pending += decoder.end();
      if (pending !== "") onLine(pending);
      pending = "";
    },
  };
}

/** Runs a program to completion; rejects with its stderr when it exits non-zero (unless allowed). `onLine` sees each line of its output as it comes. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string; allowFailure?: boolean; onLine?: (line: string, stream: "stdout" | "stderr") => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const input = options.input;
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const onLine = options.onLine;
    const lines = onLine === undefined ? undefined : { stdout: lineSplitter((line) => onLine(line, "stdout")), stderr: lineSplitter((line) => onLine(line, "stderr")) };
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      lines?.stdout.push(chunk);
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
      lines?.stderr.push(chunk);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      lines?.stdout.end();
      lines?.stderr.end();
      const bytes = Buffer.concat(stdout);
      const result = { stdoutBytes: bytes, stdout: bytes.toString(), stderr: Buffer.concat(stderr).toString(), code: code ?? -1 };
      if (result.code !== 0 && options.allowFailure !== true) {
        reject(new Error(`${command} ${args.slice(0, 3).join(" ")} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`));
      } else {
        resolve(result);
      }
    });
    if (input !== undefined && child.stdin !== null) {
      // A program may exit without reading all of its input; its exit code tells what happened.
      child.stdin.on("error", () => undefined);
      child.stdin.end(input);
    }
  });
}

const DEBIAN_DOCKER_CLI = "/usr/bin/docker";

/**
 * A docker CLI that builds with BuildKit without the buildx plugin, as the docker provider
 * does: MONTAGU_BUILDKIT_CLI, or Debian's (20.10); later CLIs require buildx, which is not here.
 */
function buildKitCli(): string {
  const cli = process.env.MONTAGU_BUILDKIT_CLI ?? DEBIAN_DOCKER_CLI;
  if (!fs.existsSync(cli)) throw new Error(`BuildKit builds run through ${cli}, which is missing: install docker.io (Debian) or set MONTAGU_BUILDKIT_CLI`);
  return cli;
}

/** The docker CLI against one engine. */
export class DockerCli {
  constructor(
    readonly host: string,
    private readonly binary = "docker",
  ) {}

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: this.host };
  }

  async run(args: string[], options: { input?: string | Buffer; allowFailure?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    return run(this.binary, args, { ...options, env: { ...this.env, ...options.env } });
  }

  /** The same engine through a CLI that builds with BuildKit (set DOCKER_BUILDKIT=1), as the stacks' images are built. */
  withBuildKit(): DockerCli {
    return new DockerCli(this.host, buildKitCli());
  }

  async out(...args: string[]): Promise<string> {
    return (await this.run(args)).stdout.trim();
  }

  async exists(kind: "container" | "volume" | "image" | "network", name: string): Promise<boolean> {
    return (await this.run([kind, "inspect", name], { allowFailure: true })).code === 0;
  }
}
