import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";

/** The field `password` of the vault secret at `path`, as a secret. */
export function vaultPassword(path: string, opts?: pulumi.InvokeOptions): pulumi.Output<string> {
  const secret = vault.generic.getSecretOutput({ path }, opts);
  return pulumi.secret(
    secret.data.apply((data) => {
      const password = data["password"];
      if (password === undefined) throw new Error(`vault ${path} has no field 'password'`);
      return password;
    }),
  );
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
