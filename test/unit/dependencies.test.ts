import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

// What `npm ci` installs is what our users run. A deprecated release (npm's word for "do not
// use this one"; @pulumi/command 4.5.0 was a mistaken publish of a 2022 SDK) or a provider SDK
// that names no plugin of its own version (so that the engine picks whatever provider it
// finds) fails here, before it can reach a user.

interface LockedPackage {
  name: string;
  version: string;
}

const ROOT = path.join(__dirname, "..", "..");
type Lock = { packages: Record<string, { version?: string; link?: boolean; name?: string }> };
const readLock = (file: string): Lock => JSON.parse(fs.readFileSync(file, "utf8")) as Lock;
/** What the lockfile says to install, and what npm recorded as installed (it may differ after an `npm install X`). */
const INSTALLED = path.join(ROOT, "node_modules", ".package-lock.json");
const locks = [readLock(path.join(ROOT, "package-lock.json")), ...(fs.existsSync(INSTALLED) ? [readLock(INSTALLED)] : [])];

/** Every package the lockfiles name, once per name and version. */
export function lockedPackages(packageSets = locks.map((l) => l.packages)): LockedPackage[] {
  const found = new Map<string, LockedPackage>();
  for (const [where, entry] of packageSets.flatMap((packages) => Object.entries(packages))) {
    if (!where.startsWith("node_modules/") || entry.link === true || entry.version === undefined) continue;
    const name = entry.name ?? where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length);
    found.set(`${name}@${entry.version}`, { name, version: entry.version });
  }
  return [...found.values()];
}

/** The registry's deprecation message for each package that has one, as npm shows it at install. */
async function deprecations(packages: LockedPackage[]): Promise<string[]> {
  const registry = execFileSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).trim().replace(/\/?$/, "/");
  const found: string[] = [];
  const queue = [...packages];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const response = await fetch(`${registry}${next.name.replace("/", "%2f")}`, { headers: { accept: "application/vnd.npm.install-v1+json" } });
      if (!response.ok) throw new Error(`the registry answered ${response.status} for ${next.name}`);
      const metadata = (await response.json()) as { versions?: Record<string, { deprecated?: string }> };
      const version = metadata.versions?.[next.version];
      if (version === undefined) throw new Error(`the registry has no ${next.name}@${next.version}`);
      if (version.deprecated !== undefined) found.push(`${next.name}@${next.version}: ${version.deprecated}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return found.sort();
}

/** Installed Pulumi provider SDKs whose package.json does not name their own version as the plugin's. */
export function providerSdksWithoutTheirPlugin(nodeModules = path.join(ROOT, "node_modules")): string[] {
  const scope = path.join(nodeModules, "@pulumi");
  const wrong: string[] = [];
  for (const entry of fs.readdirSync(scope)) {
    const manifest = JSON.parse(fs.readFileSync(path.join(scope, entry, "package.json"), "utf8")) as {
      name: string;
      version: string;
      pulumi?: { resource?: boolean; version?: string };
    };
    if (manifest.pulumi?.resource !== true) continue;
    const own = manifest.version.replace(/^v/, "");
    if (manifest.pulumi.version?.replace(/^v/, "") !== own) {
      wrong.push(`${manifest.name}@${manifest.version} names plugin version ${manifest.pulumi.version ?? "(none)"}`);
    }
  }
  return wrong;
}

describe("the dependencies npm ci installs", () => {
  it("include no deprecated release (asked of the registry)", async () => {
    const packages = lockedPackages();
    expect(packages.length).toBeGreaterThan(50);
    expect(packages.map((p) => p.name)).toContain("@pulumi/command");
    expect(await deprecations(packages)).toEqual([]);
  }, 60_000);

  it("the registry's answer is read: the mistaken @pulumi/command 4.5.0 is seen as deprecated", async () => {
    expect(await deprecations([{ name: "@pulumi/command", version: "4.5.0" }])).toEqual([expect.stringMatching(/^@pulumi\/command@4\.5\.0: /)]);
  }, 30_000);

  it("each Pulumi provider SDK names a plugin of its own version", () => {
    expect(providerSdksWithoutTheirPlugin()).toEqual([]);
    const sdks = fs.readdirSync(path.join(ROOT, "node_modules", "@pulumi")).filter((name) => name !== "pulumi");
    expect(sdks).toEqual(expect.arrayContaining(["command", "docker", "tls", "vault"]));
  });

  it("a provider SDK without its plugin version is named", () => {
    const fake = fs.mkdtempSync(path.join(os.tmpdir(), "sdk-"));
    fs.mkdirSync(path.join(fake, "@pulumi", "command"), { recursive: true });
    fs.writeFileSync(path.join(fake, "@pulumi", "command", "package.json"), JSON.stringify({ name: "@pulumi/command", version: "v4.5.0", pulumi: { resource: true, name: "command" } }));
    expect(providerSdksWithoutTheirPlugin(fake)).toEqual(["@pulumi/command@v4.5.0 names plugin version (none)"]);
  });
});
