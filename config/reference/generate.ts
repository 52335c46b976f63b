import * as fs from "node:fs";
import * as path from "node:path";
import { configurationPage } from "./page";
import { settingsJsonSchema, stackFileJsonSchema } from "./schema";

// npm run docs:config: the configuration reference and the stack files' JSON Schema, written
// from the zod schemas. test/unit/configReference.test.ts fails while the committed ones differ.

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** Each file the generator writes, by its path from the project's directory, with its content. */
export function referenceFiles(): Record<string, string> {
  const { schema, kinds } = settingsJsonSchema();
  return {
    "docs/configuration.md": configurationPage(schema, kinds),
    "schema/stack-config.json": `${JSON.stringify(stackFileJsonSchema(schema), null, 2)}\n`,
  };
}

if (require.main === module) {
  for (const [file, content] of Object.entries(referenceFiles())) {
    const target = path.join(PROJECT_DIR, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
    console.log(`wrote ${file}`);
  }
}
