import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { validated } from "../fixtures/validate";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { type RegisteredResource, runStack } from "../../simulator/harness/run";

type Json = any;

function topology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [
      {
        name: "production2",
        backup: ["montagu_orderly_volume", "montagu_packit_db_backup"],
        schedule: { jobs: [{ server: "annex2", volume: "montagu_orderly_volume", schedule: "0 2 * * *" }] },
      },
      { name: "uat" },
    ],
    volumes: [{ name: "montagu_orderly_volume" }, { name: "montagu_packit_db_backup" }, { name: "barman_recover", local: true }],
  };
}

const STORE = { endpoint: "https://s3.eu-west-2.amazonaws.com", region: "eu-west-2", bucket: "montagu-offsite", credentialsVaultPath: "secret/vimc/backup/offsite" };
const OFFSITE = { store: STORE, passwordVaultPath: "secret/vimc/backup/offsite-password" };
const problems = (config: Json): string[] => validated(topology(), config).problems;

const SECRETS: Record<string, Record<string, string>> = {
  "secret/vimc/backup/offsite": { access_key_id: "AKIAEXAMPLE", secret_access_key: "s3-secret" },
  "secret/vimc/backup/offsite-password": { password: "repository-password" },
};

async function declared(machine: string, config: Record<string, unknown>): Promise<RegisteredResource[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "offsite-"));
  fs.writeFileSync(path.join(dir, "privateer.json"), JSON.stringify(topology()));
  const cwd = process.cwd();
  try {
    const run = await runStack(
      machine,
      { "montagu-backup:topology": path.join(dir, "privateer.json"), "montagu-backup:machines": [machine], "montagu-backup:privateer": { keys: { generate: true } }, ...config },
      dryProvider({ "vault:generic/getSecret:getSecret": (args) => ({ data: SECRETS[String(args.path)] ?? {} }) }),
    );
    return run.resources;
  } finally {
    process.chdir(cwd);
    fs.rmSync(dir, { recursive: true });
  }
}

