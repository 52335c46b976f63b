import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { validated } from "../fixtures/validate";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { runStack } from "../../simulator/harness/run";

type Json = any;
const IMAGES = path.join(__dirname, "..", "..", "images");

function topology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [{ name: "production2", backup: ["montagu_dumps"], schedule: { jobs: [{ server: "annex2", volume: "montagu_dumps", schedule: "30 1 * * *" }] } }],
    volumes: [{ name: "montagu_dumps" }],
  };
}

function withProject<T>(use: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dumps-"));
  fs.writeFileSync(path.join(dir, "privateer.json"), JSON.stringify(topology()));
  try {
    return use(dir);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

const problems = (config: Json): string[] => validated(topology(), config).problems;

const DATABASES = [{ database: "packit", host: "localhost", port: 5433, user: "packituser" }];

describe("scheduled dumps, as configured", () => {
  it("refuses dumps that would never leave the machine, a database dumped twice, and a name that would break the dumps' names", () => {
    expect(problems({ machines: ["production2"], dumps: { volume: "elsewhere", name: "prod-2", databases: [...DATABASES, ...DATABASES] } })).toEqual([
      "montagu-backup:dumps.name: must be a name such as production2 ([A-Za-z0-9_.], at most 63; no '-', which separates the parts of a dump's name)",
      "montagu-backup:dumps.volume: no client on this stack backs up 'elsewhere': the dumps would never leave this machine",
      "montagu-backup:dumps.databases[1].database: 'packit' is dumped twice: each database once",
    ]);
    expect(problems({ machines: ["production2"], dumps: { databases: DATABASES } })).toEqual([]);
  });

  it("declares a kept volume, a dump job per database on the schedule, and the passwords as a secret .pgpass", async () => {
    const run = await withProject((dir) => {
      const cwd = process.cwd();
      return runStack(
        "production2",
        { "montagu-backup:topology": path.join(dir, "privateer.json"), "montagu-backup:machines": ["production2"], "montagu-backup:dumps": { schedule: "0 1 * * *", keep: { days: 3, weeks: 2 }, databases: [{ ...DATABASES[0], passwordGroup: "fake" }] } },
        dryProvider({ "vault:generic/getSecret:getSecret": () => ({ data: {} }) }),
      ).finally(() => process.chdir(cwd));
    });
    const volume = run.resources.find((r) => r.type === "docker:index/volume:Volume" && r.inputs.name === "montagu_dumps")!;
    expect(volume.retainOnDelete).toBe(true);
    const container = run.resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "montagu-dumps")!;
    expect(container.inputs.networkMode).toBe("host");
    const upload = (file: string) => container.inputs.uploads.find((u: Json) => u.file === file).content;
    expect(upload("/etc/montagu/schedule.yml")).toContain("command: montagu-dump /dumps packit production2 localhost 5433 packituser 3 2\n");
    expect(upload("/run/montagu/secrets/pgpass")).toBe("localhost:5433:packit:packituser:packituser\n");
    expect(container.secretInputs).toContain("uploads");
    const scheduler = run.resources.find((r) => r.name.endsWith("-scheduled-volumes"));
    expect(scheduler?.dependencies.some((urn) => urn.includes("Dumps"))).toBe(true);
  });
});

function python(code: string, env: Record<string, string> = {}) {
  const result = spawnSync("python3", ["-c", code], { encoding: "utf8", env: { ...process.env, ...env } });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
}

const LOAD = (file: string) => `import importlib.util, datetime as dt
spec = importlib.util.spec_from_file_location("m", ${JSON.stringify(path.join(IMAGES, file))})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
U = dt.timezone.utc
`;

describe("the dumps kept (images/dumps/dump.py)", () => {
  it("keeps the newest of each of the last N days and M ISO weeks, and always the newest", () => {
    const kept = python(`${LOAD("dumps/dump.py")}
now = dt.datetime(2026, 11, 27, 1, 0, tzinfo=U)  # a Friday
moments = [now - dt.timedelta(hours=12 * i) for i in range(80)]
print(" ".join(sorted(k.strftime("%m-%dT%H") for k in m.to_keep(moments, now, 7, 4))))
print(" ".join(sorted(k.strftime("%m-%dT%H") for k in m.to_keep([now - dt.timedelta(days=40)], now, 7, 4))))`);
    expect(kept.split("\n")).toEqual([
      // Seven days (27th back to 21st), then the newest of the three ISO weeks before this one.
      "11-08T13 11-15T13 11-21T13 11-22T13 11-23T13 11-24T13 11-25T13 11-26T13 11-27T01",
      // Older than every window, and still the newest: kept.
      "10-18T01",
    ]);
  });

  it("makes no dump and removes no good one when the database cannot be dumped, only what a killed run left", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dumps-"));
    try {
      const old = path.join(dir, "packit-production2-20200101T010000Z.dump");
      fs.writeFileSync(old, "old");
      fs.writeFileSync(`${old}.sha256`, "x");
      // A run killed while writing, and one killed between naming its dump and writing its checksum.
      fs.writeFileSync(path.join(dir, ".packit-production2-20200102T010000Z.dump.partial"), "half");
      fs.writeFileSync(path.join(dir, "packit-production2-20200103T010000Z.dump"), "never vouched for");
      // Another database's files are not this run's to tidy.
      fs.writeFileSync(path.join(dir, "other-production2-20200103T010000Z.dump"), "not mine");
      const result = spawnSync("python3", [path.join(IMAGES, "dumps", "dump.py"), dir, "packit", "production2", "127.0.0.1", "9", "nobody", "1", "0"], { encoding: "utf8" });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/montagu-dump: packit: no new dump, nothing removed: /);
      expect(fs.readdirSync(dir).sort()).toEqual([
        ".lock",
        "other-production2-20200103T010000Z.dump",
        "packit-production2-20200101T010000Z.dump",
        "packit-production2-20200101T010000Z.dump.sha256",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe("a dump's freshness on the backup host (images/freshness/monitor.py)", () => {
  it("is the newest dump its checksum still vouches for: a dump cut short since is no success", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dumps-"));
    try {
      const write = (stamp: string, content: string) => {
        const name = `packit-production2-${stamp}.dump`;
        fs.writeFileSync(path.join(dir, name), content);
        fs.writeFileSync(path.join(dir, `${name}.sha256`), `${crypto.createHash("sha256").update(content).digest("hex")}  ${name}\n`);
        return path.join(dir, name);
      };
      write("20261125T010000Z", "older dump");
      const newest = write("20261126T010000Z", "newest dump, whole");
      const read = () => python(`${LOAD("freshness/monitor.py")}
print(m.iso(m.read_verified_dump(${JSON.stringify(dir)}, "packit-production2-")))`);
      expect(read()).toBe("2026-11-26T01:00:00Z");
      fs.truncateSync(newest, 6);
      expect(read()).toBe("2026-11-25T01:00:00Z");
      // A dump without its checksum (one being written, or not verified) never counts.
      fs.writeFileSync(path.join(dir, "packit-production2-20261127T010000Z.dump"), "unverified");
      expect(read()).toBe("2026-11-25T01:00:00Z");
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
