import { z } from "zod";
import { cron, dockerName, hostName, pgIdentifier, port } from "../primitives";
import { passwordGroup } from "./database";

// Scheduled logical dumps (`pg_dump -Fc`) of configured databases into a volume of their own,
// each read back whole before it counts, named with its database, place and time, and thinned
// to N days and M weeks; the volume is pushed as any other.

/** The place a dump's name carries: `<database>-<place>-<UTC time>.dump`. */
export const dumpPlace = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,62}$/, { error: "must be a name such as production2 ([A-Za-z0-9_.], at most 63; no '-', which separates the parts of a dump's name)" });

const database = z.strictObject({
  database: pgIdentifier,
  host: hostName,
  port: port.default(5432),
  user: pgIdentifier,
  /** Its password in vault at `secret/vimc/database/<group>/users/<user>`; `fake`: the user name. */
  passwordGroup: passwordGroup.default("production"),
});

export const dumps = z.strictObject({
  container: dockerName.default("montagu-dumps"),
  /** Holds the dumps: kept when the stack is destroyed. */
  volume: dockerName.default("montagu_dumps"),
  schedule: cron.default("0 1 * * *"),
  /** The place the dumps' names carry; the stack's machine when not given. */
  name: dumpPlace.optional(),
  /** The Docker network the databases are reached on; the host's own network when not given. */
  network: dockerName.optional(),
  /** The newest dump of each of the last `days` days and of each of the last `weeks` ISO weeks (UTC), and always the newest. */
  keep: z
    .strictObject({
      days: z.number().int().min(1).max(3660).default(7),
      weeks: z.number().int().min(0).max(520).default(4),
    })
    .prefault({}),
  databases: z.array(database).min(1, { error: "name at least one database to dump" }),
});
