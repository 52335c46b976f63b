import { z } from "zod";
import { dockerName, port } from "../primitives";
import { duration } from "./freshness";

// A Prometheus on the backup host, for a stack that has none of the team's to load the rules
// into (the local stack, so that a newcomer sees an alert fire): it scrapes the freshness
// monitor and barman on this engine and loads the rules generated from the plan.

export const prometheus = z.strictObject({
  port: port.default(9090).describe("The host port of Prometheus's web page and API (it runs on the host's network, beside what it scrapes)."),
  container: dockerName.default("montagu-prometheus").describe("Prometheus's container."),
  volume: dockerName.default("montagu_prometheus").describe("Prometheus's time series: kept on destroy."),
  scrapeInterval: duration.prefault("15s").describe("How often it scrapes the monitor and barman, and evaluates the rules."),
  retention: duration.prefault("30d").describe("How long it keeps the series."),
});
