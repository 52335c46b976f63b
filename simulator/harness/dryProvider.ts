import * as crypto from "node:crypto";
import type { RegisteredResource, ResourceProvider } from "./run";
import { rsaPrivateKeyOutputs } from "./tlsKey";

/**
 * Outputs as the providers would compute them, without creating anything: for unit tests.
 * Invokes are answered from `invokes` (token -> result); an unexpected one is an error.
 */
export function dryProvider(invokes: Record<string, (args: Record<string, unknown>) => Record<string, unknown>> = {}): ResourceProvider {
  return {
    async create(resource: RegisteredResource) {
      switch (resource.type) {
        case "docker:index/image:Image":
          return { repoDigest: `sha256:${crypto.createHash("sha256").update(resource.name).digest("hex")}` };
        case "tls:index/privateKey:PrivateKey":
          return rsaPrivateKeyOutputs(resource.inputs.rsaBits);
        case "command:local:Command":
          return { stdout: "", stderr: "" };
        default:
          return {};
      }
    },
    async invoke(token, args) {
      const answer = invokes[token];
      if (answer === undefined) throw new Error(`unexpected invoke ${token}`);
      return answer(args);
    },
  };
}
