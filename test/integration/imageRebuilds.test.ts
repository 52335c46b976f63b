import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES_DIR } from "../../components/shared/dockerImage";
import { DockerApplier } from "../../simulator/harness/dockerApplier";
import { runStack, type StackRun } from "../../simulator/harness/run";
import { readStackConfig, type StackConfig } from "../../simulator/harness/stackConfig";
import { type SimulatedHost, startHost } from "../../simulator/rig/hosts";

// An edit of one image's file rebuilds that image and every image that has the file, and
// replaces their containers and nothing else; the images the builds replaced are gone from
// the engine at the end of the update, and a destroy leaves no image at all.

/** A line added to a file of images/, and taken away again (only it: the checkout is shared). */
const EDIT = "# an edit that changes nothing but the file (test/integration/imageRebuilds.test.ts)\n";
const edited = new Set<string>();

function addEdit(file: string) {
  fs.appendFileSync(file, EDIT);
  edited.add(file);
}

function removeEdit(file: string) {
  const content = fs.readFileSync(file, "utf8");
  const at = content.lastIndexOf(EDIT);
  if (at >= 0) fs.writeFileSync(file, content.slice(0, at) + content.slice(at + EDIT.length));
  edited.delete(file);
}

const IMAGE = "docker:index/image:Image";
const CONTAINER = "docker:index/container:Container";
const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

describe("an edit of an image's file, on the local stack", () => {
  let host: SimulatedHost;
  let applier: DockerApplier;
  const config = (): StackConfig => ({ ...readStackConfig("local"), "docker:host": host.dockerHost });

  /** Every image on the engine, untagged ones too, by ID. */
  const imagesOnEngine = async () => (await host.docker.out("image", "ls", "--all", "--no-trunc", "--quiet")).split("\n").filter(Boolean).sort();
  let before: string[];
  let run: StackRun;

  /** Each built image's ID, by its resource's name, as the stack's state has it. */
  const imageIds = () => new Map(run.resources.filter((r) => r.type === IMAGE).map((r) => [r.name, String(applier.outputsOf(r.urn).repoDigest)]));
  /** Each container's Docker ID, by its resource's name. */
  const containerIds = () => new Map(run.resources.filter((r) => r.type === CONTAINER).map((r) => [r.name, String(applier.outputsOf(r.urn).id)]));

  /** What the last run did, by resource name. */
  const lastRun = () => {
    const last = applier.history[applier.history.length - 1];
    return { created: last.created.map(nameOf).sort(), updated: last.updated.map(nameOf).sort(), replaced: last.replaced.map(nameOf).sort() };
  };

  /** Applies the stack with `files` edited, then takes the edits away, whether it worked or not. */
  const upWithEdits = async (...files: string[]) => {
    try {
      for (const file of files) addEdit(file);
      run = await runStack("local", config(), applier);
    } finally {
      for (const file of files) removeEdit(file);
    }
  };

  /**
   * What an edit must have changed: these images, built again (an update), and what takes
   * their IDs (their removals, their containers, the steps that run in them), nothing else.
   */
  const expectOnly = (images: string[], before: { images: Map<string, string>; containers: Map<string, string> }) => {
    const rebuilt = run.resources.filter((r) => images.includes(r.name)).map((r) => r.urn);
    expect(rebuilt).toHaveLength(images.length);
    const dependents = run.resources.filter((r) => r.custom && r.type !== IMAGE && r.dependencies.some((urn) => rebuilt.includes(urn)));
    const containers = dependents.filter((r) => r.type === CONTAINER).map((r) => r.name);
    expect(containers.length).toBeGreaterThan(0);
    const last = lastRun();
    expect(last.created).toEqual([]);
    expect(last.updated.filter((name) => images.includes(name))).toEqual([...images].sort());
    expect([...last.updated, ...last.replaced].sort()).toEqual([...images, ...dependents.map((r) => r.name)].sort());
    expect(last.replaced).toEqual(expect.arrayContaining([...images.map((image) => `${image}-removal`), ...containers]));
    const after = { images: imageIds(), containers: containerIds() };
    for (const [name, id] of before.images) {
      if (images.includes(name)) expect(after.images.get(name), name).not.toBe(id);
      else expect(after.images.get(name), name).toBe(id);
    }
    for (const [name, id] of before.containers) {
      if (containers.includes(name)) expect(after.containers.get(name), name).not.toBe(id);
      else expect(after.containers.get(name), name).toBe(id);
    }
  };

  beforeAll(async () => {
    host = await startHost("rebuilds");
    applier = new DockerApplier({ dockerHost: host.dockerHost, log: (line) => process.env.RIG_VERBOSE && console.log(line) });
    before = await imagesOnEngine();
    run = await runStack("local", config(), applier);
  });
  afterAll(() => {
    for (const file of [...edited]) removeEdit(file);
  });

  it("builds each image from its own folder, and the shared files' images once", () => {
    const contexts = run.resources.filter((r) => r.type === IMAGE).map((r) => path.relative(IMAGES_DIR, r.inputs.build.context));
    expect(contexts.sort()).toEqual(["barman", "postgres", "privateer/client", "privateer/server", "freshness", "prometheus", "scheduler", "wait-recovery"].sort());
  });

  it("rebuilds barman's image alone for a comment in its prepare.sh, replaces its container alone, and removes the image it replaced", async () => {
    const previous = { images: imageIds(), containers: containerIds() };
    await upWithEdits(path.join(IMAGES_DIR, "barman", "prepare.sh"));
    expectOnly(["barman-image"], previous);
    const replaced = previous.images.get("barman-image")!;
    expect(await host.docker.exists("image", replaced)).toBe(false);
    expect(await host.docker.exists("image", imageIds().get("barman-image")!)).toBe(true);
    expect(await imagesOnEngine()).toEqual([...before, ...imageIds().values()].sort());
  });

  it("rebuilds every image that has the scheduler for a comment in it, and no other, and removes the images it replaced", async () => {
    const previous = { images: imageIds(), containers: containerIds() };
    await upWithEdits(path.join(IMAGES_DIR, "scheduler", "scheduler.py"));
    const rebuilt = ["scheduler-image", "barman-image", "privateer-images-server", "privateer-images-client"];
    expectOnly(rebuilt, previous);
    for (const image of rebuilt) expect(await host.docker.exists("image", previous.images.get(image)!), image).toBe(false);
    expect(await imagesOnEngine()).toEqual([...before, ...imageIds().values()].sort());
  });

  it("changes nothing when applied again with the files as they were before the edits but built since", async () => {
    // The edits are gone, so every image that had one is built again, once; then nothing.
    await runStack("local", config(), applier);
    run = await runStack("local", config(), applier);
    expect(lastRun()).toEqual({ created: [], updated: [], replaced: [] });
    expect(await imagesOnEngine()).toEqual([...before, ...imageIds().values()].sort());
  });

  it("leaves no image it built on the engine, tagged or not, when the stack is destroyed", async () => {
    await applier.finish([]);
    expect(await imagesOnEngine()).toEqual(before);
  });
});
