import * as pulumi from "@pulumi/pulumi";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { type RegisteredResource, type ResourceProvider, runStack, type StackRun } from "../../simulator/harness/run";
import { readStackConfig, type StackConfig } from "../../simulator/harness/stackConfig";
import { rsaPrivateKeyOutputs } from "../../simulator/harness/tlsKey";

// `pulumi destroy` then `pulumi up`: the state is gone, what the stack left on its hosts and in
// vault is not. What runs again, and what happens to the keys.

const KEY_PATHS = ["annex", "annex2", "production", "production2", "science", "uat"].map((m) => `secret/vimc/privateer/${m}`);

/**
 * The engine's view of one stack, over a vault shared by every stack: a resource in the state
 * with the same triggers is left alone, anything else is created (a step: it runs); `pulumi
 * destroy` empties the state and deletes what is not retainOnDelete.
 */
function engine(vault: Map<string, Record<string, string>>) {
  const dry = dryProvider();
  const state = new Map<string, RegisteredResource>();
  let ran: string[] = [];
  const provider: ResourceProvider = {
    beginRun: () => {
      ran = [];
    },
    async create(resource) {
      const before = state.get(resource.urn);
      const same = before !== undefined && JSON.stringify(before.inputs.triggers) === JSON.stringify(resource.inputs.triggers);
      if (resource.type === "command:local:Command" && !same) ran.push(resource.name);
      if (resource.type === "vault:generic/secret:Secret") vault.set(resource.inputs.path, JSON.parse(resource.inputs.dataJson));
      state.set(resource.urn, resource);
      // A key kept in the state keeps its value; a new one is generated.
      if (resource.type === "tls:index/privateKey:PrivateKey" && before?.inputs.generated !== undefined) return before.inputs.generated;
      const outputs = await dry.create(resource);
      if (resource.type === "tls:index/privateKey:PrivateKey") resource.inputs.generated = outputs;
      return outputs;
    },
    async invoke(token, args) {
      if (token !== "vault:generic/getSecret:getSecret") throw new Error(`unexpected invoke ${token}`);
      const path = String(args.path);
      if (path.startsWith("secret/vimc/database/")) return { data: { password: "from-vault" } };
      const data = vault.get(path);
      if (data === undefined) throw new Error(`no secret found at "${path}"`);
      return { data };
    },
    async finish(declared) {
      const keep = new Set(declared.map((r) => r.urn));
      for (const [urn, resource] of [...state].reverse()) {
        if (keep.has(urn)) continue;
        if (!resource.retainOnDelete && resource.type === "vault:generic/secret:Secret") vault.delete(resource.inputs.path);
        state.delete(urn);
      }
    },
  };
  return { provider, ran: () => ran, destroy: () => provider.finish!([]) };
}

const fingerprints = (run: StackRun) => (run.outputs.privateer as { fingerprints: Record<string, string> }).fingerprints;

