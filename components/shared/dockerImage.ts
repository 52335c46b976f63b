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

/**
 * Builds `images/<directory>/Dockerfile` on the stack's Docker engine and keeps it there:
 * there is no registry to push to, the engine that runs the container is the one that
 * builds it. The context is all of `images/`, so images share files (the scheduler).
 *
 * Built with BuildKit, which leaves no intermediate container behind; the provider's classic
 * builds leave one for every step. The provider keeps a built image when the stack is
 * destroyed; a command beside it removes it then, after every container that uses it (they
 * take the ID through the command, so they depend on it and go first).
 */
export function imageFromDirectory(
  resourceName: string,
  directory: string,
  imageName: string,
  opts: pulumi.CustomResourceOptions,
): BuiltImage {
  const image = new docker.Image(
    resourceName,
    {
      imageName,
      skipPush: true,
      build: {
        context: IMAGES_DIR,
        dockerfile: path.join(IMAGES_DIR, directory, "Dockerfile"),
        builderVersion: docker.BuilderVersion.BuilderBuildKit,
      },
    },
    opts,
  );
  const removal = new command.local.Command(
    `${resourceName}-removal`,
    {
      create: `echo ${quote([`${imageName} is removed when the stack is destroyed`])}`,
      update: KEEP_RESULT,
      delete: scriptFile(path.join(__dirname, "remove-image.sh"), [imageName]),
      interpreter: ["/bin/bash", "-c"],
      environment: dockerEnvironment(),
    },
    { ...opts, dependsOn: [image] },
  );
  return { repoDigest: pulumi.all([image.repoDigest, removal.stdout]).apply(([digest]) => digest) };
}
