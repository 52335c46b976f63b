import * as fs from "node:fs";
import { eventually } from "../../simulator/harness/eventually";
import { beforeAll, describe, expect, it } from "vitest";
import { cliBuilds, IMAGES_DIR } from "../../components/shared/dockerImage";
import { recoveryTargetTime } from "../../components/barman/prepareRestore";
import type { StackConfig } from "../../simulator/harness/stackConfig";
import type { SimulatedHost } from "../../simulator/rig/hosts";
import { dataCentre, logWhenVerbose } from "../../simulator/dataCentre";
import { inVolume, manifest, seedVolume } from "../../simulator/volumes";
import { CHECKSUM, NOW_UTC, POSTGRES_IMAGE } from "../fixtures/batches";

// The disaster-recovery runbook as stack updates: production2 streams to barman on annex2
// and pushes its volumes; annex2 prepares a copy; uat restores the database and the volumes.

const TOPOLOGY = "test/fixtures/privateer.json";
const PACKIT_ENV = ["MONTAGU_DB_NAME=packit", "MONTAGU_DB_OWNER=packituser"];
const PACKETS = "SELECT count(*) || ' ' || md5(string_agg(name, ',' ORDER BY id)) FROM packet";
const NIGHTLY = "/nightly";
/** Where montagu-prepare makes a copy before it takes the volume's place. */
const STAGING = ".montagu/staging";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


