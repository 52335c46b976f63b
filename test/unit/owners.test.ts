import { describe, expect, it } from "vitest";
import { validated } from "../fixtures/validate";

// Who writes where: every volume on a stack's engine has one owner; a second one is refused
// with its path, naming the first and its path.

type Json = any;
const ONE = ": a volume has one owner on an engine; name another volume";

/** production2 pushing orderly and its dumps to annex2; uat a restore target. */
function topology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [
      { name: "production2", backup: ["orderly", "montagu_dumps", "montagu_db_volume"] },
      { name: "uat", key_volume: "uat_keys" },
    ],
    volumes: [{ name: "orderly" }, { name: "montagu_dumps" }, { name: "montagu_db_volume" }, { name: "barman_recover", local: true }],
  };
}

const OFFSITE = { store: { endpoint: "https://s3.example.org", bucket: "montagu-offsite", credentialsVaultPath: "secret/s3" } };
const DUMPS = { databases: [{ database: "montagu", host: "db", user: "vimc" }] };
const BARMAN = { slot: "barman", database: { host: "localhost" } };

const problems = (config: Json, t: Json = topology()) => validated(t, config).problems;

describe("one owner per volume on an engine", () => {
  it("accepts the owners that share a volume by design: a client pushes its service's data and its dumps", () => {
    expect(problems({ machines: ["production2"], dumps: DUMPS, offsite: OFFSITE })).toEqual([]);
  });

  it("refuses a copier's state volume that is an application volume: restic's cache would mix with its files", () => {
    expect(problems({ machines: ["production2"], offsite: { ...OFFSITE, stateVolume: "orderly" } })).toEqual([
      `montagu-backup:offsite.stateVolume: volume 'orderly' would be the off-site copies' state volume, but it is already an application volume that 'production2' backs up (clients[0].backup[0])${ONE}`,
    ]);
  });

  it("refuses dumps into the database's own volume, though a client pushes it", () => {
    expect(problems({ machines: ["production2"], dumps: { ...DUMPS, volume: "montagu_db_volume" } })).toEqual([
      `montagu-backup:dumps.volume: volume 'montagu_db_volume' would be the dumps' volume, but it is already montagu's database on 'production2' (clients[0].name)${ONE}`,
    ]);
  });

  it("refuses a monitor's volume that is barman's", () => {
    expect(problems({ machines: ["annex2"], barman: BARMAN, freshness: { volume: "barman_data" } })).toEqual([
      `montagu-backup:freshness.volume: volume 'barman_data' would be the freshness monitor's volume, but it is already barman's data volume (montagu-backup:barman.volumes.data)${ONE}`,
    ]);
  });

  it("refuses Prometheus's time series in the monitor's volume", () => {
    expect(problems({ machines: ["annex2"], barman: BARMAN, freshness: {}, prometheus: { volume: "montagu_freshness" } })).toEqual([
      `montagu-backup:prometheus.volume: volume 'montagu_freshness' would be Prometheus's volume, but it is already the freshness monitor's volume (montagu-backup:freshness.volume)${ONE}`,
    ]);
  });

  it("refuses a server's copies in a volume a client on the same engine backs up", () => {
    const t = topology();
    t.servers[0].data_volume = "orderly";
    expect(problems({ machines: ["annex2", "production2"] }, t)).toEqual([
      `servers[0].data_volume: volume 'orderly' would be the data volume of privateer server 'annex2', but it is already an application volume that 'production2' backs up (clients[0].backup[0])${ONE}`,
    ]);
  });

  it("refuses keys in packit's database volume", () => {
    const t = topology();
    t.clients[1].key_volume = "montagu_packit_db";
    expect(problems({ machines: ["uat"] }, t)).toEqual([
      `clients[1].key_volume: volume 'montagu_packit_db' would be the key volume of privateer client 'uat', but it is already packit's database on 'uat' (clients[1].name)${ONE}`,
    ]);
  });

  it("refuses packit's dump in packit's database volume", () => {
    expect(problems({ machines: ["uat"], packitDump: { volume: "montagu_packit_db" } })).toEqual([
      `montagu-backup:packitDump.volume: volume 'montagu_packit_db' would be packit's dump volume, which its database container writes, but it is already packit's database on 'uat' (clients[1].name)${ONE}`,
    ]);
  });

  it("refuses the stand-in primary's data in barman's nightly copy", () => {
    expect(problems({ machines: ["annex2"], barman: BARMAN, standInPrimary: { volume: "montagu_db_volume" } })).toEqual([
      `montagu-backup:barman.volumes.nightly: volume 'montagu_db_volume' would be barman's nightly volume, but it is already the stand-in primary's data volume (montagu-backup:standInPrimary.volume)${ONE}`,
    ]);
  });

  it("refuses packit's rebuild into montagu's database volume, which no restore here writes", () => {
    const restore = { id: "1", volumes: [{ volume: "orderly", server: "annex2", to: "packit_dump" }], packit: { dumpVolume: "packit_dump", databaseVolume: "montagu_db_volume" } };
    expect(problems({ machines: ["uat"], restore })).toEqual([
      "montagu-backup:restore.packit.databaseVolume: refused: volume 'montagu_db_volume' is montagu's database on 'uat' (clients[1].name); rebuilding packit's database in it would destroy it",
    ]);
    // A restore into montagu's database volume on uat is what a restore target is for.
    expect(problems({ machines: ["uat"], restore: { id: "1", volumes: [{ volume: "montagu_db_volume", server: "annex2" }] } })).toEqual([]);
  });

  it("lists every volume and its owner in the plan", () => {
    const { settings } = validated(topology(), { machines: ["production2"], dumps: DUMPS, offsite: OFFSITE });
    expect(settings?.plan.volumeOwners.map(({ volume, owner }) => `${volume}: ${owner}`)).toEqual([
      "orderly: an application volume that 'production2' backs up",
      "montagu_dumps: an application volume that 'production2' backs up",
      "montagu_db_volume: an application volume that 'production2' backs up",
      "montagu_db_volume: montagu's database on 'production2'",
      "montagu_packit_db: packit's database on 'production2'",
      "privateer_keys: the key volume of privateer client 'production2'",
      "montagu_dumps: the dumps' volume",
      "montagu_offsite_state: the off-site copies' state volume",
    ]);
  });
});

