import { isDeepStrictEqual } from "node:util";

// The engine's side of a replacement: a provider's Diff names the changed properties, down to
// array elements and object keys (`triggers[0]`), and the engine turns a change into a
// replacement where a path the SDK registered in `replaceOnChanges` contains it
// (applyReplaceOnChanges and PropertyPath.Contains in pulumi's deploy and resource packages).

type Segment = string | number;

/** A property path as Pulumi writes it: `triggers[*]`, `build.args`, `ports[0].external`, `labels["a.b"]`. */
export function parsePropertyPath(text: string): Segment[] {
  const segments: Segment[] = [];
  let rest = text;
  const bad = () => new Error(`'${text}' is not a property path`);
  while (rest.length > 0) {
    if (rest.startsWith("[")) {
      const quoted = /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest);
      const bare = /^\[(\*|\d+)\]/.exec(rest);
      if (quoted !== null) segments.push(JSON.parse(`"${quoted[1]}"`) as string);
      else if (bare !== null) segments.push(bare[1] === "*" ? "*" : Number(bare[1]));
      else throw bad();
      rest = rest.slice((quoted ?? bare)![0].length);
    } else {
      const name = /^\.?([^.[]+)/.exec(rest);
      if (name === null || (segments.length === 0 && rest.startsWith("."))) throw bad();
      segments.push(name[1]);
      rest = rest.slice(name[0].length);
    }
  }
  if (segments.length === 0) throw bad();
  return segments;
}

/** Whether `pattern` contains `path`: `path` is `pattern` or below it, `*` standing for any one key or index. */
export function contains(pattern: Segment[], path: Segment[]): boolean {
  if (path.length < pattern.length) return false;
  return pattern.every((segment, i) => segment === "*" || segment === path[i]);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The paths of a detailed diff between two sets of inputs: the deepest key or element that differs. */
export function changedPaths(before: unknown, after: unknown, prefix: Segment[] = []): Segment[][] {
  if (isDeepStrictEqual(before, after)) return [];
  if (Array.isArray(before) && Array.isArray(after)) {
    const paths: Segment[][] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) paths.push(...changedPaths(before[i], after[i], [...prefix, i]));
    return paths;
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => changedPaths(before[key], after[key], [...prefix, key]));
  }
  return [prefix];
}

/** The changed paths that the registration's `replaceOnChanges` turns into a replacement. */
export function replacingChanges(replaceOnChanges: string[], before: unknown, after: unknown): Segment[][] {
  const patterns = replaceOnChanges.map(parsePropertyPath);
  return changedPaths(before, after).filter((path) => path.length > 0 && patterns.some((pattern) => contains(pattern, path)));
}
