import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";

/**
 * A database user's password, as barman-montagu finds it: in vault at
 * `secret/vimc/database/<group>/users/<user>` (field `password`), except for the group
 * `fake`, used for local testing, where the password is the user name.
 */
export function databasePassword(group: string, user: string, opts?: pulumi.InvokeOptions): pulumi.Output<string> {
  if (group === "fake") return pulumi.secret(user);
  const secret = vault.generic.getSecretOutput({ path: `secret/vimc/database/${group}/users/${user}` }, opts);
  return pulumi.secret(
    secret.data.apply((data) => {
      const password = data["password"];
      if (password === undefined) {
        throw new Error(`vault secret/vimc/database/${group}/users/${user} has no field 'password'`);
      }
      return password;
    }),
  );
}
