import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// The server's history (images/privateer/server/history.sh), run here with bash as the server runs it.

const HISTORY = path.resolve("images/privateer/server/history.sh");

let root = "";
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "history-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const history = (...args: string[]) => {
  const result = spawnSync("bash", [HISTORY, ...args], { encoding: "utf8", cwd: root });
  if (result.status !== 0) throw new Error(`history.sh ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
};
const write = (file: string, content: string) => {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), content);
};
/** As rsync writes a changed file: anew, then renamed into place. */
const rewrite = (file: string, content: string) => {
  write(`${file}.tmp`, content);
  fs.renameSync(path.join(root, `${file}.tmp`), path.join(root, file));
};
const snapshots = () => fs.readdirSync(path.join(root, "history")).filter((name) => /^\d{8}T\d{6}Z$/.test(name)).sort();

describe("the server's history", () => {
  it("keeps exactly what the retention says: the newest, the newest of each of the latest days and ISO weeks", () => {
    const names = [
      "20261126T130000Z", "20261126T090000Z", // Thursday, week 48
      "20261125T230000Z", "20261125T010000Z", // Wednesday, week 48
      "20261123T120000Z", // Monday, week 48
      "20261122T120000Z", "20261120T080000Z", // Sunday and Friday, week 47
      "20261115T120000Z", // Sunday, week 46
      "20261101T120000Z", // Sunday, week 44
    ];
    for (const name of names) fs.mkdirSync(path.join(root, "history", name), { recursive: true });
    const said = history("prune", "history", "--daily", "3", "--weekly", "3", "--recent", "0");
    expect(snapshots()).toEqual(["20261115T120000Z", "20261122T120000Z", "20261123T120000Z", "20261125T230000Z", "20261126T130000Z"]);
    expect(said.trim().split("\n").sort()).toEqual(
      ["20261101T120000Z", "20261120T080000Z", "20261125T010000Z", "20261126T090000Z"].map((n) => `history: dropped snapshot ${n} of history`),
    );
    history("prune", "history", "--daily", "0", "--weekly", "0", "--recent", "0");
    expect(snapshots()).toEqual(["20261126T130000Z"]);
  });

  it("keeps every snapshot of the last day, so that the copy a push replaced outlives the next round", () => {
    const name = (hoursAgo: number) => new Date(Date.now() - hoursAgo * 3600_000).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const names = [name(30), name(2), name(1), name(0)].sort();
    for (const n of names) fs.mkdirSync(path.join(root, "history", n), { recursive: true });
    history("prune", "history", "--daily", "0", "--weekly", "0");
    expect(snapshots()).toEqual(names.slice(1));
  });

  it("keeps a copy once per change, by hard links, and a kept file stays as it was when the copy changes", () => {
    expect(history("snapshot", "copy", "history")).toMatch(/empty or missing: nothing to keep/);
    write("copy/a/one.txt", "first");
    write("copy/two.txt", "two");
    history("snapshot", "copy", "history");
    expect(history("snapshot", "copy", "history")).toMatch(/unchanged since snapshot/);
    const [first] = snapshots();
    expect(fs.statSync(path.join(root, "history", first, "two.txt")).ino).toBe(fs.statSync(path.join(root, "copy/two.txt")).ino);

    rewrite("copy/a/one.txt", "second");
    // A new second: snapshots are named by it.
    spawnSync("sleep", ["1.1"]);
    expect(history("snapshot", "copy", "history")).toMatch(/kept copy as snapshot \d{8}T\d{6}Z/);
    expect(snapshots()).toHaveLength(2);
    expect(fs.readFileSync(path.join(root, "history", first, "a/one.txt"), "utf8")).toBe("first");
    expect(fs.readFileSync(path.join(root, "history", snapshots()[1], "a/one.txt"), "utf8")).toBe("second");
    // A mode is part of a copy too.
    fs.chmodSync(path.join(root, "copy/two.txt"), 0o600);
    expect(history("snapshot", "copy", "history")).not.toMatch(/unchanged/);
  });

  it("never keeps a snapshot cut short (a full disk) as if it were whole", () => {
    write("copy/a.txt", "a");
    write("bin/cp", "#!/bin/sh\necho 'cp: No space left on device' >&2\nexit 1\n");
    fs.chmodSync(path.join(root, "bin/cp"), 0o755);
    const result = spawnSync("bash", [HISTORY, "snapshot", "copy", "history"], {
      encoding: "utf8",
      cwd: root,
      env: { ...process.env, PATH: `${path.join(root, "bin")}:${process.env.PATH}` },
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/could not keep copy/);
    expect(fs.readdirSync(path.join(root, "history"))).toEqual([]);
  });

  it("on its schedule, leaves a copy that changed moments ago and one a transfer holds, and keeps the rest", async () => {
    write("data/production2/orderly/file.txt", "x");
    write("data/production2/packit/dump", "y");
    write("data/uat/settled/file.txt", "z");
    // Everything changed moments ago.
    expect(history("scheduled", "data", "--settle", "3600")).toMatch(/production2\/orderly changed \d+s ago: a push may be under way/);
    const holder = spawn("flock", ["--shared", path.join(root, "data/production2/packit"), "sleep", "5"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const said = history("scheduled", "data", "--settle", "0", "--daily", "7", "--weekly", "4");
    holder.kill();
    expect(said).toMatch(/production2\/packit is in use by a transfer: left for the next round/);
    expect(said).toMatch(/kept .*production2\/orderly as snapshot/);
    expect(said).toMatch(/kept .*uat\/settled as snapshot/);
    expect(fs.existsSync(path.join(root, "data/.montagu/history/production2/packit"))).toBe(false);
    expect(fs.readdirSync(path.join(root, "data/.montagu/history/uat/settled")).filter((n) => !n.startsWith("."))).toHaveLength(1);
  });
});

describe("a push's copy kept after the push (images/privateer/server/gate_verbs.py, on this machine's python3)", () => {
  const SERVER = path.resolve("images/privateer/server");

  it("is kept by a process that holds the push's lock until the snapshot is whole, after the gate has moved on", () => {
    write("volumes/production2/orderly/report.txt", "pushed\n");
    fs.writeFileSync(path.join(root, "server.log"), "");
    // history.sh as the server runs it, slowed down so that the lock can be seen held.
    fs.writeFileSync(path.join(root, "slow-history.sh"), `sleep 1.5\nexec bash ${HISTORY} "$@"\n`);
    const probe = `
import fcntl, os, sys, time
sys.path.insert(0, ${JSON.stringify(SERVER)})
import gate_verbs
root = ${JSON.stringify(root)}
gate_verbs.HISTORY = root + "/history"
gate_verbs.HISTORY_SCRIPT = root + "/slow-history.sh"
gate_verbs.SERVER_LOG = root + "/server.log"
copy = root + "/volumes/production2/orderly"
fd = os.open(copy, os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
started = time.monotonic()
gate_verbs.keep_after_push("production2", copy, "orderly", fd)
returned = time.monotonic() - started
os.close(fd)  # the gate's session ends: its own hold on the lock goes
other = os.open(copy, os.O_RDONLY | os.O_DIRECTORY)
try:
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free-at-once")
except BlockingIOError:
    print("held")
fcntl.flock(other, fcntl.LOCK_EX)
waited = time.monotonic() - started
names = [n for n in os.listdir(root + "/history/production2/orderly") if not n.startswith(".")]
print(f"returned {returned:.2f} waited {waited:.2f} snapshots {len(names)}")
`;
    const result = spawnSync("python3", ["-c", probe], { encoding: "utf8", cwd: root });
    expect(result.stderr).toBe("");
    const [lock, timing] = result.stdout.trim().split("\n");
    expect(lock).toBe("held");
    const [, returned, waited, count] = /returned (\S+) waited (\S+) snapshots (\d+)/.exec(timing)!.map(Number);
    // The gate does not wait for the links; the next transfer does, and then finds them made.
    expect(returned).toBeLessThan(0.5);
    expect(waited).toBeGreaterThanOrEqual(1.5);
    expect(count).toBe(1);
    const [kept] = fs.readdirSync(path.join(root, "history/production2/orderly")).filter((name) => /^\d{8}T\d{6}Z$/.test(name));
    expect(fs.readFileSync(path.join(root, "history/production2/orderly", kept, "report.txt"), "utf8")).toBe("pushed\n");
    expect(fs.readFileSync(path.join(root, "server.log"), "utf8")).toMatch(/history: kept .*orderly as snapshot \d{8}T\d{6}Z \(\d+ ms\)/);
  });
});
