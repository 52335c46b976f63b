import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, parse, parseDocument, visit } from "yaml";

// The stack files, read and written as `pulumi config set --path` would: one value at a path
// under `config:`, every other line and comment of the file kept. The CLI's every change is one
// of these writes, so what it did stays in the files for review and for the next `pulumi up`.

/** A config key as Pulumi names it (`montagu-backup:restore`), then a path inside its value. */
export type ConfigPath = [key: string, ...inside: (string | number)[]];

export class StackFiles {
  constructor(readonly projectDir: string) {}

  file(stack: string): string {
    return path.join(this.projectDir, `Pulumi.${stack}.yaml`);
  }

  /** Every stack with a file here, by name. */
  stacks(): string[] {
    return fs
      .readdirSync(this.projectDir)
      .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
      .filter((name): name is string => name !== undefined)
      .sort();
  }

  exists(stack: string): boolean {
    return fs.existsSync(this.file(stack));
  }

  /** The `config:` of the stack, keys as Pulumi has them. */
  config(stack: string): Record<string, unknown> {
    const document = parse(fs.readFileSync(this.file(stack), "utf8")) as { config?: Record<string, unknown> } | null;
    return { ...(document?.config ?? {}) };
  }

  get(stack: string, at: ConfigPath): unknown {
    let value: unknown = this.config(stack);
    for (const part of at) value = typeof value === "object" && value !== null ? (value as Record<string | number, unknown>)[part] : undefined;
    return value;
  }

  /** Sets one value, keeping the rest of the file (comments, order, quoting) as it was. */
  set(stack: string, at: ConfigPath, value: unknown): void {
    const file = this.file(stack);
    const document = parseDocument(fs.readFileSync(file, "utf8"));
    if (document.errors.length > 0) throw new Error(`${file} is not valid YAML: ${document.errors[0].message}`);
    if (!isMap(document.get("config"))) document.set("config", document.createNode({}));
    const node = document.createNode(value);
    // Quoted as the docs quote ids and times: a YAML 1.1 reader (Pulumi's) takes an unquoted
    // 2026-12-04T09:00:00Z for a timestamp and 20261205 for a number.
    visit(node, { Scalar: (_, scalar) => void (isScalar(scalar) && typeof scalar.value === "string" && /^[0-9]/.test(scalar.value) && (scalar.type = "QUOTE_DOUBLE")) });
    document.setIn(["config", ...at], node);
    this.write(file, document.toString());
  }

  /** Removes one value, as `pulumi config rm --path` would; nothing when it is not there. */
  unset(stack: string, at: ConfigPath): void {
    const file = this.file(stack);
    const document = parseDocument(fs.readFileSync(file, "utf8"));
    if (!document.hasIn(["config", ...at])) return;
    document.deleteIn(["config", ...at]);
    this.write(file, document.toString());
  }

  /** The file's text, to put back with `putBack` when a change is not wanted after all. */
  text(stack: string): string {
    return fs.readFileSync(this.file(stack), "utf8");
  }

  putBack(stack: string, text: string): void {
    this.write(this.file(stack), text);
  }

  /** Whole or not at all: a write cut short must not leave a stack file half written. */
  private write(file: string, text: string): void {
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, text);
    fs.renameSync(temporary, file);
  }
}
