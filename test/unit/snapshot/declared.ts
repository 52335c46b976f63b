import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { quote } from "shell-quote";
import type { RegisteredResource, ResourceProvider, StackRun } from "../../../simulator/harness/run";
import { PROJECT_DIR, readStackConfig, type StackConfig } from "../../../simulator/harness/stackConfig";

// What every stack declares, in a form that a refactoring must leave as it is: each resource's
// type, name, URN (its parents' types are in it), inputs and options, deterministic and with
// secrets replaced by a placeholder.

/** Outputs as the providers would compute them, the same on every run: keys are fakes named after their resource. */
export const deterministicProvider: ResourceProvider = {
  async create(resource: RegisteredResource) {
    switch (resource.type) {
      case "docker:index/image:Image":
        return { repoDigest: `sha256:${crypto.createHash("sha256").update(resource.name).digest("hex")}` };
      case "tls:index/privateKey:PrivateKey":
        return fakeKey(resource.name);
      case "command:local:Command":
        return { stdout: "", stderr: "" };
      default:
        return {};
    }
  },
  async invoke(token, args) {
    if (token !== "vault:generic/getSecret:getSecret") throw new Error(`unexpected invoke ${token}`);
    const path = String(args.path);
    if (path.startsWith("secret/vimc/database/")) return { data: { password: `password-of-${path}` } };
    const key = fakeKey(path);
    return { data: { private: key.privateKeyPemPkcs8, public: key.publicKeyOpenssh.trim() } };
  },
};

function fakeKey(name: string): Record<string, string> {
  const blob = Buffer.from(`ssh-rsa fake key of ${name}`).toString("base64");
  return {
    privateKeyPemPkcs8: `-----BEGIN PRIVATE KEY-----\nfake key of ${name}\n-----END PRIVATE KEY-----\n`,
    publicKeyOpenssh: `ssh-rsa ${blob}\n`,
  };
}

/** Each stack file as it is, and with the steps its machine runs (backups, prepares, restores), so that every component is declared. */
export const SCENARIOS: Record<string, { stack: string; config: StackConfig }> = {
  annex: { stack: "annex", config: {} },
  annex2: { stack: "annex2", config: {} },
  "annex2-generate-prepare": {
    stack: "annex2",
    config: {
      "montagu-backup:privateer": { keys: { generate: true }, checkId: "c1" },
      "montagu-backup:prepareRestore": { id: "p1", targetTime: "2025-06-01T12:00:00Z", jobs: 4 },
    },
  },
  "annex2-archive": {
    stack: "annex2",
    config: {
      "montagu-backup:privateer": {
        export: { id: "x1", volume: "montagu_orderly_volume", to: "/var/backups/montagu", server: "annex2", source: "production2", snapshot: "latest" },
        import: { id: "i1", file: "/var/backups/montagu/production2-montagu_orderly_volume-20261126T131500Z.tar", volume: "montagu_orderly_20261126" },
      },
    },
  },
  local: { stack: "local", config: {} },
  "local-prepare-restore": {
    stack: "local",
    config: {
      "montagu-backup:prepareRestore": { id: "p1", backup: "oldest" },
      "montagu-backup:privateer": { backup: { id: "b1", volumes: [{ volume: "montagu_orderly_volume", server: "backup", client: "primary" }] } },
      "montagu-backup:restore": { id: "r1", volumes: [{ volume: "barman_recover", server: "backup", to: "restored_db", client: "restore" }] },
    },
  },
  production2: { stack: "production2", config: {} },
  "production2-backup": {
    stack: "production2",
    config: {
      "montagu-backup:privateer": {
        images: "upstream",
        backup: {
          id: "b1",
          volumes: [
            { volume: "montagu_orderly_volume", server: "annex2" },
            { volume: "montagu_packit_db_backup", server: "annex2", allowEmpty: true },
            { volume: "montagu_outpack_volume", server: "annex" },
          ],
        },
      },
      "montagu-backup:packitDump": {},
    },
  },
  science: { stack: "science", config: {} },
  uat: { stack: "uat", config: {} },
  "uat-restore": {
    stack: "uat",
    config: {
      "montagu-backup:restore": {
        id: "r1",
        volumes: [
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2", snapshot: "latest" },
          { volume: "montagu_outpack_volume", server: "annex2", source: "production2", snapshot: "20261126T131500Z", allowEmpty: true },
          { volume: "montagu_packit_db_backup", server: "annex2", source: "production2" },
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
        ],
        stop: ["montagu-db", "montagu-packit-db"],
        start: ["montagu-db", "montagu-packit-db"],
        verify: { container: "montagu-db", query: "SELECT count(*) FROM it's" },
        packit: { env: ["POSTGRES_PASSWORD=x"] },
      },
    },
  },
};

