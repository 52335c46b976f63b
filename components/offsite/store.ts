import * as pulumi from "@pulumi/pulumi";
import type { OffsiteStore } from "../../config/plan";
import { vaultFields, vaultPassword } from "../shared/passwords";

/** What opens the off-site repositories: the store's keys and the repositories' password, each a secret. */
export interface OffsiteSecrets {
  accessKeyId: pulumi.Output<string>;
  secretAccessKey: pulumi.Output<string>;
  password: pulumi.Output<string>;
}

export function offsiteSecrets(store: OffsiteStore, opts?: pulumi.InvokeOptions): OffsiteSecrets {
  const keys = vaultFields(store.credentialsVaultPath, ["access_key_id", "secret_access_key"], opts);
  return { accessKeyId: keys.access_key_id, secretAccessKey: keys.secret_access_key, password: vaultPassword(store.passwordVaultPath, opts) };
}

/** The variables montagu-offsite (images/offsite/offsite.sh) reads the store and the secrets from. */
export function offsiteEnvironment(store: OffsiteStore, secrets: OffsiteSecrets): Record<string, pulumi.Input<string>> {
  return {
    OFFSITE_REPOSITORY: store.repositoryBase,
    AWS_DEFAULT_REGION: store.region,
    AWS_ACCESS_KEY_ID: secrets.accessKeyId,
    AWS_SECRET_ACCESS_KEY: secrets.secretAccessKey,
    RESTIC_PASSWORD: secrets.password,
  };
}
