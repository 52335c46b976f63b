import { execFile } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import { promisify } from "node:util";
import { AutomationEngine } from "./automationEngine";
import { main } from "./main";
import { DockerReader } from "./reader";
import type { StackInfo } from "./roles";
import { StackFiles } from "./stackFiles";

// The command as users run it: the Automation API, the stacks' Docker hosts, this terminal.

const docker = promisify(execFile);
const onHost = (stack: StackInfo) => (stack.dockerHost === undefined ? process.env : { ...process.env, DOCKER_HOST: stack.dockerHost });

/** The verify query's answer on the primary's database, through its stack's Docker host. */
export async function primaryAnswer(stack: StackInfo, container: string, user: string, database: string, query: string): Promise<string> {
  return (await docker("docker", ["exec", container, "psql", "-U", user, "-d", database, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query], { env: onHost(stack) })).stdout.trim();
}

/** The freshness monitor's status, read inside its container (its port is not published). */
export async function freshnessStatus(stack: StackInfo): Promise<unknown> {
  const port = Number((stack.config["montagu-backup:freshness"] as { metricsPort?: number }).metricsPort ?? 5001);
  const read = `import urllib.request; print(urllib.request.urlopen('http://localhost:${port}/status.json', timeout=10).read().decode())`;
  return JSON.parse((await docker("docker", ["exec", "montagu-freshness", "python3", "-c", read], { env: onHost(stack) })).stdout);
}

export function run(): void {
  const projectDir = path.resolve(__dirname, "..");
  const controller = new AbortController();
  // The first Ctrl-C cancels the update the Automation API's way; a second one leaves at once.
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write("\nmontagu-backup: cancelling the update under way (Ctrl-C again to leave at once); `--resume` carries on\n");
    controller.abort();
  });
  main(process.argv.slice(2), {
    files: new StackFiles(projectDir),
    engine: new AutomationEngine(projectDir),
    reader: new DockerReader(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: controller.signal,
    confirm: async (question) => {
      if (!process.stdin.isTTY) return false;
      const terminal = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await terminal.question(`${question} [y/N] `)).trim());
      } finally {
        terminal.close();
      }
    },
    primaryAnswer,
    freshness: freshnessStatus,
  }).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`montagu-backup: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
