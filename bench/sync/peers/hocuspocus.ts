// The Hocuspocus reference server for the benchmark: `node bench/sync/peers/hocuspocus.ts <port> [sqlite-file]`.
// With a file it persists through @hocuspocus/extension-database into SQLite (better-sqlite3,
// WAL, like ours): each store writes the document's whole state, Hocuspocus's model.
import Database from 'better-sqlite3';
import { Server } from '@hocuspocus/server';
import { Database as Persistence } from '@hocuspocus/extension-database';

const port = Number(process.argv[2]);
const file = process.argv[3];
const extensions = [];
if (file) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, data BLOB)');
  const get = db.prepare<[string], { data: Buffer }>('SELECT data FROM documents WHERE name = ?');
  const put = db.prepare(
    'INSERT INTO documents (name, data) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data',
  );
  extensions.push(
    new Persistence({
      fetch: async ({ documentName }) => get.get(documentName)?.data ?? null,
      store: async ({ documentName, state }) => void put.run(documentName, state),
    }),
  );
}
const server = new Server({ port, address: '127.0.0.1', quiet: true, extensions });
await server.listen();
console.log(`running at http://127.0.0.1:${port} `);
