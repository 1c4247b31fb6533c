import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpenCredentials } from '#server/collab/credentials.ts';
import { absoluteUrl, defaultPublicUrl } from '#server/lib/urls.ts';

const DAY = 86_400_000;

describe('SEC-17 open sockets by credential (server/collab/credentials.ts)', () => {
  afterEach(() => void vi.useRealTimers());

  it('SEC-17 a 30-day session closes its socket after 30 days, not at once (setTimeout holds at most ~24.8 days)', () => {
    vi.useFakeTimers();
    const registry = new OpenCredentials();
    const closed: string[] = [];
    registry.open({ kind: 'session', id: 'a', expiresAt: Date.now() + 30 * DAY }, 'usr_1', () =>
      closed.push('a'),
    );
    registry.open({ kind: 'token', id: 'forever', expiresAt: null }, 'usr_1', () =>
      closed.push('forever'),
    );
    vi.advanceTimersByTime(29 * DAY);
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(DAY);
    expect(closed).toEqual(['a']);
    expect(registry.size).toBe(1);
  });

  it('SEC-17 closeFor ends the matching sockets once; a socket that closed itself is forgotten', () => {
    const registry = new OpenCredentials();
    const closed: string[] = [];
    const forget = registry.open(
      { kind: 'session', id: 's1', expiresAt: Date.now() + DAY },
      'usr_1',
      () => closed.push('s1'),
    );
    registry.open({ kind: 'session', id: 's2', expiresAt: Date.now() + DAY }, 'usr_1', () =>
      closed.push('s2'),
    );
    registry.open({ kind: 'token', id: 't1', expiresAt: null }, 'usr_1', () => closed.push('t1'));
    registry.open({ kind: 'token', id: 't2', expiresAt: null }, 'usr_2', () => closed.push('t2'));
    registry.closeFor({ kind: 'token', id: 't1' });
    registry.closeFor({ kind: 'token', id: 't1' });
    expect(closed).toEqual(['t1']);
    forget();
    registry.closeFor({ kind: 'user', id: 'usr_1' });
    expect(closed).toEqual(['t1', 's2']);
    expect(registry.size).toBe(1);
  });
});

describe('SEC-22 absolute URLs (server/lib/urls.ts)', () => {
  it('SEC-22 joins PUBLIC_URL (with or without a path) and a path; the default names the interface and port', () => {
    expect(absoluteUrl('https://stagecoach.example.com', '/share/x')).toBe(
      'https://stagecoach.example.com/share/x',
    );
    expect(absoluteUrl('https://example.com/stagecoach', '/invite/y')).toBe(
      'https://example.com/stagecoach/invite/y',
    );
    expect(defaultPublicUrl('0.0.0.0', 3000)).toBe('http://localhost:3000');
    expect(defaultPublicUrl('127.0.0.1', 4000)).toBe('http://127.0.0.1:4000');
    expect(defaultPublicUrl('::1', 4000)).toBe('http://[::1]:4000');
  });
});
