import type { ConfigPath } from "./stackFiles";

// How the CLI reaches Pulumi's engine: one small interface, so that the runbook's logic is the
// same whether the Automation API runs it (automationEngine.ts, what users run) or the tests'
// simulator does (simulator/cliEngine.ts: the Pulumi CLI is not on the machines that test).

/** What an update or a preview would do, in a form a person reads. */
export interface Preview {
  /** Resources by the operation planned (`create`, `replace`, `update`, `delete`, `same`): counts. */
  changes: Record<string, number>;
  /** The steps that would run, one line each (a resource's type and name). */
  steps: string[];
}

/** Who holds a stack's lock: another update under way, or one that did not end. */
export interface LockHolder {
  who: string;
  since?: string;
}

export interface RunOptions {
  /** Each line the update prints as it goes (rsync's progress among them). */
  onOutput?: (line: string) => void;
  /** Aborting it cancels the update the engine's way (the Automation API sends the CLI SIGINT). */
  signal?: AbortSignal;
}

export interface Engine {
  preview(stack: string, options?: RunOptions): Promise<Preview>;
  /** `pulumi up`: the stack's outputs once it has ended; rejects when it fails. */
  update(stack: string, options?: RunOptions): Promise<Record<string, unknown>>;
  /** The outputs of the stack's last update. */
  outputs(stack: string): Promise<Record<string, unknown>>;
  getConfig(stack: string, at: ConfigPath): Promise<unknown>;
  /** Writes the value into Pulumi.<stack>.yaml, as `pulumi config set --path` would, comments kept; undefined removes it (`pulumi config rm --path`). */
  setConfig(stack: string, at: ConfigPath, value: unknown): Promise<void>;
  /** Whoever holds the stack's lock now; undefined when nobody does. */
  lockHolder(stack: string): Promise<LockHolder | undefined>;
  /** Stops an update under way on the stack. */
  cancel(stack: string): Promise<void>;
}

/** A refusal: bad input or a state that forbids the command. Nothing was changed. */
export class Refusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Refusal";
  }
}
