import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from '#schema/errors.ts';

/** Parses and validates a JSON body; nothing is cast before it passes the schema. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new AppError('invalid_json');
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const details = result.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.message,
    }));
    throw new AppError(
      'invalid_body',
      `The request body is not valid: ${details.map((d) => `${d.path || 'body'}: ${d.message}`).join('; ')}`,
      details,
    );
  }
  return result.data;
}
