import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type Engine, type Preview, Refusal } from "./engine";
import type { BackupHostReader, BarmanBackup } from "./reader";
import { barmanSettings, DATABASE_VOLUME, partner, type StackInfo, stackAs } from "./roles";
import type { ConfigPath, StackFiles } from "./stackFiles";

// The runbook as steps: each step is a few values written into one stack file (a new id among
// them) and that stack's update. The steps of a run, and how far it got, are kept in a journal
// beside the stack files, so that `--resume` runs only those not finished, with the ids already
// written: a stack updated again with the same ids runs nothing.

const NS = "montagu-backup";
const key = (name: string) => `${NS}:${name}`;

/** One value written into a stack file; `undefined` removes the key. */
export interface Write {
  at: ConfigPath;
  value: unknown;
}

export type StepName = "prepare" | "push" | "restore";

export interface Step {
  name: StepName;
  stack: string;
  writes: Write[];
}

export interface StepRecord {
  name: StepName;
  stack: string;
  /** The id the step runs under, and where it is in the stack file. */
  id: string;
  idAt: ConfigPath;
  status: "pending" | "running" | "done" | "failed";
  startedAt?: string;
  seconds?: number;
  result?: string;
  error?: string;
}

export interface Journal {
  verb: string;
  /** The stack named on the command line. */
  stack: string;
  startedAt: string;
  steps: StepRecord[];
}

export interface Output {
  /** Progress and tables for people; quiet with --json. */
  say(line: string): void;
  /** An update's own lines (rsync's progress among them); quiet with --json. */
  progress(stack: string, line: string): void;
}

export interface OperatorOptions {
  files: StackFiles;
  engine: Engine;
  reader: BackupHostReader;
  out: Output;
  /** Asked once before anything runs; false stops with nothing changed. */
  confirm: (question: string) => Promise<boolean>;
  now?: () => Date;
  signal?: AbortSignal;
}

export interface RestoreOptions {
  at?: string;
  snapshot?: string;
  from?: "server" | "offsite";
  volumes?: string[];
}

/** A failed step: the stack, the step, and what to do. */
export class StepFailed extends Error {
  constructor(
    readonly step: StepRecord,
    cause: string,
    resume: string,
  ) {
    super(`the ${step.name} step on stack '${step.stack}' failed: ${cause}\nNothing after it ran. Fix the cause, then run \`${resume}\`: it carries on from this step with the ids already written.`);
    this.name = "StepFailed";
  }
}

const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** A readable id: the UTC time to the second, as history snapshots are named. */
export function timeId(now: Date): string {
  return now.toISOString().slice(0, 19).replace(/[-:]/g, "") + "Z";
}

/** `id`, or `id-2`, `id-3`... when the stack file has it already: a new id is what runs the step. */
function freshId(id: string, current: unknown): string {
  if (current !== id && !(typeof current === "string" && current.startsWith(`${id}-`))) return id;
  const n = typeof current === "string" && current.startsWith(`${id}-`) ? Number(current.slice(id.length + 1)) + 1 : 2;
  return `${id}-${n}`;
}

/**
 * The base backup a prepare to `at` starts from (the latest that ended before it), or a refusal
 * when `at` is not a moment a prepare can reach: in the future, or before every backup's end.
 */
export function backupFor(at: string, backups: BarmanBackup[], now: Date): string {
  const when = Date.parse(at);
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(at) || Number.isNaN(when)) throw new Refusal(`--at '${at}' is not a time with its zone, such as 2026-12-04T09:00:00Z`);
  const done = backups.filter((b) => b.status === "DONE" && b.end !== undefined).sort((a, b) => Date.parse(a.end!) - Date.parse(b.end!));
  const reach = done.length === 0 ? "barman has no finished backup yet" : `the earliest reachable is ${done[0].end}, the latest is now (${now.toISOString()})`;
  if (when > now.getTime()) throw new Refusal(`--at ${at} is in the future: ${reach}`);
  const before = done.filter((b) => Date.parse(b.end!) <= when);
  if (before.length === 0) throw new Refusal(`--at ${at} is before every backup's end: ${reach}`);
  return before[before.length - 1].id;
}

/**
 * The base backups a prepare starts from: barman's own, or with `--from offsite` those in the
 * bucket, which are what the prepare then recovers (barman's newest may not be sent yet, and a
 * rebuilt backup host has none of its own).
 */
export async function baseBackups(reader: BackupHostReader, backup: StackInfo, from: "offsite" | undefined): Promise<BarmanBackup[]> {
  if (from !== "offsite") return reader.barmanBackups(backup);
  if (!barmanSettings(backup).offsite) throw new Refusal(`--from offsite prepares from barman's backups in the bucket, and ${backup.name}'s barman sends none there (no barman.offsite)`);
  return reader.barmanOffsiteBackups(backup);
}

