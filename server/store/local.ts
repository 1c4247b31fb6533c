import type { Async } from './port.ts';
import { and, count, eq, sql } from 'drizzle-orm';
import {
  environmentSettings,
  environments,
  runtimeKeys,
  secrets,
  variableOverrides,
} from '#schema/db/tables.ts';
import type { Db } from './db.ts';

/**
 * Bumps an environment's overlay revision (the delivery ETag): every change to environment-local
 * data does, in its transaction.
 */
export const bumpOverlay = (tx: Pick<Db, 'update'>, environmentId: string) =>
  tx
    .update(environments)
    .set({ overlayRevision: sql`${environments.overlayRevision} + 1` })
    .where(eq(environments.id, environmentId))
    .run();

/** Environment-local data. Every write bumps the environment's overlay revision (the delivery ETag). */
export function createLocalStore(db: Db) {
  const bump = bumpOverlay;
  // Read by every delivery request: prepared once.
  const environmentOfKey = db
    .select({ environmentId: runtimeKeys.environmentId })
    .from(runtimeKeys)
    .where(eq(runtimeKeys.keyHash, sql.placeholder('keyHash')))
    .prepare();

  return {
    overrides(environmentId: string) {
      return db
        .select()
        .from(variableOverrides)
        .where(eq(variableOverrides.environmentId, environmentId))
        .all();
    },
    setOverride(row: typeof variableOverrides.$inferInsert): void {
      db.transaction((tx) => {
        tx.insert(variableOverrides)
          .values(row)
          .onConflictDoUpdate({
            target: [variableOverrides.environmentId, variableOverrides.name],
            set: { value: row.value, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
          })
          .run();
        bump(tx, row.environmentId);
      });
    },
    deleteOverride(environmentId: string, name: string): boolean {
      return db.transaction((tx) => {
        const r = tx
          .delete(variableOverrides)
          .where(
            and(
              eq(variableOverrides.environmentId, environmentId),
              eq(variableOverrides.name, name),
            ),
          )
          .run();
        if (r.changes > 0) bump(tx, environmentId);
        return r.changes > 0;
      });
    },
    secrets(environmentId: string) {
      return db.select().from(secrets).where(eq(secrets.environmentId, environmentId)).all();
    },
    secretCount(environmentId: string): number {
      return (
        db
          .select({ n: count() })
          .from(secrets)
          .where(eq(secrets.environmentId, environmentId))
          .get()?.n ?? 0
      );
    },
    hasSecret(environmentId: string, name: string): boolean {
      return (
        db
          .select({ name: secrets.name })
          .from(secrets)
          .where(and(eq(secrets.environmentId, environmentId), eq(secrets.name, name)))
          .get() !== undefined
      );
    },
    setSecret(row: typeof secrets.$inferInsert): void {
      db.transaction((tx) => {
        tx.insert(secrets)
          .values(row)
          .onConflictDoUpdate({
            target: [secrets.environmentId, secrets.name],
            set: { sealed: row.sealed, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
          })
          .run();
        bump(tx, row.environmentId);
      });
    },
    deleteSecret(environmentId: string, name: string): boolean {
      return db.transaction((tx) => {
        const r = tx
          .delete(secrets)
          .where(and(eq(secrets.environmentId, environmentId), eq(secrets.name, name)))
          .run();
        if (r.changes > 0) bump(tx, environmentId);
        return r.changes > 0;
      });
    },
    settings(environmentId: string) {
      return db
        .select()
        .from(environmentSettings)
        .where(eq(environmentSettings.environmentId, environmentId))
        .get();
    },
    setSettings(row: typeof environmentSettings.$inferInsert): void {
      db.transaction((tx) => {
        tx.insert(environmentSettings)
          .values(row)
          .onConflictDoUpdate({
            target: environmentSettings.environmentId,
            set: { json: row.json, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
          })
          .run();
        bump(tx, row.environmentId);
      });
    },
    insertRuntimeKey(row: typeof runtimeKeys.$inferInsert): void {
      db.insert(runtimeKeys).values(row).run();
    },
    runtimeKeyCount(environmentId: string): number {
      return (
        db
          .select({ n: count() })
          .from(runtimeKeys)
          .where(eq(runtimeKeys.environmentId, environmentId))
          .get()?.n ?? 0
      );
    },
    runtimeKeys(environmentId: string) {
      return db
        .select({ id: runtimeKeys.id, name: runtimeKeys.name, createdAt: runtimeKeys.createdAt })
        .from(runtimeKeys)
        .where(eq(runtimeKeys.environmentId, environmentId))
        .all();
    },
    deleteRuntimeKey(environmentId: string, id: string): boolean {
      return (
        db
          .delete(runtimeKeys)
          .where(and(eq(runtimeKeys.environmentId, environmentId), eq(runtimeKeys.id, id)))
          .run().changes > 0
      );
    },
    runtimeKeyEnvironment(keyHash: string): string | undefined {
      return environmentOfKey.get({ keyHash })?.environmentId;
    },
  };
}

/** The port the domain sees (PG-10). */
export type LocalStore = Async<ReturnType<typeof createLocalStore>>;
