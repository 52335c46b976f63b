import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as runtimeSettings from "@pulumi/pulumi/runtime/settings";
import * as runtimeState from "@pulumi/pulumi/runtime/state";
import { main } from "../../program";
import { isSecret, makeSecret, unwrapSecrets } from "./secrets";
import { encodeConfig, type StackConfig } from "./stackConfig";

/** One resource as the program registered it, with its inputs resolved. */
export interface RegisteredResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  parent: string;
  /** Inputs with secret markers removed. */
  inputs: Record<string, any>;
  /** Paths of inputs that were Pulumi secrets, e.g. `uploads[0].content`. */
  secretInputs: string[];
  retainOnDelete: boolean;
  protect: boolean;
  deleteBeforeReplace: boolean;
  /** Property paths whose change replaces the resource, as the SDK registered them (`triggers[*]`). */
  replaceOnChanges: string[];
  dependencies: string[];
  additionalSecretOutputs: string[];
  /** The aliases the program gave the resource, as the engine receives them. */
  aliases: AliasSpec[];
}

/** An alias as sent to the engine: a whole URN, or a spec whose empty fields mean the resource's own. */
export interface AliasSpec {
  urn?: string;
  name?: string;
  type?: string;
  /** The alias's parent; absent: the resource's own parent. */
  parentUrn?: string;
  noParent?: boolean;
}

