import { type DataCentre, type DataCentreOptions, dataCentre } from "../simulator/dataCentre";
import type { StackRun } from "../simulator/harness/run";

/**
 * BENCH_SMOKE=1: the smallest data that still takes every code path, each contender once.
 * CI runs the benchmarks so (npm run bench:smoke) to catch one that no longer finishes; its
 * figures say nothing about speed, so nothing is judged on them.
 */
export const SMOKE = process.env.BENCH_SMOKE === "1";

/** How many times each figure is measured: its median is the figure. */
export const RUNS = SMOKE ? 1 : 3;

/** A size set by `variable`, else the smoke's or the on-demand run's default. */
export function size(variable: string, onDemand: number, smoke: number): number {
  const value = Number(process.env[variable] ?? (SMOKE ? smoke : onDemand));
  if (!(value > 0)) throw new Error(`${variable} must be a positive number: got '${process.env[variable]}'`);
  return value;
}

/** RIG_KEEP=1 keeps what a benchmark started, to be looked at afterwards. */
export const keepRig = () => process.env.RIG_KEEP === "1";

const removals: (() => Promise<unknown>)[] = [];

/** `remove` runs when the benchmark ends, whether it finished or failed (not with RIG_KEEP=1). */
export function removeAtEnd(remove: () => Promise<unknown>): void {
  removals.push(remove);
}

/**
 * A data centre whose hosts go when the benchmark ends, however it ends: a failed benchmark
 * would otherwise leave them using the machine's memory and disk.
 */
export async function startBenchDataCentre<M extends string>(options: DataCentreOptions<M>): Promise<DataCentre<M>> {
  const centre = dataCentre(options);
  // Before starting: a host that fails to start leaves those started before it.
  removeAtEnd(() => centre.remove());
  await centre.start();
  return centre;
}

/** The script of the stack's command resource `name`, as `pulumi up` ran it. */
export function stackCommand(run: StackRun, name: string): string {
  const resource = run.resources.find((r) => r.type === "command:local:Command" && r.name === name);
  if (resource === undefined) {
    const commands = run.resources.filter((r) => r.type === "command:local:Command").map((r) => r.name);
    throw new Error(`the stack has no command '${name}' (it has: ${commands.join(", ")})`);
  }
  return resource.inputs.create;
}

/** Runs a benchmark's `main`, then removes what it started; exits 1 if it failed. */
export function benchmark(main: () => Promise<void>): void {
  (async () => {
    try {
      await main();
    } finally {
      // Latest first, as a stack is taken down. A removal that fails does not hide why the benchmark did.
      if (!keepRig()) {
        for (const remove of removals.reverse()) {
          await remove().catch((error: unknown) => console.error(`removing what the benchmark started: ${String(error)}`));
        }
      }
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
