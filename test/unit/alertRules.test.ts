import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { AlertRule, AlertRules } from "../../config/plan/alertRules";
import { BARMAN_FAILING_FOR, MONITOR_SILENT_FOR } from "../../config/plan/alertRules";
import { deterministicProvider } from "./snapshot/declared";
import { runStack } from "../../simulator/harness/run";
import { readStackConfig } from "../../simulator/harness/stackConfig";
import { validated } from "../fixtures/validate";

// The alerting rules each stack generates, as a real Prometheus reads them: promtool (Debian's
// `prometheus` package; .ci/run installs it) checks them, and runs series written here through
// them: each backup's alert fires once its age passes the threshold the monitor uses, not at
// the threshold itself, and stops when a new success brings the age down.

type Json = any;
const STACKS_WITH_A_MONITOR = ["local", "annex2"];

async function generated(stack: string, extra: Json = {}): Promise<{ rules: AlertRules; text: string; monitor: Json }> {
  const run = await runStack(stack, { ...readStackConfig(stack), ...extra }, deterministicProvider);
  const text: string = (run.outputs.freshness as Json).alertRules;
  const container = run.resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "montagu-freshness")!;
  const monitor = JSON.parse(container.inputs.uploads.find((u: Json) => u.file === "/etc/montagu/freshness.json").content);
  return { rules: parse(text), text, monitor };
}

function promtool(dir: string, ...args: string[]) {
  const result = spawnSync("promtool", args, { cwd: dir, encoding: "utf8" });
  if (result.error) throw new Error(`promtool: ${result.error.message} (Debian's prometheus package has it)`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const threshold = (rule: AlertRule) => Number(/ > (\d+)$/.exec(rule.expr)![1]);
const minutes = (text: string) => Number(/^(\d+)m$/.exec(text)![1]);

/** promtool's unit tests for `rules`: the series a late backup, a failing barman or a silent monitor would show. */
function ruleTests(rules: AlertRules): Json {
  const all = rules.groups.flatMap((group) => group.rules);
  const expected = (rule: AlertRule, labels: Record<string, string>) => [{ exp_labels: { ...rule.labels, ...labels }, exp_annotations: rule.annotations }];
  const tests: Json[] = [];
  for (const rule of all.filter((r) => r.alert === "MontaguBackupLate")) {
    const selector = /^(\S+\{[^}]*\})/.exec(rule.expr)![1];
    const labels = Object.fromEntries([...selector.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const late = threshold(rule);
    // Its age a minute under the threshold, at it, a minute over, two over, then a new success.
    tests.push({
      interval: "1m",
      input_series: [{ series: selector, values: `${late - 60} ${late} ${late + 60} ${late + 120} 30` }],
      alert_rule_test: [
        { eval_time: "0m", alertname: rule.alert, exp_alerts: [] },
        { eval_time: "1m", alertname: rule.alert, exp_alerts: [] },
        { eval_time: "2m", alertname: rule.alert, exp_alerts: expected(rule, labels) },
        { eval_time: "3m", alertname: rule.alert, exp_alerts: expected(rule, labels) },
        { eval_time: "4m", alertname: rule.alert, exp_alerts: [] },
      ],
    });
  }
  const silent = all.find((r) => r.alert === "MontaguBackupMonitorSilent")!;
  const okSelector = /^absent\((\S+\{[^}]*\})\)/.exec(silent.expr)![1];
  const name = /name="([^"]*)"/.exec(okSelector)![1];
  const wait = minutes(MONITOR_SILENT_FOR);
  // Checking, then not checking (0) from the 2nd minute: late after MONITOR_SILENT_FOR, not before.
  tests.push({
    interval: "1m",
    input_series: [{ series: okSelector, values: `1 1 0x${wait + 2}` }],
    alert_rule_test: [
      { eval_time: `${wait + 1}m`, alertname: silent.alert, exp_alerts: [] },
      { eval_time: `${wait + 2}m`, alertname: silent.alert, exp_alerts: expected(silent, { name }) },
    ],
  });
  // Never scraped at all: absent.
  tests.push({
    interval: "1m",
    input_series: [{ series: 'unrelated{job="other"}', values: `1x${wait + 1}` }],
    alert_rule_test: [
      { eval_time: `${wait - 1}m`, alertname: silent.alert, exp_alerts: [] },
      { eval_time: `${wait}m`, alertname: silent.alert, exp_alerts: expected(silent, { name }) },
    ],
  });
  for (const rule of all.filter((r) => r.alert.startsWith("MontaguBarman"))) {
    const selector = /^(\S+\{[^}]*\})/.exec(rule.expr)![1];
    const [bad, good] = rule.expr.endsWith("== 0") ? [0, 1] : [1, 0];
    const wait = rule.for === undefined ? 0 : minutes(rule.for);
    // Good for two minutes, then failing: an alert once it has failed for `for`, not a minute before.
    tests.push({
      interval: "1m",
      input_series: [{ series: selector, values: `${good} ${good} ${bad}x${wait + 2}` }],
      alert_rule_test: [
        { eval_time: "1m", alertname: rule.alert, exp_alerts: [] },
        ...(wait > 0 ? [{ eval_time: `${wait + 1}m`, alertname: rule.alert, exp_alerts: [] }] : []),
        { eval_time: `${wait + 2}m`, alertname: rule.alert, exp_alerts: expected(rule, { database: "montagu" }) },
      ],
    });
  }
  return { rule_files: ["rules.yml"], evaluation_interval: "1m", tests };
}

