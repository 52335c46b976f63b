import type { DockerCli } from "../docker";
import type { RegisteredResource } from "../run";
import type { FakeVault } from "./fakeVault";

// What every resource type's handler is to the applier, and what the applier lends them.

export type Inputs = Record<string, any>;
export type Outputs = Record<string, unknown>;

export interface Applied {
  resource: RegisteredResource;
  outputs: Outputs;
}

export interface Handler {
  /** Input keys this applier knows how to carry out, nested ones as `parent.child`. */
  mapped: string[];
  create(inputs: Inputs, resource: RegisteredResource): Promise<Outputs>;
  /** An in-place update, for the changes that do not need a replacement. */
  update?(previous: Applied, inputs: Inputs, resource: RegisteredResource): Promise<Outputs>;
  /** Whether a change needs a replacement; without it every change does. */
  replaces?(previous: Applied, inputs: Inputs): boolean;
  /** A change the provider finds beyond the inputs themselves (an image's build context). */
  changedOutside?(previous: Applied, inputs: Inputs): boolean;
  delete(applied: Applied): Promise<void>;
}

/** What one applier's handlers act through: its engine, its log and its vault. */
export interface ApplierContext {
  docker: DockerCli;
  log: (line: string) => void;
  requireVault(): FakeVault;
}

export class UnmappedInputError extends Error {}

export function checkMapped(resource: RegisteredResource, mapped: string[]) {
  const unknown: string[] = [];
  const visit = (value: unknown, prefix: string) => {
    if (typeof value !== "object" || value === null) return;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (typeof item !== "object" || item === null || Array.isArray(item)) continue;
      for (const [key, child] of Object.entries(item)) {
        const name = prefix === "" ? key : `${prefix}.${key}`;
        if (mapped.includes(name)) {
          if (mapped.some((m) => m.startsWith(`${name}.`))) visit(child, name);
        } else {
          unknown.push(name);
        }
      }
    }
  };
  visit(resource.inputs, "");
  if (unknown.length > 0) {
    throw new UnmappedInputError(`the test applier does not map input(s) ${unknown.join(", ")} of ${resource.type} '${resource.name}'`);
  }
}
