import { DockerApplier, FakeVault } from "./harness/dockerApplier";
import { runStack, type StackRun } from "./harness/run";
import type { StackConfig } from "./harness/stackConfig";
import { removeHost, startHost, type SimulatedHost } from "./rig/hosts";

// These machines, these stacks: a simulated host and an applier (the stack's state) for each
// machine, one vault for them all, and `pulumi up` of a machine's stack on its own host.

export interface DataCentreOptions<M extends string> {
  /** The machines, each a stack of its own on a host of its own. */
  machines: readonly M[];
  /** The stacks' `montagu-backup:topology`, a path from the project's folder. */
  topology: string;
  /** Hosts are named `${prefix}${machine}`: a benchmark's "bench-" keeps its hosts apart from the tests'. */
  prefix?: string;
  /** Each machine's own stack settings, in every update before what the update adds. */
  settings?: Partial<Record<M, StackConfig>>;
  /** Where each machine's applier streams its lines (command output, image builds). */
  log?: (machine: M, line: string) => void;
  /** Starts the hosts all at once; otherwise one after another, in the order given. */
  parallel?: boolean;
}

export interface DataCentre<M extends string> {
  /** The vault every stack reads and writes. */
  vault: FakeVault;
  /** Each machine's host, once started. */
  hosts: Record<M, SimulatedHost>;
  /** Each machine's applier, once its host is started. */
  appliers: Record<M, DockerApplier>;
  /** Starts every machine's host, new and empty, and gives each an applier. */
  start(): Promise<void>;
  /** `pulumi up` of `machine`'s stack: its host, the topology, the machine, its settings, then `extra`. */
  up(machine: M, extra?: StackConfig): Promise<StackRun>;
  /** Removes every machine's host, one after another. */
  remove(): Promise<void>;
}

/** Prints a machine's applier lines when RIG_VERBOSE is set. */
export const logWhenVerbose = (machine: string, line: string) => process.env.RIG_VERBOSE && console.log(`${machine}: ${line}`);

/** A data centre whose hosts start with `start()`: its records can be read from before they are filled. */
export function dataCentre<M extends string>(options: DataCentreOptions<M>): DataCentre<M> {
  const prefix = options.prefix ?? "";
  const vault = new FakeVault();
  const hosts = {} as Record<M, SimulatedHost>;
  const appliers = {} as Record<M, DockerApplier>;
  const settings: Partial<Record<M, StackConfig>> = options.settings ?? {};
  const log = options.log;
  const applierFor = (machine: M) =>
    new DockerApplier({ dockerHost: hosts[machine].dockerHost, vault, log: log === undefined ? undefined : (line) => log(machine, line) });
  return {
    vault,
    hosts,
    appliers,
    async start() {
      if (options.parallel === true) {
        const started = await Promise.all(options.machines.map((machine) => startHost(`${prefix}${machine}`)));
        options.machines.forEach((machine, index) => {
          hosts[machine] = started[index];
          appliers[machine] = applierFor(machine);
        });
        return;
      }
      for (const machine of options.machines) {
        hosts[machine] = await startHost(`${prefix}${machine}`);
        appliers[machine] = applierFor(machine);
      }
    },
    up: (machine, extra = {}) =>
      runStack(
        machine,
        {
          "docker:host": hosts[machine].dockerHost,
          "montagu-backup:topology": options.topology,
          "montagu-backup:machines": [machine],
          ...settings[machine],
          ...extra,
        },
        appliers[machine],
      ),
    async remove() {
      for (const machine of options.machines) await removeHost(`${prefix}${machine}`);
    },
  };
}

/** A data centre with its hosts started. */
export async function startDataCentre<M extends string>(options: DataCentreOptions<M>): Promise<DataCentre<M>> {
  const centre = dataCentre(options);
  await centre.start();
  return centre;
}
