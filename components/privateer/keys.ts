import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as vault from "@pulumi/vault";
import { vaultKeyPath } from "./layout";

/** A machine's keypair as privateer keeps it: private PEM (PKCS#8), public OpenSSH. */
export interface MachineKey {
  /** Secret. */
  privateKey: pulumi.Output<string>;
  /** `ssh-rsa AAAA...`, without comment or newline. */
  publicKey: pulumi.Output<string>;
}

export interface PrivateerKeysArgs {
  /** Every machine of the topology. */
  machines: string[];
  /** Raising it replaces every key. */
  generation: number;
  /** Where privateer keeps keys; absent on stacks without vault. */
  vault?: { prefix: string; provider: vault.Provider };
}

/**
 * privateer's `keygen --all`: one RSA 2048 keypair per machine, written to vault KV v1 at
 * `<prefix>/<machine>` with fields `private` and `public`.
 */
export class PrivateerKeys extends pulumi.ComponentResource {
  readonly keys: Record<string, MachineKey> = {};

  constructor(name: string, args: PrivateerKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    super("montagu:backup:PrivateerKeys", name, {}, opts);
    if (args.vault !== undefined) {
      // Vault outlives this stack's state; the keys generated here do not. A rebuilt state (after
      // `pulumi destroy`, or on another backend) generates new ones and writes them over vault's,
      // and every client is refused until its own stack takes them. The program cannot tell a
      // rebuilt state from a kept one without reading vault, so it says so on every preview and
      // update while this can happen, with the setting that ends it.
      pulumi.log.warn(
        `privateer.keys.generate is true: this stack writes every machine's keys to vault (${vaultKeyPath(args.vault.prefix, "<machine>")}). ` +
          "After a `pulumi destroy`, its next update would write new keys there, and every client's pushes and restores would be refused until its own stack is updated. " +
          "Once the keys are in vault, set montagu-backup:privateer.keys.generate to false: this stack then reads them from vault, and a rebuild keeps them.",
        this,
      );
    }
    for (const machine of args.machines) {
      // The generation is part of the name, so raising it creates new keys and drops the old.
      const key = new tls.PrivateKey(`${name}-${machine}-gen${args.generation}`, { algorithm: "RSA", rsaBits: 2048 }, { parent: this });
      const machineKey: MachineKey = {
        privateKey: pulumi.secret(key.privateKeyPemPkcs8),
        publicKey: key.publicKeyOpenssh.apply((k) => k.trim()),
      };
      this.keys[machine] = machineKey;
      if (args.vault !== undefined) {
        new vault.generic.Secret(
          `${name}-${machine}-vault`,
          {
            path: vaultKeyPath(args.vault.prefix, machine),
            dataJson: pulumi.jsonStringify({ private: machineKey.privateKey, public: machineKey.publicKey }),
          },
          // Every machine's keys live here: destroying this stack must not delete them from vault.
          { parent: this, provider: args.vault.provider, retainOnDelete: true },
        );
      }
    }
    this.registerOutputs({ machines: args.machines });
  }
}

/** Keys written by the stack that generates them, as the other stacks read them from vault. */
export function keysFromVault(machines: string[], prefix: string, provider: vault.Provider): Record<string, MachineKey> {
  const keys: Record<string, MachineKey> = {};
  for (const machine of machines) {
    const path = vaultKeyPath(prefix, machine);
    const secret = vault.generic.getSecretOutput({ path }, { provider });
    const field = (name: "private" | "public") =>
      secret.data.apply((data) => {
        const value = data[name];
        if (value === undefined) throw new Error(`vault ${path} has no field '${name}': run the stack that generates keys first`);
        return value;
      });
    keys[machine] = { privateKey: pulumi.secret(field("private")), publicKey: field("public").apply((k) => k.trim()) };
  }
  return keys;
}
