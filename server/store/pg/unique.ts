/** Whether `err` (or an error it wraps: drizzle wraps the driver's) is PostgreSQL refusing a duplicate in `constraint` (23505). */
export function uniqueViolation(err: unknown, constraint: string): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const { code, constraint: name } = e as { code?: unknown; constraint?: unknown };
    if (code === '23505' && name === constraint) return true;
  }
  return false;
}
