import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../simulator/harness/eventually";
import type { StackConfig } from "../../simulator/harness/stackConfig";
import type { SimulatedHost } from "../../simulator/rig/hosts";
import { dataCentre } from "../../simulator/dataCentre";
import { inVolume, manifest, seedVolume } from "../../simulator/volumes";
import { type FaultRow, writeFaultRows } from "./table";

// `pulumi destroy` then `pulumi up` of each stack: every data volume and what it holds is still
// there after the destroy, and after the up the system works again from where it was.

const TOPOLOGY = "test/fixtures/privateer.json";
const VOLUME = "montagu_orderly_volume";
const COPY = `production2/${VOLUME}`;
const COUNT_QUERY = "SELECT count(*) FROM ack";

const rows: FaultRow[] = [];

describe("pulumi destroy then pulumi up of each stack", () => {
  const settings: Record<string, StackConfig> = {
    annex2: {
      "montagu-backup:privateer": { keys: { generate: true } },
      "montagu-backup:barman": { slot: "barman", database: { host: "production2", port: 5432 }, passwordGroup: "fake", verify: { database: "montagu", query: COUNT_QUERY } },
    },
    production2: { "montagu-backup:standInPrimary": { port: 5432, passwordGroup: "fake" } },
    uat: {},
  };
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY, settings });
  const { vault, hosts, appliers } = centre;
  let pushes = 0;
  let restores = 0;
  const up = (machine: string) => {
    const extra: StackConfig =
      machine === "production2"
        ? { "montagu-backup:privateer": { backup: { id: `push-${pushes}`, volumes: [{ volume: VOLUME, server: "annex2" }] } } }
        : machine === "uat"
          ? { "montagu-backup:restore": { id: `restore-${restores}`, volumes: [{ volume: VOLUME, server: "annex2", source: "production2" }] } }
          : {};
    return centre.up(machine, extra);
  };
  const destroy = (machine: string) => appliers[machine].finish([]);
  const sql = (query: string) =>
    hosts.production2.docker.out("exec", "montagu-db", "runuser", "-u", "postgres", "--", "psql", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const committed = async () => Number(await sql(COUNT_QUERY));
  const barman = (...args: string[]) => hosts.annex2.docker.run(["exec", "barman-montagu", "barman", ...args], { allowFailure: true });
  const doneBackups = async () => {
    const listed = JSON.parse((await barman("-f", "json", "list-backups", "montagu")).stdout).montagu as { backup_id: string; status: string }[];
    return listed.filter((b) => b.status === "DONE").map((b) => b.backup_id);
  };
  const rowsInBarman = async () => {
    const night = await hosts.annex2.docker.run(["exec", "barman-montagu", "montagu-prepare", "nightly", "/nightly"], { allowFailure: true });
    expect(night.code, night.stderr).toBe(0);
    return Number(/verified in [0-9.]+s: (\d+)/.exec(night.stderr)?.[1]);
  };
  const checkAllOk = () =>
    eventually("barman check all OK", 240, async () => {
      await barman("cron");
      const check = await barman("check", "montagu");
      return check.code === 0 ? check.stdout : undefined;
    });
  const volumes = async (host: SimulatedHost) => (await host.docker.out("volume", "ls", "--quiet")).split("\n").filter(Boolean).sort();
  const containers = async (host: SimulatedHost) => (await host.docker.out("ps", "--all", "--format", "{{.Names}}")).split("\n").filter(Boolean).sort();
  const snapshots = async () =>
    (await inVolume(hosts.annex2, "privateer_montagu_data", `ls .montagu/history/${COPY}`, true)).split("\n").filter((name) => /^\d{8}T\d{6}Z$/.test(name));
  /** What each data volume on `host` holds, volume by volume. */
  const contents = async (host: SimulatedHost, names: string[]) => Object.fromEntries(await Promise.all(names.map(async (v) => [v, await manifest(host, v)] as const)));

  beforeAll(async () => {
    await centre.start();
    await up("annex2");
    await seedVolume(hosts.production2, VOLUME, 50);
    await up("production2");
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    await up("uat");
    await sql("CREATE TABLE ack (id bigserial PRIMARY KEY)");
    await sql("INSERT INTO ack SELECT FROM generate_series(1, 1000)");
    await eventually("barman's first base backup", 300, async () => ((await doneBackups()).length > 0 ? true : undefined));
    await checkAllOk();
  });

  afterAll(() => writeFaultRows("3-stacks", rows));

  it("production2: the primary's data, the volumes it pushes; pushes resume, barman streams again", async () => {
    const dataVolumes = ["montagu_primary_data", VOLUME];
    const before = { volumes: await contents(hosts.production2, [VOLUME]), rows: await committed() };
    await destroy("production2");
    const left = await volumes(hosts.production2);
    expect(left).toEqual(expect.arrayContaining(dataVolumes));
    expect(await containers(hosts.production2)).toEqual([]);
    expect(await contents(hosts.production2, [VOLUME])).toEqual(before.volumes);

    pushes += 1;
    await up("production2");
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    await eventually("the primary answering", 120, async () => ((await committed().catch(() => undefined)) === before.rows ? true : undefined));
    await sql("INSERT INTO ack SELECT FROM generate_series(1, 1000)");
    expect(await manifest(hosts.annex2, "privateer_montagu_data", COPY)).toBe(before.volumes[VOLUME]);
    await checkAllOk();
    expect(await rowsInBarman()).toBe(await committed());
    rows.push({
      fault: "`pulumi destroy` then `pulumi up` of production2",
      observed: `the destroy removes its containers and keeps ${left.length} volumes, among them the primary's data (${before.rows} rows) and ${VOLUME}, unchanged file for file`,
      next: "the up starts the primary on its data (every row there), pushes again (the server's copy identical to the volume), and barman streams from it again: check all OK, a recovery holds every committed row",
    });
  });

  it("uat: the restored volume; the restore with the same id runs again, to the same result", async () => {
    const before = await manifest(hosts.uat, VOLUME);
    expect(before).toBe(await manifest(hosts.annex2, "privateer_montagu_data", COPY));
    await destroy("uat");
    expect(await volumes(hosts.uat)).toContain(VOLUME);
    expect(await manifest(hosts.uat, VOLUME)).toBe(before);
    await up("uat");
    expect(await manifest(hosts.uat, VOLUME)).toBe(before);
    rows.push({
      fault: "`pulumi destroy` then `pulumi up` of uat",
      observed: `the destroy keeps ${VOLUME}, unchanged file for file`,
      next: "the up, its state gone, runs the restore of the same id again, which leaves the volume identical to the server's copy",
    });
  });

  it("annex2: barman's store and the server's copies and history; barman streams from where it was, pushes resume", async () => {
    const kept = ["barman_data", "barman_logs", "barman_metrics", "barman_recover", "montagu_db_volume", "privateer_montagu_data"];
    const before = { backups: await doneBackups(), snapshots: await snapshots(), server: await manifest(hosts.annex2, "privateer_montagu_data", COPY) };
    const keysBefore = JSON.stringify([...vault.secrets.entries()].sort());
    await destroy("annex2");
    expect(await containers(hosts.annex2)).toEqual([]);
    const left = await volumes(hosts.annex2);
    expect(left).toEqual(expect.arrayContaining(kept));
    expect(await manifest(hosts.annex2, "privateer_montagu_data", COPY)).toBe(before.server);
    // The primary keeps writing while its backup host is away; the slot keeps the WAL.
    await sql("INSERT INTO ack SELECT FROM generate_series(1, 1000)");
    await sql("SELECT pg_switch_wal()");

    await up("annex2");
    const check = await checkAllOk();
    expect(check).not.toMatch(/FAILED/);
    expect(await doneBackups()).toEqual(expect.arrayContaining(before.backups));
    expect(await rowsInBarman()).toBe(await committed());
    expect(await snapshots()).toEqual(expect.arrayContaining(before.snapshots));
    const keysChanged = JSON.stringify([...vault.secrets.entries()].sort()) !== keysBefore;

    // The clients push and restore again: after their own update if the keys changed.
    await seedVolume(hosts.production2, VOLUME, 60);
    pushes += 1;
    await up("production2");
    expect(await manifest(hosts.annex2, "privateer_montagu_data", COPY)).toBe(await manifest(hosts.production2, VOLUME));
    restores += 1;
    await up("uat");
    expect(await manifest(hosts.uat, VOLUME)).toBe(await manifest(hosts.production2, VOLUME));
    rows.push({
      fault: "`pulumi destroy` then `pulumi up` of annex2",
      observed:
        `the destroy removes its containers and keeps ${left.length} volumes: barman's store (${before.backups.length} base backups), the server's copies and their ${before.snapshots.length} snapshots, unchanged; ` +
        `the keys in vault are ${keysChanged ? "replaced by the up, which generates new ones" : "kept"}`,
      next:
        "the up starts barman on its store: the same base backups, WAL written meanwhile received from the slot, check all OK, a recovery holds every committed row; " +
        "the next update of production2 and of uat pushes and restores again",
    });
  });
});
