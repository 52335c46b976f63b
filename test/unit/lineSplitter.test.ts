import { describe, expect, it } from "vitest";
import { lineSplitter } from "../../simulator/harness/docker";

// How a command's output reaches the update's log line by line (simulator/harness/docker.ts).
describe("lineSplitter", () => {
  it("hands on whole lines as they arrive, and the unterminated last one at the end", () => {
    const seen: string[] = [];
    const lines = lineSplitter((line) => seen.push(line));
    lines.push(Buffer.from("one\ntw"));
    expect(seen).toEqual(["one"]);
    lines.push(Buffer.from("o\nthree"));
    expect(seen).toEqual(["one", "two"]);
    lines.end();
    expect(seen).toEqual(["one", "two", "three"]);
  });

  it("decodes a character whose bytes fall across two chunks whole", () => {
    const seen: string[] = [];
    const lines = lineSplitter((line) => seen.push(line));
    const bytes = Buffer.from("copied 1,2 GB — done\n");
    const cut = bytes.indexOf(0x94); // the middle of the dash's three bytes
    lines.push(bytes.subarray(0, cut));
    lines.push(bytes.subarray(cut));
    lines.end();
    expect(seen).toEqual(["copied 1,2 GB — done"]);
  });
});