describe("the disaster-recovery drill", () => {
  const settings: Record<string, StackConfig> = {
    annex2: {
      "montagu-backup:privateer": { keys: { generate: true } },
      "montagu-backup:barman": { slot: "barman", database: { host: "production2", port: 5432 }, passwordGroup: "fake" },
    },
    production2: { "montagu-backup:standInPrimary": { port: 5432, passwordGroup: "fake" }, "montagu-backup:packitDump": {} },
    uat: {},
  };
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY, settings, log: logWhenVerbose });
  const { hosts, appliers, up } = centre;
  const lastRun = (machine: string) => appliers[machine].history[appliers[machine].history.length - 1];
  const primary = (query: string) =>
    hosts.production2.docker.out("exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const packit = (host: SimulatedHost, container: string, query: string) =>
    host.docker.out("exec", container, "psql", "-U", "packituser", "-d", "packit", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const inBarman = (...words: string[]) => hosts.annex2.docker.run(["exec", "barman-montagu", ...words], { allowFailure: true });
  /** What uat's database logged since `since`: a copy that was ready logs no recovery. */
  const uatDatabaseLogSince = async (since: string) => {
    const logs = await hosts.uat.docker.run(["logs", "--since", since, "montagu-db"]);
    return `${logs.stdout}${logs.stderr}`;
  };
  /**
   * A point-in-time copy in the nightly volume, recovered but not replayed, whose WAL arrives
   * a second a file: hot standby opens long before its recovery ends.
   */
  const slowUnreplayedCopy = async (targetTime: string) => {
    for (const step of [["wipe", NIGHTLY], ["recover", NIGHTLY, "--target-time", recoveryTargetTime(targetTime)]]) {
      const result = await inBarman("montagu-prepare", ...step);
      expect(result.code, result.stderr).toBe(0);
    }
    const slowed = await inBarman(
      "bash",
      "-c",
      `sed -i "s|^restore_command = .*|restore_command = 'sleep 1 \\&\\& cp barman_wal/%f %p'|" ${NIGHTLY}/${STAGING}/postgresql.auto.conf && grep -c 'sleep 1' ${NIGHTLY}/${STAGING}/postgresql.auto.conf`,
    );
    expect(slowed.stdout.trim()).toBe("1");
  };
  const restoreDatabase = (id: string) => ({
    "montagu-backup:restore": {
      id,
      volumes: [{ volume: "barman_recover", server: "annex2", to: "montagu_db_volume" }],
      stop: ["montagu-db"],
      start: ["montagu-db"],
      verify: { container: "montagu-db", query: CHECKSUM },
    },
  });

  let batchOne = "";
  let everything = "";
  let betweenBatches = "";

  beforeAll(async () => {
    await centre.start();
    await up("annex2");
    await seedVolume(hosts.production2, "montagu_orderly_volume", 20);
    await up("production2");
    // The fixture's every-minute schedule would race this test's own pushes of the same volume.
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    // montagu on uat, as its own deployment has it: a database on montagu_db_volume.
    for (const build of cliBuilds("postgres", POSTGRES_IMAGE)) await hosts.uat.docker.run(build, { env: { DOCKER_BUILDKIT: "0" } });
    await hosts.uat.docker.run(["run", "--detach", "--name", "montagu-db", "--volume", "montagu_db_volume:/pgdata", "--env", "PGPASSWORD=vimc", POSTGRES_IMAGE]);

    // Finished, not merely listed: rows written while it still runs precede its end, and a
    // point in time before a backup's end cannot be recovered from it.
    await eventually("barman's first base backup, finished", 240, async () => {
      const listed = await hosts.annex2.docker.run(["exec", "barman-montagu", "barman", "-f", "json", "list-backups", "montagu"], { allowFailure: true });
      const backups = JSON.parse(listed.stdout).montagu as { status?: string }[];
      return backups.some((b) => b.status === "DONE") ? true : undefined;
    });
    // packit's database on production2, as its deployment has it, with its dump volume at /pgbackup.
    await hosts.production2.docker.run(["run", "--detach", "--name", "montagu-packit-db", "--volume", "montagu_packit_db_backup:/pgbackup", ...PACKIT_ENV.flatMap((e) => ["--env", e]), POSTGRES_IMAGE]);
    await eventually("packit's database", 120, async () => (await packit(hosts.production2, "montagu-packit-db", "SHOW listen_addresses")) !== "" || undefined);
    await packit(hosts.production2, "montagu-packit-db", "CREATE TABLE packet (id serial PRIMARY KEY, name text); INSERT INTO packet (name) SELECT 'packet-' || g FROM generate_series(1, 300) g");

    await primary("CREATE TABLE batch (id serial PRIMARY KEY, payload text NOT NULL)");
    await primary("INSERT INTO batch (payload) SELECT md5('one' || g) FROM generate_series(1, 5000) g");
    batchOne = await primary(CHECKSUM);
    betweenBatches = await primary(NOW_UTC);
    await sleep(2_000);
    await primary("INSERT INTO batch (payload) SELECT md5('two' || g) FROM generate_series(1, 5000) g");
    everything = await primary(CHECKSUM);
  });

  it("brings every committed row and every file to uat, and the database there answers at once", async () => {
    await up("production2", { "montagu-backup:privateer": { backup: { id: "drill", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } } });
    const prepared = await up("annex2", { "montagu-backup:prepareRestore": { id: "drill", database: { image: "local" } } });
    expect((prepared.outputs.prepareRestore as { preparedAt: string }).preparedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const restored = await up("uat", {
      "montagu-backup:restore": {
        ...restoreDatabase("drill")["montagu-backup:restore"],
        volumes: [
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2" },
        ],
      },
    });
    expect(everything).toMatch(/^10000 [0-9a-f]{32}$/);
    expect((restored.outputs.restore as { verification: string }).verification).toBe(everything);
    const logs = await hosts.uat.docker.run(["logs", "montagu-db"]);
    // Started from a cleanly shut down copy: no WAL left to replay on the target.
    expect(`${logs.stdout}${logs.stderr}`.split("taking ownership of the restored copy").pop()).not.toMatch(/redo starts/);
    expect(await manifest(hosts.uat, "montagu_orderly_volume")).toBe(await manifest(hosts.production2, "montagu_orderly_volume"));
  });

  it("runs nothing when applied again with the same ids", async () => {
    await up("annex2", { "montagu-backup:prepareRestore": { id: "drill", database: { image: "local" } } });
    expect(lastRun("annex2").created).toEqual([]);
    expect(lastRun("annex2").updated).toEqual([]);
    expect(lastRun("annex2").replaced).toEqual([]);
    await up("uat", restoreDatabase("drill-db-only"));
    await up("uat", restoreDatabase("drill-db-only"));
    expect(lastRun("uat").created).toEqual([]);
    expect(lastRun("uat").updated).toEqual([]);
    expect(lastRun("uat").replaced).toEqual([]);
  });

  it("recovers to a point in time between two batches: exactly the first batch", async () => {
    await up("annex2", { "montagu-backup:prepareRestore": { id: "pitr", targetTime: betweenBatches, database: { image: "local" } } });
    const since = new Date().toISOString();
    const restored = await up("uat", restoreDatabase("pitr"));
    expect(batchOne).toMatch(/^5000 /);
    expect((restored.outputs.restore as { verification: string }).verification).toBe(batchOne);
    // The copy was finished on annex2: uat replays nothing, so it cannot replay past the target.
    expect(await uatDatabaseLogSince(since)).not.toMatch(/recovery|redo starts/);
  });

  it("recovers to a point in time committed moments ago, before barman has archived its WAL", async () => {
    await primary("INSERT INTO batch (payload) SELECT md5('three' || g) FROM generate_series(1, 1000) g");
    const batchThree = await primary(CHECKSUM);
    const justNow = await primary(NOW_UTC);
    await sleep(2_000);
    await primary("INSERT INTO batch (payload) SELECT md5('four' || g) FROM generate_series(1, 1000) g");
    await up("annex2", { "montagu-backup:prepareRestore": { id: "recent", targetTime: justNow, database: { image: "local" } } });
    const restored = await up("uat", restoreDatabase("recent"));
    expect(batchThree).toMatch(/^11000 /);
    expect((restored.outputs.restore as { verification: string }).verification).toBe(batchThree);
  });

  it("marks a copy ready only once its recovery has ended, however slowly its WAL arrives", async () => {
    await slowUnreplayedCopy(betweenBatches);
    const early = await inBarman("montagu-prepare", "stamp", NIGHTLY);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toMatch(/is not ready: recovery.signal is still there/);
    const replay = await inBarman("montagu-prepare", "replay", NIGHTLY);
    expect(replay.code, replay.stderr).toBe(0);
    const stamped = await inBarman("montagu-prepare", "stamp", NIGHTLY);
    expect(stamped.code, stamped.stderr).toBe(0);
  });

  it("serves a copy still in recovery only once its recovery has ended", async () => {
    await slowUnreplayedCopy(betweenBatches);
    const annex2 = hosts.annex2.docker;
    await annex2.run(["run", "--detach", "--name", "slow-copy", "--volume", "montagu_db_volume:/volume", "--env", `PGDATA=/volume/${STAGING}`, POSTGRES_IMAGE]);
    try {
      await annex2.run(["exec", "slow-copy", "montagu-wait.sh", "300"]);
      expect(await annex2.out("exec", "--user", "postgres", "slow-copy", "psql", "--no-psqlrc", "-Atc", "SELECT pg_is_in_recovery()")).toBe("f");
      expect(await annex2.out("exec", "slow-copy", "psql", "-U", "vimc", "-d", "montagu", "--no-psqlrc", "-Atc", CHECKSUM)).toBe(batchOne);
    } finally {
      await annex2.run(["rm", "--force", "slow-copy"], { allowFailure: true });
    }
  });

  it("rebuilds packit's database on uat from a dump made on production2 just before the push", async () => {
    await up("production2", { "montagu-backup:privateer": { backup: { id: "packit", volumes: [{ volume: "montagu_packit_db_backup", server: "annex2" }] } } });
    await up("uat", {
      "montagu-backup:restore": {
        id: "packit",
        volumes: [{ volume: "montagu_packit_db_backup", server: "annex2", source: "production2" }],
        packit: { image: POSTGRES_IMAGE, env: PACKIT_ENV },
      },
    });
    await hosts.uat.docker.run(["run", "--detach", "--name", "packit-check", "--volume", "montagu_packit_db:/pgdata", ...PACKIT_ENV.flatMap((e) => ["--env", e]), POSTGRES_IMAGE]);
    const restored = await eventually("the restored packit database", 120, () => packit(hosts.uat, "packit-check", PACKETS));
    expect(restored).toMatch(/^300 [0-9a-f]{32}$/);
    expect(restored).toBe(await packit(hosts.production2, "montagu-packit-db", PACKETS));
  });

  it("leaves packit's database as it is when the restored dump volume holds no dump, or one cut short", async () => {
    const checkPackets = async () => {
      await hosts.uat.docker.run(["run", "--detach", "--name", "packit-check", "--volume", "montagu_packit_db:/pgdata", ...PACKIT_ENV.flatMap((e) => ["--env", e]), POSTGRES_IMAGE]);
      return eventually("the packit database on uat", 120, () => packit(hosts.uat, "packit-check", PACKETS));
    };
    const serverCopy = (script: string) => inVolume(hosts.annex2, "privateer_montagu_data", `cd production2/montagu_packit_db_backup && ${script}`);
    /** The server's dump changed by `change` (packit.aside keeps it), restored onto uat: refused with `refusal`, packit's database as it was. */
    const refusedWith = async (id: string, change: string, refusal: RegExp) => {
      await hosts.uat.docker.run(["rm", "--force", "packit-check"]);
      await serverCopy(change);
      try {
        await expect(
          up("uat", {
            "montagu-backup:restore": {
              id,
              volumes: [{ volume: "montagu_packit_db_backup", server: "annex2", source: "production2" }],
              packit: { image: POSTGRES_IMAGE, env: PACKIT_ENV },
            },
          }),
        ).rejects.toThrow(refusal);
      } finally {
        await serverCopy("mv packit.aside packit");
      }
      expect(await checkPackets()).toBe(await packit(hosts.production2, "montagu-packit-db", PACKETS));
    };

    await refusedWith(
      "no-dump",
      "mv packit packit.aside",
      /packit: refused: volume montagu_packit_db_backup holds no readable dump \(\/pgbackup\/packit\); montagu_packit_db is left as it is/,
    );
    // A dump that lost its last bytes still lists its whole table of contents: only reading it all finds the cut.
    await refusedWith(
      "cut-dump",
      "mv packit packit.aside && head --bytes=-64 packit.aside > packit",
      /packit: refused: the dump in montagu_packit_db_backup does not read back whole; montagu_packit_db is left as it is/,
    );
  });

  it("never empties or rolls back a restore through the operator's sequence: an edited script, a rebuilt image, a failed prepare", async () => {
    const uat = hosts.uat.docker;
    const prepare = (id: string, extra: Record<string, unknown> = {}) =>
      up("annex2", { "montagu-backup:prepareRestore": { id, database: { image: "local" }, ...extra } });
    const restore = (id: string) =>
      up("uat", {
        "montagu-backup:restore": {
          id,
          volumes: [
            { volume: "barman_recover", server: "annex2", to: "sequence_db" },
            { volume: "montagu_orderly_volume", server: "annex2", source: "production2", to: "sequence_orderly" },
          ],
          stop: ["sequence-service"],
          start: ["sequence-service"],
        },
      });
    /** What the restored copy holds, read by a database started on it. */
    const restoredRows = async () => {
      await uat.run(["run", "--detach", "--name", "sequence-check", "--volume", "sequence_db:/pgdata", POSTGRES_IMAGE]);
      try {
        await uat.run(["exec", "sequence-check", "montagu-wait.sh", "120"]);
        return await uat.out("exec", "sequence-check", "psql", "-U", "vimc", "-d", "montagu", "--no-psqlrc", "-Atc", CHECKSUM);
      } finally {
        await uat.run(["rm", "--force", "sequence-check"]);
      }
    };
    const files = (volume: string) => inVolume(hosts.uat, volume, "find . -printf '%i %T@ %p\\n' | sort", true);
    const serverFiles = () => inVolume(hosts.annex2, "privateer_montagu_data", "find production2/montagu_orderly_volume -printf '%i %T@ %p\\n' | sort", true);
    const serviceStartedAt = () => uat.out("inspect", "-f", "{{.State.StartedAt}}", "sequence-service");
    const preparedAt = (run: { outputs: Record<string, unknown> }) => (run.outputs.prepareRestore as { preparedAt: string }).preparedAt;
    const stepOutput = (run: { resources: { name: string; urn: string }[] }, name: RegExp) =>
      run.resources.filter((r) => name.test(r.name)).map((r) => String(appliers.uat.outputsOf(r.urn).stdout)).join("\n");

    await uat.run(["run", "--detach", "--name", "sequence-service", "debian:bookworm", "sleep", "infinity"]);
    await up("production2", { "montagu-backup:privateer": { backup: { id: "b1", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } } });
    const atFirstPrepare = await primary(CHECKSUM);
    const p1 = preparedAt(await prepare("p1"));
    await restore("r1");
    expect(await restoredRows()).toBe(atFirstPrepare);
    const restored = { db: await files("sequence_db"), orderly: await files("sequence_orderly"), server: await serverFiles(), started: await serviceStartedAt() };
    const unchanged = async () => {
      expect(await files("sequence_db")).toBe(restored.db);
      expect(await files("sequence_orderly")).toBe(restored.orderly);
      expect(await serverFiles()).toBe(restored.server);
      expect(await serviceStartedAt()).toBe(restored.started);
    };

    const copyScript = "components/privateer/copy.sh";
    const sshConfig = `${IMAGES_DIR}/privateer/client/ssh_config`;
    const originals = { copyScript: fs.readFileSync(copyScript, "utf8"), sshConfig: fs.readFileSync(sshConfig, "utf8") };
    try {
      // Same ids after an edited script: nothing runs, on any of the three machines.
      fs.appendFileSync(copyScript, 'echo "copy: edited for a test"\n');
      await up("production2", { "montagu-backup:privateer": { backup: { id: "b1", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } } });
      expect(preparedAt(await prepare("p1"))).toBe(p1);
      await restore("r1");
      await unchanged();

      // Same ids after a rebuilt client image: nothing runs.
      const imageBefore = await uat.out("image", "inspect", "-f", "{{.Id}}", "montagu-backup/privateer-client:local");
      fs.appendFileSync(sshConfig, "# edited for a test\n");
      await restore("r1");
      expect(await uat.out("image", "inspect", "-f", "{{.Id}}", "montagu-backup/privateer-client:local")).not.toBe(imageBefore);
      await unchanged();

      // A new id runs the new script.
      const again = await restore("r1-again");
      expect(stepOutput(again, /^restore-uat-/)).toMatch(/copy: edited for a test/);
    } finally {
      fs.writeFileSync(copyScript, originals.copyScript);
      fs.writeFileSync(sshConfig, originals.sshConfig);
    }

    // A prepare that fails after its first steps leaves the last finished copy, stamped.
    await expect(prepare("p2", { targetTime: "2001-01-01T00:00:00Z" })).rejects.toThrow(/prepare-restore-recover.*is before the backup end time/s);
    expect(await inVolume(hosts.annex2, "barman_recover", "cat .barman-last-restore", true)).toBe(p1);
    await primary("INSERT INTO batch (payload) SELECT md5('sequence' || g) FROM generate_series(1, 500) g");
    const newest = await primary(CHECKSUM);
    // A restore meanwhile restores that copy: never an empty database.
    await restore("r2");
    expect(await restoredRows()).toBe(atFirstPrepare);
    // The prepare, fixed, runs its failed steps again; the next restore brings the newest copy.
    const p2 = preparedAt(await prepare("p2"));
    expect(p2 > p1).toBe(true);
    await restore("r3");
    expect(await restoredRows()).toBe(newest);
    await uat.run(["rm", "--force", "sequence-service"]);
  });

  it("refuses to restore onto the machine the data comes from", async () => {
    await expect(
      up("production2", { "montagu-backup:restore": { id: "oops", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } }),
    ).rejects.toThrow(/refused: 'production2' backs up volume 'montagu_orderly_volume'/);
  });

  it("converges when a restore killed mid-transfer is run again", async () => {
    await hosts.uat.docker.run(["run", "--rm", "--volume", "montagu_orderly_volume:/data", "debian:bookworm", "bash", "-c", "rm -rf /data/*"]);
    const killer = (async () => {
      // Kill the transfer's container as soon as rsync is under way (the look at the source before it mounts no volume).
      for (let i = 0; i < 600; i++) {
        const running = await hosts.uat.docker.out(
          "ps", "--quiet", "--filter", "ancestor=montagu-backup/privateer-client:local", "--filter", "volume=montagu_orderly_volume",
        );
        if (running !== "") {
          await new Promise((resolve) => setTimeout(resolve, 300));
          await hosts.uat.docker.run(["kill", ...running.split("\n")], { allowFailure: true });
          return true;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return false;
    })();
    const restore = { "montagu-backup:restore": { id: "killed", volumes: [{ volume: "montagu_orderly_volume", server: "annex2", source: "production2" }] } };
    await expect(up("uat", restore)).rejects.toThrow(/the update failed/);
    expect(await killer).toBe(true);
    expect(await manifest(hosts.uat, "montagu_orderly_volume")).not.toBe(await manifest(hosts.production2, "montagu_orderly_volume"));
    await up("uat", restore);
    expect(await manifest(hosts.uat, "montagu_orderly_volume")).toBe(await manifest(hosts.production2, "montagu_orderly_volume"));
  });
});
