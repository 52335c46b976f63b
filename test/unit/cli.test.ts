import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LockHolder } from "../../cli/engine";
import { main } from "../../cli/main";
import { type BackupHostReader, type BarmanBackup, barmanBackupsFrom, barmanOffsiteBackupsFrom, DockerReader, type HistorySnapshot, type OffsiteSnapshot, offsiteSnapshotsFrom } from "../../cli/reader";
import { stackInfo } from "../../cli/roles";
import { backupFor } from "../../cli/runbook";
import { StackFiles } from "../../cli/stackFiles";
import { SimulatedEngine } from "../../simulator/cliEngine";
import { commandHandlers } from "../../simulator/harness/applier/commands";
import { DockerCli } from "../../simulator/harness/docker";
import { PROJECT_DIR } from "../../simulator/harness/stackConfig";
import type { RegisteredResource, ResourceProvider } from "../../simulator/harness/run";
import { BARMAN_CLOUD_BACKUP_LIST, BARMAN_LIST_BACKUPS, BARMAN_SHOW_BACKUP, OFFSITE_BARMAN_LIST_LONDON_SUMMER, RESTIC_SNAPSHOTS } from "../fixtures/realOutput";
import { deterministicProvider } from "./snapshot/declared";

// montagu-backup's verbs on copies of the committed stack files, run by the simulator's engine
// with providers that create nothing: what each writes, in which order it updates, and every
// refusal (which must leave the files and the engine untouched).

const STACKS = ["annex2", "production2", "uat", "science"];
const NOW = new Date("2026-12-05T03:00:00Z");
const BACKUPS: BarmanBackup[] = [
  { id: "20261203T010001", status: "DONE", begin: "2026-12-03T01:00:01Z", end: "2026-12-03T01:20:00Z" },
  { id: "20261204T010001", status: "DONE", begin: "2026-12-04T01:00:01Z", end: "2026-12-04T01:20:00Z" },
];
const SNAPSHOTS: HistorySnapshot[] = [
  { name: "20261204T120000Z", size: 10, files: 1 },
  { name: "20261205T000000Z", size: 10, files: 1 },
];

let dir: string;
let files: StackFiles;
let stdout: string;
let stderr: string;
let locks: Map<string, LockHolder>;
/** The resource whose creation fails, once, on that stack: a fault mid-update. */
let fault: { stack: string; name: RegExp } | undefined;
let engine: SimulatedEngine;

const OFFSITE_SNAPSHOTS: OffsiteSnapshot[] = [
  { id: "1a2b3c4d", time: "2026-12-04T03:00:05Z", size: 2048, files: 3 },
  { id: "5e6f7a8b", time: "2026-12-05T03:00:04Z", size: 4096, files: 4 },
];
/** The off-site reads list made: the stack (by its engine) and the container each went to. */
let offsiteReads: string[];

const reader: BackupHostReader = {
  barmanBackups: async () => BACKUPS,
  barmanOffsiteBackups: async () => BACKUPS.slice(0, 1),
  offsiteSnapshots: async (stack, container, client, volume) => {
    offsiteReads.push(`${stack.name} ${container} ${client}/${volume}`);
    return OFFSITE_SNAPSHOTS;
  },
  snapshots: async () => SNAPSHOTS,
  preparedAt: async () => "2026-12-04T09:00:00Z",
};

function providerFor(stack: string): ResourceProvider {
  return {
    ...deterministicProvider,
    async create(resource: RegisteredResource) {
      if (fault !== undefined && fault.stack === stack && fault.name.test(resource.name)) {
        fault = undefined;
        throw new Error("rsync: connection unexpectedly closed");
      }
      return deterministicProvider.create(resource);
    },
  };
}

const cli = (...argv: string[]) =>
  main(argv, {
    files,
    engine,
    reader,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    confirm: async () => false,
    now: () => NOW,
  });
