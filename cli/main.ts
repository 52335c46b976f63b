import { parseArgs } from "node:util";
import type { Engine } from "./engine";
import { Refusal } from "./engine";
import type { BackupHostReader, BarmanBackup, HistorySnapshot, OffsiteSnapshot } from "./reader";
import { barmanSettings, DATABASE_VOLUME, knownStack, offsiteCopies, partner, stackAs, stackInfo } from "./roles";
import { backupFor, baseBackups, type Journal, Operator, StepFailed, timeId } from "./runbook";
import type { StackFiles } from "./stackFiles";

// `montagu-backup <verb> ...`: the runbook in one command. Every change is a value written into
// a stack file and that stack's update; see docs/operations/cli.md.

export const USAGE = `usage: montagu-backup <verb> [options]

  list [stack|volume]                 what can be restored: barman's backups, history snapshots, the prepared copy,
                                      and the off-site copies (restic's snapshots, barman's backups in the bucket)
  status                              every backup's age against its schedule; exits 1 when one is late
  backup <stack> [--volume V]...      push the stack's volumes to the backup host now
  prepare <backup stack> [--at TIME] [--from offsite]
                                      make a restorable copy of the database (to a point in time with --at)
  restore <target> [--at TIME] [--snapshot NAME] [--from server|offsite] [--volume V]...
  restore --resume [target]           prepare, push and restore in one go; --resume carries on after a failure
  drill <target> --report PATH [restore's options]
                                      a restore, then a report of the target's answers beside the primary's

  --yes     do not ask before running the updates
  --json    machine-readable output on stdout, no progress`;

export interface Dependencies {
  files: StackFiles;
  engine: Engine;
  reader: BackupHostReader;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  confirm: (question: string) => Promise<boolean>;
  now?: () => Date;
  signal?: AbortSignal;
  /** The primary's answer to the verify query, for drill (psql on its database container). */
  primaryAnswer?: (stack: ReturnType<typeof stackInfo>, container: string, user: string, database: string, query: string) => Promise<string>;
  /** Reads the freshness monitor's status for `status`. */
  freshness?: (backupHost: ReturnType<typeof stackInfo>) => Promise<unknown>;
}

