import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

// Every shell script we ship, as shellcheck reads it: a script that reaches a host is real
// code, held to the same standard as the TypeScript that declares it. (.ci/run installs
// shellcheck.) Some files are sourced or concatenated, so they carry no shebang: bash is the
// only shell they run in.
const ROOT = path.join(__dirname, "..", "..");
const FOLDERS = ["components", "images", "scripts", "bench", ".ci"];

function shellScripts(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".sh") || (dir.endsWith(".ci") && !entry.name.includes("."))) found.push(path.relative(ROOT, full));
    }
  };
  for (const folder of FOLDERS) if (fs.existsSync(path.join(ROOT, folder))) walk(path.join(ROOT, folder));
  return found.sort();
}

describe("shell scripts", () => {
  const scripts = shellScripts();

  it("are found where they live", () => {
    expect(scripts).toEqual(expect.arrayContaining(["components/privateer/copy.sh", "components/restore/stop.sh", "images/barman/prepare.sh", "bench/smoke.sh", ".ci/run"]));
  });

  for (const script of scripts) {
    it(`${script} passes shellcheck`, () => {
      let said = "";
      try {
        execFileSync("shellcheck", ["--shell=bash", "--severity=warning", "--format=gcc", script], { cwd: ROOT, encoding: "utf8" });
      } catch (error) {
        const failure = error as { code?: string; stdout?: string };
        if (failure.code === "ENOENT") throw new Error("shellcheck is not installed (Debian: apt-get install shellcheck)");
        said = failure.stdout ?? String(error);
      }
      expect(said).toBe("");
    });
  }
});
