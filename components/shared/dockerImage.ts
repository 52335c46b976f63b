import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/** The directory of this repository's Dockerfiles (`images/<name>/`). */
export const IMAGES_DIR = path.join(__dirname, "..", "..", "images");

/**
 * Builds `images/<directory>/Dockerfile` on the stack's Docker engine and keeps it there:
 * there is no registry to push to, the engine that runs the container is the one that
 * builds it. The context is all of `images/`, so images share files (the scheduler).
 */
export function imageFromDirectory(
  resourceName: string,
  directory: string,
  imageName: string,
  opts: pulumi.CustomResourceOptions,
): docker.Image {
  return new docker.Image(
    resourceName,
    {
      imageName,
      skipPush: true,
      build: {
        context: IMAGES_DIR,
        dockerfile: path.join(IMAGES_DIR, directory, "Dockerfile"),
        // The classic builder is on every engine; these small Dockerfiles gain nothing from BuildKit.
        builderVersion: docker.BuilderVersion.BuilderV1,
      },
    },
    opts,
  );
}
