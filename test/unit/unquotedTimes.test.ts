import { describe, expect, it } from "vitest";
import { fromGoTime } from "../../config/sections/database";
import { validated } from "../fixtures/validate";

// `targetTime: 2026-12-04T21:50:00Z` left unquoted in a stack file is a YAML timestamp to
// Pulumi, which hands the program Go's time.Time String() of it: '2026-12-04 21:50:00 +0000 UTC'.

const topology = {
  servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
  clients: [{ name: "production2", backup: ["orderly"] }],
  volumes: [{ name: "orderly" }, { name: "barman_recover", local: true }],
};

/** What validation makes of a prepare with this target time: its problems, or the time the plan is given. */
function withTargetTime(targetTime: string): { problems: string[]; planned?: string } {
  const { settings, problems } = validated(topology, {
    machines: ["annex2"],
    barman: { slot: "barman", database: { host: "production2.example" } },
    prepareRestore: { id: "p1", targetTime },
  });
  return { problems, planned: settings?.config.prepareRestore?.targetTime };
}

describe("a time Pulumi read as a YAML timestamp", () => {
  it("is taken back to ISO 8601, with or without fractions of a second, in any zone", () => {
    expect(fromGoTime("2026-12-04 21:50:00 +0000 UTC")).toBe("2026-12-04T21:50:00Z");
    expect(fromGoTime("2026-12-04 21:50:00.5 +0000 UTC")).toBe("2026-12-04T21:50:00.5Z");
    expect(fromGoTime("2026-12-04 21:50:00.123456789 +0000 UTC")).toBe("2026-12-04T21:50:00.123456789Z");
    // An offset YAML gave, which names no zone: Go writes the offset twice.
    expect(fromGoTime("2026-12-04 22:50:00 +0100 +0100")).toBe("2026-12-04T22:50:00+01:00");
    expect(fromGoTime("2026-12-04 16:50:00 -0500 EST")).toBe("2026-12-04T16:50:00-05:00");
    // What is not Go's form is left to the checks as it was given.
    for (const other of ["2026-12-04T21:50:00Z", "2026-12-04 21:50:00 +0000", "2026-12-04 21:50 +0000 UTC", "yesterday"]) expect(fromGoTime(other)).toBe(other);
  });

  it("is accepted, and the plan sees it in ISO 8601", () => {
    expect(withTargetTime("2025-06-01 12:00:00 +0000 UTC")).toEqual({ problems: [], planned: "2025-06-01T12:00:00Z" });
    expect(withTargetTime("2025-06-01 13:00:00.25 +0100 +0100")).toEqual({ problems: [], planned: "2025-06-01T13:00:00.25+01:00" });
    // A quoted time reaches the plan as it was written.
    expect(withTargetTime("2025-06-01T12:00:00Z")).toEqual({ problems: [], planned: "2025-06-01T12:00:00Z" });
  });

  it("meets the same checks as a quoted time, and is named as Pulumi handed it", () => {
    expect(withTargetTime("2999-01-01 00:00:00 +0000 UTC").problems).toEqual([
      "montagu-backup:prepareRestore.targetTime: '2999-01-01 00:00:00 +0000 UTC' is in the future: a point-in-time recovery replays WAL up to a moment that has passed",
    ]);
    expect(withTargetTime("2025-02-30 10:00:00 +0000 UTC").problems).toEqual([
      "montagu-backup:prepareRestore.targetTime: '2025-02-30 10:00:00 +0000 UTC' is not a real date and time",
    ]);
  });

  it("garbled, is still refused, with its path", () => {
    for (const garbled of ["2025-06-01 12:00:00 +0000 UTC UTC", "2025-06-01 12:00:00 UTC", "2025-06-01 12:00:00 +0000"]) {
      expect(withTargetTime(garbled).problems, garbled).toEqual([
        `montagu-backup:prepareRestore.targetTime: '${garbled}' is not a time with a zone, such as 2026-11-21T18:30:00Z`,
      ]);
    }
  });
});
