import { afterEach, describe, expect, it } from 'vitest';
import { setupAdmin, startTestServer, type TestServer } from '../helpers/server.ts';
import { postJson } from '../helpers/users.ts';

/**
 * SEC-20: common and trivially weak passwords are refused (400 weak_password, saying why) wherever
 * a password is set.
 */
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface ErrorJson {
  error: {
    id: string;
    message: string;
    details?: { score: number; minScore: number; warning: string | null; suggestions: string[] };
  };
}

const send = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(`${server!.url}${path}`, body, headers);

describe('SEC-20 weak passwords', () => {
  it('SEC-20 set-up, user creation and invitation accept refuse common and personal passwords with the reason; passphrases pass', async () => {
    server = await startTestServer();
    const weakSetup = await send('/api/setup', {
      email: 'ada@example.com',
      name: 'Ada',
      password: 'password1',
    });
    expect(weakSetup.status).toBe(400);
    const json = (await weakSetup.json()) as ErrorJson;
    expect(json.error.id).toBe('weak_password');
    expect(json.error.message).toMatch(/commonly used password/);
    expect(json.error.details).toMatchObject({
      minScore: 3,
      warning: expect.stringMatching(/commonly used/),
    });
    expect(json.error.details!.score).toBeLessThan(3);
    // Nothing was created: set-up is still needed.
    expect(
      ((await (await fetch(`${server.url}/api/setup`)).json()) as { needed: boolean }).needed,
    ).toBe(true);

    const admin = await setupAdmin(server.url);
    const auth = { authorization: `Bearer ${admin.token}` };
    for (const password of ['Password123!', 'qwertyuiop12', 'P@ssw0rd2024']) {
      const res = await send('/api/users', { email: 'bo@example.com', name: 'Bo', password }, auth);
      expect(res.status, password).toBe(400);
      expect(((await res.json()) as ErrorJson).error.id).toBe('weak_password');
    }
    // The person's own name and address are known words (strong for a stranger, not for a colleague).
    const personal = await send(
      '/api/users',
      {
        email: 'quorblezyx@example.com',
        name: 'Quorblezyx Wetherspoon',
        password: 'quorblezyxwetherspoon',
      },
      auth,
    );
    expect(personal.status).toBe(400);
    expect(((await personal.json()) as ErrorJson).error.message).toMatch(/personal/);
    expect(
      (
        await send(
          '/api/users',
          { email: 'bo@example.com', name: 'Bo', password: 'violet tractor sunbeam ledger' },
          auth,
        )
      ).status,
    ).toBe(201);

    const invite = await send('/api/invitations', { email: 'cy@example.com', name: 'Cy' }, auth);
    const { token } = (await invite.json()) as { token: string };
    const weakAccept = await send(`/api/invitations/${token}/accept`, { password: 'iloveyou2' });
    expect(weakAccept.status).toBe(400);
    expect(((await weakAccept.json()) as ErrorJson).error.id).toBe('weak_password');
    // The invitation was not used up by the refusal.
    expect(
      (
        await send(`/api/invitations/${token}/accept`, {
          password: 'amber whistle galaxy forklift',
        })
      ).status,
    ).toBe(201);
  });
});
