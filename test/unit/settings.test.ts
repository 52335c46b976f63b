import * as fs from "node:fs";
import * as os from "node:os";
import { describe, expect, it } from "vitest";
import { projectConfig, validateSettings } from "../../config/load";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { runStack } from "../../simulator/harness/run";
import { encodeConfig, PROJECT_DIR, readStackConfig } from "../../simulator/harness/stackConfig";
import { validated } from "../fixtures/validate";
import { CRON_ACCEPTED, CRON_REFUSED_BY_BOTH, CRON_REFUSED_STRICTER, ZONES_ACCEPTED, ZONES_REFUSED } from "../fixtures/schedules";

type Json = any;

function baseTopology(): Json {
  return {
    servers: [
      { name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" },
    ],
    clients: [
      {
        name: "production2",
        backup: ["orderly"],
        schedule: { port: 8080, jobs: [{ server: "annex2", volume: "orderly", schedule: "@daily" }] },
      },
      { name: "uat" },
    ],
    volumes: [{ name: "orderly" }, { name: "barman_recover", local: true }],
  };
}

function baseConfig(): Json {
  return { machines: ["annex2"], barman: { slot: "barman", database: { host: "production2.example" } } };
}

/** The problems reported for a topology and stack config, or [] when they are valid. */
function problems(topology: Json, config: Json): string[] {
  return validated(topology, config).problems;
}

/** The settings a valid topology and stack config parse to. */
function parsed(topology: Json, config: Json): Json {
  const { settings, problems: found } = validated(topology, config);
  if (settings === undefined) throw new Error(found.join("\n"));
  return settings;
}

function withTopology(change: (t: Json) => void): string[] {
  const topology = baseTopology();
  change(topology);
  return problems(topology, baseConfig());
}

function withConfig(change: (c: Json) => void): string[] {
  const config = baseConfig();
  change(config);
  return problems(baseTopology(), config);
}

describe("the topology rules privateer enforces", () => {
  it("accepts the base example", () => {
    expect(problems(baseTopology(), baseConfig())).toEqual([]);
  });

  it("rejects duplicate server names", () => {
    expect(withTopology((t) => t.servers.push({ ...t.servers[0], hostname: "other", port: 10023 }))).toEqual([
      "servers[1].name: duplicate server name 'annex2'",
    ]);
  });

  it("rejects duplicate client names", () => {
    expect(withTopology((t) => t.clients.push({ name: "uat" }))).toEqual(["clients[2].name: duplicate client name 'uat'"]);
  });

  it("rejects duplicate volume names", () => {
    expect(withTopology((t) => t.volumes.push({ name: "orderly" }))).toEqual(["volumes[2].name: duplicate volume name 'orderly'"]);
  });

  it("rejects a machine that is both client and server", () => {
    expect(withTopology((t) => t.clients.push({ name: "annex2" }))).toEqual(["clients[2].name: 'annex2' is both a server and a client"]);
  });

  it("rejects a backup of a volume that is not listed", () => {
    expect(withTopology((t) => t.clients[0].backup.push("outpack"))).toEqual(["clients[0].backup[1]: unknown volume 'outpack'"]);
  });

  it("rejects a client backing up a local volume", () => {
    expect(withTopology((t) => t.clients[0].backup.push("barman_recover"))).toEqual([
      "clients[0].backup[1]: volume 'barman_recover' is local to the servers and cannot be backed up by a client",
    ]);
  });

  it("rejects a schedule job on an unknown server", () => {
    expect(withTopology((t) => (t.clients[0].schedule.jobs[0].server = "annex3"))).toEqual([
      "clients[0].schedule.jobs[0].server: unknown server 'annex3'",
    ]);
  });

  it("rejects a schedule job for a volume the client does not back up", () => {
    expect(
      withTopology((t) => {
        t.volumes.push({ name: "outpack" });
        t.clients[0].schedule.jobs[0].volume = "outpack";
      }),
    ).toEqual(["clients[0].schedule.jobs[0].volume: client 'production2' does not back up volume 'outpack'"]);
  });

  it("rejects a missing required field and an unknown one", () => {
    expect(
      withTopology((t) => {
        delete t.servers[0].data_volume;
        t.servers[0].datavolume = "data";
      }),
    ).toEqual(["servers[0].data_volume: Invalid input: expected string, received undefined", "servers[0].datavolume: unknown setting"]);
  });
});

describe("names, ports and schedules", () => {
  it("rejects names Docker would refuse", () => {
    expect(withTopology((t) => (t.servers[0].key_volume = "_keys"))).toEqual([
      "servers[0].key_volume: '_keys' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
    expect(withConfig((c) => (c.barman.container = "barman montagu"))).toEqual([
      "montagu-backup:barman.container: 'barman montagu' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
  });

  it("accepts every name Docker accepts, one character included", () => {
    expect(
      withTopology((t) => {
        t.volumes.push({ name: "v" });
        t.clients[0].backup.push("v");
        t.servers[0].key_volume = "k";
      }),
    ).toEqual([]);
    expect(withConfig((c) => (c.barman.container = "b"))).toEqual([]);
  });

  it("rejects ports out of range", () => {
    expect(withTopology((t) => (t.servers[0].port = 70000))).toEqual(["servers[0].port: port 70000 is out of range 1-65535"]);
    expect(withConfig((c) => (c.barman.metricsPort = 0))).toEqual(["montagu-backup:barman.metricsPort: port 0 is out of range 1-65535"]);
  });

  it("rejects two servers publishing one port on one machine", () => {
    expect(withTopology((t) => t.servers.push({ ...t.servers[0], name: "annex3", key_volume: "k3", data_volume: "d3", container: "c3" }))).toEqual([
      "servers[1].port: port 10022 on annex2.example is already used by servers[0] ('annex2')",
    ]);
  });

  it("rejects a port used twice on the stack's engine", () => {
    expect(withConfig((c) => (c.barman.metricsPort = 10022))).toEqual([
      "montagu-backup:barman.metricsPort: port 10022 is already used on this stack's Docker engine by servers[0].port",
    ]);
  });

  it("rejects one volume in two of barman's roles: a recovery would move barman's own data aside", () => {
    expect(withConfig((c) => (c.barman.volumes = { nightly: "barman_data" }))).toEqual([
      "montagu-backup:barman.volumes.nightly: volume 'barman_data' would be barman's nightly volume, but it is already barman's data volume (montagu-backup:barman.volumes.data): a volume has one owner on an engine; name another volume",
    ]);
  });

  it("rejects a container or volume name used twice on the stack's engine", () => {
    expect(withConfig((c) => (c.barman.container = "server"))).toEqual([
      "montagu-backup:barman.container: container name 'server' is already used on this stack's Docker engine by servers[0].container",
    ]);
    // The server's history container, beside it.
    expect(withConfig((c) => (c.barman.container = "server_history"))).toEqual([
      "montagu-backup:barman.container: container name 'server_history' is already used on this stack's Docker engine by servers[0].container",
    ]);
    expect(withConfig((c) => (c.barman.volumes = { data: "data" }))).toEqual([
      "montagu-backup:barman.volumes.data: volume 'data' would be barman's data volume, but it is already the data volume of privateer server 'annex2' (servers[0].data_volume): a volume has one owner on an engine; name another volume",
    ]);
  });

  it("accepts cron nicknames and five-field expressions", () => {
    for (const schedule of ["@daily", "@weekly", "@hourly", "*/5 * * * *", "0 0 1 * *", "30 2 * * 1-5"]) {
      expect(withTopology((t) => (t.clients[0].schedule.jobs[0].schedule = schedule))).toEqual([]);
    }
  });

  it("rejects schedules the scheduler would not run", () => {
    const job = (schedule: string) => withTopology((t) => (t.clients[0].schedule.jobs[0].schedule = schedule));
    expect(job("@fortnightly")).toEqual(["clients[0].schedule.jobs[0].schedule: unknown cron nickname '@fortnightly' (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"]);
    expect(job("0 0 * *")).toEqual([
      "clients[0].schedule.jobs[0].schedule: cron expression '0 0 * *' must have five fields (minute hour day month weekday), found 4",
    ]);
    expect(job("0 0 0 * * *")[0]).toMatch(/must have five fields .* found 6/);
    expect(job("61 * * * *")[0]).toMatch(/^clients\[0\]\.schedule\.jobs\[0\]\.schedule: cron expression '61 \* \* \* \*' does not parse/);
    expect(withConfig((c) => (c.barman.schedule = { baseBackup: "0 25 1 * *" }))[0]).toMatch(
      /^montagu-backup:barman\.schedule\.baseBackup: cron expression '0 25 1 \* \*' does not parse/,
    );
  });

  it("accepts what the scheduler runs and refuses what it would not, as test/fixtures/schedules.ts lists them", () => {
    const job = (schedule: string) => withTopology((t) => (t.clients[0].schedule.jobs[0].schedule = schedule));
    for (const schedule of CRON_ACCEPTED) expect(job(schedule), schedule).toEqual([]);
    for (const schedule of [...CRON_REFUSED_BY_BOTH, ...CRON_REFUSED_STRICTER]) {
      expect(job(schedule), JSON.stringify(schedule)).toEqual([expect.stringMatching(/^clients\[0\]\.schedule\.jobs\[0\]\.schedule: /)]);
    }
  });

  it("refuses croniter's extensions, a day no month has, and odd spacing, each saying why", () => {
    const job = (schedule: string) => withTopology((t) => (t.clients[0].schedule.jobs[0].schedule = schedule))[0].replace(/^[^:]*: /, "");
    expect(job("0 0 L * *")).toBe("cron expression '0 0 L * *' does not parse: 'L' is not a day of month: use numbers, *, a-b, */n and lists a,b");
    expect(job("0 0 ? * *")).toBe("cron expression '0 0 ? * *' does not parse: '?' is not a day of month: use numbers, *, a-b, */n and lists a,b");
    expect(job("0 0 * * 1#2")).toBe("cron expression '0 0 * * 1#2' does not parse: '1#2' is not a weekday: use numbers, names such as mon, *, a-b, */n and lists a,b");
    expect(job("0 0 * * sat-sun")).toBe("cron expression '0 0 * * sat-sun' does not parse: range sat-sun of weekday runs backwards");
    expect(job("0 0 30 2 *")).toBe("cron expression '0 0 30 2 *' never runs: no month it names has the day of month it names");
    expect(job("0  0 * * *")).toBe("cron expression '0  0 * * *' must have its fields separated by single spaces");
    expect(job("@DAILY")).toBe("unknown cron nickname '@DAILY' (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
  });

  it("takes time zones by their exact names, as the scheduler's zoneinfo does", () => {
    for (const timezone of ["Europe/London", "UTC", "America/New_York", "Asia/Tokyo"]) expect(withConfig((c) => (c.timezone = timezone))).toEqual([]);
    expect(withConfig((c) => (c.timezone = "europe/london"))).toEqual(["montagu-backup:timezone: unknown time zone 'europe/london' (names are case-sensitive: 'Europe/London')"]);
    expect(withConfig((c) => (c.timezone = "utc"))).toEqual(["montagu-backup:timezone: unknown time zone 'utc' (names are case-sensitive: 'UTC')"]);
    for (const timezone of ZONES_REFUSED) expect(withConfig((c) => (c.timezone = timezone)), JSON.stringify(timezone)).toHaveLength(1);
    for (const timezone of ZONES_ACCEPTED) expect(withConfig((c) => (c.timezone = timezone)), timezone).toEqual([]);
  });
});

describe("free text never reaches a file or a command line", () => {
  const HOST = "is not a host name (letters, digits and '-' in dot-separated labels) or an IP address";

  it("takes a server's hostname only as a host name: a newline would add options to the client's ssh config", () => {
    expect(withTopology((t) => (t.servers[0].hostname = "annex2.example\n    ProxyCommand touch /tmp/owned"))).toEqual([
      `servers[0].hostname: 'annex2.example\\n    ProxyCommand touch /tmp/owned' ${HOST}`,
    ]);
    expect(withTopology((t) => (t.servers[0].hostname = "-oProxyCommand=x"))).toEqual([`servers[0].hostname: '-oProxyCommand=x' ${HOST}`]);
    for (const hostname of ["annex2.montagu.dide.ic.ac.uk", "localhost", "annex2", "10.0.0.2", "::1"]) {
      expect(withTopology((t) => (t.servers[0].hostname = hostname)), hostname).toEqual([]);
    }
  });

  it("takes barman's database host and name, and its retention policy, only in the forms barman.conf and libpq read", () => {
    expect(withConfig((c) => (c.barman.database.host = "db\nstreaming_archiver = off"))).toEqual([
      `montagu-backup:barman.database.host: 'db\\nstreaming_archiver = off' ${HOST}`,
    ]);
    expect(withConfig((c) => (c.barman.database.name = "montagu host=elsewhere"))).toEqual([
      `montagu-backup:barman.database.name: 'montagu host=elsewhere' is not a PostgreSQL name ([a-zA-Z_][a-zA-Z0-9_]*, at most 63)`,
    ]);
    expect(withConfig((c) => (c.barman.retentionPolicy = "RECOVERY WINDOW OF 3 MONTHS\nslot_name = other"))).toEqual([
      `montagu-backup:barman.retentionPolicy: 'RECOVERY WINDOW OF 3 MONTHS\\nslot_name = other' is not a barman retention policy such as 'RECOVERY WINDOW OF 3 MONTHS' or 'REDUNDANCY 2'`,
    ]);
    expect(withConfig((c) => (c.barman.imageTag = "master --privileged"))).toEqual([
      `montagu-backup:barman.imageTag: 'master --privileged' is not an image tag ([a-zA-Z0-9_][a-zA-Z0-9_.-]*, at most 128)`,
    ]);
    expect(
      withConfig((c) => {
        c.barman.database = { host: "production2.montagu.dide.ic.ac.uk", name: "montagu_2" };
        c.barman.retentionPolicy = "recovery window of 4 weeks";
        c.barman.imageTag = "v1.2.0";
      }),
    ).toEqual([]);
    expect(withConfig((c) => (c.barman.retentionPolicy = "REDUNDANCY 2"))).toEqual([]);
  });

  it("takes images only as image references: one starting with '-' would be an option of docker run", () => {
    const REF = "is not an image reference such as ghcr.io/vimc/montagu-db:main";
    expect(withConfig((c) => (c.prepareRestore = { id: "1", database: { image: '--privileged' } }))).toEqual([
      `montagu-backup:prepareRestore.database.image: '--privileged' ${REF}`,
    ]);
    expect(withConfig((c) => (c.prepareRestore = { id: "1", database: { image: "postgres:17", args: ["-c", "x=1\n"] } }))).toEqual([
      `montagu-backup:prepareRestore.database.args[1]: 'x=1\\n' must be on one line, without control characters`,
    ]);
    for (const image of ["local", "postgres:17", "ghcr.io/vimc/montagu-db:main", `localhost:5000/montagu/db@sha256:${"a".repeat(64)}`]) {
      expect(withConfig((c) => (c.prepareRestore = { id: "1", database: { image, args: ["-c", "max_connections=10"] } })), image).toEqual([]);
    }
    expect(withTopology((t) => (t.tag = "latest;true"))).toEqual(["tag: 'latest;true' is not an image tag ([a-zA-Z0-9_][a-zA-Z0-9_.-]*, at most 128)"]);
  });

  it("takes database and user names only as identifiers: psql reads one with '=' as a connection string", () => {
    const NAME = "is not a PostgreSQL name ([a-zA-Z_][a-zA-Z0-9_]*, at most 63)";
    const packit = (settings: Json) =>
      problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", to: "packit_dump" }], packit: { dumpVolume: "packit_dump", ...settings } } });
    expect(packit({ database: "dbname=postgres host=elsewhere", user: "-U", image: "-v /:/host", env: ["POSTGRES_DB=packit\nX=1", "not an assignment"] })).toEqual([
      "montagu-backup:restore.packit.image: '-v /:/host' is not an image reference such as ghcr.io/vimc/montagu-db:main",
      "montagu-backup:restore.packit.env[0]: 'POSTGRES_DB=packit\\nX=1' is not NAME=value on one line",
      "montagu-backup:restore.packit.env[1]: 'not an assignment' is not NAME=value on one line",
      `montagu-backup:restore.packit.user: '-U' ${NAME}`,
      `montagu-backup:restore.packit.database: 'dbname=postgres host=elsewhere' ${NAME}`,
    ]);
    expect(packit({ database: "packit", user: "packituser", image: "ghcr.io/mrc-ide/packit-db:main", env: ["POSTGRES_DB=packit", "EMPTY="] })).toEqual([]);
    expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2" }], verify: { container: "db", database: "x=y", query: "select 1" } } })).toEqual([
      `montagu-backup:restore.verify.database: 'x=y' ${NAME}`,
    ]);
    expect(problems(baseTopology(), { machines: ["production2"], packitDump: { user: 'packit user' } })).toEqual([`montagu-backup:packitDump.user: 'packit user' ${NAME}`]);
  });

  it("reports each problem on one line, whatever the input holds", () => {
    expect(withConfig((c) => (c.machines = ["annex2\n  - nothing wrong"]))).toEqual([
      "montagu-backup:machines[0]: machine 'annex2\\n  - nothing wrong' is not a server or client in privateer.json",
    ]);
  });

  it("takes the names in transfers and schedules only as Docker names", () => {
    expect(problems(baseTopology(), { machines: ["production2"], privateer: { backup: { id: "1", volumes: [{ volume: "orderly;true", server: "annex2" }] } } })).toEqual([
      "montagu-backup:privateer.backup.volumes[0].volume: 'orderly;true' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
    expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", source: "-production2" }] } })).toEqual([
      "montagu-backup:restore.volumes[0].source: '-production2' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
    expect(withTopology((t) => (t.clients[0].schedule.jobs[0].server = "annex2 x"))).toEqual([
      "clients[0].schedule.jobs[0].server: 'annex2 x' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
  });
});

describe("values valid in form but wrong in meaning", () => {
  const prepare = (settings: Json) => withConfig((c) => (c.prepareRestore = { id: "1", ...settings }));

  it("takes a point-in-time recovery's target only as a real moment that has passed", () => {
    expect(prepare({ targetTime: "2026-02-30T10:00:00Z" })).toEqual(["montagu-backup:prepareRestore.targetTime: '2026-02-30T10:00:00Z' is not a real date and time"]);
    expect(prepare({ targetTime: "2025-06-01T24:00:00+01:00" })).toEqual(["montagu-backup:prepareRestore.targetTime: '2025-06-01T24:00:00+01:00' is not a real date and time"]);
    expect(prepare({ targetTime: "2999-01-01T00:00:00Z" })).toEqual([
      "montagu-backup:prepareRestore.targetTime: '2999-01-01T00:00:00Z' is in the future: a point-in-time recovery replays WAL up to a moment that has passed",
    ]);
    for (const targetTime of ["2024-02-29T23:59:59Z", "2025-06-01 10:00+01:00", "2025-06-01T10:00:00.5-0500"]) expect(prepare({ targetTime }), targetTime).toEqual([]);
  });

  it("caps parallel copy jobs at 64", () => {
    expect(prepare({ jobs: 65 })).toEqual(["montagu-backup:prepareRestore.jobs: must be at most 64 (parallel copy jobs, one per core of the backup host)"]);
    expect(prepare({ jobs: 64 })).toEqual([]);
  });

  it("refuses blank ids, which run nothing again when changed to another blank", () => {
    const BLANK = "is not an id: give some text, on one line (changing it runs the step again)";
    expect(prepare({ id: "   " })).toEqual([`montagu-backup:prepareRestore.id: '   ' ${BLANK}`]);
    expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "\t", volumes: [{ volume: "orderly", server: "annex2" }] } })).toEqual([
      `montagu-backup:restore.id: '\\t' ${BLANK}`,
    ]);
    expect(problems(baseTopology(), { machines: ["production2"], privateer: { checkId: " ", backup: { id: "", volumes: [{ volume: "orderly", server: "annex2" }] } } })).toEqual([
      `montagu-backup:privateer.checkId: ' ' ${BLANK}`,
      `montagu-backup:privateer.backup.id: '' ${BLANK}`,
    ]);
    expect(prepare({ id: "2026-11-21 restore of uat" })).toEqual([]);
  });

  it("refuses the same volume pushed twice to one server in one backup", () => {
    const backup = (volumes: Json[]) => problems(baseTopology(), { machines: ["production2"], privateer: { backup: { id: "1", volumes } } });
    expect(backup([{ volume: "orderly", server: "annex2" }, { volume: "orderly", server: "annex2", allowEmpty: true }])).toEqual([
      "montagu-backup:privateer.backup.volumes[1].volume: volume 'orderly' of 'production2' is already pushed to 'annex2' by montagu-backup:privateer.backup.volumes[0]",
    ]);
    const topology = baseTopology();
    topology.servers.push({ ...topology.servers[0], name: "annex", hostname: "annex.example" });
    expect(problems(topology, { machines: ["production2"], privateer: { backup: { id: "1", volumes: [{ volume: "orderly", server: "annex2" }, { volume: "orderly", server: "annex" }] } } })).toEqual([]);
  });
});

describe("an empty list skips no check", () => {
  it("finds every backed-up or scheduled volume unknown to an empty list of volumes", () => {
    const withTopology = (change: (t: Json) => void) => {
      const topology = baseTopology();
      change(topology);
      return problems(topology, { machines: ["uat"] });
    };
    expect(withTopology((t) => (t.volumes = []))).toEqual(["clients[0].backup[0]: unknown volume 'orderly'"]);
    // With barman beside the server, its recover volume is not among the (no) local volumes either.
    expect(problems({ ...baseTopology(), volumes: [] }, baseConfig())).toEqual([
      "clients[0].backup[0]: unknown volume 'orderly'",
      "montagu-backup:barman.volumes.recover: volume 'barman_recover' is not a local volume of the topology (none): the privateer server on this engine would serve restores an empty volume",
    ]);
    expect(
      withTopology((t) => {
        t.volumes = [];
        t.clients[0].backup = ["x;true"];
        t.clients[0].schedule.jobs[0].volume = "x;true";
      }),
    ).toEqual([
      "clients[0].backup[0]: 'x;true' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
      "clients[0].schedule.jobs[0].volume: 'x;true' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
    ]);
    expect(withTopology((t) => (t.volumes = [{ name: "orderly" }]))).toEqual([]);
  });
});

describe("roles that would collide on one engine", () => {
  /** production2's client and barman on one engine. */
  const withBarman = (volumes: Json, machines = ["production2"]) =>
    problems(baseTopology(), { machines, barman: { slot: "barman", database: { host: "localhost" }, volumes } });

  it("refuses a barman volume that a client on the engine backs up: the nightly copy would overwrite its source", () => {
    expect(withBarman({ nightly: "orderly" })).toEqual([
      "montagu-backup:barman.volumes.nightly: volume 'orderly' would be barman's nightly volume, but it is already an application volume that 'production2' backs up (clients[0].backup[0]): a volume has one owner on an engine; name another volume",
    ]);
    // montagu's database on production2, by the name montagu's deployment gives it, though no client backs it up here.
    expect(withBarman({ nightly: "montagu_db_volume" })).toEqual([
      "montagu-backup:barman.volumes.nightly: volume 'montagu_db_volume' would be barman's nightly volume, but it is already montagu's database on 'production2' (clients[0].name): a volume has one owner on an engine; name another volume",
    ]);
    expect(withBarman({ nightly: "montagu_db_nightly" })).toEqual([]);
    expect(withBarman({ nightly: "orderly" }, ["uat"])).toEqual([]);
  });

  it("needs barman's recover volume to be a local volume of the topology when a privateer server shares its engine", () => {
    expect(withConfig((c) => (c.barman.volumes = { recover: "recover_renamed" }))).toEqual([
      "montagu-backup:barman.volumes.recover: volume 'recover_renamed' is not a local volume of the topology ('barman_recover'): the privateer server on this engine would serve restores an empty volume",
    ]);
    expect(
      problems(
        (() => {
          const t = baseTopology();
          t.volumes[1].name = "recover_renamed";
          return t;
        })(),
        { ...baseConfig(), barman: { ...baseConfig().barman, volumes: { recover: "recover_renamed" } } },
      ),
    ).toEqual([]);
    // Without a server on the engine, the recover volume is barman's own affair.
    expect(withBarman({ recover: "recover_renamed", nightly: "montagu_db_nightly" })).toEqual([]);
  });

  it("refuses to rebuild packit's database into a volume another entry restores into, such as the main database's", () => {
    const topology = baseTopology();
    topology.volumes.push({ name: "montagu_packit_db_backup" });
    topology.clients[0].backup.push("montagu_packit_db_backup");
    const volumes = [
      { volume: "montagu_packit_db_backup", server: "annex2" },
      { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
    ];
    const packit = (databaseVolume: string) => problems(topology, { machines: ["uat"], restore: { id: "1", volumes, packit: { databaseVolume } } });
    expect(packit("montagu_db_volume")).toEqual([
      "montagu-backup:restore.packit.databaseVolume: must not be 'montagu_db_volume', which montagu-backup:restore.volumes[1] restores into: rebuilding packit's database there would destroy that restore",
    ]);
    expect(packit("montagu_packit_db")).toEqual([]);
  });
});

describe("stack settings", () => {
  it("rejects a machine that is not in the topology", () => {
    expect(withConfig((c) => (c.machines = ["annex3"]))).toEqual(["montagu-backup:machines[0]: machine 'annex3' is not a server or client in privateer.json"]);
  });

  it("requires barman's replication slot, with no default", () => {
    expect(withConfig((c) => delete c.barman.slot)).toEqual([
      "montagu-backup:barman.slot: the replication slot must be given (two barman instances on one slot lose data)",
    ]);
    expect(withConfig((c) => (c.barman.slot = "Barman-1"))).toEqual([
      "montagu-backup:barman.slot: must be a PostgreSQL replication slot name ([a-z0-9_], at most 63)",
    ]);
  });

  it("rejects an unknown time zone and an unknown setting", () => {
    expect(withConfig((c) => (c.timezone = "Europe/Londres"))).toEqual(["montagu-backup:timezone: unknown time zone 'Europe/Londres'"]);
    expect(withConfig((c) => (c.barman.slots = "x"))).toEqual(["montagu-backup:barman.slots: unknown setting"]);
  });

  it("reports a topology file it cannot read", () => {
    expect(() => validateSettings("test", { machines: ["a"], topology: "missing.json" }, os.tmpdir())).toThrow(
      "montagu-backup:topology: cannot read 'missing.json': no such file",
    );
  });

  it("reports every problem at once, each with its path", () => {
    const topology = baseTopology();
    topology.clients[0].schedule.jobs[0].server = "annex3";
    topology.servers[0].port = 99999;
    const config = { machines: ["annex2", "nowhere"], barman: { database: { host: "db" }, metricsPort: 10022 } };
    expect(problems(topology, config)).toEqual([
      "servers[0].port: port 99999 is out of range 1-65535",
      "clients[0].schedule.jobs[0].server: unknown server 'annex3'",
      "montagu-backup:barman.slot: the replication slot must be given (two barman instances on one slot lose data)",
      "montagu-backup:machines[1]: machine 'nowhere' is not a server or client in privateer.json",
    ]);
  });
});

describe("privateer transfers in stack settings", () => {
  const onClient = (machine: string, privateer: Json) => problems(baseTopology(), { machines: [machine], privateer });

  it("accepts a backup and a restore that privateer would run", () => {
    expect(onClient("production2", { backup: { id: "1", volumes: [{ volume: "orderly", server: "annex2" }] } })).toEqual([]);
    expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2" }, { volume: "barman_recover", server: "annex2", to: "db" }] } })).toEqual([]);
  });

  it("rejects a backup of a volume the client does not back up, or to an unknown server", () => {
    expect(onClient("uat", { backup: { id: "1", volumes: [{ volume: "orderly", server: "annex3" }] } })).toEqual([
      "montagu-backup:privateer.backup.volumes[0].server: unknown server 'annex3'",
      "montagu-backup:privateer.backup.volumes[0].volume: client 'uat' does not back up volume 'orderly'",
    ]);
  });

  it("rejects a restore from a client that does not back the volume up, or a source for a local volume", () => {
    expect(
      problems(baseTopology(), {
        machines: ["uat"],
        restore: {
          id: "1",
          volumes: [
            { volume: "orderly", server: "annex2", source: "uat" },
            { volume: "barman_recover", server: "annex2", source: "production2" },
            { volume: "outpack", server: "annex2" },
          ],
        },
      }),
    ).toEqual([
      "montagu-backup:restore.volumes[0].source: client 'uat' does not back up volume 'orderly'",
      "montagu-backup:restore.volumes[1].source: volume 'barman_recover' is local to the server: it has no source",
      "montagu-backup:restore.volumes[2].volume: unknown volume 'outpack'",
    ]);
  });

  it("asks for the client when a stack provisions several", () => {
    const topology = baseTopology();
    topology.clients[1].key_volume = "uat_keys";
    expect(problems(topology, { machines: ["production2", "uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", to: "orderly_copy" }] } })).toEqual([
      "montagu-backup:restore.volumes[0].client: name the client: this stack provisions several (production2, uat)",
    ]);
  });

  it("refuses to restore over a volume the machine backs up, unless its entry says so", () => {
    const onto = (extra: Json) => problems(baseTopology(), { machines: ["production2"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", ...extra }] } });
    expect(onto({})).toEqual([
      "montagu-backup:restore.volumes[0].volume: refused: 'production2' backs up volume 'orderly', so restoring over it would overwrite the source of its backups (set montagu-backup:restore.volumes[0].allowOverwriteSource to true if that is really meant)",
    ]);
    expect(onto({ allowOverwriteSource: true })).toEqual([]);
  });

  it("takes allowOverwriteSource per entry, no longer for the whole restore", () => {
    expect(
      problems(baseTopology(), { machines: ["production2"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", allowOverwriteSource: true }], allowOverwriteSource: true } }),
    ).toEqual(["montagu-backup:restore.allowOverwriteSource: unknown setting"]);
    const restore = parsed(baseTopology(), {
      machines: ["uat"],
      restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2" }, { volume: "orderly", server: "annex2", to: "o2", allowOverwriteSource: true }] },
    }).config.restore;
    expect(restore.volumes.map((v: Json) => v.allowOverwriteSource)).toEqual([false, true]);
  });

  it("needs barman for a prepared restore, and a time with a zone for point-in-time recovery", () => {
    expect(problems(baseTopology(), { machines: ["uat"], prepareRestore: { id: "1" } })).toEqual([
      "montagu-backup:prepareRestore: needs barman on this stack (montagu-backup:barman)",
    ]);
    expect(withConfig((c) => (c.prepareRestore = { id: "1", targetTime: "2026-11-21 18:30" }))).toEqual([
      "montagu-backup:prepareRestore.targetTime: '2026-11-21 18:30' is not a time with a zone, such as 2026-11-21T18:30:00Z",
    ]);
    expect(withConfig((c) => (c.prepareRestore = { id: "1", backup: "yesterday" }))).toEqual([
      "montagu-backup:prepareRestore.backup: must be latest, oldest or a backup id such as 20250601T010001",
    ]);
  });

  it("rejects reading keys from a vault the topology does not have", () => {
    expect(onClient("uat", { keys: { generate: false } })).toEqual([
      "montagu-backup:privateer.keys.generate: the topology has no vault to read keys from, so this stack must generate them",
    ]);
  });
});

describe("nothing lost: empty sources, snapshots and history", () => {
  const restoreOn = (machine: string, volumes: Json[]) => ({ machines: [machine], restore: { id: "1", volumes } });

  it("refuses empty pushes and restores unless allowEmpty is set on the entry", () => {
    const backup = (entry: Json) => parsed(baseTopology(), { machines: ["production2"], privateer: { backup: { id: "1", volumes: [entry] } } });
    expect(backup({ volume: "orderly", server: "annex2" }).config.privateer.backup.volumes[0].allowEmpty).toBe(false);
    expect(backup({ volume: "orderly", server: "annex2", allowEmpty: true }).config.privateer.backup.volumes[0].allowEmpty).toBe(true);
    const restored = parsed(baseTopology(), restoreOn("uat", [{ volume: "orderly", server: "annex2" }, { volume: "orderly", server: "annex2", to: "o2", allowEmpty: true }]));
    expect(restored.config.restore.volumes.map((v: Json) => v.allowEmpty)).toEqual([false, true]);
    expect(problems(baseTopology(), restoreOn("uat", [{ volume: "orderly", server: "annex2", allowEmpty: "yes" }]))).toEqual([
      "montagu-backup:restore.volumes[0].allowEmpty: Invalid input: expected boolean, received string",
    ]);
  });

  it("restores the current copy by default, or a history snapshot: latest or one by name", () => {
    const entries = [
      { volume: "orderly", server: "annex2" },
      { volume: "orderly", server: "annex2", to: "o2", snapshot: "latest" },
      { volume: "orderly", server: "annex2", to: "o3", snapshot: "20261126T131500Z" },
      { volume: "orderly", server: "annex2", to: "o4", snapshot: "20240229T235959Z" },
    ];
    expect(parsed(baseTopology(), restoreOn("uat", entries)).config.restore.volumes.map((v: Json) => v.snapshot)).toEqual([
      undefined,
      "latest",
      "20261126T131500Z",
      "20240229T235959Z",
    ]);
  });

  it("rejects a snapshot that is not latest or the name of a real moment", () => {
    const names = ["newest", "20261126T131500", "2026-11-26T13:15:00Z", "20261126T131500z", "20250229T120000Z", "20261131T120000Z", "20261301T120000Z", "20261126T240000Z", "20261126T136000Z", "20261126T131560Z"];
    expect(problems(baseTopology(), restoreOn("uat", names.map((snapshot, i) => ({ volume: "orderly", server: "annex2", to: `o${i}`, snapshot }))))).toEqual(
      names.map((name, i) => `montagu-backup:restore.volumes[${i}].snapshot: '${name}' is not latest or a snapshot name such as 20261126T131500Z (a real UTC date and time)`),
    );
  });

  it("rejects a snapshot of a local volume, which has no history", () => {
    expect(problems(baseTopology(), restoreOn("uat", [{ volume: "barman_recover", server: "annex2", to: "db", snapshot: "latest" }]))).toEqual([
      "montagu-backup:restore.volumes[0].snapshot: volume 'barman_recover' is local to the server: it has no history to take a snapshot from",
    ]);
  });

  it("checks the other restore entries when one is malformed", () => {
    expect(
      problems(
        baseTopology(),
        restoreOn("uat", [
          { volume: "orderly", server: "annex2", snapshot: "yesterday" },
          { volume: "barman_recover", server: "annex3", to: "db", snapshot: "latest" },
        ]),
      ),
    ).toEqual([
      "montagu-backup:restore.volumes[0].snapshot: 'yesterday' is not latest or a snapshot name such as 20261126T131500Z (a real UTC date and time)",
      "montagu-backup:restore.volumes[1].server: unknown server 'annex3'",
      "montagu-backup:restore.volumes[1].snapshot: volume 'barman_recover' is local to the server: it has no history to take a snapshot from",
    ]);
  });

  it("keeps a history of every client's copy on the server: every 15 minutes, 7 daily and 4 weekly by default", () => {
    expect(parsed(baseTopology(), baseConfig()).config.privateer.history).toEqual({ schedule: "*/15 * * * *", daily: 7, weekly: 4 });
    expect(parsed(baseTopology(), { ...baseConfig(), privateer: { history: { schedule: "@hourly", daily: 0 } } }).config.privateer.history).toEqual({
      schedule: "@hourly",
      daily: 0,
      weekly: 4,
    });
  });

  it("rejects a history schedule that does not parse and a negative or fractional count", () => {
    expect(withConfig((c) => (c.privateer = { history: { schedule: "every hour", daily: -1, weekly: 1.5 } }))).toEqual([
      "montagu-backup:privateer.history.schedule: cron expression 'every hour' must have five fields (minute hour day month weekday), found 2",
      "montagu-backup:privateer.history.daily: must be 0 or more snapshots",
      "montagu-backup:privateer.history.weekly: must be a whole number of snapshots",
    ]);
    expect(withConfig((c) => (c.privateer = { history: { monthly: 3 } }))).toEqual(["montagu-backup:privateer.history.monthly: unknown setting"]);
  });
});

describe("nothing lost: a restore never writes over what the stack's engine uses", () => {
  /** The annex2 server with uat's client on one engine, barman and a stand-in primary too. */
  function engine(): { topology: Json; config: Json } {
    const topology = baseTopology();
    topology.clients[1].key_volume = "uat_keys";
    topology.clients[1].backup = ["outpack"];
    topology.volumes.push({ name: "outpack" });
    const config = {
      machines: ["annex2", "uat"],
      standInPrimary: {},
      barman: { slot: "barman", database: { host: "localhost" } },
      restore: { id: "1", volumes: [] as Json[] },
    };
    return { topology, config };
  }
  const into = (to: string, extra: Json = {}) => {
    const { topology, config } = engine();
    config.restore.volumes.push({ volume: "orderly", server: "annex2", to, ...extra });
    return problems(topology, config);
  };
  const override = "(set montagu-backup:restore.volumes[0].allowOverwriteSource to true if that is really meant)";

  it("accepts a restore into a volume nothing on the engine uses", () => {
    expect(into("orderly_restored")).toEqual([]);
  });

  it("refuses a volume that a client on the engine backs up, naming the client", () => {
    expect(into("outpack")).toEqual([
      `montagu-backup:restore.volumes[0].to: refused: 'uat' backs up volume 'outpack', so restoring over it would overwrite the source of its backups ${override}`,
    ]);
  });

  it("refuses the stand-in primary's data volume unless its entry says so", () => {
    expect(into("montagu_primary_data")).toEqual([
      `montagu-backup:restore.volumes[0].to: refused: volume 'montagu_primary_data' is the stand-in primary's data volume on this stack's engine (montagu-backup:standInPrimary.volume); restoring over it would destroy it ${override}`,
    ]);
    expect(into("montagu_primary_data", { allowOverwriteSource: true })).toEqual([]);
  });

  // allowOverwriteSource is for restoring a machine's own volumes from its copy: a restore into
  // the server's data or local volume reads and writes one volume, and keys or barman's lose what backs everything up.
  it.each([
    ["data", "barman_data", "barman's data volume", "montagu-backup:barman.volumes.data"],
    ["logs", "barman_logs", "barman's logs volume", "montagu-backup:barman.volumes.logs"],
    ["metrics", "barman_metrics", "barman's metrics volume", "montagu-backup:barman.volumes.metrics"],
    ["nightly", "montagu_db_volume", "barman's nightly volume", "montagu-backup:barman.volumes.nightly"],
    ["server data", "data", "the data volume of privateer server 'annex2'", "servers[0].data_volume"],
    ["server keys", "keys", "the key volume of privateer server 'annex2'", "servers[0].key_volume"],
    ["client keys", "uat_keys", "the key volume of privateer client 'uat'", "clients[1].key_volume"],
    ["local", "barman_recover", "a local volume that privateer server 'annex2' serves", "volumes[1].name"],
  ])("refuses %s, even with allowOverwriteSource: '%s' is %s", (_, volume, what, where) => {
    const refused = `montagu-backup:restore.volumes[0].to: refused: volume '${volume}' is ${what} on this stack's engine (${where}); restoring over it would destroy it, and allowOverwriteSource does not allow it: it is for montagu's own volumes`;
    expect(into(volume)).toEqual([refused]);
    expect(into(volume, { allowOverwriteSource: true })).toEqual([refused]);
  });

  it("refuses barman's recovery volume, where the prepared copy is, on the message's path", () => {
    const { topology, config } = engine();
    topology.volumes[1].name = "recover_local";
    config.restore.volumes.push({ volume: "orderly", server: "annex2", to: "barman_recover" });
    expect(problems(topology, config)).toEqual([
      "montagu-backup:restore.volumes[0].to: refused: volume 'barman_recover' is barman's recover volume on this stack's engine (montagu-backup:barman.volumes.recover); restoring over it would destroy it, and allowOverwriteSource does not allow it: it is for montagu's own volumes",
      "montagu-backup:barman.volumes.recover: volume 'barman_recover' is not a local volume of the topology ('recover_local'): the privateer server on this engine would serve restores an empty volume",
    ]);
  });

  it("refuses only what is on this stack's engine", () => {
    // Without the server, barman or the stand-in primary, their volumes are free on uat's engine.
    for (const to of ["data", "keys", "barman_data", "barman_recover", "montagu_primary_data", "montagu_db_volume"]) {
      expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", to }] } })).toEqual([]);
    }
    // production2 backs up orderly, but is not on uat's engine.
    expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2" }] } })).toEqual([]);
  });

  it("refuses a second restore into the same volume, on the second entry's path", () => {
    const volumes = [
      { volume: "orderly", server: "annex2", to: "copy" },
      { volume: "barman_recover", server: "annex2", to: "copy" },
      { volume: "orderly", server: "annex2" },
      { volume: "barman_recover", server: "annex2", to: "orderly" },
    ];
    expect(problems(baseTopology(), { machines: ["uat"], restore: { id: "1", volumes } })).toEqual([
      "montagu-backup:restore.volumes[1].to: volume 'copy' is already restored into by montagu-backup:restore.volumes[0]: one restore would overwrite the other",
      "montagu-backup:restore.volumes[3].to: volume 'orderly' is already restored into by montagu-backup:restore.volumes[2]: one restore would overwrite the other",
    ]);
  });

  it("reports every refusal at once, and checks the other entries when one is malformed", () => {
    const { topology, config } = engine();
    config.restore.volumes.push(
      { volume: "orderly", server: "annex2", to: "barman_data" },
      { volume: "orderly", server: "annex2", to: "_bad" },
      { volume: "orderly", server: "annex2", to: "outpack" },
    );
    expect(problems(topology, config)).toEqual([
      "montagu-backup:restore.volumes[1].to: '_bad' is not a valid Docker name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
      "montagu-backup:restore.volumes[0].to: refused: volume 'barman_data' is barman's data volume on this stack's engine (montagu-backup:barman.volumes.data); restoring over it would destroy it, and allowOverwriteSource does not allow it: it is for montagu's own volumes",
      "montagu-backup:restore.volumes[2].to: refused: 'uat' backs up volume 'outpack', so restoring over it would overwrite the source of its backups (set montagu-backup:restore.volumes[2].allowOverwriteSource to true if that is really meant)",
    ]);
  });

  describe("packit's database", () => {
    const packit = (settings: Json, machines = ["uat"]) => {
      const topology = baseTopology();
      topology.volumes.push({ name: "montagu_packit_db_backup" });
      topology.clients[1].backup = ["montagu_packit_db_backup"];
      return problems(topology, {
        machines,
        ...(machines.includes("annex2") ? { barman: { slot: "barman", database: { host: "localhost" }, volumes: { nightly: "nightly" } } } : {}),
        restore: { id: "1", volumes: [{ volume: "montagu_packit_db_backup", server: "annex2", to: "packit_dump" }], packit: { dumpVolume: "packit_dump", ...settings } },
      });
    };

    it("is rebuilt into its own volume", () => {
      expect(packit({})).toEqual([]);
    });

    it("is never rebuilt over its dump", () => {
      expect(packit({ databaseVolume: "packit_dump" })).toEqual([
        "montagu-backup:restore.packit.databaseVolume: must not be the dump volume 'packit_dump': rebuilding packit's database there would destroy the dump it is rebuilt from",
      ]);
    });

    it("is never rebuilt over a volume in use on the engine, with no override", () => {
      expect(packit({ databaseVolume: "montagu_packit_db_backup" })).toEqual([
        "montagu-backup:restore.packit.databaseVolume: refused: 'uat' backs up volume 'montagu_packit_db_backup', so rebuilding packit's database in it would overwrite the source of its backups",
      ]);
      expect(packit({ databaseVolume: "barman_data" }, ["uat", "annex2"])).toEqual([
        "montagu-backup:restore.packit.databaseVolume: refused: volume 'barman_data' is barman's data volume on this stack's engine (montagu-backup:barman.volumes.data); rebuilding packit's database in it would destroy it",
      ]);
      expect(packit({ databaseVolume: "privateer_keys" })).toEqual([
        "montagu-backup:restore.packit.databaseVolume: refused: volume 'privateer_keys' is the key volume of privateer client 'uat' on this stack's engine (clients[1].key_volume); rebuilding packit's database in it would destroy it",
      ]);
    });
  });
});

describe("the prepared copy's database image", () => {
  const image = (config: Json) => parsed(baseTopology(), { ...baseConfig(), ...config }).config.prepareRestore.database.image;

  it("is montagu's image by default", () => {
    expect(image({ prepareRestore: { id: "1" } })).toBe("ghcr.io/vimc/montagu-db:main");
  });

  it("is built here by default on a stack with a stand-in primary, which may be offline", () => {
    expect(image({ standInPrimary: {}, prepareRestore: { id: "1" } })).toBe("local");
  });

  it("is the one given, whatever the stack", () => {
    expect(image({ prepareRestore: { id: "1", database: { image: "local" } } })).toBe("local");
    expect(image({ standInPrimary: {}, prepareRestore: { id: "1", database: { image: "postgres:17" } } })).toBe("postgres:17");
  });

  it("reaches the prepared restore resolved: the local stack builds images/postgres", async () => {
    const run = await runStack("local", { ...readStackConfig("local"), "montagu-backup:prepareRestore": { id: "p1" } }, dryProvider());
    const built = run.resources.filter((r) => r.type === "docker:index/image:Image" && r.name.startsWith("prepare-restore-"));
    expect(built).toHaveLength(1);
    expect(JSON.stringify(run.resources.map((r) => r.inputs))).not.toContain("ghcr.io/vimc/montagu-db");
  });
});

describe("the program on bad input", () => {
  it("declares nothing and fails with one message listing every problem", async () => {
    const config = { ...readStackConfig("annex2"), "montagu-backup:machines": ["annex3"], "montagu-backup:barman": { database: { host: "db" } } };
    const registered: string[] = [];
    const provider = dryProvider();
    const recording = { ...provider, create: async (r: { type: string }) => (registered.push(r.type), {}) };
    await expect(runStack("annex2", config, recording as typeof provider)).rejects.toThrow(
      "Stack 'annex2' is not valid, so nothing was declared. 2 problems:\n" +
        "  - montagu-backup:barman.slot: the replication slot must be given (two barman instances on one slot lose data)\n" +
        "  - montagu-backup:machines[0]: machine 'annex3' is not a server or client in privateer.json",
    );
    expect(registered).toEqual([]);
  });
});

describe("the repository's stacks", () => {
  const stacks = fs
    .readdirSync(PROJECT_DIR)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined);

  it("are the six machines' stacks", () => {
    expect(stacks.sort()).toEqual(["annex", "annex2", "local", "production2", "science", "uat"]);
  });

  it.each(stacks)("%s validates", (stack) => {
    expect(() => validateSettings(stack, projectConfig(encodeConfig(readStackConfig(stack))), PROJECT_DIR)).not.toThrow();
  });

  it("never put two barman instances on one slot of one database", () => {
    const slots = stacks.flatMap((stack) => {
      const barman = readStackConfig(stack)["montagu-backup:barman"] as { slot: string; database: { host: string } } | undefined;
      return barman === undefined ? [] : [`${barman.database.host}/${barman.slot}`];
    });
    expect(new Set(slots).size).toBe(slots.length);
  });
});
