import type { StackConfig } from "./harness/stackConfig";

// The stack settings that the tests' and benchmarks' scenarios share, beside each machine's Pulumi.<stack>.yaml.

/** annex2 making every machine's keys and running barman, which streams from the stand-in primary on `primaryHost`. */
export function barmanStack(primaryHost: string, barman: Record<string, unknown> = {}): StackConfig {
  return {
    "montagu-backup:privateer": { keys: { generate: true } },
    "montagu-backup:barman": { slot: "barman", database: { host: primaryHost, port: 5432 }, passwordGroup: "fake", ...barman },
  };
}

/** production2 running the stand-in primary on 5432, with the fake passwords. */
export function standInStack(standIn: Record<string, unknown> = {}): StackConfig {
  return { "montagu-backup:standInPrimary": { port: 5432, passwordGroup: "fake", ...standIn } };
}
