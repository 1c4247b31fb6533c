import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { onPostgres as thisRunOnPostgres, stored } from '../helpers/dialect.ts';
import { testServer } from '../helpers/server.ts';
import { coreOnPostgres, onPostgres, sqliteOnly } from '../postgres-project.ts';
import config from '../../vite.config.ts';

const cleanup = cleanupAfterEach();

/** What starts a server (in this process or as a child): the helpers, or the server's own entry points. */
const STARTS_SERVER =
  /\b(startTestServer|testServer|serverWithProject|inProcessInstance|testServices|runtimeProject|spawnServer|startCluster|createServices)\(/;

const testFiles = () =>
  ['test/unit', 'test/integration'].flatMap((dir) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => path.posix.join(dir, f)),
  );

describe('PG-160 the suite runs on both dialects', () => {
  it('PG-160 every test file that starts a server runs on PostgreSQL too, or is listed SQLite-only with its reason', () => {
    const excluded = Object.values(sqliteOnly).flat();
    const starting = testFiles().filter((f) => STARTS_SERVER.test(fs.readFileSync(f, 'utf8')));
    expect(starting.length).toBeGreaterThan(60);
    const unlisted = starting.filter((f) => !onPostgres.includes(f) && !excluded.includes(f));
    expect(unlisted, 'files that start a server but are in neither list').toEqual([]);
    // Each listed file exists, and none is in both lists.
    for (const f of [...onPostgres, ...excluded]) expect(fs.existsSync(f), f).toBe(true);
    expect(onPostgres.filter((f) => excluded.includes(f))).toEqual([]);
    for (const [reason, files] of Object.entries(sqliteOnly)) {
      expect(reason.length, 'a reason').toBeGreaterThan(10);
      expect(files.length, reason).toBeGreaterThan(0);
    }
  });

  it('PG-160 the Vitest config runs every file on SQLite (the sqlite project, and the alone project after it, one file at a time) and the listed ones on TEST_DIALECT=postgres', () => {
    const projects = (config.test?.projects ?? []) as {
      test: {
        name: string;
        include: string[];
        exclude?: string[];
        env?: Record<string, string>;
        maxWorkers?: number;
        sequence?: { groupOrder?: number };
      };
    }[];
    const byName = Object.fromEntries(projects.map((p) => [p.test.name, p.test]));
    expect(Object.keys(byName).sort()).toEqual(['alone', 'postgres', 'sqlite']);
    expect(byName.sqlite!.include).toEqual(['test/{unit,integration}/**/*.test.ts']);
    expect(byName.sqlite!.exclude).toEqual(byName.alone!.include);
    expect(byName.alone!.maxWorkers).toBe(1);
    expect(byName.alone!.sequence?.groupOrder).toBeGreaterThan(0);
    for (const name of ['sqlite', 'alone']) expect(byName[name]!.env?.TEST_DIALECT).toBeUndefined();
    expect(byName.postgres!.include).toEqual(
      process.env.PG_SUITE === 'core' ? coreOnPostgres : onPostgres,
    );
    for (const f of coreOnPostgres) expect(onPostgres).toContain(f);
    expect(byName.postgres!.env?.TEST_DIALECT).toBe('postgres');
  });

  it('PG-160 a server the helpers start runs on this project’s dialect', async () => {
    const server = await testServer(cleanup);
    const { version } = (await stored(server).get<{ version: string }>(
      thisRunOnPostgres ? 'SELECT version() AS version' : 'SELECT sqlite_version() AS version',
    ))!;
    if (thisRunOnPostgres) {
      expect(version).toMatch(/^PostgreSQL /);
      expect(() => server.sqlite).toThrow(/PostgreSQL/);
    } else {
      expect(version).toMatch(/^3\./);
      expect(server.sqlite.open).toBe(true);
    }
  });
});