describe("allowOverwriteSource opens no further than a machine's own volumes", () => {
  const restore = (volumes: Json[], extra: Json = {}) =>
    problems({ machines: ["annex2", "production2"], barman: { ...BARMAN, volumes: { nightly: "nightly" } }, restore: { id: "1", volumes, ...extra } });

  it("never lets a restore read and write one volume: the server's copies or the local volume it serves", () => {
    expect(restore([{ volume: "barman_recover", server: "annex2", allowOverwriteSource: true }])).toEqual([
      "montagu-backup:restore.volumes[0].volume: refused: volume 'barman_recover' is a local volume that privateer server 'annex2' serves on this stack's engine (volumes[3].name); restoring over it would destroy it, and allowOverwriteSource does not allow it: it is for montagu's own volumes",
    ]);
    expect(restore([{ volume: "orderly", server: "annex2", to: "data", allowOverwriteSource: true }])).toEqual([
      "montagu-backup:restore.volumes[0].to: refused: volume 'data' is the data volume of privateer server 'annex2' on this stack's engine (servers[0].data_volume); restoring over it would destroy it, and allowOverwriteSource does not allow it: it is for montagu's own volumes",
    ]);
    // What it is for: production2 restored from its own copy.
    expect(restore([{ volume: "orderly", server: "annex2", allowOverwriteSource: true }])).toEqual([]);
  });

  it("never stops a backup server's containers", () => {
    expect(restore([{ volume: "orderly", server: "annex2", to: "orderly_copy" }], { stop: ["montagu-api", "server", "server_history", "barman-montagu"] })).toEqual([
      "montagu-backup:restore.stop[1]: refused: 'server' is privateer server 'annex2' (servers[0].container) on this stack's engine: a restore never stops a backup server's containers, whatever its entries allow",
      "montagu-backup:restore.stop[2]: refused: 'server_history' is privateer server 'annex2''s history (servers[0].container) on this stack's engine: a restore never stops a backup server's containers, whatever its entries allow",
      "montagu-backup:restore.stop[3]: refused: 'barman-montagu' is barman (montagu-backup:barman.container) on this stack's engine: a restore never stops a backup server's containers, whatever its entries allow",
    ]);
  });
});