export function scenarioConfig(name: string): { stack: string; config: StackConfig } {
  const { stack, config } = SCENARIOS[name];
  return { stack, config: { ...readStackConfig(stack), ...config } };
}

/** Scripts read from files into resources' inputs, shown by name in the snapshots. */
const SCRIPTS: [string, string][] = [
  ["lock.sh+copy.sh", fs.readFileSync("images/privateer/client/lock.sh", "utf8") + fs.readFileSync("components/privateer/copy.sh", "utf8")],
  ["history.sh", fs.readFileSync("images/privateer/server/history.sh", "utf8")],
  ["export.sh", fs.readFileSync("components/privateer/export.sh", "utf8")],
  ["import.sh", fs.readFileSync("components/privateer/import.sh", "utf8")],
];

/** A secret as the snapshot shows it: a digest, so that a change shows without the value. */
const secret = (value: unknown) => `<secret sha256:${crypto.createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16)}>`;

/** Scripts read from files by name (as they are, and as one shell word), and this checkout's directory as `<project>`. */
function withoutScripts(value: unknown): unknown {
  if (typeof value === "string") {
    const named = SCRIPTS.reduce(
      (text, [name, content]) => text.split(quote([content])).join(`<<${name}, quoted>>`).split(content).join(`<<${name}>>`),
      value,
    );
    return named.split(PROJECT_DIR).join("<project>");
  }
  if (Array.isArray(value)) return value.map(withoutScripts);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutScripts(v)]));
  return value;
}

/** `inputs` with the value at each secret path (`uploads[0].content`) replaced; the innermost path wins. */
function withoutSecrets(inputs: Record<string, unknown>, paths: string[]): unknown {
  const copy = structuredClone(inputs);
  const innermost = paths.filter((p) => !paths.some((other) => other !== p && (other.startsWith(`${p}.`) || other.startsWith(`${p}[`))));
  for (const path of innermost) {
    const parts = path.match(/[^.[\]]+/g) ?? [];
    let holder: any = copy;
    for (const part of parts.slice(0, -1)) holder = holder?.[part];
    const last = parts[parts.length - 1];
    if (holder !== undefined && holder !== null) holder[last] = secret(holder[last]);
  }
  return copy;
}

/**
 * The URN the engine gives each resource of a run: its type qualified by every parent's,
 * the root stack's excepted (Pulumi's mock runtime qualifies it by the parent's type alone).
 * Written without `urn:pulumi:<stack>::<project>::`, which is the same for every resource.
 */
export function engineUrns(run: StackRun): Map<RegisteredResource, string> {
  const byMockUrn = new Map(run.resources.map((r) => [r.urn, r]));
  const qualified = new Map<RegisteredResource, string>();
  const qualify = (r: RegisteredResource): string => {
    const known = qualified.get(r);
    if (known !== undefined) return known;
    const parent = r.parent === "" ? undefined : byMockUrn.get(r.parent);
    const type = parent === undefined ? r.type : `${qualify(parent)}$${r.type}`;
    qualified.set(r, type);
    return type;
  };
  return new Map(run.resources.map((r) => [r, `${qualify(r)}::${r.name}`]));
}

/** Every resource of a run, in registration order, as the snapshot records it. */
export function declared(run: StackRun): unknown[] {
  const urns = engineUrns(run);
  const byMockUrn = new Map(run.resources.map((r) => [r.urn, r]));
  const urnOf = (mockUrn: string) => {
    const r = byMockUrn.get(mockUrn);
    return r === undefined ? mockUrn : urns.get(r)!;
  };
  return run.resources.map((r) => ({
    urn: urns.get(r),
    ...(r.parent === "" ? {} : { parent: urnOf(r.parent) }),
    ...(r.aliases.length > 0 ? { aliases: r.aliases } : {}),
    ...(r.custom ? {} : { component: true }),
    ...(r.retainOnDelete ? { retainOnDelete: true } : {}),
    ...(r.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
    ...(r.replaceOnChanges.length > 0 ? { replaceOnChanges: r.replaceOnChanges } : {}),
    ...(r.protect ? { protect: true } : {}),
    dependsOn: [...r.dependencies].map(urnOf).sort(),
    ...(r.secretInputs.length > 0 ? { secretInputs: r.secretInputs } : {}),
    inputs: withoutSecrets(withoutScripts(r.inputs) as Record<string, unknown>, r.secretInputs),
  }));
}
