import { describe, expect, it } from "vitest";
import { runStack } from "../../simulator/harness/run";
import { declared, deterministicProvider, SCENARIOS, scenarioConfig } from "./snapshot/declared";

// Pins what each stack declares: a change of structure must not change a resource's inputs,
// name, type or place (the real providers would update or replace it on existing stacks).

describe("every stack declares what it declared before", () => {
  for (const name of Object.keys(SCENARIOS)) {
    it(name, async () => {
      const { stack, config } = scenarioConfig(name);
      const run = await runStack(stack, config, deterministicProvider);
      await expect(`${JSON.stringify({ outputs: run.outputs, resources: declared(run) }, null, 2)}\n`).toMatchFileSnapshot(
        `__snapshots__/resources/${name}.json`,
      );
    });
  }
});
