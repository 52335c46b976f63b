import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// montagu-prepare's swap (images/barman/prepare.sh), run here with bash: the staging copy takes
// the served copy's place by renames, and resumes wherever it was killed.

const PREPARE = path.resolve("images/barman/prepare.sh");

let volume = "";
beforeEach(() => {
  volume = fs.mkdtempSync(path.join(os.tmpdir(), "swap-"));
});
afterEach(() => fs.rmSync(volume, { recursive: true, force: true }));

const write = (file: string, content: string) => {
  fs.mkdirSync(path.dirname(path.join(volume, file)), { recursive: true });
  fs.writeFileSync(path.join(volume, file), content);
};
const swap = () => spawnSync("bash", [PREPARE, "swap", volume], { encoding: "utf8" });
/** The served copy: every file but the prepare's own work, with its content. */
const served = () => {
  const files: string[] = [];
  const visit = (directory: string) => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (full === path.join(volume, ".montagu")) continue;
      if (entry.isDirectory()) visit(full);
      else files.push(`${path.relative(volume, full)}=${fs.readFileSync(full, "utf8")}`);
    }
  };
  visit(volume);
  return files.sort();
};
const stage = (stamp: string) => {
  write(".montagu/staging/PG_VERSION", "new");
  write(".montagu/staging/base/1", "new");
  write(".montagu/staging/.barman-last-restore", stamp);
};

describe("the prepared copy's swap", () => {
  it("puts the finished staging copy in the served copy's place, stamp last", () => {
    write("PG_VERSION", "old");
    write("base/1", "old");
    write("base/2", "old only");
    write(".barman-last-restore", "T1");
    stage("T2");
    expect(swap().status).toBe(0);
    expect(served()).toEqual([".barman-last-restore=T2", "PG_VERSION=new", "base/1=new"]);
    expect(fs.existsSync(path.join(volume, ".montagu/staging"))).toBe(false);
  });

  it("refuses a staging copy that is not stamped, and leaves the served copy", () => {
    write("PG_VERSION", "old");
    write(".barman-last-restore", "T1");
    write(".montagu/staging/PG_VERSION", "half");
    const refused = swap();
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/no finished copy is staged/);
    expect(served()).toEqual([".barman-last-restore=T1", "PG_VERSION=old"]);
  });

  it("resumes a swap killed half way through putting the new copy in place", () => {
    // The old copy is all aside, one new file is in place, the stamp is still staged.
    write(".montagu/previous/PG_VERSION", "old");
    write(".montagu/previous/.moved-out", "");
    write("PG_VERSION", "new");
    write(".montagu/staging/base/1", "new");
    write(".montagu/staging/.barman-last-restore", "T2");
    expect(swap().status).toBe(0);
    expect(served()).toEqual([".barman-last-restore=T2", "PG_VERSION=new", "base/1=new"]);
  });

  it("after a swap killed before its clean-up, the next one mixes nothing: what was left aside goes", () => {
    write(".barman-last-restore", "T2");
    write("PG_VERSION", "new");
    write("base/1", "new");
    write(".montagu/previous/.moved-out", "");
    write(".montagu/previous/base/1", "old");
    stage("T3");
    write(".montagu/staging/base/1", "newer");
    expect(swap().status).toBe(0);
    expect(served()).toEqual([".barman-last-restore=T3", "PG_VERSION=new", "base/1=newer"]);
  });
});
