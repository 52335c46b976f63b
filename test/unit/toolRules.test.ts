import { describe, expect, it } from "vitest";
import { validated } from "../fixtures/validate";

// Values the real tools would refuse, or take to mean something no deployment needs, are
// refused when the stack is validated, each with its path: an S3 bucket by S3's whole rule,
// counts and times with an upper bound, a login to an SMTP server only over TLS.

type Json = any;

function topology(): Json {
  return {
    servers: [{ name: "annex2", hostname: "annex2.example", port: 10022, key_volume: "keys", data_volume: "data", container: "server" }],
    clients: [{ name: "production2", backup: ["orderly"] }, { name: "uat" }],
    volumes: [{ name: "orderly" }, { name: "barman_recover", local: true }],
  };
}
const problems = (config: Json) => validated(topology(), config).problems;

describe("S3 bucket names, by every rule S3 states", () => {
  const bucket = (name: string) =>
    problems({ machines: ["production2"], offsite: { store: { endpoint: "https://s3.example.org", bucket: name, credentialsVaultPath: "secret/s3" } } });

  it.each([
    ["ab", "is 2 characters long: S3 takes 3 to 63"],
    ["a".repeat(64), "is 64 characters long: S3 takes 3 to 63"],
    ["Montagu", "holds more than lower-case letters, digits, '.' and '-'"],
    ["montagu_offsite", "holds more than lower-case letters, digits, '.' and '-'"],
    ["-montagu", "must begin and end with a letter or digit"],
    ["montagu.", "must begin and end with a letter or digit"],
    ["montagu..offsite", "has two adjacent dots"],
    ["192.168.5.4", "is formatted as an IP address"],
    ["xn--montagu", "starts with 'xn--', which S3 reserves"],
    ["sthree-montagu", "starts with 'sthree-', which S3 reserves"],
    ["sthree-configurator", "starts with 'sthree-', which S3 reserves"],
    ["amzn-s3-demo-montagu", "starts with 'amzn-s3-demo-', which S3 reserves"],
    ["montagu-s3alias", "ends with '-s3alias', which S3 reserves"],
    ["montagu--ol-s3", "ends with '--ol-s3', which S3 reserves"],
    ["montagu.mrap", "ends with '.mrap', which S3 reserves"],
    ["montagu--x-s3", "ends with '--x-s3', which S3 reserves"],
    ["montagu--table-s3", "ends with '--table-s3', which S3 reserves"],
  ])("refuses '%s': it %s", (name, why) => {
    expect(bucket(name)).toEqual([`montagu-backup:offsite.store.bucket: '${name}' is not an S3 bucket name: it ${why}`]);
  });

  it("accepts the names S3 takes", () => {
    for (const name of ["abc", "a".repeat(63), "montagu-offsite", "montagu.offsite.2026", "192.168.5", "1.2.3.4.5", "xn-montagu", "montagu-s3"]) expect(bucket(name), name).toEqual([]);
  });
});

describe("counts and times with an upper bound", () => {
  const OFFSITE = { store: { endpoint: "https://s3.example.org", bucket: "montagu-offsite", credentialsVaultPath: "secret/s3" } };
  it.each([
    ["privateer.history.daily", { machines: ["annex2"], privateer: { history: { daily: 7000 } } }, "7000 is more than 3660 (ten years of days)"],
    ["privateer.history.weekly", { machines: ["annex2"], privateer: { history: { weekly: 4000 } } }, "4000 is more than 520 (ten years of weeks)"],
    ["offsite.keep.daily", { machines: ["production2"], offsite: { ...OFFSITE, keep: { daily: 7000 } } }, "7000 is more than 3660 (ten years of days)"],
    ["offsite.keep.monthly", { machines: ["production2"], offsite: { ...OFFSITE, keep: { monthly: 6000 } } }, "6000 is more than 120 (ten years of months)"],
    ["dumps.keep.days", { machines: ["production2"], dumps: { volume: "orderly", keep: { days: 7000 }, databases: [{ database: "d", host: "h", user: "u" }] } }, "7000 is more than 3660 (ten years of days)"],
    ["barman.verify.amcheckTables", { machines: ["annex2"], barman: { slot: "b", database: { host: "h" }, verify: { amcheckTables: 5_000_000 } } }, "5000000 is more than 100000 (more tables than montagu has)"],
    ["prepareRestore.replayTimeout", { machines: ["annex2"], barman: { slot: "b", database: { host: "h" } }, prepareRestore: { id: "1", replayTimeout: 3_600_000 } }, "3600000 is more than 604800 (a week)"],
    ["restore.packit.waitSeconds", { machines: ["uat"], restore: { id: "1", volumes: [{ volume: "orderly", server: "annex2", to: "montagu_packit_db_backup" }], packit: { waitSeconds: 300_000 } } }, "300000 is more than 3600 (an hour)"],
  ])("refuses %s with an extra three zeros", (path, config, why) => {
    expect(problems(config)).toEqual([`montagu-backup:${path}: ${why}: a larger value is more likely a typo than a need`]);
  });

  it("bounds barman's retention policy, and the monitor's times", () => {
    const barman = (retentionPolicy: string) => problems({ machines: ["annex2"], barman: { slot: "b", database: { host: "h" }, retentionPolicy } });
    expect(barman("REDUNDANCY 2000")).toEqual([
      "montagu-backup:barman.retentionPolicy: 'REDUNDANCY 2000' keeps more than 100 base backups (ten years, or a hundred backups): a larger value is more likely a typo than a need",
    ]);
    expect(barman("RECOVERY WINDOW OF 3000 MONTHS")).toEqual([
      "montagu-backup:barman.retentionPolicy: 'RECOVERY WINDOW OF 3000 MONTHS' keeps more than 120 months (ten years, or a hundred backups): a larger value is more likely a typo than a need",
    ]);
    for (const policy of ["REDUNDANCY 100", "RECOVERY WINDOW OF 120 MONTHS", "recovery window of 3660 days", "RECOVERY WINDOW OF 1 WEEK"]) expect(barman(policy), policy).toEqual([]);
    expect(problems({ machines: ["annex2"], barman: { slot: "b", database: { host: "h" } }, freshness: { checkEvery: "2d", staleAfter: { "barman/wal": "1000d" } } })).toEqual([
      "montagu-backup:freshness.checkEvery: is longer than a day: a monitor that looks less often than that would tell of a late backup only days late",
      "montagu-backup:freshness.staleAfter.barman/wal: is longer than 366d: a backup late only after that is one never watched; a larger value is more likely a typo than a need",
    ]);
  });
});

describe("a password sent to an SMTP server", () => {
  const email = (extra: Json) =>
    problems({ machines: ["annex2"], freshness: { email: { host: "smtp.example.org", username: "alerts", passwordVaultPath: "secret/smtp", from: "a@example.org", to: ["b@example.org"], ...extra } } });

  it("needs STARTTLS, unless the entry says clear text is accepted", () => {
    expect(email({})).toEqual([
      "montagu-backup:freshness.email.starttls: a login sends its password: set starttls to true, or allowPlaintextLogin to true for a relay on the same host (the password then crosses the network in clear text)",
    ]);
    expect(email({ starttls: true, port: 587 })).toEqual([]);
    expect(email({ allowPlaintextLogin: true, host: "localhost" })).toEqual([]);
    // Without a login, no password is sent.
    expect(email({ username: undefined, passwordVaultPath: undefined })).toEqual([]);
  });
});
