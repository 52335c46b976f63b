import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { PrometheusPlan } from "../../config/plan";
import { PROMETHEUS_CONFIG, PROMETHEUS_RULES } from "../../config/plan/prometheus";
import { imageFromDirectory } from "../shared/dockerImage";

export interface PrometheusArgs {
  plan: PrometheusPlan;
}

const DATA_DIR = "/prometheus";

/**
 * A Prometheus on the backup host, on the host's network: it scrapes the freshness monitor
 * and barman where this engine publishes them and loads the alerting rules made from the same
 * plan as the monitor's thresholds. A changed config or rules file replaces the container.
 */
export class Prometheus extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: PrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:Prometheus", name, {}, opts);
    const { plan } = args;
    const image = imageFromDirectory(`${name}-image`, "prometheus", "montagu-backup/prometheus:local", { parent: this });
    // The series it has scraped: a history nothing could make again.
    const data = new docker.Volume(`${name}-data`, { name: plan.volume }, { parent: this, retainOnDelete: true });
    new docker.Container(
      `${name}-container`,
      {
        name: plan.container,
        image: image.repoDigest,
        restart: "always",
        networkMode: "host",
        command: [
          `--config.file=${PROMETHEUS_CONFIG}`,
          `--storage.tsdb.path=${DATA_DIR}`,
          `--storage.tsdb.retention.time=${plan.retentionSeconds}s`,
          `--web.listen-address=:${plan.port}`,
        ],
        volumes: [{ volumeName: data.name, containerPath: DATA_DIR }],
        uploads: [
          { file: PROMETHEUS_CONFIG, content: plan.config, permissions: "0644" },
          { file: PROMETHEUS_RULES, content: plan.rules, permissions: "0644" },
        ],
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.url = pulumi.output(`http://localhost:${plan.port}/`);
    this.registerOutputs({ url: this.url });
  }
}
