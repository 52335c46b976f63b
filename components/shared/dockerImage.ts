import * as fs from "node:fs";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { quote } from "shell-quote";
import { dockerEnvironment } from "./host";
import { KEEP_RESULT, scriptFile } from "./script";

/** The directory of this repository's Dockerfiles (`images/<name>/`). */
export const IMAGES_DIR = path.join(__dirname, "..", "..", "images");

/** An image built for the stack: its ID, which a container takes so that a rebuilt image replaces it. */
export interface BuiltImage {
  repoDigest: pulumi.Output<string>;
}

/** A folder of files that several images have (images/scheduler), which they take as a build stage. */
export interface SharedStage {
  /** Its folder under images/, which is also its image's name (`montagu-backup/<folder>:local`). */
  folder: string;
  /** The build arg that names its image (`SCHEDULER_IMAGE`); `<arg>_ID` gives its ID. */
  arg: string;
}

// A Dockerfile takes a shared folder by declaring, before its first FROM, `ARG <FOLDER>_IMAGE`
// (the folder's name in capitals, `-` as `_`) and using it as a stage: the declaration is the
// one place that says which images have which shared files.
const SHARED_ARG = /^ARG\s+([A-Z][A-Z0-9_]*)_IMAGE\s*$/;

/** The shared folders that `images/<directory>/Dockerfile` takes, as its declarations say. */
export function sharedStages(directory: string): SharedStage[] {
  const stages: SharedStage[] = [];
  for (const line of fs.readFileSync(path.join(IMAGES_DIR, directory, "Dockerfile"), "utf8").split("\n")) {
    if (/^FROM\s/i.test(line)) break;
    const match = SHARED_ARG.exec(line);
    if (match === null) continue;
    const folder = match[1].toLowerCase().replaceAll("_", "-");
    if (!fs.existsSync(path.join(IMAGES_DIR, folder, "Dockerfile"))) {
      throw new Error(`images/${directory}/Dockerfile takes ${match[1]}_IMAGE, but there is no images/${folder}/Dockerfile`);
    }
    stages.push({ folder, arg: `${match[1]}_IMAGE` });
  }
  return stages;
}

/** The name a shared folder's image has on the engine, which its dependents' builds resolve. */
export const sharedImageName = (folder: string) => `montagu-backup/${folder}:local`;

/**
 * The `docker build` arguments that make `images/<directory>` as `tag` outside a stack (tests,
 * a build by hand): each shared folder's image first, then the image, which names them. Without
 * the IDs, which only the stack passes, its labels of them are empty.
 */
export function cliBuilds(directory: string, tag: string): string[][] {
  const stages = sharedStages(directory);
  return [
    ...stages.map((stage) => ["build", "--quiet", "--tag", sharedImageName(stage.folder), path.join(IMAGES_DIR, stage.folder)]),
    ["build", "--quiet", "--tag", tag, ...stages.flatMap((stage) => ["--build-arg", `${stage.arg}=${sharedImageName(stage.folder)}`]), path.join(IMAGES_DIR, directory)],
  ];
}

// One image of each shared folder per run of the program, however many images take it: each
// image resource comes with a removal of its ID, and two of one folder would remove each
// other's. Keyed by the run's connection to the engine (one per `pulumi up`; the tests run
// the program many times in one process), and declared at the stack's top, not under the
// first component that asks, so that its URN does not depend on which one that is.
const sharedImages = new WeakMap<object, Map<string, pulumi.Output<string>>>();
const NO_MONITOR = {};

function sharedImageId(folder: string): pulumi.Output<string> {
  const run = pulumi.runtime.getMonitor() ?? NO_MONITOR;
  let images = sharedImages.get(run);
  if (images === undefined) sharedImages.set(run, (images = new Map()));
  let id = images.get(folder);
  if (id === undefined) {
    id = imageFromDirectory(`${folder}-image`, folder, sharedImageName(folder), {}).repoDigest;
    images.set(folder, id);
  }
  return id;
}

/**
 * Builds `images/<directory>/Dockerfile` on the stack's Docker engine and keeps it there:
 * there is no registry to push to, the engine that runs the container is the one that
 * builds it. The context is the image's own folder, which the provider hashes to decide
 * whether to build again, so that an edit there rebuilds that image and no other. The files
 * several images have come from their shared folders' images (`sharedStages`), by name, with
 * their IDs as build args too, so that a shared file's edit rebuilds exactly the images that
 * have it (BuildKit resolves a stage by name only: an ID sends it to a registry).
 *
 * Built with BuildKit, which leaves no intermediate container behind; the provider's classic
 * builds leave one for every step. The provider never removes an image it built, so a command
 * beside it removes the image by its ID: the ID is its trigger, so each build that makes a new
 * ID replaces it, and Pulumi deletes the old command (running its delete with the old ID) at
 * the end of the update, after the containers that used the old image were replaced (they
 * take the ID through the command, so they depend on it); on `destroy` it removes the
 * current image after its containers.
 */
export function imageFromDirectory(
  resourceName: string,
  directory: string,
  imageName: string,
  opts: pulumi.CustomResourceOptions,
): BuiltImage {
  const args: Record<string, pulumi.Input<string>> = {};
  for (const stage of sharedStages(directory)) {
    args[stage.arg] = sharedImageName(stage.folder);
    args[`${stage.arg}_ID`] = sharedImageId(stage.folder);
  }
  const context = path.join(IMAGES_DIR, directory);
  const image = new docker.Image(
    resourceName,
    {
      imageName,
      skipPush: true,
      build: {
        context,
        dockerfile: path.join(context, "Dockerfile"),
        builderVersion: docker.BuilderVersion.BuilderBuildKit,
        ...(Object.keys(args).length > 0 ? { args } : {}),
      },
    },
    opts,
  );
  const removal = new command.local.Command(
    `${resourceName}-removal`,
    {
      create: image.repoDigest.apply(
        (id) => `echo ${quote([`${imageName} ${id}: removed once no container uses it, when a build replaces it or the stack is destroyed`])} >&2`,
      ),
      update: KEEP_RESULT,
      // As every step's: the log shows stderr, so that an update says it ran nothing.
      logging: "stderr",
      delete: image.repoDigest.apply((id) => scriptFile(path.join(__dirname, "remove-image.sh"), [id, imageName])),
      triggers: [image.repoDigest],
      interpreter: ["/bin/bash", "-c"],
      environment: dockerEnvironment(),
    },
    { ...opts, dependsOn: [image] },
  );
  return { repoDigest: pulumi.all([image.repoDigest, removal.stdout]).apply(([digest]) => digest) };
}