function promtoolTest(rulesText: string, tests: Json) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rules-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yml"), rulesText);
    fs.writeFileSync(path.join(dir, "tests.yml"), stringify(tests));
    return { check: promtool(dir, "check", "rules", "rules.yml"), test: promtool(dir, "test", "rules", "tests.yml") };
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

describe("the Prometheus rules each stack generates", () => {
  for (const stack of STACKS_WITH_A_MONITOR) {
    it(`${stack}: pass promtool's check, and its tests show each alert firing once late and not before`, async () => {
      const { rules, text, monitor } = await generated(stack);
      const late = rules.groups[0].rules.filter((r) => r.alert === "MontaguBackupLate");
      // One alert per backup the monitor watches, on the monitor's own threshold.
      expect(late.map((r) => [r.labels.backup, threshold(r)])).toEqual(monitor.backups.map((b: Json) => [b.id, b.staleAfterSeconds]));
      expect(monitor.rules).toBe(text);
      const { check, test } = promtoolTest(text, ruleTests(rules));
      expect(check.status, check.output).toBe(0);
      expect(check.output).toContain(`SUCCESS: ${rules.groups[0].rules.length} rules found`);
      expect(test.status, test.output).toBe(0);
      expect(test.output).toContain("SUCCESS");
      // Both run barman: its failures are alerts too, each tested above.
      expect(rules.groups[0].rules.map((r) => r.alert)).toEqual(expect.arrayContaining(["MontaguBackupMonitorSilent", "MontaguBarmanCheckFailing", "MontaguBarmanNightlyRecoveryFailed", "MontaguBarmanNightlyVerificationFailed"]));
      expect(rules.groups[0].rules.find((r) => r.alert === "MontaguBarmanCheckFailing")!.for).toBe(BARMAN_FAILING_FOR);
    });
  }

  it("catch a rule a minute off its monitor's threshold: promtool's tests fail", async () => {
    const { rules, text } = await generated("local");
    const tests = ruleTests(rules);
    const first = rules.groups[0].rules[0];
    const shifted = text.replace(`> ${threshold(first)}`, `> ${threshold(first) + 60}`);
    expect(shifted).not.toBe(text);
    const { test } = promtoolTest(shifted, tests);
    expect(test.status).not.toBe(0);
    expect(test.output).toContain("MontaguBackupLate");
  });

  it("move with staleAfter: the rule and the monitor take the same new threshold", async () => {
    const config = readStackConfig("local") as Json;
    const freshness = { ...(config["montagu-backup:freshness"] ?? {}), staleAfter: { "barman/wal": "15m" } };
    const { rules, monitor } = await generated("local", { "montagu-backup:freshness": freshness });
    const wal = rules.groups[0].rules.find((r) => r.labels.backup === "barman/wal")!;
    expect(threshold(wal)).toBe(900);
    expect(monitor.backups.find((b: Json) => b.id === "barman/wal").staleAfterSeconds).toBe(900);
  });
});

