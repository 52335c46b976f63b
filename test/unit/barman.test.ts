import { parse } from "yaml";
import { parse as parseShell } from "shell-quote";
import { describe, expect, it } from "vitest";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { runStack } from "../../simulator/harness/run";
import { scriptOf } from "../fixtures/steps";
import { readStackConfig } from "../../simulator/harness/stackConfig";

const passwordReads: string[] = [];
const provider = dryProvider({
  "vault:generic/getSecret:getSecret": ({ path }) => {
    passwordReads.push(String(path));
    return String(path).startsWith("secret/vimc/database/") ? { data: { password: `pw-of-${String(path).split("/").pop()}` } } : { data: {} };
  },
});

async function annex2(barman: Record<string, unknown> = {}) {
  const config = readStackConfig("annex2");
  const settings = { ...(config["montagu-backup:barman"] as object), ...barman };
  // Keys are not what these tests look at; generating them keeps vault reads to passwords.
  return runStack("annex2", { ...config, "montagu-backup:barman": settings, "montagu-backup:privateer": { keys: { generate: true } } }, provider);
}

describe("barman on annex2", () => {
  it("keeps its five volumes when the stack is destroyed", async () => {
    const run = await annex2();
    const volumes = run.resources.filter((r) => r.type === "docker:index/volume:Volume" && r.name.startsWith("barman-"));
    expect(volumes.map((v) => [v.inputs.name, v.retainOnDelete])).toEqual([
      ["barman_data", true],
      ["barman_logs", true],
      ["barman_metrics", true],
      ["barman_recover", true],
      ["montagu_db_volume", true],
    ]);
  });

  it("configures barman-montagu through its settings, with the passwords from vault as secret files", async () => {
    passwordReads.length = 0;
    const run = await annex2();
    const container = run.resources.find((r) => r.name === "barman-container")!;
    expect(container.inputs).toMatchObject({ name: "barman-montagu", restart: "always", ports: [{ internal: 5000, external: 5000 }] });
    expect(container.inputs.envs).toEqual([
      "BARMAN_MONTAGU_HOST=production2.montagu.dide.ic.ac.uk",
      "BARMAN_MONTAGU_PORT=5432",
      "BARMAN_MONTAGU_DBNAME=montagu",
      "BARMAN_MONTAGU_SLOT_NAME=barman",
      "BARMAN_MONTAGU_RETENTION_POLICY=RECOVERY WINDOW OF 3 MONTHS",
      "BARMAN_METRICS_PORT=5000",
    ]);
    expect(container.inputs.volumes.map((v: { containerPath: string }) => v.containerPath)).toEqual(["/var/lib/barman", "/var/log/barman", "/metrics", "/recover", "/nightly"]);
    expect(passwordReads.sort()).toEqual(["secret/vimc/database/production/users/barman", "secret/vimc/database/production/users/streaming_barman"]);
    const uploads = container.inputs.uploads as { file: string; content: string; permissions: string }[];
    expect(uploads.slice(0, 2)).toEqual([
      { file: "/run/montagu/secrets/barman", content: "pw-of-barman", permissions: "0600" },
      { file: "/run/montagu/secrets/streaming_barman", content: "pw-of-streaming_barman", permissions: "0600" },
    ]);
    expect(container.secretInputs).toContain("uploads");
    expect(JSON.stringify(container.inputs.envs)).not.toMatch(/pw-of/);
    expect(JSON.stringify(run.outputs)).not.toMatch(/pw-of/);
  });

  it("runs barman cron every minute, metrics every 5 minutes, a monthly base backup and a nightly copy, as configured", async () => {
    const schedule = async (barman: Record<string, unknown>) => {
      const run = await annex2(barman);
      const container = run.resources.find((r) => r.name === "barman-container")!;
      return parse(container.inputs.uploads.find((u: { file: string }) => u.file === "/etc/montagu/schedule.yml").content);
    };
    expect(await schedule({})).toEqual({
      defaults: { timezone: "Europe/London" },
      jobs: [
        { name: "barman-cron", command: "barman cron", schedule: "* * * * *" },
        { name: "metrics", command: "barman-metrics collect", schedule: "*/5 * * * *" },
        { name: "base-backup", command: "barman backup --wait montagu", schedule: "0 0 1 * *" },
        { name: "nightly-recovery", command: "montagu-prepare nightly /nightly", schedule: "0 3 * * *" },
      ],
    });
    expect((await schedule({ schedule: { baseBackup: "0 2 * * 0" } })).jobs[2].schedule).toBe("0 2 * * 0");
  });

  it("proves each nightly copy restorable with the stack's query, given to it as files", async () => {
    const verifyFiles = async (barman: Record<string, unknown>) => {
      const run = await annex2(barman);
      const container = run.resources.find((r) => r.name === "barman-container")!;
      const uploads = container.inputs.uploads as { file: string; content: string }[];
      return Object.fromEntries(uploads.filter((u) => u.file.startsWith("/etc/montagu/verify/")).map((u) => [u.file, u.content]));
    };
    expect(await verifyFiles({})).toEqual({
      "/etc/montagu/verify/database": "montagu",
      "/etc/montagu/verify/query": "SELECT count(*) FROM pg_catalog.pg_class",
      "/etc/montagu/verify/amcheck-tables": "5",
    });
    const query = "SELECT max(id) || ' ' || count(*) FROM batch WHERE note = 'it''s -- not a comment'";
    expect(await verifyFiles({ verify: { database: "packit", query, amcheckTables: 0 } })).toEqual({
      "/etc/montagu/verify/database": "packit",
      "/etc/montagu/verify/query": query,
      "/etc/montagu/verify/amcheck-tables": "0",
    });
    await expect(annex2({ verify: { query: "  " } })).rejects.toThrow(/montagu-backup:barman\.verify\.query: must not be blank/);
    await expect(annex2({ verify: { amcheckTables: 2.5 } })).rejects.toThrow(/montagu-backup:barman\.verify\.amcheckTables:/);
    await expect(annex2({ verify: { amcheckTables: -1 } })).rejects.toThrow(/montagu-backup:barman\.verify\.amcheckTables:/);
    await expect(annex2({ verify: { database: "montagu; drop" } })).rejects.toThrow(/montagu-backup:barman\.verify\.database:/);
  });

  it("exports its container, volumes, metrics address and the operator's commands", async () => {
    const run = await annex2();
    expect(run.outputs.barman).toEqual({
      container: "barman-montagu",
      volumes: { data: "barman_data", logs: "barman_logs", metrics: "barman_metrics", recover: "barman_recover", nightly: "montagu_db_volume" },
      metricsUrl: "http://localhost:5000/metrics",
      commands: {
        status: "docker exec barman-montagu barman status montagu",
        check: "docker exec barman-montagu barman check montagu",
        barman: "docker exec barman-montagu barman",
      },
    });
  });

  it("uses host networking for a primary on localhost, and can run upstream's image", async () => {
    const run = await annex2({ database: { host: "localhost", port: 15432 }, image: "upstream" });
    const container = run.resources.find((r) => r.name === "barman-container")!;
    expect(container.inputs.networkMode).toBe("host");
    expect(container.inputs.ports).toBeUndefined();
    expect(run.resources.filter((r) => r.type === "docker:index/remoteImage:RemoteImage").map((r) => r.inputs.name)).toEqual(["vimc/montagu-barman:master"]);
  });
});

