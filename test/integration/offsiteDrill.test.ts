import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main";
import { type BarmanBackup, DockerReader, type OffsiteSnapshot } from "../../cli/reader";
import { StackFiles } from "../../cli/stackFiles";
import { SimulatedEngine } from "../../simulator/cliEngine";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { PROJECT_DIR } from "../../simulator/harness/stackConfig";
import { cliBuilds } from "../../components/shared/dockerImage";
import { eventually } from "../../simulator/harness/eventually";
import type { StackConfig } from "../../simulator/harness/stackConfig";
import { dataCentre, logWhenVerbose } from "../../simulator/dataCentre";
import { freshnessMetrics } from "../../simulator/freshness";
import { type S3Server, startS3Server } from "../../simulator/rig/s3";
import { barmanStack, standInStack } from "../../simulator/stacks";
import { manifest, seedVolume } from "../../simulator/volumes";
import { CHECKSUM, POSTGRES_IMAGE } from "../fixtures/batches";

// The drill from the off-site bucket alone: production2 streams to barman on annex2, which sends
// WAL and base backups to a real S3 server, and production2 copies its volume there with restic;
// the freshness monitor on annex2 sees that copy in the bucket. Then annex2 is lost with every
// volume it had (barman's, the privateer server's), built again from its stack, prepares the
// database from the bucket, and uat restores the database from it and the volume from the
// bucket: every committed row and every file.

const TOPOLOGY = "test/fixtures/privateer.json";
const VOLUME = "montagu_orderly_volume";
const BUCKET = "montagu-offsite";
const COPY_ID = `offsite/production2/${VOLUME}`;
const CREDENTIALS = "secret/vimc/backup/offsite";
const PASSWORD = "secret/vimc/backup/offsite-password";
/** Daily, as a real copy would be; the test copies on demand, and no scheduled copy comes in its minutes. */
const COPY_SCHEDULE = "0 3 * * *";

