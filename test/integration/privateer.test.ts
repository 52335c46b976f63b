import { beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../simulator/harness/eventually";
import { rsaPrivateKeyOutputs } from "../../simulator/harness/tlsKey";
import type { StackConfig } from "../../simulator/harness/stackConfig";
import { dataCentre, logWhenVerbose } from "../../simulator/dataCentre";
import { inVolume, manifest, seedVolume } from "../../simulator/volumes";

// annex2 receives, production2 pushes, uat restores: three machines, three engines, one vault.

const TOPOLOGY = "test/fixtures/privateer.json";
const CLIENT_IMAGE = "montagu-backup/privateer-client:local";

describe("privateer-compatible backup and restore between simulated hosts", () => {
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY, log: logWhenVerbose });
  const { vault, hosts, appliers } = centre;

  const up = (machine: string, privateer: Record<string, unknown> = {}, extra: StackConfig = {}) =>
    centre.up(machine, { "montagu-backup:privateer": privateer, ...extra });
  /** A client's copy and a server-local volume restored onto uat; both end identical to their origin. */
  const restoreBothOntoUat = async (id: string) => {
    const run = await up("uat", {}, {
      "montagu-backup:restore": {
        id,
        volumes: [
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2" },
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
        ],
      },
    });
    expect(await manifest(hosts.uat, "montagu_orderly_volume")).toBe(await manifest(hosts.production2, "montagu_orderly_volume"));
    expect(await manifest(hosts.uat, "montagu_db_volume")).toBe(await manifest(hosts.annex2, "barman_recover"));
    return run;
  };
  /** What the restore into `volume` printed in `run`. */
  const restoreOutput = (run: Awaited<ReturnType<typeof up>>, volume: string) => {
    const step = run.resources.find((r) => r.type === "command:local:Command" && r.name === `restore-uat-${volume}`);
    if (step === undefined) throw new Error(`no restore into ${volume} in ${run.resources.map((r) => r.name).join(", ")}`);
    return String(appliers.uat.outputsOf(step.urn).stdout);
  };
  const lastRun = (machine: string) => appliers[machine].history[appliers[machine].history.length - 1];

  const sshFromProduction2 = (...command: string[]) =>
    hosts.production2.docker.run(
      ["run", "--rm", "--volume", "privateer_keys:/privateer/keys:ro", CLIENT_IMAGE, "ssh", "annex2", ...command],
      { allowFailure: true },
    );

  beforeAll(async () => {
    await centre.start();
    await seedVolume(hosts.production2, "montagu_orderly_volume");
    // What barman's recovery would have left on the backup host.
    await inVolume(hosts.annex2, "barman_recover", "mkdir -p base && echo 'PG_VERSION 15' > base/PG_VERSION && echo recovered > .barman-recover-marker && echo 2026-11-26T12:00:00Z > .barman-last-restore");
  });

  it("configures the server from the keys it generates, as privateer lays them out", async () => {
    const run = await up("annex2", { keys: { generate: true } });
    expect([...vault.secrets.keys()].sort()).toEqual(["secret/vimc/privateer/annex2", "secret/vimc/privateer/production2", "secret/vimc/privateer/uat"]);
    for (const data of vault.secrets.values()) {
      expect(Object.keys(data).sort()).toEqual(["private", "public"]);
      expect(data.private).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(data.public).toMatch(/^ssh-rsa AAAA[0-9A-Za-z+/=]+$/);
    }
    const files = await inVolume(hosts.annex2, "privateer_montagu_keys", "stat -c '%n %a %U:%G' * | sort; echo; cat name; echo; cat authorized_keys", true);
    expect(files).toBe(
      [
        "authorized_keys 600 root:root",
        "id_rsa 600 root:root",
        "id_rsa.pub 644 root:root",
        "name 644 root:root",
        "",
        "annex2",
        `restrict,command="/usr/local/bin/privateer-gate production2" ${vault.secrets.get("secret/vimc/privateer/production2")!.public}`,
        `restrict,command="/usr/local/bin/privateer-gate uat" ${vault.secrets.get("secret/vimc/privateer/uat")!.public}`,
      ].join("\n"),
    );
    expect((run.outputs.privateer as any).servers).toEqual({ annex2: { address: "annex2", port: 10022 } });
    expect((run.outputs.privateer as any).fingerprints.annex2).toMatch(/^SHA256:[0-9A-Za-z+/]{43}$/);
  });

  it("configures each client from vault, and each client's connection check passes", async () => {
    await up("production2");
    // Paused until the schedule's own test: a scheduled push would race the on-demand ones.
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    await up("uat");
    const files = await inVolume(hosts.production2, "privateer_keys", "stat -c '%n %a %U:%G' * | sort; cat known_hosts config", true);
    expect(files).toBe(
      [
        "config 600 root:root",
        "id_rsa 600 root:root",
        "id_rsa.pub 644 root:root",
        "known_hosts 600 root:root",
        "name 644 root:root",
        "yacron.yml 644 root:root",
        `[annex2]:10022 ${vault.secrets.get("secret/vimc/privateer/annex2")!.public}`,
        "Host annex2",
        "    User root",
        "    Port 10022",
        "    HostName annex2",
      ].join("\n"),
    );
    for (const machine of ["production2", "uat"]) {
      expect(lastRun(machine).created).toEqual(expect.arrayContaining([expect.stringMatching(/::privateer-client-.*-check-annex2$/)]));
    }
    expect((await sshFromProduction2("cat", "/privateer/keys/name")).stdout.trim()).toBe("annex2");
  });

  it("pushes a volume on demand: the server's copy is identical", async () => {
    // As on a new backup host (the scheduler may have pushed once before it was paused).
    await inVolume(hosts.annex2, "privateer_montagu_data", "rm -rf production2");
    const run = await up("production2", { backup: { id: "first", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
    const push = run.resources.find((r) => r.type === "command:local:Command" && r.name.includes("backup"))!;
    // The server holds no copy yet: the files go over in parallel streams.
    expect(String(appliers.production2.outputsOf(push.urn).stdout)).toMatch(/first copy of 1003 files \(\d+ MB\) in [2-4] parallel streams/);
    const source = await manifest(hosts.production2, "montagu_orderly_volume");
    expect(source.split("\n").length).toBeGreaterThan(2000);
    expect(await manifest(hosts.annex2, "privateer_montagu_data", "production2/montagu_orderly_volume")).toBe(source);
  });

  it("does nothing on an unchanged id; after 1% of files change, moves only the change and deletes what was deleted", async () => {
    await up("production2", { backup: { id: "first", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
    expect(lastRun("production2").created).toEqual([]);
    expect(lastRun("production2").updated).toEqual([]);
    expect(lastRun("production2").replaced).toEqual([]);

    await inVolume(
      hosts.production2,
      "montagu_orderly_volume",
      "for d in $(seq 0 9); do echo changed >> reports/$d/r5/file-3.txt; done; rm reports/9/r9/file-8.txt reports/9/r9/file-9.txt",
    );
    const run = await up("production2", { backup: { id: "second", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
    const push = run.resources.find((r) => r.type === "command:local:Command" && r.name.includes("backup"))!;
    const stdout = String(appliers.production2.outputsOf(push.urn).stdout);
    expect(stdout).toMatch(/Number of regular files transferred: 10\b/);
    expect(stdout).toMatch(/Number of deleted files: 2\b/);
    expect(await manifest(hosts.annex2, "privateer_montagu_data", "production2/montagu_orderly_volume")).toBe(
      await manifest(hosts.production2, "montagu_orderly_volume"),
    );
  });

  it("restores a client's copy and a server-local volume onto another machine", async () => {
    await restoreBothOntoUat("refresh-1");
  });

  it("restores content, not sizes and times: a target file changed in place, same size and mtime, is put right", async () => {
    // As a database file can be: rewritten on the target within the second its copy on the
    // server was stamped. rsync's quick check (size and mtime) would keep it.
    const alterInPlace = (path: string) =>
      `cp -p ${path} /tmp/stamp && printf X | dd of=${path} bs=1 conv=notrunc status=none && touch -r /tmp/stamp ${path}`;
    await inVolume(hosts.uat, "montagu_orderly_volume", alterInPlace("reports/3/r3/file-3.txt"));
    await inVolume(hosts.uat, "montagu_db_volume", alterInPlace("base/PG_VERSION"));
    expect(await manifest(hosts.uat, "montagu_orderly_volume")).not.toBe(await manifest(hosts.production2, "montagu_orderly_volume"));
    expect(await manifest(hosts.uat, "montagu_db_volume")).not.toBe(await manifest(hosts.annex2, "barman_recover"));

    const run = await restoreBothOntoUat("refresh-2");
    // Each target holds the copy the last restore left, so only what changed on it since is
    // compared and sent, not every file by content.
    expect(restoreOutput(run, "montagu_orderly_volume")).toMatch(/restored at \S+: what changed here since is sent again \(1 files\)/);
    expect(restoreOutput(run, "montagu_db_volume")).toMatch(/restored at \S+: what changed here since is sent again \(1 files\)/);
  });

  it("a refresh updates a changed file where it is, but writes every one anew where a file has another name", async () => {
    const push = (id: string) => up("production2", { backup: { id, volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
    const changeAtSource = () => inVolume(hosts.production2, "montagu_orderly_volume", "echo \"changed $RANDOM\" >> big.bin");
    const inodeOnUat = async () => (await inVolume(hosts.uat, "montagu_orderly_volume", "stat -c %i big.bin", true)).trim();

    await changeAtSource();
    await push("in-place");
    const before = await inodeOnUat();
    await restoreBothOntoUat("refresh-in-place");
    expect(await inodeOnUat()).toBe(before);

    // A service on uat made one of its files another name of big.bin. Updated in place, the
    // two names would end with one content: whichever rsync wrote last.
    await inVolume(hosts.uat, "montagu_orderly_volume", "ln -f big.bin reports/5/r5/file-5.txt");
    await changeAtSource();
    await push("linked");
    const run = await restoreBothOntoUat("refresh-linked");
    expect(restoreOutput(run, "montagu_orderly_volume")).toMatch(/has other names \(hard links\) here: each changed file is written anew/);
    expect(await inodeOnUat()).not.toBe(before);
  });

  it("refuses a missing, empty or unfinished source before it stops anything, naming it", async () => {
    await hosts.uat.docker.run(["run", "--detach", "--name", "uat-service", "debian:bookworm", "sleep", "infinity"]);
    const before = await manifest(hosts.uat, "montagu_db_volume");
    const restore = (id: string, entry: Record<string, unknown>) =>
      up("uat", {}, { "montagu-backup:restore": { id, volumes: [{ server: "annex2", ...entry }], stop: ["uat-service"], start: ["uat-service"] } });
    const stillRunning = async () => expect(await hosts.uat.docker.out("inspect", "-f", "{{.State.Running}}", "uat-service")).toBe("true");

    // A prepare that never finished: no stamp.
    await inVolume(hosts.annex2, "barman_recover", "mv .barman-last-restore .montagu-stamp-aside");
    await expect(restore("unfinished", { volume: "barman_recover", to: "montagu_db_volume" })).rejects.toThrow(
      /refused: \/privateer\/local\/barman_recover\/ on annex2 holds no finished copy/,
    );
    await inVolume(hosts.annex2, "barman_recover", "mv .montagu-stamp-aside .barman-last-restore");
    await stillRunning();

    // A copy that is there but empty, and one that is not there at all.
    await inVolume(hosts.annex2, "privateer_montagu_data", "mkdir -p production2/montagu_packit_db_backup");
    await expect(restore("empty", { volume: "montagu_packit_db_backup", source: "production2" })).rejects.toThrow(
      /refused: \/privateer\/volumes\/production2\/montagu_packit_db_backup\/ on annex2 is empty: copying it would empty \/privateer\/volumes\/montagu_packit_db_backup\/ here/,
    );
    await expect(restore("missing", { volume: "montagu_orderly_volume", source: "production2", snapshot: "20200101T000000Z" })).rejects.toThrow(
      /refused: \/privateer\/volumes\/.montagu\/history\/production2\/montagu_orderly_volume\/20200101T000000Z\/ on annex2 does not exist/,
    );
    await stillRunning();
    expect(lastRun("uat").created.filter((urn) => /restore-stop$/.test(urn))).toEqual([]);
    expect(await manifest(hosts.uat, "montagu_db_volume")).toBe(before);
    await hosts.uat.docker.run(["rm", "--force", "uat-service"]);
  });

  it("refuses to push an emptied volume; pushed with allowEmpty, the copy it replaced is a snapshot that brings every file back", async () => {
    const original = await manifest(hosts.production2, "montagu_orderly_volume");
    const push = (id: string, allowEmpty?: boolean) =>
      up("production2", { backup: { id, volumes: [{ volume: "montagu_orderly_volume", server: "annex2", ...(allowEmpty ? { allowEmpty } : {}) }] } });
    const serverCopy = () => manifest(hosts.annex2, "privateer_montagu_data", "production2/montagu_orderly_volume");
    expect(await serverCopy()).toBe(original);

    await inVolume(hosts.production2, "montagu_orderly_volume", "find . -mindepth 1 -delete");
    await expect(push("emptied")).rejects.toThrow(/refused: \/privateer\/volumes\/montagu_orderly_volume\/ here is empty/);
    expect(await serverCopy()).toBe(original);

    await push("emptied-on-purpose", true);
    expect(await serverCopy()).toBe("");
    await up("uat", {}, {
      "montagu-backup:restore": {
        id: "from-history",
        volumes: [{ volume: "montagu_orderly_volume", server: "annex2", source: "production2", snapshot: "latest", to: "orderly_from_history" }],
      },
    });
    expect(await manifest(hosts.uat, "orderly_from_history")).toBe(original);
    // And back where it came from, which only a restore that says so may overwrite.
    await up("production2", {}, {
      "montagu-backup:restore": {
        id: "undo",
        volumes: [{ volume: "montagu_orderly_volume", server: "annex2", source: "production2", snapshot: "latest", allowOverwriteSource: true }],
      },
    });
    expect(await manifest(hosts.production2, "montagu_orderly_volume")).toBe(original);
    await push("restored");
    expect(await serverCopy()).toBe(original);
  });

  it("keeps a snapshot per push for a small part of a full push's time and space", async () => {
    const data = (script: string) => inVolume(hosts.annex2, "privateer_montagu_data", script);
    await data("rm -rf production2 .montagu");
    // A full push long enough that its own overheads (a container, ssh) are not most of it.
    await inVolume(hosts.production2, "montagu_orderly_volume", "head -c 400M /dev/urandom > extra.bin");
    // The server keeps each pushed copy after its push, holding the copy's lock, and says how long that took in its log.
    const keptSeconds = async () => {
      const log = await hosts.annex2.docker.run(["logs", "privateer_montagu_server"]);
      return [...`${log.stdout}${log.stderr}`.matchAll(/history: kept \S+ as snapshot \S+ \((\d+) ms\)/g)].map((m) => Number(m[1]) / 1000);
    };
    const pushed = async (id: string) => {
      const keptBefore = (await keptSeconds()).length;
      const started = Date.now();
      await up("production2", { backup: { id, volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
      const seconds = (Date.now() - started) / 1000;
      const kept = await eventually("the pushed copy, kept", 60, async () => (await keptSeconds())[keptBefore], 250);
      return { seconds, snapshotSeconds: kept };
    };
    const full = await pushed("full");
    const copyKilobytes = Number((await data("du -sk production2/montagu_orderly_volume")).split(/\s/)[0]);
    const rounds: { seconds: number; snapshotSeconds: number }[] = [];
    for (let round = 1; round <= 10; round++) {
      // 1% of the files: 10 of the 1000 reports.
      await inVolume(hosts.production2, "montagu_orderly_volume", `for d in $(seq 0 9); do echo "round ${round}" >> reports/$d/r${round % 10}/file-4.txt; done`);
      rounds.push(await pushed(`one-percent-${round}`));
    }
    const snapshots = (await data("ls .montagu/history/production2/montagu_orderly_volume")).split("\n");
    // The full push's copy, then each round's.
    expect(snapshots).toHaveLength(11);
    // du counts a file linked from several places once: what the history adds to the copy.
    const withHistory = Number((await data("du -sk production2/montagu_orderly_volume .montagu/history | tail -1 && du -sck production2/montagu_orderly_volume .montagu/history | tail -1")).split("\n")[1].split(/\s/)[0]);
    const historyKilobytes = withHistory - copyKilobytes;
    const snapshotSeconds = rounds.map((r) => r.snapshotSeconds);
    const spaceRatio = historyKilobytes / 10 / copyKilobytes;
    // The median: the server keeps a copy in the background, where one busy second of this shared machine falls on one keep.
    const timeRatio = [...snapshotSeconds].sort((a, b) => a - b)[5] / full.seconds;
    console.log(
      `history: full push ${full.seconds.toFixed(2)} s of ${copyKilobytes} kB; 10 pushes of 1% changes took ` +
        `${rounds.map((r) => r.seconds.toFixed(2)).join(", ")} s; their snapshots took ${snapshotSeconds.map((t) => t.toFixed(3)).join(", ")} s ` +
        `and ${historyKilobytes} kB in all: per push ${spaceRatio.toFixed(4)} of a full push's space and (median) ${timeRatio.toFixed(4)} of its time ` +
        `(the slowest ${(Math.max(...snapshotSeconds) / full.seconds).toFixed(4)}; all 10 together: ${(historyKilobytes / copyKilobytes).toFixed(4)} of the space)`,
    );
    expect(spaceRatio).toBeLessThan(0.05);
    expect(timeRatio).toBeLessThan(0.05);
    // Each snapshot is a pushed copy, which the next push replaced: the first holds round 1's file as it was.
    expect(await data(`cat .montagu/history/production2/montagu_orderly_volume/${snapshots[0]}/reports/0/r1/file-4.txt`)).not.toMatch(/round 1/);
    expect(await data(`cat .montagu/history/production2/montagu_orderly_volume/${snapshots[1]}/reports/0/r1/file-4.txt`)).toMatch(/round 1$/);
    await inVolume(hosts.production2, "montagu_orderly_volume", "rm extra.bin");
  });

  it("queues a scheduled push, an on-demand push and a restore of one copy behind the server's lock", async () => {
    const copy = "/privateer/volumes/production2/montagu_orderly_volume";
    // Another transfer holding the copy for a while, as a long restore would.
    await hosts.production2.docker.run([
      "run", "--detach", "--name", "lock-holder", "--network", "host", "--volume", "privateer_keys:/privateer/keys:ro", CLIENT_IMAGE, "bash", "-c",
      `source /usr/local/lib/privateer/lock.sh && hold_lock annex2 ${copy} shared && echo holding && sleep 10 && echo released`,
    ]);
    await eventually("the holder's lock", 30, async () => /holding/.test(await hosts.production2.docker.out("logs", "lock-holder")) || undefined);
    await inVolume(hosts.production2, "montagu_orderly_volume", "head -c 20M /dev/urandom > big.bin; echo queued > reports/queued.txt");
    const pushStarted = Date.now();
    const onDemand = up("production2", { backup: { id: "queued", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
    await hosts.production2.docker.run(["start", "privateer_scheduler"]);
    // Started now, or already by its every-minute schedule (409): either way it runs beside the on-demand push.
    const startJob = [
      "import urllib.request, urllib.error",
      "try: print(urllib.request.urlopen(urllib.request.Request('http://production2:8080/jobs/job-1/start', method='POST')).status)",
      "except urllib.error.HTTPError as error: print(error.code)",
    ].join("\n");
    const started = await eventually("the scheduled push, started", 30, async () => {
      const code = await hosts.production2.docker.out("run", "--rm", "--network", "host", CLIENT_IMAGE, "python3", "-c", startJob);
      return ["200", "409"].includes(code) ? code : undefined;
    });
    expect(["200", "409"]).toContain(started);
    const run = await onDemand;
    const push = run.resources.find((r) => r.type === "command:local:Command" && r.name.includes("backup"))!;
    const pushed = String(appliers.production2.outputsOf(push.urn).stdout);
    const held = await hosts.production2.docker.run(["logs", "lock-holder"]);
    expect((Date.now() - pushStarted) / 1000, `${pushed}\n${held.stdout}${held.stderr}`).toBeGreaterThan(4);
    await hosts.production2.docker.run(["rm", "--force", "lock-holder"]);
    expect(pushed).toMatch(/lock: another transfer is using .*montagu_orderly_volume on annex2; waiting for it to end/);
    const status = async () =>
      JSON.parse(
        await hosts.production2.docker.out(
          "run", "--rm", "--network", "host", CLIENT_IMAGE, "python3", "-c",
          "import urllib.request; print(urllib.request.urlopen('http://production2:8080/status').read().decode())",
        ),
      )[0];
    const done = await eventually("the scheduled push, done", 120, async () => ((await status()).status === "running" ? undefined : await status()));
    expect(done).toMatchObject({ last_exit_code: 0 });
    const schedulerLog = await hosts.production2.docker.run(["logs", "privateer_scheduler"]);
    expect(`${schedulerLog.stdout}${schedulerLog.stderr}`).toMatch(/\[job-1\] lock: another transfer is using .*montagu_orderly_volume on annex2; waiting/);
    // The scheduled push, too, kept the copy it replaced, or found it kept already.
    expect(`${schedulerLog.stdout}${schedulerLog.stderr}`).toMatch(/\[job-1\] history: (kept|.* is unchanged since snapshot)/);
    expect(await manifest(hosts.annex2, "privateer_montagu_data", "production2/montagu_orderly_volume")).toBe(
      await manifest(hosts.production2, "montagu_orderly_volume"),
    );
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
  });

  it("runs the scheduled push every minute, and serves its status", async () => {
    await hosts.production2.docker.run(["start", "privateer_scheduler"]);
    await inVolume(hosts.production2, "montagu_orderly_volume", "echo scheduled > reports/new-file.txt; rm latest; ln -s big.bin latest");
    const expected = await manifest(hosts.production2, "montagu_orderly_volume");
    const deadline = Date.now() + 150_000;
    let copy = "";
    while (Date.now() < deadline) {
      copy = await manifest(hosts.annex2, "privateer_montagu_data", "production2/montagu_orderly_volume");
      if (copy === expected) break;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    }
    expect(copy).toBe(expected);
    const status = await hosts.production2.docker.out(
      "run", "--rm", "--network", "host", CLIENT_IMAGE, "python3", "-c",
      "import urllib.request; print(urllib.request.urlopen('http://production2:8080/status').read().decode())",
    );
    expect(JSON.parse(status)).toEqual([expect.objectContaining({ job: "job-1", schedule: "* * * * *", last_exit_code: 0 })]);
  });

  it("lets a client's key make privateer's transfers and nothing else: every other attempt is refused and logged", async () => {
    const copy = "production2/montagu_orderly_volume";
    const [snapshot] = (await inVolume(hosts.annex2, "privateer_montagu_data", `ls .montagu/history/${copy}`, true)).split("\n").filter((n) => /^\d{8}T\d{6}Z$/.test(n));
    expect(snapshot).toBeDefined();
    const before = {
      copy: await manifest(hosts.annex2, "privateer_montagu_data", copy),
      snapshot: await manifest(hosts.annex2, "privateer_montagu_data", `.montagu/history/${copy}/${snapshot}`),
    };
    // uat's key, in a client container with a volume of its own (as a compromised uat would have).
    // Symlinks out of its own copies, pushed by uat, as a way to reach further.
    const plant = "ln -sfn /privateer/volumes/production2 escape && ln -sfn /privateer/keys keys && ln -sfn /privateer/keys/id_rsa .barman-last-restore";
    await inVolume(hosts.uat, "uat_scratch", `rm -rf ./* && echo from-uat > planted.txt && ${plant}`);
    await inVolume(hosts.uat, "uat_empty", "rm -rf ./*");
    const fromUat = (...command: string[]) =>
      hosts.uat.docker.run(
        [
          "run", "--rm", "--volume", "privateer_keys:/privateer/keys:ro",
          "--volume", "uat_scratch:/privateer/volumes/uat_scratch", "--volume", "uat_empty:/privateer/volumes/uat_empty",
          "--volume", "uat_restored:/privateer/volumes/uat_restored", CLIENT_IMAGE, ...command,
        ],
        { allowFailure: true },
      );
    const serverLog = async () => (await hosts.annex2.docker.run(["logs", "privateer_montagu_server"])).stderr;
    const refusalsBefore = (await serverLog()).split("privateer-gate: uat: refused:").length;

    const attempts: [string, string[], RegExp][] = [
      ["write into another client's copy", ["rsync", "-a", "/privateer/volumes/uat_scratch/", `annex2:/privateer/volumes/${copy}/`], /not under \/privateer\/volumes\/uat/],
      ["delete another client's backup with rsync", ["rsync", "-a", "--delete", "/privateer/volumes/uat_empty/", `annex2:/privateer/volumes/${copy}/`], /not under \/privateer\/volumes\/uat/],
      ["delete another client's backup with rm", ["ssh", "annex2", "rm", "-rf", "/privateer/volumes/production2"], /rm: this key runs transfers only/],
      ["overwrite a history snapshot", ["rsync", "-a", "/privateer/volumes/uat_scratch/", `annex2:/privateer/volumes/.montagu/history/${copy}/${snapshot}/`], /not under \/privateer\/volumes\/uat/],
      ["write a pushed file in place (snapshots share it)", ["rsync", "-a", "--inplace", "/privateer/volumes/uat_scratch/", "annex2:/privateer/volumes/uat/uat_scratch/"], /--inplace: a push writes changed files anew/],
      ["append to a file its copy shares with snapshots, as rsync's log", ["rsync", "-a", "--remote-option=--log-file=/privateer/volumes/uat/uat_scratch/planted.txt", "/privateer/volumes/uat_empty/", "annex2:/privateer/volumes/uat/uat_empty/"], /--log-file=\S+: a push writes changed files anew/],
      ["name paths by a pattern the gate would not see expanded", ["rsync", "-a", "annex2:/privateer/volumes/uat/*/", "/privateer/volumes/uat_empty/"], /holds more than names and slashes/],
      ["follow a planted symlink out of its own copies", ["rsync", "-a", "/privateer/volumes/uat_empty/", "annex2:/privateer/volumes/uat/uat_scratch/escape/"], /leads out of \/privateer\/volumes\/uat/],
      ["read the server's keys through a symlink it pushed", ["rsync", "-a", "annex2:/privateer/volumes/uat/uat_scratch/keys/", "/privateer/volumes/uat_empty/"], /leads out of \/privateer\/volumes\/uat/],
      ["list the server's keys through a symlink it pushed", ["ssh", "annex2", "montagu", "list", "/privateer/volumes/uat/uat_scratch/keys"], /leads out of \/privateer\/volumes\/uat/],
      ["take the lock of another client's copy for writing", ["ssh", "annex2", "montagu", "lock", `/privateer/volumes/${copy}`, "exclusive"], /not under \/privateer\/volumes\/uat/],
      ["read the server's private key", ["ssh", "annex2", "cat", "/privateer/keys/id_rsa"], /cat: this key runs transfers only/],
      ["open a shell", ["ssh", "-T", "annex2"], /a shell: this key runs transfers only/],
      ["run a command", ["ssh", "annex2", "sh", "-c", "id"], /sh: this key runs transfers only/],
    ];
    // The symlink is planted by a push of uat's own, which the gate allows.
    expect((await fromUat("rsync", "-a", "/privateer/volumes/uat_scratch", "annex2:/privateer/volumes/uat")).code).toBe(0);
    for (const [what, command, reason] of attempts) {
      const result = await fromUat(...command);
      expect({ what, code: result.code }).not.toEqual({ what, code: 0 });
      expect({ what, stderr: result.stderr }).toEqual({ what, stderr: expect.stringMatching(reason) });
    }
    // A stamp is read only as a file of its own, never through a symlink.
    const stamp = await fromUat("ssh", "annex2", "montagu", "stamp", "/privateer/volumes/uat/uat_scratch", ".barman-last-restore");
    expect(stamp).toMatchObject({ code: 0, stdout: "" });
    const log = await serverLog();
    expect(log.split("privateer-gate: uat: refused:").length - refusalsBefore).toBe(attempts.length);
    expect(log).toMatch(/privateer-gate: uat: refused: .*\(asked: 'rm -rf \/privateer\/volumes\/production2'\)/);

    // Forwarding: `restrict` refuses it. sshd logs a refused local forward; a refused remote
    // one it logs only at DEBUG level.
    const remote = await fromUat("ssh", "-o", "ExitOnForwardFailure=yes", "-R", "2222:localhost:22", "annex2", "cat", "/privateer/keys/name");
    expect(remote.code).not.toBe(0);
    expect(remote.stderr).toMatch(/remote port forwarding failed for listen port 2222/);
    const forwardsBefore = (await serverLog()).split("refused local port forward").length;
    const local = await fromUat("ssh", "-W", "localhost:22", "annex2");
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/administratively prohibited/);
    const tunnel = await fromUat("bash", "-c", "ssh -f -N -L 2223:localhost:22 annex2 && exec 3<>/dev/tcp/127.0.0.1/2223 && timeout 5 cat <&3");
    expect(tunnel.stdout).not.toMatch(/SSH-2.0/);
    const log2 = await serverLog();
    expect(log2.split("refused local port forward").length - forwardsBefore).toBe(2);
    expect(log2).toMatch(/refused local port forward: originator \S+ port \d+, target localhost port 22/);

    // Nothing of production2's changed.
    expect(await manifest(hosts.annex2, "privateer_montagu_data", copy)).toBe(before.copy);
    expect(await manifest(hosts.annex2, "privateer_montagu_data", `.montagu/history/${copy}/${snapshot}`)).toBe(before.snapshot);

    // What the privateer CLI runs still works: its connection check, a push into uat's own
    // directory, and restores from any client's copy, a snapshot and a local volume.
    expect((await fromUat("ssh", "annex2", "cat", "/privateer/keys/name")).stdout.trim()).toBe("annex2");
    await inVolume(hosts.uat, "uat_scratch", "rm -f escape keys .barman-last-restore");
    const push = await fromUat("rsync", "-av", "--delete", "/privateer/volumes/uat_scratch", "annex2:/privateer/volumes/uat");
    expect(push.code).toBe(0);
    expect(await manifest(hosts.annex2, "privateer_montagu_data", "uat/uat_scratch")).toBe(await manifest(hosts.uat, "uat_scratch"));
    const restores: [string, string][] = [
      [`annex2:/privateer/volumes/${copy}/`, before.copy],
      [`annex2:/privateer/volumes/.montagu/history/${copy}/${snapshot}/`, before.snapshot],
      ["annex2:/privateer/local/barman_recover/", await manifest(hosts.annex2, "barman_recover")],
    ];
    for (const [source, expected] of restores) {
      const restore = await fromUat("rsync", "-av", "--delete", source, "/privateer/volumes/uat_restored/");
      expect({ source, code: restore.code, stderr: restore.stderr }).toEqual({ source, code: 0, stderr: "" });
      expect(await manifest(hosts.uat, "uat_restored")).toBe(expected);
    }
    expect(await serverLog()).toMatch(/privateer-gate: uat: allowed: rsync write \/privateer\/volumes\/uat\n/);
  });

  it("refuses a client with a wrong key, saying so", async () => {
    const uatKey = vault.secrets.get("secret/vimc/privateer/uat")!.private;
    const writeKey = (pem: string) =>
      hosts.uat.docker.run(["run", "--rm", "-i", "--volume", "privateer_keys:/k", "debian:bookworm", "bash", "-c", "cat > /k/id_rsa"], { input: pem });
    await writeKey(rsaPrivateKeyOutputs(2048).privateKeyPemPkcs8);
    await expect(up("uat", { checkId: "wrong-key" })).rejects.toThrow(
      /privateer: connection uat -> annex2 \(annex2:10022\) refused:.*Permission denied \(publickey\)/s,
    );
    await writeKey(uatKey);
    await up("uat", { checkId: "right-key" });
  });

  it("refuses a client missing from the server's authorized_keys, saying so", async () => {
    const authorized = await inVolume(hosts.annex2, "privateer_montagu_keys", "cat authorized_keys", true);
    const setAuthorized = (content: string) =>
      hosts.annex2.docker.run(["run", "--rm", "-i", "--volume", "privateer_montagu_keys:/k", "debian:bookworm", "bash", "-c", "cat > /k/authorized_keys"], {
        input: content,
      });
    await setAuthorized(`${vault.secrets.get("secret/vimc/privateer/production2")!.public}\n`);
    await expect(up("uat", { checkId: "not-authorized" })).rejects.toThrow(/privateer: connection uat -> annex2 \(annex2:10022\) refused:.*Permission denied/s);
    await setAuthorized(`${authorized}\n`);
    await up("uat", { checkId: "authorized" });
  });

  it("refuses a server whose host key changed, until the client is configured again", async () => {
    await up("annex2", { keys: { generate: true, generation: 2 } });
    const refused = await sshFromProduction2("cat", "/privateer/keys/name");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

    await up("production2");
    expect((await sshFromProduction2("cat", "/privateer/keys/name")).stdout.trim()).toBe("annex2");
  });
});
