// How a problem names the setting it is about.

/** Where a problem is: `["config", "restore", "volumes", 0, "to"]`, `["topology", "clients", 1, "name"]`. */
export type Path = (string | number)[];

export interface Problem {
  path: Path;
  message: string;
}

/** `["topology","clients",1,"name"]` -> `clients[1].name`; config keys read as Pulumi config keys. */
export function formatPath(path: readonly PropertyKey[]): string {
  const [root, ...rest] = path;
  let text = "";
  for (const part of rest) {
    text += typeof part === "number" ? `[${part}]` : text === "" ? String(part) : `.${String(part)}`;
  }
  if (root === "config") return `montagu-backup:${text}`;
  return text === "" ? String(root ?? "") : text;
}
