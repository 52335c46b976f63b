import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { KEYS_DIR, type KeyFile } from "./layout";

export interface PrivateerKeyVolumeArgs {
  volumeName: string;
  files: (KeyFile & { content: pulumi.Input<string> })[];
  /** Any image on the engine; its container is only created, never started. */
  image: pulumi.Input<string>;
}

/**
 * privateer's `configure`: a key volume holding a machine's key files, root-owned, with
 * privateer's modes. The files are uploaded into the volume through a container that is
 * created and never started, so they never pass through a command line or a log; a change
 * to any file replaces that container, which uploads them all again.
 */
export class PrivateerKeyVolume extends pulumi.ComponentResource {
  readonly volumeName: pulumi.Output<string>;
  /** Changes whenever the content of the volume does; lets users of the volume restart. */
  readonly revision: pulumi.Output<string>;

  constructor(name: string, args: PrivateerKeyVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerKeyVolume", name, {}, opts);
    const volume = new docker.Volume(`${name}-volume`, { name: args.volumeName }, { parent: this });
    const writer = new docker.Container(
      `${name}-configure`,
      {
        name: `${args.volumeName}_configure`,
        image: args.image,
        start: false,
        mustRun: false,
        volumes: [{ volumeName: volume.name, containerPath: KEYS_DIR }],
        uploads: args.files.map((file) => ({
          file: `${KEYS_DIR}/${file.name}`,
          content: file.secret ? pulumi.secret(file.content) : file.content,
          permissions: file.mode,
        })),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.volumeName = volume.name;
    // The container's ID is new whenever the files are uploaded again.
    this.revision = writer.id;
    this.registerOutputs({ volumeName: this.volumeName });
  }
}
