import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../simulator/harness/eventually";
import type { StackConfig } from "../../simulator/harness/stackConfig";
import { cutNetwork, limitLink, outer, reconnectNetwork, rigContainer, type SimulatedHost } from "../../simulator/rig/hosts";
import { dataCentre } from "../../simulator/dataCentre";
import { inVolume, manifest, seedVolume } from "../../simulator/volumes";
import { type FaultRow, writeFaultRows } from "./table";

// Faults during transfers between simulated hosts: for each, the update fails saying so, what
// was backed up is still there, and the next run ends as if the fault had not happened. The
// suite writes what it saw as a table (test-results/faults.md), which docs/safety.md shows.

const TOPOLOGY = "test/fixtures/privateer.json";
const VOLUME = "montagu_orderly_volume";
const COPY = `production2/${VOLUME}`;
const CLIENT_IMAGE = "montagu-backup/privateer-client:local";
/** Slow enough that a fault lands mid-transfer: a round's 300 MB take about 12 s. */
const LINK_MEGABITS = 200;

const rows: FaultRow[] = [];

describe("faults during pushes and restores", () => {
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY });
  const { hosts } = centre;

  const up = (machine: string, privateer: Record<string, unknown> = {}, extra: StackConfig = {}) =>
    centre.up(machine, { "montagu-backup:privateer": privateer, ...extra });
  const push = (id: string) => up("production2", { backup: { id, volumes: [{ volume: VOLUME, server: "annex2" }] } });
  const restore = (id: string, containers: { stop?: string[]; start?: string[] } = {}) =>
    up("uat", {}, {
      "montagu-backup:restore": {
        id,
        volumes: [{ volume: VOLUME, server: "annex2", source: "production2" }],
        stop: containers.stop ?? ["uat-service"],
        start: containers.start ?? ["uat-service"],
        settleSeconds: 3,
      },
    });
  const serverCopy = () => manifest(hosts.annex2, "privateer_montagu_data", COPY);
  const snapshots = async () =>
    (await inVolume(hosts.annex2, "privateer_montagu_data", `ls .montagu/history/${COPY}`, true)).split("\n").filter((name) => /^\d{8}T\d{6}Z$/.test(name));
  const snapshotCopy = (name: string) => manifest(hosts.annex2, "privateer_montagu_data", `.montagu/history/${COPY}/${name}`);
  const uatServiceRunning = async () => (await hosts.uat.docker.out("inspect", "-f", "{{.State.Running}}", "uat-service")) === "true";

  let round = 0;
  /** The source gains a new 300 MB file and loses the last round's. */
  const changeSource = async () => {
    round += 1;
    await inVolume(hosts.production2, VOLUME, `rm -f round-*.bin && head -c 300M /dev/urandom > round-${round}.bin`);
    return manifest(hosts.production2, VOLUME);
  };
  /**
   * Resolves once rsync has written 30 MB of this round's new file into `directory` of
   * `volume`: as a temporary file in a push, under its own name in a restore over the last one
   * (a refresh writes in place).
   */
  const whenTransferring = async (host: SimulatedHost, volume: string, directory: string, written: "temporary" | "in place") => {
    const name = written === "temporary" ? `.round-${round}.bin.*` : `round-${round}.bin`;
    await eventually(`round ${round}'s file arriving in ${volume} on ${host.name}`, 60, async () =>
      (await inVolume(host, volume, `find ${directory} -maxdepth 1 -name '${name}' -size +30M`, true)).trim() !== "" ? true : undefined,
    200);
  };
  const settle = <T>(work: Promise<T>) => work.then(() => undefined, (error: Error) => error);
  /** The line of an update's error that says what went wrong, the most telling first. */
  const firstLine = (error: Error | undefined) => {
    const lines = (error?.message ?? "no error").split("\n").map((line) => line.trim());
    const telling = [/No space left on device/, /not responding|unexpectedly closed|Connection reset|Broken pipe/, /refused/, /rsync error/, /exit(ed)? (with )?(code|status)/i];
    for (const pattern of telling) {
      const line = lines.find((candidate) => pattern.test(candidate));
      if (line !== undefined) return line.slice(0, 160);
    }
    return lines[0].slice(0, 160);
  };

  beforeAll(async () => {
    await centre.start();
    // The server's data volume, size-limited so that it can be filled; the stack finds it there.
    await hosts.annex2.docker.run(["volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=3g", "privateer_montagu_data"]);
    await up("annex2", { keys: { generate: true } });
    // The volume the scheduler pushes is there before it is made (it is filled below, with the scheduler stopped).
    await hosts.production2.docker.run(["volume", "create", VOLUME]);
    await up("production2");
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    await up("uat");
    await seedVolume(hosts.production2, VOLUME, 100);
    await hosts.uat.docker.run(["run", "--detach", "--name", "uat-service", "--volume", `${VOLUME}:/data`, "debian:bookworm", "sleep", "infinity"]);
    await push("baseline");
    await restore("baseline");
    await limitLink(hosts.production2, LINK_MEGABITS);
    await limitLink(hosts.annex2, LINK_MEGABITS);
  });

  afterAll(() => writeFaultRows("1-privateer", rows));

  /** A push cut short by `fault`: it fails, the copy it replaced is kept whole, and the next push converges. */
  const pushCutShort = async (fault: string, strike: () => Promise<void>, heal: () => Promise<void>, next: string) => {
    const replaced = await serverCopy();
    const source = await changeSource();
    const started = performance.now();
    const pushing = settle(push(`round-${round}`));
    await whenTransferring(hosts.annex2, "privateer_montagu_data", COPY, "temporary");
    await strike();
    const error = await pushing;
    const failedAfter = (performance.now() - started) / 1000;
    await heal();
    expect(error).toBeInstanceOf(Error);
    // The copy the push was replacing is kept whole in the history, and the current copy, which
    // holds part of the push, is not restored until a push finishes.
    const kept = (await snapshots()).at(-1)!;
    expect(await snapshotCopy(kept)).toBe(replaced);
    const refused = await settle(restore(`round-${round}-unfinished`));
    expect(refused?.message).toMatch(/the last push into \/privateer\/volumes\/production2\/montagu_orderly_volume\/ on annex2, started at \S+, did not finish/);
    expect(await uatServiceRunning()).toBe(true);
    const healed = performance.now();
    await push(`round-${round}-again`);
    expect(await serverCopy()).toBe(source);
    rows.push({
      fault,
      observed:
        `the update fails after ${failedAfter.toFixed(0)} s (\`${firstLine(error)}\`); the copy it was replacing is whole in snapshot ${kept}; ` +
        "a restore of the current copy, which holds part of the push, is refused before it stops anything",
      next: `${next}; it ended in ${((performance.now() - healed) / 1000).toFixed(0)} s with the server's copy identical to the source`,
    });
  };

  it("the network between client and server cut mid-push", async () => {
    await pushCutShort(
      "network between production2 and annex2 cut mid-push",
      () => cutNetwork(hosts.production2),
      // A new interface, without the old one's rate limit: limited again, or the next fault's
      // push runs at disk speed and can end before it is struck.
      async () => {
        await reconnectNetwork(hosts.production2);
        await limitLink(hosts.production2, LINK_MEGABITS);
      },
      "pushes again once the network is back (waiting, if need be, for the server to drop the dead connection's lock)",
    );
  });

  it("the server container killed mid-push", async () => {
    await pushCutShort(
      "the server's container killed mid-push",
      async () => {
        // As a crash does it: its process killed, not `docker kill`, after which Docker leaves
        // the container stopped, whatever its restart policy.
        const pid = await hosts.annex2.docker.out("inspect", "-f", "{{.State.Pid}}", "privateer_montagu_server");
        await outer.run(["exec", rigContainer("annex2"), "kill", "-KILL", pid]);
      },
      async () => {
        // Its restart policy brings it back.
        await eventually("the server running again", 60, async () => ((await hosts.annex2.docker.out("inspect", "-f", "{{.State.Running}}", "privateer_montagu_server")) === "true" ? true : undefined));
      },
      "pushes again to the restarted server",
    );
  });

  /** A restore cut short by `fault`: it fails, the stopped service stays stopped, and the next restore converges and starts it. */
  const restoreCutShort = async (fault: string, strike: () => Promise<void>, heal: () => Promise<void>, next: string) => {
    await changeSource();
    await push(`round-${round}`);
    const copy = await serverCopy();
    const started = performance.now();
    const restoring = settle(restore(`round-${round}`));
    await whenTransferring(hosts.uat, VOLUME, ".", "in place");
    await strike();
    const error = await restoring;
    const failedAfter = (performance.now() - started) / 1000;
    await heal();
    expect(error).toBeInstanceOf(Error);
    // Nothing was started on a volume that holds part of a copy.
    expect(await uatServiceRunning()).toBe(false);
    const healed = performance.now();
    await restore(`round-${round}-again`);
    expect(await manifest(hosts.uat, VOLUME)).toBe(copy);
    expect(await uatServiceRunning()).toBe(true);
    rows.push({
      fault,
      observed: `the update fails after ${failedAfter.toFixed(0)} s (\`${firstLine(error)}\`); the service stopped for the restore stays stopped`,
      next: `${next}; it ended in ${((performance.now() - healed) / 1000).toFixed(0)} s with the target identical to the server's copy, and started the service`,
    });
  };

  it("the network between server and target cut mid-restore", async () => {
    await restoreCutShort(
      "network between annex2 and uat cut mid-restore",
      () => cutNetwork(hosts.uat),
      () => reconnectNetwork(hosts.uat),
      "restores again once the network is back",
    );
  });

  it("the client container killed mid-restore", async () => {
    await restoreCutShort(
      "the restoring client container killed on uat",
      async () => {
        const transfers = (await hosts.uat.docker.out("ps", "--quiet", "--filter", `ancestor=${CLIENT_IMAGE}`)).split("\n").filter(Boolean);
        expect(transfers.length).toBeGreaterThan(0);
        await hosts.uat.docker.run(["kill", ...transfers]);
      },
      async () => undefined,
      "restores again",
    );
  });

  it("the client container killed while a refresh rewrites a file in place", async () => {
    // The round's file rewritten at the source, at the same size: the refresh updates it where
    // it is on uat, so a kill leaves it part new, part last week's, as a database file would be.
    const file = `round-${round}.bin`;
    const hash = (host: SimulatedHost, end: "head" | "tail") => inVolume(host, VOLUME, `${end} -c 1M ${file} | sha256sum`, true);
    await inVolume(hosts.production2, VOLUME, `head -c 300M /dev/urandom > ${file}`);
    await push(`round-${round}-rewritten`);
    const copy = await serverCopy();
    const [newHead, oldTail] = [await hash(hosts.production2, "head"), await hash(hosts.uat, "tail")];
    const started = performance.now();
    const restoring = settle(restore(`round-${round}-rewritten`));
    await eventually(`the rewrite of ${file} under way on uat`, 60, async () => ((await hash(hosts.uat, "head")) === newHead ? true : undefined), 200);
    const transfers = (await hosts.uat.docker.out("ps", "--quiet", "--filter", `ancestor=${CLIENT_IMAGE}`)).split("\n").filter(Boolean);
    await hosts.uat.docker.run(["kill", ...transfers]);
    const error = await restoring;
    const failedAfter = (performance.now() - started) / 1000;
    expect(error).toBeInstanceOf(Error);
    expect(await hash(hosts.uat, "tail")).toBe(oldTail);
    expect(await uatServiceRunning()).toBe(false);

    const healed = performance.now();
    await restore(`round-${round}-rewritten-again`);
    expect(await manifest(hosts.uat, VOLUME)).toBe(copy);
    expect(await uatServiceRunning()).toBe(true);
    rows.push({
      fault: "the restoring client container killed on uat while a refresh rewrites a 300 MB file in place",
      observed: `the update fails after ${failedAfter.toFixed(0)} s (\`${firstLine(error)}\`), the file's start new and its end last week's; the service stopped for the restore stays stopped`,
      next: `restores again, sending that file again (changed on uat since the last restore); it ended in ${((performance.now() - healed) / 1000).toFixed(0)} s with the target identical to the server's copy, and started the service`,
    });
  });

  it("the server's data volume full", async () => {
    const replaced = await serverCopy();
    const kept = await snapshots();
    const keptCopies = await Promise.all(kept.map(snapshotCopy));
    // Leave 100 MB: less than the round's new file.
    await inVolume(hosts.annex2, "privateer_montagu_data", "head -c $(( $(df --output=avail -B1 . | tail -1) - 100 * 1024 * 1024 )) /dev/zero > .filler 2>/dev/null || true");
    const source = await changeSource();
    const error = await settle(push(`round-${round}`));
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/No space left on device/);
    // Every snapshot as it was, and the copy the push replaced among them.
    expect(await snapshots()).toEqual(expect.arrayContaining(kept));
    expect(await Promise.all(kept.map(snapshotCopy))).toEqual(keptCopies);
    const newest = (await snapshots()).at(-1)!;
    expect(await snapshotCopy(newest)).toBe(replaced);
    const again = await settle(push(`round-${round}-full`));
    expect(again).toBeInstanceOf(Error);
    expect(await snapshotCopy(newest)).toBe(replaced);

    await inVolume(hosts.annex2, "privateer_montagu_data", "rm .filler");
    await push(`round-${round}-space`);
    expect(await serverCopy()).toBe(source);
    rows.push({
      fault: "the server's data volume full",
      observed: `the update fails (\`${firstLine(error)}\`); the ${kept.length} snapshots are unchanged, file for file, and the copy the push replaced is whole in the newest`,
      next: "fails the same way until space is made; then pushes, ending with the server's copy identical to the source",
    });
  });

  /** A loop that starts `container` on uat again whenever it is stopped, as a supervisor would; returns what ends it. */
  const keepStarting = async (container: string) => {
    let keeping = true;
    const loop = (async () => {
      while (keeping) {
        await hosts.uat.docker.run(["start", container], { allowFailure: true });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    return async () => {
      keeping = false;
      await loop;
    };
  };
  /** The restore's own line that says why it failed. */
  const firstRestoreLine = (error: Error | undefined) =>
    (error?.message ?? "no error").split("\n").find((line) => /restore: .*(refusing|did not stay up|health check)/.test(line))?.trim().slice(0, 220);

  it("a running container that the restore does not stop uses its volume", async () => {
    await changeSource();
    await push(`round-${round}`);
    const before = await manifest(hosts.uat, VOLUME);
    await hosts.uat.docker.run(["run", "--detach", "--name", "uat-reader", "--volume", `${VOLUME}:/data:ro`, "debian:bookworm", "sleep", "infinity"]);
    const error = await settle(restore(`round-${round}`));
    expect(error?.message).toMatch(/refusing to restore: running containers that this restore does not stop use its volumes: 'uat-reader' \(uses montagu_orderly_volume\)/);
    // Refused before anything was stopped or copied.
    expect(await uatServiceRunning()).toBe(true);
    expect(await manifest(hosts.uat, VOLUME)).toBe(before);
    await hosts.uat.docker.run(["rm", "--force", "uat-reader"]);
    await restore(`round-${round}`);
    expect(await manifest(hosts.uat, VOLUME)).toBe(await serverCopy());
    rows.push({
      fault: "a running container that the restore does not stop uses the target volume",
      observed: `the update fails before stopping or copying anything (\`${firstRestoreLine(error)}\`); the service runs on the volume as it was`,
      next: "once the container is stopped (or added to restore.stop), the same id restores and starts the service",
    });
  });

  it("a container the restore stops is started again by something else", async () => {
    await changeSource();
    await push(`round-${round}`);
    const before = await manifest(hosts.uat, VOLUME);
    let stopKeeping = await keepStarting("uat-service");
    const error = await settle(restore(`round-${round}`));
    await stopKeeping();
    expect(error?.message).toMatch(/refusing to restore: uat-service running again 3s after being stopped \(something restarts it\); nothing was copied/);
    expect(await manifest(hosts.uat, VOLUME)).toBe(before);

    // Started again while the copy runs: found once the copies are done, before anything starts.
    await hosts.uat.docker.run(["stop", "uat-service"]);
    const restoring = settle(restore(`round-${round}`));
    await whenTransferring(hosts.uat, VOLUME, ".", "in place");
    stopKeeping = await keepStarting("uat-service");
    const midCopy = await restoring;
    await stopKeeping();
    expect(midCopy?.message).toMatch(/refusing to start anything: uat-service ran again while the volumes were restored/);

    await hosts.uat.docker.run(["stop", "uat-service"]);
    await restore(`round-${round}-again`);
    expect(await manifest(hosts.uat, VOLUME)).toBe(await serverCopy());
    expect(await uatServiceRunning()).toBe(true);
    rows.push({
      fault: "a container the restore stops is started again by something else (a loop running `docker start`)",
      observed:
        `before the copy: the update fails with nothing copied (\`${firstRestoreLine(error)}\`); ` +
        `during the copy: the update fails after the copy, before anything is started (\`${firstRestoreLine(midCopy)}\`)`,
      next: "once what restarts it is stopped, a restore with a new id copies again and starts the service",
    });
  });

  it("a container the restore starts does not stay up", async () => {
    await changeSource();
    await push(`round-${round}`);
    // Crashes at once, and its restart policy starts it again, and again.
    await hosts.uat.docker.run(["create", "--name", "uat-broken", "--restart", "always", "debian:bookworm", "bash", "-c", "echo 'FATAL: could not open the database'; exit 3"]);
    const containers = { stop: ["uat-service", "uat-broken"], start: ["uat-service", "uat-broken"] };
    const error = await settle(restore(`round-${round}`, containers));
    expect(error?.message).toMatch(/restore: uat-broken did not stay up: status \w+, exit code 3, restarted \d+ times; its last lines:/);
    expect(error?.message).toContain("FATAL: could not open the database");
    expect(error?.message).not.toMatch(/uat-service did not stay up/);
    // The data is in place and what could start runs.
    expect(await manifest(hosts.uat, VOLUME)).toBe(await serverCopy());
    expect(await uatServiceRunning()).toBe(true);

    await hosts.uat.docker.run(["rm", "--force", "uat-broken"]);
    await hosts.uat.docker.run(["run", "--detach", "--name", "uat-broken", "debian:bookworm", "sleep", "infinity"]);
    await restore(`round-${round}`, containers);
    rows.push({
      fault: "a container the restore starts exits at once (restart policy always: it crash-loops)",
      observed: `the update fails at the start step, naming it with its exit code and last log lines (\`${firstRestoreLine(error)}\`); the restored data is in place and the other containers run`,
      next: "once the container is fixed, the same update runs only the start step again, which succeeds",
    });
  });
});
