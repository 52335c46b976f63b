import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";

/** The fields `fields` of the vault secret at `path`, each as a secret. */
export function vaultFields<F extends string>(path: string, fields: readonly F[], opts?: pulumi.InvokeOptions): Record<F, pulumi.Output<string>> {
  const secret = vault.generic.getSecretOutput({ path }, opts);
  const read = (field: F) =>
    pulumi.secret(
      secret.data.apply((data) => {
        const value = data[field];
        if (value === undefined) throw new Error(`vault ${path} has no field '${field}'`);
        return value;
      }),
    );
  return Object.fromEntries(fields.map((field) => [field, read(field)])) as Record<F, pulumi.Output<string>>;
}

/** The field `password` of the vault secret at `path`, as a secret. */
export function vaultPassword(path: string, opts?: pulumi.InvokeOptions): pulumi.Output<string> {
  return vaultFields(path, ["password"], opts).password;
}

/**
 * A database user's password, as barman-montagu finds it: in vault at
 * `secret/vimc/database/<group>/users/<user>` (field `password`), except for the group
 * `fake`, used for local testing, where the password is the user name.
 */
export function databasePassword(group: string, user: string, opts?: pulumi.InvokeOptions): pulumi.Output<string> {
  if (group === "fake") return pulumi.secret(user);
  return vaultPassword(`secret/vimc/database/${group}/users/${user}`, opts);
}
