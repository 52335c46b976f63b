import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DockerCli } from "../docker";

/**
 * The rig's build cache: an image the applier built on one simulated host, saved, and loaded
 * on the next host that builds the same thing, in place of building it again from apt.
 *
 * Real users build each image once per machine and keep it; the rig starts every data centre
 * on empty engines, and building every image anew on each of them was most of the tests' and
 * benchmarks' time. An entry is found only by everything the build reads (the provider's
 * context digest, which covers the Dockerfile and every file of the context, the build
 * arguments, the target and the builder), so an edited file is built for real. The tests'
 * global setup empties the cache, so each run still builds every image once from apt, and a
 * package gone from Debian fails that run. MONTAGU_BUILD_CACHE=0 turns it off.
 */
export const BUILD_CACHE_DIR = process.env.MONTAGU_BUILD_CACHE_DIR ?? "/tmp/montagu-rig/build-cache";

const enabled = () => process.env.MONTAGU_BUILD_CACHE !== "0";

export interface BuildRecipe {
  contextHash: string;
  dockerfile: string;
  args: Record<string, string>;
  target?: string;
  buildKit: boolean;
}

export function recipeKey(recipe: BuildRecipe): string {
  const args = Object.entries(recipe.args).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify([recipe.contextHash, recipe.dockerfile, args, recipe.target ?? null, recipe.buildKit]);
  return crypto.createHash("sha256").update(canonical).digest("hex");
}

const archiveOf = (key: string) => path.join(BUILD_CACHE_DIR, `${key}.tar`);

/** Loads the image built from `recipe` into `docker` and tags it `tag`; false when the cache has none. */
export async function loadCached(docker: DockerCli, recipe: BuildRecipe, tag: string): Promise<boolean> {
  if (!enabled()) return false;
  const archive = archiveOf(recipeKey(recipe));
  if (!fs.existsSync(archive)) return false;
  const loaded = await docker.run(["image", "load", "--input", archive], { allowFailure: true });
  // An archive cut short (a run killed while writing it is not one: those are renamed only
  // once whole) or unreadable is built again rather than trusted.
  const id = /Loaded image ID: (sha256:[0-9a-f]{64})/.exec(loaded.stdout)?.[1];
  if (loaded.code !== 0 || id === undefined) {
    fs.rmSync(archive, { force: true });
    return false;
  }
  await docker.run(["tag", id, tag]);
  return true;
}

/** Saves the image just built from `recipe` (by its ID, so without tags) for the next host. */
export async function saveBuilt(docker: DockerCli, recipe: BuildRecipe, id: string): Promise<void> {
  if (!enabled()) return;
  const archive = archiveOf(recipeKey(recipe));
  if (fs.existsSync(archive)) return;
  fs.mkdirSync(BUILD_CACHE_DIR, { recursive: true });
  // Written under a name of its own and renamed whole: two lanes building the same image at
  // once each write their own, and a reader never meets half an archive.
  const partial = `${archive}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.partial`;
  try {
    await docker.run(["image", "save", "--output", partial, id]);
    fs.renameSync(partial, archive);
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

export function clearBuildCache(): void {
  fs.rmSync(BUILD_CACHE_DIR, { recursive: true, force: true });
}