describe("off-site copies, as configured", () => {
  it("refuses a store that is not one, a volume no client here pushes, a copy twice, no schedule to follow, and no daily snapshot kept", () => {
    expect(
      problems({
        machines: ["production2"],
        offsite: {
          ...OFFSITE,
          store: { ...STORE, endpoint: "s3.amazonaws.com; rm -rf /", bucket: "Montagu_Offsite", prefix: "montagu/../other" },
          passwordVaultPath: "password",
          keep: { daily: 0 },
          check: { readDataSubset: "half" },
          volumes: [
            { volume: "montagu_orderly_volume" },
            { volume: "montagu_orderly_volume", client: "production2" },
            { volume: "elsewhere" },
            { volume: "montagu_packit_db_backup" },
            { volume: "montagu_orderly_volume", client: "uat" },
          ],
        },
      }),
    ).toEqual([
      "montagu-backup:offsite.store.endpoint: 's3.amazonaws.com; rm -rf /' is not an S3 endpoint such as https://s3.eu-west-2.amazonaws.com or http://minio.internal:9000",
      "montagu-backup:offsite.store.bucket: 'Montagu_Offsite' is not an S3 bucket name: it holds more than lower-case letters, digits, '.' and '-'",
      "montagu-backup:offsite.store.prefix: 'montagu/../other' is not a prefix such as montagu or backups/montagu (no leading or trailing '/', no '.' or '..' part)",
      "montagu-backup:offsite.passwordVaultPath: 'password' is not a vault path such as secret/vimc/backup/offsite",
      "montagu-backup:offsite.keep.daily: keep at least 1 daily snapshot: the newest copy is always kept",
      "montagu-backup:offsite.check.readDataSubset: 'half' is not a share such as 5%",
      "montagu-backup:offsite.volumes[1].volume: 'montagu_orderly_volume' of 'production2' is already copied off-site by offsite.volumes[0]",
      "montagu-backup:offsite.volumes[2].volume: no client of this stack backs up 'elsewhere': only a volume a client pushes is copied off-site",
      "montagu-backup:offsite.volumes[3].schedule: give a schedule: 'production2' has no scheduled push of 'montagu_packit_db_backup' to follow",
      "montagu-backup:offsite.volumes[4].client: 'uat' is not a client of this stack that backs up 'montagu_orderly_volume'",
    ]);
    expect(problems({ machines: ["production2"], offsite: { ...OFFSITE, volumes: [{ volume: "montagu_orderly_volume" }, { volume: "montagu_packit_db_backup", schedule: "0 3 * * *" }] } })).toEqual([]);
  });

  it("refuses a restore from off-site without a store, from a server as well, of a server-local volume, or of a snapshot that is not restic's", () => {
    const restore = (volumes: Json[], extra: Json = {}) => problems({ machines: ["uat"], restore: { id: "r1", volumes }, ...extra });
    expect(restore([{ volume: "montagu_orderly_volume", from: "offsite" }])).toEqual([
      "montagu-backup:restore.volumes[0].from: needs montagu-backup:offsite on this stack: its store and password are where the copies are read",
    ]);
    expect(
      restore(
        [
          { volume: "montagu_orderly_volume", from: "offsite", server: "annex2" },
          { volume: "montagu_orderly_volume", from: "offsite", snapshot: "20261126T131500Z", to: "other" },
          { volume: "barman_recover", from: "offsite", to: "recovered" },
          { volume: "montagu_orderly_volume", to: "third" },
        ],
        { offsite: OFFSITE },
      ),
    ).toEqual([
      "montagu-backup:restore.volumes[0].server: an off-site restore reads the bucket, not a server: leave server out",
      "montagu-backup:restore.volumes[1].snapshot: '20261126T131500Z' is not latest or an off-site snapshot's id such as 458ad4b9",
      "montagu-backup:restore.volumes[3].server: name the server whose copy is restored (or set from: offsite)",
      "montagu-backup:restore.volumes[2].volume: volume 'barman_recover' is local to the server: it has no off-site copy (restore it from its server)",
    ]);
    expect(restore([{ volume: "montagu_orderly_volume", from: "offsite", snapshot: "458ad4b9" }], { offsite: OFFSITE })).toEqual([]);
  });

  it("plans one repository per client and volume in the bucket, each copied on its push's schedule unless given one", () => {
    const { settings } = validated(topology(), {
      machines: ["production2"],
      offsite: { ...OFFSITE, store: { ...STORE, prefix: "backups/montagu" }, keep: { daily: 3, weekly: 2, monthly: 1 }, volumes: [{ volume: "montagu_orderly_volume" }, { volume: "montagu_packit_db_backup", schedule: "0 3 * * *" }] },
    });
    const plan = settings!.plan.offsite!;
    expect(plan.store.repositoryBase).toBe("s3:https://s3.eu-west-2.amazonaws.com/montagu-offsite/backups/montagu/volumes");
    expect(plan.copies).toEqual([
      { client: "production2", volume: "montagu_orderly_volume", schedule: "0 2 * * *", allowEmpty: false },
      { client: "production2", volume: "montagu_packit_db_backup", schedule: "0 3 * * *", allowEmpty: false },
    ]);
    expect(plan.keep).toEqual(["--keep-daily", "3", "--keep-weekly", "2", "--keep-monthly", "1"]);
  });
});

