import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseShell } from "shell-quote";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidSettingsError, validateSettings } from "../../config/load";
import { KEEP_RESULT, stepBody } from "../../components/shared/script";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { type RegisteredResource, runStack, type StackRun } from "../../simulator/harness/run";
import { readStackConfig, type StackConfig } from "../../simulator/harness/stackConfig";
import { rsaPrivateKeyOutputs } from "../../simulator/harness/tlsKey";

// privateer's `export` and `import` as steps: what the config takes (every problem on its
// path), what each step is given, that it runs only when its id changes, and what its scripts
// do, run here against a stand-in for the docker CLI (test/fixtures/fake-docker.sh) whose
// volumes are directories: the tar, its checksum and the renames are real.

type Json = any;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "archive-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Validation

function topology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [
      { name: "production2", backup: ["orderly", "outpack"] },
      { name: "production", backup: ["outpack"] },
      { name: "uat", key_volume: "uat_keys" },
    ],
    volumes: [{ name: "orderly" }, { name: "outpack" }, { name: "barman_recover", local: true }],
  };
}

let configs = 0;
function problems(machines: string[], privateer: Json, extra: Json = {}): string[] {
  const dir = path.join(scratch, `settings-${configs++}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "privateer.json"), JSON.stringify(topology()));
  try {
    validateSettings("test", { machines, privateer, ...extra }, dir);
    return [];
  } catch (error) {
    if (error instanceof InvalidSettingsError) return error.problems;
    throw error;
  }
}

const exportOn = (machine: string, entry: Json) => problems([machine], { export: { id: "e1", ...entry } });
const importOn = (machine: string, entry: Json, extra: Json = {}) => problems([machine], { import: { id: "i1", ...entry } }, extra);

describe("export and import settings", () => {
  it("accept a volume of the stack's engine, a server's copy (current, latest or by name) and an import into a new volume", () => {
    expect(exportOn("production2", { volume: "orderly", to: "/var/backups/montagu" })).toEqual([]);
    expect(exportOn("production2", { volume: "orderly", to: "/var/backups/montagu/", source: "production2" })).toEqual([]);
    expect(exportOn("annex2", { volume: "orderly", to: "/srv/a_b-c.d", server: "annex2" })).toEqual([]);
    expect(exportOn("annex2", { volume: "outpack", to: "/srv", server: "annex2", source: "production", snapshot: "latest" })).toEqual([]);
    expect(exportOn("annex2", { volume: "orderly", to: "/srv", server: "annex2", snapshot: "20261126T131500Z" })).toEqual([]);
    expect(exportOn("annex2", { volume: "barman_recover", to: "/srv" })).toEqual([]);
    expect(importOn("uat", { file: "/srv/production2-orderly-20261126T131500Z.tar", volume: "orderly_2026" })).toEqual([]);
  });

  it("refuse blank ids, relative paths, '..', and a file that is no tar, each on its path", () => {
    expect(problems(["uat"], { export: { id: " ", volume: "v", to: "backups" }, import: { id: "", file: "/srv/../etc/x.tar", volume: "w" } })).toEqual([
      "montagu-backup:privateer.export.id: ' ' is not an id: give some text, on one line (changing it runs the step again)",
      "montagu-backup:privateer.export.to: 'backups' is not an absolute path (it must start with /): give a directory such as /var/backups/montagu",
      "montagu-backup:privateer.import.id: '' is not an id: give some text, on one line (changing it runs the step again)",
      "montagu-backup:privateer.import.file: '/srv/../etc/x.tar' climbs with '..': give a file such as /var/backups/montagu/production2-montagu_orderly_volume-20261126T131500Z.tar",
    ]);
    const file = (value: string) => importOn("uat", { file: value, volume: "w" });
    expect(file("x.tar")).toEqual([expect.stringMatching(/^montagu-backup:privateer\.import\.file: 'x\.tar' is not an absolute path/)]);
    expect(file("/srv/x.tgz")).toEqual([expect.stringMatching(/^montagu-backup:privateer\.import\.file: '\/srv\/x\.tgz' is not a file ending in \.tar: /)]);
    expect(file("/srv/.tar")).toEqual([expect.stringMatching(/is not a file ending in \.tar/)]);
    expect(file("/srv/x.tar/")).toEqual([expect.stringMatching(/is not a file ending in \.tar/)]);
    expect(file("/srv/./x.tar")).toEqual([expect.stringMatching(/'\/srv\/\.\/x\.tar' has a '\.' part/)]);
    expect(file("/srv//x.tar")).toEqual([expect.stringMatching(/'\/srv\/\/x\.tar' has an empty part/)]);
    expect(exportOn("uat", { volume: "v", to: "/srv/.." })).toEqual([expect.stringMatching(/^montagu-backup:privateer\.export\.to: '\/srv\/\.\.' climbs with '\.\.'/)]);
  });

  it("refuse every character a shell reads, whitespace and control characters in paths, shown escaped on one line", () => {
    for (const hostile of ["/srv/a b", "/srv/$(touch x)", "/srv/`x`", "/srv/x;rm", "/srv/x'q", '/srv/x"q', "/srv/x*", "/srv/~", "/srv/x\\y", "/srv/x\n-rf", "/srv/x\t", "/srv/é"]) {
      const said = exportOn("uat", { volume: "v", to: hostile });
      expect(said, hostile).toHaveLength(1);
      expect(said[0]).toMatch(/^montagu-backup:privateer\.export\.to: '.*' holds more than letters, digits, '_', '\.', '-' and '\/': give a directory/);
      expect(said[0]).not.toMatch(/[\n\t]/);
      const imported = importOn("uat", { file: `${hostile}.tar`, volume: "w" });
      expect(imported, hostile).toEqual([expect.stringMatching(/^montagu-backup:privateer\.import\.file: '.*' holds more than/)]);
    }
    expect(exportOn("uat", { volume: "v", to: "/srv/x\n-rf" })[0]).toContain("'/srv/x\\n-rf'");
    expect(importOn("uat", { file: "/srv/x.tar", volume: "-v /:/host" })).toEqual([
      "montagu-backup:privateer.import.volume: '-v /:/host' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
  });

  it("export a server's copy only on the stack that provisions the server, which reads it from its data volume", () => {
    expect(exportOn("production2", { volume: "orderly", to: "/srv", server: "annex2" })).toEqual([
      "montagu-backup:privateer.export.server: server 'annex2' is not provisioned by this stack (production2): export its copies on the stack of 'annex2', which reads them from its data volume",
    ]);
    expect(exportOn("annex2", { volume: "orderly", to: "/srv", server: "annex3" })).toEqual(["montagu-backup:privateer.export.server: unknown server 'annex3'"]);
  });

  it("export a server's copy of a client's volume: the source backs it up, and is named when several do", () => {
    const onAnnex2 = (entry: Json) => exportOn("annex2", { to: "/srv", server: "annex2", ...entry });
    expect(onAnnex2({ volume: "outpack" })).toEqual(["montagu-backup:privateer.export.source: give the source: production2, production back up volume 'outpack'"]);
    expect(onAnnex2({ volume: "orderly", source: "uat" })).toEqual(["montagu-backup:privateer.export.source: client 'uat' does not back up volume 'orderly'"]);
    expect(onAnnex2({ volume: "nothing" })).toEqual(["montagu-backup:privateer.export.volume: unknown volume 'nothing'"]);
    expect(onAnnex2({ volume: "barman_recover" })).toEqual([
      "montagu-backup:privateer.export.volume: volume 'barman_recover' is local to the server, not a client's copy: export it as a volume of this stack's engine (leave out server and snapshot)",
    ]);
    // A malformed field is reported alone: the rules that need it wait for it.
    expect(onAnnex2({ volume: "outpack", source: "two words" })).toEqual([
      "montagu-backup:privateer.export.source: 'two words' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
    expect(onAnnex2({ volume: "orderly", server: "-x" })).toEqual(["montagu-backup:privateer.export.server: '-x' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"]);
  });

  it("export a volume of the stack's engine named after a machine of the stack, without a snapshot", () => {
    expect(exportOn("production2", { volume: "orderly", to: "/srv", snapshot: "latest" })).toEqual([
      "montagu-backup:privateer.export.snapshot: a snapshot is of a server's copy: give server (and source) to export one",
    ]);
    expect(exportOn("production2", { volume: "orderly", to: "/srv", source: "uat" })).toEqual([
      "montagu-backup:privateer.export.source: 'uat' is not a machine of this stack (production2): without server, source names the machine whose volume is exported, in the archive's name",
    ]);
    expect(problems(["annex2", "production2"], { export: { id: "e1", volume: "orderly", to: "/srv" } })).toEqual([
      "montagu-backup:privateer.export.source: name the machine whose volume is exported, for the archive's name: this stack provisions several (annex2, production2)",
    ]);
    expect(exportOn("production2", { volume: "orderly", to: "/srv", snapshot: "yesterday" })).toEqual([
      "montagu-backup:privateer.export.snapshot: 'yesterday' is not latest or a snapshot name such as 20261126T131500Z (a real UTC date and time)",
    ]);
  });

  it("import only into a new volume: never one the stack itself uses, restores into or exports", () => {
    expect(importOn("production2", { file: "/srv/x.tar", volume: "orderly" })).toEqual([
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and 'production2' backs up volume 'orderly' on this stack's engine",
    ]);
    expect(importOn("annex2", { file: "/srv/x.tar", volume: "data" })).toEqual([
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and volume 'data' is the data volume of privateer server 'annex2' on this stack's engine (servers[0].data_volume)",
    ]);
    expect(importOn("annex2", { file: "/srv/x.tar", volume: "barman_recover" })).toEqual([
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and volume 'barman_recover' is a local volume that privateer server 'annex2' serves on this stack's engine (volumes[2].name)",
    ]);
    expect(importOn("uat", { file: "/srv/x.tar", volume: "uat_keys" })).toEqual([
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and volume 'uat_keys' is the key volume of privateer client 'uat' on this stack's engine (clients[2].key_volume)",
    ]);
    const restore = { restore: { id: "r1", volumes: [{ volume: "orderly", server: "annex2", to: "orderly_restored" }] } };
    expect(importOn("uat", { file: "/srv/x.tar", volume: "orderly_restored" }, restore)).toEqual([
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and volume 'orderly_restored' is written by montagu-backup:restore.volumes[0].to on this stack",
    ]);
    expect(problems(["uat"], { export: { id: "e1", volume: "scratch", to: "/srv" }, import: { id: "i1", file: "/srv/x.tar", volume: "scratch" } })).toEqual([
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and volume 'scratch' is the one montagu-backup:privateer.export reads: one of the two would fail",
    ]);
  });

  it("report every problem at once, beside the other sections'", () => {
    expect(
      problems(["production2"], { export: { id: "e1", volume: "orderly", to: "srv", server: "annex2" }, import: { id: "i1", file: "/srv/x", volume: "orderly" }, history: { daily: -1 } }),
    ).toEqual([
      "montagu-backup:privateer.history.daily: must be 0 or more snapshots",
      "montagu-backup:privateer.export.to: 'srv' is not an absolute path (it must start with /): give a directory such as /var/backups/montagu",
      "montagu-backup:privateer.import.file: '/srv/x' is not a file ending in .tar: give a file such as /var/backups/montagu/production2-montagu_orderly_volume-20261126T131500Z.tar",
      "montagu-backup:privateer.export.server: server 'annex2' is not provisioned by this stack (production2): export its copies on the stack of 'annex2', which reads them from its data volume",
      "montagu-backup:privateer.import.volume: refused: an import makes a new volume, and 'production2' backs up volume 'orderly' on this stack's engine",
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// What each stack declares

// One key for every machine: generating RSA keys would be most of each run's time.
const key = rsaPrivateKeyOutputs(1024);
const dry = dryProvider({
  "vault:generic/getSecret:getSecret": () => ({ data: { private: key.privateKeyPemPkcs8, public: key.publicKeyOpenssh.trim(), password: "p" } }),
});
const provider = { ...dry, create: async (r: RegisteredResource) => (r.type === "tls:index/privateKey:PrivateKey" ? key : dry.create(r)) };

function stack(name: string, privateer: Json, extra: StackConfig = {}, using = provider): Promise<StackRun> {
  return runStack(name, { ...readStackConfig(name), "montagu-backup:privateer": privateer, ...extra }, using);
}
const named = (run: StackRun, name: string): RegisteredResource => {
  const found = run.resources.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no resource ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
  return found;
};
/** A step's `set -- ARGS` line: its script file's first, after what every step runs first (stepBody). */
const argumentsLine = (step: RegisteredResource) => String(step.inputs.create).slice(stepBody("").length).split("\n")[0];
const argumentsOf = (step: RegisteredResource) => parseShell(argumentsLine(step)).slice(2) as string[];
const ARCHIVE_LIBRARY = fs.readFileSync("components/privateer/archive-lib.sh", "utf8");
const EXPORT_SCRIPT = fs.readFileSync("components/privateer/export.sh", "utf8");
const IMPORT_SCRIPT = fs.readFileSync("components/privateer/import.sh", "utf8");

describe("the export and import steps", () => {
  it("export a volume of the stack's engine with export.sh, in the client's image, named after the machine", async () => {
    const run = await stack("production2", { export: { id: "e1", volume: "montagu_orderly_volume", to: "/var/backups/montagu/" } });
    const step = named(run, "privateer-export-montagu_orderly_volume");
    expect(step.type).toBe("command:local:Command");
    expect(step.inputs.create).toBe(stepBody(`${argumentsLine(step)}\n${ARCHIVE_LIBRARY}\n${EXPORT_SCRIPT}`));
    const client = named(run, "privateer-client-production2-scheduler").inputs.image;
    expect(argumentsOf(step)).toEqual(["--every", "10", "/var/backups/montagu", "production2-montagu_orderly_volume", client, "volume", "montagu_orderly_volume"]);
    expect(step.inputs.environment).toEqual({ DOCKER_HOST: "ssh://vagrant@production2.montagu.dide.ic.ac.uk" });
    const component = named(run, "privateer-export");
    expect(component.type).toBe("montagu:backup:ArchiveExport");
    expect(step.parent).toBe(component.urn);
    expect(component.parent).toBe(named(run, "privateer").urn);
  });

  it("export a server's copy in the server's image, from its data volume, under the lock on the copy", async () => {
    const run = await stack("annex2", {
      keys: { generate: true },
      export: { id: "e1", volume: "montagu_orderly_volume", to: "/srv/archives", server: "annex2", source: "production2", snapshot: "latest" },
    });
    const step = named(run, "privateer-export-montagu_orderly_volume");
    const server = named(run, "privateer-server-annex2-container").inputs.image;
    const copy = "/privateer/volumes/production2/montagu_orderly_volume";
    expect(argumentsOf(step)).toEqual([
      ...["--every", "10", "/srv/archives", "production2-montagu_orderly_volume", server, "copy", "privateer_montagu_data", copy, copy],
      ...["--newest-in", "/privateer/volumes/.montagu/history/production2/montagu_orderly_volume"],
    ]);
    // After the server (its data volume and history) is in place.
    expect(named(run, "privateer-export").dependencies).toEqual(
      expect.arrayContaining([named(run, "privateer-server-annex2-data").urn, named(run, "privateer-server-annex2-container").urn]),
    );

    const current = await stack("annex2", { keys: { generate: true }, export: { id: "e1", volume: "montagu_db_volume", to: "/srv", server: "annex2", source: "production" } });
    expect(argumentsOf(named(current, "privateer-export-montagu_db_volume")).slice(5)).toEqual([
      ...["copy", "privateer_montagu_data", "/privateer/volumes/production/montagu_db_volume", "/privateer/volumes/production/montagu_db_volume"],
      ...["--unfinished", "/privateer/volumes/.montagu/unfinished/production/montagu_db_volume"],
    ]);
    const byName = await stack("annex2", {
      keys: { generate: true },
      export: { id: "e1", volume: "montagu_outpack_volume", to: "/srv", server: "annex2", snapshot: "20261126T131500Z" },
    });
    expect(argumentsOf(named(byName, "privateer-export-montagu_outpack_volume")).slice(3)).toEqual([
      "production2-montagu_outpack_volume",
      server,
      ...["copy", "privateer_montagu_data", "/privateer/volumes/production2/montagu_outpack_volume"],
      "/privateer/volumes/.montagu/history/production2/montagu_outpack_volume/20261126T131500Z",
    ]);
  });

  it("export the prepared copy a server serves only finished, without the prepare's own work", async () => {
    const run = await stack("annex2", { keys: { generate: true }, export: { id: "e1", volume: "barman_recover", to: "/srv" } });
    expect(argumentsOf(named(run, "privateer-export-barman_recover")).slice(5)).toEqual([
      ...["volume", "barman_recover", "--require-stamp", ".barman-last-restore", "--exclude-top", ".montagu"],
    ]);
  });

  it("import with import.sh, in the client's image, into the volume named", async () => {
    const run = await stack("uat", { import: { id: "i1", file: "/srv/production2-montagu_orderly_volume-20261126T131500Z.tar", volume: "orderly_2026" } });
    const step = named(run, "privateer-import-orderly_2026");
    expect(String(step.inputs.create).endsWith(IMPORT_SCRIPT)).toBe(true);
    expect(argumentsOf(step)).toEqual([
      ...["--every", "10", "/srv/production2-montagu_orderly_volume-20261126T131500Z.tar", "orderly_2026"],
      expect.stringMatching(/^sha256:/),
    ]);
    expect(named(run, "privateer-import").type).toBe("montagu:backup:ArchiveImport");
    // The volume is the step's, not a resource of the stack: destroy never removes it.
    expect(run.resources.filter((r) => r.type === "docker:index/volume:Volume" && r.inputs.name === "orderly_2026")).toEqual([]);
  });

  it("run when their id changes and only then; any other change runs an update that keeps what the step printed", async () => {
    const settings = (id: string, to: string) => ({ export: { id, volume: "montagu_orderly_volume", to }, import: { id, file: "/srv/x.tar", volume: "orderly_2026" } });
    const first = await stack("production2", settings("a1", "/srv"));
    const steps = ["privateer-export-montagu_orderly_volume", "privateer-import-orderly_2026"].map((name) => named(first, name));
    for (const step of steps) {
      expect(step.inputs.triggers).toEqual(["a1"]);
      expect(step.inputs.update).toBe(KEEP_RESULT);
    }
    // Another directory (or script, or image) under the same id changes the step's create, not its triggers: an update, which runs nothing.
    const moved = await stack("production2", settings("a1", "/srv/elsewhere"));
    expect(named(moved, steps[0].name).inputs.triggers).toEqual(["a1"]);
    expect(named(moved, steps[0].name).inputs.create).not.toBe(steps[0].inputs.create);
    const next = await stack("production2", settings("a2", "/srv"));
    expect(named(next, steps[0].name).inputs.triggers).toEqual(["a2"]);
    expect(named(next, steps[1].name).inputs.triggers).toEqual(["a2"]);
    const kept = spawnSync("/bin/bash", ["-c", KEEP_RESULT], { env: { ...process.env, PULUMI_COMMAND_STDOUT: "archive=/srv/a.tar\nsha256=ab" }, encoding: "utf8" });
    expect(kept.stdout).toBe("archive=/srv/a.tar\nsha256=ab");
  });

  it("output the archive's path and checksum as the steps printed them, only on stacks that export or import", async () => {
    const printing = {
      ...provider,
      async create(resource: RegisteredResource) {
        if (resource.name.startsWith("privateer-export-")) return { stdout: "archive=/srv/production2-v-20261126T131500Z.tar\nsha256=abc123", stderr: "" };
        if (resource.name.startsWith("privateer-import-")) return { stdout: "volume=orderly_2026\narchive=/srv/x.tar\nsha256=def456", stderr: "" };
        return provider.create(resource);
      },
    };
    const run = await stack("production2", { export: { id: "e1", volume: "montagu_orderly_volume", to: "/srv" }, import: { id: "i1", file: "/srv/x.tar", volume: "orderly_2026" } }, {}, printing);
    const outputs = run.outputs.privateer as Json;
    expect(outputs.export).toEqual({ id: "e1", archive: "/srv/production2-v-20261126T131500Z.tar", sha256: "abc123" });
    expect(outputs.import).toEqual({ id: "i1", volume: "orderly_2026", archive: "/srv/x.tar", sha256: "def456" });
    const without = await stack("production2", {});
    expect(Object.keys(without.outputs.privateer as Json).sort()).toEqual(["fingerprints", "schedulers", "servers"]);
  });
});

// ---------------------------------------------------------------------------------------------
// The scripts, against a stand-in for the docker CLI

const bin = path.join(scratch, "bin");
fs.mkdirSync(bin);
fs.writeFileSync(path.join(bin, "docker"), fs.readFileSync("test/fixtures/fake-docker.sh", "utf8"), { mode: 0o755 });
const engine = path.join(scratch, "engine");
const volumeDir = (volume: string) => path.join(engine, "volumes", volume);
const archives = path.join(scratch, "archives");
fs.mkdirSync(archives);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}
const environment = (extra: Record<string, string> = {}) => ({ ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_DOCKER: engine, ...extra });
/** A declared step's script, run as the command provider runs it. */
const runStep = (step: RegisteredResource, extra: Record<string, string> = {}): Ran => {
  const result = spawnSync("/bin/bash", ["-c", String(step.inputs.create)], { env: environment(extra), encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};
const runStepLater = (step: RegisteredResource): Promise<Ran> =>
  new Promise((resolve) => {
    const child = spawn("/bin/bash", ["-c", String(step.inputs.create)], { env: environment() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });

const write = (file: string, content: string | Buffer) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
};
/** Every entry under `dir` with its type, mode and content: equal trees, equal listings. */
const listing = (dir: string): string[] =>
  fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .sort()
    .map((entry) => {
      const full = path.join(dir, entry);
      const stat = fs.lstatSync(full);
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isSymbolicLink()) return `${entry} l ${fs.readlinkSync(full)}`;
      if (stat.isDirectory()) return `${entry} d ${mode}`;
      return `${entry} f ${mode} ${fs.readFileSync(full).toString("base64")}`;
    });
const files = (dir: string) => fs.readdirSync(dir).sort();
const printedValue = (stdout: string, name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(stdout)?.[1];

async function exportStep(machine: string, entry: Json, into: string): Promise<RegisteredResource> {
  const run = await stack(machine, { ...(machine === "annex2" ? { keys: { generate: true } } : {}), export: { id: "e1", to: into, ...entry } });
  return named(run, `privateer-export-${entry.volume}`);
}
async function importStep(file: string, volume: string): Promise<RegisteredResource> {
  const run = await stack("uat", { import: { id: "i1", file, volume } });
  return named(run, `privateer-import-${volume}`);
}

describe("the export and import scripts, against a stand-in docker CLI", () => {
  const seed = (volume: string) => {
    const dir = volumeDir(volume);
    for (let i = 0; i < 20; i++) write(path.join(dir, "reports", String(i % 4), `file-${i}.txt`), `report ${i}\n`);
    write(path.join(dir, "big.bin"), Buffer.alloc(300_000, 7));
    fs.chmodSync(path.join(dir, "reports", "0", "file-0.txt"), 0o600);
    fs.mkdirSync(path.join(dir, "empty-dir"));
    fs.symlinkSync("reports/0/file-0.txt", path.join(dir, "latest"));
  };

  it("export a volume as <machine>-<volume>-<UTC time>.tar with a checksum sha256sum -c accepts, and import it into an identical new volume", async () => {
    seed("montagu_orderly_volume");
    const into = path.join(archives, "local");
    fs.mkdirSync(into);
    const exported = runStep(await exportStep("production2", { volume: "montagu_orderly_volume" }, into));
    expect(exported.code, exported.stderr).toBe(0);
    const [tar, sums] = files(into);
    expect(tar).toMatch(/^production2-montagu_orderly_volume-\d{8}T\d{6}Z\.tar$/);
    expect(sums).toBe(`${tar}.sha256`);
    expect(files(into)).toHaveLength(2);
    expect(exported.stdout).toBe(`archive=${path.join(into, tar)}\nsha256=${printedValue(exported.stdout, "sha256")}\n`);
    expect(fs.readFileSync(path.join(into, sums), "utf8")).toBe(`${printedValue(exported.stdout, "sha256")}  ${tar}\n`);
    expect(spawnSync("sha256sum", ["-c", sums], { cwd: into, encoding: "utf8" }).stdout).toBe(`${tar}: OK\n`);
    expect(exported.stderr).toMatch(/export: .*: 28 entries, \d+ bytes in files/);

    const imported = runStep(await importStep(path.join(into, tar), "orderly_copy"));
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toBe(`volume=orderly_copy\narchive=${path.join(into, tar)}\nsha256=${printedValue(exported.stdout, "sha256")}\n`);
    expect(listing(volumeDir("orderly_copy"))).toEqual(listing(volumeDir("montagu_orderly_volume")));
  });

  it("refuse a missing or empty volume and a missing directory, leaving nothing", async () => {
    const into = path.join(archives, "refusals");
    fs.mkdirSync(into);
    const missing = runStep(await exportStep("production2", { volume: "montagu_outpack_volume" }, into));
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("export: refused: volume montagu_outpack_volume does not exist on this engine");
    fs.mkdirSync(volumeDir("montagu_outpack_volume"), { recursive: true });
    const empty = runStep(await exportStep("production2", { volume: "montagu_outpack_volume" }, into));
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/export: refused: .*montagu_outpack_volume is empty: its archive would hold nothing/);
    const nowhere = runStep(await exportStep("production2", { volume: "montagu_orderly_volume" }, path.join(archives, "unmounted")));
    expect(nowhere.code).toBe(3);
    expect(nowhere.stderr).toContain(`is not a directory on this machine (create it, or mount the disk it is on)`);
    expect(files(into)).toEqual([]);
  });

  it("leave a killed export as .partial only: nothing that looks finished", async () => {
    const into = path.join(archives, "killed");
    fs.mkdirSync(into);
    const killed = runStep(await exportStep("production2", { volume: "montagu_orderly_volume" }, into), { FAKE_DOCKER_FAIL_AFTER: "100000" });
    expect(killed.code).toBe(1);
    expect(killed.stdout).toBe("");
    const [partial] = files(into);
    expect(files(into)).toEqual([expect.stringMatching(/^production2-montagu_orderly_volume-\d{8}T\d{6}Z\.tar\.partial$/)]);
    expect(fs.statSync(path.join(into, partial)).size).toBe(100_000);
    expect(killed.stderr).toContain(`failed (exit 137): ${path.join(into, partial)} holds part of the tar and is no archive (delete it)`);
  });

  it("export a server's copy under its lock, waiting for a push that holds it, and refuse one whose push did not finish", async () => {
    const data = volumeDir("privateer_montagu_data");
    const copy = path.join(data, "production2", "montagu_orderly_volume");
    write(path.join(copy, "report.txt"), "current\n");
    const history = path.join(data, ".montagu", "history", "production2", "montagu_orderly_volume");
    write(path.join(history, "20261126T131500Z", "report.txt"), "older\n");
    write(path.join(history, "20261127T010000Z", "report.txt"), "newer\n");
    write(path.join(history, ".state"), "x\n");
    const into = path.join(archives, "server");
    fs.mkdirSync(into);
    const step = (snapshot?: string) => exportStep("annex2", { volume: "montagu_orderly_volume", server: "annex2", source: "production2", snapshot }, into);
    const contentOf = (stdout: string) => spawnSync("tar", ["-xOf", printedValue(stdout, "archive")!, "./report.txt"], { encoding: "utf8" }).stdout;

    // A push holds the copy's lock (exclusive) for two seconds: the export waits, then reads.
    const current = await step();
    const holder = spawn("flock", ["--exclusive", copy, "sleep", "2"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    const waited = await runStepLater(current);
    holder.kill();
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain(`a transfer is writing ${copy}; waiting for it to end`);
    expect(performance.now() - started).toBeGreaterThan(1000);
    expect(contentOf(waited.stdout)).toBe("current\n");
    expect(path.basename(printedValue(waited.stdout, "archive")!)).toMatch(/^production2-montagu_orderly_volume-\d{8}T\d{6}Z\.tar$/);

    const latest = runStep(await step("latest"));
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stderr).toContain("export: the newest snapshot is 20261127T010000Z");
    expect(contentOf(latest.stdout)).toBe("newer\n");
    const byName = runStep(await step("20261126T131500Z"));
    expect(contentOf(byName.stdout)).toBe("older\n");

    write(path.join(data, ".montagu", "unfinished", "production2", "montagu_orderly_volume"), "2026-11-27T02:00:00Z");
    const before = files(into);
    const unfinished = runStep(await step());
    expect(unfinished.code).toBe(3);
    expect(unfinished.stderr).toMatch(/export: refused: the last push into .*production2\/montagu_orderly_volume, started at 2026-11-27T02:00:00Z, did not finish: the copy holds part of it/);
    // A snapshot is whole whatever the copy holds.
    expect(runStep(await step("latest")).code).toBe(0);
    expect(files(into).filter((name) => !before.includes(name))).toHaveLength(2);

    fs.rmSync(copy, { recursive: true });
    fs.mkdirSync(copy);
    fs.rmSync(path.join(data, ".montagu", "unfinished"), { recursive: true });
    const emptied = runStep(await step());
    expect(emptied.code).toBe(3);
    expect(emptied.stderr).toMatch(/export: refused: .*production2\/montagu_orderly_volume is empty/);
  });

  it("export the prepared copy only once stamped, without the prepare's work", async () => {
    const recover = volumeDir("barman_recover");
    write(path.join(recover, "base", "PG_VERSION"), "15\n");
    write(path.join(recover, ".montagu", "staging", "half"), "half a recovery\n");
    const into = path.join(archives, "prepared");
    fs.mkdirSync(into);
    const unstamped = runStep(await exportStep("annex2", { volume: "barman_recover" }, into));
    expect(unstamped.code).toBe(3);
    expect(unstamped.stderr).toMatch(/holds no finished copy \(\.barman-last-restore is missing/);
    write(path.join(recover, ".barman-last-restore"), "2026-11-26T12:00:00Z\n");
    const stamped = runStep(await exportStep("annex2", { volume: "barman_recover" }, into));
    expect(stamped.code, stamped.stderr).toBe(0);
    expect(path.basename(printedValue(stamped.stdout, "archive")!)).toMatch(/^annex2-barman_recover-/);
    const members = spawnSync("tar", ["-tf", printedValue(stamped.stdout, "archive")!], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort();
    expect(members).toEqual(["./", "./.barman-last-restore", "./base/", "./base/PG_VERSION"]);
  });

  describe("import", () => {
    let tar = "";
    const copyOfTar = (name: string, change?: (bytes: Buffer) => Buffer, sums?: (sum: string) => string) => {
      const file = path.join(path.dirname(tar), name);
      const bytes = fs.readFileSync(tar);
      fs.writeFileSync(file, change === undefined ? bytes : change(bytes));
      const sum = fs.readFileSync(`${tar}.sha256`, "utf8").split(" ")[0];
      fs.writeFileSync(`${file}.sha256`, sums === undefined ? `${sum}  ${name}\n` : sums(sum));
      return file;
    };
    const volumes = () => fs.readdirSync(path.join(engine, "volumes")).sort();

    it("refuses a damaged tar before making anything", async () => {
      tar = path.join(archives, "local", files(path.join(archives, "local"))[0]);
      const damaged = copyOfTar("damaged.tar", (bytes) => {
        bytes[1000] ^= 0xff;
        return bytes;
      });
      const before = volumes();
      const refused = runStep(await importStep(damaged, "orderly_damaged"));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain("damaged.tar: FAILED");
      expect(refused.stderr).toContain(`import: refused: damaged.tar does not match its checksum in ${damaged}.sha256: it is damaged, or not the file its export wrote; nothing was imported`);
      expect(volumes()).toEqual(before);
    });

    it("refuses a tar without its checksum, or with another file's", async () => {
      const lone = copyOfTar("lone.tar");
      fs.rmSync(`${lone}.sha256`);
      expect(runStep(await importStep(lone, "orderly_lone")).stderr).toContain(`import: refused: ${lone}.sha256 is missing`);
      const other = copyOfTar("other.tar", undefined, (sum) => `${sum}  ${path.basename(tar)}\n`);
      const refused = runStep(await importStep(other, "orderly_other"));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`is not one line '<sha256>  other.tar', the checksum of this file`);
      const twoLines = copyOfTar("two.tar", undefined, (sum) => `${sum}  two.tar\n${sum}  two.tar\n`);
      expect(runStep(await importStep(twoLines, "orderly_two")).code).toBe(3);
      expect(volumes()).not.toContain("orderly_lone");
    });

    it("removes the volume it made when the tar does not unpack, and fails", async () => {
      // Its checksum matches: it was cut short before the checksum was taken.
      const truncated = copyOfTar("truncated.tar", (bytes) => bytes.subarray(0, 50_000), () => "");
      fs.writeFileSync(`${truncated}.sha256`, spawnSync("sha256sum", ["truncated.tar"], { cwd: path.dirname(truncated), encoding: "utf8" }).stdout);
      const failed = runStep(await importStep(truncated, "orderly_truncated"));
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("import: truncated.tar did not unpack into orderly_truncated (exit 2)");
      expect(failed.stderr).toContain("import: removed volume orderly_truncated, which this import had made (it did not exist before: nothing is lost)");
      expect(volumes()).not.toContain("orderly_truncated");
    });

    it("refuses a volume that exists, naming it, and leaves it as it was", async () => {
      write(path.join(volumeDir("orderly_existing"), "mine.txt"), "keep me\n");
      const before = listing(volumeDir("orderly_existing"));
      const refused = runStep(await importStep(tar, "orderly_existing"));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(
        "import: refused: volume orderly_existing already exists on this engine: an import makes a new volume, and never writes into one that exists; name another volume, or remove this one if nothing needs it",
      );
      expect(listing(volumeDir("orderly_existing"))).toEqual(before);
      // One an import made says so.
      const again = runStep(await importStep(tar, "orderly_copy"));
      expect(again.stderr).toContain(`volume orderly_copy already exists on this engine (an import of ${path.basename(tar)} made it; if that import did not finish, remove it with 'docker volume rm orderly_copy')`);
    });

    it("refuses a volume that a running container uses, naming the container, and leaves it as it was", async () => {
      write(path.join(volumeDir("orderly_in_use"), "live.txt"), "in use\n");
      write(path.join(engine, "running", "montagu-orderly"), "orderly_in_use\n");
      const before = listing(volumeDir("orderly_in_use"));
      const refused = runStep(await importStep(tar, "orderly_in_use"));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(
        "import: refused: running containers use volume orderly_in_use: 'montagu-orderly'; this step does not stop them: stop them, and run the update again. orderly_in_use is left as it is",
      );
      expect(listing(volumeDir("orderly_in_use"))).toEqual(before);
      fs.rmSync(path.join(engine, "running"), { recursive: true });
    });
  });
});
