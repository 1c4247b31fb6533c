import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, setupAdmin, startTestServer } from '../helpers/server.ts';
import { signIn as signInAt } from '../helpers/users.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
afterEach(() => server?.close());

const signIn = (email: string, password: string, headers: Record<string, string> = {}) =>
  signInAt(server.url, email, password, headers);

describe('security basics', () => {
  it('SEC-19 rate-limits failed sign-ins per account (429 with Retry-After), and the right password waits too', async () => {
    server = await startTestServer();
    await setupAdmin(server.url);
    for (let i = 0; i < 5; i++)
      expect((await signIn(ADMIN.email, 'wrong password')).status).toBe(401);
    const limited = await signIn(ADMIN.email, 'wrong password');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { id: string } }).error.id).toBe(
      'too_many_attempts',
    );
    expect((await signIn(ADMIN.email, ADMIN.password)).status).toBe(429);
    // Another account from the same address is still allowed (below the per-address limit).
    expect((await signIn('someone@example.com', 'nope nope')).status).toBe(401);
  });

  it('sends security headers, and a Secure session cookie behind https (X-Forwarded-Proto believed only with TRUST_PROXY)', async () => {
    server = await startTestServer();
    await setupAdmin(server.url);
    const res = await fetch(`${server.url}/api/health`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const plain = await signIn(ADMIN.email, ADMIN.password);
    expect(plain.headers.get('set-cookie')).not.toMatch(/Secure/);
    const forged = await signIn(ADMIN.email, ADMIN.password, { 'x-forwarded-proto': 'https' });
    expect(forged.headers.get('set-cookie')).not.toMatch(/Secure/);
    await server.close();
    server = await startTestServer(server.dataDir, { TRUST_PROXY: 'true' });
    const proxied = await signIn(ADMIN.email, ADMIN.password, {
      'x-forwarded-proto': 'https',
      origin: 'https://' + new URL(server.url).host,
    });
    expect(proxied.headers.get('set-cookie')).toMatch(/HttpOnly.*Secure|Secure.*HttpOnly/);
  });
});