describe("barman's copies off-site, as configured and declared", () => {
  const BARMAN = { slot: "barman", database: { host: "production2" }, passwordGroup: "fake" };

  it("refuses barman's copies without a store, and volume copies without the repositories' password", () => {
    expect(problems({ machines: ["annex2"], barman: { ...BARMAN, offsite: {} } })).toEqual([
      "montagu-backup:barman.offsite: needs montagu-backup:offsite on this stack: its store is where barman's copies go",
    ]);
    expect(problems({ machines: ["annex2"], barman: { ...BARMAN, offsite: {} }, offsite: { store: STORE } })).toEqual([]);
    expect(problems({ machines: ["production2"], offsite: { store: STORE, volumes: [{ volume: "montagu_orderly_volume" }] } })).toEqual([
      "montagu-backup:offsite.passwordVaultPath: give the vault path of the volume repositories' password: volumes are copied or restored here",
    ]);
  });

  it("uploads on its schedule and thins the bucket to barman's own retention, with the store's keys as secret files", async () => {
    const resources = await declared("annex2", {
      "montagu-backup:barman": { ...BARMAN, retentionPolicy: "REDUNDANCY 3", offsite: { upload: "*/2 * * * *" } },
      "montagu-backup:offsite": { store: { ...STORE, prefix: "backups/montagu" } },
    });
    const container = resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "barman-montagu")!;
    expect(container.inputs.envs).toEqual(
      expect.arrayContaining([
        "BARMAN_OFFSITE_URL=s3://montagu-offsite/backups/montagu/barman",
        "BARMAN_OFFSITE_ENDPOINT=https://s3.eu-west-2.amazonaws.com",
        "BARMAN_OFFSITE_RETENTION=REDUNDANCY 3",
        "AWS_DEFAULT_REGION=eu-west-2",
      ]),
    );
    const upload = (file: string) => container.inputs.uploads.find((u: Json) => u.file === file)?.content;
    expect(upload("/etc/montagu/schedule.yml")).toContain("- name: offsite-upload\n    command: montagu-offsite-barman upload --for 50\n    schedule: \"*/2 * * * *\"\n");
    expect(upload("/etc/montagu/schedule.yml")).toContain("- name: offsite-retention\n    command: montagu-offsite-barman retention\n    schedule: 30 5 * * *\n");
    expect(upload("/run/montagu/secrets/s3-secret-access-key")).toBe("s3-secret");
    expect(JSON.stringify(container.inputs.envs)).not.toContain("s3-secret");
    // No restic where no volume is copied or restored.
    expect(resources.some((r) => r.name === "offsite-image")).toBe(false);
  });

  it("has the freshness monitor watch what barman sends off-site, late after barman's own allowance plus the upload's gap", () => {
    const { settings } = validated(topology(), { machines: ["annex2"], barman: { ...BARMAN, offsite: {} }, offsite: { store: STORE }, freshness: {} });
    const watched = Object.fromEntries(settings!.plan.freshness!.backups.map((b) => [b.id, b]));
    expect(watched["barman/offsite-wal"]).toMatchObject({ staleAfterSeconds: 3600 + 60, read: { kind: "timestamp-file", path: expect.stringMatching(/\/offsite-wal-last-upload$/) } });
    expect(watched["barman/offsite-base-backup"].staleAfterSeconds).toBe(watched["barman/base-backup"].staleAfterSeconds + 60);
    expect(validated(topology(), { machines: ["annex2"], barman: BARMAN, freshness: { staleAfter: { "barman/offsite-wal": "2h" } } }).problems).toEqual([
      "montagu-backup:freshness.staleAfter.barman/offsite-wal: 'barman/offsite-wal' is not a backup this stack watches (push/production2/montagu_orderly_volume, barman/wal, barman/base-backup, barman/nightly-recovery)",
    ]);
  });

  it("gives the freshness monitor the store's keys, as secret files, only when it watches volume copies there", async () => {
    const monitorOf = async (freshness: Json) => {
      const resources = await declared("annex2", { "montagu-backup:barman": BARMAN, "montagu-backup:offsite": { store: STORE }, "montagu-backup:freshness": freshness });
      return resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "montagu-freshness")!;
    };
    const watching = await monitorOf({ offsite: [{ client: "production2", volume: "montagu_orderly_volume" }] });
    const upload = (file: string) => watching.inputs.uploads.find((u: Json) => u.file === file)?.content;
    expect(upload("/run/montagu/secrets/s3-access-key-id")).toBe("AKIAEXAMPLE");
    expect(upload("/run/montagu/secrets/s3-secret-access-key")).toBe("s3-secret");
    expect(watching.secretInputs).toContain("uploads");
    expect(upload("/etc/montagu/freshness.json")).toContain('"prefix": "montagu/volumes/production2/montagu_orderly_volume/snapshots/"');
    expect(upload("/etc/montagu/freshness.json")).not.toContain("s3-secret");
    const notWatching = await monitorOf({});
    expect(notWatching.inputs.uploads.map((u: Json) => u.file)).toEqual(["/etc/montagu/freshness.json"]);
  });

  it("prepares from the bucket only where barman's copies go there, asking montagu-prepare for them", async () => {
    const prepare = { id: "p1", from: "offsite", targetTime: "2026-11-27T12:00:00Z" };
    expect(problems({ machines: ["annex2"], barman: BARMAN, offsite: { store: STORE }, prepareRestore: prepare })).toEqual([
      "montagu-backup:prepareRestore.from: needs barman.offsite (and montagu-backup:offsite's store): that is where barman's copies are read from",
    ]);
    const resources = await declared("annex2", {
      "montagu-backup:barman": { ...BARMAN, offsite: {} },
      "montagu-backup:offsite": { store: STORE },
      "montagu-backup:prepareRestore": prepare,
    });
    const recover = resources.find((r) => r.type === "command:local:Command" && r.name === "prepare-restore-recover")!;
    expect(recover.inputs.create).toContain("docker exec barman-montagu montagu-prepare recover /recover --backup latest --target-time '2026-11-27 12:00:00+00:00' --from-offsite");
  });
});

