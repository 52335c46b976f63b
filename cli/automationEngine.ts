import * as path from "node:path";
import { ConcurrentUpdateError, LocalWorkspace, type OutputMap, type Stack } from "@pulumi/pulumi/automation";
import { projectName, stackLocks } from "../scripts/stackHealth";
import type { Engine, LockHolder, Preview, RunOptions } from "./engine";
import { type ConfigPath, StackFiles } from "./stackFiles";

// The engine users run: Pulumi's Automation API over this project's own Pulumi.yaml and stack
// files (LocalWorkspace, workDir = the project). Thin on purpose: each method is one documented
// call. Config goes through StackFiles, which writes Pulumi.<stack>.yaml as `pulumi config set`
// would and keeps its comments; LocalWorkspace reads that file at each operation.

const plain = (outputs: OutputMap): Record<string, unknown> => Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));

export class AutomationEngine implements Engine {
  private readonly files: StackFiles;
  private readonly stacks = new Map<string, Promise<Stack>>();

  constructor(readonly projectDir: string) {
    this.files = new StackFiles(projectDir);
  }

  private stack(name: string): Promise<Stack> {
    let stack = this.stacks.get(name);
    if (stack === undefined) {
      stack = LocalWorkspace.selectStack({ stackName: name, workDir: this.projectDir });
      this.stacks.set(name, stack);
    }
    return stack;
  }

  async preview(name: string, options: RunOptions = {}): Promise<Preview> {
    const lines: string[] = [];
    const result = await (await this.stack(name)).preview({ diff: true, onOutput: (out) => { lines.push(out); options.onOutput?.(out); }, signal: options.signal });
    const changes = Object.fromEntries(Object.entries(result.changeSummary).map(([op, count]) => [op, count ?? 0]));
    // The CLI's own lines for replacements and creations: `+-` and `+` before a resource.
    const steps = lines.join("").split("\n").filter((line) => /^\s*(\+-|\+|~|-)\s/.test(line)).map((line) => line.trim());
    return { changes, steps };
  }

  async update(name: string, options: RunOptions = {}): Promise<Record<string, unknown>> {
    try {
      const result = await (await this.stack(name)).up({ onOutput: options.onOutput, signal: options.signal });
      return plain(result.outputs);
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) {
        const holder = await this.lockHolder(name);
        throw new Error(`stack '${name}' is being updated by ${holder?.who ?? "someone else"}${holder?.since === undefined ? "" : ` since ${holder.since}`}`);
      }
      throw error;
    }
  }

  async outputs(name: string): Promise<Record<string, unknown>> {
    return plain(await (await this.stack(name)).outputs());
  }

  async getConfig(name: string, at: ConfigPath): Promise<unknown> {
    return this.files.get(name, at);
  }

  async setConfig(name: string, at: ConfigPath, value: unknown): Promise<void> {
    if (value === undefined) this.files.unset(name, at);
    else this.files.set(name, at, value);
  }

  /**
   * A file backend's lock names its owner (scripts/stackHealth.ts reads it); a service backend
   * names it in the ConcurrentUpdateError an update meets, which `update` passes on.
   */
  async lockHolder(name: string): Promise<LockHolder | undefined> {
    const backend = process.env.PULUMI_BACKEND_URL;
    if (backend === undefined || !backend.startsWith("file://")) return undefined;
    const stateDir = path.resolve(this.projectDir, backend.slice("file://".length).replace(/^~(?=\/)/, process.env.HOME ?? "~"));
    const lock = stackLocks({ stateDir, project: projectName(this.projectDir), stack: name })[0];
    if (lock === undefined) return undefined;
    return { who: `${lock.username ?? "?"}@${lock.hostname ?? "?"}${lock.pid === undefined ? "" : ` (pid ${lock.pid})`}`, since: lock.timestamp };
  }

  async cancel(name: string): Promise<void> {
    await (await this.stack(name)).cancel();
  }
}
