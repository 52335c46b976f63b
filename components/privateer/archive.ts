import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ExportPlan, ImportPlan } from "../../config/plan";
import { script, scriptFile } from "../shared/script";
import { clientCopyDir, historyDir, PREPARE_WORK_DIR, PREPARED_STAMP, unfinishedMarker } from "./layout";

/** How often a long export or import says how far it is. */
const PROGRESS_SECONDS = 10;
/** The functions export.sh and import.sh share. */
const ARCHIVE_LIBRARY = path.join(__dirname, "archive-lib.sh");
const VOLUME_USERS = path.join(__dirname, "..", "shared", "volume-users.sh");

/** `name=value` from a step's output, or "" when it printed none (a step not run yet). */
function printed(stdout: pulumi.Output<string>, name: string): pulumi.Output<string> {
  return stdout.apply((text) => new RegExp(`^${name}=(.*)$`, "m").exec(text ?? "")?.[1] ?? "");
}

/** export.sh's arguments for a plan, `image` the container's (bash, tar, find, flock). */
export function exportArguments(plan: ExportPlan, image: string): string[] {
  const common = ["--every", String(PROGRESS_SECONDS), plan.directory, plan.name, image];
  const { from } = plan;
  if (from.kind === "volume") {
    return [...common, "volume", plan.volume, ...(from.prepared ? ["--require-stamp", PREPARED_STAMP, "--exclude-top", PREPARE_WORK_DIR] : [])];
  }
  // Under the lock on the copy that restores take, whichever of its states is read: the
  // server's history prunes snapshots under it too.
  const copy = clientCopyDir(from.client, plan.volume);
  const history = historyDir(from.client, plan.volume);
  const read =
    from.snapshot === undefined
      ? [copy, "--unfinished", unfinishedMarker(from.client, plan.volume)]
      : from.snapshot === "latest"
        ? [copy, "--newest-in", history]
        : [`${history}/${from.snapshot}`];
  return [...common, "copy", from.dataVolume, copy, ...read];
}

export interface ArchiveExportArgs {
  plan: ExportPlan;
  /** The container's image: one of the stack's privateer images (bash, tar, find, flock). */
  image: pulumi.Input<string>;
  /** What points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
}

/**
 * privateer's `export`, run when its id changes: a volume of this stack's engine, or a copy
 * that a server of this stack holds (current, or from its history), as a tar file with its
 * checksum on the machine running `pulumi up` (export.sh says how a killed export is told
 * from a finished one).
 */
export class ArchiveExport extends pulumi.ComponentResource {
  /** The tar's path, as the step that made it printed it. */
  readonly archive: pulumi.Output<string>;
  /** Its SHA-256, also in `<archive>.sha256`. */
  readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: ArchiveExportArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:ArchiveExport", name, {}, opts);
    const { plan } = args;
    const step = script(
      `${name}-${plan.volume}`,
      {
        script: pulumi.output(args.image).apply((image) => scriptFile(path.join(__dirname, "export.sh"), exportArguments(plan, image), [ARCHIVE_LIBRARY])),
        environment: args.environment,
        triggers: [plan.id],
      },
      { parent: this },
    );
    this.archive = printed(step.stdout, "archive");
    this.sha256 = printed(step.stdout, "sha256");
    this.registerOutputs({ archive: this.archive, sha256: this.sha256 });
  }
}

/** import.sh's arguments for a plan. */
export function importArguments(plan: ImportPlan, image: string): string[] {
  return ["--every", String(PROGRESS_SECONDS), plan.file, plan.volume, image];
}

export interface ArchiveImportArgs {
  plan: ImportPlan;
  /** The container's image: one of the stack's privateer images (tar). */
  image: pulumi.Input<string>;
  /** What points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
}

/**
 * privateer's `import`, run when its id changes: an exported tar, checked against its
 * checksum, unpacked into a volume that does not exist yet. The step makes that volume with
 * the docker CLI, so it is no resource of the stack: `pulumi destroy` never removes it (as it
 * keeps the stack's own data volumes, `retainOnDelete`), and the stack never adopts a volume
 * that exists, which declaring it would do (docker's create takes an existing volume as it is).
 */
export class ArchiveImport extends pulumi.ComponentResource {
  readonly volume: pulumi.Output<string>;
  /** The tar imported, and its SHA-256 as checked. */
  readonly archive: pulumi.Output<string>;
  readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: ArchiveImportArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:ArchiveImport", name, {}, opts);
    const { plan } = args;
    const step = script(
      `${name}-${plan.volume}`,
      {
        script: pulumi.output(args.image).apply((image) => scriptFile(path.join(__dirname, "import.sh"), importArguments(plan, image), [ARCHIVE_LIBRARY, VOLUME_USERS])),
        environment: args.environment,
        triggers: [plan.id],
      },
      { parent: this },
    );
    this.volume = pulumi.output(plan.volume);
    this.archive = printed(step.stdout, "archive");
    this.sha256 = printed(step.stdout, "sha256");
    this.registerOutputs({ volume: this.volume, archive: this.archive, sha256: this.sha256 });
  }
}