describe("off-site copies, as declared", () => {
  it("runs each copy and its weekly check on a schedule, with the volumes read-only and every key a secret", async () => {
    const resources = await declared("production2", {
      "montagu-backup:offsite": { ...OFFSITE, volumes: [{ volume: "montagu_orderly_volume" }], backup: { id: "now-1" } },
    });
    const container = resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "montagu-offsite")!;
    expect(container.inputs.networkMode).toBe("host");
    expect(container.inputs.envs).toContain("OFFSITE_REPOSITORY=s3:https://s3.eu-west-2.amazonaws.com/montagu-offsite/montagu/volumes");
    expect(container.inputs.envs).toContain("OFFSITE_KEEP=--keep-daily 7 --keep-weekly 4 --keep-monthly 6");
    expect(container.inputs.volumes).toContainEqual({ volumeName: "montagu_orderly_volume", containerPath: "/volumes/montagu_orderly_volume", readOnly: true });
    const upload = (file: string) => container.inputs.uploads.find((u: Json) => u.file === file).content;
    expect(upload("/etc/montagu/schedule.yml")).toContain("command: montagu-offsite backup production2 montagu_orderly_volume\n    schedule: 0 2 * * *\n");
    expect(upload("/etc/montagu/schedule.yml")).toContain("command: montagu-offsite check production2 montagu_orderly_volume 5%\n    schedule: 0 4 * * 0\n");
    expect(upload("/run/montagu/secrets/restic-password")).toBe("repository-password");
    expect(upload("/run/montagu/secrets/s3-secret-access-key")).toBe("s3-secret");
    expect(container.secretInputs).toContain("uploads");
    expect(JSON.stringify(container.inputs.envs)).not.toContain("s3-secret");
    const onDemand = resources.find((r) => r.type === "command:local:Command" && r.name === "offsite-backup")!;
    expect(onDemand.inputs.triggers).toEqual(["now-1"]);
    expect(onDemand.inputs.create).toContain("set -- montagu-offsite production2 montagu_orderly_volume refuse-empty");
    expect(onDemand.dependencies.some((urn) => urn.endsWith("offsite-container"))).toBe(true);
  });

  it("restores from off-site after every source is checked and what uses the volume is stopped, the secrets handed on by name only", async () => {
    const resources = await declared("uat", {
      "montagu-backup:offsite": OFFSITE,
      "montagu-backup:restore": { id: "restore-1", stop: ["orderly"], start: ["orderly"], volumes: [{ volume: "montagu_orderly_volume", from: "offsite", snapshot: "458ad4b9" }] },
    });
    const named = (name: string) => resources.find((r) => r.type === "command:local:Command" && r.name === name)!;
    const check = named("restore-check-offsite-montagu_orderly_volume");
    const copy = named("restore-offsite-montagu_orderly_volume");
    const stop = named("restore-stop");
    expect(check.inputs.create).toContain("montagu_orderly_volume 458ad4b9 montagu_orderly_volume refuse-empty check");
    expect(copy.inputs.create).toContain("montagu_orderly_volume 458ad4b9 montagu_orderly_volume refuse-empty restore");
    expect(stop.dependencies).toContain(check.urn);
    // The copy's component registers, and so its steps start, only once the stop has finished.
    const copier = resources.find((r) => r.type === "montagu:backup:OffsiteRestore" && r.name === "restore-offsite")!;
    expect(copier.dependencies).toContain(stop.urn);
    for (const step of [check, copy]) {
      expect(step.inputs.environment.RESTIC_PASSWORD).toBe("repository-password");
      expect(step.secretInputs).toContain("environment");
      expect(step.inputs.create).not.toContain("repository-password");
      expect(step.inputs.triggers).toEqual(["restore-1"]);
    }
    expect(resources.some((r) => r.inputs.name === "montagu-offsite")).toBe(false);
  });
});

