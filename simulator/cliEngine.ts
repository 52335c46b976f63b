import type { Engine, LockHolder, Preview, RunOptions } from "../cli/engine";
import { type ConfigPath, StackFiles } from "../cli/stackFiles";
import { dryProvider } from "./harness/dryProvider";
import { type RegisteredResource, type ResourceProvider, runStack } from "./harness/run";
import type { StackConfig } from "./harness/stackConfig";

// The CLI's engine over the simulator: each stack's file config (what the CLI wrote) run by
// runStack on that stack's provider, a DockerApplier on the rig or a dry one in unit tests.
// What the Automation API would do with the same files, on machines without the Pulumi CLI.

/** A provider that can say what an update would do to a resource (DockerApplier.planned), and let the engine hear its log. */
export interface PlanningProvider extends ResourceProvider {
  planned?(resource: RegisteredResource): { operation: "create" | "update" | "replace" | "same"; outputs?: Record<string, unknown> };
  /** Hands `listener` each line the provider logs (a command's output as it prints it) until the returned function is called (DockerApplier.listen). */
  listen?(listener: (line: string) => void): () => void;
}

/** How the Pulumi CLI marks a step in an update's output, and the words for it under way and done. */
const STEP_WORDS = {
  create: ["+ ", "creating", "created"],
  update: ["~ ", "updating", "updated"],
  replace: ["+-", "replacing", "replaced"],
  same: ["  ", "", ""],
} as const;

export interface SimulatedEngineOptions {
  files: StackFiles;
  provider: (stack: string) => PlanningProvider;
  /** What the rig adds to a stack's file config (its docker:host, a test image). */
  adjust?: (stack: string, config: StackConfig) => StackConfig;
  /** Stacks someone else is updating, as Pulumi's lock names them. */
  locks?: Map<string, LockHolder>;
}

export class SimulatedEngine implements Engine {
  /** Every update and preview, in order: what the tests check the order of steps by. */
  readonly calls: { kind: "preview" | "update"; stack: string; config: StackConfig }[] = [];
  private readonly last = new Map<string, Record<string, unknown>>();
  private readonly running = new Map<string, AbortController>();
  // runStack sets the process's one Pulumi runtime: one run at a time, as one CLI would.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SimulatedEngineOptions) {}

  private config(stack: string): StackConfig {
    const config = this.options.files.config(stack);
    return this.options.adjust?.(stack, config) ?? config;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  preview(stack: string): Promise<Preview> {
    return this.serial(async () => {
      const config = this.config(stack);
      this.calls.push({ kind: "preview", stack, config });
      const base = this.options.provider(stack);
      const dry = dryProvider();
      const changes: Record<string, number> = {};
      const steps: string[] = [];
      const previewing: ResourceProvider = {
        invoke: (token, args) => base.invoke(token, args),
        async create(resource) {
          const planned = base.planned?.(resource) ?? { operation: "create" as const };
          changes[planned.operation] = (changes[planned.operation] ?? 0) + 1;
          if (planned.operation !== "same") steps.push(`${planned.operation === "replace" ? "+-" : planned.operation === "create" ? "+" : "~"} ${resource.type} ${resource.name}`);
          return planned.outputs ?? dry.create(resource);
        },
      };
      await runStack(stack, config, previewing);
      return { changes, steps };
    });
  }

  update(stack: string, options: RunOptions = {}): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const config = this.config(stack);
      this.calls.push({ kind: "update", stack, config });
      const holder = this.options.locks?.get(stack);
      if (holder !== undefined) throw new Error(`stack '${stack}' is being updated by ${holder.who}`);
      const base = this.options.provider(stack);
      const controller = new AbortController();
      options.signal?.addEventListener("abort", () => controller.abort());
      this.running.set(stack, controller);
      // What the Automation API's onOutput receives: the CLI's lines as it prints them, each
      // step's start and end and, between them, what the step's command prints.
      const emit = (line: string) => options.onOutput?.(`${line}\n`);
      const unlisten = options.onOutput === undefined ? undefined : base.listen?.(emit);
      const seconds = (since: number) => `(${Math.round((performance.now() - since) / 1000)}s)`;
      // Cancelled the engine's way: the step under way ends, no further one starts.
      const cancellable: ResourceProvider = {
        invoke: (token, args) => base.invoke(token, args),
        beginRun: () => base.beginRun?.(),
        finish: (declared) => base.finish?.(declared) ?? Promise.resolve(),
        async create(resource) {
          if (controller.signal.aborted) throw new Error("the update was cancelled");
          if (options.onOutput === undefined) return base.create(resource);
          const [mark, doing, done] = STEP_WORDS[base.planned?.(resource).operation ?? "create"];
          if (doing === "") return base.create(resource);
          const started = performance.now();
          emit(` ${mark} ${resource.type} ${resource.name} ${doing} (0s)`);
          try {
            const outputs = await base.create(resource);
            emit(` ${mark} ${resource.type} ${resource.name} ${done} ${seconds(started)}`);
            return outputs;
          } catch (error) {
            emit(` ${mark} ${resource.type} ${resource.name} ${doing} failed ${seconds(started)} error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
            throw error;
          }
        },
      };
      try {
        const run = await runStack(stack, config, cancellable);
        this.last.set(stack, run.outputs);
        return run.outputs;
      } finally {
        unlisten?.();
        this.running.delete(stack);
      }
    });
  }

  async outputs(stack: string): Promise<Record<string, unknown>> {
    return this.last.get(stack) ?? {};
  }

  async getConfig(stack: string, at: ConfigPath): Promise<unknown> {
    return this.options.files.get(stack, at);
  }

  async setConfig(stack: string, at: ConfigPath, value: unknown): Promise<void> {
    if (value === undefined) this.options.files.unset(stack, at);
    else this.options.files.set(stack, at, value);
  }

  async lockHolder(stack: string): Promise<LockHolder | undefined> {
    return this.options.locks?.get(stack);
  }

  async cancel(stack: string): Promise<void> {
    this.running.get(stack)?.abort();
  }
}