const OPTIONS = {
  at: { type: "string" },
  snapshot: { type: "string" },
  from: { type: "string" },
  volume: { type: "string", multiple: true },
  resume: { type: "boolean" },
  report: { type: "string" },
  yes: { type: "boolean", short: "y" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (cell ?? "").padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

export async function main(argv: string[], deps: Dependencies): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    deps.stderr(`montagu-backup: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [verb, target, ...extra] = positionals;
  if (values.help === true || verb === undefined) {
    deps.stdout(`${USAGE}\n`);
    return verb === undefined && values.help !== true ? 2 : 0;
  }
  const json = values.json === true;
  const say = (line: string) => (json ? undefined : deps.stdout(`${line}\n`));
  const operator = new Operator({
    files: deps.files,
    engine: deps.engine,
    reader: deps.reader,
    out: { say, progress: (stack, line) => (json ? undefined : deps.stdout(`  ${stack}: ${line.replace(/\n$/, "")}\n`)) },
    confirm: deps.confirm,
    now: deps.now,
    signal: deps.signal,
  });
  const now = deps.now ?? (() => new Date());
  const started = now();
  const finish = (journal: Journal | undefined) => {
    if (journal === undefined) return 1;
    const seconds = Math.round((now().getTime() - started.getTime()) / 100) / 10;
    if (json) deps.stdout(`${JSON.stringify({ ...journal, seconds }, null, 2)}\n`);
    else {
      say(table(["step", "stack", "id", "seconds", "result"], journal.steps.map((s) => [s.name, s.stack, s.id, String(s.seconds ?? ""), s.result ?? ""])));
      say(`done in ${seconds} s`);
    }
    return 0;
  };
  const from = values.from;
  if (from !== undefined && from !== "server" && from !== "offsite") {
    deps.stderr(`montagu-backup: --from is server or offsite, not '${from}'\n`);
    return 2;
  }

  try {
    if (extra.length > 0) throw new Refusal(`unexpected argument${extra.length === 1 ? "" : "s"}: ${extra.join(" ")}`);
    if (values.resume === true) {
      if (!["restore", "prepare", "backup"].includes(verb)) throw new Refusal(`--resume is for restore, prepare and backup`);
      return finish(await operator.resume(verb, target, values.yes === true, `montagu-backup ${verb} --resume${target === undefined ? "" : ` ${target}`}`));
    }
    switch (verb) {
      case "restore": {
        if (target === undefined) throw new Refusal("restore needs a target stack, such as uat");
        const steps = await operator.planRestore(target, { at: values.at, snapshot: values.snapshot, from, volumes: values.volume });
        return finish(await operator.run("restore", target, steps, values.yes === true, `montagu-backup restore --resume ${target}`));
      }
      case "prepare": {
        if (target === undefined) throw new Refusal("prepare needs the backup host's stack, such as annex2");
        const backup = stackAs(deps.files, target, "backup host", "prepare");
        const backupId = values.at === undefined ? undefined : backupFor(values.at, await baseBackups(deps.reader, backup, from === "offsite" ? "offsite" : undefined), now());
        const step = operator.prepareStep(backup, timeId(now()), { at: values.at, backupId, from: from === "offsite" ? "offsite" : undefined });
        return finish(await operator.run("prepare", target, [step], values.yes === true, `montagu-backup prepare --resume ${target}`));
      }
      case "backup": {
        if (target === undefined) throw new Refusal("backup needs the stack that pushes, such as production2");
        const primary = stackAs(deps.files, target, "primary", "backup");
        const backupHost = partner(deps.files, primary, "backup host");
        const local = new Set(primary.topology.volumes.filter((v) => v.local === true).map((v) => v.name));
        const pushed = primary.clients.flatMap((c) => c.backup ?? []).filter((v) => !local.has(v));
        const wanted = values.volume ?? pushed.filter((v) => v !== DATABASE_VOLUME);
        const unknown = wanted.filter((v) => !pushed.includes(v));
        if (unknown.length > 0) throw new Refusal(`--volume ${unknown.join(", ")}: ${target} backs up ${pushed.join(", ")}`);
        const server = backupHost.server?.name;
        if (server === undefined) throw new Refusal(`the backup host ${backupHost.name} provisions no privateer server`);
        const step = operator.pushStep(primary, timeId(now()), wanted.map((volume) => ({ volume, server })));
        return finish(await operator.run("backup", target, [step], values.yes === true, `montagu-backup backup --resume ${target}`));
      }
      case "list":
        return await list(deps, target, json);
      case "status":
        return await status(deps, json);
      case "drill":
        return await drill(deps, operator, target, values, json, now);
      default:
        throw new Refusal(`unknown verb '${verb}'\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof Refusal) {
      deps.stderr(`montagu-backup: ${error.message}\nNothing was changed.\n`);
      return 2;
    }
    if (error instanceof StepFailed) {
      deps.stderr(`montagu-backup: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** The backup hosts `filter` is about: all, the one named, or the one beside a named stack. */
function backupHosts(deps: Dependencies, filter: string | undefined) {
  const all = deps.files.stacks().map((name) => stackInfo(deps.files, name));
  const hosts = all.filter((s) => s.roles.includes("backup host"));
  if (filter === undefined || !deps.files.exists(filter)) return hosts;
  const named = knownStack(deps.files, filter);
  return named.roles.includes("backup host") ? [named] : [partner(deps.files, named, "backup host")];
}

/** A read that may fail (an off-site store out of reach) without hiding what the others found. */
async function attempt<T>(read: () => Promise<T>): Promise<{ value: T; error?: undefined } | { value?: undefined; error: string }> {
  try {
    return { value: await read() };
  } catch (error) {
    return { error: (error instanceof Error ? error.message : String(error)).trim() };
  }
}

const megabytes = (bytes: number | undefined) => (bytes === undefined ? "" : `${Math.round(bytes / 1e6)} MB`);

function barmanTable(backups: BarmanBackup[]): string {
  return table(
    ["id", "status", "begin", "end", "size", "WAL", "last WAL"],
    backups.map((b) => [b.id, b.status, b.begin ?? "", b.end ?? "", megabytes(b.size), b.beginWal === undefined ? "" : `${b.beginWal}..${b.endWal ?? ""}`, b.lastWal ?? ""]),
  );
}

async function list(deps: Dependencies, filter: string | undefined, json: boolean): Promise<number> {
  const report: Record<string, unknown>[] = [];
  const unread: string[] = [];
  const say = (text: string) => (json ? undefined : deps.stdout(`${text}\n`));
  for (const host of backupHosts(deps, filter)) {
    const volumeFilter = filter !== undefined && !deps.files.exists(filter) ? filter : undefined;
    const backups = await deps.reader.barmanBackups(host);
    const done = backups.filter((b) => b.status === "DONE" && b.end !== undefined);
    const group = deps.files
      .stacks()
      .map((name) => stackInfo(deps.files, name))
      .filter((s) => s.topologyFile === host.topologyFile);
    const copies = group.flatMap(offsiteCopies);
    let barmanOffsite: { backups?: BarmanBackup[]; error?: string } | undefined;
    if (barmanSettings(host).offsite) {
      const read = await attempt(() => deps.reader.barmanOffsiteBackups(host));
      barmanOffsite = read.error === undefined ? { backups: read.value } : { error: read.error };
      if (read.error !== undefined) unread.push(`${host.name}: barman's backups off-site: ${read.error}`);
    }
    const volumes: Record<string, unknown>[] = [];
    for (const primary of group.filter((s) => s.roles.includes("primary"))) {
      for (const client of primary.clients) {
        for (const volume of client.backup ?? []) {
          if (volumeFilter !== undefined && volume !== volumeFilter) continue;
          const entry: Record<string, unknown> = { client: client.name, volume, server: host.server?.name, snapshots: await deps.reader.snapshots(host, client.name, volume) };
          const copy = copies.find((c) => c.client === client.name && c.volume === volume);
          if (copy !== undefined) {
            const read = await attempt(() => deps.reader.offsiteSnapshots(stackInfo(deps.files, copy.stack), copy.container, copy.client, copy.volume));
            entry.offsite = { stack: copy.stack, container: copy.container, ...(read.error === undefined ? { snapshots: read.value } : { error: read.error }) };
            if (read.error !== undefined) unread.push(`${client.name}/${volume} off-site (in ${copy.stack}'s ${copy.container}): ${read.error}`);
          }
          volumes.push(entry);
        }
      }
    }
    const preparedAt = await deps.reader.preparedAt(host);
    report.push({
      backupHost: host.name,
      barman: { backups, earliestReachable: done[0]?.end, latestReachable: done.length === 0 ? undefined : "now", offsite: barmanOffsite },
      preparedAt,
      volumes,
    });
    if (json) continue;
    say(`${host.name}: barman's backups`);
    say(barmanTable(backups));
    say(done.length === 0 ? "  no finished backup: no point in time can be prepared yet" : `  a prepare reaches from ${done[0].end} to now`);
    if (barmanOffsite?.backups !== undefined) {
      say(`${host.name}: barman's backups off-site: ${barmanOffsite.backups.length}`);
      if (barmanOffsite.backups.length > 0) say(barmanTable(barmanOffsite.backups));
    } else if (barmanOffsite?.error !== undefined) say(`${host.name}: barman's backups off-site: unreadable: ${barmanOffsite.error.split("\n")[0]}`);
    say(`${host.name}: the prepared copy: ${preparedAt ?? "none"}`);
    for (const v of volumes) {
      const snapshots = v.snapshots as HistorySnapshot[];
      say(`${host.name}: ${v.client}/${v.volume}: ${snapshots.length} history snapshot${snapshots.length === 1 ? "" : "s"}`);
      if (snapshots.length > 0) say(table(["snapshot", "size", "files"], snapshots.map((s) => [s.name, `${s.size} B`, String(s.files)])));
      const offsite = v.offsite as { stack: string; container: string; snapshots?: OffsiteSnapshot[]; error?: string } | undefined;
      if (offsite === undefined) continue;
      const where = `off-site, copied by ${offsite.stack}'s ${offsite.container}`;
      if (offsite.snapshots === undefined) {
        say(`${v.client}/${v.volume} ${where}: unreadable: ${(offsite.error ?? "").split("\n")[0]}`);
        continue;
      }
      say(`${v.client}/${v.volume} ${where}: ${offsite.snapshots.length} snapshot${offsite.snapshots.length === 1 ? "" : "s"}`);
      if (offsite.snapshots.length > 0) {
        say(table(["snapshot", "time", "size", "files"], offsite.snapshots.map((s) => [s.id, s.time, s.size === undefined ? "" : `${s.size} B`, s.files === undefined ? "" : String(s.files)])));
      }
    }
  }
  if (json) deps.stdout(`${JSON.stringify(report, null, 2)}\n`);
  // What could not be read is named, and the exit says so: a script must not take a partial list for the whole.
  for (const line of unread) deps.stderr(`montagu-backup: could not read ${line}\n`);
  return unread.length === 0 ? 0 : 1;
}

/** A backup as the freshness monitor's /status.json has it (images/freshness/monitor_status.py). */
interface BackupStatus {
  id: string;
  description?: string;
  schedule?: string | null;
  state: string;
  age_seconds: number;
  stale_after_seconds: number;
  last_success?: string | null;
  offsite?: { lag_seconds?: number | null; state?: string } | null;
}
interface MonitorStatus {
  monitor_ok?: boolean;
  checked_at?: string | null;
  backups?: BackupStatus[];
  nightly_verification?: { failed?: boolean; verified_at?: string | null; answer?: string | null } | null;
}

/** A duration as a person reads it: 42 s, 17 min, 5.2 h, 3.1 d. */
export function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

async function status(deps: Dependencies, json: boolean): Promise<number> {
  if (deps.freshness === undefined) throw new Refusal("status reads the freshness monitor, which this build cannot reach");
  const hosts = deps.files.stacks().map((name) => stackInfo(deps.files, name)).filter((s) => s.config["montagu-backup:freshness"] !== undefined);
  if (hosts.length === 0) throw new Refusal("no stack runs the freshness monitor (montagu-backup:freshness)");
  const rows: string[][] = [];
  const report: Record<string, unknown>[] = [];
  let bad = false;
  for (const host of hosts) {
    let answer: MonitorStatus;
    try {
      answer = (await deps.freshness(host)) as MonitorStatus;
    } catch (error) {
      // A monitor that cannot be read watches nothing: as bad as a late backup.
      bad = true;
      report.push({ stack: host.name, error: (error as Error).message });
      rows.push([host.name, "(the monitor)", "unreadable", "", "", (error as Error).message.split("\n")[0]]);
      continue;
    }
    report.push({ stack: host.name, ...answer });
    if (answer.monitor_ok === false) {
      bad = true;
      rows.push([host.name, "(the monitor)", "not checking", "", "", `last check ${answer.checked_at ?? "never"}`]);
    }
    for (const b of answer.backups ?? []) {
      if (b.state === "late") bad = true;
      const state = b.state === "waiting" ? "never" : b.state;
      const offsite = b.offsite === undefined || b.offsite === null ? "" : `off-site ${b.offsite.lag_seconds === null || b.offsite.lag_seconds === undefined ? "never" : `${duration(b.offsite.lag_seconds)} behind`}`;
      rows.push([host.name, b.id, state, `${duration(b.age_seconds)} of ${duration(b.stale_after_seconds)}`, b.schedule ?? "", offsite]);
    }
    const nightly = answer.nightly_verification;
    if (nightly !== undefined && nightly !== null) {
      if (nightly.failed === true) bad = true;
      rows.push([host.name, "nightly copy", nightly.failed === true ? "failed" : "verified", nightly.verified_at ?? "", "", nightly.answer ?? ""]);
    }
  }
  if (json) deps.stdout(`${JSON.stringify({ late: bad, monitors: report }, null, 2)}\n`);
  else deps.stdout(`${table(["stack", "backup", "state", "age of allowed", "schedule", ""], rows)}\n`);
  return bad ? 1 : 0;
}

async function drill(
  deps: Dependencies,
  operator: Operator,
  target: string | undefined,
  values: { at?: string; snapshot?: string; from?: string; volume?: string[]; report?: string; yes?: boolean },
  json: boolean,
  now: () => Date,
): Promise<number> {
  if (target === undefined) throw new Refusal("drill needs a target stack, such as uat");
  if (values.report === undefined) throw new Refusal("drill needs --report PATH: where its report is written (PATH.md and PATH.json)");
  const info = stackAs(deps.files, target, "restore target", "drill");
  const verify = (info.config["montagu-backup:restore"] as { verify?: { container: string; user?: string; database?: string; query: string } } | undefined)?.verify;
  if (verify === undefined) throw new Refusal(`drill compares ${target}'s answer to montagu-backup:restore.verify's query with the primary's: ${target} has no verify query`);
  if (values.at !== undefined) throw new Refusal("drill compares with the primary now: not with --at");
  if (deps.primaryAnswer === undefined) throw new Refusal("drill cannot reach the primary's database in this build");
  const primary = partner(deps.files, info, "primary");
  const started = now();
  const steps = await operator.planRestore(target, { snapshot: values.snapshot, from: values.from as "server" | "offsite" | undefined, volumes: values.volume }, "drill");
  const journal = await operator.run("restore", target, steps, values.yes === true, `montagu-backup restore --resume ${target}`);
  if (journal === undefined) return 1;
  const restored = journal.steps.find((s) => s.name === "restore")?.result?.replace(/^verification: /, "");
  const primaryAnswer = await deps.primaryAnswer(primary, verify.container, verify.user ?? "vimc", verify.database ?? "montagu", verify.query);
  const report = {
    target,
    primary: primary.name,
    query: verify.query,
    restored,
    primaryAnswer,
    equal: restored === primaryAnswer,
    steps: journal.steps.map((s) => ({ name: s.name, stack: s.stack, id: s.id, seconds: s.seconds, result: s.result })),
    seconds: Math.round((now().getTime() - started.getTime()) / 100) / 10,
    at: started.toISOString(),
  };
  const fs = await import("node:fs");
  fs.writeFileSync(`${values.report}.json`, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(
    `${values.report}.md`,
    [
      `# Restore drill: ${target}, ${report.at}`,
      "",
      `The verify query \`${verify.query}\`, on ${target} after the restore and on ${primary.name} after it:`,
      "",
      table(["where", "answer"], [[target, restored ?? "(none)"], [primary.name, primaryAnswer]]).split("\n").map((l) => `    ${l}`).join("\n"),
      "",
      report.equal ? "They are equal." : "**They differ.**",
      "",
      "| step | stack | id | seconds |",
      "|---|---|---|---|",
      ...report.steps.map((s) => `| ${s.name} | ${s.stack} | ${s.id} | ${s.seconds ?? ""} |`),
      "",
      `In all ${report.seconds} s.`,
      "",
    ].join("\n"),
  );
  if (json) deps.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else deps.stdout(`drill report: ${values.report}.md, ${values.report}.json; ${report.equal ? "answers equal" : "ANSWERS DIFFER"}\n`);
  return report.equal ? 0 : 1;
}