describe("the drill from the off-site bucket alone: annex2 lost and built again, uat restored", () => {
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY, parallel: true, log: logWhenVerbose });
  const { hosts } = centre;
  let s3: S3Server;

  const store = () => ({ endpoint: s3.endpoint, bucket: BUCKET, credentialsVaultPath: CREDENTIALS });
  /** annex2 as its stack file would have it: barman sending off-site, the monitor watching production2's copy in the bucket. */
  const annex2Stack = (extra: StackConfig = {}): StackConfig => ({
    ...barmanStack("production2", { offsite: {} }),
    "montagu-backup:offsite": { store: store() },
    "montagu-backup:freshness": { checkEvery: "5s", offsite: [{ client: "production2", volume: VOLUME, schedule: COPY_SCHEDULE }] },
    ...extra,
  });
  const production2Stack = (extra: Record<string, unknown> = {}): StackConfig => ({
    ...standInStack(),
    "montagu-backup:offsite": { store: store(), passwordVaultPath: PASSWORD, volumes: [{ volume: VOLUME, schedule: COPY_SCHEDULE }], ...extra },
  });
  const primary = (query: string) =>
    hosts.production2.docker.out("exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const inBarman = (...words: string[]) => hosts.annex2.docker.run(["exec", "barman-montagu", ...words], { allowFailure: true });
  const inBucket = async (prefix: string) => s3.keys(BUCKET, prefix);
  let everything = "";

  beforeAll(async () => {
    await centre.start();
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    centre.vault.secrets.set(CREDENTIALS, { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey });
    centre.vault.secrets.set(PASSWORD, { password: "correct horse battery staple" });
    await seedVolume(hosts.production2, VOLUME, 20);
    await centre.up("annex2", annex2Stack());
    await centre.up("production2", production2Stack());
    // The topology's every-minute push goes to the annex2 this test destroys.
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    // montagu on uat, as its own deployment has it: a database on montagu_db_volume.
    for (const build of cliBuilds("postgres", POSTGRES_IMAGE)) await hosts.uat.docker.run(build, { env: { DOCKER_BUILDKIT: "0" } });
    await hosts.uat.docker.run(["run", "--detach", "--name", "montagu-db", "--volume", "montagu_db_volume:/pgdata", "--env", "PGPASSWORD=vimc", POSTGRES_IMAGE]);
    await centre.up("uat");
  });

  it("has in the bucket a base backup, the WAL after it and the volume's snapshot, the monitor on annex2 sees the copy there, and montagu-backup list shows them", async () => {
    await primary("CREATE TABLE batch (id serial PRIMARY KEY, payload text NOT NULL)");
    await primary("INSERT INTO batch (payload) SELECT md5('one' || g) FROM generate_series(1, 5000) g");
    await eventually("a base backup in the bucket", 300, async () => ((await inBucket("montagu/barman/montagu/base")).some((key) => key.endsWith("/backup.info")) ? true : undefined), 2_000);
    await primary("INSERT INTO batch (payload) SELECT md5('two' || g) FROM generate_series(1, 5000) g");
    everything = await primary(CHECKSUM);
    const switched = await inBarman("montagu-switch-wal", "60");
    const closed = /The WAL file (\w{24}) has been closed/.exec(switched.stdout)?.[1];
    expect(closed, switched.stdout + switched.stderr).toBeDefined();
    await eventually(`${closed} in the bucket`, 150, async () => ((await inBucket("montagu/barman/montagu/wals")).some((key) => key.includes(closed!)) ? true : undefined), 1_000);

    const copyStarted = Date.now() / 1000;
    await centre.up("production2", production2Stack({ backup: { id: "offsite-drill" } }));
    const snapshots = await inBucket(`montagu/volumes/production2/${VOLUME}/snapshots`);
    expect(snapshots.length).toBeGreaterThanOrEqual(1);
    // Read from the bucket by the monitor with the store's keys: the snapshot's time, fresh.
    const seen = await eventually("the copy fresh in the monitor", 60, async () => {
      const now = await freshnessMetrics(hosts.annex2);
      return now.montagu_backup_time_of_last_success?.[COPY_ID] !== undefined ? now : undefined;
    });
    expect(seen.montagu_backup_read_ok[COPY_ID]).toBe(1);
    expect(seen.montagu_backup_stale[COPY_ID]).toBe(0);
    expect(seen.montagu_backup_time_of_last_success[COPY_ID]).toBeGreaterThan(copyStarted - 5);
    expect(seen.montagu_backup_time_of_last_success[COPY_ID]).toBeLessThan(Date.now() / 1000 + 5);
    // A daily copy: late after 26 h.
    expect(seen.montagu_backup_stale_after_seconds[COPY_ID]).toBe(26 * 3600);

    // montagu-backup list, over stack files as these stacks have them: the volume's snapshot and
    // barman's backup in the bucket, read in the containers that hold the keys, none printed.
    const listStarted = performance.now();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "montagu-list-"));
    const files = new StackFiles(dir);
    for (const [machine, config] of [["annex2", annex2Stack()], ["production2", production2Stack()]] as const) {
      const stack = { "docker:host": hosts[machine].dockerHost, "montagu-backup:topology": path.join(PROJECT_DIR, TOPOLOGY), "montagu-backup:machines": [machine], ...config };
      fs.writeFileSync(files.file(machine), stringify({ config: stack }));
    }
    let out = "";
    let err = "";
    const listed = await main(["list", "--json"], { files, engine: new SimulatedEngine({ files, provider: () => dryProvider() }), reader: new DockerReader(), stdout: (t) => (out += t), stderr: (t) => (err += t), confirm: async () => false });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(listed, err).toBe(0);
    const [annex2] = JSON.parse(out) as { barman: { backups: BarmanBackup[]; offsite: { backups: BarmanBackup[] } }; volumes: { volume: string; offsite?: { stack: string; snapshots: OffsiteSnapshot[] } }[] }[];
    const orderly = annex2.volumes.find((v) => v.volume === VOLUME)!.offsite!;
    expect(orderly.stack).toBe("production2");
    expect(orderly.snapshots.map((s) => s.id).sort()).toEqual(snapshots.map((key) => key.split("/").pop()!.slice(0, 8)).sort());
    expect(Date.parse(orderly.snapshots[orderly.snapshots.length - 1].time) / 1000).toBeGreaterThan(copyStarted - 5);
    expect(orderly.snapshots[0].files).toBeGreaterThan(0);
    const inBucketIds = (await inBucket("montagu/barman/montagu/base")).filter((key) => key.endsWith("/backup.info")).map((key) => key.split("/").slice(-2)[0]);
    expect(annex2.barman.offsite.backups.map((b) => b.id).sort()).toEqual(inBucketIds.sort());
    // barman's own backups and the bucket's, every field read from the real tools' output.
    for (const backup of [...annex2.barman.backups.filter((b) => b.status === "DONE"), ...annex2.barman.offsite.backups]) {
      expect(backup).toMatchObject({ begin: expect.stringMatching(/^\d{4}-.*Z$/), end: expect.stringMatching(/^\d{4}-.*Z$/), beginWal: expect.stringMatching(/^[0-9A-F]{24}$/), endWal: expect.stringMatching(/^[0-9A-F]{24}$/) });
      expect(backup.size).toBeGreaterThan(1_000_000);
      expect(Date.parse(backup.end!)).toBeGreaterThanOrEqual(Date.parse(backup.begin!));
    }
    // The bucket's times (backup.info's, with their zone) are the very moments barman's epochs give.
    const sentOnes = annex2.barman.offsite.backups.filter((b) => annex2.barman.backups.some((own) => own.id === b.id));
    expect(sentOnes.length).toBeGreaterThan(0);
    for (const sent of sentOnes) {
      const own = annex2.barman.backups.find((b) => b.id === sent.id)!;
      expect([sent.begin, sent.end]).toEqual([own.begin, own.end]);
    }
    expect(annex2.barman.backups[0].lastWal).toMatch(/^[0-9A-F]{24}$/);
    for (const secret of [s3.secretAccessKey, "correct horse battery staple"]) expect(out + err).not.toContain(secret);
    console.log(`montagu-backup list, the bucket's copies among it: ${((performance.now() - listStarted) / 1000).toFixed(1)} s`);
  });

  it("builds annex2 again after it is lost with every volume, prepares the database from the bucket, and uat restores it and the volume: every row, every file", async () => {
    // pulumi destroy, then the machine's disks lost: nothing of barman's or the server's is left.
    await centre.appliers.annex2.finish([]);
    const annex2 = hosts.annex2.docker;
    const leftOver = (await annex2.out("ps", "--all", "--quiet")).split("\n").filter(Boolean);
    if (leftOver.length > 0) await annex2.run(["rm", "--force", ...leftOver]);
    const volumes = (await annex2.out("volume", "ls", "--quiet")).split("\n").filter(Boolean);
    expect(volumes).toEqual(expect.arrayContaining(["barman_data", "privateer_montagu_data"]));
    await annex2.run(["volume", "rm", ...volumes]);

    const started = performance.now();
    // Built again as a new machine would be: the keys from vault, where the first build left them.
    const rebuilt = await centre.up("annex2", annex2Stack({
      "montagu-backup:privateer": {},
      "montagu-backup:prepareRestore": { id: "from-the-bucket", from: "offsite", database: { image: "local" } },
    }));
    const rebuiltIn = (performance.now() - started) / 1000;
    expect((rebuilt.outputs.prepareRestore as { preparedAt: string }).preparedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const restoreStarted = performance.now();
    const restored = await centre.up("uat", {
      "montagu-backup:offsite": { store: store(), passwordVaultPath: PASSWORD },
      "montagu-backup:restore": {
        id: "from-the-bucket",
        volumes: [
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
          { volume: VOLUME, from: "offsite" },
        ],
        stop: ["montagu-db"],
        start: ["montagu-db"],
        verify: { container: "montagu-db", query: CHECKSUM },
      },
    });
    const restoredIn = (performance.now() - restoreStarted) / 1000;
    expect(everything).toMatch(/^10000 [0-9a-f]{32}$/);
    expect((restored.outputs.restore as { verification: string }).verification).toBe(everything);
    expect(await manifest(hosts.uat, VOLUME)).toBe(await manifest(hosts.production2, VOLUME));
    console.log(`off-site drill: annex2 rebuilt and the copy prepared from the bucket in ${rebuiltIn.toFixed(1)} s; uat restored (10,000 rows, the volume from restic) in ${restoredIn.toFixed(1)} s`);
  });
});
