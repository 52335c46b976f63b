import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { leftOvers, pendingOperations, projectName, type StackLocation, stackLocks } from "../../scripts/stackHealth";

// What a killed update leaves in a file backend, laid out as pulumi's diy backend lays it out
// (pkg/backend/diy: locks/<organization/project/stack>/<id>.json, stacks/<project>/<stack>.json,
// journal/<project>/<stack>/manifest.json), and what the local script says of it.

const root = fs.mkdtempSync(path.join(os.tmpdir(), "stack-health-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let count = 0;
/** An empty file backend of its own. */
function backend(): StackLocation {
  count += 1;
  return { stateDir: path.join(root, `state-${count}`), project: "montagu-backup", stack: "local" };
}

function write(file: string, content: string | Buffer) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

const HOST = "this-machine";
const lockDir = (at: StackLocation) => path.join(at.stateDir, ".pulumi", "locks", "organization", at.project, at.stack);
const lock = (at: StackLocation, content: object, id = "6b2f0e0c-lock") => write(path.join(lockDir(at), `${id}.json`), JSON.stringify(content));

const urn = (type: string, name: string) => `urn:pulumi:local::montagu-backup::montagu:backup:Barman$${type}::${name}`;
function checkpoint(pending: { type: string; urn: string }[]) {
  return JSON.stringify({
    version: 3,
    checkpoint: { stack: "organization/montagu-backup/local", latest: { manifest: {}, resources: [], pending_operations: pending.map((p) => ({ resource: { urn: p.urn, type: "x" }, type: p.type })) } },
  });
}
const stackFile = (at: StackLocation) => path.join(at.stateDir, ".pulumi", "stacks", at.project, `${at.stack}.json`);

const dead = { hostname: HOST, alive: () => false };
const running = { hostname: HOST, alive: () => true };

describe("a lock left on the stack", () => {
  it("is none on a backend never used", () => {
    const at = backend();
    expect(stackLocks(at)).toEqual([]);
    expect(pendingOperations(at)).toEqual([]);
    expect(leftOvers(at, "up", dead)).toEqual([]);
  });

  it("by a run whose process is gone: cancel, once its plugins are done", () => {
    const at = backend();
    lock(at, { pid: 4242, username: "alice", hostname: HOST, timestamp: "2026-12-04T21:50:00Z" });
    const [found, ...rest] = leftOvers(at, "up", dead);
    expect(rest).toEqual([]);
    expect(found.kind).toBe("lock");
    expect(found.message).toBe(
      `stack 'local' is locked by a run that did not end cleanly (pid 4242, alice@${HOST}, since 2026-12-04T21:50:00Z; ${path.join(lockDir(at), "6b2f0e0c-lock.json")}). ` +
        "Its plugins may still be finishing the step they were in: wait until `pgrep -af pulumi-resource-` lists none, then run `npm run local -- cancel`",
    );
  });

  it("by a run still going: wait for it, and pending operations are its own", () => {
    const at = backend();
    lock(at, { pid: 4242, username: "alice", hostname: HOST, timestamp: "2026-12-04T21:50:00Z" });
    write(stackFile(at), checkpoint([{ type: "creating", urn: urn("docker:index/container:Container", "barman") }]));
    const found = leftOvers(at, "destroy", running);
    expect(found.map((f) => f.kind)).toEqual(["running"]);
    expect(found[0].message).toContain("locked by a run still going (pid 4242");
    expect(found[0].message).toContain("wait for it to end");
  });

  it("from another machine, which cannot be probed, or with no owner: treated as left over", () => {
    const at = backend();
    lock(at, { pid: 1, username: "bob", hostname: "elsewhere" }, "a");
    write(path.join(lockDir(at), "b.json"), "{ cut sh");
    const found = leftOvers(at, "refresh", running);
    expect(found.map((f) => f.kind)).toEqual(["lock", "lock"]);
    expect(found[1].message).toContain("(no owner recorded;");
    expect(found.every((f) => f.message.endsWith("run `npm run local -- cancel`"))).toBe(true);
  });

  it("in the layout of a backend made before projects", () => {
    const at = backend();
    write(path.join(at.stateDir, ".pulumi", "locks", "local", "x.json"), JSON.stringify({ pid: 7, hostname: HOST }));
    expect(leftOvers(at, "up", dead).map((f) => f.kind)).toEqual(["lock"]);
  });

  it("stops only the commands that take the lock: preview, stack output and cancel go through", () => {
    const at = backend();
    lock(at, { pid: 4242, hostname: HOST });
    for (const command of ["up", "update", "destroy", "refresh", "import", "watch"]) expect(leftOvers(at, command, dead), command).toHaveLength(1);
    for (const command of ["preview", "stack", "cancel", "config", "version"]) expect(leftOvers(at, command, dead), command).toEqual([]);
  });
});

describe("operations a killed update left pending", () => {
  it("creates: refresh --clear-pending-creates, naming each resource", () => {
    const at = backend();
    write(
      stackFile(at),
      checkpoint([
        { type: "creating", urn: urn("docker:index/container:Container", "barman") },
        { type: "creating", urn: urn("command:local:Command", "barman-base-backup") },
      ]),
    );
    expect(pendingOperations(at).map((op) => op.type)).toEqual(["creating", "creating"]);
    expect(leftOvers(at, "up", dead)).toEqual([
      {
        kind: "pending",
        message:
          "the last update was cut off while creating 2 resources (docker:index/container:Container barman; command:local:Command barman-base-backup), " +
          "which the state may or may not hold: run `npm run local -- refresh --clear-pending-creates` (it forgets them and refreshes the rest; the next update makes them again)",
      },
    ]);
  });

  it("updates, deletes and reads: refresh", () => {
    const at = backend();
    write(
      stackFile(at),
      checkpoint([
        { type: "updating", urn: urn("docker:index/container:Container", "barman") },
        { type: "deleting", urn: urn("docker:index/volume:Volume", "old") },
      ]),
    );
    const [found] = leftOvers(at, "destroy", dead);
    expect(found.message).toBe(
      "the last update was cut off while updating docker:index/container:Container barman; deleting docker:index/volume:Volume old: " +
        "run `npm run local -- refresh` (it reads each from its provider and clears what was pending)",
    );
  });

  it("of both kinds, after a lock: cancel first, then the one refresh that clears both", () => {
    const at = backend();
    lock(at, { pid: 4242, hostname: HOST });
    write(
      stackFile(at),
      checkpoint([
        { type: "creating", urn: urn("docker:index/container:Container", "new") },
        { type: "updating", urn: urn("docker:index/container:Container", "barman") },
      ]),
    );
    const found = leftOvers(at, "up", dead);
    expect(found.map((f) => f.kind)).toEqual(["lock", "pending", "pending"]);
    expect(found[2].message).toContain("run `npm run local -- refresh --clear-pending-creates`");
  });

  it("do not stop refresh, which clears them", () => {
    const at = backend();
    write(stackFile(at), checkpoint([{ type: "creating", urn: urn("docker:index/container:Container", "barman") }]));
    expect(leftOvers(at, "refresh", dead)).toEqual([]);
    expect(leftOvers(at, "preview", dead)).toEqual([]);
  });

  it("are read from a compressed checkpoint too", () => {
    const at = backend();
    write(`${stackFile(at)}.gz`, zlib.gzipSync(checkpoint([{ type: "deleting", urn: urn("docker:index/volume:Volume", "v") }])));
    expect(pendingOperations(at)).toEqual([{ type: "deleting", urn: urn("docker:index/volume:Volume", "v") }]);
  });

  it("are none in a checkpoint that finished", () => {
    const at = backend();
    write(stackFile(at), JSON.stringify({ version: 3, checkpoint: { stack: "local", latest: { manifest: {}, resources: [] } } }));
    expect(leftOvers(at, "up", dead)).toEqual([]);
  });

  it("may still be in a journal the killed run left, which the next command folds in", () => {
    const at = backend();
    write(path.join(at.stateDir, ".pulumi", "journal", at.project, at.stack, "manifest.json"), JSON.stringify({ epochID: "e" }));
    const [found] = leftOvers(at, "up", dead);
    expect(found.kind).toBe("journal");
    expect(found.message).toContain("run `npm run local -- refresh --clear-pending-creates`");
  });
});

describe("for the command-line tool that runs updates", () => {
  it("names the commands its own way", () => {
    const at = backend();
    lock(at, { pid: 4242, hostname: HOST });
    const [found] = leftOvers(at, "up", { ...dead, say: (args) => `pulumi ${args} --stack annex2` });
    expect(found.message).toContain("run `pulumi cancel --stack annex2`");
  });

  it("reads the project's name from Pulumi.yaml", () => {
    expect(projectName()).toBe("montagu-backup");
  });
});
