import { and, asc, count, eq } from 'drizzle-orm';
import {
  environmentSettings,
  runtimeKeys,
  secrets,
  variableOverrides,
} from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createLocalStore } from '../local.ts';
import { bytewise } from './bytewise.ts';
import type { Postgres } from './db.ts';
import { deleteAndBump, writeAndBump } from './overlay.ts';
import { LOCK, lockBeforeRead } from './locks.ts';

/** Environment-local data on PostgreSQL (PG-40); every write bumps the overlay revision with it. */
export function createPgLocalStore(pgx: Postgres) {
  return {
    // Sorted as SQLite answers them (its primary-key index walks the names in order).
    overrides: async (environmentId: string) =>
      pgx
        .db()
        .select()
        .from(variableOverrides)
        .where(eq(variableOverrides.environmentId, environmentId))
        .orderBy(bytewise(variableOverrides.name)),
    setOverride: (row: typeof variableOverrides.$inferInsert) =>
      writeAndBump(pgx, row.environmentId, () =>
        pgx
          .db()
          .insert(variableOverrides)
          .values(row)
          .onConflictDoUpdate({
            target: [variableOverrides.environmentId, variableOverrides.name],
            set: { value: row.value, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
          }),
      ),
    deleteOverride: (environmentId: string, name: string) =>
      deleteAndBump(pgx, environmentId, () =>
        pgx
          .db()
          .delete(variableOverrides)
          .where(
            and(
              eq(variableOverrides.environmentId, environmentId),
              eq(variableOverrides.name, name),
            ),
          ),
      ),
    secrets: async (environmentId: string) =>
      pgx
        .db()
        .select()
        .from(secrets)
        .where(eq(secrets.environmentId, environmentId))
        .orderBy(bytewise(secrets.name)),
    /** Inside a transaction, under the environment's limit lock (PG-130, PG-136). */
    async secretCount(environmentId: string): Promise<number> {
      await lockBeforeRead(pgx, LOCK.limit('secrets', environmentId));
      const [r] = await pgx
        .db()
        .select({ n: count() })
        .from(secrets)
        .where(eq(secrets.environmentId, environmentId));
      return r?.n ?? 0;
    },
    async hasSecret(environmentId: string, name: string): Promise<boolean> {
      const rows = await pgx
        .db()
        .select({ name: secrets.name })
        .from(secrets)
        .where(and(eq(secrets.environmentId, environmentId), eq(secrets.name, name)))
        .limit(1);
      return rows.length > 0;
    },
    setSecret: (row: typeof secrets.$inferInsert) =>
      writeAndBump(pgx, row.environmentId, () =>
        pgx
          .db()
          .insert(secrets)
          .values(row)
          .onConflictDoUpdate({
            target: [secrets.environmentId, secrets.name],
            set: { sealed: row.sealed, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
          }),
      ),
    deleteSecret: (environmentId: string, name: string) =>
      deleteAndBump(pgx, environmentId, () =>
        pgx
          .db()
          .delete(secrets)
          .where(and(eq(secrets.environmentId, environmentId), eq(secrets.name, name))),
      ),
    async settings(environmentId: string) {
      const [r] = await pgx
        .db()
        .select()
        .from(environmentSettings)
        .where(eq(environmentSettings.environmentId, environmentId));
      return r;
    },
    setSettings: (row: typeof environmentSettings.$inferInsert) =>
      writeAndBump(pgx, row.environmentId, () =>
        pgx
          .db()
          .insert(environmentSettings)
          .values(row)
          .onConflictDoUpdate({
            target: environmentSettings.environmentId,
            set: { json: row.json, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
          }),
      ),
    async insertRuntimeKey(row: typeof runtimeKeys.$inferInsert): Promise<void> {
      await pgx.db().insert(runtimeKeys).values(row);
    },
    /** Inside a transaction, under the environment's limit lock (PG-130, PG-136). */
    async runtimeKeyCount(environmentId: string): Promise<number> {
      await lockBeforeRead(pgx, LOCK.limit('runtime-keys', environmentId));
      const [r] = await pgx
        .db()
        .select({ n: count() })
        .from(runtimeKeys)
        .where(eq(runtimeKeys.environmentId, environmentId));
      return r?.n ?? 0;
    },
    // SQLite answers in insertion order (a table scan); creation time, then id, is that order here.
    runtimeKeys: async (environmentId: string) =>
      pgx
        .db()
        .select({ id: runtimeKeys.id, name: runtimeKeys.name, createdAt: runtimeKeys.createdAt })
        .from(runtimeKeys)
        .where(eq(runtimeKeys.environmentId, environmentId))
        .orderBy(asc(runtimeKeys.createdAt), bytewise(runtimeKeys.id)),
    async deleteRuntimeKey(environmentId: string, id: string): Promise<boolean> {
      const r = await pgx
        .db()
        .delete(runtimeKeys)
        .where(and(eq(runtimeKeys.environmentId, environmentId), eq(runtimeKeys.id, id)));
      return (r.rowCount ?? 0) > 0;
    },
    async runtimeKeyEnvironment(keyHash: string): Promise<string | undefined> {
      const [r] = await pgx
        .db()
        .select({ environmentId: runtimeKeys.environmentId })
        .from(runtimeKeys)
        .where(eq(runtimeKeys.keyHash, keyHash));
      return r?.environmentId;
    },
  } satisfies Async<ReturnType<typeof createLocalStore>>;
}

export type PgLocalStore = ReturnType<typeof createPgLocalStore>;
