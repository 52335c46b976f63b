import { beforeAll, describe, expect, it } from "vitest";
import { startHost, type SimulatedHost } from "../../simulator/rig/hosts";

// The rig's own promises, which every other integration test relies on.
describe("simulated hosts", () => {
  let annex2: SimulatedHost;
  let production2: SimulatedHost;

  beforeAll(async () => {
    [annex2, production2] = await Promise.all([startHost("annex2"), startHost("production2")]);
  });

  const shell = (host: SimulatedHost, volume: string, script: string) =>
    host.docker.out("run", "--rm", "--volume", `${volume}:/data`, "debian:bookworm", "bash", "-c", script);

  it("keep same-named volumes apart", async () => {
    await shell(annex2, "montagu_orderly_volume", "echo annex2 > /data/owner");
    await shell(production2, "montagu_orderly_volume", "echo production2 > /data/owner");
    expect(await shell(annex2, "montagu_orderly_volume", "cat /data/owner")).toBe("annex2");
    expect(await shell(production2, "montagu_orderly_volume", "cat /data/owner")).toBe("production2");
  });

  it("reach a port published on another host by its name", async () => {
    await annex2.docker.run([
      "run", "--detach", "--name", "greeter", "--publish", "18000:8000", "debian:bookworm",
      "perl", "-MIO::Socket::INET", "-e",
      '$s = IO::Socket::INET->new(LocalPort => 8000, Listen => 5, ReuseAddr => 1) or die $!; while ($c = $s->accept) { print $c "hello from annex2\\n"; close $c }',
    ]);
    const greeting = await production2.docker.out(
      "run", "--rm", "debian:bookworm", "bash", "-c",
      "for i in $(seq 50); do exec 3<>/dev/tcp/annex2/18000 && cat <&3 && exit 0; sleep 0.2; done; exit 1",
    );
    expect(greeting).toBe("hello from annex2");
  });
});
