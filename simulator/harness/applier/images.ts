import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_DIR } from "../stackConfig";
import { type ApplierContext, type Handler, type Inputs, UnmappedInputError } from "./handler";

/** Every file of an image's build context (paths, modes, contents) and its Dockerfile, as one hash. */
function contextHash(inputs: Inputs): string {
  const context = path.resolve(PROJECT_DIR, inputs.build?.context ?? ".");
  const hash = crypto.createHash("sha256");
  const visit = (directory: string) => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        visit(full);
        continue;
      }
      hash.update(`${path.relative(context, full)}\0${fs.lstatSync(full).mode}\0`);
      hash.update(entry.isSymbolicLink() ? fs.readlinkSync(full) : fs.readFileSync(full));
    }
  };
  visit(context);
  hash.update(fs.readFileSync(path.resolve(context, inputs.build?.dockerfile ?? "Dockerfile")));
  return hash.digest("hex");
}

export function imageHandlers(applier: ApplierContext): Record<string, Handler> {
  const image: Handler = {
    mapped: [
      "imageName",
      "skipPush",
      "buildOnPreview",
      "build",
      "build.context",
      "build.dockerfile",
      "build.builderVersion",
      "build.args",
      "build.target",
    ],
    create: async (inputs) => {
      if (inputs.skipPush !== true) throw new UnmappedInputError("the test applier has no registry to push to; set skipPush");
      const build = inputs.build ?? {};
      const context = path.resolve(PROJECT_DIR, build.context ?? ".");
      const args = ["build", "--tag", inputs.imageName, "--file", path.resolve(context, build.dockerfile ?? "Dockerfile")];
      for (const [key, value] of Object.entries(build.args ?? {})) args.push("--build-arg", `${key}=${String(value)}`);
      if (build.target !== undefined) args.push("--target", build.target);
      const buildKit = build.builderVersion !== "BuilderV1";
      // The provider's classic builds ask the engine to keep every intermediate container (its
      // build options leave Remove unset); the CLI removes them unless told otherwise.
      if (!buildKit) args.push("--rm=false");
      args.push(context);
      applier.log(`building ${inputs.imageName} from ${path.relative(PROJECT_DIR, context)}${buildKit ? " with BuildKit" : ""}`);
      // The provider speaks BuildKit to the engine itself.
      const cli = buildKit ? applier.docker.withBuildKit() : applier.docker;
      await cli.run(args, { env: { DOCKER_BUILDKIT: buildKit ? "1" : "0" } });
      // For an image that is not pushed, the provider's repoDigest is the local image ID.
      const id = await applier.docker.out("image", "inspect", "-f", "{{.Id}}", inputs.imageName);
      return { imageName: inputs.imageName, baseImageName: inputs.imageName, repoDigest: id, contextHash: contextHash(inputs) };
    },
    // The provider hashes the build context and builds again when it changed.
    changedOutside: (previous, inputs) => previous.outputs.contextHash !== contextHash(inputs),
    update: (_previous, inputs, resource) => image.create(inputs, resource),
    replaces: () => false,
    // Images built for a stack stay on the engine, as the provider leaves them.
    delete: async () => undefined,
  };
  return { "docker:index/image:Image": image };
}
