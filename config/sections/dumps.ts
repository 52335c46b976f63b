import { z } from "zod";
import { atMost, cron, dockerName, hostName, pgIdentifier, port } from "../primitives";
import { passwordGroup } from "./database";

// Scheduled logical dumps (`pg_dump -Fc`) of configured databases into a volume of their own,
// each read back whole before it counts, named with its database, place and time, and thinned
// to N days and M weeks; the volume is pushed as any other.

export const dumpPlace = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,62}$/, { error: "must be a name such as production2 ([A-Za-z0-9_.], at most 63; no '-', which separates the parts of a dump's name)" })
  .meta({ title: "dump place", description: "The place a dump's name carries: `<database>-<place>-<UTC time>.dump`; no '-', which separates the parts." });

const database = z.strictObject({
  database: pgIdentifier.describe("The database dumped."),
  host: hostName.describe("Its server's host."),
  port: port.default(5432).describe("Its server's port."),
  user: pgIdentifier.describe("The user pg_dump connects as."),
  passwordGroup: passwordGroup.default("production").describe("Its password in vault at `secret/vimc/database/<group>/users/<user>`; `fake`: the user name."),
});

export const dumps = z.strictObject({
  container: dockerName.default("montagu-dumps").describe("The container that makes the dumps on schedule."),
  volume: dockerName.default("montagu_dumps").describe("Holds the dumps: kept when the stack is destroyed."),
  schedule: cron.default("0 1 * * *").describe("When every database is dumped, in the stack's `timezone`."),
  name: dumpPlace.optional().describe("The place the dumps' names carry; the stack's machine when not given."),
  network: dockerName.optional().describe("The Docker network the databases are reached on; the host's own network when not given."),
  keep: z
    .strictObject({
      days: z.number().int().min(1).max(3660, atMost(3660, "ten years of days")).default(7).describe("Days whose newest dump is kept."),
      weeks: z.number().int().min(0).max(520, atMost(520, "ten years of weeks")).default(4).describe("ISO weeks whose newest dump is kept."),
    })
    .prefault({})
    .describe("The newest dump of each of the last `days` days and of each of the last `weeks` ISO weeks (UTC), and always the newest."),
  databases: z.array(database).min(1, { error: "name at least one database to dump" }).describe("The databases dumped, each into its own files."),
});