describe("montagu-offsite, against a restic that records what it is asked", () => {
  // A stand-in for restic: each call is a line in calls.log; a repository exists once `init`
  // made it (exit 10 before, as restic 0.17+ says it), and RESTIC_FAKE_EXIT makes every call
  // that opens it fail with that code (12: a wrong password).
  const FAKE_RESTIC = `#!/usr/bin/env bash
echo "$*" >> "$FAKE_DIR/calls.log"
[ -z "\${RESTIC_FAKE_EXIT:-}" ] || exit "$RESTIC_FAKE_EXIT"
if [ "$1" = init ]; then touch "$FAKE_DIR/repository"; exit 0; fi
[ -e "$FAKE_DIR/repository" ] || { echo "Fatal: repository does not exist" >&2; exit 10; }
case "$1" in
  backup) echo '{"message_type":"summary","data_added":0,"total_bytes_processed":4,"snapshot_id":"0123456789abcdef"}' ;;
  snapshots) echo '[{"short_id":"01234567"}]' ;;
esac
`;

  function offsite(args: string[], env: Record<string, string> = {}, { repository = true } = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "offsite-sh-"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "restic"), FAKE_RESTIC, { mode: 0o755 });
    fs.mkdirSync(path.join(dir, "volumes", "vol"), { recursive: true });
    fs.writeFileSync(path.join(dir, "volumes", "vol", "file"), "data");
    if (repository) fs.writeFileSync(path.join(dir, "repository"), "");
    const result = spawnSync("bash", ["images/offsite/offsite.sh", ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        FAKE_DIR: dir,
        OFFSITE_STATE: path.join(dir, "state"),
        OFFSITE_VOLUMES: path.join(dir, "volumes"),
        OFFSITE_REPOSITORY: "s3:http://s3.example/bucket/montagu/volumes",
        RESTIC_PASSWORD: "password",
        AWS_ACCESS_KEY_ID: "id",
        AWS_SECRET_ACCESS_KEY: "secret",
        OFFSITE_KEEP: "--keep-daily 7 --keep-weekly 4",
        ...env,
      },
    });
    const read = (file: string) => (fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), "utf8") : "");
    const lines = read("calls.log").trim().split("\n").filter(Boolean);
    const recorded = read("state/status/production2.vol.status");
    const stateMade = fs.existsSync(path.join(dir, "state"));
    fs.rmSync(dir, { recursive: true });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr, lines, calls: lines.map((line) => line.split(" ")[0]), recorded, stateMade };
  }

  it("copies with one restic command, each open of the repository costing as much as an unchanged copy's work", () => {
    const copied = offsite(["backup", "production2", "vol"]);
    expect(copied.stderr).toBe("");
    expect(copied.code).toBe(0);
    expect(copied.calls).toEqual(["backup"]);
    expect(copied.recorded).toMatch(/^time=.*\nsnapshot=01234567\nbytes=4\n$/);
  });

  it("makes the repository only when restic says there is none, and never over one that does not open", () => {
    const first = offsite(["backup", "production2", "vol"], {}, { repository: false });
    expect(first.code).toBe(0);
    expect(first.calls).toEqual(["backup", "init", "backup"]);
    expect(first.stdout).toContain("new repository");

    const wrongPassword = offsite(["backup", "production2", "vol"], { RESTIC_FAKE_EXIT: "12" });
    expect(wrongPassword.code).toBe(1);
    expect(wrongPassword.calls).toEqual(["backup"]);
    expect(wrongPassword.stderr).toContain("restic backup failed (exit 12)");
    expect(wrongPassword.recorded).toBe("");
  });

  it("lists the snapshots for montagu-backup list writing nothing: no lock of restic's or its own, no cache, [] before the first copy", () => {
    const listed = offsite(["snapshots", "production2", "vol"]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([{ short_id: "01234567" }]);
    expect(listed.lines).toHaveLength(1);
    expect(listed.lines[0]).toMatch(/^snapshots --no-lock --no-cache --json --host production2 --path \S+\/volumes\/vol$/);
    expect(listed.stateMade).toBe(false);

    const none = offsite(["snapshots", "production2", "vol"], {}, { repository: false });
    expect([none.code, JSON.parse(none.stdout)]).toEqual([0, []]);
    const wrongPassword = offsite(["snapshots", "production2", "vol"], { RESTIC_FAKE_EXIT: "12" });
    expect(wrongPassword.code).toBe(12);
  });

  it("forgets by the retention, and frees the space, in the weekly check rather than after each copy", () => {
    const checked = offsite(["check", "production2", "vol", "5%"]);
    expect(checked.code).toBe(0);
    expect(checked.calls).toEqual(["cat", "forget", "check"]);
    expect(checked.lines[1]).toMatch(/ --keep-daily 7 --keep-weekly 4 --prune /);
  });
});

