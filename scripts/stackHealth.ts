import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { parse } from "yaml";

// What an update killed half way (Ctrl-C twice, a lost terminal, kill -9) leaves in a file
// backend, found before the next command trips over it: Pulumi's own refusal of a locked stack
// names `pulumi cancel` without the backend and passphrase the local stack needs, and its
// warning about pending operations scrolls past at the top of an update that goes ahead.
// The layout is the diy backend's (pulumi/pulumi pkg/backend/diy: lock.go, store.go, journal.go).

/** A stack in a file backend. */
export interface StackLocation {
  /** The backend's directory: PULUMI_BACKEND_URL without `file://`. */
  stateDir: string;
  project: string;
  stack: string;
}

/** Something a killed run left, and what to do about it. */
export interface LeftOver {
  kind: "lock" | "running" | "pending" | "journal";
  message: string;
}

/** The lock a run writes at its start and deletes at its end (diy lock.go's lockContent). */
export interface StackLock {
  file: string;
  pid?: number;
  username?: string;
  hostname?: string;
  timestamp?: string;
}

/** An operation the engine had begun and not seen end (apitype OperationV2). */
export interface PendingOperation {
  /** `creating`, `updating`, `deleting`, `reading`, `importing`. */
  type: string;
  urn: string;
}

/** How a message names a Pulumi command: the local stack's way in by default, the coming tool its own. */
export type CommandNamer = (pulumiArgs: string) => string;
export const viaLocalScript: CommandNamer = (args) => `npm run local -- ${args}`;

/** Commands that take the stack's lock: a lock left by a killed run refuses them. */
const LOCKING = new Set(["up", "update", "destroy", "refresh", "import", "watch"]);
/** Commands that act on resources a pending operation may have half made; refresh is the cure, so not it. */
const CHANGING = new Set(["up", "update", "destroy", "import", "watch"]);

const bookkeeping = (location: StackLocation, ...parts: string[]) => path.join(location.stateDir, ".pulumi", ...parts);

/** Every lock on the stack: the project layout's, and the legacy layout's (a backend made before projects). */
export function stackLocks(location: StackLocation): StackLock[] {
  const dirs = [bookkeeping(location, "locks", "organization", location.project, location.stack), bookkeeping(location, "locks", location.stack)];
  const locks: StackLock[] = [];
  for (const dir of dirs) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (!name.endsWith(".json") || !fs.statSync(file).isFile()) continue;
      let content: Record<string, unknown> = {};
      try {
        content = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
      } catch {
        // A lock cut short while it was written still locks the stack: Pulumi refuses on its name alone.
      }
      locks.push({
        file,
        pid: typeof content.pid === "number" ? content.pid : undefined,
        username: typeof content.username === "string" ? content.username : undefined,
        hostname: typeof content.hostname === "string" ? content.hostname : undefined,
        timestamp: typeof content.timestamp === "string" ? content.timestamp : undefined,
      });
    }
  }
  return locks;
}

/** The stack's checkpoint file, in the first form found; undefined for a stack never updated. */
export function checkpointFile(location: StackLocation): string | undefined {
  for (const base of [bookkeeping(location, "stacks", location.project, location.stack), bookkeeping(location, "stacks", location.stack)]) {
    for (const extension of [".json", ".json.gz"]) if (fs.existsSync(base + extension)) return base + extension;
  }
  return undefined;
}

/** The operations the last checkpoint records as begun and not ended: `checkpoint.latest.pending_operations`. */
export function pendingOperations(location: StackLocation): PendingOperation[] {
  const file = checkpointFile(location);
  if (file === undefined) return [];
  const raw = fs.readFileSync(file);
  const text = (file.endsWith(".gz") ? zlib.gunzipSync(raw) : raw).toString("utf8");
  const checkpoint = JSON.parse(text) as { checkpoint?: { latest?: { pending_operations?: { type?: string; resource?: { urn?: string } }[] } } };
  return (checkpoint.checkpoint?.latest?.pending_operations ?? []).map((op) => ({ type: op.type ?? "unknown", urn: op.resource?.urn ?? "(no urn)" }));
}

/** The journal a killed run left unfolded (newer CLIs): its pending operations reach the checkpoint only at the next command. */
export function leftJournal(location: StackLocation): string | undefined {
  const manifest = bookkeeping(location, "journal", location.project, location.stack, "manifest.json");
  return fs.existsSync(manifest) ? manifest : undefined;
}

