import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../../simulator/harness/stackConfig";

describe("Pulumi.local.yaml's encryptionsalt", () => {
  // Pulumi's passphrase manager (pkg/secrets/passphrase) keeps `v1:<salt>:<"pulumi" encrypted>`
  // and opens a stack only if that decrypts; the crypter (sdk config/crypt.go) writes
  // `v1:<nonce>:<AES-256-GCM ciphertext and tag>` with a key of PBKDF2-SHA256, 1,000,000 rounds.
  it("is the empty passphrase's, so `pulumi stack init` reuses it and leaves the file as committed", () => {
    const stackFile = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.local.yaml"), "utf8")) as { encryptionsalt?: string };
    const [version, salt, ...message] = String(stackFile.encryptionsalt).split(":");
    expect(version).toBe("v1");
    expect(Buffer.from(salt, "base64")).toHaveLength(8);
    const [messageVersion, nonce, sealed] = message;
    expect(messageVersion).toBe("v1");

    const key = crypto.pbkdf2Sync("", Buffer.from(salt, "base64"), 1_000_000, 32, "sha256");
    const body = Buffer.from(sealed, "base64");
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
    decipher.setAuthTag(body.subarray(body.length - 16));
    const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString("utf8");
    expect(plain).toBe("pulumi");
  });
});
