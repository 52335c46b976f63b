import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { quote } from "shell-quote";
import { afterAll, describe, expect, it } from "vitest";
import { IMAGES_DIR, sharedImageName, sharedStages } from "../../components/shared/dockerImage";
import { contextHash } from "../../simulator/harness/applier/images";
import { UnmappedInputError } from "../../simulator/harness/applier/handler";
import { type RegisteredResource, runStack } from "../../simulator/harness/run";
import { deterministicProvider, SCENARIOS, scenarioConfig } from "./snapshot/declared";

// The docker provider builds an image again when a file of its build context changes, and a
// preview says so before anything runs. Each image's context is its own folder, so that an
// edit names only that image (and its containers); files that several images have are in a
// folder of their own, whose image the others take as a build stage.

const IMAGE = "docker:index/image:Image";
const COMMAND = "command:local:Command";

/** Every folder under images/ with a Dockerfile, as `privateer/server`. */
function imageFolders(): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(IMAGES_DIR, relative), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(relative, entry.name));
      else if (entry.name === "Dockerfile") found.push(relative);
    }
  };
  walk("");
  return found.sort();
}

/** The files of a folder, relative to it. */
function filesOf(folder: string): string[] {
  return fs.readdirSync(path.join(IMAGES_DIR, folder), { recursive: true, encoding: "utf8" }).filter((f) => fs.statSync(path.join(IMAGES_DIR, folder, f)).isFile());
}

/** The sources of a Dockerfile's COPY and ADD from its context (not from a stage). */
function copiedFromContext(folder: string): string[] {
  const dockerfile = fs.readFileSync(path.join(IMAGES_DIR, folder, "Dockerfile"), "utf8");
  return dockerfile
    .split("\n")
    .filter((line) => /^(COPY|ADD)\s/.test(line) && !/\s--from=/.test(line))
    .flatMap((line) => line.trim().split(/\s+/).slice(1, -1).filter((word) => !word.startsWith("--")));
}

describe("each image's build context", () => {
  it("is its own folder: everything its Dockerfile copies from the context is there, and everything there is copied", () => {
    for (const folder of imageFolders()) {
      const copied = copiedFromContext(folder);
      for (const source of copied) {
        const resolved = path.resolve(IMAGES_DIR, folder, source);
        expect(resolved.startsWith(path.join(IMAGES_DIR, folder) + path.sep), `${folder}: ${source}`).toBe(true);
        expect(fs.existsSync(resolved), `${folder}: ${source}`).toBe(true);
      }
      // A file there that the image does not have would rebuild it for nothing when edited.
      expect(filesOf(folder).filter((f) => f !== "Dockerfile").sort(), folder).toEqual([...copied].sort());
    }
  });

  it("takes each shared folder it declares as a build stage, and shared folders are plain files", () => {
    const stages = Object.fromEntries(imageFolders().map((folder) => [folder, sharedStages(folder).map((s) => s.folder)]));
    expect(stages).toEqual({
      barman: ["scheduler", "wait-recovery"],
      dumps: ["scheduler"],
      freshness: [],
      offsite: ["scheduler"],
      postgres: ["wait-recovery"],
      "privateer/client": ["scheduler"],
      "privateer/server": ["scheduler"],
      prometheus: [],
      scheduler: [],
      "wait-recovery": [],
    });
    for (const shared of ["scheduler", "wait-recovery"]) {
      expect(fs.readFileSync(path.join(IMAGES_DIR, shared, "Dockerfile"), "utf8")).toMatch(/^FROM scratch$/m);
    }
    for (const [folder, taken] of Object.entries(stages)) {
      const dockerfile = fs.readFileSync(path.join(IMAGES_DIR, folder, "Dockerfile"), "utf8");
      for (const shared of taken) {
        const arg = `${shared.toUpperCase().replaceAll("-", "_")}_IMAGE`;
        expect(dockerfile, folder).toContain(`FROM \${${arg}} AS ${shared}\n`);
        expect(dockerfile, folder).toMatch(new RegExp(`^COPY --from=${shared} `, "m"));
        expect(dockerfile, folder).toContain(`ARG ${arg}_ID\n`);
      }
    }
  });

  for (const name of Object.keys(SCENARIOS)) {
    it(`is declared so on ${name}, with the shared images once, at the top, given to each image that takes them`, async () => {
      const digests = new Map<string, unknown>();
      const { stack, config } = scenarioConfig(name);
      const run = await runStack(stack, config, {
        ...deterministicProvider,
        async create(resource) {
          const outputs = await deterministicProvider.create(resource);
          if (resource.type === IMAGE) digests.set(resource.name, outputs.repoDigest);
          return outputs;
        },
      });
      const images = run.resources.filter((r) => r.type === IMAGE);
      const byName = new Map(run.resources.map((r) => [r.name, r]));
      for (const image of images) {
        const { context, dockerfile, args } = image.inputs.build as { context: string; dockerfile: string; args?: Record<string, string> };
        const folder = path.relative(IMAGES_DIR, context);
        expect(folder.startsWith(".."), image.name).toBe(false);
        expect(imageFolders(), image.name).toContain(folder);
        expect(dockerfile, image.name).toBe(path.join(context, "Dockerfile"));
        const expected: Record<string, unknown> = {};
        for (const stage of sharedStages(folder)) {
          expected[stage.arg] = sharedImageName(stage.folder);
          expected[`${stage.arg}_ID`] = digests.get(`${stage.folder}-image`);
        }
        expect(args ?? {}, image.name).toEqual(expected);

        // Each build with a new ID replaces its removal, whose delete is given that ID.
        const removal = byName.get(`${image.name}-removal`) as RegisteredResource;
        expect(removal.type).toBe(COMMAND);
        expect(removal.inputs.triggers, image.name).toEqual([digests.get(image.name)]);
        expect(removal.replaceOnChanges).toContain("triggers[*]");
        expect(removal.inputs.delete).toContain(`set -- ${quote([String(digests.get(image.name)), image.inputs.imageName])}\n`);
      }
      const shared = images.filter((image) => ["scheduler", "wait-recovery"].includes(path.relative(IMAGES_DIR, image.inputs.build.context)));
      for (const image of shared) expect(image.parent, image.name).toBe("");
      expect(new Set(shared.map((image) => image.name)).size).toBe(shared.length);
    });
  }
});