describe("the stack's own Prometheus (`prometheus: { port }`)", () => {
  it("on the local stack: on the host's network, scraping the monitor and barman, loading the very rules the monitor keeps; its config passes promtool", async () => {
    const run = await runStack("local", readStackConfig("local"), deterministicProvider);
    const container = run.resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "montagu-prometheus")!;
    expect(container.inputs.networkMode).toBe("host");
    expect(container.inputs.command).toContain("--web.listen-address=:9090");
    const upload = (file: string) => container.inputs.uploads.find((u: Json) => u.file === file).content;
    expect(upload("/etc/montagu/rules/montagu-backup.rules.yml")).toBe((run.outputs.freshness as Json).alertRules);
    const config = parse(upload("/etc/montagu/prometheus.yml"));
    expect(config.scrape_configs.map((job: Json) => [job.job_name, job.static_configs[0].targets])).toEqual([
      ["montagu-freshness", ["localhost:5001"]],
      ["barman", ["localhost:5000"]],
    ]);
    const volume = run.resources.find((r) => r.type === "docker:index/volume:Volume" && r.inputs.name === "montagu_prometheus")!;
    expect(volume.retainOnDelete).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prometheus-"));
    try {
      fs.mkdirSync(path.join(dir, "rules"));
      fs.writeFileSync(path.join(dir, "rules", "montagu-backup.rules.yml"), upload("/etc/montagu/rules/montagu-backup.rules.yml"));
      fs.writeFileSync(path.join(dir, "prometheus.yml"), upload("/etc/montagu/prometheus.yml").replace("/etc/montagu/rules/", "rules/"));
      const checked = promtool(dir, "check", "config", "prometheus.yml");
      expect(checked.status, checked.output).toBe(0);
      expect(checked.output).toMatch(/SUCCESS: \d+ rules found/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it("refuses, by path: a port another service has, no monitor to scrape, a threshold its scrapes cannot see as the monitor does", () => {
    const topology = { servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }], clients: [], volumes: [{ name: "barman_recover", local: true }] };
    const barman = { slot: "barman", database: { host: "production2.example" } };
    expect(validated(topology, { machines: ["annex2"], barman, freshness: {}, prometheus: { port: 5001 } }).problems).toEqual([
      "montagu-backup:prometheus.port: port 5001 is already used on this stack's Docker engine by montagu-backup:freshness.metricsPort",
    ]);
    expect(validated(topology, { machines: ["annex2"], barman, prometheus: { port: 9090 } }).problems).toEqual([
      "montagu-backup:prometheus: scrapes the freshness monitor and loads the alerting rules made from its plan: needs montagu-backup:freshness on this stack",
    ]);
    expect(validated(topology, { machines: ["annex2"], barman, freshness: { staleAfter: { "barman/wal": "50s" } }, prometheus: { scrapeInterval: "30s" } }).problems).toEqual([
      "montagu-backup:freshness.staleAfter.barman/wal: 50 s is less than 2 of prometheus.scrapeInterval (30 s): the rules, seeing the age every 30 s, could miss a lateness the monitor alerts on, or see one it does not",
    ]);
    // Two scrapes within the threshold: accepted.
    expect(validated(topology, { machines: ["annex2"], barman, freshness: { staleAfter: { "barman/wal": "60s" } }, prometheus: { scrapeInterval: "30s" } }).problems).toEqual([]);
  });
});

