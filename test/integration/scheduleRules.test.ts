import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliBuilds } from "../../components/shared/dockerImage";
import { CRON_ACCEPTED, CRON_REFUSED_BY_BOTH, CRON_REFUSED_STRICTER, ZONES_ACCEPTED, ZONES_REFUSED } from "../fixtures/schedules";
import { cronProblem, isValidTimeZone } from "../../config/primitives";
import { removeHost, startHost, type SimulatedHost } from "../../simulator/rig/hosts";

// The validator's cron and time zone rules against the scheduler's own parser, in its image:
// privateer-scheduler's `load` (croniter and zoneinfo on Debian bookworm) reads a schedule
// file with each expression and each zone. What the validator accepts, the scheduler must
// run (and find a next run for); what both are meant to refuse, the scheduler must refuse.

const CLIENT_IMAGE = "montagu-backup/privateer-client:schedule-rules";

/** Reads `[{ schedule, timezone }]` on stdin; prints, for each, `ok` or why load() refused it. */
const PROBE = String.raw`
import json, os, sys, tempfile
from importlib.machinery import SourceFileLoader
import yaml
scheduler = SourceFileLoader("scheduler", "/usr/local/bin/privateer-scheduler").load_module()
answers = []
for case in json.load(sys.stdin):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump({"defaults": {"timezone": case["timezone"]}, "jobs": [{"name": "j", "command": "true", "schedule": case["schedule"]}]}, handle)
    try:
        zone, listen, jobs = scheduler.load(handle.name)
        answers.append("ok" if len(jobs) == 1 and jobs[0].next_run is not None else "no job")
    except Exception as error:
        answers.append(f"refused: {type(error).__name__}: {error}")
    finally:
        os.unlink(handle.name)
print(json.dumps(answers))
`;

describe("the validator's schedule rules, against the scheduler's own parser in its image", () => {
  let host: SimulatedHost;

  beforeAll(async () => {
    host = await startHost("schedule-rules");
    for (const build of cliBuilds("privateer/client", CLIENT_IMAGE)) await host.docker.run(build, { env: { DOCKER_BUILDKIT: "0" } });
  });

  afterAll(async () => {
    await removeHost("schedule-rules");
  });

  /** The scheduler's answer for each case, in order. */
  const scheduler = async (cases: { schedule: string; timezone: string }[]): Promise<string[]> => {
    const output = await host.docker.run(["run", "--rm", "--interactive", "--entrypoint", "python3", CLIENT_IMAGE, "-c", PROBE], { input: JSON.stringify(cases) });
    return JSON.parse(output.stdout) as string[];
  };
  const agree = (inputs: string[], answers: string[]) => Object.fromEntries(inputs.map((input, i) => [JSON.stringify(input), answers[i]]));

  it("runs every schedule the validator accepts, and refuses every one both are meant to refuse", async () => {
    expect(CRON_ACCEPTED.filter((e) => cronProblem(e) !== undefined)).toEqual([]);
    expect([...CRON_REFUSED_BY_BOTH, ...CRON_REFUSED_STRICTER].filter((e) => cronProblem(e) === undefined)).toEqual([]);

    const accepted = await scheduler(CRON_ACCEPTED.map((schedule) => ({ schedule, timezone: "Europe/London" })));
    expect(agree(CRON_ACCEPTED, accepted)).toEqual(agree(CRON_ACCEPTED, CRON_ACCEPTED.map(() => "ok")));

    const refused = await scheduler(CRON_REFUSED_BY_BOTH.map((schedule) => ({ schedule, timezone: "Europe/London" })));
    expect(Object.entries(agree(CRON_REFUSED_BY_BOTH, refused)).filter(([, answer]) => !answer.startsWith("refused"))).toEqual([]);

    // Refused here only for being outside the subset both parsers agree on: croniter loads
    // them (whitespace aside), which is why the validator's rule, not croniter's, is the contract.
    const stricter = await scheduler(CRON_REFUSED_STRICTER.map((schedule) => ({ schedule, timezone: "Europe/London" })));
    expect(stricter).toHaveLength(CRON_REFUSED_STRICTER.length);
  });

  it("knows every time zone the validator accepts, by the same exact name, and none it refuses", async () => {
    expect(ZONES_ACCEPTED.filter((zone) => !isValidTimeZone(zone))).toEqual([]);
    expect(ZONES_REFUSED.filter((zone) => isValidTimeZone(zone))).toEqual([]);

    const accepted = await scheduler(ZONES_ACCEPTED.map((timezone) => ({ schedule: "@daily", timezone })));
    expect(Object.entries(agree(ZONES_ACCEPTED, accepted)).filter(([, answer]) => answer !== "ok")).toEqual([]);

    const refused = await scheduler(ZONES_REFUSED.map((timezone) => ({ schedule: "@daily", timezone })));
    expect(Object.entries(agree(ZONES_REFUSED, refused)).filter(([, answer]) => !answer.startsWith("refused"))).toEqual([]);
  });
});
