import type { SalvagedConfig } from "../salvaged";
import type { Problem } from "../problems";
import { duration } from "../sections/freshness";

// A Prometheus on the stack scrapes the freshness monitor and loads the rules made from its
// plan: without the monitor it has nothing to scrape and no rules, and a threshold it cannot
// sample would be read differently by the rules and by the monitor.

/** Samples of the age within a threshold that the rules need to see a lateness the monitor sees. */
export const SAMPLES_PER_THRESHOLD = 2;

/** A duration as given (`30s`), or as its section's schema has already made it (seconds): the rules see either. */
function seconds(value: unknown): number | undefined {
  return typeof value === "number" ? value : duration.safeParse(value).data;
}

const field = (section: unknown, key: string): unknown => (typeof section === "object" && section !== null ? (section as Record<string, unknown>)[key] : undefined);

export function prometheusProblems(salvaged: SalvagedConfig): Problem[] {
  if (salvaged.raw.prometheus === undefined) return [];
  if (salvaged.raw.freshness === undefined) {
    return [{ path: ["config", "prometheus"], message: "scrapes the freshness monitor and loads the alerting rules made from its plan: needs montagu-backup:freshness on this stack" }];
  }
  const problems: Problem[] = [];
  const given = field(salvaged.raw.prometheus, "scrapeInterval");
  const every = given === undefined ? salvaged.prometheus.scrapeInterval : seconds(given);
  const staleAfter = field(salvaged.raw.freshness, "staleAfter");
  for (const [id, value] of Object.entries(typeof staleAfter === "object" && staleAfter !== null ? staleAfter : {})) {
    const threshold = seconds(value);
    if (every !== undefined && threshold !== undefined && threshold < SAMPLES_PER_THRESHOLD * every) {
      problems.push({
        path: ["config", "freshness", "staleAfter", id],
        message: `${threshold} s is less than ${SAMPLES_PER_THRESHOLD} of prometheus.scrapeInterval (${every} s): the rules, seeing the age every ${every} s, could miss a lateness the monitor alerts on, or see one it does not`,
      });
    }
  }
  return problems;
}
