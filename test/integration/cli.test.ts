import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshnessStatus, primaryAnswer } from "../../cli/bin";
import { main } from "../../cli/main";
import { DockerReader } from "../../cli/reader";
import { StackFiles } from "../../cli/stackFiles";
import { cliBuilds } from "../../components/shared/dockerImage";
import { SimulatedEngine } from "../../simulator/cliEngine";
import { dataCentre, logWhenVerbose } from "../../simulator/dataCentre";
import { eventually } from "../../simulator/harness/eventually";
import type { RegisteredResource } from "../../simulator/harness/run";
import { PROJECT_DIR } from "../../simulator/harness/stackConfig";
import { cutNetwork, reconnectNetwork } from "../../simulator/rig/hosts";
import { inVolume, manifest, seedVolume } from "../../simulator/volumes";
import { CHECKSUM, NOW_UTC, POSTGRES_IMAGE } from "../fixtures/batches";

// `montagu-backup` on a three-machine data centre: the commands a person types, over stack files
// of their own, run by the simulator's engine on the rig's hosts.

const TOPOLOGY = path.join(PROJECT_DIR, "test/fixtures/privateer.json");
const VOLUME = "montagu_orderly_volume";
/** The freshness monitor's id of the push this file makes. */
const PUSH = "push/production2/montagu_orderly_volume";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("montagu-backup on the rig", () => {
  const centre = dataCentre<string>({ machines: ["annex2", "production2", "uat"], topology: TOPOLOGY, log: logWhenVerbose });
  const { hosts, appliers } = centre;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "montagu-cli-rig-"));
  const files = new StackFiles(dir);
  /** Strikes once, as uat's restore has stopped its service and is about to copy. */
  let strike: (() => Promise<void>) | undefined;
  const t0 = performance.now();
  /** Where the time goes, with RIG_VERBOSE: the file is one of the longer ones. */
  const mark = (what: string) => process.env.RIG_VERBOSE && console.log(`cli.test: ${((performance.now() - t0) / 1000).toFixed(0)} s: ${what}`);
  const engine = new SimulatedEngine({
    files,
    provider: (stack) => ({
      invoke: (token, args) => appliers[stack].invoke(token, args),
      beginRun: () => appliers[stack].beginRun(),
      finish: (declared) => appliers[stack].finish(declared),
      planned: (resource) => appliers[stack].planned(resource),
      listen: (listener) => appliers[stack].listen(listener),
      async create(resource: RegisteredResource) {
        if (stack === "uat" && strike !== undefined && resource.name === "restore-stop") {
          const fault = strike;
          strike = undefined;
          await fault();
        }
        return appliers[stack].create(resource);
      },
    }),
    // The prepared copy's database image, built on annex2 as the other tests build it (the rig is offline).
    adjust: (_stack, config) => {
      const prepare = config["montagu-backup:prepareRestore"] as Record<string, unknown> | undefined;
      return prepare === undefined ? config : { ...config, "montagu-backup:prepareRestore": { ...prepare, database: { image: "local" } } };
    },
  });
  let out = "";
  let err = "";
  const cli = (...argv: string[]) => {
    out = "";
    err = "";
    return main(argv, {
      files,
      engine,
      reader: new DockerReader(),
      stdout: (text) => (out += text),
      stderr: (text) => (err += text),
      confirm: async () => false,
      primaryAnswer,
      freshness: freshnessStatus,
    });
  };
  const primary = (query: string) => hosts.production2.docker.out("exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", query);
  const uatAnswer = () => hosts.uat.docker.out("exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "--no-psqlrc", "-Atc", CHECKSUM);
  const writeStack = (stack: string, config: Record<string, unknown>) =>
    fs.writeFileSync(files.file(stack), `# ${stack}, as the rig has it.\n${stringify({ config: { "docker:host": hosts[stack].dockerHost, "montagu-backup:topology": TOPOLOGY, "montagu-backup:machines": [stack], ...config } })}`);
  const updates = (stack: string) => engine.calls.filter((c) => c.kind === "update" && c.stack === stack).length;

  let batchOne = "";
  let betweenBatches = "";

  beforeAll(async () => {
    await centre.start();
    writeStack("annex2", {
      "montagu-backup:privateer": { keys: { generate: true } },
      "montagu-backup:barman": { slot: "barman", database: { host: "production2", port: 5432 }, passwordGroup: "fake" },
      "montagu-backup:freshness": { checkEvery: "5s", staleAfter: { [PUSH]: "60s" } },
    });
    writeStack("production2", { "montagu-backup:standInPrimary": { port: 5432, passwordGroup: "fake" } });
    writeStack("uat", {
      "montagu-backup:restore": {
        id: "none-yet",
        volumes: [
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
          { volume: VOLUME, server: "annex2", source: "production2" },
        ],
        stop: ["montagu-db"],
        start: ["montagu-db"],
        verify: { container: "montagu-db", query: CHECKSUM },
      },
    });
    mark("hosts started");
    await engine.update("annex2");
    mark("annex2 up");
    await seedVolume(hosts.production2, VOLUME, 5);
    await engine.update("production2");
    // The fixture's every-minute schedule would race this test's own pushes of the same volume.
    await hosts.production2.docker.run(["stop", "privateer_scheduler"]);
    mark("production2 up");
    for (const build of cliBuilds("postgres", POSTGRES_IMAGE)) await hosts.uat.docker.run(build, { env: { DOCKER_BUILDKIT: "0" } });
    await hosts.uat.docker.run(["run", "--detach", "--name", "montagu-db", "--volume", "montagu_db_volume:/pgdata", "--env", "PGPASSWORD=vimc", POSTGRES_IMAGE]);
    mark("uat's database running");
    await eventually("barman's first base backup, finished", 240, async () => {
      const listed = await hosts.annex2.docker.run(["exec", "barman-montagu", "barman", "-f", "json", "list-backups", "montagu"], { allowFailure: true });
      return (JSON.parse(listed.stdout).montagu as { status?: string }[]).some((b) => b.status === "DONE") ? true : undefined;
    });
    await primary("CREATE TABLE batch (id serial PRIMARY KEY, payload text NOT NULL)");
    await primary("INSERT INTO batch (payload) SELECT md5('one' || g) FROM generate_series(1, 5000) g");
    batchOne = await primary(CHECKSUM);
    betweenBatches = await primary(NOW_UTC);
    await sleep(2_000);
    await primary("INSERT INTO batch (payload) SELECT md5('two' || g) FROM generate_series(1, 5000) g");
    mark("two batches written");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("restore --at a time between two batches, cut off by the network between annex2 and uat, then --resume: the first batch and production2's volume, the prepare run once", async () => {
    strike = () => cutNetwork(hosts.uat);
    let code: number;
    try {
      code = await cli("restore", "uat", "--at", betweenBatches, "--yes");
    } finally {
      await reconnectNetwork(hosts.uat);
    }
    mark(`the restore cut off:\n${out}`);
    expect(code, `${out}\n${err}`).toBe(1);
    expect(err).toMatch(/the restore step on stack 'uat' failed/);
    expect(err).toMatch(/montagu-backup restore --resume uat/);
    expect([updates("annex2"), updates("production2"), updates("uat")]).toEqual([2, 2, 1]);
    const prepareRuns = appliers.annex2.history.length;

    expect(await cli("restore", "--resume", "--yes"), `${out}\n${err}`).toBe(0);
    mark(`resumed:\n${out}`);
    expect(out).toMatch(/prepare on annex2: done already/);
    // Progress as it came: uat's steps, and what their commands printed, between the step's start and end.
    expect(out).toMatch(/restore on uat: started[^]*\n {2}uat: {2}(\+ |~ |\+-) command:local:Command restore-\S+ (created|updated|replaced) \(\d+s\)[^]*restore on uat: done in/);
    expect(out).toMatch(/\n {2}uat: {3}restore-\S+: restore: started montagu-db\n/);
    expect([updates("annex2"), updates("production2"), updates("uat")]).toEqual([2, 2, 2]);
    expect(appliers.annex2.history.length).toBe(prepareRuns);
    expect(batchOne).toMatch(/^5000 /);
    expect(out).toContain(`verification: ${batchOne}`);
    expect(await uatAnswer()).toBe(batchOne);
    expect(await manifest(hosts.uat, VOLUME)).toBe(await manifest(hosts.production2, VOLUME));
    expect(files.text("annex2")).toMatch(/^# annex2, as the rig has it\./);
  });

  it("list shows the history snapshots a few pushes made, and restore --snapshot takes one of them", async () => {
    const copies: string[] = [];
    for (const round of [1, 2]) {
      await inVolume(hosts.production2, VOLUME, `echo round ${round} > round.txt`);
      copies.push(await manifest(hosts.production2, VOLUME));
      expect(await cli("backup", "production2", "--volume", VOLUME, "--yes"), err).toBe(0);
      await sleep(1_100); // snapshots are named by the second
    }
    expect(await cli("backup", "production2", "--volume", VOLUME, "--yes"), err).toBe(0);
    expect(await cli("list", VOLUME, "--json"), err).toBe(0);
    const listed = JSON.parse(out) as { volumes: { volume: string; snapshots: { name: string; files: number }[] }[] }[];
    const snapshots = listed[0].volumes.find((v) => v.volume === VOLUME)!.snapshots;
    // Each push keeps the copy it replaces: the last two pushes kept round 1's and round 2's.
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(await cli("list", "uat"), err).toBe(0);
    expect(out).toMatch(/annex2: production2\/montagu_orderly_volume: \d+ history snapshots/);
    // barman's finished backups with every column filled from barman's own answers: begin, end, size, the WAL it spans, the last WAL.
    expect(out).toMatch(/\n\d{8}T\d{6} +DONE +\d{4}-\S+Z +\d{4}-\S+Z +\d+ MB +[0-9A-F]{24}\.\.[0-9A-F]{24} +[0-9A-F]{24}\n/);

    const roundOne = snapshots[snapshots.length - 2].name;
    expect(await cli("restore", "uat", "--snapshot", roundOne, "--volume", VOLUME, "--yes"), `${out}\n${err}`).toBe(0);
    expect(await manifest(hosts.uat, VOLUME)).toBe(copies[0]);
    expect(await cli("restore", "uat", "--snapshot", "20200101T000000Z", "--volume", VOLUME, "--yes")).toBe(2);
    expect(err).toContain(roundOne);
  });

  it("status exits 0 while every backup is fresh, and 1 once the push is late", async () => {
    expect(await cli("backup", "production2", "--volume", VOLUME, "--yes"), err).toBe(0);
    type Answer = { monitors: { backups: { id: string; state: string }[] }[] };
    const pushState = () => (JSON.parse(out) as Answer).monitors[0].backups?.find((b) => b.id === PUSH)?.state;
    const fresh = await eventually("the monitor's look after the push", 60, async () => {
      const code = await cli("status", "--json");
      return pushState() === "fresh" ? code : undefined;
    });
    expect(fresh, out).toBe(0);
    const late = await eventually("the push late", 150, async () => {
      const code = await cli("status", "--json");
      return pushState() === "late" ? code : undefined;
    }, 5_000);
    expect(late).toBe(1);
    expect(await cli("status")).toBe(1);
    expect(out).toMatch(new RegExp(`annex2 +${PUSH} +late`));
    mark("status: late");
  });

  it("drill writes a report whose counts equal the primary's", async () => {
    // The restore section back to the database and the volume, from the current copies.
    files.set("uat", ["montagu-backup:restore", "volumes"], [
      { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
      { volume: VOLUME, server: "annex2", source: "production2" },
    ]);
    const report = path.join(dir, "drill");
    expect(await cli("drill", "uat", "--report", report, "--yes"), `${out}\n${err}`).toBe(0);
    const written = JSON.parse(fs.readFileSync(`${report}.json`, "utf8")) as { restored: string; primaryAnswer: string; equal: boolean; steps: unknown[] };
    expect(written.primaryAnswer).toBe(await primary(CHECKSUM));
    expect(written.restored).toMatch(/^10000 /);
    expect(written.restored).toBe(written.primaryAnswer);
    expect(written.steps).toHaveLength(3);
    expect(fs.readFileSync(`${report}.md`, "utf8")).toMatch(/They are equal\./);
  });
});
