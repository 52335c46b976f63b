import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { type RegisteredResource, type ResourceProvider, runStack } from "../../simulator/harness/run";
import { PROJECT_DIR, readStackConfig } from "../../simulator/harness/stackConfig";

// Keys that privateer's machines share live in vault: they must outlive the stack that made them,
// and the token that writes them must never be stored in plain text.

const MACHINES = ["annex", "annex2", "production", "production2", "science", "uat"];
const keyPaths = MACHINES.map((m) => `secret/vimc/privateer/${m}`);

/**
 * The dry provider with a state and a vault, deleting as the engine does after the program
 * ends (the test rig's DockerApplier semantics): what is no longer declared goes, newest first,
 * unless it is retainOnDelete. `pulumi destroy` is `finish([])`.
 */
function statefulProvider() {
  const dry = dryProvider({
    "vault:generic/getSecret:getSecret": () => ({ data: { password: "from-vault" } }),
  });
  const vault = new Map<string, unknown>();
  const state = new Map<string, RegisteredResource>();
  const deleted: string[] = [];
  const provider: ResourceProvider = {
    async create(resource) {
      if (resource.type === "vault:generic/secret:Secret") vault.set(resource.inputs.path, JSON.parse(resource.inputs.dataJson));
      state.set(resource.urn, resource);
      return dry.create(resource);
    },
    invoke: (token, args) => dry.invoke(token, args),
    async finish(declared) {
      const keep = new Set(declared.map((r) => r.urn));
      for (const [urn, resource] of [...state].reverse()) {
        if (keep.has(urn)) continue;
        if (!resource.retainOnDelete) {
          deleted.push(resource.type);
          if (resource.type === "vault:generic/secret:Secret") vault.delete(resource.inputs.path);
        }
        state.delete(urn);
      }
    },
  };
  return { provider, vault, deleted, state };
}

const generating = { ...readStackConfig("annex2"), "montagu-backup:privateer": { keys: { generate: true } } };

describe("the keys written to vault", () => {
  it("are registered with retainOnDelete, every one", async () => {
    const run = await runStack("annex2", generating, dryProvider({ "vault:generic/getSecret:getSecret": () => ({ data: { password: "x" } }) }));
    const secrets = run.resources.filter((r) => r.type === "vault:generic/secret:Secret");
    expect(secrets.map((s) => s.inputs.path).sort()).toEqual(keyPaths);
    expect(secrets.map((s) => s.retainOnDelete)).toEqual(secrets.map(() => true));
  });

  it("stay in vault when the stack that generated them is destroyed", async () => {
    const { provider, vault, deleted, state } = statefulProvider();
    await runStack("annex2", generating, provider);
    expect([...vault.keys()].sort()).toEqual(keyPaths);
    await provider.finish!([]);
    expect(state.size).toBe(0);
    // The destroy did delete what is not retained, the keypairs themselves among them...
    expect(deleted).toContain("tls:index/privateKey:PrivateKey");
    expect(deleted).not.toContain("vault:generic/secret:Secret");
    // ...but every machine can still read its keys.
    expect([...vault.keys()].sort()).toEqual(keyPaths);
  });
});

describe("the vault token", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vault-token-"));
  afterAll(() => fs.rmSync(dir, { recursive: true }));

  /** The montagu topology with a vault token in it. */
  function topologyWith(token: string | undefined): string {
    const topology = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "privateer.json"), "utf8"));
    if (token !== undefined) topology.vault.token = token;
    const file = path.join(dir, `privateer-${token ?? "none"}.json`);
    fs.writeFileSync(file, JSON.stringify(topology));
    return file;
  }

  it("is a secret input of the vault provider", async () => {
    const config = { ...generating, "montagu-backup:topology": topologyWith("s.plain-text-token") };
    const run = await runStack("annex2", config, dryProvider({ "vault:generic/getSecret:getSecret": () => ({ data: { password: "x" } }) }));
    const [provider] = run.resources.filter((r) => r.type === "pulumi:providers:vault");
    expect(provider.inputs.token).toBe("s.plain-text-token");
    expect(provider.secretInputs).toContain("token");
  });

  it("is left to the environment when the topology gives none", async () => {
    const config = { ...generating, "montagu-backup:topology": topologyWith(undefined) };
    const run = await runStack("annex2", config, dryProvider({ "vault:generic/getSecret:getSecret": () => ({ data: { password: "x" } }) }));
    const [provider] = run.resources.filter((r) => r.type === "pulumi:providers:vault");
    expect(provider.inputs.token).toBeUndefined();
  });
});