/** What stands in for the providers: computes a resource's outputs (and may really create it). */
export interface ResourceProvider {
  create(resource: RegisteredResource): Promise<Record<string, unknown>>;
  invoke(token: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Called before the program runs. */
  beginRun?(): void;
  /** Called once the program has registered everything, with what it registered. */
  finish?(declared: RegisteredResource[]): Promise<void>;
}

export interface StackRun {
  resources: RegisteredResource[];
  outputs: Record<string, unknown>;
}

interface RequestExtras {
  urn: string;
  parent: string;
  retainOnDelete: boolean;
  protect: boolean;
  deleteBeforeReplace: boolean;
  replaceOnChanges: string[];
  dependencies: string[];
  additionalSecretOutputs: string[];
  aliases: AliasSpec[];
}

/** The aliases of a RegisterResourceRequest, read from its protobuf message. */
function aliasesOf(req: any): AliasSpec[] {
  return (req.getAliasesList?.() ?? []).map((alias: any): AliasSpec => {
    if (alias.hasSpec?.() !== true) return { urn: alias.getUrn() };
    const spec = alias.getSpec();
    const result: AliasSpec = {};
    if (spec.getName() !== "") result.name = spec.getName();
    if (spec.getType() !== "") result.type = spec.getType();
    if (spec.getParenturn() !== "") result.parentUrn = spec.getParenturn();
    if (spec.getNoparent() === true) result.noParent = true;
    return result;
  });
}

// Internals of @pulumi/pulumi that its declarations hide; both are stable across 3.x.
interface MonitorInternals {
  newUrn(parent: string, type: string, name: string): string;
}
const waitForRPCs = (runtimeSettings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

/** Sees the options that Pulumi's MockMonitor does not pass on to `newResource`. */
class CapturingMonitor extends MockMonitor {
  readonly extras = new Map<string, RequestExtras>();

  override registerResource(req: any, callback: (err: any, response: any) => void): Promise<void> {
    const key = `${req.getType()}::${req.getName()}`;
    if (this.extras.has(key)) {
      callback(new Error(`two resources named ${key}`), undefined);
      return Promise.resolve();
    }
    this.extras.set(key, {
      urn: (this as unknown as MonitorInternals).newUrn(req.getParent(), req.getType(), req.getName()),
      parent: req.getParent(),
      retainOnDelete: req.getRetainondelete() === true,
      protect: req.getProtect() === true,
      deleteBeforeReplace: req.getDeletebeforereplace() === true,
      replaceOnChanges: req.getReplaceonchangesList(),
      dependencies: req.getDependenciesList(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      aliases: aliasesOf(req),
    });
    return super.registerResource(req, callback);
  }
}

/**
 * Runs the program (this project's, unless a test gives another) for `stack` with `config`
 * under Pulumi's mock runtime. Every resource is handed to `provider` in registration order,
 * one at a time, and the program sees the outputs it returns, as it would see a real provider's.
 */
export async function runStack(stack: string, config: StackConfig, provider: ResourceProvider, program: () => unknown = main): Promise<StackRun> {
  const resources: RegisteredResource[] = [];
  const failures: Error[] = [];
  let queue: Promise<unknown> = Promise.resolve();
  let monitor: CapturingMonitor | undefined;

  const mocks: pulumi.runtime.Mocks = {
    newResource: (args) => {
      const extras = monitor!.extras.get(`${args.type}::${args.name}`)!;
      const { plain, secretPaths } = unwrapSecrets(args.inputs);
      const resource: RegisteredResource = {
        type: args.type,
        name: args.name,
        custom: args.custom === true,
        inputs: plain as Record<string, any>,
        secretInputs: secretPaths,
        ...extras,
      };
      resources.push(resource);
      const created = queue.then(async () => {
        const computed = resource.custom ? await provider.create(resource) : {};
        // The engine keeps secret inputs secret in the outputs, and marks the outputs a
        // provider's schema calls secret; the mock runtime does neither, so do it here.
        const state: Record<string, unknown> = { ...args.inputs };
        for (const [key, value] of Object.entries(computed)) {
          const secret = isSecret(args.inputs[key]) || resource.additionalSecretOutputs.includes(key);
          state[key] = secret && !isSecret(value) ? makeSecret(value) : value;
        }
        const id = typeof computed.id === "string" ? computed.id : `${args.name}-id`;
        return { id: resource.custom ? id : undefined, state };
      });
      queue = created.catch((error: Error) => {
        failures.push(new Error(`${resource.type} '${resource.name}': ${error.message}`));
      });
      return created;
    },
    call: (args) => provider.invoke(args.token, args.inputs),
  };

  pulumi.runtime.setAllConfig(encodeConfig(config));
  monitor = new CapturingMonitor(mocks);
  runtimeSettings.setMockOptions(monitor, "montagu-backup", stack, false);
  // What pulumi.runtime.setMocks turns on, which setMockOptions resets.
  Object.assign((runtimeState as unknown as { getStore(): object }).getStore(), {
    supportsSecrets: true,
    supportsResourceReferences: true,
    supportsOutputValues: false,
    supportsDeletedWith: true,
    supportsAliasSpecs: true,
    supportsTransforms: false,
  });

  // A program error after registration began surfaces as an unhandled rejection, which
  // would leave the RPC queue waiting forever: treat it as the failed update it is.
  let programFailed: (error: unknown) => void = () => undefined;
  const programFailure = new Promise<never>((_, reject) => (programFailed = reject));
  programFailure.catch(() => undefined);
  const onRejection = (reason: unknown) => programFailed(reason);
  process.on("unhandledRejection", onRejection);
  let outputs: unknown;
  // However it surfaces (a resource's failure, or its echo in a dependent's registration that
  // wins the race), the update fails the one way, as the engine reports it.
  const updateFailed = (messages: string[]) => new Error(`the update failed:\n${messages.map((m) => `  ${m}`).join("\n")}`);
  // The engine ends a failed update once the steps under way have finished; a creation left
  // running would otherwise meet the next update's creation of the same resource.
  const settled = async () => {
    for (let seen: unknown; seen !== queue; ) {
      seen = queue;
      await queue;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  try {
    provider.beginRun?.();
    outputs = program();
    await Promise.race([waitForRPCs(), programFailure]);
    await Promise.race([queue, programFailure]);
  } catch (error) {
    await settled();
    throw updateFailed([...failures.map((f) => f.message), error instanceof Error ? error.message : String(error)]);
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  if (failures.length > 0) {
    await settled();
    throw updateFailed(failures.map((f) => f.message));
  }
  await provider.finish?.(resources);
  const resolved = await new Promise<Record<string, unknown>>((resolve) =>
    pulumi.output(outputs as unknown as Record<string, unknown>).apply((value) => resolve(value as Record<string, unknown>)),
  );
  return { resources, outputs: resolved };
}
