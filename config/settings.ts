import { z } from "zod";
import { ALWAYS } from "./salvage";
import { resolvePlan } from "./plan";
import { salvage } from "./salvaged";
import { resolveDefaults, stackConfigSchema } from "./sections/stack";
import { archiveProblems } from "./rules/archives";
import { dumpsProblems } from "./rules/dumps";
import { freshnessProblems } from "./rules/freshness";
import { prometheusProblems } from "./rules/prometheus";
import { offsiteProblems } from "./rules/offsite";
import { collisions, engineClaims } from "./rules/engine";
import { ownerProblems, volumeOwners } from "./rules/owners";
import { barmanRoleProblems, restoreTargetProblems } from "./rules/restoreTargets";
import { dependencyProblems, machineProblems } from "./rules/sections";
import { transferProblems } from "./rules/transfers";
import { topologyParts, topologySchema } from "./topology";

// The settings of a stack: its config and the topology file it names, each checked by its
// own schema (sections/, topology.ts), then by the rules between them (rules/), every rule
// run even when other fields are malformed, so that every problem is reported at once.

export { formatPath } from "./problems";
export { stackConfigSchema } from "./sections/stack";
export type {
  ArchiveExportConfig,
  ArchiveImportConfig,
  BarmanConfig,
  DumpsConfig,
  FreshnessConfig,
  HistoryConfig,
  OffsiteConfig,
  PackitDumpConfig,
  PackitRestoreConfig,
  PrepareRestoreConfig,
  PrivateerConfig,
  RestoreConfig,
  StackConfig,
  StandInPrimaryConfig,
} from "./sections/stack";

export const settingsSchema = z
  .strictObject({
    topology: topologySchema,
    config: stackConfigSchema,
  })
  .superRefine((settings, ctx) => {
    const raw = settings as { topology?: unknown; config?: unknown };
    const topology = topologyParts(raw.topology);
    const salvaged = salvage(raw.config);
    const { machines = [] } = salvaged.whole;
    const claims = engineClaims(topology, machines, salvaged);
    const problems = [
      ...machineProblems(topology, salvaged),
      ...transferProblems(topology, machines, salvaged),
      ...restoreTargetProblems(topology, machines, salvaged),
      ...dependencyProblems(raw.topology, salvaged),
      ...barmanRoleProblems(topology, machines, salvaged),
      ...archiveProblems(topology, machines, salvaged),
      ...freshnessProblems(topology, machines, salvaged),
      ...prometheusProblems(salvaged),
      ...dumpsProblems(topology, machines, salvaged),
      ...offsiteProblems(topology, machines, salvaged),
      ...collisions(claims.ports, (p) => `port ${p}`),
      ...collisions(claims.containers, (c) => `container name '${c}'`),
      ...ownerProblems(volumeOwners(topology, machines, salvaged)),
    ];
    for (const problem of problems) ctx.addIssue({ code: "custom", ...problem });
  }, ALWAYS)
  // Runs only on valid settings: components receive every default resolved, and the plan.
  .transform(({ topology, config }) => {
    const resolved = resolveDefaults(config);
    return { topology, config: resolved, plan: resolvePlan(topology, resolved) };
  });

export type Settings = z.output<typeof settingsSchema>;
