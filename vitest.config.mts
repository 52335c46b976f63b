import { defineConfig } from "vitest/config";

// Tests load the images' Python programs by path; a bytecode cache written beside them would
// become part of that image's build context (each image's folder is hashed and copied whole).
process.env.PYTHONDONTWRITEBYTECODE = "1";

export default defineConfig({
  test: {
    // A resource that fails rejects the outputs of every resource that used it, as in Pulumi's
    // own runtime; runStack already fails the update with that error, so these echoes of it
    // are not errors of their own.
    onUnhandledError(error: { message?: string }): boolean {
      return !/failed to register new resource /.test(error.message ?? "");
    },
    reporters: ["default", ["json", { outputFile: "test-results/results.json" }]],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["simulator/rig/global-setup.ts"],
          setupFiles: ["simulator/rig/lane-teardown.ts"],
          // Two data centres at a time, each in its own lane of the rig (simulator/rig/hosts.ts):
          // most of a data centre's time is spent waiting (schedules, replication, timeouts).
          maxWorkers: 2,
          // After the unit tests, which run on the default number of workers.
          sequence: { groupOrder: 1 },
          testTimeout: 15 * 60_000,
          hookTimeout: 15 * 60_000,
        },
      },
      {
        // On demand (npm run test:faults): minutes of waiting for connections to time out.
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          globalSetup: ["simulator/rig/global-setup.ts"],
          setupFiles: ["simulator/rig/lane-teardown.ts"],
          fileParallelism: false,
          testTimeout: 15 * 60_000,
          hookTimeout: 15 * 60_000,
        },
      },
    ],
  },
});
