import * as crypto from "node:crypto";

/** Length-prefixed string, as in SSH's wire format (RFC 4251). */
function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** An unsigned big-endian integer as SSH's mpint: a leading zero when the top bit is set. */
function sshMpint(data: Buffer): Buffer {
  return sshString(data[0] & 0x80 ? Buffer.concat([Buffer.from([0]), data]) : data);
}

/** What the tls provider's PrivateKey computes for `algorithm: RSA`. */
export function rsaPrivateKeyOutputs(bits: number): Record<string, string> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: bits });
  const jwk = publicKey.export({ format: "jwk" });
  const blob = Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    sshMpint(Buffer.from(jwk.e!, "base64url")),
    sshMpint(Buffer.from(jwk.n!, "base64url")),
  ]);
  return {
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs1" }).toString(),
    privateKeyPemPkcs8: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    publicKeyOpenssh: `ssh-rsa ${blob.toString("base64")}\n`,
    publicKeyFingerprintSha256: `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
  };
}
