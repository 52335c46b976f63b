import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { type RegisteredResource, runStack, type StackRun } from "../../simulator/harness/run";
import { deterministicProvider, engineUrns, scenarioConfig } from "./snapshot/declared";

// Existing stacks keep their resources: every URN a stack had before privateer became one
// component is a resource's URN now, or one of its aliases, as the engine resolves them (a
// child inherits each alias of its parents). A URN matched by nothing would be deleted and
// created again, and containers with fixed Docker names would clash.

/** The URNs (without `urn:pulumi:<stack>::<project>::`) each stack had, recorded before the change. */
const BEFORE: Record<string, string[]> = JSON.parse(fs.readFileSync(`${__dirname}/snapshot/urns-before-privateer-component.json`, "utf8"));

const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
const qualifiedType = (urn: string) => urn.slice(0, urn.lastIndexOf("::"));
const withParent = (parentUrn: string | undefined, type: string, name: string) =>
  parentUrn === undefined || parentUrn === "" || qualifiedType(parentUrn) === ROOT_STACK_TYPE
    ? `${type}::${name}`
    : `${qualifiedType(parentUrn)}$${type}::${name}`;
/** A full URN from the engine (`urn:pulumi:stack::project::type::name`) without its stack and project. */
const short = (urn: string) => (urn.startsWith("urn:pulumi:") ? urn.split("::").slice(2).join("::") : urn);

/** Every URN the engine would take as each resource's: its own, its aliases', and those its parents' aliases give it. */
function knownAs(run: StackRun): Map<RegisteredResource, Set<string>> {
  const urns = engineUrns(run);
  const byMockUrn = new Map(run.resources.map((r) => [r.urn, r]));
  const known = new Map<RegisteredResource, Set<string>>();
  const of = (r: RegisteredResource): Set<string> => {
    const done = known.get(r);
    if (done !== undefined) return done;
    const parent = r.parent === "" ? undefined : byMockUrn.get(r.parent);
    const parentUrns = parent === undefined ? [""] : [...of(parent)];
    const result = new Set<string>([urns.get(r)!, ...parentUrns.map((p) => withParent(p, r.type, r.name))]);
    for (const alias of r.aliases) {
      if (alias.urn !== undefined) {
        result.add(short(alias.urn));
        continue;
      }
      const type = alias.type ?? r.type;
      const name = alias.name ?? r.name;
      const ownParent = alias.noParent !== true && (alias.parentUrn === undefined || alias.parentUrn === r.parent);
      const parents = alias.noParent === true ? [""] : ownParent ? parentUrns : [alias.parentUrn!];
      for (const p of parents) result.add(withParent(byMockUrn.has(p) ? urns.get(byMockUrn.get(p)!)! : p, type, name));
    }
    known.set(r, result);
    return result;
  };
  for (const r of run.resources) of(r);
  return known;
}

/** Resources added after the URNs were recorded, on purpose: new steps, not moved ones. */
const ADDED_SINCE = [
  // A restore checks that what it stopped stayed stopped while it copied.
  /^restore-stopped$/,
  // A prepare asks the engine who uses the recover volume before it swaps its copy in.
  /^prepare-restore-in-use$/,
  // Each built image is removed when its stack is destroyed.
  /-removal$/,
  // The images of the files several images share, which those take as a build stage.
  /^(?:scheduler|wait-recovery)-image$/,
  // A client's scheduler is made only once the volumes it pushes are there.
  /-scheduled-volumes$/,
  // A client's record of its restores.
  /-restores$/,
  // The freshness monitor of every backup kept on the backup host.
  /^freshness(?:-.*)?$/,
];

describe("the URNs of existing stacks", () => {
  for (const [scenario, before] of Object.entries(BEFORE)) {
    it(`${scenario}: are unchanged or aliased`, async () => {
      const { stack, config } = scenarioConfig(scenario);
      const run = await runStack(stack, config, deterministicProvider);
      const known = knownAs(run);
      const claimedBy = (urn: string) => run.resources.filter((r) => known.get(r)!.has(urn));
      const missing = before.filter((urn) => claimedBy(urn).length === 0);
      expect(missing, "URNs of the stack before that no resource now answers to").toEqual([]);
      for (const urn of before) {
        expect(claimedBy(urn).map((r) => r.name), urn).toEqual([urn.slice(urn.lastIndexOf("::") + 2)]);
      }
      // Nothing new either, but the component that now holds privateer's resources, and the
      // steps added since the URNs were recorded.
      const added = run.resources.filter((r) => before.every((urn) => !known.get(r)!.has(urn)) && !ADDED_SINCE.some((name) => name.test(r.name)));
      expect(added.map((r) => r.type)).toEqual(before.some((urn) => urn.includes("montagu:backup:Privateer")) ? ["montagu:backup:Privateer"] : []);
    });
  }
});