describe("the applier's digest of a build context, as the docker provider's", () => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "image-contexts-"));
  fs.cpSync(IMAGES_DIR, copy, { recursive: true });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));
  const inputsOf = (folder: string) => ({ build: { context: path.join(copy, folder), dockerfile: path.join(copy, folder, "Dockerfile") } });
  const digests = () => Object.fromEntries(imageFolders().map((folder) => [folder, contextHash(inputsOf(folder))]));

  it("changes for the image whose folder has the edited file, and no other", () => {
    const before = digests();
    fs.appendFileSync(path.join(copy, "barman", "prepare.sh"), "# an edit\n");
    const afterPrepare = digests();
    expect(Object.keys(before).filter((folder) => before[folder] !== afterPrepare[folder])).toEqual(["barman"]);
    fs.appendFileSync(path.join(copy, "scheduler", "scheduler.py"), "# an edit\n");
    const afterScheduler = digests();
    expect(Object.keys(before).filter((folder) => afterPrepare[folder] !== afterScheduler[folder])).toEqual(["scheduler"]);
  });

  it("changes with a file's mode, and with the Dockerfile given from outside the context", () => {
    const before = contextHash(inputsOf("dumps"));
    fs.chmodSync(path.join(copy, "dumps", "dump.py"), 0o644);
    expect(contextHash(inputsOf("dumps"))).not.toBe(before);
    const outside = path.join(copy, "other.Dockerfile");
    fs.copyFileSync(path.join(copy, "dumps", "Dockerfile"), outside);
    const fromOutside = contextHash({ build: { context: path.join(copy, "dumps"), dockerfile: outside } });
    fs.appendFileSync(outside, "# an edit\n");
    expect(contextHash({ build: { context: path.join(copy, "dumps"), dockerfile: outside } })).not.toBe(fromOutside);
  });

  it("refuses a context with a .dockerignore, whose patterns the provider applies and the applier does not", () => {
    fs.writeFileSync(path.join(copy, "freshness", ".dockerignore"), "*.md\n");
    expect(() => contextHash(inputsOf("freshness"))).toThrow(UnmappedInputError);
  });
});
