import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { parse as parseShell } from "shell-quote";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { dryProvider } from "../../simulator/harness/dryProvider";
import { type RegisteredResource, runStack, type StackRun } from "../../simulator/harness/run";
import { readStackConfig, type StackConfig } from "../../simulator/harness/stackConfig";
import { rsaPrivateKeyOutputs } from "../../simulator/harness/tlsKey";
import { KEEP_RESULT } from "../../components/shared/script";
import { scriptOf } from "../fixtures/steps";
import { scheduleFile } from "../../components/privateer/layout";

const runShell = (script: string, env: Record<string, string>) => {
  const result = spawnSync("/bin/bash", ["-c", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout };
};

// The montagu topology (privateer.json) as each machine's stack declares it.

const COPY_SCRIPT = fs.readFileSync("images/privateer/client/lock.sh", "utf8") + fs.readFileSync("components/privateer/copy.sh", "utf8");
const HISTORY_SCRIPT = fs.readFileSync("images/privateer/server/history.sh", "utf8");

const vaultReads: string[] = [];
const provider = dryProvider({
  "vault:generic/getSecret:getSecret": ({ path }) => {
    if (String(path).startsWith("secret/vimc/database/")) return { data: { password: "from-vault" } };
    vaultReads.push(String(path));
    const key = rsaPrivateKeyOutputs(1024);
    return { data: { private: key.privateKeyPemPkcs8, public: key.publicKeyOpenssh.trim() } };
  },
});

function stack(name: string, privateer: Record<string, unknown> = {}, extra: StackConfig = {}): Promise<StackRun> {
  const config: StackConfig = { ...readStackConfig(name), "montagu-backup:privateer": privateer, ...extra };
  return runStack(name, config, provider);
}

const ofType = (run: StackRun, type: string) => run.resources.filter((r) => r.type === type);
const named = (run: StackRun, name: string) => {
  const found = run.resources.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no resource ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
  return found;
};
/** The arguments of the script's `docker run`, as the shell will see them. */
const dockerRunArgs = (script: string): string[] => {
  const words = parseShell(script.slice(script.indexOf("docker run")));
  const end = words.findIndex((w) => typeof w !== "string");
  return (end === -1 ? words : words.slice(0, end)) as string[];
};
const uploads = (r: RegisteredResource) => r.inputs.uploads as { file: string; content: string; permissions: string }[];

describe("keys", () => {
  it("are generated once per machine, RSA 2048, and written to vault KV v1 at <prefix>/<machine> with fields private and public", async () => {
    const run = await stack("annex2", { keys: { generate: true } });
    const keys = ofType(run, "tls:index/privateKey:PrivateKey");
    expect(keys.map((k) => k.inputs)).toEqual(Array(6).fill({ algorithm: "RSA", rsaBits: 2048 }));
    const secrets = ofType(run, "vault:generic/secret:Secret");
    expect(secrets.map((s) => s.inputs.path).sort()).toEqual(
      ["annex", "annex2", "production", "production2", "science", "uat"].map((m) => `secret/vimc/privateer/${m}`),
    );
    for (const secret of secrets) {
      expect(secret.secretInputs).toContain("dataJson");
      const data = JSON.parse(secret.inputs.dataJson);
      expect(Object.keys(data).sort()).toEqual(["private", "public"]);
      expect(data.private).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(data.public).toMatch(/^ssh-rsa AAAA\S+$/);
    }
    const [vaultProvider] = ofType(run, "pulumi:providers:vault");
    expect(vaultProvider.inputs.address).toBe("https://vault.dide.ic.ac.uk:8200");
  });

  it("are read from vault by the other stacks, only those each machine needs", async () => {
    vaultReads.length = 0;
    const run = await stack("production2");
    expect(vaultReads.sort()).toEqual(["secret/vimc/privateer/annex", "secret/vimc/privateer/annex2", "secret/vimc/privateer/production2"]);
    expect(ofType(run, "tls:index/privateKey:PrivateKey")).toEqual([]);
    expect(ofType(run, "vault:generic/secret:Secret")).toEqual([]);
  });

  it("are replaced, every one, when the generation is raised", async () => {
    const first = await stack("annex2", { keys: { generate: true } });
    const second = await stack("annex2", { keys: { generate: true, generation: 2 } });
    const names = (run: StackRun) => ofType(run, "tls:index/privateKey:PrivateKey").map((k) => k.name);
    expect(names(first).every((n) => n.endsWith("-gen1"))).toBe(true);
    expect(names(second).every((n) => n.endsWith("-gen2"))).toBe(true);
  });

  it("never appear in plain text: every input holding a private key is secret, and no output holds one", async () => {
    for (const run of [await stack("annex2", { keys: { generate: true } }), await stack("production2"), await stack("local")]) {
      let privateKeys = 0;
      for (const resource of run.resources) {
        const visit = (value: unknown, path: string) => {
          if (typeof value === "string" && value.includes("PRIVATE KEY")) {
            privateKeys++;
            expect(resource.secretInputs.some((secret) => path === secret || path.startsWith(`${secret}.`) || path.startsWith(`${secret}[`))).toBe(true);
          } else if (typeof value === "object" && value !== null) {
            for (const [key, child] of Object.entries(value)) visit(child, Array.isArray(value) ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`);
          }
        };
        visit(resource.inputs, "");
      }
      expect(privateKeys).toBeGreaterThan(0);
      expect(JSON.stringify(run.outputs)).not.toMatch(/PRIVATE KEY/);
    }
  });
});

describe("the server (annex2)", () => {
  it("writes privateer's key files with privateer's modes, and serves the data and local volumes", async () => {
    const run = await stack("annex2", { keys: { generate: true } });
    const writer = named(run, "privateer-server-annex2-keys-configure");
    expect(writer.inputs).toMatchObject({ name: "privateer_montagu_keys_configure", start: false, mustRun: false });
    expect(uploads(writer).map((u) => `${u.file} ${u.permissions}`)).toEqual([
      "/privateer/keys/id_rsa 0600",
      "/privateer/keys/id_rsa.pub 0644",
      "/privateer/keys/authorized_keys 0600",
      "/privateer/keys/name 0644",
    ]);
    const content = Object.fromEntries(uploads(writer).map((u) => [u.file.split("/").pop(), u.content]));
    expect(content.name).toBe("annex2");
    // privateer's line per client key, bound to the gate in the client's own name.
    expect(content.authorized_keys).toMatch(/^(restrict,command="\/usr\/local\/bin\/privateer-gate [a-z0-9-]+" ssh-rsa \S+\n){4}$/);
    expect(content.authorized_keys.match(/privateer-gate ([a-z0-9-]+)"/g)).toEqual(
      ["production", "production2", "science", "uat"].map((client) => `privateer-gate ${client}"`),
    );

    const server = named(run, "privateer-server-annex2-container");
    expect(server.inputs).toMatchObject({ name: "privateer_montagu_server", restart: "always", ports: [{ internal: 22, external: 10022 }] });
    expect(server.inputs.volumes).toEqual([
      { volumeName: "privateer_montagu_keys", containerPath: "/privateer/keys", readOnly: true },
      { volumeName: "privateer_montagu_data", containerPath: "/privateer/volumes" },
      { volumeName: "barman_recover", containerPath: "/privateer/local/barman_recover", readOnly: true },
    ]);
    expect(server.deleteBeforeReplace).toBe(true);
    expect(named(run, "privateer-server-annex2-data").retainOnDelete).toBe(true);
    expect((run.outputs.privateer as any).servers).toEqual({ annex2: { address: "annex2.montagu.dide.ic.ac.uk", port: 10022 } });
  });

  it("can run upstream's images instead of ours", async () => {
    const run = await stack("annex2", { keys: { generate: true }, images: "upstream" });
    expect(ofType(run, "docker:index/remoteImage:RemoteImage").map((r) => r.inputs.name)).toEqual(["mrcide/privateer-server:latest"]);
    // Upstream's server has no scheduler: the server's history runs on ours.
    const built = ofType(run, "docker:index/image:Image").filter((r) => r.name.startsWith("privateer"));
    expect(built.map((r) => r.inputs.build.dockerfile.split("/images/").pop())).toEqual(["privateer/server/Dockerfile"]);
    const history = named(run, "privateer-server-annex2-history-container");
    expect(history.dependencies).toContain(built[0].urn);
    const server = named(run, "privateer-server-annex2-container");
    expect(server.dependencies).not.toContain(built[0].urn);
  });

  it("keeps a history of every copy on its own schedule, with the stack's retention", async () => {
    const run = await stack("annex2", { keys: { generate: true }, history: { schedule: "0 * * * *", daily: 5, weekly: 3 } });
    const history = named(run, "privateer-server-annex2-history-container");
    expect(history.inputs).toMatchObject({ name: "privateer_montagu_server_history", restart: "always" });
    expect(history.inputs.volumes).toEqual([{ volumeName: "privateer_montagu_data", containerPath: "/privateer/volumes" }]);
    const files = Object.fromEntries(uploads(history).map((u) => [u.file, u.content]));
    expect(files["/etc/privateer-history/history.sh"]).toBe(HISTORY_SCRIPT);
    expect(parse(files["/etc/privateer-history/schedule.yml"])).toEqual({
      defaults: { timezone: "Europe/London" },
      jobs: [
        {
          name: "history",
          command: "bash /etc/privateer-history/history.sh scheduled /privateer/volumes --daily 5 --weekly 3 --settle 120",
          schedule: "0 * * * *",
        },
      ],
    });
  });
});

describe("the clients", () => {
  it("write known_hosts, config, name and the schedule as privateer does, and check every server", async () => {
    const run = await stack("production2");
    const writer = named(run, "privateer-client-production2-keys-configure");
    expect(uploads(writer).map((u) => `${u.file} ${u.permissions}`)).toEqual([
      "/privateer/keys/id_rsa 0600",
      "/privateer/keys/id_rsa.pub 0644",
      "/privateer/keys/known_hosts 0600",
      "/privateer/keys/config 0600",
      "/privateer/keys/name 0644",
      "/privateer/keys/yacron.yml 0644",
    ]);
    const content = Object.fromEntries(uploads(writer).map((u) => [u.file.split("/").pop(), u.content]));
    expect(content.known_hosts).toMatch(/^\[annex\.montagu\.dide\.ic\.ac\.uk\]:10022 ssh-rsa \S+\n\[annex2\.montagu\.dide\.ic\.ac\.uk\]:10022 ssh-rsa \S+\n$/);
    expect(content.config).toBe(
      "Host annex\n    User root\n    Port 10022\n    HostName annex.montagu.dide.ic.ac.uk\n\n" +
        "Host annex2\n    User root\n    Port 10022\n    HostName annex2.montagu.dide.ic.ac.uk\n",
    );
    expect(content.name).toBe("production2");
    expect(parse(content["yacron.yml"])).toEqual({
      defaults: { timezone: "Europe/London" },
      web: { listen: ["http://0.0.0.0:8080"] },
      jobs: [
        {
          name: "job-1",
          command: "rsync -av --delete /privateer/volumes/montagu_outpack_volume annex2:/privateer/volumes/production2",
          schedule: "@daily",
        },
      ],
    });

    const scheduler = named(run, "privateer-client-production2-scheduler");
    expect(scheduler.inputs).toMatchObject({ name: "privateer_scheduler", restart: "always", ports: [{ internal: 8080, external: 8080 }] });
    expect(scheduler.inputs.volumes).toEqual([
      { volumeName: "privateer_keys", containerPath: "/privateer/keys", readOnly: true },
      { volumeName: "montagu_outpack_volume", containerPath: "/privateer/volumes/montagu_outpack_volume", readOnly: true },
    ]);
    const checks = ofType(run, "command:local:Command").filter((c) => c.name.includes("-check-"));
    expect(checks.map((c) => c.name)).toEqual(["privateer-client-production2-check-annex", "privateer-client-production2-check-annex2"]);
    expect(checks[1].inputs.create).toContain("ssh annex2 cat /privateer/keys/name");
    expect(checks[1].inputs.environment).toEqual({ DOCKER_HOST: "ssh://vagrant@production2.montagu.dide.ic.ac.uk" });
    expect((run.outputs.privateer as any).schedulers).toEqual({ production2: "http://localhost:8080" });
  });

  it("push on demand when the backup id is given, with privateer's rsync and layout", async () => {
    const run = await stack("production2", { backup: { id: "b1", volumes: [{ volume: "montagu_orderly_volume", server: "annex2" }] } });
    const [push] = ofType(run, "command:local:Command").filter((c) => c.name.startsWith("privateer-backup-"));
    expect(push.inputs.triggers).toEqual(["b1"]);
    expect(push.inputs.interpreter).toEqual(["/bin/bash", "-c"]);
    expect(push.inputs.create).toMatch(/^set -euo pipefail\n/);
    expect(dockerRunArgs(push.inputs.create)).toEqual([
      ...["docker", "run", "--rm", "--network", "host", "--volume", "privateer_keys:/privateer/keys:ro"],
      ...["--volume", "montagu_orderly_volume:/privateer/volumes/montagu_orderly_volume:ro", expect.stringMatching(/^sha256:/)],
      ...["bash", "-c", COPY_SCRIPT, "copy"],
      ...["--lock", "/privateer/volumes/production2/montagu_orderly_volume:exclusive"],
      "--keep-history",
      ...["/privateer/volumes/montagu_orderly_volume/", "annex2:/privateer/volumes/production2/montagu_orderly_volume/", "--"],
    ]);
    const allowed = await stack("production2", { backup: { id: "b2", volumes: [{ volume: "montagu_orderly_volume", server: "annex2", allowEmpty: true }] } });
    const [emptyAllowed] = ofType(allowed, "command:local:Command").filter((c) => c.name.startsWith("privateer-backup-"));
    expect(dockerRunArgs(emptyAllowed.inputs.create)).toContain("--allow-empty");
    expect(dockerRunArgs(push.inputs.create)).not.toContain("--allow-empty");
  });

  it("restore when the restore id is given: a client's copy, and a server-local volume into another volume", async () => {
    const run = await stack("uat", {}, {
      "montagu-backup:restore": {
        id: "r1",
        volumes: [
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2" },
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
        ],
      },
    });
    const steps = ofType(run, "command:local:Command").filter((c) => c.name.startsWith("restore-uat-"));
    expect(steps.map((s) => s.inputs.triggers)).toEqual([["r1"], ["r1"]]);
    expect(dockerRunArgs(steps[0].inputs.create).slice(-13)).toEqual([
      ...["bash", "-c", COPY_SCRIPT, "copy", "--restore-stamp", "/privateer/restores/montagu_orderly_volume"],
      ...["--lock", "/privateer/volumes/production2/montagu_orderly_volume:shared", "--refuse-unfinished"],
      ...["annex2:/privateer/volumes/production2/montagu_orderly_volume/", "/privateer/volumes/montagu_orderly_volume/", "--", "--checksum"],
    ]);
    const local = dockerRunArgs(steps[1].inputs.create);
    expect(local.slice(5, 11)).toEqual([
      ...["--volume", "privateer_keys:/privateer/keys:ro", "--volume", "montagu_db_volume:/privateer/volumes/montagu_db_volume"],
      // The client's record of its restores, in a volume of its own.
      ...["--volume", "privateer_keys_restores:/privateer/restores"],
    ]);
    // Only a finished copy, without the prepare's own work beside it.
    expect(local.slice(-10)).toEqual([
      ...["--lock", "/privateer/local/barman_recover:shared", "--require-stamp", ".barman-last-restore", "--exclude-top", ".montagu"],
      ...["annex2:/privateer/local/barman_recover/", "/privateer/volumes/montagu_db_volume/", "--", "--checksum"],
    ]);
    expect(steps[1].dependencies).toContain(steps[0].urn);
  });

  it("looks at every source before it stops anything, mounting no target while it looks", async () => {
    const run = await stack("uat", {}, {
      "montagu-backup:restore": {
        id: "r1",
        volumes: [
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2", snapshot: "latest" },
          { volume: "montagu_outpack_volume", server: "annex2", source: "production2", snapshot: "20261126T131500Z", allowEmpty: true },
        ],
        stop: ["montagu-db"],
      },
    });
    const commands = ofType(run, "command:local:Command");
    const checks = commands.filter((c) => c.name.startsWith("restore-check-uat-"));
    expect(checks.map((c) => c.name)).toEqual(["restore-check-uat-montagu_orderly_volume", "restore-check-uat-montagu_outpack_volume"]);
    const [latest, bySnapshotName] = checks.map((c) => dockerRunArgs(c.inputs.create));
    expect(latest.filter((word) => word.startsWith("montagu_"))).toEqual([]);
    expect(latest.slice(-9)).toEqual([
      ...["--check", "--lock", "/privateer/volumes/production2/montagu_orderly_volume:shared"],
      ...["--newest-in", "/privateer/volumes/.montagu/history/production2/montagu_orderly_volume"],
      ...["annex2:/privateer/volumes/production2/montagu_orderly_volume/", "/privateer/volumes/montagu_orderly_volume/", "--", "--checksum"],
    ]);
    expect(bySnapshotName.slice(-8)).toEqual([
      ...["--allow-empty", "--check", "--lock", "/privateer/volumes/production2/montagu_outpack_volume:shared"],
      ...["annex2:/privateer/volumes/.montagu/history/production2/montagu_outpack_volume/20261126T131500Z/", "/privateer/volumes/montagu_outpack_volume/", "--", "--checksum"],
    ]);
    const stop = named(run, "restore-stop");
    expect(stop.dependencies).toEqual(expect.arrayContaining([checks[1].urn]));
    // The copies' component waits for the stop, and its children for it.
    expect(named(run, "restore-uat").dependencies).toContain(stop.urn);
  });

  it("guards every volume it writes over, and starts nothing until what it stopped is seen still stopped", async () => {
    const run = await stack("uat", {}, {
      "montagu-backup:restore": {
        id: "r1",
        volumes: [
          { volume: "montagu_orderly_volume", server: "annex2", source: "production2" },
          { volume: "barman_recover", server: "annex2", to: "montagu_db_volume" },
          { volume: "montagu_packit_db_backup", server: "annex2", source: "production2" },
        ],
        stop: ["montagu-db", "montagu-api"],
        start: ["montagu-db"],
        settleSeconds: 7,
        packit: { image: "packit-db:main", databaseVolume: "montagu_packit_db" },
      },
    });
    const argsOf = (name: string) => parseShell(scriptOf(named(run, name)).split("\n")[0]).slice(2);
    // `set -- ARGS`, then the script file.
    expect(String(named(run, "restore-stop").inputs.create)).toContain("# stop.sh SETTLE_SECONDS CONTAINER... -- VOLUME...");
    expect(argsOf("restore-stop")).toEqual(["7", "montagu-db", "montagu-api", "--", "montagu_orderly_volume", "montagu_db_volume", "montagu_packit_db_backup", "montagu_packit_db"]);
    expect(argsOf("restore-stopped")).toEqual(["montagu-db", "montagu-api"]);
    expect(argsOf("restore-start")).toEqual(["7", "montagu-db"]);
    expect(named(run, "restore-stopped").dependencies).toEqual([named(run, "restore-packit-pg-restore").urn]);
    expect(named(run, "restore-start").dependencies).toEqual([named(run, "restore-stopped").urn]);
  });
});

describe("steps", () => {
  it("run when their id changes and only then: any other change runs an update that keeps what the step printed", async () => {
    const run = await stack("uat", {}, {
      "montagu-backup:restore": { id: "r1", volumes: [{ volume: "montagu_orderly_volume", server: "annex2", source: "production2" }], stop: ["montagu-db"], start: ["montagu-db"] },
    });
    const commands = ofType(run, "command:local:Command");
    expect(commands.length).toBeGreaterThan(4);
    for (const command of commands) {
      expect(command.inputs.update, command.name).toBe(KEEP_RESULT);
    }
    const kept = await runShell(KEEP_RESULT, { PULUMI_COMMAND_STDOUT: "2026-11-26T13:15:00Z" });
    expect(kept).toEqual({ code: 0, stdout: "2026-11-26T13:15:00Z" });
  });
});

describe("the schedule file", () => {
  it("quotes each word of a job's command for the shell, and leaves privateer's command as it is for Docker names", () => {
    const file = (volume: string) =>
      parse(scheduleFile({ name: "production2", backup: [volume], key_volume: "k", schedule: { container: "s", jobs: [{ server: "annex2", volume, schedule: "@daily" }] } }, "UTC"));
    expect(file("montagu_orderly_volume").jobs[0].command).toBe("rsync -av --delete /privateer/volumes/montagu_orderly_volume annex2:/privateer/volumes/production2");
    expect(parseShell(file("a b;touch x").jobs[0].command)).toEqual(["rsync", "-av", "--delete", "/privateer/volumes/a b;touch x", "annex2:/privateer/volumes/production2"]);
  });
});

describe("a push's sessions on the server", () => {
  // A stand-in for ssh: each session is a line in the log, with its command; a `montagu lock`
  // answers as the server's gate does (`held`, then each request's answer and `done 0`), and
  // any other command runs here, so that rsync's server end is a real rsync.
  const FAKE_SSH = `#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  case "$1" in
    -O) exit 0 ;;
    -c) echo "cipher $2" >> "$FAKE_DIR/ciphers"; shift 2 ;;
    -o | -i | -p | -l) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "ssh: no host" >&2; exit 255; }
shift
command="$*"
echo "session \${command%% *} \${command#* }" | cut -d' ' -f1-3 >> "$FAKE_DIR/log"
case "$command" in
  "montagu lock "*)
    dir="$(cut -d' ' -f3 <<<"$command")"
    echo held
    while IFS= read -r request; do
      echo "request $request" >> "$FAKE_DIR/log"
      if [ "$request" = begin ] && [ -z "$(ls -A "$dir")" ]; then echo "answer fresh"; fi
      echo "done 0"
    done ;;
  *) exec bash -c "$command" ;;
esac
`;

  function push(destinationHolds: Record<string, string>) {
    const dir = fs.mkdtempSync("/tmp/push-sessions-");
    fs.mkdirSync(`${dir}/bin`);
    fs.writeFileSync(`${dir}/bin/ssh`, FAKE_SSH, { mode: 0o755 });
    for (const side of ["source", "destination"]) fs.mkdirSync(`${dir}/${side}`);
    for (const name of ["a", "b", "c"]) fs.writeFileSync(`${dir}/source/${name}`, `new ${name}`);
    for (const [name, content] of Object.entries(destinationHolds)) fs.writeFileSync(`${dir}/destination/${name}`, content);
    const result = spawnSync(
      "bash",
      ["-c", COPY_SCRIPT, "copy", "--lock", `${dir}/destination:exclusive`, "--keep-history", `${dir}/source/`, `annex2:${dir}/destination/`, "--"],
      { encoding: "utf8", env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, FAKE_DIR: dir } },
    );
    const log = fs.readFileSync(`${dir}/log`, "utf8").trim().split("\n");
    const ciphers = fs.existsSync(`${dir}/ciphers`) ? fs.readFileSync(`${dir}/ciphers`, "utf8").trim().split("\n") : [];
    const copied = fs.readdirSync(`${dir}/destination`).sort();
    fs.rmSync(dir, { recursive: true });
    return { code: result.status, stderr: result.stderr, log, ciphers, copied };
  }

  it("are two, its lock's and its rsync's: the history, the unfinished mark and the end are asked of the lock's", () => {
    const pushed = push({ a: "old a", gone: "deleted by the push" });
    expect(pushed.stderr).toBe("");
    expect(pushed.code).toBe(0);
    expect(pushed.copied).toEqual(["a", "b", "c"]);
    expect(pushed.log).toEqual(["session montagu lock", "request begin", "session rsync --server", "request pushed"]);
  });

  it("into an empty copy, the lock's answer sends the files in parallel streams first", () => {
    const pushed = push({});
    expect(pushed.code).toBe(0);
    expect(pushed.copied).toEqual(["a", "b", "c"]);
    expect(pushed.log.slice(0, 2)).toEqual(["session montagu lock", "request begin"]);
    expect(pushed.log.at(-1)).toBe("request pushed");
    // The tree, at least two streams and the final pass.
    expect(pushed.log.filter((line) => line === "session rsync --server").length).toBeGreaterThanOrEqual(4);
    expect(pushed.log.filter((line) => line.startsWith("session montagu"))).toEqual(["session montagu lock"]);
  });

  it("take AES-GCM where the CPU has AES instructions and ChaCha20-Poly1305 where it has not, every connection alike", () => {
    const expected = /^flags\s*:.*\baes\b/m.test(fs.readFileSync("/proc/cpuinfo", "utf8")) ? "aes128-gcm@openssh.com" : "chacha20-poly1305@openssh.com";
    const pushed = push({});
    expect(pushed.code).toBe(0);
    // The shared connection's sessions and each parallel stream's own connection.
    expect(pushed.ciphers.length).toBeGreaterThanOrEqual(pushed.log.filter((line) => line.startsWith("session ")).length);
    expect(new Set(pushed.ciphers)).toEqual(new Set([`cipher ${expected}`]));
  });
});
