import type { SimulatedHost } from "./rig/hosts";

/** The freshness monitor's metrics, by metric name then backup id ("" for those without one). */
export type FreshnessMetrics = Record<string, Record<string, number>>;

/** What the freshness monitor on `host` serves now, read from inside its container. */
export async function freshnessMetrics(host: SimulatedHost, container = "montagu-freshness", port = 5001): Promise<FreshnessMetrics> {
  const text = await host.docker.out(
    "exec", container, "python3", "-c",
    `import urllib.request; print(urllib.request.urlopen('http://localhost:${port}/metrics', timeout=10).read().decode())`,
  );
  const result: FreshnessMetrics = {};
  for (const line of text.split("\n").filter(Boolean)) {
    const [, name, backup] = /^(\w+)(?:\{backup="([^"]+)")?/.exec(line)!;
    (result[name] ??= {})[backup ?? ""] = Number(line.split(" ").pop());
  }
  return result;
}
