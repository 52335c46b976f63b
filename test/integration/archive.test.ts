import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rebuildScript } from "../../components/packit/rebuild";
import { stepBody } from "../../components/shared/script";
import { eventually } from "../../simulator/harness/eventually";
import type { StackConfig } from "../../simulator/harness/stackConfig";
import { limitLink, unlimitLink } from "../../simulator/rig/hosts";
import { type S3Server, startS3Server } from "../../simulator/rig/s3";
import { dataCentre, logWhenVerbose } from "../../simulator/dataCentre";
import { inVolume, manifest, seedVolume } from "../../simulator/volumes";

// privateer's export and import as steps: production2 exports its volume, annex2 the copy it
// holds of it (current and from its history), uat imports each into a new volume; a damaged
// archive, an existing volume and a killed export are refused or left recognisable. The
// archives land on this machine, where the steps run, as they do where `pulumi up` runs.
// Then the same volume off-site: production2 copies it into restic repositories in a real S3
// server (Versity's gateway), uat restores from there alone.

const TOPOLOGY = "test/fixtures/privateer.json";
const VOLUME = "montagu_orderly_volume";
const COPY = `production2/${VOLUME}`;

describe("portable archives: export and import between simulated hosts", () => {
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY, log: logWhenVerbose });
  const { hosts } = centre;
  const archives = fs.mkdtempSync(path.join(os.tmpdir(), "archives-"));
  const into = (name: string) => {
    const dir = path.join(archives, name);
    fs.mkdirSync(dir);
    return dir;
  };

  const up = (machine: string, privateer: Record<string, unknown> = {}, extra: StackConfig = {}) =>
    centre.up(machine, { "montagu-backup:privateer": privateer, ...extra });
  const push = (id: string) => up("production2", { backup: { id, volumes: [{ volume: VOLUME, server: "annex2" }] } });
  /** An export's archive and checksum, as the stack outputs them; the checksum file verified with sha256sum -c. */
  const exported = async (machine: string, id: string, entry: Record<string, unknown>) => {
    const run = await up(machine, { export: { id, volume: VOLUME, ...entry } });
    const { archive, sha256 } = (run.outputs.privateer as any).export as { archive: string; sha256: string };
    const directory = path.dirname(archive);
    const base = path.basename(archive);
    expect(fs.readFileSync(`${archive}.sha256`, "utf8")).toBe(`${sha256}  ${base}\n`);
    const checked = spawnSync("sha256sum", ["-c", `${base}.sha256`], { cwd: directory, encoding: "utf8" });
    expect(checked.stdout).toBe(`${base}: OK\n`);
    expect(fs.readdirSync(directory).filter((name) => name.endsWith(".partial"))).toEqual([]);
    return { archive, sha256, base };
  };
  const importOnUat = (id: string, file: string, volume: string) => up("uat", { import: { id, file, volume } });
  const volumeOnUat = (volume: string) => hosts.uat.docker.exists("volume", volume);

  beforeAll(async () => {
    await centre.start();
    await seedVolume(hosts.production2, VOLUME);
    await up("annex2", { keys: { generate: true } });
    await up("production2");
    // A scheduled push would race the on-demand ones.
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    await up("uat");
    await push("first");
  });

  const timings: string[] = [];
  afterAll(() => {
    fs.rmSync(archives, { recursive: true, force: true });
    if (timings.length > 0) console.log(`run-time guards: ${timings.join("; ")}`);
  });

  it("exports a volume of production2's engine and imports it on uat: identical files", async () => {
    const dir = into("local");
    const { archive, base } = await exported("production2", "local-1", { to: dir });
    expect(base).toMatch(/^production2-montagu_orderly_volume-\d{8}T\d{6}Z\.tar$/);
    expect(fs.readdirSync(dir).sort()).toEqual([base, `${base}.sha256`]);

    const run = await importOnUat("import-1", archive, "orderly_imported");
    expect((run.outputs.privateer as any).import).toMatchObject({ id: "import-1", volume: "orderly_imported", archive });
    const source = await manifest(hosts.production2, VOLUME);
    expect(source.split("\n").length).toBeGreaterThan(2000);
    expect(await manifest(hosts.uat, "orderly_imported")).toBe(source);
  });

  it("exports annex2's copy of it, current and from the history, each identical to what it was taken from", async () => {
    const dir = into("server");
    const current = await exported("annex2", "server-1", { to: dir, server: "annex2", source: "production2" });
    expect(current.base).toMatch(/^production2-montagu_orderly_volume-\d{8}T\d{6}Z\.tar$/);
    await importOnUat("import-2", current.archive, "orderly_from_server");
    expect(await manifest(hosts.uat, "orderly_from_server")).toBe(await manifest(hosts.annex2, "privateer_montagu_data", COPY));

    // Each push's copy is kept in the history once the push ends (the export waits for it under
    // the copy's lock): the newest snapshot is the copy the last push made, and the one before it
    // the copy that push replaced.
    const before = await manifest(hosts.annex2, "privateer_montagu_data", COPY);
    await inVolume(hosts.production2, VOLUME, "echo changed >> reports/0/r0/file-0.txt && rm reports/9/r9/file-9.txt");
    await push("second");
    const latest = await exported("annex2", "server-2", { to: dir, server: "annex2", source: "production2", snapshot: "latest" });
    await importOnUat("import-3", latest.archive, "orderly_from_snapshot");
    const pushedNow = await manifest(hosts.production2, VOLUME);
    expect(await manifest(hosts.uat, "orderly_from_snapshot")).toBe(pushedNow);
    const snapshots = (await inVolume(hosts.annex2, "privateer_montagu_data", `ls .montagu/history/${COPY}`)).split("\n").filter((name) => /^\d{8}T\d{6}Z$/.test(name));
    const replaced = await exported("annex2", "server-3", { to: dir, server: "annex2", source: "production2", snapshot: snapshots.at(-2)! });
    await importOnUat("import-4", replaced.archive, "orderly_from_replaced");
    expect(await manifest(hosts.uat, "orderly_from_replaced")).toBe(before);
    expect(before).not.toBe(pushedNow);
  });

  it("refuses a copy whose last push did not finish, writing nothing", async () => {
    const dir = into("unfinished");
    const marker = `.montagu/unfinished/${COPY}`;
    await inVolume(hosts.annex2, "privateer_montagu_data", `mkdir -p "$(dirname ${marker})" && echo 2026-11-27T02:00:00Z > ${marker}`);
    await expect(up("annex2", { export: { id: "unfinished-1", volume: VOLUME, to: dir, server: "annex2", source: "production2" } })).rejects.toThrow(
      /export: refused: the last push into \/privateer\/volumes\/production2\/montagu_orderly_volume, started at 2026-11-27T02:00:00Z, did not finish/,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
    await inVolume(hosts.annex2, "privateer_montagu_data", `rm ${marker}`);
  });

  describe("import", () => {
    let original = { archive: "", base: "" };
    beforeAll(async () => {
      original = await exported("production2", "local-2", { to: into("imports") });
    });
    /** A copy of the archive beside it, changed, with a checksum file: its own, or the original's. */
    const copyOf = (name: string, change: (bytes: Buffer) => Buffer, checksum: "original" | "recomputed") => {
      const file = path.join(path.dirname(original.archive), name);
      fs.writeFileSync(file, change(fs.readFileSync(original.archive)));
      const sum =
        checksum === "original"
          ? fs.readFileSync(`${original.archive}.sha256`, "utf8").split(" ")[0]
          : spawnSync("sha256sum", [name], { cwd: path.dirname(file), encoding: "utf8" }).stdout.split(" ")[0];
      fs.writeFileSync(`${file}.sha256`, `${sum}  ${name}\n`);
      return file;
    };

    it("refuses a damaged tar before it makes a volume", async () => {
      const damaged = copyOf(
        "damaged.tar",
        (bytes) => {
          bytes[Math.floor(bytes.length / 2)] ^= 0xff;
          return bytes;
        },
        "original",
      );
      await expect(importOnUat("damaged-1", damaged, "orderly_damaged")).rejects.toThrow(/import: refused: damaged\.tar does not match its checksum/);
      expect(await volumeOnUat("orderly_damaged")).toBe(false);
    });

    it("removes the volume it made when a tar cut short (its checksum taken after) does not unpack", async () => {
      const truncated = copyOf("truncated.tar", (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)), "recomputed");
      await expect(importOnUat("truncated-1", truncated, "orderly_truncated")).rejects.toThrow(/import: truncated\.tar did not unpack into orderly_truncated/);
      expect(await volumeOnUat("orderly_truncated")).toBe(false);
    });

    it("refuses a volume that exists, naming it, and leaves its contents as they were", async () => {
      await inVolume(hosts.uat, "orderly_existing", "echo mine > mine.txt && mkdir -p kept && echo too > kept/file");
      const before = await manifest(hosts.uat, "orderly_existing");
      await expect(importOnUat("existing-1", original.archive, "orderly_existing")).rejects.toThrow(
        /import: refused: volume orderly_existing already exists on this engine/,
      );
      expect(await manifest(hosts.uat, "orderly_existing")).toBe(before);
    });

    // What config cannot know, the engine is asked at run time (components/shared/volume-users.sh).
    describe("a volume a running container uses", () => {
      const LIVE = "montagu-live";
      /** The volume's files and the container's state, which a refusal leaves as they were. */
      const state = async (volume: string) => ({
        files: await manifest(hosts.uat, volume),
        container: await hosts.uat.docker.out("inspect", "--format", "{{.State.Status}} {{.State.StartedAt}} {{.RestartCount}}", LIVE),
      });
      const live = async (volume: string) => {
        await inVolume(hosts.uat, volume, "echo live > live.txt && mkdir -p db && echo row > db/table");
        await hosts.uat.docker.run(["run", "--detach", "--name", LIVE, "--volume", `${volume}:/data`, "debian:bookworm", "sleep", "600"]);
        return state(volume);
      };
      afterEach(async () => {
        await hosts.uat.docker.run(["rm", "--force", LIVE], { allowFailure: true });
      });

      it("is refused by an import, naming the container, and left as it was", async () => {
        const started = Date.now();
        const before = await live("orderly_live");
        await expect(importOnUat("live-1", original.archive, "orderly_live")).rejects.toThrow(
          /import: refused: running containers use volume orderly_live: 'montagu-live'; this step does not stop them/,
        );
        expect(await state("orderly_live")).toEqual(before);
        timings.push(`import refused: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      });

      it("is refused by packit's rebuild, naming the container, and left as it was", async () => {
        const started = Date.now();
        const before = await live("packit_db_live");
        const script = rebuildScript({
          dumpVolume: "orderly_imported",
          databaseVolume: "packit_db_live",
          image: "ghcr.io/mrc-ide/packit-db:main",
          env: [],
          user: "packituser",
          database: "packit",
          waitSeconds: 10,
        });
        const rebuilt = spawnSync("/bin/bash", ["-c", stepBody(script)], { env: hosts.uat.docker.env, encoding: "utf8" });
        expect(rebuilt.status, rebuilt.stderr).toBe(3);
        expect(rebuilt.stderr).toContain("packit: refused: running containers use volume packit_db_live: 'montagu-live'; this step does not stop them");
        expect(await state("packit_db_live")).toEqual(before);
        timings.push(`packit's rebuild refused: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      });
    });
  });

  it("leaves a killed export as a .partial only: no .tar, no checksum", async () => {
    const dir = into("killed");
    // Slow enough to strike mid-way: 300 MB over a link of 200 Mbit/s takes about 12 s.
    await inVolume(hosts.production2, "big_volume", "head -c 300M /dev/urandom > big.bin");
    await limitLink(hosts.production2, 200);
    try {
      const exporting = up("production2", { export: { id: "killed-1", volume: "big_volume", to: dir } }).then(
        () => undefined,
        (error: Error) => error,
      );
      await eventually(
        "the export under way",
        60,
        async () => {
          const partial = fs.readdirSync(dir).find((name) => name.endsWith(".tar.partial"));
          return partial !== undefined && fs.statSync(path.join(dir, partial)).size > 30_000_000 ? true : undefined;
        },
        200,
      );
      const containers = (await hosts.production2.docker.out("ps", "--quiet", "--filter", "label=montagu.archive=export")).split("\n").filter(Boolean);
      expect(containers).toHaveLength(1);
      await hosts.production2.docker.run(["kill", ...containers]);
      const error = await exporting;
      expect(error?.message).toMatch(/export: failed \(exit \d+\): .*\.tar\.partial holds part of the tar and is no archive/);
    } finally {
      await unlimitLink(hosts.production2);
    }
    const left = fs.readdirSync(dir);
    expect(left).toEqual([expect.stringMatching(/^production2-big_volume-\d{8}T\d{6}Z\.tar\.partial$/)]);
  });
  describe("off-site copies in a real S3 server", () => {
    let s3: S3Server;
    const BUCKET = "montagu-offsite";
    const REPOSITORY = `montagu/volumes/production2/${VOLUME}`;
    const store = () => ({ endpoint: s3.endpoint, bucket: BUCKET, credentialsVaultPath: "secret/vimc/backup/offsite" });
    const offsite = (machine: string, section: Record<string, unknown>, extra: StackConfig = {}) =>
      centre.up(machine, { "montagu-backup:offsite": { store: store(), passwordVaultPath: "secret/vimc/backup/offsite-password", ...section }, ...extra });
    // Daily at 03:00: no scheduled copy races the tests' own (the last test follows the push's schedule, every minute).
    const DAILY = { volume: VOLUME, schedule: "0 3 * * *" };
    const copyNow = (id: string, volumes: Record<string, unknown>[] = [DAILY]) => offsite("production2", { volumes, backup: { id } });
    const restoreOnUat = (id: string, entry: Record<string, unknown>, section: Record<string, unknown> = {}) =>
      offsite("uat", section, { "montagu-backup:restore": { id, stop: ["orderly_reader"], start: ["orderly_reader"], settleSeconds: 1, volumes: [{ volume: VOLUME, from: "offsite", to: "orderly_offsite", ...entry }] } });
    const inOffsite = (...command: string[]) => hosts.production2.docker.out("exec", "montagu-offsite", ...command);
    const snapshots = async () => JSON.parse(await inOffsite("montagu-offsite", "snapshots", "production2", VOLUME)) as { short_id: string }[];
    const readerRunning = async () => (await hosts.uat.docker.out("inspect", "--format", "{{.State.Running}}", "orderly_reader")) === "true";

    beforeAll(async () => {
      s3 = await startS3Server();
      centre.vault.secrets.set("secret/vimc/backup/offsite", { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey });
      centre.vault.secrets.set("secret/vimc/backup/offsite-password", { password: "correct horse battery staple" });
      centre.vault.secrets.set("secret/vimc/backup/wrong-password", { password: "not the repository's" });
      // What uses the restored volume on uat, stopped and started by each restore.
      await hosts.uat.docker.run(["run", "--detach", "--name", "orderly_reader", "--volume", "orderly_offsite:/data", "debian:bookworm", "sleep", "infinity"]);
    });

    it("copies a volume on demand, encrypted in the bucket, and uat restores it from there file for file", async () => {
      const started = Date.now();
      await copyNow("offsite-1");
      const copySeconds = (Date.now() - started) / 1000;
      const keys = await s3.keys(BUCKET, REPOSITORY);
      expect(keys).toContain(`${REPOSITORY}/config`);
      expect(keys.some((key) => key.startsWith(`${REPOSITORY}/data/`))).toBe(true);
      expect(keys.filter((key) => key.startsWith(`${REPOSITORY}/snapshots/`))).toHaveLength(1);
      // Encrypted: neither a file's content nor its name is in the bucket.
      expect(await s3.shell(`grep -rlF -e 'any byte but' -e 'file-0.txt' /data/${BUCKET} || true`)).toBe("");

      const restoring = Date.now();
      await restoreOnUat("offsite-restore-1", {});
      console.log(`off-site: copy ${copySeconds.toFixed(1)} s, restore ${((Date.now() - restoring) / 1000).toFixed(1)} s`);
      expect(await manifest(hosts.uat, "orderly_offsite")).toBe(await manifest(hosts.production2, VOLUME));
      expect(await readerRunning()).toBe(true);
      expect(await hosts.uat.docker.out("volume", "ls", "--quiet", "--filter", "name=montagu-offsite-staging")).toBe("");
    });

    it("copies an unchanged volume again adding next to nothing, and the weekly check thins them by the retention", async () => {
      await copyNow("offsite-2");
      const summary = JSON.parse(await inOffsite("cat", `/state/summary.production2.${VOLUME}.json`)) as { data_added: number; total_bytes_processed: number };
      console.log(`off-site: unchanged copy added ${summary.data_added} bytes of ${summary.total_bytes_processed}`);
      expect(summary.total_bytes_processed).toBeGreaterThan(100_000_000);
      expect(summary.data_added).toBeLessThan(summary.total_bytes_processed / 1000);
      // A snapshot per copy (the freshness monitor reads the newest's time); the retention is the
      // check's. Of three copies on one day it keeps the newest, and the oldest while the
      // repository holds fewer weeks and months than it keeps (restic 0.17 and later).
      await copyNow("offsite-2b");
      const copies = await snapshots();
      expect(copies).toHaveLength(3);
      await inOffsite("montagu-offsite", "check", "production2", VOLUME, "1%");
      expect((await snapshots()).map((s) => s.short_id)).toEqual([copies[0].short_id, copies[2].short_id]);
    });

    it("restores a snapshot by id; refuses one the repository lacks, or a wrong password, before anything stops", async () => {
      await inVolume(hosts.production2, VOLUME, "echo offsite-3 > changed-for-offsite.txt");
      await copyNow("offsite-3");
      const current = (await snapshots()).at(-1)!;
      await inVolume(hosts.uat, "orderly_offsite", "echo local > written-on-uat.txt");
      const before = await manifest(hosts.uat, "orderly_offsite");

      await expect(restoreOnUat("offsite-restore-2", { snapshot: "deadbeef" })).rejects.toThrow(/offsite: refused: montagu_orderly_volume's off-site repository holds no snapshot 'deadbeef'/);
      await expect(restoreOnUat("offsite-restore-3", {}, { passwordVaultPath: "secret/vimc/backup/wrong-password" })).rejects.toThrow(
        /offsite: refused: montagu_orderly_volume has no off-site repository at .* that opens with this password/,
      );
      expect(await manifest(hosts.uat, "orderly_offsite")).toBe(before);
      expect(await readerRunning()).toBe(true);

      await restoreOnUat("offsite-restore-4", { snapshot: current.short_id });
      expect(await manifest(hosts.uat, "orderly_offsite")).toBe(await manifest(hosts.production2, VOLUME));
    });

    it("refuses to copy an empty volume: no snapshot of it, no repository", async () => {
      await hosts.production2.docker.run(["volume", "create", "montagu_packit_db_backup"]);
      await expect(copyNow("offsite-empty-1", [DAILY, { volume: "montagu_packit_db_backup", schedule: "0 3 * * *" }])).rejects.toThrow(
        /offsite: refused: montagu_packit_db_backup is empty/,
      );
      expect(await s3.keys(BUCKET, "montagu/volumes/production2/montagu_packit_db_backup")).toEqual([]);
    });

    it("copies on the client's push schedule when given none", async () => {
      const status = () => inOffsite("cat", `/state/status/production2.${VOLUME}.status`);
      const before = await status();
      await inVolume(hosts.production2, VOLUME, "echo scheduled > changed-for-schedule.txt");
      // No on-demand copy in this update: a new status can only be the scheduler's.
      await offsite("production2", { volumes: [{ volume: VOLUME }] });
      expect(await inOffsite("cat", "/etc/montagu/schedule.yml")).toContain(`command: montagu-offsite backup production2 ${VOLUME}\n    schedule: "* * * * *"\n`);
      const after = await eventually("a scheduled copy", 90, async () => {
        const now = await status();
        return now !== before ? now : undefined;
      });
      const [newest] = (await snapshots()).slice(-1);
      expect(after).toContain(`snapshot=${newest.short_id}`);
      await restoreOnUat("offsite-restore-6", {});
      expect(await manifest(hosts.uat, "orderly_offsite")).toBe(await manifest(hosts.production2, VOLUME));
    });

    it("checks a repository by reading its data back, and fails loudly on a damaged pack; a restore of it fails and leaves the volume", async () => {
      expect(await inOffsite("montagu-offsite", "check", "production2", VOLUME, "100%")).toContain("check of the repository and 100% of its data passed");
      const packs = await s3.shell(`cd /data/${BUCKET}/${REPOSITORY}/data && find . -type f -printf '%s %P\n' | sort -n | tail -1`);
      const largest = packs.trim().split(" ")[1];
      await s3.shell(`printf 'damaged' | dd of=/data/${BUCKET}/${REPOSITORY}/data/${largest} bs=1 seek=4096 conv=notrunc status=none`);
      const check = await hosts.production2.docker.run(["exec", "montagu-offsite", "montagu-offsite", "check", "production2", VOLUME, "100%"], { allowFailure: true });
      expect(check.code).not.toBe(0);
      expect(check.stdout + check.stderr).toMatch(/Pack ID does not match|ciphertext verification failed|pack .* contains \d+ errors/);

      const before = await manifest(hosts.uat, "orderly_offsite");
      await expect(restoreOnUat("offsite-restore-5", {})).rejects.toThrow(/There were \d+ errors/);
      expect(await manifest(hosts.uat, "orderly_offsite")).toBe(before);
    });
  });
});
