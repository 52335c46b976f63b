import { rsaPrivateKeyOutputs } from "../tlsKey";
import { type Handler, UnmappedInputError } from "./handler";

export function tlsHandlers(): Record<string, Handler> {
  return {
    "tls:index/privateKey:PrivateKey": {
      mapped: ["algorithm", "rsaBits"],
      create: async (inputs) => {
        if (inputs.algorithm !== "RSA") throw new UnmappedInputError(`the test applier makes RSA keys only, not ${inputs.algorithm}`);
        return rsaPrivateKeyOutputs(inputs.rsaBits ?? 2048);
      },
      delete: async () => undefined,
    },
  };
}
