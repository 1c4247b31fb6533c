import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '#server/config.ts';

describe('configuration (read once, validated at boot)', () => {
  it('has working defaults', () => {
    const c = loadConfig({}, '/srv/app');
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      dataDir: path.resolve('/srv/app', 'data'),
      allowedOrigins: [],
      collabMaxFrameBytes: 16 * 1024 * 1024,
      sqliteSynchronous: 'normal',
      secureCookies: false,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads every key', () => {
    const c = loadConfig(
      {
        PORT: '8080',
        DATA_DIR: '/var/lib/sc',
        ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080',
        COLLAB_MAX_FRAME_BYTES: '65536',
        SQLITE_SYNCHRONOUS: 'FULL',
        SECURE_COOKIES: 'true',
        SESSION_TTL_DAYS: '7',
      },
      '/',
    );
    expect(c.port).toBe(8080);
    expect(c.dataDir).toBe('/var/lib/sc');
    expect(c.allowedOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(c.collabMaxFrameBytes).toBe(65536);
    expect(c.sqliteSynchronous).toBe('full');
    expect(c.secureCookies).toBe(true);
    expect(c.sessionTtlMs).toBe(7 * 24 * 3600 * 1000);
  });

  it('lists every bad key at once', () => {
    let error: unknown;
    try {
      loadConfig(
        {
          PORT: 'eighty',
          COLLAB_MAX_FRAME_BYTES: '-1',
          SQLITE_SYNCHRONOUS: 'sometimes',
          ALLOWED_ORIGINS: 'not a url,https://x.example/path',
        },
        '/',
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of [
      'PORT',
      'COLLAB_MAX_FRAME_BYTES',
      'SQLITE_SYNCHRONOUS',
      'not a url',
      'https://x.example/path',
    ]) {
      expect(problems).toContain(key);
    }
  });
});
