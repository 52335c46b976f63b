import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { imageFromDirectory } from "../shared/dockerImage";

export interface PrivateerImagesArgs {
  /** `local` builds images/privateer/*; `upstream` pulls mrcide/privateer-*:<tag>. */
  source: "local" | "upstream";
  tag: string;
  /** The images this stack's machines need. */
  roles: ("server" | "client")[];
}

/**
 * The server and client images, ours or upstream's, as image IDs for containers to use; and
 * beside a server, ours for its history, which upstream's lacks.
 */
export class PrivateerImages extends pulumi.ComponentResource {
  readonly server: pulumi.Output<string> | undefined;
  readonly client: pulumi.Output<string> | undefined;
  readonly history: pulumi.Output<string> | undefined;

  constructor(name: string, args: PrivateerImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerImages", name, {}, opts);
    const local = (role: "server" | "client") =>
      imageFromDirectory(`${name}-${role}`, `privateer/${role}`, `montagu-backup/privateer-${role}:local`, { parent: this }).repoDigest;
    const image = (role: "server" | "client") => {
      if (args.source === "upstream") {
        const remote = new docker.RemoteImage(`${name}-${role}`, { name: `mrcide/privateer-${role}:${args.tag}`, keepLocally: true }, { parent: this });
        return remote.imageId;
      }
      return local(role);
    };
    this.server = args.roles.includes("server") ? image("server") : undefined;
    this.client = args.roles.includes("client") ? image("client") : undefined;
    this.history = !args.roles.includes("server") ? undefined : args.source === "local" ? this.server : local("server");
    this.registerOutputs({ server: this.server, client: this.client, history: this.history });
  }
}
