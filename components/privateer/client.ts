import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { TopologyClient as ClientSettings, TopologyServer as ServerSettings } from "../../config/topology";
import type { MachineKey } from "./keys";
import { PrivateerKeyVolume } from "./keyVolume";
import { onLoopback } from "../shared/host";
import { CLIENT_KEY_FILES, KEYS_DIR, knownHosts, restoresVolumeName, SCHEDULE_FILE, scheduleFile, sshConfig, VOLUMES_DIR } from "./layout";
import { script, scriptFile } from "../shared/script";
import { connectionCheckScript, type TransferClient } from "./transfer";

export interface PrivateerClientArgs {
  client: ClientSettings;
  /** Every server of the topology, each with its public key. */
  servers: { server: ServerSettings; publicKey: pulumi.Input<string> }[];
  key: MachineKey;
  timezone: string;
  image: pulumi.Input<string>;
  /** Changing it runs the connection checks again. */
  checkId?: string;
  /** The environment that points the docker CLI at the stack's engine. */
  environment: Record<string, string>;
  /** What makes or fills a volume before it is pushed, by volume: the scheduler waits for it too. */
  before?: Record<string, pulumi.Resource[]>;
}

/**
 * privateer's `configure <client>`, `check --connection` and `schedule start`: the key
 * volume, a connection check to every server, and the scheduler when the client has jobs.
 */
export class PrivateerClient extends pulumi.ComponentResource {
  readonly keyVolumeName: pulumi.Output<string>;
  /** Where the scheduler's web API listens on the machine, when it has one. */
  readonly schedulerUrl: pulumi.Output<string | undefined>;
  /** Where this client's transfers run. */
  readonly transfers: TransferClient;
  /** Resources that transfers must wait for. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: PrivateerClientArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerClient", name, {}, opts);
    const { client } = args;
    const servers = args.servers.map((s) => s.server);

    const content: Record<string, pulumi.Input<string>> = {
      id_rsa: args.key.privateKey,
      "id_rsa.pub": args.key.publicKey.apply((k) => `${k}\n`),
      known_hosts: pulumi
        .all(args.servers.map((s) => s.publicKey))
        .apply((keys) => knownHosts(servers.map((server, i) => ({ server, publicKey: keys[i] })))),
      config: sshConfig(servers),
      name: client.name,
    };
    const files = CLIENT_KEY_FILES.map((f) => ({ ...f, content: content[f.name] }));
    if (client.schedule !== undefined) files.push({ ...SCHEDULE_FILE, content: scheduleFile(client, args.timezone) });
    const keys = new PrivateerKeyVolume(`${name}-keys`, { volumeName: client.key_volume, image: args.image, files }, { parent: this });

    const checks = servers.map(
      (server) =>
        script(
          `${name}-check-${server.name}`,
          {
            script: pulumi
              .all([keys.volumeName, args.image])
              .apply(([keyVolume, image]) => connectionCheckScript(client.name, server, { keyVolume, image, volumes: [] })),
            environment: args.environment,
            // Checked again whenever the keys or the server change.
            triggers: [keys.revision, server.hostname, server.port, args.checkId ?? ""],
          },
          { parent: this, dependsOn: [keys] },
        ),
    );

    const schedule = client.schedule;
    if (schedule !== undefined) {
      const scheduled = [...new Set(schedule.jobs.map((job) => job.volume))];
      // The scheduler publishes its web port, so it keeps a network of its own unless a server is on the host's loopback.
      const hostNetwork = servers.some((s) => onLoopback(s.hostname));
      const present = script(
        `${name}-scheduled-volumes`,
        {
          script: scriptFile(path.join(__dirname, "scheduled-volumes.sh"), scheduled),
          environment: args.environment,
          // Checked again whenever the scheduler is made again.
          triggers: [keys.revision, args.image, ...scheduled],
        },
        { parent: this, dependsOn: scheduled.flatMap((volume) => args.before?.[volume] ?? []) },
      );
      new docker.Container(
        `${name}-scheduler`,
        {
          name: schedule.container,
          image: args.image,
          restart: "always",
          networkMode: hostNetwork ? "host" : undefined,
          ports: schedule.port !== undefined && !hostNetwork ? [{ internal: schedule.port, external: schedule.port }] : undefined,
          volumes: [
            { volumeName: keys.volumeName, containerPath: KEYS_DIR, readOnly: true },
            ...scheduled.map((volume) => ({ volumeName: volume, containerPath: `${VOLUMES_DIR}/${volume}`, readOnly: true })),
          ],
          // The schedule is read at start: a new schedule, a new container.
          labels: [{ label: "montagu.privateer.keys-revision", value: keys.revision }],
        },
        { parent: this, deleteBeforeReplace: true, dependsOn: [...checks, present] },
      );
    }

    this.keyVolumeName = keys.volumeName;
    // Not kept on destroy: without its records, the next restore of each volume compares every file by content.
    const restores = new docker.Volume(`${name}-restores`, { name: restoresVolumeName(client.key_volume) }, { parent: this });
    this.transfers = { name: client.name, keyVolumeName: keys.volumeName, restoresVolumeName: restores.name, image: args.image, environment: args.environment };
    this.schedulerUrl = pulumi.output(schedule?.port !== undefined ? `http://localhost:${schedule.port}` : undefined);
    this.ready = [keys, ...checks];
    this.registerOutputs({ keyVolumeName: this.keyVolumeName, schedulerUrl: this.schedulerUrl });
  }
}
