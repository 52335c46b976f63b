import * as pulumi from "@pulumi/pulumi";
import type { OffsiteStore } from "../../config/plan";
import { vaultFields, vaultPassword } from "../shared/passwords";

/** What opens the off-site store: its keys, and the volume repositories' password where the stack has one; each a secret. */
export interface OffsiteSecrets {
  accessKeyId: pulumi.Output<string>;
  secretAccessKey: pulumi.Output<string>;
  password?: pulumi.Output<string>;
}

export function offsiteSecrets(store: OffsiteStore, opts?: pulumi.InvokeOptions): OffsiteSecrets {
  const keys = vaultFields(store.credentialsVaultPath, ["access_key_id", "secret_access_key"], opts);
  const password = store.passwordVaultPath === undefined ? undefined : vaultPassword(store.passwordVaultPath, opts);
  return { accessKeyId: keys.access_key_id, secretAccessKey: keys.secret_access_key, password };
}

/** The volume repositories' password, which validation made sure the stack has wherever it is used. */
export function repositoryPassword(secrets: OffsiteSecrets): pulumi.Output<string> {
  if (secrets.password === undefined) throw new Error("offsite: no passwordVaultPath for the volume repositories");
  return secrets.password;
}

/** The variables montagu-offsite (images/offsite/offsite.sh) reads the store and the secrets from. */
export function offsiteEnvironment(store: OffsiteStore, secrets: OffsiteSecrets): Record<string, pulumi.Input<string>> {
  return {
    OFFSITE_REPOSITORY: store.repositoryBase,
    AWS_DEFAULT_REGION: store.region,
    AWS_ACCESS_KEY_ID: secrets.accessKeyId,
    AWS_SECRET_ACCESS_KEY: secrets.secretAccessKey,
    RESTIC_PASSWORD: repositoryPassword(secrets),
  };
}
