import { describe, expect, it } from "vitest";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { runStack } from "../../simulator/harness/run";
import { readStackConfig } from "../../simulator/harness/stackConfig";

describe("the local stack", () => {
  it("declares the stand-in primary with its data kept on destroy and its passwords secret", async () => {
    const run = await runStack("local", readStackConfig("local"), dryProvider());
    const [component] = run.resources.filter((r) => r.type === "montagu:backup:StandInPrimary");
    const byType = (type: string) => run.resources.filter((r) => r.type === type && r.parent === component.urn);

    const [volume] = byType("docker:index/volume:Volume");
    expect(volume.inputs.name).toBe("montagu_primary_data");
    expect(volume.retainOnDelete).toBe(true);

    const [container] = byType("docker:index/container:Container");
    expect(container.inputs.name).toBe("montagu-db");
    expect(container.inputs.ports).toEqual([{ internal: 5432, external: 15432 }]);
    expect(container.inputs.envs.join("\n")).not.toMatch(/barman|password/i);
    expect(container.inputs.uploads.map((u: { file: string }) => u.file)).toEqual([
      "/run/montagu/secrets/vimc",
      "/run/montagu/secrets/barman",
      "/run/montagu/secrets/streaming_barman",
    ]);
    // Pulumi keeps the whole property secret when any part of it is.
    expect(container.secretInputs).toContain("uploads");
    expect(container.secretInputs).not.toContain("envs");

    expect(run.outputs.primary).toEqual({ container: "montagu-db", volume: "montagu_primary_data", port: 15432, database: "montagu" });
  });

  it("prepares with the local database image, and restores the prepared copy only once the prepare is done", async () => {
    const run = await runStack(
      "local",
      {
        ...readStackConfig("local"),
        "montagu-backup:prepareRestore": { id: "p1" },
        "montagu-backup:restore": { id: "r1", volumes: [{ volume: "barman_recover", server: "backup", to: "restored_db", client: "restore" }] },
      },
      dryProvider(),
    );
    const images = run.resources.filter((r) => r.type === "docker:index/image:Image" && r.parent.endsWith("::prepare-restore"));
    expect(images.map((i) => i.inputs.imageName)).toEqual(["montagu-backup/postgres:local"]);
    // Depending on a component is depending on every resource in it: the stamp is the last.
    const stamp = run.resources.find((r) => r.name === "prepare-restore-stamp")!;
    const restore = run.resources.find((r) => r.type === "montagu:backup:Restore")!;
    expect(restore.dependencies).toContain(stamp.urn);
  });
});
