/** The password of every account tests create (a passphrase, so the weak-password check lets it through). */
export const PASSPHRASE = 'correct horse battery';

/** POSTs `body` as JSON (SEC-18 refuses JSON routes any other Content-Type), with any other `headers`. */
export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** POST /api/session (`headers` e.g. an Origin or X-Forwarded-For). */
export function signIn(
  baseUrl: string,
  email: string,
  password = PASSPHRASE,
  headers: Record<string, string> = {},
): Promise<Response> {
  return postJson(`${baseUrl}/api/session`, { email, password }, headers);
}

/** The session cookie an answer sets (name=value), if it sets one. */
export const cookieOf = (res: Response): string | undefined =>
  res.headers.get('set-cookie')?.split(';')[0];

/** A new API token for the session `cookie` (written with our Origin, as the web app would). */
export async function createToken(
  baseUrl: string,
  cookie: string,
  name = 'tests',
): Promise<string> {
  const res = await postJson(`${baseUrl}/api/tokens`, { name }, { cookie, origin: baseUrl });
  if (res.status !== 201) throw new Error(`create token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
