import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { script } from "../../components/shared/script";
import { DockerApplier } from "../../simulator/harness/dockerApplier";
import { changedPaths, contains, parsePropertyPath, replacingChanges } from "../../simulator/harness/applier/replaceOnChanges";
import { runStack } from "../../simulator/harness/run";

// A step's life on the applier, which takes replacements from what the command SDK registers
// (replaceOnChanges) and runs each script as pulumi-command 1.x does. With an SDK that
// registers no replaceOnChanges for triggers (the mistaken @pulumi/command 4.5.0), a new id
// would be an update that runs nothing, and the "new id runs the step" case fails.

describe("property paths, as the engine matches replaceOnChanges", () => {
  it("parses the forms Pulumi writes", () => {
    expect(parsePropertyPath("triggers[*]")).toEqual(["triggers", "*"]);
    expect(parsePropertyPath("ports[0].external")).toEqual(["ports", 0, "external"]);
    expect(parsePropertyPath('labels["a.b"].value')).toEqual(["labels", "a.b", "value"]);
    expect(() => parsePropertyPath("triggers[")).toThrow(/not a property path/);
    expect(() => parsePropertyPath("")).toThrow(/not a property path/);
  });

  it("a pattern contains the paths at or below it, * standing for one key or index", () => {
    expect(contains(["triggers", "*"], ["triggers", 0])).toBe(true);
    expect(contains(["triggers", "*"], ["triggers", 3, "id"])).toBe(true);
    // The engine's rule: a whole `triggers` added or removed is not below `triggers[*]`.
    expect(contains(["triggers", "*"], ["triggers"])).toBe(false);
    expect(contains(["triggers", "*"], ["create"])).toBe(false);
  });

  it("a detailed diff names the deepest key or element that differs", () => {
    expect(changedPaths({ create: "a", triggers: ["x", "y"] }, { create: "b", triggers: ["x", "z", "w"] })).toEqual([["create"], ["triggers", 1], ["triggers", 2]]);
    expect(changedPaths({ a: 1 }, { a: 1 })).toEqual([]);
    expect(replacingChanges(["triggers[*]"], { create: "a", triggers: ["1"] }, { create: "b", triggers: ["1"] })).toEqual([]);
    expect(replacingChanges(["triggers[*]"], { create: "a", triggers: ["1"] }, { create: "a", triggers: ["2"] })).toEqual([["triggers", 0]]);
  });
});

describe("a step (components/shared/script.ts) on the applier", () => {
  const lines: string[] = [];
  const applier = new DockerApplier({ dockerHost: "unix:///nonexistent.sock", log: (line) => lines.push(line) });
  const up = async (id: string, body: string) => {
    lines.length = 0;
    let stdout: pulumi.Output<string> | undefined;
    const run = await runStack("local", {}, applier, () => {
      stdout = script("step", { script: body, environment: {}, triggers: [id] }, {}).stdout;
      return { stdout };
    });
    return { run, last: applier.history[applier.history.length - 1], stdout: run.outputs.stdout as string };
  };
  const STEP = `echo "copying..." >&2\necho "result=42"`;

  it("the SDK registers triggers[*] as replaceOnChanges", async () => {
    const { run } = await up("a", STEP);
    expect(run.resources.find((r) => r.name === "step")!.replaceOnChanges).toEqual(["triggers[*]"]);
  });

  it("runs on its first id, showing what it prints once, stdout kept as its output", async () => {
    const { last, stdout } = await up("first", STEP);
    expect(last.replaced.length + last.created.length).toBe(1);
    expect(stdout).toBe("result=42");
    expect(lines.filter((l) => l.includes("result=42"))).toHaveLength(1);
    expect(lines.some((l) => l.includes("copying..."))).toBe(true);
  });

  it("runs nothing on the same id", async () => {
    const { last, stdout } = await up("first", STEP);
    expect(last.unchanged).toHaveLength(1);
    expect(stdout).toBe("result=42");
    expect(lines).toEqual([]);
  });

  it("an edited script with the same id is an update that says it ran nothing and keeps the output", async () => {
    const { last, stdout } = await up("first", `echo "copying again" >&2\necho "result=43"`);
    expect(last.updated).toHaveLength(1);
    expect(last.replaced).toEqual([]);
    expect(stdout).toBe("result=42");
    expect(lines.join("\n")).toMatch(/not run: this step ran with its id/);
    // The kept output is not printed again as if the step had run.
    expect(lines.join("\n")).not.toMatch(/result=42|copying/);
  });

  it("a new id replaces the step, which runs its script again", async () => {
    const { last, stdout } = await up("second", STEP);
    expect(last.replaced).toHaveLength(1);
    expect(stdout).toBe("result=42");
    expect(lines.join("\n")).toMatch(/copying\.\.\./);
  });

  it("a failing step fails the update with what it printed", async () => {
    await expect(up("third", `echo "half way" >&2\nfalse`)).rejects.toThrow(/command exited 1:\n[\s\S]*half way/);
  });
});
