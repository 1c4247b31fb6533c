import { defineConfig } from 'drizzle-kit';

/** The PostgreSQL side (PG-4 … PG-6): the same tables as drizzle.config.ts, in their own folder. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './schema/db/pg-tables.ts',
  out: './server/store/pg-migrations',
});
