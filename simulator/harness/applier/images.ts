import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_DIR } from "../stackConfig";
import { type BuildRecipe, loadCached, saveBuilt } from "./buildCache";
import { type ApplierContext, type Handler, type Inputs, UnmappedInputError } from "./handler";

/** An image's build context and Dockerfile as the provider resolves them: relative paths from the program's directory. */
function buildPaths(inputs: Inputs): { context: string; dockerfile: string } {
  const context = path.resolve(PROJECT_DIR, inputs.build?.context ?? ".");
  const dockerfile = inputs.build?.dockerfile === undefined ? path.join(context, "Dockerfile") : path.resolve(PROJECT_DIR, inputs.build.dockerfile);
  return { context, dockerfile };
}

/** Go's fs.FileMode.String() of a file's lstat mode, which the provider hashes with each file. */
function goModeString(stat: fs.Stats): string {
  let type = "";
  if (stat.isDirectory()) type += "d";
  if (stat.isSymbolicLink()) type += "L";
  if (stat.isBlockDevice() || stat.isCharacterDevice()) type += "D";
  if (stat.isFIFO()) type += "p";
  if (stat.isSocket()) type += "S";
  if (stat.mode & 0o4000) type += "u";
  if (stat.mode & 0o2000) type += "g";
  if (stat.isCharacterDevice()) type += "c";
  if (stat.mode & 0o1000) type += "t";
  const rwx = "rwxrwxrwx";
  const permissions = [...rwx].map((letter, i) => (stat.mode & (1 << (8 - i)) ? letter : "-")).join("");
  return `${type === "" ? "-" : type}${permissions}`;
}

/**
 * The build context's digest as the docker provider (5.x, provider/provider.go `hashContext`)
 * computes it, which decides whether the image is built again: the Dockerfile's content under
 * the name `Dockerfile` (wherever it is), then every file of the context directory (not
 * directories; a symlink by the path it resolves to, not its content), each as its path
 * relative to the context, its mode and the SHA-256 of its content, in the walk's order. The
 * provider leaves out what the context's `.dockerignore` (`<name>.dockerignore` beside a
 * Dockerfile of another name) excludes; the applier does not read those patterns, so it
 * refuses a context that has one rather than hash what the provider would not.
 */
export function contextHash(inputs: Inputs): string {
  const { context, dockerfile } = buildPaths(inputs);
  const base = path.basename(dockerfile);
  const ignoreFile = path.join(context, base === "Dockerfile" ? ".dockerignore" : `${base}.dockerignore`);
  if (fs.existsSync(ignoreFile)) {
    throw new UnmappedInputError(`the test applier does not apply ${path.relative(PROJECT_DIR, ignoreFile)}, which the docker provider reads`);
  }
  const accumulated: Buffer[] = [];
  const add = (relative: string, mode: string, content: Buffer | string) => {
    accumulated.push(Buffer.from(relative), Buffer.from(mode), crypto.createHash("sha256").update(content).digest(), Buffer.from([0]));
  };
  // Go's FileMode(0).String().
  add("Dockerfile", "----------", fs.readFileSync(dockerfile));
  const visit = (directory: string) => {
    // fsutil.Walk reads each directory sorted by name, byte by byte.
    const names = fs.readdirSync(directory).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const full = path.join(directory, name);
      const stat = fs.lstatSync(full);
      if (stat.isDirectory()) {
        visit(full);
        continue;
      }
      add(path.relative(context, full), goModeString(stat), stat.isSymbolicLink() ? fs.realpathSync(full) : fs.readFileSync(full));
    }
  };
  visit(context);
  return crypto.createHash("sha256").update(Buffer.concat(accumulated)).digest("hex");
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
      const { context, dockerfile } = buildPaths(inputs);
      const hash = contextHash(inputs);
      const args = ["build", "--tag", inputs.imageName, "--file", dockerfile];
      for (const [key, value] of Object.entries(build.args ?? {})) args.push("--build-arg", `${key}=${String(value)}`);
      if (build.target !== undefined) args.push("--target", build.target);
      const buildKit = build.builderVersion !== "BuilderV1";
      // The provider's classic builds ask the engine to keep every intermediate container (its
      // build options leave Remove unset); the CLI removes them unless told otherwise.
      if (!buildKit) args.push("--rm=false");
      args.push(context);
      const recipe: BuildRecipe = {
        contextHash: hash,
        dockerfile: path.relative(PROJECT_DIR, dockerfile),
        args: Object.fromEntries(Object.entries(build.args ?? {}).map(([key, value]) => [key, String(value)])),
        target: build.target,
        buildKit,
      };
      const where = `${inputs.imageName} from ${path.relative(PROJECT_DIR, context)}`;
      if (await loadCached(applier.docker, recipe, inputs.imageName)) {
        applier.log(`building ${where}: loaded from the rig's build cache`);
      } else {
        applier.log(`building ${where}${buildKit ? " with BuildKit" : ""}`);
        // The provider speaks BuildKit to the engine itself.
        const cli = buildKit ? applier.docker.withBuildKit() : applier.docker;
        await cli.run(args, { env: { DOCKER_BUILDKIT: buildKit ? "1" : "0" } });
      }
      // For an image that is not pushed, the provider's repoDigest is the local image ID.
      const id = await applier.docker.out("image", "inspect", "-f", "{{.Id}}", inputs.imageName);
      await saveBuilt(applier.docker, recipe, id);
      return { imageName: inputs.imageName, baseImageName: inputs.imageName, repoDigest: id, contextHash: hash };
    },
    // The provider puts the context's digest among the inputs (its Check), so a changed context
    // is a changed input: an update, which builds again (its Diff never asks for a replacement).
    changedOutside: (previous, inputs) => previous.outputs.contextHash !== contextHash(inputs),
    update: (_previous, inputs, resource) => image.create(inputs, resource),
    replaces: () => false,
    // The provider leaves an image it built on the engine (the stack removes it: components/shared/remove-image.sh).
    delete: async () => undefined,
  };
  return { "docker:index/image:Image": image };
}
