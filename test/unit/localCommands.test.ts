import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../../simulator/harness/stackConfig";

// The local stack's one way in (scripts/local.sh, `npm run local -- ...`), run with a fake
// `pulumi` that records what it was given: the Pulumi CLI cannot be installed where the tests run.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-commands-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const bin = path.join(dir, "bin");
const log = path.join(dir, "calls.jsonl");
fs.mkdirSync(bin);
fs.writeFileSync(
  path.join(bin, "pulumi"),
  `#!/usr/bin/env node
require("node:fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify({
  args: process.argv.slice(2),
  backend: process.env.PULUMI_BACKEND_URL,
  passphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
  passphraseFile: process.env.PULUMI_CONFIG_PASSPHRASE_FILE,
  cwd: process.cwd(),
}) + "\\n");
`,
  { mode: 0o755 },
);
// For local-up.sh: an engine that answers, and an npm that records instead of installing.
fs.writeFileSync(path.join(bin, "docker"), "#!/usr/bin/env bash\nexit 0\n", { mode: 0o755 });
fs.writeFileSync(path.join(bin, "npm"), `#!/usr/bin/env bash\necho "npm $*" >> ${JSON.stringify(path.join(dir, "npm.log"))}\n`, { mode: 0o755 });

interface Call {
  args: string[];
  backend?: string;
  passphrase?: string;
  passphraseFile?: string;
  cwd: string;
}

/** Runs a script of scripts/ as `npm run` would, with the fake tools first on PATH; what pulumi was asked. */
function run(script: string, args: string[], state: string) {
  fs.rmSync(log, { force: true });
  const result = spawnSync("bash", [path.join(PROJECT_DIR, "scripts", script), ...args], {
    cwd: os.tmpdir(),
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      MONTAGU_LOCAL_STATE: state,
      // A passphrase kept for other projects must not reach the local stack.
      PULUMI_CONFIG_PASSPHRASE: "another project's",
      PULUMI_CONFIG_PASSPHRASE_FILE: "/nonexistent/passphrase",
    },
  });
  const calls: Call[] = fs.existsSync(log)
    ? fs
        .readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Call)
    : [];
  return { code: result.status, stderr: result.stderr, calls };
}

describe("npm run local -- <pulumi command>", () => {
  const state = path.join(dir, "state");

  for (const args of [["preview", "--diff"], ["stack", "output"], ["destroy"], ["cancel"], ["refresh"]]) {
    it(`runs \`pulumi ${args.join(" ")}\` on the local stack, with its backend and the empty passphrase`, () => {
      const { code, stderr, calls } = run("local.sh", args, state);
      expect(code, stderr).toBe(0);
      expect(calls.map((c) => c.args)).toEqual([
        ["stack", "select", "--create", "local"],
        [...args, "--stack", "local"],
      ]);
      for (const call of calls) {
        expect(call.backend).toBe(`file://${state}`);
        expect(call.passphrase).toBe("");
        expect(call.passphraseFile).toBeUndefined();
        // Pulumi finds Pulumi.yaml and Pulumi.local.yaml in the directory it runs in.
        expect(call.cwd).toBe(PROJECT_DIR);
      }
      expect(fs.statSync(state).isDirectory()).toBe(true);
    }, 30_000);
  }

  it("gives no --stack to a command about the CLI itself", () => {
    const { code, calls } = run("local.sh", ["version"], state);
    expect(code).toBe(0);
    expect(calls.at(-1)!.args).toEqual(["version"]);
  });

  it("says how to use it when given no command", () => {
    const { code, stderr, calls } = run("local.sh", [], state);
    expect(code).toBe(2);
    expect(stderr).toContain("npm run local -- preview --diff");
    expect(calls).toEqual([]);
  });

  it("refuses an update of a stack a killed run left locked, naming the command that clears it", () => {
    const locked = path.join(dir, "locked");
    const locks = path.join(locked, ".pulumi", "locks", "organization", "montagu-backup", "local");
    fs.mkdirSync(locks, { recursive: true });
    // A pid no process has: the run that wrote the lock is gone.
    fs.writeFileSync(path.join(locks, "0d5e.json"), JSON.stringify({ pid: 2 ** 22 + 1, username: "u", hostname: os.hostname(), timestamp: "2026-12-04T21:50:00Z" }));
    const { code, stderr, calls } = run("local.sh", ["up", "--yes"], locked);
    expect(code).toBe(1);
    expect(stderr).toContain("not running `pulumi up`");
    expect(stderr).toContain("run `npm run local -- cancel`");
    expect(calls.map((c) => c.args)).toEqual([["stack", "select", "--create", "local"]]);

    // cancel itself goes through, and is what clears it.
    expect(run("local.sh", ["cancel", "--yes"], locked).calls.at(-1)!.args).toEqual(["cancel", "--yes", "--stack", "local"]);
    // preview takes no lock, so it is let through.
    expect(run("local.sh", ["preview"], locked).calls.at(-1)!.args).toEqual(["preview", "--stack", "local"]);
  }, 30_000);
});

describe("npm run local:up", () => {
  it("installs, then runs `up --yes` through the one way in, passing on its arguments", () => {
    const state = path.join(dir, "up-state");
    const { code, stderr, calls } = run("local-up.sh", ["--diff"], state);
    expect(code, stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, "npm.log"), "utf8")).toBe("npm ci --no-audit --no-fund --loglevel=error\n");
    expect(calls.map((c) => c.args)).toEqual([
      ["stack", "select", "--create", "local"],
      ["up", "--yes", "--diff", "--stack", "local"],
    ]);
    expect(calls.every((c) => c.backend === `file://${state}` && c.passphrase === "")).toBe(true);
  }, 30_000);
});