const texts = () => Object.fromEntries(STACKS.map((stack) => [stack, files.text(stack)]));
const config = (stack: string) => files.config(stack);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "montagu-cli-"));
  for (const stack of STACKS) fs.copyFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), path.join(dir, `Pulumi.${stack}.yaml`));
  fs.copyFileSync(path.join(PROJECT_DIR, "privateer.json"), path.join(dir, "privateer.json"));
  files = new StackFiles(dir);
  stdout = "";
  stderr = "";
  locks = new Map();
  fault = undefined;
  offsiteReads = [];
  engine = new SimulatedEngine({ files, provider: providerFor, locks });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("montagu-backup refuses bad input, saying why, and changes nothing", () => {
  const refused = async (argv: string[], message: RegExp) => {
    const before = texts();
    expect(await cli(...argv)).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/Nothing was changed/);
    expect(texts()).toEqual(before);
    expect(engine.calls).toEqual([]);
    expect(fs.existsSync(path.join(dir, ".montagu-backup"))).toBe(false);
  };

  it("an unknown stack, naming those there are", () =>
    refused(["restore", "uta", "--yes"], /no stack 'uta': the stacks are annex2, production2, science, uat/));

  it("a verb on the wrong kind of stack", async () => {
    await refused(["restore", "annex2", "--yes"], /'restore annex2' refused: annex2 is not a restore target \(it is the backup host\); restore takes science, uat/);
    await refused(["prepare", "uat", "--yes"], /'prepare uat' refused: uat is not a backup host .*prepare takes annex2/);
    await refused(["backup", "annex2", "--yes"], /'backup annex2' refused: annex2 is not a primary .*backup takes production2/);
  });

  it("--at in the future, naming the earliest and latest reachable", () =>
    refused(["restore", "uat", "--at", "2026-12-05T04:00:00Z", "--yes"], /--at 2026-12-05T04:00:00Z is in the future: the earliest reachable is 2026-12-03T01:20:00Z, the latest is now \(2026-12-05T03:00:00.000Z\)/));

  it("--at before every backup's end, naming the earliest and latest reachable", () =>
    refused(["restore", "uat", "--at", "2026-12-03T01:10:00Z", "--yes"], /--at 2026-12-03T01:10:00Z is before every backup's end: the earliest reachable is 2026-12-03T01:20:00Z, the latest is now/));

  it("--at without a zone", () => refused(["prepare", "annex2", "--at", "2026-12-04T09:00:00", "--yes"], /is not a time with its zone/));

  it("a snapshot that does not exist, listing those that do", () =>
    refused(["restore", "uat", "--snapshot", "20261204T130000Z", "--yes"], /no snapshot '20261204T130000Z' of production2\/montagu_orderly_volume on annex2: those there are: 20261204T120000Z, 20261205T000000Z/));

  it("a stack being updated by someone else, naming who and since when", async () => {
    locks.set("production2", { who: "alice@laptop (pid 4242)", since: "2026-12-05T02:55:00Z" });
    await refused(["restore", "uat", "--yes"], /stack 'production2' is being updated by alice@laptop \(pid 4242\) since 2026-12-05T02:55:00Z/);
  });

  it("a volume the restore does not take", () => refused(["restore", "uat", "--volume", "montagu_nope", "--yes"], /--volume montagu_nope: not among the volumes uat restores/));

  it("an unknown option", async () => {
    expect(await cli("restore", "uat", "--when", "now")).toBe(2);
    expect(stderr).toMatch(/Unknown option '--when'/);
    expect(engine.calls).toEqual([]);
  });

  it("--from offsite --at where barman sends nothing off-site", () =>
    refused(["prepare", "annex2", "--from", "offsite", "--at", "2026-12-04T09:00:00Z", "--yes"], /--from offsite prepares from barman's backups in the bucket, and annex2's barman sends none there \(no barman.offsite\)/));

  it("a restore a stack refuses (from off-site, with no off-site store): its preview fails saying why and the files are put back", async () => {
    const before = texts();
    expect(await cli("restore", "uat", "--from", "offsite", "--yes")).toBe(2);
    expect(stderr).toMatch(/the preview of stack 'annex2' failed, so nothing ran:\n.*montagu-backup:prepareRestore.from: needs barman.offsite/s);
    expect(texts()).toEqual(before);
    expect(engine.calls.map((c) => c.kind)).not.toContain("update");
  });

  it("asked and declined: the ids it wrote to preview are taken back", async () => {
    const before = texts();
    expect(await cli("restore", "uat")).toBe(1);
    expect(engine.calls.map((c) => `${c.kind} ${c.stack}`)).toEqual(["preview annex2", "preview production2", "preview uat"]);
    expect(texts()).toEqual(before);
    expect(stdout).toMatch(/Nothing was changed/);
  });
});

describe("montagu-backup restore", () => {
  it("writes a new id into each of the three stack files, every comment and setting kept", async () => {
    const before = texts();
    expect(await cli("restore", "uat", "--yes"), stderr).toBe(0);
    const id = "20261205T030000Z";
    expect(config("annex2")["montagu-backup:prepareRestore"]).toEqual({ id });
    expect(config("production2")["montagu-backup:privateer"]).toEqual({
      backup: {
        id,
        volumes: [
          { volume: "montagu_orderly_volume", server: "annex2" },
          { volume: "montagu_outpack_volume", server: "annex2" },
          { volume: "montagu_packit_db_backup", server: "annex2" },
        ],
      },
    });
    expect(config("uat")["montagu-backup:restore"]).toEqual({
      id,
      volumes: [
        { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
        { volume: "montagu_orderly_volume", server: "annex2", source: "production2" },
        { volume: "montagu_outpack_volume", server: "annex2", source: "production2" },
        { volume: "montagu_packit_db_backup", server: "annex2", source: "production2" },
      ],
    });
    // Only added: every line each file had is still there, in its order, comments included.
    for (const stack of ["annex2", "production2", "uat"]) {
      const after = files.text(stack).split("\n");
      let at = 0;
      for (const line of before[stack].split("\n").filter((l) => l !== "")) {
        at = after.indexOf(line, at);
        expect(at, `${stack}: '${line}'`).toBeGreaterThanOrEqual(0);
      }
    }
    expect(files.text("annex2")).toMatch(/# One slot per barman instance: two instances on one slot lose WAL\./);
    expect(texts().science).toBe(before.science);
  });

  it("previews the three stacks first, then prepares, pushes and restores, in that order", async () => {
    expect(await cli("restore", "uat", "--yes")).toBe(0);
    expect(engine.calls.map((c) => `${c.kind} ${c.stack}`)).toEqual([
      "preview annex2",
      "preview production2",
      "preview uat",
      "update annex2",
      "update production2",
      "update uat",
    ]);
    // Each update ran with the ids written: what the next `pulumi up` of each stack sees too.
    expect((engine.calls[3].config["montagu-backup:prepareRestore"] as { id: string }).id).toBe("20261205T030000Z");
    expect(stdout).toMatch(/1\. prepare on annex2 \(id 20261205T030000Z\)/);
    expect(stdout).toMatch(/restore on uat: done in/);
  });

  it("to a point in time: the backup that ended before it, and the time, on the prepare", async () => {
    expect(await cli("restore", "uat", "--at", "2026-12-04T09:00:00Z", "--yes"), stderr).toBe(0);
    expect(config("annex2")["montagu-backup:prepareRestore"]).toEqual({ id: "20261205T030000Z", targetTime: "2026-12-04T09:00:00Z", backup: "20261204T010001" });
  });

  it("from a history snapshot: no push, every volume from that snapshot", async () => {
    expect(await cli("restore", "uat", "--snapshot", "20261204T120000Z", "--yes"), stderr).toBe(0);
    expect(engine.calls.filter((c) => c.kind === "update").map((c) => c.stack)).toEqual(["annex2", "uat"]);
    const volumes = (config("uat")["montagu-backup:restore"] as { volumes: { volume: string; snapshot?: string }[] }).volumes;
    expect(volumes.map((v) => `${v.volume} ${v.snapshot ?? "-"}`)).toEqual([
      "barman_recover -",
      "montagu_orderly_volume 20261204T120000Z",
      "montagu_outpack_volume 20261204T120000Z",
      "montagu_packit_db_backup 20261204T120000Z",
    ]);
  });

  it("stops at a failed step naming the stack, the step and --resume, which runs only what did not finish, with the ids written", async () => {
    fault = { stack: "uat", name: /./ };
    expect(await cli("restore", "uat", "--yes")).toBe(1);
    expect(stderr).toMatch(/the restore step on stack 'uat' failed: .*rsync: connection unexpectedly closed/s);
    expect(stderr).toMatch(/montagu-backup restore --resume uat/);
    const written = texts();
    const updates = () => engine.calls.filter((c) => c.kind === "update").map((c) => c.stack);
    expect(updates()).toEqual(["annex2", "production2", "uat"]);

    // A minute later: the resumed run must not take a new id, or the prepare would run again.
    const later = new Date(NOW.getTime() + 60_000);
    const resumed = await main(["restore", "--resume", "--yes"], { files, engine, reader, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => later });
    expect(resumed, stderr).toBe(0);
    expect(updates()).toEqual(["annex2", "production2", "uat", "uat"]);
    expect(stdout).toMatch(/prepare on annex2: done already \(id 20261205T030000Z\), not run again/);
    expect(texts()).toEqual(written);
    const journal = JSON.parse(fs.readFileSync(path.join(dir, ".montagu-backup", "restore-uat.json"), "utf8"));
    expect(journal.steps.map((s: { status: string }) => s.status)).toEqual(["done", "done", "done"]);
  });

  it("refuses to resume when a stack file's id was changed since", async () => {
    fault = { stack: "production2", name: /./ };
    expect(await cli("restore", "uat", "--yes")).toBe(1);
    files.set("production2", ["montagu-backup:privateer", "backup", "id"], "someone-else");
    expect(await cli("restore", "--resume", "uat", "--yes")).toBe(2);
    expect(stderr).toMatch(/Pulumi.production2.yaml has montagu-backup:privateer.backup.id "someone-else", not this run's 20261205T030000Z/);
  });

  it("stops when cancelled (Ctrl-C), the ids kept for --resume", async () => {
    const controller = new AbortController();
    let aborted = false;
    const slow = new SimulatedEngine({
      files,
      locks,
      provider: (stack) => ({
        ...deterministicProvider,
        async create(resource: RegisteredResource) {
          if (stack === "production2" && !aborted) {
            aborted = true;
            controller.abort();
          }
          return deterministicProvider.create(resource);
        },
      }),
    });
    const code = await main(["restore", "uat", "--yes"], { files, engine: slow, reader, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => NOW, signal: controller.signal });
    expect(code).toBe(1);
    expect(stderr).toMatch(/the push step on stack 'production2' failed: cancelled \(Ctrl-C\)/);
    expect(slow.calls.filter((c) => c.kind === "update").map((c) => c.stack)).toEqual(["annex2", "production2"]);
    expect((config("uat")["montagu-backup:restore"] as { id: string }).id).toBe("20261205T030000Z");
  });
});

describe("montagu-backup prepare and backup", () => {
  it("prepare sets a new id and prints the prepared copy's time", async () => {
    expect(await cli("prepare", "annex2", "--yes"), stderr).toBe(0);
    expect(config("annex2")["montagu-backup:prepareRestore"]).toEqual({ id: "20261205T030000Z" });
    expect(stdout).toMatch(/prepare on annex2: done in .*prepared copy at/);
  });

  it("a second prepare within the same second still gets a new id", async () => {
    expect(await cli("prepare", "annex2", "--yes")).toBe(0);
    expect(await cli("prepare", "annex2", "--yes")).toBe(0);
    expect((config("annex2")["montagu-backup:prepareRestore"] as { id: string }).id).toBe("20261205T030000Z-2");
  });

  it("backup pushes the volumes named, to the backup host's server", async () => {
    expect(await cli("backup", "production2", "--volume", "montagu_orderly_volume", "--yes"), stderr).toBe(0);
    expect(parse(files.text("production2")).config["montagu-backup:privateer"]).toEqual({
      backup: { id: "20261205T030000Z", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] },
    });
  });
});

describe("montagu-backup status", () => {
  const backup = (id: string, state: string, age: number) => ({ id, schedule: "@daily", state, age_seconds: age, stale_after_seconds: 93600, last_success: "2026-12-05T01:00:00Z", offsite: null });
  const status = (answer: () => Promise<unknown>, ...argv: string[]) =>
    main(["status", ...argv], { files, engine, reader, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => NOW, freshness: answer });

  it("exits 0 when every backup is fresh, one line each", async () => {
    expect(await status(async () => ({ monitor_ok: true, backups: [backup("barman-montagu", "fresh", 3600), backup("production2/montagu_orderly_volume", "fresh", 7200)] }))).toBe(0);
    expect(stdout).toMatch(/annex2 +barman-montagu +fresh +60 min of 26\.0 h +@daily/);
    expect(stdout).toMatch(/production2\/montagu_orderly_volume +fresh/);
  });

  it("exits 1 once one is late, and says which", async () => {
    expect(await status(async () => ({ monitor_ok: true, backups: [backup("barman-montagu", "fresh", 3600), backup("production2/montagu_orderly_volume", "late", 100000)] }))).toBe(1);
    expect(stdout).toMatch(/production2\/montagu_orderly_volume +late +27\.8 h of 26\.0 h/);
  });

  it("exits 1 when the monitor cannot be read or has stopped checking", async () => {
    expect(await status(async () => { throw new Error("connection refused"); })).toBe(1);
    expect(stdout).toMatch(/\(the monitor\) +unreadable +connection refused/);
    stdout = "";
    expect(await status(async () => ({ monitor_ok: false, checked_at: "2026-12-04T01:00:00Z", backups: [] }))).toBe(1);
    expect(stdout).toMatch(/not checking +last check 2026-12-04T01:00:00Z/);
  });

  it("--json: the monitors' answers and whether anything is late", async () => {
    expect(await status(async () => ({ monitor_ok: true, backups: [backup("barman-montagu", "late", 100000)] }), "--json")).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ late: true, monitors: [{ stack: "annex2", backups: [{ id: "barman-montagu", state: "late" }] }] });
  });
});

describe("barman's and restic's real output, as list and --at read it", () => {
  it("barman's backups: the end from list-backups, the begin, size and WAL from show-backup", () => {
    expect(barmanBackupsFrom(BARMAN_LIST_BACKUPS, [BARMAN_SHOW_BACKUP])).toEqual([
      { id: "20261205T060502", status: "DONE", begin: "2026-12-05T06:05:02Z", end: "2026-12-05T06:05:03Z", size: 31604681, beginWal: "000000010000000000000004", endWal: "000000010000000000000004", lastWal: "000000010000000000000005" },
    ]);
  });

  it("a backup under way (barman lists only its id and status) reaches nothing: --at before the first end is refused", () => {
    // What barman 3.4's JSON writer lists for a backup whose copy is not done (output.py, result_list_backup).
    const listed = JSON.parse(BARMAN_LIST_BACKUPS) as { montagu: Record<string, unknown>[] };
    listed.montagu.push({ backup_id: "20261205T070000", status: "STARTED" });
    const backups = barmanBackupsFrom(JSON.stringify(listed), [BARMAN_SHOW_BACKUP]);
    expect(backups[1]).toEqual({ id: "20261205T070000", status: "STARTED", begin: undefined, end: undefined, size: undefined, beginWal: undefined, endWal: undefined, lastWal: undefined });
    const now = new Date("2026-12-05T08:00:00Z");
    expect(() => backupFor("2026-12-05T06:05:00Z", backups, now)).toThrow(/before every backup's end: the earliest reachable is 2026-12-05T06:05:03Z/);
    expect(backupFor("2026-12-05T07:30:00Z", backups, now)).toBe("20261205T060502");
  });

  it("barman's backups off-site: each time from its _iso twin, with its zone; barman-cloud 3.4's zone-less ctime() alone is refused", () => {
    expect(() => barmanOffsiteBackupsFrom(BARMAN_CLOUD_BACKUP_LIST)).toThrow(/barman-cloud's begin_time of backup 20261205T060502 is 'Sat Dec  5 06:05:02 2026', without its zone/);
    // The same backup as montagu-offsite-barman list gives it: its backup.info's times (show-backup's) beside.
    const listed = JSON.parse(BARMAN_CLOUD_BACKUP_LIST) as { backups_list: Record<string, unknown>[] };
    Object.assign(listed.backups_list[0], { begin_time_iso: "2026-12-05T06:05:02.542430+00:00", end_time_iso: "2026-12-05T06:05:03.204866+00:00" });
    expect(barmanOffsiteBackupsFrom(JSON.stringify(listed))).toEqual([
      { id: "20261205T060502", status: "DONE", begin: "2026-12-05T06:05:02Z", end: "2026-12-05T06:05:03Z", size: 31604681, beginWal: "000000010000000000000004", endWal: "000000010000000000000004" },
    ]);
  });

  it("a PostgreSQL in London in summer: its backups' times off-site are UTC an hour before its wall clock, and --at picks by them", () => {
    const backups = barmanOffsiteBackupsFrom(OFFSITE_BARMAN_LIST_LONDON_SUMMER);
    expect(backups.map((b) => [b.id, b.begin, b.end])).toEqual([
      ["20260705T060502", "2026-07-05T06:05:02Z", "2026-07-05T06:05:03Z"],
      ["20260705T070002", "2026-07-05T07:00:02Z", "2026-07-05T07:00:03Z"],
    ]);
    const now = new Date("2026-12-05T08:00:00Z");
    // Read as UTC, the wall clock (08:00:03) would put the second backup after 07:30 and the first after 06:30.
    expect(backupFor("2026-07-05T07:30:00Z", backups, now)).toBe("20260705T070002");
    expect(backupFor("2026-07-05T06:30:00Z", backups, now)).toBe("20260705T060502");
    expect(backupFor("2026-07-05T08:30:00+01:00", backups, now)).toBe("20260705T070002");
  });

  it("a time without its zone is refused wherever it is read: show-backup's without its epoch, barman-cloud's _iso without an offset", () => {
    const shown = JSON.parse(BARMAN_SHOW_BACKUP) as { montagu: { base_backup_information: Record<string, unknown> } };
    Object.assign(shown.montagu.base_backup_information, { begin_time: "2026-12-05 06:05:02.542430", begin_time_timestamp: undefined });
    expect(() => barmanBackupsFrom(BARMAN_LIST_BACKUPS, [JSON.stringify(shown)])).toThrow(/show-backup's begin_time of 20261205T060502 is '2026-12-05 06:05:02.542430', not a time with its zone/);
    const listed = JSON.parse(OFFSITE_BARMAN_LIST_LONDON_SUMMER) as { backups_list: Record<string, unknown>[] };
    listed.backups_list[1].end_time_iso = "2026-07-05T08:00:03.010223";
    expect(() => barmanOffsiteBackupsFrom(JSON.stringify(listed))).toThrow(/end_time of backup 20260705T070002 is '2026-07-05T08:00:03.010223', not a time with its zone/);
  });

  it("a volume's restic snapshots off-site: short id, time, and the bytes and files the copy read", () => {
    expect(offsiteSnapshotsFrom(RESTIC_SNAPSHOTS)).toEqual([{ id: "3a197838", time: "2026-12-05T06:06:16Z", size: 20990202, files: 1002 }]);
    expect(offsiteSnapshotsFrom("[]")).toEqual([]);
  });
});

describe("progress: each step's lines as the update prints them", () => {
  it("reach the terminal while the step still runs, between its start and its end; none with --json", async () => {
    const seenWhileRunning: boolean[] = [];
    const listeners = new Set<(line: string) => void>();
    const streaming = new SimulatedEngine({
      files,
      locks,
      provider: (stack) => ({
        ...deterministicProvider,
        listen(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        async create(resource: RegisteredResource) {
          if (stack === "uat" && resource.type === "command:local:Command" && resource.name === "restore-stop") {
            for (const listener of listeners) listener("  restore-stop: stopping montagu-db");
            // A tick for the line to travel; the step has not returned yet.
            await new Promise((resolve) => setImmediate(resolve));
            seenWhileRunning.push(stdout.includes("uat:   restore-stop: stopping montagu-db"));
          }
          return deterministicProvider.create(resource);
        },
      }),
    });
    const run = (...argv: string[]) => main(argv, { files, engine: streaming, reader, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => NOW });
    expect(await run("restore", "uat", "--yes"), stderr).toBe(0);
    expect(seenWhileRunning).toEqual([true]);
    const at = (text: string) => stdout.indexOf(text);
    expect(at("uat:  +  command:local:Command restore-stop creating")).toBeGreaterThan(at("restore on uat: started"));
    expect(at("uat:   restore-stop: stopping montagu-db")).toBeGreaterThan(at("uat:  +  command:local:Command restore-stop creating"));
    expect(at("uat:  +  command:local:Command restore-stop created")).toBeGreaterThan(at("uat:   restore-stop: stopping montagu-db"));
    expect(at("restore on uat: done in")).toBeGreaterThan(at("uat:  +  command:local:Command restore-stop created"));

    stdout = "";
    expect(await run("restore", "uat", "--yes", "--json"), stderr).toBe(0);
    expect(seenWhileRunning).toEqual([true, false]);
    expect(JSON.parse(stdout).steps).toHaveLength(3);
  });

  it("a command's lines are logged as it prints them, not when it ends", async () => {
    const flag = path.join(dir, "seen-first");
    const lines: string[] = [];
    const log = (line: string) => {
      lines.push(line);
      if (line.endsWith("first")) fs.writeFileSync(flag, "");
    };
    const handler = commandHandlers({ docker: new DockerCli("unix:///nonexistent.sock"), log, requireVault: () => { throw new Error("no vault"); } })["command:local:Command"];
    // The script waits (up to 5 s) for its first line to have been logged before printing its second.
    const script = `echo first; for i in $(seq 100); do [ -e '${flag}' ] && break; sleep 0.05; done; [ -e '${flag}' ] || { echo 'first line not seen while running' >&2; exit 1; }; echo second`;
    const resource = { name: "progress", type: "command:local:Command" } as RegisteredResource;
    await expect(handler.create({ create: script }, resource)).resolves.toEqual({ stdout: "first\nsecond", stderr: "" });
    expect(lines).toEqual(["running progress", "  progress: first", "  progress: second"]);
  });
});

describe("montagu-backup list: the off-site copies too", () => {
  const STORE = { endpoint: "https://s3.eu-west-2.amazonaws.com", bucket: "montagu-offsite", credentialsVaultPath: "secret/vimc/backup/offsite" };
  const ORDERLY = "montagu_orderly_volume";
  beforeEach(() => {
    files.set("annex2", ["montagu-backup:barman", "offsite"], {});
    files.set("annex2", ["montagu-backup:offsite"], { store: STORE });
    files.set("production2", ["montagu-backup:offsite"], { store: STORE, passwordVaultPath: "secret/vimc/backup/offsite-password", volumes: [{ volume: ORDERLY }] });
  });

  it("each volume's restic snapshots, read where the copies are made, and barman's backups in the bucket", async () => {
    expect(await cli("list", "--json"), stderr).toBe(0);
    const [annex2] = JSON.parse(stdout) as { barman: { offsite: { backups: BarmanBackup[] } }; volumes: { volume: string; offsite?: { stack: string; container: string; snapshots: OffsiteSnapshot[] } }[] }[];
    expect(annex2.barman.offsite.backups.map((b) => b.id)).toEqual(["20261203T010001"]);
    expect(annex2.volumes.find((v) => v.volume === ORDERLY)?.offsite).toEqual({ stack: "production2", container: "montagu-offsite", snapshots: OFFSITE_SNAPSHOTS });
    // Only the volume copied off-site is asked about, in production2's container.
    expect(annex2.volumes.filter((v) => v.offsite !== undefined)).toHaveLength(1);
    expect(offsiteReads).toEqual([`production2 montagu-offsite production2/${ORDERLY}`]);

    stdout = "";
    expect(await cli("list", ORDERLY), stderr).toBe(0);
    expect(stdout).toMatch(/annex2: barman's backups off-site: 1\nid +status +begin +end +size +WAL +last WAL\n20261203T010001 +DONE/);
    expect(stdout).toMatch(new RegExp(`production2/${ORDERLY} off-site, copied by production2's montagu-offsite: 2 snapshots\\nsnapshot +time +size +files\\n1a2b3c4d +2026-12-04T03:00:05Z +2048 B +3\\n5e6f7a8b`));
  });

  it("prepare --from offsite --at starts from the bucket's backup before that time, not barman's own newer one", async () => {
    // The store's keys, as vault has them, for the barman container's declaration.
    const withKeys: ResourceProvider = {
      ...deterministicProvider,
      invoke: async (token, args) => (args.path === STORE.credentialsVaultPath ? { data: { access_key_id: "AKIAEXAMPLE", secret_access_key: "s3-secret" } } : deterministicProvider.invoke(token, args)),
    };
    const prepare = (at: string) =>
      main(["prepare", "annex2", "--from", "offsite", "--at", at, "--yes"], { files, engine: new SimulatedEngine({ files, provider: () => withKeys }), reader, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => NOW });
    // barman has 20261203 and 20261204; the bucket only 20261203 (the newer one not sent yet).
    expect(await prepare("2026-12-04T09:00:00Z"), stderr).toBe(0);
    expect(config("annex2")["montagu-backup:prepareRestore"]).toEqual({ id: "20261205T030000Z", targetTime: "2026-12-04T09:00:00Z", backup: "20261203T010001", from: "offsite" });
    expect(await prepare("2026-12-03T01:10:00Z")).toBe(2);
    expect(stderr).toMatch(/--at 2026-12-03T01:10:00Z is before every backup's end: the earliest reachable is 2026-12-03T01:20:00Z/);
  });

  it("prepare --from offsite --at refuses, changing nothing, when the bucket's times come without their zone", async () => {
    const zoneless: BackupHostReader = { ...reader, barmanOffsiteBackups: async () => barmanOffsiteBackupsFrom(BARMAN_CLOUD_BACKUP_LIST) };
    const before = JSON.stringify(config("annex2"));
    const code = await main(["prepare", "annex2", "--from", "offsite", "--at", "2026-12-05T02:00:00Z", "--yes"], { files, engine, reader: zoneless, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => NOW });
    expect(code).toBe(2);
    expect(stderr).toMatch(/begin_time of backup 20261205T060502 is 'Sat Dec  5 06:05:02 2026', without its zone[^]*Nothing was changed/);
    expect(JSON.stringify(config("annex2"))).toBe(before);
    expect(engine.calls).toEqual([]);
  });

  it("a store it cannot read: named, the exit 1, and everything else still listed", async () => {
    const failing: BackupHostReader = { ...reader, offsiteSnapshots: async () => { throw new Error("Fatal: unable to open repository: connection refused"); } };
    const code = await main(["list"], { files, engine, reader: failing, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm: async () => false, now: () => NOW });
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`could not read production2/${ORDERLY} off-site \\(in production2's montagu-offsite\\): Fatal: unable to open repository`));
    expect(stdout).toMatch(new RegExp(`production2/${ORDERLY} off-site, copied by production2's montagu-offsite: unreadable: Fatal`));
    expect(stdout).toMatch(/annex2: barman's backups off-site: 1/);
    expect(stdout).toMatch(/production2\/montagu_outpack_volume: 2 history snapshots/);
  });

  it("reads through each stack's Docker host, in the containers that hold the secrets: none on a command line", async () => {
    // A stand-in docker that records its arguments and environment's DOCKER_HOST, and answers as the containers do.
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(
      path.join(bin, "docker"),
      `#!/bin/sh\necho "$DOCKER_HOST $*" >> '${dir}/docker.log'\ncase "$3" in\n  montagu-offsite-barman) echo '{"backups_list": []}' ;;\n  montagu-offsite) echo '[]' ;;\nesac\n`,
      { mode: 0o755 },
    );
    const withPath = process.env.PATH;
    process.env.PATH = `${bin}:${withPath}`;
    files.set("annex2", ["docker:host"], "ssh://annex2.example");
    files.set("production2", ["docker:host"], "ssh://production2.example");
    try {
      const docker = new DockerReader();
      expect(await docker.offsiteSnapshots(stackInfo(files, "production2"), "montagu-offsite", "production2", ORDERLY)).toEqual([]);
      expect(await docker.barmanOffsiteBackups(stackInfo(files, "annex2"))).toEqual([]);
    } finally {
      process.env.PATH = withPath;
    }
    expect(fs.readFileSync(path.join(dir, "docker.log"), "utf8").trim().split("\n")).toEqual([
      `ssh://production2.example exec montagu-offsite montagu-offsite snapshots production2 ${ORDERLY}`,
      "ssh://annex2.example exec barman-montagu montagu-offsite-barman list",
    ]);
  });
});