/** Whether a process runs on this machine: signal 0 probes it; EPERM still proves it is there. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A resource named as an operator reads it: `type name`, from the end of its URN. */
function resourceName(urn: string): string {
  const parts = urn.split("::");
  if (parts.length < 4) return urn;
  const type = parts[2].split("$").pop()!;
  return `${type} ${parts.slice(3).join("::")}`;
}

export interface CheckOptions {
  say?: CommandNamer;
  /** This machine's name: a lock from another machine cannot be probed. */
  hostname?: string;
  alive?: (pid: number) => boolean;
}

/**
 * What stops `command` (a Pulumi subcommand: `up`, `destroy`, ...) on this stack, each with the
 * exact command that clears it; [] when nothing does, or the command updates nothing.
 */
export function leftOvers(location: StackLocation, command: string, options: CheckOptions = {}): LeftOver[] {
  const say = options.say ?? viaLocalScript;
  const hostname = options.hostname ?? os.hostname();
  const alive = options.alive ?? processAlive;
  const found: LeftOver[] = [];
  if (!LOCKING.has(command)) return found;

  for (const lock of stackLocks(location)) {
    const who = [
      lock.pid === undefined ? undefined : `pid ${lock.pid}`,
      lock.username === undefined && lock.hostname === undefined ? undefined : `${lock.username ?? "?"}@${lock.hostname ?? "?"}`,
      lock.timestamp === undefined ? undefined : `since ${lock.timestamp}`,
    ]
      .filter((part) => part !== undefined)
      .join(", ");
    const here = lock.hostname === undefined || lock.hostname === hostname;
    if (here && lock.pid !== undefined && alive(lock.pid)) {
      found.push({
        kind: "running",
        message:
          `stack '${location.stack}' is locked by a run still going (${who}; ${lock.file}): wait for it to end. ` +
          `If pid ${lock.pid} is not a pulumi (a number used again), the lock is left over: run \`${say("cancel")}\``,
      });
    } else {
      found.push({
        kind: "lock",
        message:
          `stack '${location.stack}' is locked by a run that did not end cleanly (${who || "no owner recorded"}; ${lock.file}). ` +
          `Its plugins may still be finishing the step they were in: wait until \`pgrep -af pulumi-resource-\` lists none, then run \`${say("cancel")}\``,
      });
    }
  }

  // A run still going has operations pending and a journal open as a matter of course.
  if (CHANGING.has(command) && found.every((f) => f.kind !== "running")) {
    const pending = pendingOperations(location);
    const creating = pending.filter((op) => op.type === "creating");
    const others = pending.filter((op) => op.type !== "creating");
    if (creating.length > 0) {
      found.push({
        kind: "pending",
        message:
          `the last update was cut off while creating ${creating.length === 1 ? "1 resource" : `${creating.length} resources`} ` +
          `(${creating.map((op) => resourceName(op.urn)).join("; ")}), which the state may or may not hold: ` +
          `run \`${say("refresh --clear-pending-creates")}\` (it forgets them and refreshes the rest; the next update makes them again)`,
      });
    }
    if (others.length > 0) {
      found.push({
        kind: "pending",
        message:
          `the last update was cut off while ${others.map((op) => `${op.type} ${resourceName(op.urn)}`).join("; ")}: ` +
          `run \`${say(creating.length > 0 ? "refresh --clear-pending-creates" : "refresh")}\` (it reads each from its provider and clears what was pending)`,
      });
    }
    const journal = leftJournal(location);
    if (journal !== undefined) {
      found.push({
        kind: "journal",
        message:
          `a run that did not end left its journal (${journal}), not yet folded into the state: ` +
          `run \`${say("refresh --clear-pending-creates")}\` (it folds it in, then clears what the run left pending)`,
      });
    }
  }
  return found;
}

/** The project's name, from Pulumi.yaml beside this folder. */
export function projectName(projectDir = path.join(__dirname, "..")): string {
  const project = parse(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
  if (typeof project.name !== "string") throw new Error(`${projectDir}/Pulumi.yaml names no project`);
  return project.name;
}

/** `stackHealth.ts <state dir> <stack> <pulumi command>`: exits 1, saying what to run, when the command would trip. */
function main(argv: string[]): number {
  const [stateDir, stack, command] = argv;
  if (stateDir === undefined || stack === undefined || command === undefined) {
    process.stderr.write("usage: stackHealth.ts <state dir> <stack> <pulumi command>\n");
    return 2;
  }
  const found = leftOvers({ stateDir, project: projectName(), stack }, command);
  if (found.length === 0) return 0;
  process.stderr.write(`local: not running \`pulumi ${command}\`:\n${found.map((f) => `  - ${f.message}\n`).join("")}`);
  return 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