describe("after pulumi destroy, pulumi up", () => {
  it("runs again every step whose id is still configured: the push, the prepare, the restore", async () => {
    const local: StackConfig = {
      ...readStackConfig("local"),
      "montagu-backup:prepareRestore": { id: "p1" },
      "montagu-backup:privateer": { backup: { id: "b1", volumes: [{ volume: "montagu_orderly_volume", server: "backup", client: "primary" }] } },
      "montagu-backup:restore": { id: "r1", volumes: [{ volume: "barman_recover", server: "backup", to: "restored_db", client: "restore" }] },
    };
    const stack = engine(new Map());
    const steps = () => stack.ran().filter((name) => /^(privateer-backup-|prepare-restore-(wipe|recover|replay|stamp)$|restore-)/.test(name)).sort();
    const all = [
      "prepare-restore-recover",
      "prepare-restore-replay",
      "prepare-restore-stamp",
      "prepare-restore-wipe",
      "privateer-backup-primary-backup-montagu_orderly_volume",
      "restore-check-restore-restored_db",
      "restore-restore-restored_db",
      "restore-start",
      "restore-stop",
      "restore-stopped",
    ];

    await runStack("local", local, stack.provider);
    expect(steps()).toEqual(all);
    // The same ids with the state kept: nothing runs.
    await runStack("local", local, stack.provider);
    expect(steps()).toEqual([]);
    // With the state gone, each id is new to Pulumi again.
    await stack.destroy();
    await runStack("local", local, stack.provider);
    expect(steps()).toEqual(all);
  }, 60_000);

  it("keeps the keys when the stack reads them from vault, as annex2's stack file has it", async () => {
    const vault = new Map<string, Record<string, string>>();
    for (const path of KEY_PATHS) {
      const key = rsaPrivateKeyOutputs(1024);
      vault.set(path, { private: key.privateKeyPemPkcs8, public: key.publicKeyOpenssh.trim() });
    }
    const before = JSON.stringify([...vault]);
    const stack = engine(vault);
    const first = await runStack("annex2", readStackConfig("annex2"), stack.provider);
    await stack.destroy();
    const again = await runStack("annex2", readStackConfig("annex2"), stack.provider);
    expect(again.resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey")).toEqual([]);
    expect(fingerprints(again)).toEqual(fingerprints(first));
    expect(JSON.stringify([...vault])).toBe(before);
  }, 60_000);

  describe("of a stack left generating the keys into vault", () => {
    const warn = vi.spyOn(pulumi.log, "warn");
    afterEach(() => warn.mockClear());
    const generating = { ...readStackConfig("annex2"), "montagu-backup:privateer": { keys: { generate: true } } };
    const warned = () => warn.mock.calls.map(([message]) => String(message)).filter((m) => m.includes("privateer.keys.generate is true"));

    it("writes new keys over vault's, which every preview and update of it says, with the setting that ends it", async () => {
      const vault = new Map<string, Record<string, string>>();
      const stack = engine(vault);
      const first = await runStack("annex2", generating, stack.provider);
      expect(warned()).toEqual([
        "privateer.keys.generate is true: this stack writes every machine's keys to vault (secret/vimc/privateer/<machine>). " +
          "After a `pulumi destroy`, its next update would write new keys there, and every client's pushes and restores would be refused until its own stack is updated. " +
          "Once the keys are in vault, set montagu-backup:privateer.keys.generate to false: this stack then reads them from vault, and a rebuild keeps them.",
      ]);
      const written = JSON.stringify([...vault]);

      await stack.destroy();
      expect(JSON.stringify([...vault])).toBe(written);
      const again = await runStack("annex2", generating, stack.provider);
      // What the warning says happens.
      expect(JSON.stringify([...vault])).not.toBe(written);
      expect(fingerprints(again).annex2).not.toBe(fingerprints(first).annex2);
    }, 60_000);

    it("once set to read them, keeps the ones it wrote through a destroy and an up", async () => {
      const vault = new Map<string, Record<string, string>>();
      const stack = engine(vault);
      const first = await runStack("annex2", generating, stack.provider);
      const written = JSON.stringify([...vault]);
      warn.mockClear();
      const reading = { ...generating, "montagu-backup:privateer": { keys: { generate: false } } };
      await runStack("annex2", reading, stack.provider);
      await stack.destroy();
      const again = await runStack("annex2", reading, stack.provider);
      expect(warned()).toEqual([]);
      expect(JSON.stringify([...vault])).toBe(written);
      // It reads the keys its machine needs: its own and every client's.
      expect(Object.keys(fingerprints(again)).sort()).toEqual(["annex2", "production", "production2", "science", "uat"]);
      for (const [machine, fingerprint] of Object.entries(fingerprints(again))) expect(fingerprint, machine).toBe(fingerprints(first)[machine]);
    }, 60_000);
  });

  it("of the local stack, which has no vault, makes every machine's keys anew together, without a warning", async () => {
    const warn = vi.spyOn(pulumi.log, "warn");
    const stack = engine(new Map());
    const first = await runStack("local", readStackConfig("local"), stack.provider);
    await stack.destroy();
    const again = await runStack("local", readStackConfig("local"), stack.provider);
    expect(warn.mock.calls.filter(([message]) => String(message).includes("keys.generate"))).toEqual([]);
    // Every machine is on this one stack: each server and client takes the new keys in the same update.
    expect(Object.keys(fingerprints(again)).sort()).toEqual(Object.keys(fingerprints(first)).sort());
    expect(fingerprints(again).backup).not.toBe(fingerprints(first).backup);
    warn.mockRestore();
  }, 60_000);
});