describe("a prepared restore on annex2", () => {
  it("runs its steps in order when the id changes, each a command of its own", async () => {
    const config = readStackConfig("annex2");
    const run = await runStack(
      "annex2",
      {
        ...config,
        "montagu-backup:privateer": { keys: { generate: true } },
        "montagu-backup:prepareRestore": { id: "p1", targetTime: "2026-11-21T18:30:00.5Z", jobs: 4 },
      },
      provider,
    );
    const steps = run.resources.filter((r) => r.type === "command:local:Command" && r.name.startsWith("prepare-restore-"));
    expect(steps.map((s) => s.name)).toEqual(["prepare-restore-wipe", "prepare-restore-recover", "prepare-restore-replay", "prepare-restore-in-use", "prepare-restore-stamp"]);
    expect(steps.every((s) => s.inputs.triggers[0] === "p1")).toBe(true);
    steps.slice(1).forEach((s, i) => expect(s.dependencies).toContain(steps[i].urn));
    expect(steps[1].inputs.create).toContain(
      "docker exec barman-montagu montagu-prepare recover /recover --backup latest --target-time '2026-11-21 18:30:00.5+00:00' --jobs 4",
    );
    // Before the swap, the engine is asked who uses the volume: barman and annex2's server may.
    expect(parseShell(scriptOf(steps[3]).split("\n")[0])).toEqual(["set", "--", "barman_recover", "barman-montagu", "privateer_montagu_server"]);
    expect(scriptOf(steps[3])).toContain('refuse_volume_in_use prepare "$volume" "$@"');
    // replay.sh, given its arguments: the database image with its own arguments last.
    const replay = scriptOf(steps[2]).split("\n");
    expect(parseShell(replay[0])).toEqual([
      "set", "--", "3600", "barman_recover", "/montagu-volume", "/montagu-volume/.montagu/staging", "ghcr.io/vimc/montagu-db:main", "/etc/montagu/postgresql.production.conf",
    ]);
    expect(replay[1]).toBe("#!/usr/bin/env bash");
    expect(replay.join("\n")).toContain('docker exec "$container" montagu-wait.sh "$timeout"');
  });
});