interface RestoreEntry {
  volume: string;
  from?: string;
  server?: string;
  source?: string;
  to?: string;
  snapshot?: string;
  [other: string]: unknown;
}

export class Operator {
  private readonly files: StackFiles;
  private readonly engine: Engine;
  private readonly reader: BackupHostReader;
  private readonly out: Output;
  private readonly now: () => Date;

  constructor(private readonly options: OperatorOptions) {
    this.files = options.files;
    this.engine = options.engine;
    this.reader = options.reader;
    this.out = options.out;
    this.now = options.now ?? (() => new Date());
  }

  journalFile(verb: string, stack: string): string {
    return path.join(this.files.projectDir, ".montagu-backup", `${verb}-${stack}.json`);
  }

  readJournal(verb: string, stack: string): Journal | undefined {
    const file = this.journalFile(verb, stack);
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Journal) : undefined;
  }

  private writeJournal(journal: Journal): void {
    const file = this.journalFile(journal.verb, journal.stack);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(journal, null, 2));
    fs.renameSync(`${file}.tmp`, file);
  }

  // ---- the steps ----

  prepareStep(backup: StackInfo, id: string, options: { at?: string; backupId?: string; from?: "offsite" }): Step {
    const section = key("prepareRestore");
    return {
      name: "prepare",
      stack: backup.name,
      writes: [
        { at: [section, "id"], value: freshId(id, this.files.get(backup.name, [section, "id"])) },
        { at: [section, "targetTime"], value: options.at },
        { at: [section, "backup"], value: options.backupId },
        { at: [section, "from"], value: options.from },
      ]
    };
  }

  pushStep(primary: StackInfo, id: string, volumes: { volume: string; server: string }[]): Step {
    const at: ConfigPath = [key("privateer"), "backup"];
    const current = record(this.files.get(primary.name, at));
    const writes: Write[] = [{ at: [...at, "id"], value: freshId(id, current.id) }];
    if (!isDeepStrictEqual(current.volumes, volumes)) writes.push({ at: [...at, "volumes"], value: volumes });
    return { name: "push", stack: primary.name, writes };
  }

  /** The restore's volumes: the target's own `restore` section's, else the database and every volume the primary pushes. */
  private restoreEntries(target: StackInfo, backup: StackInfo, primary: StackInfo): RestoreEntry[] {
    const own = record(target.config[key("restore")]).volumes;
    if (Array.isArray(own)) return own as RestoreEntry[];
    const server = backup.server?.name;
    if (server === undefined) throw new Refusal(`the backup host ${backup.name} provisions no privateer server, so there is nothing to restore from`);
    const local = new Set(primary.topology.volumes.filter((v) => v.local === true).map((v) => v.name));
    const pushed = primary.clients.flatMap((client) => (client.backup ?? []).filter((v) => v !== DATABASE_VOLUME && !local.has(v)).map((volume) => ({ volume, server, source: client.name })));
    return [{ volume: barmanSettings(backup).recover, server, to: DATABASE_VOLUME }, ...pushed];
  }

  /** The steps of a restore onto `targetName`, every input checked first: a refusal changes nothing. */
  async planRestore(targetName: string, options: RestoreOptions, verb = "restore"): Promise<Step[]> {
    const target = stackAs(this.files, targetName, "restore target", verb);
    const backup = partner(this.files, target, "backup host");
    const primary = partner(this.files, target, "primary");
    const recover = barmanSettings(backup).recover;
    const local = new Set(target.topology.volumes.filter((v) => v.local === true).map((v) => v.name));
    const isDatabase = (entry: RestoreEntry) => entry.volume === recover;

    let entries = this.restoreEntries(target, backup, primary);
    if (options.volumes !== undefined && options.volumes.length > 0) {
      const names = (entry: RestoreEntry) => [entry.volume, entry.to ?? entry.volume];
      const unknown = options.volumes.filter((v) => !entries.some((entry) => names(entry).includes(v)));
      if (unknown.length > 0) throw new Refusal(`--volume ${unknown.join(", ")}: not among the volumes ${target.name} restores (${entries.map((e) => e.to ?? e.volume).join(", ")})`);
      entries = entries.filter((entry) => names(entry).some((n) => options.volumes!.includes(n)));
    }
    if (options.from === "offsite") {
      entries = entries.map((entry) => {
        if (isDatabase(entry) || local.has(entry.volume)) return entry;
        const { server: _server, snapshot: _snapshot, ...rest } = entry;
        return { ...rest, from: "offsite" };
      });
    }
    const database = entries.some(isDatabase);
    if (options.at !== undefined && !database) throw new Refusal(`--at is a time for the database, which this restore does not take (--volume leaves it out)`);

    const fromServer = entries.filter((entry) => !isDatabase(entry) && !local.has(entry.volume) && (entry.from ?? "server") === "server");
    if (options.snapshot !== undefined) {
      if (options.from === "offsite") throw new Refusal("--snapshot names a server's history snapshot: not with --from offsite");
      if (fromServer.length === 0) throw new Refusal("--snapshot: this restore takes no volume from a server's history");
      for (const entry of fromServer) {
        const client = entry.source ?? primary.clients[0]?.name ?? primary.name;
        const names = (await this.reader.snapshots(backup, client, entry.volume)).map((s) => s.name);
        const ok = options.snapshot === "latest" ? names.length > 0 : names.includes(options.snapshot);
        if (!ok) {
          throw new Refusal(
            `no snapshot '${options.snapshot}' of ${client}/${entry.volume} on ${entry.server ?? backup.name}: ` +
              (names.length === 0 ? "it has none yet" : `those there are: ${names.join(", ")}`),
          );
        }
      }
      entries = entries.map((entry) => (fromServer.includes(entry) ? { ...entry, snapshot: options.snapshot } : entry));
    }

    let backupId: string | undefined;
    if (options.at !== undefined) backupId = backupFor(options.at, await baseBackups(this.reader, backup, options.from === "offsite" ? "offsite" : undefined), this.now());

    const id = timeId(this.now());
    const steps: Step[] = [];
    if (database) steps.push(this.prepareStep(backup, id, { at: options.at, backupId, from: options.from === "offsite" ? "offsite" : undefined }));
    // The server's current copy is only as fresh as the last push: push those first. A snapshot is on the server already.
    const toPush = fromServer.filter((entry) => (entry.snapshot ?? options.snapshot) === undefined);
    if (toPush.length > 0) steps.push(this.pushStep(primary, id, toPush.map((entry) => ({ volume: entry.volume, server: entry.server ?? backup.server!.name }))));

    const section = key("restore");
    const current = record(this.files.get(target.name, [section]));
    const writes: Write[] = [];
    if (Object.keys(current).length === 0) {
      writes.push({ at: [section], value: { id, volumes: entries } });
    } else {
      writes.push({ at: [section, "id"], value: freshId(id, current.id) });
      if (!isDeepStrictEqual(current.volumes, entries)) writes.push({ at: [section, "volumes"], value: entries });
    }
    steps.push({
      name: "restore",
      stack: target.name,
      writes,
    });
    return steps;
  }

  // ---- running them ----

  private async refuseLocked(stacks: string[]): Promise<void> {
    for (const stack of new Set(stacks)) {
      const holder = await this.engine.lockHolder(stack);
      if (holder !== undefined) {
        throw new Refusal(`stack '${stack}' is being updated by ${holder.who}${holder.since === undefined ? "" : ` since ${holder.since}`}: wait for it to end (or, if that run is dead, cancel it) and try again`);
      }
    }
  }

  private idOf(step: Step): { id: string; idAt: ConfigPath } {
    for (const write of step.writes) {
      if (write.at[write.at.length - 1] === "id") return { id: String(write.value), idAt: write.at };
      if (write.at.length === 1 && typeof record(write.value).id === "string") return { id: String(record(write.value).id), idAt: [write.at[0], "id"] };
    }
    throw new Error(`step ${step.name} writes no id`);
  }

  /**
   * Writes every step's values, previews every stack and shows the previews together, asks
   * once, then runs the steps in order. Declined, or a preview failed: the files are put back.
   */
  async run(verb: string, stack: string, steps: Step[], yes: boolean, resumeCommand: string): Promise<Journal | undefined> {
    await this.refuseLocked(steps.map((s) => s.stack));
    const texts = new Map(steps.map((s) => [s.stack, this.files.text(s.stack)]));
    const putBack = () => texts.forEach((text, name) => this.files.putBack(name, text));
    const previews: Preview[] = [];
    try {
      for (const step of steps) {
        for (const write of step.writes) {
          await this.engine.setConfig(step.stack, write.at, write.value);
        }
      }
      for (const step of steps) {
        try {
          previews.push(await this.engine.preview(step.stack, { signal: this.options.signal }));
        } catch (error) {
          // What the stack refuses (its config's validation among it), before anything ran.
          throw new Refusal(`the preview of stack '${step.stack}' failed, so nothing ran:\n${error instanceof Error ? error.message : String(error)}`);
        }
      }
    } catch (error) {
      putBack();
      throw error;
    }
    steps.forEach((step, i) => {
      const { id } = this.idOf(step);
      const counts = Object.entries(previews[i].changes).filter(([op, n]) => op !== "same" && n > 0).map(([op, n]) => `${n} to ${op}`).join(", ");
      this.out.say(`${i + 1}. ${step.name} on ${step.stack} (id ${id}): ${counts || "nothing to change"}`);
      for (const line of previews[i].steps) this.out.say(`     ${line}`);
    });
    if (!yes && !(await this.options.confirm(`Run these ${steps.length} update${steps.length === 1 ? "" : "s"}?`))) {
      putBack();
      this.out.say("Nothing was changed.");
      return undefined;
    }
    const journal: Journal = {
      verb,
      stack,
      startedAt: this.now().toISOString(),
      steps: steps.map((step) => ({ name: step.name, stack: step.stack, ...this.idOf(step), status: "pending" })),
    };
    this.writeJournal(journal);
    return this.carryOn(journal, resumeCommand);
  }

  /** Runs the journal's steps not done yet, in order; the ids must still be in the stack files. */
  async carryOn(journal: Journal, resumeCommand: string): Promise<Journal> {
    for (const step of journal.steps) {
      if (step.status === "done") {
        this.out.say(`${step.name} on ${step.stack}: done already (id ${step.id}), not run again`);
        continue;
      }
      const written = this.files.get(step.stack, step.idAt);
      if (written !== step.id) {
        throw new Refusal(`Pulumi.${step.stack}.yaml has ${step.idAt.join(".")} ${JSON.stringify(written)}, not this run's ${step.id}: someone changed it since; start a new run`);
      }
      const started = this.now();
      step.status = "running";
      step.startedAt = started.toISOString();
      this.writeJournal(journal);
      this.out.say(`${step.name} on ${step.stack}: started ${step.startedAt}`);
      try {
        const outputs = await this.engine.update(step.stack, { onOutput: (line) => this.out.progress(step.stack, line), signal: this.options.signal });
        step.status = "done";
        step.seconds = Math.round((this.now().getTime() - started.getTime()) / 100) / 10;
        step.result = summaries[step.name]?.(outputs);
        this.writeJournal(journal);
        this.out.say(`${step.name} on ${step.stack}: done in ${step.seconds} s${step.result === undefined ? "" : `; ${step.result}`}`);
      } catch (error) {
        step.status = "failed";
        step.seconds = Math.round((this.now().getTime() - started.getTime()) / 100) / 10;
        step.error = error instanceof Error ? error.message : String(error);
        this.writeJournal(journal);
        throw new StepFailed(step, this.options.signal?.aborted === true ? "cancelled (Ctrl-C)" : step.error, resumeCommand);
      }
    }
    return journal;
  }

  /** `--resume`: the run recorded for `stack` (or the only one recorded), carried on. */
  async resume(verb: string, stack: string | undefined, yes: boolean, resumeCommand: string): Promise<Journal | undefined> {
    const dir = path.join(this.files.projectDir, ".montagu-backup");
    const recorded = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith(`${verb}-`) && f.endsWith(".json")).map((f) => f.slice(verb.length + 1, -5)) : [];
    const name = stack ?? (recorded.length === 1 ? recorded[0] : undefined);
    if (name === undefined) throw new Refusal(recorded.length === 0 ? `no ${verb} to resume` : `several ${verb}s to resume (${recorded.join(", ")}): name the stack`);
    const journal = this.readJournal(verb, name);
    if (journal === undefined) throw new Refusal(`no ${verb} of ${name} to resume`);
    const left = journal.steps.filter((s) => s.status !== "done");
    if (left.length === 0) {
      this.out.say(`the ${verb} of ${name} started ${journal.startedAt} has finished: nothing to resume`);
      return journal;
    }
    await this.refuseLocked(left.map((s) => s.stack));
    this.out.say(`Resuming the ${verb} of ${name} started ${journal.startedAt}: ${left.map((s) => `${s.name} on ${s.stack} (id ${s.id})`).join(", then ")}`);
    if (!yes && !(await this.options.confirm("Carry on?"))) {
      this.out.say("Nothing was changed.");
      return undefined;
    }
    return this.carryOn(journal, resumeCommand);
  }
}

/** What each step's output says, for a resumed run too. */
const summaries: Record<StepName, ((outputs: Record<string, unknown>) => string | undefined) | undefined> = {
  prepare: (outputs) => `prepared copy at ${String(record(outputs.prepareRestore).preparedAt ?? "?")}`,
  push: undefined,
  restore: (outputs) => {
    const verification = record(outputs.restore).verification;
    return verification === undefined ? undefined : `verification: ${String(verification)}`;
  },
};