describe("montagu-offsite-barman list, against a montagu-offsite-barman-list that records what it is asked", () => {
  it("asks the bucket with the container's own address and keys, none on its command line, and writes nothing", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "offsite-barman-"));
    try {
      fs.mkdirSync(path.join(dir, "bin"));
      fs.writeFileSync(path.join(dir, "bin", "montagu-offsite-barman-list"), `#!/bin/sh\necho "$*" > '${dir}/args'\necho "$AWS_SECRET_ACCESS_KEY" > '${dir}/key'\necho '{"backups_list": []}'\n`, { mode: 0o755 });
      fs.mkdirSync(path.join(dir, "secrets"));
      fs.writeFileSync(path.join(dir, "secrets", "s3-access-key-id"), "AKIAEXAMPLE");
      fs.writeFileSync(path.join(dir, "secrets", "s3-secret-access-key"), "s3-secret");
      const ledgerBefore = fs.existsSync("/var/lib/barman/offsite");
      const result = spawnSync("bash", ["images/barman/offsite.sh", "list"], {
        encoding: "utf8",
        env: { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, BARMAN_OFFSITE_URL: "s3://montagu-offsite/montagu/barman", BARMAN_OFFSITE_ENDPOINT: "http://s3.example:7070", SECRETS_DIR: path.join(dir, "secrets") },
      });
      expect(result.stderr).toBe("");
      expect([result.status, result.stdout]).toEqual([0, '{"backups_list": []}\n']);
      expect(fs.readFileSync(path.join(dir, "args"), "utf8")).toBe("--cloud-provider aws-s3 --endpoint-url http://s3.example:7070 --format json s3://montagu-offsite/montagu/barman montagu\n");
      // The key reached it by its environment, read from the container's secret file.
      expect(fs.readFileSync(path.join(dir, "key"), "utf8")).toBe("s3-secret\n");
      // Before the upload's lock and its ledger: a listing neither waits for an upload nor makes a file.
      expect(fs.existsSync("/var/lib/barman/offsite")).toBe(ledgerBefore);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("montagu-offsite-barman-list's times (images/barman/offsite_list.py, on this machine's python3)", () => {
  it("gives each backup.info time with its offset as ISO with that offset, UTC's too, and none for a time stored without one", () => {
    // backup.info's times as barman 3.4 writes them (str() of PostgreSQL's CURRENT_TIMESTAMP), under
    // TZ=UTC: there barman's own loader (dateutil) gives `+00:00` the local zone, as it does a
    // time without any, and an earlier version of this gave the rig's backups no _iso at all.
    const probe = `
import json, sys
sys.path.insert(0, "images/barman")
from offsite_list import backup_info_time, with_zones
class Info: pass
def listed(begin, end, **extra):
    i = Info()
    i.begin_time, i.end_time = backup_info_time(begin), backup_info_time(end)
    return with_zones({"begin_time": i.begin_time.ctime(), "end_time": i.end_time.ctime(), **extra}, i)
print(json.dumps([
    listed("2026-12-05 06:05:02.542430+00:00", "2026-12-05 06:05:03.204866+00:00"),
    listed("2026-07-05 07:05:02.542430+01:00", "2026-07-05 07:05:03+01:00"),
    listed("2026-07-05 07:05:02", "2026-07-05 07:05:03+01:00", begin_time_iso="2026-07-05T07:05:02+00:00"),
]))
`;
    const result = spawnSync("python3", ["-c", probe], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual([
      { begin_time: "Sat Dec  5 06:05:02 2026", begin_time_iso: "2026-12-05T06:05:02.542430+00:00", end_time: "Sat Dec  5 06:05:03 2026", end_time_iso: "2026-12-05T06:05:03.204866+00:00" },
      { begin_time: "Sun Jul  5 07:05:02 2026", begin_time_iso: "2026-07-05T07:05:02.542430+01:00", end_time: "Sun Jul  5 07:05:03 2026", end_time_iso: "2026-07-05T07:05:03+01:00" },
      // Without a zone: no _iso, even one barman would have made in this process's zone, so that montagu-backup refuses it.
      { begin_time: "Sun Jul  5 07:05:02 2026", end_time: "Sun Jul  5 07:05:03 2026", end_time_iso: "2026-07-05T07:05:03+01:00" },
    ]);
  });
});
