import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { TopologyServer as ServerSettings } from "../../config/topology";
import type { MachineKey } from "./keys";
import type { HistoryConfig } from "../../config/settings";
import { PrivateerHistory } from "./history";
import { PrivateerKeyVolume } from "./keyVolume";
import { authorizedKeys, KEYS_DIR, LOCAL_DIR, SERVER_KEY_FILES, VOLUMES_DIR } from "./layout";

export interface PrivateerServerArgs {
  server: ServerSettings;
  key: MachineKey;
  /** Every client, by name, with its public key. */
  clients: { name: string; publicKey: pulumi.Input<string> }[];
  /** The topology's `local` volumes, served read-only. */
  localVolumes: string[];
  image: pulumi.Input<string>;
  /** The server's history of each copy (snapshots and their retention), and the image that keeps it. */
  history: { settings: HistoryConfig; image: pulumi.Input<string> };
  timezone: string;
}

/** privateer's `configure <server>` and `server start`: sshd receiving volumes over rsync. */
export class PrivateerServer extends pulumi.ComponentResource {
  readonly address: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: PrivateerServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerServer", name, {}, opts);
    const { server } = args;
    const content: Record<string, pulumi.Input<string>> = {
      id_rsa: args.key.privateKey,
      "id_rsa.pub": args.key.publicKey.apply((k) => `${k}\n`),
      authorized_keys: pulumi
        .all(args.clients.map((client) => client.publicKey))
        .apply((publicKeys) => authorizedKeys(args.clients.map((client, i) => ({ name: client.name, publicKey: publicKeys[i] })))),
      name: server.name,
    };
    const keys = new PrivateerKeyVolume(
      `${name}-keys`,
      { volumeName: server.key_volume, image: args.image, files: SERVER_KEY_FILES.map((f) => ({ ...f, content: content[f.name] })) },
      { parent: this },
    );
    // The backups themselves: never deleted with the stack.
    const data = new docker.Volume(`${name}-data`, { name: server.data_volume }, { parent: this, retainOnDelete: true });

    const container = new docker.Container(
      `${name}-container`,
      {
        name: server.container,
        image: args.image,
        restart: "always",
        ports: [{ internal: 22, external: server.port }],
        volumes: [
          { volumeName: keys.volumeName, containerPath: KEYS_DIR, readOnly: true },
          { volumeName: data.name, containerPath: VOLUMES_DIR },
          ...args.localVolumes.map((volume) => ({ volumeName: volume, containerPath: `${LOCAL_DIR}/${volume}`, readOnly: true })),
        ],
        // sshd reads its host key at start: new keys, new container.
        labels: [{ label: "montagu.privateer.keys-revision", value: keys.revision }],
      },
      { parent: this, deleteBeforeReplace: true },
    );

    new PrivateerHistory(
      `${name}-history`,
      { ...args.history, timezone: args.timezone, serverContainer: server.container, dataVolumeName: data.name },
      { parent: this },
    );

    this.address = pulumi.output(server.hostname);
    this.port = pulumi.output(server.port);
    this.containerName = container.name;
    this.registerOutputs({ address: this.address, port: this.port, containerName: this.containerName });
  }
}
