import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

export type StackConfig = Record<string, unknown>;

/** The `config:` of `Pulumi.<stack>.yaml`, keys fully qualified as Pulumi has them. */
export function readStackConfig(stack: string): StackConfig {
  const file = path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`);
  const document = parse(fs.readFileSync(file, "utf8")) as { config?: StackConfig } | null;
  return { ...(document?.config ?? {}) };
}

/** Pulumi hands structured values to the program as JSON text. */
export function encodeConfig(config: StackConfig): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}
