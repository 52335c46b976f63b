import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { staleAfterSchedule } from "../../config/plan/freshness";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { runStack } from "../../simulator/harness/run";
import { readStackConfig } from "../../simulator/harness/stackConfig";
import { validated } from "../fixtures/validate";

type Json = any;
const HOUR = 3600;
const MONITOR = path.join(__dirname, "..", "..", "images", "freshness", "monitor.py");

function topology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [
      { name: "production2", backup: ["orderly", "outpack"], schedule: { jobs: [{ server: "annex2", volume: "orderly", schedule: "@daily" }, { server: "annex2", volume: "outpack", schedule: "*/5 * * * *" }] } },
      { name: "uat" },
    ],
    volumes: [{ name: "orderly" }, { name: "outpack" }, { name: "barman_recover", local: true }],
  };
}

function settings(config: Json): { problems: string[]; parsed?: Json } {
  const { problems, settings: parsed } = validated(topology(), config);
  return { problems, parsed };
}

const annex2 = (freshness: Json): Json => ({ machines: ["annex2"], barman: { slot: "barman", database: { host: "production2.example" } }, freshness });

describe("how late each backup may be", () => {
  it("is its longest wait between runs, plus that again up to two hours: a daily job 26 h", () => {
    expect(staleAfterSchedule("@daily")).toBe(26 * HOUR);
    expect(staleAfterSchedule("@midnight")).toBe(26 * HOUR);
    expect(staleAfterSchedule("0 3 * * *")).toBe(26 * HOUR);
    expect(staleAfterSchedule("* * * * *")).toBe(120);
    expect(staleAfterSchedule("*/5 * * * *")).toBe(600);
    // Friday's run to Monday's.
    expect(staleAfterSchedule("0 9 * * 1-5")).toBe(74 * HOUR);
    // The longest month.
    expect(staleAfterSchedule("0 0 1 * *")).toBe(31 * 24 * HOUR + 2 * HOUR);
  });

  it("watches every scheduled push to this stack's server and barman's four, with a threshold given per backup", () => {
    const { parsed, problems } = settings(annex2({ staleAfter: { "barman/wal": "15m", "push/production2/orderly": "2d" } }));
    expect(problems).toEqual([]);
    const plan = parsed.plan.freshness;
    expect(plan.backups.map((b: Json) => [b.id, b.staleAfterSeconds])).toEqual([
      ["push/production2/orderly", 2 * 24 * HOUR],
      ["push/production2/outpack", 600],
      ["barman/wal", 15 * 60],
      ["barman/base-backup", 31 * 24 * HOUR + 2 * HOUR],
      ["barman/nightly-recovery", 26 * HOUR],
    ]);
    expect(plan.backups[0].read).toEqual({ kind: "timestamp-file", path: "/sources/privateer/annex2/.montagu/pushed/production2/orderly" });
    expect(plan.mounts).toEqual([
      { volume: "data", path: "/sources/privateer/annex2" },
      { volume: "barman_data", path: "/sources/barman" },
      { volume: "barman_metrics", path: "/sources/barman-metrics" },
    ]);
    expect(plan.name).toBe("annex2");
  });

  it("watches a client's dumps in the copy pushed here: late after the dumps' schedule allows and the push after them", () => {
    const { parsed, problems } = settings(annex2({ dumps: [{ client: "production2", volume: "outpack", database: "packit", schedule: "0 1 * * *" }] }));
    expect(problems).toEqual([]);
    const dump = parsed.plan.freshness.backups.find((b: Json) => b.id === "dump/production2/packit");
    expect(dump).toMatchObject({
      staleAfterSeconds: 26 * HOUR + 300,
      read: { kind: "verified-dump", directory: "/sources/privateer/annex2/production2/outpack", prefix: "packit-production2-" },
    });
    expect(settings(annex2({ dumps: [{ client: "uat", volume: "outpack", database: "packit" }] })).problems).toEqual([
      "montagu-backup:freshness.dumps[0].volume: no scheduled push of the topology brings uat's outpack to annex2",
    ]);
  });

  it("watches a client's off-site copies in this stack's store: the newest snapshot of each repository, late after the copy's schedule allows", () => {
    const store = { endpoint: "https://s3.eu-west-2.amazonaws.com/", region: "eu-west-2", bucket: "montagu-offsite", prefix: "backups/montagu", credentialsVaultPath: "secret/vimc/backup/offsite" };
    const { parsed, problems } = settings({
      ...annex2({ offsite: [{ client: "production2", volume: "orderly" }, { client: "production2", volume: "outpack", schedule: "0 3 * * *" }], staleAfter: { "offsite/production2/outpack": "2d" } }),
      offsite: { store },
    });
    expect(problems).toEqual([]);
    const plan = parsed.plan.freshness;
    const copies = plan.backups.filter((b: Json) => b.id.startsWith("offsite/"));
    expect(copies).toEqual([
      {
        id: "offsite/production2/orderly",
        description: "production2's off-site copy of orderly",
        schedule: "@daily",
        staleAfterSeconds: 26 * HOUR,
        intervalSeconds: 24 * HOUR,
        offsiteOf: "push/production2/orderly",
        read: { kind: "newest-object", endpoint: "https://s3.eu-west-2.amazonaws.com", region: "eu-west-2", bucket: "montagu-offsite", prefix: "backups/montagu/volumes/production2/orderly/snapshots/" },
      },
      expect.objectContaining({ id: "offsite/production2/outpack", schedule: "0 3 * * *", staleAfterSeconds: 2 * 24 * HOUR }),
    ]);
    expect(plan.offsiteCredentialsVaultPath).toBe("secret/vimc/backup/offsite");
    // Without copies to watch, the monitor holds no keys of the store.
    expect(settings({ ...annex2({}), offsite: { store } }).parsed.plan.freshness.offsiteCredentialsVaultPath).toBeUndefined();

    const withScience = topology();
    withScience.clients.push({ name: "science", backup: ["orderly"] });
    expect(
      validated(withScience, annex2({ offsite: [{ client: "nobody", volume: "orderly" }, { client: "production2", volume: "montagu_db" }, { client: "science", volume: "orderly" }, { client: "science", volume: "orderly", schedule: "@daily" }] })).problems,
    ).toEqual([
      "montagu-backup:freshness.offsite[0].client: 'nobody' is not a client of the topology",
      "montagu-backup:freshness.offsite[1].volume: 'montagu_db' is not a volume production2 backs up (orderly, outpack)",
      "montagu-backup:freshness.offsite[2].schedule: science has no scheduled push of orderly to take the copy's schedule from: give it",
      "montagu-backup:freshness.offsite: reads the copies in the off-site store: needs montagu-backup:offsite (its store) on this stack",
    ]);
  });

  it("refuses, all at once and by path, what it cannot watch or tell", () => {
    const { problems } = settings(
      annex2({
        metricsPort: 5000,
        checkEvery: "soon",
        staleAfter: { "push/production2/montagu_db_volume": "1h", "barman/wal": "2 hours" },
        email: { host: "smtp example", username: "alerts", from: "a b@example.org", to: [] },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^montagu-backup:freshness\.checkEvery: 'soon' is not a duration/),
        expect.stringMatching(/^montagu-backup:freshness\.staleAfter\.barman\/wal: '2 hours' is not a duration/),
        expect.stringMatching(/^montagu-backup:freshness\.email\.host: /),
        expect.stringMatching(/^montagu-backup:freshness\.email\.from: 'a b@example\.org' is not an email address/),
        expect.stringMatching(/^montagu-backup:freshness\.email\.to: name at least one address/),
        expect.stringMatching(/^montagu-backup:freshness\.staleAfter\.push\/production2\/montagu_db_volume: 'push\/production2\/montagu_db_volume' is not a backup this stack watches \(push\/production2\/orderly, push\/production2\/outpack, barman\/wal/),
        expect.stringMatching(/^montagu-backup:freshness\.metricsPort: port 5000 is already used on this stack's Docker engine by montagu-backup:barman\.metricsPort/),
      ]),
    );
    expect(settings(annex2({ email: { host: "smtp.example.org", starttls: true, username: "alerts", from: "a@example.org", to: ["b@example.org"] } })).problems).toEqual([
      "montagu-backup:freshness.email.passwordVaultPath: username and passwordVaultPath go together",
    ]);
    expect(settings({ machines: ["uat"], freshness: {} }).problems).toEqual([
      "montagu-backup:freshness: watches the backups kept on this machine: needs a privateer server or barman on this stack",
    ]);
  });
});

describe("the freshness monitor as declared", () => {
  it("reads every source volume read-only, after what keeps it, with the SMTP password a secret from vault", async () => {
    const reads: string[] = [];
    const provider = dryProvider({
      "vault:generic/getSecret:getSecret": ({ path: secretPath }) => {
        reads.push(String(secretPath));
        return { data: { password: "smtp-secret" } };
      },
    });
    const config = readStackConfig("local");
    config["montagu-backup:freshness"] = {
      email: { host: "smtp.example.org", port: 587, starttls: true, username: "alerts", passwordVaultPath: "secret/vimc/backup/smtp", from: "a@example.org", to: ["b@example.org"] },
    };
    const run = await runStack("local", config, provider);
    const container = run.resources.find((r) => r.type === "docker:index/container:Container" && r.inputs.name === "montagu-freshness")!;
    const sources = container.inputs.volumes.filter((v: Json) => v.containerPath.startsWith("/sources/"));
    expect(sources.map((v: Json) => [v.volumeName, v.readOnly])).toEqual([
      ["privateer_backup_data", true],
      ["barman_data", true],
      ["barman_metrics", true],
    ]);
    const state = run.resources.find((r) => r.type === "docker:index/volume:Volume" && r.inputs.name === "montagu_freshness")!;
    // It holds the checks' history, which nothing could make again.
    expect(state.retainOnDelete).toBe(true);
    expect(reads).toEqual(["secret/vimc/backup/smtp"]);
    expect(container.secretInputs).toContain("uploads");
    const monitorConfig = container.inputs.uploads.find((u: Json) => u.file === "/etc/montagu/freshness.json").content;
    expect(monitorConfig).not.toContain("smtp-secret");
    expect(container.inputs.uploads.find((u: Json) => u.file === "/run/montagu/secrets/smtp-password").content).toBe("smtp-secret");
    const component = run.resources.find((r) => r.type === "montagu:backup:Freshness")!;
    expect(component.dependencies.some((urn: string) => urn.endsWith("::barman-container"))).toBe(true);
    expect(component.dependencies.some((urn: string) => urn.endsWith("::privateer-server-backup-data"))).toBe(true);
  });
});

describe("the freshness monitor's checks (images/freshness/monitor.py, on this machine's python3)", () => {
  function rig() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-"));
    const record = path.join(dir, "pushed");
    const config = {
      name: "annex2",
      checkEverySeconds: 1,
      backups: [{ id: "push/production2/orderly", description: "production2's push of orderly", schedule: "@daily", staleAfterSeconds: 60, read: { kind: "timestamp-file", path: record } }],
      // Nothing listens there: every message waits in the outbox.
      email: { host: "127.0.0.1", port: 9, from: "a@example.org", to: ["b@example.org"] },
    };
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    const check = () => {
      const result = spawnSync("python3", [MONITOR, "check"], { env: { ...process.env, FRESHNESS_CONFIG: path.join(dir, "config.json"), FRESHNESS_STATE: path.join(dir, "state") }, encoding: "utf8" });
      expect(result.status, result.stderr).toBe(0);
      const memory = JSON.parse(fs.readFileSync(path.join(dir, "state", "memory.json"), "utf8"));
      const status = fs.readFileSync(path.join(dir, "state", "status", "push", "production2", "orderly.status"), "utf8");
      return { printed: result.stdout.trim(), outbox: memory.outbox.map((m: Json) => m.subject), status };
    };
    const pushedAgo = (seconds: number) => fs.writeFileSync(record, new Date(Date.now() - seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z"));
    return { dir, check, pushedAgo };
  }

  it("tells once when a backup goes stale and once when it recovers, keeping what it could not send", () => {
    const { dir, check, pushedAgo } = rig();
    try {
      pushedAgo(10);
      expect(check()).toMatchObject({ printed: expect.stringMatching(/^push\/production2\/orderly fresh 1\d$/), outbox: [] });
      pushedAgo(100);
      const stale = check();
      expect(stale.outbox).toEqual(["[annex2] STALE: push/production2/orderly"]);
      expect(stale.status).toMatch(/^state=stale$/m);
      expect(stale.status).toMatch(/^age_seconds=10\d$/m);
      // Still stale: nothing more to tell; the unsent alert stays.
      expect(check().outbox).toEqual(["[annex2] STALE: push/production2/orderly"]);
      pushedAgo(5);
      const recovered = check();
      expect(recovered.outbox).toEqual(["[annex2] STALE: push/production2/orderly", "[annex2] RECOVERED: push/production2/orderly"]);
      expect(recovered.status).toMatch(/^state=fresh$/m);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it("counts a backup that never succeeded from when it first looked, and says it cannot read a damaged record", () => {
    const { dir, check } = rig();
    try {
      expect(check()).toMatchObject({ printed: expect.stringMatching(/ waiting 0$/), outbox: [] });
      const memoryFile = path.join(dir, "state", "memory.json");
      const memory = JSON.parse(fs.readFileSync(memoryFile, "utf8"));
      memory.backups["push/production2/orderly"].first_looked -= 61;
      fs.writeFileSync(memoryFile, JSON.stringify(memory));
      expect(check().outbox).toEqual(["[annex2] STALE: push/production2/orderly"]);
      fs.writeFileSync(path.join(dir, "pushed"), "not a time");
      expect(check().status).toMatch(/^error=cannot read its last success: /m);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it("keeps the success it last saw while the record cannot be read (a store out of reach is no backup lost), and ages it", () => {
    const { dir, check, pushedAgo } = rig();
    try {
      pushedAgo(30);
      const seen = check().status.match(/^last_success=(.+)$/m)![1];
      fs.writeFileSync(path.join(dir, "pushed"), "not a time");
      const unread = check();
      expect(unread.status).toMatch(/^error=cannot read its last success: /m);
      expect(unread.status).toMatch(/^state=fresh$/m);
      expect(unread.status).toContain(`last_success=${seen}\n`);
      expect(unread.outbox).toEqual([]);
      // Still unreadable and older than allowed: stale, from the success last seen, not from "never".
      const memoryFile = path.join(dir, "state", "memory.json");
      const memory = JSON.parse(fs.readFileSync(memoryFile, "utf8"));
      memory.backups["push/production2/orderly"].last_success -= 60;
      fs.writeFileSync(memoryFile, JSON.stringify(memory));
      const late = check();
      expect(late.status).toMatch(/^state=stale$/m);
      expect(late.status).toMatch(/^age_seconds=9\d$/m);
      expect(late.outbox).toEqual(["[annex2] STALE: push/production2/orderly"]);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe("the freshness monitor's /status.json (images/freshness/monitor.py run, on this machine's python3)", () => {
  async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it("gives every backup's state in words, its age against its threshold, when it is next due, the off-site lag and the nightly verification's answer, as JSON and as a page", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-"));
    const at = (name: string, secondsAgo: number) => fs.writeFileSync(path.join(dir, name), new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, "Z"));
    const timestamp = (name: string) => ({ kind: "timestamp-file", path: path.join(dir, name) });
    at("orderly", 100);
    at("orderly-offsite", 400);
    at("outpack", 30);
    fs.writeFileSync(path.join(dir, "damaged"), "not a time");
    fs.writeFileSync(path.join(dir, "nightly-verified.json"), JSON.stringify({ time: "2026-12-04T01:02:03Z", answer: "4217", seconds: 12.5 }));
    fs.writeFileSync(path.join(dir, "nightly-verify-failed"), "pg_amcheck found damage in the copy\n");
    const backup = (id: string, staleAfterSeconds: number, read: Json, extra: Json = {}) => ({ id, description: `the ${id}`, staleAfterSeconds, read, ...extra });
    const config = {
      name: "annex2",
      checkEverySeconds: 1,
      nightly: { verified: path.join(dir, "nightly-verified.json"), failed: [path.join(dir, "nightly-failed"), path.join(dir, "nightly-verify-failed")] },
      backups: [
        backup("push/production2/orderly", 60, timestamp("orderly"), { schedule: "@daily", intervalSeconds: 86400 }),
        backup("push/production2/outpack", 600, timestamp("outpack"), { schedule: "*/5 * * * *", intervalSeconds: 300 }),
        backup("offsite/production2/orderly", 3600, timestamp("orderly-offsite"), { schedule: "@daily", intervalSeconds: 86400, offsiteOf: "push/production2/orderly" }),
        backup("barman/wal", 3600, timestamp("never-written")),
        backup("dump/production2/packit", 3600, timestamp("damaged")),
      ],
    };
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    const port = await freePort();
    const monitor = spawn("python3", [MONITOR, "run"], { env: { ...process.env, FRESHNESS_CONFIG: path.join(dir, "config.json"), FRESHNESS_STATE: path.join(dir, "state"), FRESHNESS_PORT: String(port) }, stdio: "ignore" });
    try {
      let served: Json;
      for (let tries = 0; tries < 100 && served?.checked_at == null; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const response = await fetch(`http://127.0.0.1:${port}/status.json`).catch(() => undefined);
        if (response !== undefined) {
          expect(response.status).toBe(200);
          expect(response.headers.get("content-type")).toBe("application/json");
          served = await response.json();
        }
      }
      expect(served).toMatchObject({ name: "annex2", monitor_ok: true, counts: { late: 1, unreadable: 1, waiting: 1, fresh: 2 } });
      const byId = Object.fromEntries(served.backups.map((b: Json) => [b.id, b]));
      expect(served.backups.map((b: Json) => [b.id, b.state])).toEqual([
        ["push/production2/orderly", "late"],
        ["push/production2/outpack", "fresh"],
        ["offsite/production2/orderly", "fresh"],
        ["barman/wal", "waiting"],
        ["dump/production2/packit", "unreadable"],
      ]);
      const orderly = byId["push/production2/orderly"];
      expect(orderly).toMatchObject({ schedule: "@daily", stale_after_seconds: 60, age_seconds: expect.any(Number) });
      expect(orderly.age_seconds).toBeGreaterThanOrEqual(100);
      expect(orderly.age_seconds).toBeLessThan(110);
      const success = Date.parse(orderly.last_success);
      expect(Date.parse(orderly.next_due) - success).toBe(86400_000);
      expect(Date.parse(orderly.late_at) - success).toBe(60_000);
      // The off-site copy is 300 s behind the push it copies.
      expect(orderly.offsite).toEqual({ id: "offsite/production2/orderly", last_success: expect.any(String), lag_seconds: 300, state: "fresh" });
      expect(byId["push/production2/outpack"].offsite).toBeNull();
      expect(byId["barman/wal"]).toMatchObject({ last_success: null, next_due: null });
      expect(byId["dump/production2/packit"].error).toMatch(/^cannot read its last success: /);
      expect(served.nightly_verification).toEqual({ failed: true, failure: "pg_amcheck found damage in the copy", answer: "4217", verified_at: "2026-12-04T01:02:03Z", error: null });
      // The metrics stay where Prometheus scrapes them.
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^montagu_backup_stale\{backup="push\/production2\/orderly",name="annex2"\} 1$/m);
      expect((await fetch(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);

      // The same facts as a page: self-contained (no script, nothing fetched), for a phone, refreshing itself.
      const pageResponse = await fetch(`http://127.0.0.1:${port}/`);
      expect(pageResponse.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const page = await pageResponse.text();
      expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(page).toContain('<meta http-equiv="refresh" content="5">');
      expect(page).not.toMatch(/<script|\b(src|href)="(https?:)?\/\//i);
      expect(page).toContain("<title>annex2: 1 late, 1 unreadable, 1 waiting, 2 fresh</title>");
      const cards = [...page.matchAll(/<section class="backup" data-backup="([^"]+)" data-state="(\w+)"/g)].map((m) => [m[1], m[2]]);
      expect(cards).toEqual(served.backups.map((b: Json) => [b.id, b.state]));
      // Each card's 30-day strip, today's cell coloured by its check (red for the late push), the earlier days unchecked.
      const orderlyCard = page.slice(page.indexOf('data-backup="push/production2/orderly"'), page.indexOf('data-backup="push/production2/outpack"'));
      const cells = [...orderlyCard.matchAll(/<rect [^>]*fill="(#\w+)"><title>([^<]+)<\/title>/g)];
      expect(cells).toHaveLength(30);
      expect(cells[29][1]).toBe("#c62828");
      expect(cells[29][2]).toMatch(/^\d{4}-\d\d-\d\d: \d+ late$/);
      expect(cells.slice(0, 29).every((cell) => cell[2].endsWith(": no check"))).toBe(true);
      expect(orderlyCard).toContain("<dt>off-site</dt><dd>5 min behind (fresh)</dd>");
      expect(page).toMatch(/data-state="failed"[^]*<dt>answer<\/dt><dd>4217<\/dd>[^]*<dt>failure<\/dt><dd>pg_amcheck found damage in the copy<\/dd>/);
    } finally {
      monitor.kill();
      fs.rmSync(dir, { recursive: true });
    }
  });

  it("keeps each backup's checks for the strips, by day and bounded: 31 days of the backups it watches now, with the size of a copy it can measure", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitor-"));
    try {
      const base = path.join(dir, "base", "20261201T000000");
      fs.mkdirSync(base, { recursive: true });
      fs.writeFileSync(path.join(base, "backup.info"), "status=DONE\nend_time=2026-12-01 00:10:00+00:00\nsize=123456789\n");
      const config = { name: "annex2", checkEverySeconds: 60, backups: [{ id: "barman/base-backup", description: "barman's base backup", staleAfterSeconds: 1e9, read: { kind: "barman-backups", path: path.join(dir, "base") } }] };
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
      const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86400_000).toISOString().slice(0, 10);
      const old: Json = { backups: { "barman/base-backup": {}, "push/gone/orderly": { [day(1)]: { checks: { late: 3 } } } } };
      for (let ago = 1; ago <= 40; ago++) old.backups["barman/base-backup"][day(ago)] = { checks: { fresh: 1440 }, size: 1000 };
      fs.mkdirSync(path.join(dir, "state"));
      fs.writeFileSync(path.join(dir, "state", "history.json"), JSON.stringify(old));
      const check = () => {
        const result = spawnSync("python3", [MONITOR, "check"], { env: { ...process.env, FRESHNESS_CONFIG: path.join(dir, "config.json"), FRESHNESS_STATE: path.join(dir, "state") }, encoding: "utf8" });
        expect(result.status, result.stderr).toBe(0);
        return JSON.parse(fs.readFileSync(path.join(dir, "state", "history.json"), "utf8")).backups;
      };
      check();
      const kept = check();
      expect(Object.keys(kept)).toEqual(["barman/base-backup"]);
      const days = Object.keys(kept["barman/base-backup"]).sort();
      expect(days).toHaveLength(31);
      expect(days[0]).toBe(day(30));
      expect(kept["barman/base-backup"][day(0)]).toEqual({ checks: { fresh: 2 }, size: 123456789 });
      // A damaged history costs the strips their past, never a check.
      fs.writeFileSync(path.join(dir, "state", "history.json"), "{not json");
      expect(check()).toEqual({ "barman/base-backup": { [day(0)]: { checks: { fresh: 1 }, size: 123456789 } } });
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
