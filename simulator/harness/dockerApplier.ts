import { isDeepStrictEqual } from "node:util";
import { DockerCli } from "./docker";
import type { RegisteredResource, ResourceProvider } from "./run";
import { commandHandlers } from "./applier/commands";
import { containerHandlers } from "./applier/containers";
import { type Applied, type ApplierContext, checkMapped, type Handler, type Outputs, UnmappedInputError } from "./applier/handler";
import { imageHandlers } from "./applier/images";
import { replacingChanges } from "./applier/replaceOnChanges";
import { tlsHandlers } from "./applier/tls";
import { FakeVault } from "./applier/fakeVault";
import { GET_SECRET, getSecret, vaultHandlers } from "./applier/vault";
import { volumeHandlers } from "./applier/volumes";

export { FakeVault, UnmappedInputError };

// Applies what the program declares to a real Docker engine, the way the docker and command
// providers would. Strict: an input it does not map fails the update, never silently dropped.
// This file keeps the state and decides, resource by resource, between create, update,
// replace and nothing; applier/ has what each resource type does on the engine.

export interface ApplierOptions {
  /** The stack's `docker:host`, as the docker provider would read it. */
  dockerHost: string;
  /** Streams command output, as the update log would show it. */
  log?: (line: string) => void;
  /** The vault that vault resources and look-ups use. */
  vault?: FakeVault;
}

/** What one `pulumi up` did to each resource, by URN. */
export interface RunHistory {
  created: string[];
  /** Updated in place: the provider's update ran (for a command, its `update` script). */
  updated: string[];
  /** Replaced: created anew (for a command, its `create` ran again) and the old one deleted. */
  replaced: string[];
  unchanged: string[];
}

export class DockerApplier implements ResourceProvider {
  private readonly docker: DockerCli;
  private readonly state = new Map<string, Applied>();
  private readonly order: string[] = [];
  private readonly log: (line: string) => void;
  /** Who else hears the log while they listen: the CLI's engine, for the update under way. */
  private readonly listeners = new Set<(line: string) => void>();
  private readonly vault: FakeVault | undefined;
  private readonly handlers: Record<string, Handler>;
  /** URNs touched (created, updated or left unchanged) by each run, most recent last. */
  readonly history: RunHistory[] = [];
  /** Resources replaced create-before-delete, whose old copy the end of the update deletes. */
  private readonly replacedPendingDelete: Applied[] = [];

  constructor(options: ApplierOptions) {
    this.docker = new DockerCli(options.dockerHost);
    this.log = (line) => {
      options.log?.(line);
      for (const listener of this.listeners) listener(line);
    };
    this.vault = options.vault;
    const applier: ApplierContext = { docker: this.docker, log: this.log, requireVault: () => this.requireVault() };
    this.handlers = {
      ...tlsHandlers(),
      ...vaultHandlers(applier),
      ...volumeHandlers(applier),
      ...imageHandlers(applier),
      ...containerHandlers(applier),
      ...commandHandlers(applier),
    };
  }

  /** Hands `listener` every line the applier logs (a command's output as it prints it) until the returned function is called. */
  listen(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private requireVault(): FakeVault {
    if (this.vault === undefined) throw new Error("the program uses vault, but this test gave the applier none");
    return this.vault;
  }

  async invoke(token: string, args: Record<string, unknown>): Promise<Outputs> {
    if (token === GET_SECRET) return getSecret(this.requireVault(), args);
    throw new UnmappedInputError(`the test applier answers no invoke ${token}`);
  }

  /** What a resource's provider returned, as the stack's state holds it. */
  outputsOf(urn: string): Outputs {
    const applied = this.state.get(urn);
    if (applied === undefined) throw new Error(`no resource ${urn} in the state`);
    return applied.outputs;
  }

  /** Starts the bookkeeping of one `pulumi up`. */
  beginRun() {
    this.history.push({ created: [], updated: [], replaced: [], unchanged: [] });
  }

  private get currentRun() {
    if (this.history.length === 0) this.beginRun();
    return this.history[this.history.length - 1];
  }

  /** What an update would do to the resource, decided as `create` decides it, without doing it (a preview). */
  planned(resource: RegisteredResource): { operation: "create" | "update" | "replace" | "same"; outputs?: Outputs } {
    const handler = this.handlers[resource.type];
    if (handler === undefined) throw new UnmappedInputError(`the test applier does not know resource type ${resource.type}`);
    checkMapped(resource, handler.mapped);
    const previous = this.state.get(resource.urn);
    if (previous === undefined) return { operation: "create" };
    if (isDeepStrictEqual(previous.resource.inputs, resource.inputs) && handler.changedOutside?.(previous, resource.inputs) !== true) return { operation: "same", outputs: previous.outputs };
    const replace =
      handler.update === undefined ||
      replacingChanges(resource.replaceOnChanges, previous.resource.inputs, resource.inputs).length > 0 ||
      (handler.replaces?.(previous, resource.inputs) ?? true);
    return { operation: replace ? "replace" : "update", outputs: previous.outputs };
  }

  async create(resource: RegisteredResource): Promise<Outputs> {
    const handler = this.handlers[resource.type];
    const plan = this.planned(resource);
    const previous = this.state.get(resource.urn);
    let outputs: Outputs;
    if (plan.operation === "same") {
      this.currentRun.unchanged.push(resource.urn);
      outputs = plan.outputs!;
    } else if (previous !== undefined) {
      if (plan.operation === "update") {
        outputs = await handler.update!(previous, resource.inputs, resource);
        this.currentRun.updated.push(resource.urn);
      } else {
        if (resource.deleteBeforeReplace) {
          if (!previous.resource.retainOnDelete) await handler.delete(previous);
          outputs = await handler.create(resource.inputs, resource);
        } else {
          // Pulumi's default: the replacement first; the old one goes at the end of the update,
          // once everything that used it has been updated or replaced (unless retained).
          outputs = await handler.create(resource.inputs, resource);
          if (!previous.resource.retainOnDelete) this.replacedPendingDelete.push(previous);
        }
        this.currentRun.replaced.push(resource.urn);
      }
    } else {
      outputs = await handler.create(resource.inputs, resource);
      this.currentRun.created.push(resource.urn);
      this.order.push(resource.urn);
    }
    this.state.set(resource.urn, { resource, outputs });
    return outputs;
  }

  /**
   * What the engine does after the program ends: the old copies of resources it replaced are
   * deleted, newest first, then resources it no longer declares, newest first, except those
   * marked retainOnDelete. `pulumi destroy` is finish([]). A failed update never gets here:
   * its replaced copies stay pending, and the next update that finishes deletes them, as the
   * engine does with the resources its state marks for deletion.
   */
  async finish(declared: RegisteredResource[]): Promise<void> {
    while (this.replacedPendingDelete.length > 0) {
      const old = this.replacedPendingDelete.pop()!;
      await this.handlers[old.resource.type].delete(old);
    }
    const keep = new Set(declared.map((r) => r.urn));
    for (const urn of [...this.order].reverse()) {
      if (keep.has(urn)) continue;
      const applied = this.state.get(urn)!;
      if (!applied.resource.retainOnDelete) await this.handlers[applied.resource.type].delete(applied);
      this.state.delete(urn);
      this.order.splice(this.order.indexOf(urn), 1);
    }
  }
}
