import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerApplier } from "../../simulator/harness/dockerApplier";
import { eventually } from "../../simulator/harness/eventually";
import { runStack } from "../../simulator/harness/run";
import { readStackConfig, type StackConfig } from "../../simulator/harness/stackConfig";
import { startHost, type SimulatedHost } from "../../simulator/rig/hosts";

describe("the local stack on a fresh engine", () => {
  let host: SimulatedHost;
  let applier: DockerApplier;
  const config = (): StackConfig => ({ ...readStackConfig("local"), "docker:host": host.dockerHost });

  /** What the engine holds, each kind sorted: containers (stopped ones too), tagged images, volumes. */
  const engine = async () => {
    const list = async (...args: string[]) => (await host.docker.out(...args)).split("\n").filter(Boolean).sort();
    return {
      containers: await list("ps", "--all", "--format", "{{.Names}}"),
      images: await list("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"),
      volumes: await list("volume", "ls", "--quiet"),
    };
  };
  let before: Awaited<ReturnType<typeof engine>>;
  let retained: string[] = [];

  beforeAll(async () => {
    host = await startHost("workstation");
    applier = new DockerApplier({ dockerHost: host.dockerHost, log: (line) => process.env.RIG_VERBOSE && console.log(line) });
    before = await engine();
  });
  afterAll(async () => {
    await host.docker.run(["rm", "--force", "psql-client"], { allowFailure: true });
  });

  /** psql from another container, over the network, by the host's name, as barman connects. */
  const psql = (user: string, sql: string, extra = "") =>
    host.docker.out(
      "run", "--rm", "--name", "psql-client", "--env", `PGPASSWORD=${user}`,
      "--entrypoint", "psql", "montagu-backup/postgres:local",
      `host=workstation port=15432 dbname=montagu user=${user} ${extra}`, "--no-psqlrc", "-Atc", sql,
    );

  it("refuses to make the scheduler while a volume it pushes is not on the engine, and makes no such volume", async () => {
    const withoutVolumes = config();
    withoutVolumes["montagu-backup:standInPrimary"] = { ...(withoutVolumes["montagu-backup:standInPrimary"] as object), applicationVolumes: [] };
    const error = await runStack("local", withoutVolumes, applier).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/refusing to schedule pushes of volumes that are not on this engine: montagu_orderly_volume/);
    expect(await host.docker.exists("volume", "montagu_orderly_volume")).toBe(false);
    expect(await host.docker.exists("container", "privateer_primary_scheduler")).toBe(false);
  });

  it("brings up the stand-in primary, which answers queries with replication set up for barman", async () => {
    const first = await runStack("local", config(), applier);
    retained = first.resources
      .filter((r) => r.type === "docker:index/volume:Volume" && r.retainOnDelete)
      .map((r) => String(r.inputs.name))
      .sort();
    expect(retained).toContain("montagu_orderly_volume");
    expect(await host.docker.exists("container", "privateer_primary_scheduler")).toBe(true);
    expect(first.outputs.primary).toMatchObject({ container: "montagu-db", port: 15432 });

    expect(await psql("vimc", "SELECT current_database() || ' ' || current_user")).toBe("montagu vimc");
    expect(await psql("barman", "SELECT current_setting('wal_level'), rolsuper FROM pg_roles WHERE rolname = current_user")).toBe(
      "replica|t",
    );
    const system = await psql("streaming_barman", "IDENTIFY_SYSTEM", "replication=true");
    expect(system).toMatch(/^\d+\|1\|[0-9A-F]+\/[0-9A-F]+\|$/);

    // The password is nowhere in what docker inspect shows.
    const inspected = await host.docker.out("inspect", "montagu-db");
    expect(inspected).not.toMatch(/streaming_barman/);
  });

  it("changes nothing when the stack is applied again unchanged", async () => {
    const containerId = await host.docker.out("inspect", "-f", "{{.Id}}", "montagu-db");
    await runStack("local", config(), applier);
    const last = applier.history[applier.history.length - 1];
    expect(last.created).toEqual([]);
    expect(last.updated).toEqual([]);
    expect(last.replaced).toEqual([]);
    expect(last.unchanged.length).toBeGreaterThanOrEqual(3);
    expect(await host.docker.out("inspect", "-f", "{{.Id}}", "montagu-db")).toBe(containerId);
  });

  it("keeps the database's data when the stack is destroyed, and finds it again on the next up", async () => {
    await psql("vimc", "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)");
    const up = await engine();
    expect(up.images.filter((image) => image.startsWith("montagu-backup/")).length).toBeGreaterThanOrEqual(4);
    await applier.finish([]);
    expect(await host.docker.exists("container", "montagu-db")).toBe(false);
    expect(await host.docker.exists("volume", "montagu_primary_data")).toBe(true);
    // No container (the builds' intermediate ones included), no image the stack built, no volume but its data.
    const after = await engine();
    expect(after.containers).toEqual(before.containers);
    expect(after.images).toEqual(before.images);
    expect(after.volumes).toEqual([...new Set([...before.volumes, ...retained])].sort());

    await runStack("local", config(), applier);
    expect(await psql("vimc", "SELECT n FROM kept")).toBe("42");
  });

  it("shuts the database down cleanly when docker stops it, even with a session open", async () => {
    await host.docker.run(["exec", "--detach", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-c", "SELECT pg_sleep(600)"]);
    const sessions = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'";
    await eventually("the open session", 30, async () =>
      (await host.docker.out("exec", "montagu-db", "psql", "-U", "vimc", "-d", "montagu", "-Atc", sessions)) === "1" ? true : undefined,
    );
    await host.docker.run(["stop", "montagu-db"]);
    // Killed rather than stopped, its next start would be a crash recovery.
    const control = await host.docker.out(
      "run", "--rm", "--entrypoint", "pg_controldata", "--volume", "montagu_primary_data:/pgdata", "montagu-backup/postgres:local", "/pgdata",
    );
    expect(control).toMatch(/^Database cluster state:\s+shut down$/m);
    await host.docker.run(["start", "montagu-db"]);
    expect(await eventually("the restarted database", 60, () => psql("vimc", "SELECT n FROM kept"))).toBe("42");
  });
});
