// How Pulumi's RPC layer marks a secret value (see @pulumi/pulumi runtime/rpc).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function makeSecret(value: unknown): unknown {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** Strips secret markers, returning the plain value and the paths that were secret. */
export function unwrapSecrets(value: unknown, at = ""): { plain: unknown; secretPaths: string[] } {
  if (isSecret(value)) {
    const inner = unwrapSecrets(value.value, at);
    return { plain: inner.plain, secretPaths: [at, ...inner.secretPaths] };
  }
  if (Array.isArray(value)) {
    const secretPaths: string[] = [];
    const plain = value.map((item, i) => {
      const inner = unwrapSecrets(item, `${at}[${i}]`);
      secretPaths.push(...inner.secretPaths);
      return inner.plain;
    });
    return { plain, secretPaths };
  }
  if (typeof value === "object" && value !== null) {
    const secretPaths: string[] = [];
    const plain: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const inner = unwrapSecrets(item, at === "" ? key : `${at}.${key}`);
      secretPaths.push(...inner.secretPaths);
      plain[key] = inner.plain;
    }
    return { plain, secretPaths };
  }
  return { plain: value, secretPaths: [] };
}
