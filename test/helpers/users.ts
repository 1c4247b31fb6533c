/** Creates an account through the API (as the instance admin) and returns its id and an API token. */
export async function userWithToken(baseUrl: string, adminToken: string, email: string, name = email): Promise<{ id: string; token: string; cookie: string }> {
  const created = await fetch(`${baseUrl}/api/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email, name, password: 'correct horse battery' }),
  });
  if (created.status !== 201) throw new Error(`create user: ${created.status}`);
  const { id } = (await created.json()) as { id: string };
  const login = await fetch(`${baseUrl}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'correct horse battery' }) });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const t = await fetch(`${baseUrl}/api/tokens`, { method: 'POST', headers: { cookie, origin: baseUrl, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tests' }) });
  const { token } = (await t.json()) as { token: string };
  return { id, token, cookie };
}

/** fetch against the API with a bearer token; returns [status, json]. */
export async function as<T = Record<string, unknown>>(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<[number, T]> {
  const res = await fetch(`${baseUrl}/api${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return [res.status, (text ? JSON.parse(text) : null) as T];
}
