import { sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

/**
 * A text column compared byte by byte, as SQLite compares text (BINARY): a database created
 * with a language collation (en_US…) would otherwise sort and page ids and names in another
 * order than SQLite answers them.
 */
export const bytewise = (col: AnyPgColumn): SQL => sql`${col} collate "C"`;
