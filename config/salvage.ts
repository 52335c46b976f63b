import { z } from "zod";

// Cross-field rules must run even when some other field is malformed, so that the user sees
// every problem in one go. They run over the parts of the input that are valid on their own.

export interface At<T> {
  at: number;
  value: T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The fields of `raw` that `schema`'s own field schemas accept, parsed one by one. */
export function validFields<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  raw: unknown,
): Partial<z.output<z.ZodObject<Shape>>> {
  if (!isRecord(raw)) return {};
  const fields: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const parsed = (field as z.ZodType).safeParse(raw[key]);
    if (parsed.success && parsed.data !== undefined) fields[key] = parsed.data;
  }
  return fields as Partial<z.output<z.ZodObject<Shape>>>;
}

export const ALWAYS = { when: () => true } as const;

/** The valid fields of each element of `items`, each with its index in the input. */
export function validFieldsOfEach<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  items: unknown,
): At<Partial<z.output<z.ZodObject<Shape>>>>[] {
  if (!Array.isArray(items)) return [];
  return items.map((item, at) => ({ at, value: validFields(schema, item) }));
}
