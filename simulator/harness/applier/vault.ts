import type { FakeVault } from "./fakeVault";
import type { ApplierContext, Handler, Outputs } from "./handler";

export const GET_SECRET = "vault:generic/getSecret:getSecret";

/** The vault provider's getSecret look-up. */
export function getSecret(vault: FakeVault, args: Record<string, unknown>): Outputs {
  const path = String(args.path);
  const data = vault.secrets.get(path);
  // What the vault provider reports for a path with nothing there.
  if (data === undefined) throw new Error(`no secret found at "${path}"`);
  return { path, data, dataJson: JSON.stringify(data), leaseId: "", leaseDuration: 0, leaseRenewable: false, leaseStartTime: "" };
}

export function vaultHandlers(applier: ApplierContext): Record<string, Handler> {
  const secret: Handler = {
    mapped: ["path", "dataJson"],
    create: async (inputs) => {
      const data = JSON.parse(inputs.dataJson) as Record<string, string>;
      applier.requireVault().secrets.set(inputs.path, data);
      return { data };
    },
    update: (_previous, inputs, resource) => secret.create(inputs, resource),
    replaces: (previous, inputs) => previous.resource.inputs.path !== inputs.path,
    delete: async ({ resource }) => {
      applier.requireVault().secrets.delete(resource.inputs.path);
    },
  };
  return {
    "pulumi:providers:vault": {
      // The SDK fills in the last three from the environment; they tune the client, not what it writes.
      mapped: ["address", "token", "version", "maxLeaseTtlSeconds", "maxRetries", "skipTlsVerify"],
      create: async () => ({}),
      delete: async () => undefined,
    },

    "vault:generic/secret:Secret": secret,
  };
}
